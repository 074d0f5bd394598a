//! `GET /metrics` beyond counters: the attempt and publish histograms, the
//! queue gauges read from the store, the node's identity, and the example
//! Grafana dashboard asking only for names the server exports.

use crate::helpers::*;
use serde_json::json;
use std::time::Instant;

/// The example dashboard, from the workspace's `deploy/`.
const DASHBOARD: &str = include_str!("../../../deploy/grafana/hookpost.json");

async fn scrape(server: &TestServer) -> String {
    reqwest::get(format!("{}/metrics", server.url))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("the exposition")
}

/// Scrapes until `line` is one of the lines, or panics after [`SOON`].
async fn scrape_until(server: &TestServer, line: &str) -> String {
    let deadline = Instant::now() + SOON;
    loop {
        let text = scrape(server).await;
        if text.lines().any(|l| l == line) {
            return text;
        }
        assert!(Instant::now() < deadline, "no `{line}` in:\n{text}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn assert_lines(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            text.lines().any(|l| l == *line),
            "missing `{line}` in:\n{text}"
        );
    }
}

#[tokio::test]
async fn metrics_time_attempts_and_publishes_and_count_the_queue() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/down", Reply::Status(500));
    let acct = server.account().await;
    let up = server
        .publish(
            &acct,
            json!({"event_type": "x", "payload": {}, "webhook_url": rx.url("/up")}),
        )
        .await;
    let down = json!({"event_type": "x", "payload": {}, "webhook_url": rx.url("/down"), "retry_schedule": ["1h"]});
    let batch = server
        .post("/v1/events/batch", &acct.key, &json!({"events": [down]}))
        .await;
    assert_eq!(batch.status, 202, "{}", batch.body);
    server.wait_for_status(&acct, &up, "delivered", SOON).await;

    let text = scrape_until(&server, "hookpost_retries_scheduled_total 1").await;
    let primary = |result: &str| format!("leg=\"primary\",result=\"{result}\"");
    assert_lines(
        &text,
        &[
            &format!(
                "hookpost_attempt_duration_seconds_count{{{}}} 1",
                primary("success")
            ),
            &format!(
                "hookpost_attempt_duration_seconds_count{{{}}} 1",
                primary("failure")
            ),
            &format!(
                "hookpost_attempt_duration_seconds_bucket{{{},le=\"+Inf\"}} 1",
                primary("failure")
            ),
            &format!(
                "hookpost_attempt_duration_seconds_bucket{{{},le=\"30\"}} 1",
                primary("success")
            ),
            "hookpost_attempt_duration_seconds_count{leg=\"failover\",result=\"failure\"} 0",
            "hookpost_publish_duration_seconds_count{shape=\"single\"} 1",
            "hookpost_publish_duration_seconds_count{shape=\"batch\"} 1",
            "hookpost_publish_duration_seconds_bucket{shape=\"batch\",le=\"10\"} 1",
            "hookpost_queue_deliveries{state=\"due\"} 0",
            "hookpost_queue_deliveries{state=\"scheduled\"} 1",
            "hookpost_queue_deliveries{state=\"waiting\"} 0",
            "hookpost_queue_oldest_due_age_seconds 0",
        ],
    );
    let node = text
        .lines()
        .find(|l| l.starts_with("hookpost_node_info{"))
        .expect("a node_info sample");
    assert!(node.ends_with(",role=\"all\"} 1"), "{node}");
    assert!(!text.contains(&acct.id), "an account id is in /metrics");
}

/// Every `hookpost_…` name the dashboard queries, as written there.
fn dashboard_metric_names() -> Vec<String> {
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).expect("valid JSON");
    let text = dashboard.to_string();
    let mut names: Vec<String> = text
        .match_indices("hookpost_")
        .map(|(at, _)| {
            text[at..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[tokio::test]
async fn the_grafana_dashboard_asks_only_for_exported_metrics() {
    let server = TestServer::start().await;
    let text = scrape(&server).await;
    let names = dashboard_metric_names();
    assert!(names.len() >= 8, "the dashboard queries {names:?}");
    for name in names {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))),
            "the dashboard asks for `{name}`, which /metrics does not export:\n{text}"
        );
    }
}
