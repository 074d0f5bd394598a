//! Delivery control against real receivers: limits held, a receiver's
//! `Retry-After` obeyed by the whole endpoint, the circuit breaker, auto-disable
//! with the operator told, and fresh events ahead of a retry storm.

use crate::helpers::endpoints::*;
use crate::helpers::verify::verify;
use crate::helpers::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Retries every 100 ms, twenty times: long enough to see what control does.
fn quick_retries() -> Value {
    json!({"retry_schedule": vec!["100ms"; 20]})
}

/// An endpoint at `path` on `rx` retrying quickly, with `extra` fields.
async fn quick_endpoint(
    server: &TestServer,
    acct: &TestAccount,
    rx: &Receiver,
    path: &str,
    extra: Value,
) -> String {
    let mut body = json!({"url": rx.url(path), "settings": quick_retries()});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    endpoint_id(server, acct, body).await
}

async fn endpoint(server: &TestServer, acct: &TestAccount, ep: &str) -> Value {
    server
        .get(&format!("/v1/endpoints/{ep}"), &acct.key)
        .await
        .body
}

/// Polls the endpoint until `done` holds (panics after `within`).
async fn wait_for_endpoint(
    server: &TestServer,
    acct: &TestAccount,
    ep: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let shown = endpoint(server, acct, ep).await;
        if done(&shown) {
            return shown;
        }
        assert!(
            Instant::now() < deadline,
            "endpoint never got there: {shown:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_rate_limit_of_20_a_second_holds_for_10_seconds_under_max_in_flight() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    assert_rate_and_concurrency_held(&[&server], &acct, &rx).await;
}

#[tokio::test]
async fn a_429_with_retry_after_stops_all_traffic_to_the_endpoint_until_then() {
    let (server, rx, acct) = server_receiver_account().await;
    let busy = vec![("retry-after", "2".to_string())];
    rx.reply("/busy", Reply::Full(429, busy, "slow down".into()));
    // A pause is capped by the schedule's longest step: 5 s here.
    let schedule = json!({"settings": {"retry_schedule": ["100ms", "5s"]}});
    let ep = quick_endpoint(&server, &acct, &rx, "/busy", schedule).await;
    let first = publish_fax_delivered(&server, &acct).await;
    let refused_at = rx.wait_for_on("/busy", 1, SOON).await[0].at;
    rx.reply("/busy", Reply::Status(200));
    // The pause starts when hookpost has the answer: once the attempt is recorded.
    let recorded = |e: &Value| delivery_to(e, &ep)["attempts_made"] == 1;
    server
        .wait_for_event(&acct, &first, recorded, SOON)
        .await
        .expect("the 429 is recorded");
    let cut = endpoint(&server, &acct, &ep).await["control"].clone();
    assert_eq!(
        cut["allowed_in_flight"], 32,
        "a 429 halves the 64 of --max-per-host: {cut}"
    );
    assert!(cut["paused_until"].is_string(), "{cut}");
    let later = publish_batch(&server, &acct, 5).await;
    server.wait_none_pending(&acct, SOON).await;
    let got = rx.received_on("/busy");
    assert_eq!(got.len(), 7, "one 429, then every event once");
    for r in &got[1..] {
        let after = r.at - refused_at;
        assert!(
            after >= Duration::from_millis(1_900),
            "a request came {after:?} after the 429"
        );
    }
    let shown = server.event(&acct, &first).await;
    assert_eq!(delivery_to(&shown, &ep)["attempts_made"], 2);
    for id in later {
        let shown = server.event(&acct, &id).await;
        assert_eq!(
            delivery_to(&shown, &ep)["attempts_made"],
            1,
            "a delivery held by the pause used an attempt"
        );
    }
}

#[tokio::test]
async fn ten_failures_open_the_breaker_then_only_probes_reach_the_receiver() {
    let mut server = TestServer::start_with(&["--breaker-first-probe", "1s"]).await;
    let rx = Receiver::start().await;
    with_operator(&mut server, &rx).await;
    let acct = server.account().await;
    rx.reply("/down", Reply::Status(500));
    let ep = quick_endpoint(&server, &acct, &rx, "/down", json!({})).await;
    let ids = publish_batch(&server, &acct, 3).await;
    let open = wait_for_endpoint(&server, &acct, &ep, SOON, |e| {
        e["control"]["breaker"] == "open"
    })
    .await;
    let opened = Instant::now();
    assert!(
        open["control"]["failure_streak"].as_u64().unwrap() >= 10,
        "{open:#}"
    );
    let metrics = server_metrics(&server).await;
    assert!(
        metrics.contains("hookpost_endpoints{state=\"breaker_open\"} 1"),
        "the open breaker is not in /metrics:\n{metrics}"
    );
    tokio::time::sleep(Duration::from_millis(3_600)).await;
    // Attempts in flight when it opened may land just after; then only probes,
    // each at least a probe interval (1 s, then 2 s) after the one before.
    let after: Vec<Instant> = rx
        .received_on("/down")
        .iter()
        .map(|r| r.at)
        .filter(|at| *at > opened + Duration::from_millis(300))
        .collect();
    assert!(!after.is_empty(), "no probe within 3.6 s of a 1 s breaker");
    assert!(
        after.len() <= 2,
        "{} requests reached an open breaker in 3.3 s",
        after.len()
    );
    for pair in after.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(900),
            "two probes at once"
        );
    }
    rx.reply("/down", Reply::Status(200));
    for id in &ids {
        server.wait_for_status(&acct, id, "delivered", SOON).await;
    }
    let closed = endpoint(&server, &acct, &ep).await;
    assert_eq!(closed["control"]["breaker"], "closed", "{closed:#}");
}

