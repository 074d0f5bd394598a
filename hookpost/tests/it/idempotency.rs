//! Idempotency keys: a second publish inside the window creates nothing and is not
//! delivered; after the window the key is free again.

use crate::helpers::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_duplicate_inside_the_window_returns_the_first_id_and_is_not_delivered() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/h")}))
        .await;
    let body =
        json!({"event_type": "message.sent", "payload": {"n": 1}, "idempotency_key": "cmd-123"});
    let first = server.post("/v1/events", &acct.key, &body).await;
    assert_eq!(first.status, 202);
    assert_eq!(first.body["duplicate"], false);
    let second = server.post("/v1/events", &acct.key, &body).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body["duplicate"], true);
    assert_eq!(second.body["id"], first.body["id"]);
    // Answered like the first: its deliveries and target, its status now.
    assert_eq!(second.body["deliveries"], first.body["deliveries"]);
    assert_eq!(second.body["target"], first.body["target"]);
    let status = second.body["status"].as_str().unwrap_or_default();
    assert!(["pending", "delivered"].contains(&status), "{status}");

    server
        .wait_for_status(&acct, first.body["id"].as_str().unwrap(), "delivered", SOON)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.received().len(), 1, "the duplicate was delivered");
    let list = server.get("/v1/events", &acct.key).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn keys_are_per_account_and_expire_with_the_window() {
    let server = TestServer::start_with(&["--idempotency-window", "300ms"]).await;
    let a = server.account().await;
    let b = server.account().await;
    let body = json!({"event_type": "x", "payload": {}, "idempotency_key": "k"});
    let first = server.post("/v1/events", &a.key, &body).await;
    let other_account = server.post("/v1/events", &b.key, &body).await;
    assert_eq!(
        other_account.status, 202,
        "another account's key must not collide"
    );
    assert_ne!(other_account.body["id"], first.body["id"]);

    tokio::time::sleep(Duration::from_millis(400)).await;
    let after = server.post("/v1/events", &a.key, &body).await;
    assert_eq!(after.status, 202, "the key should be free after the window");
    assert_ne!(after.body["id"], first.body["id"]);
}

#[tokio::test]
async fn a_batch_repeating_a_key_stores_it_once() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let item = json!({"event_type": "x", "payload": {}, "idempotency_key": "same"});
    let answer = server
        .post(
            "/v1/events/batch",
            &acct.key,
            &json!({"events": [item, item]}),
        )
        .await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    let data = answer.body["data"].as_array().unwrap();
    assert_eq!(data[0]["duplicate"], false);
    assert_eq!(data[1]["duplicate"], true);
    assert_eq!(data[1]["id"], data[0]["id"]);
}

#[tokio::test]
async fn keys_are_forgotten_after_their_window() {
    let server = TestServer::start_with(&["--idempotency-window", "1s"]).await;
    let acct = server.account().await;
    let keyed = |key: &str| json!({"event_type": "x", "payload": {}, "idempotency_key": key});
    server.publish(&acct, keyed("a")).await;
    server.publish(&acct, keyed("b")).await;
    let count = "SELECT COUNT(*) FROM idempotency_keys";
    assert_eq!(database::sql(&server, count).await, 2);
    let deadline = tokio::time::Instant::now() + SOON;
    while database::sql(&server, count).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "expired keys were not deleted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Forgotten, the key is free again.
    server.publish(&acct, keyed("a")).await;
}
