//! Delivery rules: the envelope, failover within one attempt, the retry schedule,
//! `failed` when it is spent, sending again by hand, and independence of receivers.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;

/// Publishes to `primary` with `failover`, no retries, and returns the final event.
async fn one_attempt(
    server: &TestServer,
    acct: &TestAccount,
    primary: &str,
    failover: &str,
    status: &str,
) -> Value {
    let body = json!({"event_type": "fax.delivered", "payload": {"n": 1}, "webhook_url": primary,
                      "webhook_failover_url": failover, "retry_schedule": [], "timeout": "500ms"});
    let id = server.publish(acct, body).await;
    server.wait_for_status(acct, &id, status, SOON).await
}

#[tokio::test]
async fn the_envelope_is_the_contracts_json() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    let body = json!({"event_type": "fax.delivered", "payload": {"fax_id": "f-1", "page_count": 1},
                      "occurred_at": "2026-01-07T10:01:43.677850Z", "webhook_url": rx.url("/h")});
    let id = server.publish(&acct, body).await;
    let got = rx.wait_for(1, SOON).await;
    assert_eq!(
        got[0].header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        got[0].json(),
        json!({"data": {"record_type": "event", "id": id, "event_type": "fax.delivered",
                        "occurred_at": "2026-01-07T10:01:43.677850Z", "payload": {"fax_id": "f-1", "page_count": 1}},
               "meta": {"attempt": 1, "delivered_to": rx.url("/h")}})
    );
}

#[tokio::test]
async fn failover_gets_the_same_attempt_number_after_a_500() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply(
        "/primary",
        Reply::Full(500, vec![], "primary is down".into()),
    );
    let acct = server.account().await;
    let event = one_attempt(
        &server,
        &acct,
        &rx.url("/primary"),
        &rx.url("/failover"),
        "delivered",
    )
    .await;

    let (p, f) = (
        &rx.received_on("/primary")[0],
        &rx.received_on("/failover")[0],
    );
    assert_eq!(
        p.json()["meta"],
        json!({"attempt": 1, "delivered_to": rx.url("/primary")})
    );
    assert_eq!(
        f.json()["meta"],
        json!({"attempt": 1, "delivered_to": rx.url("/failover")})
    );
    assert_eq!(p.header("webhook-id"), f.header("webhook-id"));

    let attempts = event["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["leg"], "primary");
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["http_status"], 500);
    assert_eq!(attempts[0]["error"], "http_status");
    assert_eq!(attempts[0]["response"], "primary is down");
    assert_eq!(attempts[1]["leg"], "failover");
    assert_eq!(attempts[1]["attempt"], 1);
    assert_eq!(attempts[1]["http_status"], 200);
    assert!(attempts[1]["error"].is_null());
}

#[tokio::test]
async fn a_primary_that_times_out_falls_over_at_once() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/slow", Reply::Hang);
    let acct = server.account().await;
    let event = one_attempt(
        &server,
        &acct,
        &rx.url("/slow"),
        &rx.url("/ok"),
        "delivered",
    )
    .await;
    assert_eq!(event["attempts"][0]["error"], "timeout");
    assert!(event["attempts"][0]["duration_ms"].as_u64().unwrap() >= 450);
    assert_eq!(rx.received_on("/ok")[0].json()["meta"]["attempt"], 1);
}

#[tokio::test]
async fn a_refused_connection_falls_over_and_is_logged_as_connection() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    let event = one_attempt(&server, &acct, &refused_url(), &rx.url("/ok"), "delivered").await;
    assert_eq!(event["attempts"][0]["error"], "connection");
    assert_eq!(event["attempts"][1]["http_status"], 200);
}

#[tokio::test]
async fn redirects_are_failures_and_are_not_followed() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply(
        "/moved",
        Reply::Full(307, vec![("location", rx.url("/elsewhere"))], String::new()),
    );
    let acct = server.account().await;
    let event = one_attempt(
        &server,
        &acct,
        &rx.url("/moved"),
        &rx.url("/failover"),
        "delivered",
    )
    .await;
    assert_eq!(event["attempts"][0]["error"], "redirect");
    assert_eq!(event["attempts"][0]["http_status"], 307);
    assert!(
        rx.received_on("/elsewhere").is_empty(),
        "the redirect was followed"
    );
}