async fn server_metrics(server: &TestServer) -> String {
    reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A server whose operator account has an endpoint at `/ops` on `rx`; the
/// operator account.
async fn with_operator(server: &mut TestServer, rx: &Receiver) -> TestAccount {
    let operator = server.account().await;
    create_endpoint(server, &operator, json!({"url": rx.url("/ops")})).await;
    server
        .restart_with(&["--operator-account", &operator.id])
        .await;
    operator
}

#[tokio::test]
async fn a_410_disables_the_endpoint_parks_its_deliveries_and_tells_the_operator() {
    let mut server = TestServer::start().await;
    let rx = Receiver::start().await;
    let operator = with_operator(&mut server, &rx).await;
    let acct = server.account().await;
    rx.reply("/gone", Reply::Status(410));
    let ep = quick_endpoint(&server, &acct, &rx, "/gone", json!({})).await;
    let ids = publish_batch(&server, &acct, 3).await;
    let told = rx.wait_for_on("/ops", 1, SOON).await;
    let data = told[0].json()["data"].clone();
    assert_eq!(data["event_type"], "hookpost.endpoint.disabled");
    assert_eq!(data["payload"]["account_id"], acct.id.as_str());
    assert_eq!(data["payload"]["endpoint_id"], ep.as_str());
    assert_eq!(data["payload"]["reason"], "gone");
    assert!(
        data["payload"]["last_error"]
            .as_str()
            .unwrap()
            .contains("410"),
        "{data:#}"
    );
    let keys = server.get("/v1/account/keys", &operator.key).await.body;
    let verdict = verify(&told[0], &told[0].body, &keys);
    assert_eq!(verdict["standard_v1"], "ok", "{verdict}");
    let shown = endpoint(&server, &acct, &ep).await;
    assert_eq!(
        (&shown["state"], &shown["control"]["disabled_reason"]),
        (&json!("disabled"), &json!("gone"))
    );
    let gone_requests = rx.received_on("/gone").len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        rx.received_on("/gone").len(),
        gone_requests,
        "a disabled endpoint was sent to"
    );
    for id in &ids {
        let event = server.event(&acct, id).await;
        assert_eq!(event["status"], "pending");
        assert_eq!(delivery_to(&event, &ep)["status"], "paused", "{event:#}");
    }
    rx.reply("/gone", Reply::Status(200));
    let enabled = server
        .post(&format!("/v1/endpoints/{ep}/enable"), &acct.key, &json!({}))
        .await;
    assert_eq!(enabled.body["state"], "enabled");
    for id in &ids {
        server.wait_for_status(&acct, id, "delivered", SOON).await;
    }
    let told = rx.wait_for_on("/ops", 2, SOON).await;
    assert_eq!(
        told[1].json()["data"]["event_type"],
        "hookpost.endpoint.enabled"
    );
}

