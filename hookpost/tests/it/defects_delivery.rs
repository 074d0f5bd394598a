//! Fixed defects of delivery: the attempt log line, shutdown with deliveries in
//! flight, the in-flight view, failure details, retrying by hand, and the
//! catalog's categories.

use crate::helpers::raw::{Misbehaviour, RawReceiver};
use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;

// 3. Every attempt leg is logged.

#[tokio::test]
async fn every_attempt_leg_is_logged_with_the_password_masked() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/p", Reply::Status(500));
    let primary = format!("http://user:s3cretpw@{}/p", rx.addr);
    let acct = server
        .account_with(json!({"webhook_url": primary, "webhook_failover_url": rx.url("/f")}))
        .await;
    let id = server
        .publish(&acct, json!({"event_type": "x", "payload": {}}))
        .await;
    server.wait_for_status(&acct, &id, "delivered", SOON).await;

    let lines = server
        .wait_for_log("delivery attempt", 2, SOON)
        .await
        .unwrap_or_else(|log| panic!("no two `delivery attempt` lines; the log:\n{log}"));
    let legs: Vec<&Value> = lines
        .iter()
        .map(|l| &l["fields"])
        .filter(|f| f["event"] == id.as_str())
        .collect();
    assert_eq!(legs.len(), 2, "{lines:#?}");
    let (p, f) = (legs[0], legs[1]);
    assert_eq!(p["attempt"], 1, "{p}");
    assert_eq!(p["leg"], "primary", "{p}");
    assert_eq!(p["url"], format!("http://user:***@{}/p", rx.addr), "{p}");
    assert_eq!(p["outcome"], "failed", "{p}");
    assert_eq!(p["http_status"], 500, "{p}");
    assert_eq!(p["error"], "http_status", "{p}");
    assert!(p["duration_ms"].is_number(), "{p}");
    assert_eq!(f["attempt"], 1, "{f}");
    assert_eq!(f["leg"], "failover", "{f}");
    assert_eq!(f["url"], rx.url("/f"), "{f}");
    assert_eq!(f["outcome"], "delivered", "{f}");
    assert_eq!(f["http_status"], 200, "{f}");
    assert!(f["duration_ms"].is_number(), "{f}");
    assert!(
        !server.log_text().contains("s3cretpw"),
        "the password is in the log"
    );
}

// 4. Shutdown with a delivery in flight.

#[tokio::test]
async fn sigterm_leaves_a_hanging_delivery_to_its_lease_and_exits() {
    let mut server = TestServer::start_with(&["--shutdown-timeout", "1s"]).await;
    let rx = Receiver::start().await;
    rx.reply("/hang", Reply::Hang);
    let acct = server.account().await;
    server
        .publish(&acct, json!({"event_type": "x", "payload": {}, "webhook_url": rx.url("/hang"), "timeout": "20s"}))
        .await;
    rx.wait_for(1, SOON).await;
    server.terminate();
    let exited = server.wait_exit(Duration::from_secs(6)).await;
    assert!(
        exited.is_some(),
        "still running 6 s after SIGTERM with --shutdown-timeout 1s"
    );

    let down = server
        .wait_for_log("shutting down", 1, SOON)
        .await
        .unwrap_or_else(|log| panic!("{log}"));
    assert_eq!(down[0]["fields"]["in_flight"], 1, "{}", down[0]);
    let left = server
        .wait_for_log("left deliveries to their lease", 1, SOON)
        .await
        .unwrap_or_else(|log| panic!("{log}"));
    assert_eq!(left[0]["fields"]["left"], 1, "{}", left[0]);
}

// 5. An event being sent shows as in flight.

#[tokio::test]
async fn an_event_being_sent_is_in_flight_without_a_next_attempt_time() {
    let mut server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/hang", Reply::Hang);
    let acct = server.account().await;
    let done = server
        .publish(
            &acct,
            json!({"event_type": "x", "payload": {}, "webhook_url": rx.url("/ok")}),
        )
        .await;
    let delivered = server
        .wait_for_status(&acct, &done, "delivered", SOON)
        .await;
    assert_eq!(delivered["in_flight"], false, "{delivered}");

    let id = server
        .publish(&acct, json!({"event_type": "x", "payload": {}, "webhook_url": rx.url("/hang"), "timeout": "20s"}))
        .await;
    rx.wait_for(2, SOON).await;
    let sending = server.event(&acct, &id).await;
    assert_eq!(sending["in_flight"], true, "{sending}");
    assert!(sending["next_attempt_at"].is_null(), "{sending}");

    server.crash_and_restart().await;
    rx.wait_for(3, SOON).await;
    let again = server.event(&acct, &id).await;
    assert_eq!(again["in_flight"], true, "{again}");
    assert!(
        again["next_attempt_at"].is_null(),
        "a re-sent delivery shows a next attempt time: {again}"
    );
}

// 6. Why an attempt failed.

/// Publishes to `url` and returns the first attempt once it is recorded.
async fn first_attempt(url: &str) -> Value {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let body = json!({"event_type": "x", "payload": {}, "webhook_url": url, "retry_schedule": ["1h"], "timeout": "2s"});
    let id = server.publish(&acct, body).await;
    let has_attempt = |e: &Value| e["attempts"].as_array().is_some_and(|a| !a.is_empty());
    let event = server
        .wait_for_event(&acct, &id, has_attempt, SOON)
        .await
        .unwrap_or_else(|e| panic!("no attempt recorded: {e:#}"));
    event["attempts"][0].clone()
}

fn detail(attempt: &Value) -> String {
    attempt["error_detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no error_detail: {attempt}"))
        .to_string()
}