#[tokio::test]
async fn retries_follow_the_schedule_then_the_event_fails() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/down", Reply::Status(503));
    let acct = server.account().await;
    let body = json!({"event_type": "x", "payload": {}, "webhook_url": rx.url("/down"),
                      "retry_schedule": ["200ms", "400ms"]});
    let id = server.publish(&acct, body).await;
    let event = server.wait_for_status(&acct, &id, "failed", SOON).await;

    let got = rx.received_on("/down");
    let numbers: Vec<_> = got
        .iter()
        .map(|r| r.json()["meta"]["attempt"].clone())
        .collect();
    assert_eq!(numbers, vec![json!(1), json!(2), json!(3)]);
    assert!(
        got[1].at - got[0].at >= Duration::from_millis(200),
        "first retry came early"
    );
    assert!(
        got[2].at - got[1].at >= Duration::from_millis(400),
        "second retry came early"
    );
    assert_eq!(event["attempts_made"], 3);
    assert!(event["next_attempt_at"].is_null());
}

#[tokio::test]
async fn a_failed_event_can_be_sent_again_by_hand() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/h", Reply::Status(500));
    let acct = server.account().await;
    let id = server.publish(&acct, json!({"event_type": "x", "payload": {}, "webhook_url": rx.url("/h"), "retry_schedule": ["50ms"]})).await;
    server.wait_for_status(&acct, &id, "failed", SOON).await;

    let busy = server
        .post(&format!("/v1/events/{id}/retry"), &acct.key, &json!({}))
        .await;
    assert_eq!(busy.status, 202, "{:?}", busy.body);
    server.wait_for_status(&acct, &id, "failed", SOON).await;
    assert_eq!(
        rx.received().len(),
        3,
        "a manual retry is one attempt, not a new schedule"
    );

    rx.reply("/h", Reply::Status(200));
    server
        .post(&format!("/v1/events/{id}/retry"), &acct.key, &json!({}))
        .await;
    let event = server.wait_for_status(&acct, &id, "delivered", SOON).await;
    assert_eq!(event["attempts_made"], 4);
    assert_eq!(rx.received().last().unwrap().json()["meta"]["attempt"], 4);

    let missing = server
        .post("/v1/events/nope/retry", &acct.key, &json!({}))
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn hanging_receivers_do_not_delay_a_healthy_one() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/hang", Reply::Hang);
    let acct = server.account().await;
    for _ in 0..20 {
        server.publish(&acct, json!({"event_type": "x", "payload": {}, "webhook_url": rx.url("/hang"), "timeout": "5s"})).await;
    }
    let started = std::time::Instant::now();
    let id = server
        .publish(
            &acct,
            json!({"event_type": "x", "payload": {}, "webhook_url": rx.url("/fast")}),
        )
        .await;
    server.wait_for_status(&acct, &id, "delivered", SOON).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the healthy delivery waited behind the hanging ones"
    );
}

#[tokio::test]
async fn a_name_that_does_not_resolve_falls_over_at_once() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    // `.invalid` never resolves (RFC 6761): nothing leaves the machine.
    let nowhere = "http://receiver.hookpost-test.invalid/h";
    let event = one_attempt(&server, &acct, nowhere, &rx.url("/ok"), "delivered").await;
    assert_eq!(event["attempts"][0]["error"], "dns", "{event:#}");
    assert_eq!(event["attempts"][1]["leg"], "failover");
    assert_eq!(event["attempts"][1]["attempt"], 1);
}

#[tokio::test]
async fn where_only_200_is_success_a_204_goes_to_the_failover() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/empty", Reply::Status(204));
    let acct = server.account().await;
    let body = |success: Value| {
        json!({"event_type": "fax.delivered", "payload": {}, "webhook_url": rx.url("/empty"),
               "webhook_failover_url": rx.url("/failover"), "retry_schedule": [], "success": success})
    };
    let strict = server.publish(&acct, body(json!(200))).await;
    let event = server
        .wait_for_status(&acct, &strict, "delivered", SOON)
        .await;
    assert_eq!(event["attempts"][0]["http_status"], 204);
    assert_eq!(event["attempts"][0]["error"], "http_status");
    assert_eq!(event["attempts"][1]["leg"], "failover");
    assert_eq!(event["target"]["success"], 200);

    let lenient = server.publish(&acct, body(json!("2xx"))).await;
    let event = server
        .wait_for_status(&acct, &lenient, "delivered", SOON)
        .await;
    assert_eq!(event["attempts"].as_array().unwrap().len(), 1, "{event:#}");
    let refused = server
        .post("/v1/events", &acct.key, &body(json!(201)))
        .await;
    assert_refused(&refused, 422, "success");
}