#[tokio::test]
async fn failing_with_no_success_for_disable_after_disables_the_endpoint() {
    let (server, rx, acct) = server_receiver_account().await;
    rx.reply("/failing", Reply::Status(500));
    // Retries 300 ms apart: the endpoint has failed for over a second well
    // before ten failures would open its breaker.
    let slower = json!({"disable_after": "1s", "settings": {"retry_schedule": vec!["300ms"; 20]}});
    let ep = quick_endpoint(&server, &acct, &rx, "/failing", slower).await;
    let id = publish_fax_delivered(&server, &acct).await;
    let shown = wait_for_endpoint(&server, &acct, &ep, SOON, |e| e["state"] == "disabled").await;
    assert_eq!(shown["control"]["disabled_reason"], "failing");
    assert_eq!(shown["disable_after"], "1s");
    let event = server.event(&acct, &id).await;
    assert_eq!(delivery_to(&event, &ep)["status"], "paused");
}

#[tokio::test]
async fn the_operator_hears_of_a_delivery_that_failed_for_good_but_not_of_its_own() {
    let mut server = TestServer::start().await;
    let rx = Receiver::start().await;
    let operator = with_operator(&mut server, &rx).await;
    let acct = server.account().await;
    rx.reply("/broken", Reply::Status(500));
    let ep = endpoint_id(
        &server,
        &acct,
        json!({"url": rx.url("/broken"), "settings": {"retry_schedule": ["100ms"]}}),
    )
    .await;
    let id = publish_fax_delivered(&server, &acct).await;
    server.wait_for_status(&acct, &id, "failed", SOON).await;
    let told = rx.wait_for_on("/ops", 1, SOON).await;
    let data = told[0].json()["data"].clone();
    assert_eq!(data["event_type"], "hookpost.delivery.failed");
    assert_eq!(data["payload"]["event_id"], id.as_str());
    assert_eq!(data["payload"]["endpoint_id"], ep.as_str());
    let types = server.get("/v1/event-types", &operator.key).await.body;
    let names: Vec<&str> = types["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"hookpost.endpoint.breaker_opened"),
        "{names:?}"
    );
    // The operator's own failure is not told to itself.
    let own = endpoint_id(
        &server,
        &operator,
        json!({"url": rx.url("/ops-broken"), "settings": {"retry_schedule": ["100ms"]}}),
    )
    .await;
    rx.reply("/ops-broken", Reply::Status(500));
    let own_event = publish_fax_delivered(&server, &operator).await;
    let failed = |e: &Value| delivery_to(e, &own)["status"] == "failed";
    server
        .wait_for_event(&operator, &own_event, failed, SOON)
        .await
        .expect("the operator's own delivery fails");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let listed = server
        .get(
            "/v1/events?event_type=hookpost.delivery.failed",
            &operator.key,
        )
        .await
        .body;
    let told = listed["data"].as_array().unwrap();
    assert_eq!(
        told.len(),
        1,
        "only the customer's failure is told: {listed:#}"
    );
}

#[tokio::test]
async fn a_fresh_event_goes_ahead_of_5000_due_retries() {
    let server = TestServer::start_with(&["--breaker-after", "100000"]).await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    rx.reply("/storm", Reply::Status(500));
    let storm = quick_endpoint(
        &server,
        &acct,
        &rx,
        "/storm",
        json!({"event_types": ["storm.*"]}),
    )
    .await;
    endpoint_id(
        &server,
        &acct,
        json!({"url": rx.url("/fresh"), "event_types": ["fresh.*"]}),
    )
    .await;
    // 5,000 events fail their first attempt; parked while the endpoint is
    // disabled, they all come due at once, as retries, when it is enabled.
    for _ in 0..5 {
        publish_typed_batch(&server, &acct, "storm.tick", 1000).await;
    }
    rx.wait_for_on("/storm", 5000, Duration::from_secs(120))
        .await;
    let toggle = |state: &'static str| {
        let path = format!("/v1/endpoints/{storm}/{state}");
        let key = acct.key.clone();
        let server = &server;
        async move { server.post(&path, &key, &json!({})).await }
    };
    assert_eq!(toggle("disable").await.status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(toggle("enable").await.status, 200);
    let published = Instant::now();
    server
        .publish(&acct, json!({"event_type": "fresh.news", "payload": {}}))
        .await;
    rx.wait_for_on("/fresh", 1, Duration::from_secs(60)).await;
    let since: Vec<String> = rx
        .received()
        .into_iter()
        .filter(|r| r.at >= published)
        .map(|r| r.path)
        .collect();
    let place = since.iter().position(|p| p == "/fresh").unwrap();
    println!(
        "the fresh event was request {} of those after its publish",
        place + 1
    );
    assert!(
        place < 100,
        "the fresh event was request {} after its publish",
        place + 1
    );
}