#[tokio::test]
async fn a_closed_port_is_reported_as_connection_refused() {
    let attempt = first_attempt(&refused_url()).await;
    assert_eq!(attempt["error"], "connection", "{attempt}");
    assert!(
        detail(&attempt)
            .to_lowercase()
            .contains("connection refused"),
        "{attempt}"
    );
}

#[tokio::test]
async fn a_reset_is_reported_as_a_reset() {
    let raw = RawReceiver::start(Misbehaviour::Reset).await;
    let attempt = first_attempt(&raw.url()).await;
    assert_eq!(attempt["error"], "connection", "{attempt}");
    assert!(
        detail(&attempt).to_lowercase().contains("reset"),
        "{attempt}"
    );
}

#[tokio::test]
async fn https_to_a_plain_http_port_is_a_tls_failure() {
    let rx = Receiver::start().await;
    let attempt = first_attempt(&format!("https://{}/", rx.addr)).await;
    assert_eq!(attempt["error"], "tls", "{attempt}");
    assert!(detail(&attempt).starts_with("TLS"), "{attempt}");
}

#[tokio::test]
async fn an_answer_that_is_not_http_is_a_parse_error() {
    let raw = RawReceiver::start(Misbehaviour::Garbage).await;
    let attempt = first_attempt(&raw.url()).await;
    assert!(detail(&attempt).contains("HTTP parse error"), "{attempt}");
}

// 8. Sending again by hand.

async fn retry(
    server: &TestServer,
    acct: &TestAccount,
    id: &str,
) -> crate::helpers::server::Answer {
    server
        .post(&format!("/v1/events/{id}/retry"), &acct.key, &json!({}))
        .await
}

#[tokio::test]
async fn a_pending_event_can_be_retried_by_hand_at_once() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/h", Reply::Status(500));
    let acct = server.account().await;
    let id = server
        .publish(&acct, json!({"event_type": "x", "payload": {}, "webhook_url": rx.url("/h"), "retry_schedule": ["1h", "1h"]}))
        .await;
    server
        .wait_for_event(&acct, &id, |e| e["attempts_made"] == 1, SOON)
        .await
        .unwrap_or_else(|e| panic!("no first attempt: {e:#}"));
    rx.reply("/h", Reply::Status(200));
    let answer = retry(&server, &acct, &id).await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    server.wait_for_status(&acct, &id, "delivered", SOON).await;
    assert_eq!(rx.received_on("/h").len(), 2);
}

/// Publishes an event to an account without any URL: it is stored as `no_target`.
async fn publish_no_target(server: &TestServer, acct: &TestAccount) -> String {
    let published = server
        .post(
            "/v1/events",
            &acct.key,
            &json!({"event_type": "x", "payload": {}}),
        )
        .await;
    assert_eq!(
        published.body["status"], "no_target",
        "{:?}",
        published.body
    );
    published.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_no_target_event_is_retried_once_a_target_is_set() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    let id = &publish_no_target(&server, &acct).await;
    let put = server
        .put(
            "/v1/account/settings",
            &acct.key,
            &json!({"webhook_url": rx.url("/late")}),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let answer = retry(&server, &acct, id).await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    server.wait_for_status(&acct, id, "delivered", SOON).await;
    assert_eq!(rx.received_on("/late").len(), 1);
}

#[tokio::test]
async fn a_filtered_event_is_retried_once_the_target_takes_it() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/t")}))
        .await;
    let put = server
        .put(
            "/v1/event-types/prog.tick",
            &acct.key,
            &json!({"category": "inflight"}),
        )
        .await;
    assert!([200, 201].contains(&put.status), "{:?}", put.body);
    let published = server
        .post(
            "/v1/events",
            &acct.key,
            &json!({"event_type": "prog.tick", "payload": {}}),
        )
        .await;
    assert_eq!(published.body["status"], "filtered", "{:?}", published.body);
    let id = published.body["id"].as_str().unwrap();
    let settings = json!({"webhook_url": rx.url("/t"), "inflight": true});
    assert_eq!(
        server
            .put("/v1/account/settings", &acct.key, &settings)
            .await
            .status,
        200
    );
    let answer = retry(&server, &acct, id).await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    server.wait_for_status(&acct, id, "delivered", SOON).await;
    assert_eq!(rx.received_on("/t").len(), 1);
}

#[tokio::test]
async fn retrying_a_no_target_event_that_still_has_none_says_so() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let id = &publish_no_target(&server, &acct).await;
    let answer = retry(&server, &acct, id).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["status"], "no_target", "{:?}", answer.body);
}

// 18. The catalog's categories.

#[tokio::test]
async fn the_catalog_files_sent_and_progress_events_as_postflight() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/all")}))
        .await;
    let loaded = server
        .post("/v1/event-types/catalog", &acct.key, &json!({}))
        .await;
    assert!((200..300).contains(&loaded.status), "{:?}", loaded.body);
    for name in ["message.sent", "fax.media.processed", "fax.sending.started"] {
        let t = server
            .get(&format!("/v1/event-types/{name}"), &acct.key)
            .await;
        assert_eq!(t.body["category"], "postflight", "{name}: {:?}", t.body);
    }
    let payload =
        json!({"id": "m-1", "direction": "outbound", "to": [{"phone_number": "+13125550001"}]});
    let published = server
        .post(
            "/v1/events",
            &acct.key,
            &json!({"event_type": "message.sent", "payload": payload}),
        )
        .await;
    assert_eq!(published.status, 202, "{:?}", published.body);
    assert_ne!(published.body["status"], "filtered");
    let id = published.body["id"].as_str().unwrap();
    server.wait_for_status(&acct, id, "delivered", SOON).await;
    assert_eq!(rx.received_on("/all").len(), 1);
}
