//! Ordering keys: per destination, events sharing an `ordering_key` are
//! delivered in publish order, one at a time, the next only once the one ahead
//! is delivered or has failed for good; other keys, and events without one,
//! stay concurrent.

use crate::helpers::receiver::{
    assert_keys_in_order, keyed, keyed_event, order_by_key, publish_keyed, KeyOrder,
};
use crate::helpers::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const KEYS: usize = 5;
const PER_KEY: usize = 50;
/// Every seventh event fails its first request.
const FAIL_EVERY: usize = 7;

/// A server, and an account sending to `/h` on a receiver answering
/// [`Reply::Sequenced`] after `delay`, retrying once after 50 ms.
async fn sequenced(delay: Duration) -> (TestServer, Receiver, TestAccount) {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply(
        "/h",
        Reply::Sequenced {
            delay,
            fail_every: FAIL_EVERY,
        },
    );
    let acct = server
        .account_with(
            json!({"webhook_url": rx.url("/h"), "retry_schedule": ["50ms"], "timeout": "2s"}),
        )
        .await;
    (server, rx, acct)
}

/// Prints each key's order under `what`, and the totals.
fn print_orders(what: &str, orders: &BTreeMap<String, KeyOrder>) {
    for (key, o) in orders {
        println!("{what}: {key}: {o:?}");
    }
    let total = |f: fn(&KeyOrder) -> usize| orders.values().map(f).sum::<usize>();
    println!(
        "{what}: {} requests, {} failed, {} delivered in order, {} copies, {} other-key requests during retry waits",
        total(|o| o.requests),
        total(|o| o.failed),
        total(|o| o.in_order),
        total(|o| o.copies),
        total(|o| o.others_meanwhile),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_key_is_delivered_in_publish_order_while_the_keys_flow_at_once() {
    let delay = Duration::from_millis(5);
    let (server, rx, acct) = sequenced(delay).await;

    let started = Instant::now();
    publish_keyed(&[&server], &acct, KEYS, PER_KEY).await;
    server
        .wait_none_pending(&acct, Duration::from_secs(60))
        .await;
    let took = started.elapsed();

    let orders = order_by_key(&rx.received_on("/h"));
    print_orders("5 keys × 50", &orders);
    println!(
        "5 keys × 50: all delivered in {took:?}, at most {} requests at once",
        rx.most_concurrent()
    );
    assert_keys_in_order(&orders, KEYS, PER_KEY, false);
    let failed: usize = orders.values().map(|o| o.failed).sum();
    assert_eq!(failed, KEYS * PER_KEY / FAIL_EVERY, "{orders:#?}");
    let meanwhile: usize = orders.values().map(|o| o.others_meanwhile).sum();
    assert!(
        meanwhile > failed,
        "other keys stood still while a head waited for its retry: {orders:#?}"
    );
    assert!(
        rx.most_concurrent() >= 2,
        "the keys never went at once: {orders:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn order_holds_across_kill_9() {
    let (mut server, rx, acct) = sequenced(Duration::from_millis(20)).await;
    publish_keyed(&[&server], &acct, KEYS, PER_KEY).await;
    let before = rx.wait_for(KEYS * PER_KEY / 3, SOON).await.len();
    server.crash_and_restart().await;
    println!("5 keys × 50, kill -9: killed after {before} requests");

    server
        .wait_none_pending(&acct, Duration::from_secs(60))
        .await;
    let orders = order_by_key(&rx.received_on("/h"));
    print_orders("5 keys × 50, kill -9", &orders);
    assert_keys_in_order(&orders, KEYS, PER_KEY, true);
}

/// A server, a receiver answering 500 to key `a`'s events on `/h` (200 to
/// others), and an account sending there, retrying on `retry_schedule`.
pub(crate) async fn key_a_failing(retry_schedule: Value) -> (TestServer, Receiver, TestAccount) {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/h", Reply::FailKey("a".into()));
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/h"), "retry_schedule": retry_schedule}))
        .await;
    (server, rx, acct)
}

/// Retrying every 100 ms, 30 times: a failing head keeps failing for 3 s.
pub(crate) fn every_100ms() -> Value {
    json!(vec!["100ms"; 30])
}

/// Publishes `n` events of `key`; their ids in publish order.
pub(crate) async fn publish_key(
    server: &TestServer,
    acct: &TestAccount,
    key: &str,
    n: usize,
) -> Vec<String> {
    let mut ids = Vec::new();
    for seq in 0..n {
        ids.push(server.publish(acct, keyed_event(key, seq)).await);
    }
    ids
}

/// The places of `key`'s requests on `path`, in arrival order.
fn places(rx: &Receiver, path: &str, key: &str) -> Vec<usize> {
    rx.received_on(path)
        .iter()
        .filter_map(keyed)
        .filter(|(k, _)| k == key)
        .map(|(_, seq)| seq)
        .collect()
}

#[tokio::test]
async fn a_failing_head_holds_back_only_its_own_key() {
    let (server, rx, acct) = key_a_failing(every_100ms()).await;
    let a = publish_key(&server, &acct, "a", 5).await;
    let b = publish_key(&server, &acct, "b", 10).await;

    for id in &b {
        server.wait_for_status(&acct, id, "delivered", SOON).await;
    }
    let held = places(&rx, "/h", "a");
    println!("while a's head fails: a's requests {held:?}");
    assert!(
        !held.is_empty() && held.iter().all(|&seq| seq == 0),
        "only a's head may be sent: {held:?}"
    );
    let waiting = server.event(&acct, &a[1]).await;
    assert_eq!(waiting["status"], "pending");
    assert_eq!(waiting["attempts"], json!([]), "{waiting:#}");

    rx.reply("/h", Reply::Status(200));
    server.wait_none_pending(&acct, SOON).await;
    let orders = order_by_key(&rx.received_on("/h"));
    print_orders("failing head", &orders);
    assert_eq!(orders["a"].in_order, 5, "{orders:#?}");
    assert!(orders["a"].early.is_empty(), "{orders:#?}");
    assert_eq!(orders["b"].in_order, 10, "{orders:#?}");
}

#[tokio::test]
async fn a_head_that_fails_for_good_lets_the_next_go() {
    let (server, rx, acct) = key_a_failing(json!(["100ms"])).await;
    let a = publish_key(&server, &acct, "a", 2).await;

    for id in &a {
        server.wait_for_status(&acct, id, "failed", SOON).await;
    }
    assert_eq!(places(&rx, "/h", "a"), [0, 0, 1, 1]);
    let got = rx.received_on("/h");
    assert!(
        got[1]
            .answered
            .is_some_and(|answered| got[2].at >= answered),
        "the next went before the head's last answer"
    );
}

#[tokio::test]
async fn each_endpoint_keeps_its_own_order_of_a_key() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/bad", Reply::Status(500));
    let acct = server.account().await;
    for path in ["/bad", "/good"] {
        let body = json!({"url": rx.url(path), "settings": {"retry_schedule": every_100ms()}});
        let created = server.post("/v1/endpoints", &acct.key, &body).await;
        assert_eq!(created.status, 201, "{:?}", created.body);
    }
    let ids = publish_key(&server, &acct, "a", 5).await;

    rx.wait_for_on("/good", 5, SOON).await;
    let bad = places(&rx, "/bad", "a");
    println!("a failing endpoint's requests meanwhile: {bad:?}");
    assert_eq!(places(&rx, "/good", "a"), [0, 1, 2, 3, 4]);
    assert!(bad.iter().all(|&seq| seq == 0), "{bad:?}");
    let last = server.event(&acct, &ids[4]).await;
    assert_eq!(last["status"], "pending", "{last:#}");
}

#[tokio::test]
async fn without_a_key_events_go_at_once_and_with_one_one_at_a_time() {
    let server = TestServer::start().await;
    let (free, keyed) = (Receiver::start().await, Receiver::start().await);
    for rx in [&free, &keyed] {
        rx.reply("/h", Reply::Delay(Duration::from_millis(300)));
    }
    let acct = server.account().await;
    for i in 0..8 {
        let mut event = keyed_event("a", i);
        event["webhook_url"] = json!(keyed.url("/h"));
        server.publish(&acct, event.clone()).await;
        event["webhook_url"] = json!(free.url("/h"));
        event.as_object_mut().unwrap().remove("ordering_key");
        server.publish(&acct, event).await;
    }
    server.wait_none_pending(&acct, SOON).await;
    println!(
        "8 events at once: without a key {}, with one key {}",
        free.most_concurrent(),
        keyed.most_concurrent()
    );
    assert!(free.most_concurrent() >= 4, "{}", free.most_concurrent());
    assert_eq!(keyed.most_concurrent(), 1);
    assert_eq!(places(&keyed, "/h", "a"), (0..8).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_batch_is_delivered_in_item_order_within_a_key() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/h")}))
        .await;
    let events: Vec<Value> = (0..20).map(|seq| keyed_event("a", seq)).collect();
    let answer = server
        .post("/v1/events/batch", &acct.key, &json!({"events": events}))
        .await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    server.wait_none_pending(&acct, SOON).await;
    assert_eq!(places(&rx, "/h", "a"), (0..20).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_ordering_key_is_1_to_256_printable_bytes() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let with_key = |key: &str| json!({"event_type": "x", "payload": {}, "ordering_key": key});
    let refused = [
        "x".repeat(257),
        String::new(),
        "€".repeat(86),
        "fax\n123".to_string(),
    ];
    for key in &refused {
        let answer = server.post("/v1/events", &acct.key, &with_key(key)).await;
        assert_refused(&answer, 422, "ordering_key");
        assert_eq!(answer.body["error"]["code"], "invalid_field");
    }
    for key in ["x".repeat(256), format!("{}x", "€".repeat(85)), "f".into()] {
        server.publish(&acct, with_key(&key)).await;
    }
    let batch = json!({"events": [with_key("ok"), with_key("")]});
    let answer = server.post("/v1/events/batch", &acct.key, &batch).await;
    assert_refused(&answer, 422, "events[1].ordering_key");
}

#[tokio::test]
async fn the_event_shows_its_ordering_key() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let keyed = server
        .publish(
            &acct,
            json!({"event_type": "x", "payload": {}, "ordering_key": "fax-123"}),
        )
        .await;
    let plain = server
        .publish(&acct, json!({"event_type": "x", "payload": {}}))
        .await;
    assert_eq!(server.event(&acct, &keyed).await["ordering_key"], "fax-123");
    assert!(server.event(&acct, &plain).await["ordering_key"].is_null());
    let listed = server.get("/v1/events", &acct.key).await.body;
    assert_eq!(listed["data"][1]["ordering_key"], "fax-123", "{listed:#}");
}

#[tokio::test]
async fn a_retry_by_hand_of_a_waiting_event_keeps_its_turn() {
    let (server, rx, acct) = key_a_failing(every_100ms()).await;
    let a = publish_key(&server, &acct, "a", 3).await;
    rx.wait_for(1, SOON).await;

    let retried = server
        .call(
            "POST",
            &format!("/v1/events/{}/retry", a[1]),
            &acct.key,
            None,
        )
        .await;
    println!("retry by hand of a waiting event: {retried:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = places(&rx, "/h", "a");
    rx.reply("/h", Reply::Status(200));
    server.wait_none_pending(&acct, SOON).await;
    let orders = order_by_key(&rx.received_on("/h"));
    print_orders("retry by hand while the head fails", &orders);
    assert!(
        held.iter().all(|&seq| seq == 0),
        "a retry by hand sent an event before the one ahead: {held:?}"
    );
    assert_keys_in_order(&orders, 1, 3, false);
}
