//! Hostile receivers and the address block, end to end. Every request goes to
//! loopback; what must be refused is shown with loopback names and an allowlist
//! that does not cover them.

use crate::helpers::raw::{Misbehaviour, RawReceiver};
use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;

/// Publishes one event to `url` (no retries, 1 s timeout) and returns it once done.
async fn single_attempt(server: &TestServer, acct: &TestAccount, url: &str, status: &str) -> Value {
    let body = json!({"event_type": "x", "payload": {}, "webhook_url": url, "retry_schedule": [], "timeout": "1s"});
    let id = server.publish(acct, body).await;
    server.wait_for_status(acct, &id, status, SOON).await
}

#[tokio::test]
async fn a_body_that_trickles_is_cut_at_the_deadline_and_the_status_counts() {
    let server = TestServer::start().await;
    let raw = RawReceiver::start(Misbehaviour::TrickleBody).await;
    let acct = server.account().await;
    let event = single_attempt(&server, &acct, &raw.url(), "delivered").await;
    let attempt = &event["attempts"][0];
    assert_eq!(attempt["http_status"], 200);
    assert!(attempt["duration_ms"].as_u64().unwrap() < 3000, "{attempt}");
    assert!(
        attempt["response"].as_str().unwrap().len() < 100,
        "only what arrived in time is kept"
    );
}

#[tokio::test]
async fn headers_that_trickle_time_out() {
    let server = TestServer::start().await;
    let raw = RawReceiver::start(Misbehaviour::TrickleHeaders).await;
    let acct = server.account().await;
    let event = single_attempt(&server, &acct, &raw.url(), "failed").await;
    assert_eq!(event["attempts"][0]["error"], "timeout");
    assert!(event["attempts"][0]["duration_ms"].as_u64().unwrap() < 3000);
}

#[tokio::test]
async fn a_huge_body_is_read_only_up_to_the_limit() {
    let server = TestServer::start().await;
    let raw = RawReceiver::start(Misbehaviour::HugeBody).await;
    let acct = server.account().await;
    let event = single_attempt(&server, &acct, &raw.url(), "delivered").await;
    assert_eq!(
        event["attempts"][0]["response"].as_str().unwrap().len(),
        1024
    );
}

#[tokio::test]
async fn a_reset_connection_is_a_connection_failure() {
    let server = TestServer::start().await;
    let raw = RawReceiver::start(Misbehaviour::Reset).await;
    let acct = server.account().await;
    let event = single_attempt(&server, &acct, &raw.url(), "failed").await;
    assert_eq!(event["attempts"][0]["error"], "connection");
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_without_the_allowlist() {
    let server = TestServer::start_with(&["--allow-targets", "192.0.2.0/24"]).await;
    let rx = Receiver::start().await;
    rx.reply(
        "/moved",
        Reply::Full(302, vec![("location", rx.url("/target"))], String::new()),
    );
    let acct = server.account().await;
    let primary = format!("http://localhost:{}/moved", rx.addr.port());
    let failover = format!("http://localhost:{}/target", rx.addr.port());
    let body = json!({"event_type": "x", "payload": {}, "webhook_url": primary, "webhook_failover_url": failover,
                      "retry_schedule": ["50ms"]});
    let id = server.publish(&acct, body).await;
    let event = server.wait_for_status(&acct, &id, "failed", SOON).await;
    let errors: Vec<_> = event["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["error"].clone())
        .collect();
    assert_eq!(
        errors,
        vec![json!("blocked_address"); 4],
        "both legs of both attempts are refused"
    );
    assert!(rx.received().is_empty(), "a blocked address was reached");
}

#[tokio::test]
async fn with_the_allowlist_a_redirect_is_reached_but_never_followed() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    for code in [302, 307, 308] {
        rx.reply(
            "/moved",
            Reply::Full(code, vec![("location", rx.url("/target"))], String::new()),
        );
        let acct = server.account().await;
        let url = format!("http://localhost:{}/moved", rx.addr.port());
        let event = single_attempt(&server, &acct, &url, "failed").await;
        assert_eq!(
            (
                event["attempts"][0]["error"].clone(),
                event["attempts"][0]["http_status"].clone()
            ),
            (json!("redirect"), json!(code))
        );
    }
    assert_eq!(rx.received_on("/moved").len(), 3);
    assert!(
        rx.received_on("/target").is_empty(),
        "a redirect was followed"
    );
}

#[tokio::test]
async fn requests_to_one_host_are_capped() {
    let server = TestServer::start_with(&["--max-per-host", "2"]).await;
    let rx = Receiver::start().await;
    rx.reply("/slow", Reply::Delay(Duration::from_millis(200)));
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/slow")}))
        .await;
    let batch: Vec<Value> = (0..8)
        .map(|i| json!({"event_type": "x", "payload": {"i": i}}))
        .collect();
    assert_eq!(
        server
            .post("/v1/events/batch", &acct.key, &json!({"events": batch}))
            .await
            .status,
        202
    );
    rx.wait_for(8, SOON).await;
    assert_eq!(rx.most_concurrent(), 2, "the per-host cap was not applied");
}

#[tokio::test]
async fn retry_after_pushes_the_next_attempt_back_within_a_cap() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply(
        "/busy",
        Reply::Full(503, vec![("retry-after", "2".into())], String::new()),
    );
    rx.reply(
        "/month",
        Reply::Full(429, vec![("retry-after", "2592000".into())], String::new()),
    );
    let acct = server.account().await;
    for (path, at_least, at_most) in [("/busy", 2.0, 2.5), ("/month", 3.0, 3.4)] {
        let body = json!({"event_type": "x", "payload": {}, "webhook_url": rx.url(path), "retry_schedule": ["100ms", "3s"]});
        let id = server.publish(&acct, body).await;
        let event = server
            .wait_for_event(&acct, &id, |e| e["attempts_made"] == 1, SOON)
            .await
            .unwrap();
        let started = chrono::DateTime::parse_from_rfc3339(
            event["attempts"][0]["started_at"].as_str().unwrap(),
        )
        .unwrap();
        let next = chrono::DateTime::parse_from_rfc3339(event["next_attempt_at"].as_str().unwrap())
            .unwrap();
        let wait = (next - started).num_milliseconds() as f64 / 1000.0;
        assert!(
            wait >= at_least && wait <= at_most,
            "{path}: next attempt {wait}s after the first"
        );
    }
}

#[tokio::test]
async fn deliveries_leave_from_the_egress_address_that_is_published() {
    let server = TestServer::start_with(&[
        "--egress-bind",
        "127.0.0.2",
        "--egress-networks",
        "127.0.0.2/32",
    ])
    .await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    server
        .publish(
            &acct,
            json!({"event_type": "x", "payload": {}, "webhook_url": rx.url("/egress")}),
        )
        .await;
    let got = &rx.wait_for(1, SOON).await[0];
    assert_eq!(got.peer.ip().to_string(), "127.0.0.2");
    assert_eq!(
        server.get("/v1/egress", "").await.body,
        json!({"networks": ["127.0.0.2/32"]})
    );
}
