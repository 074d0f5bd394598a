//! Endpoints for tests: creating them, reading their ids and deliveries,
//! publishing the events they take, replays, and receivers standing behind
//! several endpoints at once (the fan-out durability tests).

use super::load::{tally, Tally};
use super::receiver::{Receiver, Reply};
use super::server::{Answer, TestAccount, TestServer};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

/// A server, a receiver and an account without settings: where most endpoint
/// tests start.
pub async fn server_receiver_account() -> (TestServer, Receiver, TestAccount) {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    (server, rx, acct)
}

/// An account whose settings URL is `path` on `rx`.
pub async fn account_sending_to(server: &TestServer, rx: &Receiver, path: &str) -> TestAccount {
    server
        .account_with(json!({"webhook_url": rx.url(path)}))
        .await
}

/// Puts profile `id` (version `v2`); answers whatever the server said.
pub async fn put_profile(server: &TestServer, acct: &TestAccount, id: &str) -> Answer {
    server
        .put(
            &format!("/v1/profiles/{id}"),
            &acct.key,
            &json!({"version": "v2"}),
        )
        .await
}

/// Creates an endpoint; panics unless it is `201`.
pub async fn create_endpoint(server: &TestServer, acct: &TestAccount, body: Value) -> Value {
    let a = server.post("/v1/endpoints", &acct.key, &body).await;
    assert_eq!(a.status, 201, "create endpoint {body}: {:?}", a.body);
    a.body
}

/// Creates an endpoint (panics unless it is `201`); its id.
pub async fn endpoint_id(server: &TestServer, acct: &TestAccount, body: Value) -> String {
    id_of(&create_endpoint(server, acct, body).await)
}

/// Creates an endpoint at `url` taking the `event_types` given (all when
/// empty); its id.
pub async fn subscriber(
    server: &TestServer,
    acct: &TestAccount,
    url: String,
    event_types: &[&str],
) -> String {
    endpoint_id(
        server,
        acct,
        json!({"url": url, "event_types": event_types}),
    )
    .await
}

/// Deletes endpoint `ep`; answers whatever the server said.
pub async fn delete_endpoint(server: &TestServer, acct: &TestAccount, ep: &str) -> Answer {
    server
        .call("DELETE", &format!("/v1/endpoints/{ep}"), &acct.key, None)
        .await
}

/// The `id` of an API object: an endpoint, an event, a job.
pub fn id_of(object: &Value) -> String {
    object["id"].as_str().expect("an id").to_string()
}

/// The delivery of `event` (a `GET /v1/events/{id}` answer) to endpoint `ep`.
pub fn delivery_to<'a>(event: &'a Value, ep: &str) -> &'a Value {
    event["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .find(|d| d["endpoint_id"] == ep)
        .unwrap_or_else(|| panic!("no delivery to {ep}: {event:#}"))
}

/// The event ids received on `path`, sorted.
pub fn ids_on(rx: &Receiver, path: &str) -> BTreeSet<String> {
    rx.received_on(path)
        .iter()
        .map(|r| r.json()["data"]["id"].as_str().unwrap().to_string())
        .collect()
}

/// The ids of a list answer's page.
pub fn listed_ids(page: &Value) -> BTreeSet<String> {
    page["data"]
        .as_array()
        .expect("a page")
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// `GET /v1/events?endpoint_id={ep}` with `acct`'s key.
pub async fn events_by_endpoint(server: &TestServer, acct: &TestAccount, ep: &str) -> Answer {
    server
        .get(&format!("/v1/events?endpoint_id={ep}"), &acct.key)
        .await
}

/// Posts `body` to `/v1/events`; answers whatever the server said.
pub async fn post_event(server: &TestServer, acct: &TestAccount, body: Value) -> Answer {
    server.post("/v1/events", &acct.key, &body).await
}

/// Posts a `fax.delivered` event with an empty payload and the `extra` fields
/// (an object, e.g. `{"profile_id": "p1"}`); answers whatever the server said.
pub async fn post_fax_delivered(server: &TestServer, acct: &TestAccount, extra: Value) -> Answer {
    let mut body = json!({"event_type": "fax.delivered", "payload": {}});
    for (field, value) in extra.as_object().expect("extra fields: an object") {
        body[field] = value.clone();
    }
    post_event(server, acct, body).await
}

/// Publishes a `fax.delivered` event with an empty payload; panics unless it
/// is accepted (202). Its id.
pub async fn publish_fax_delivered(server: &TestServer, acct: &TestAccount) -> String {
    server
        .publish(acct, json!({"event_type": "fax.delivered", "payload": {}}))
        .await
}

/// Starts a replay to endpoint `ep` with `body` (`since`, `until`, `rate`…);
/// panics unless it is accepted (202). The job.
pub async fn start_replay(server: &TestServer, acct: &TestAccount, ep: &str, body: Value) -> Value {
    let started = server
        .post(&format!("/v1/endpoints/{ep}/replay"), &acct.key, &body)
        .await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    started.body
}

/// `n` receivers, each answering `/h` after `delay`, each behind an endpoint
/// of its own at `/h`.
pub async fn endpoint_receivers(
    server: &TestServer,
    acct: &TestAccount,
    n: usize,
    delay: Duration,
) -> Vec<Receiver> {
    let mut receivers = Vec::new();
    for _ in 0..n {
        let rx = Receiver::start().await;
        rx.reply("/h", Reply::Delay(delay));
        create_endpoint(server, acct, json!({"url": rx.url("/h")})).await;
        receivers.push(rx);
    }
    receivers
}

/// Waits (up to `drain`) until `server` has nothing pending for `acct`, then
/// tallies what each receiver got of `accepted`, waiting up to `within` each
/// (counted once nothing is pending, so re-sent copies are counted too), and
/// prints each tally as `{what}, endpoint {i}: …`.
pub async fn tally_each_once_drained(
    server: &TestServer,
    acct: &TestAccount,
    receivers: &[Receiver],
    accepted: &HashSet<String>,
    drain: Duration,
    within: Duration,
    what: &str,
) -> Vec<Tally> {
    server.wait_none_pending(acct, drain).await;
    let mut tallies = Vec::new();
    for (i, rx) in receivers.iter().enumerate() {
        let t = tally(rx, accepted, within).await;
        println!("{what}, endpoint {i}: {t:?}");
        tallies.push(t);
    }
    tallies
}

/// Publishes `n` events of `event_type` in one batch (at most 1,000 per
/// call); their ids in order.
pub async fn publish_typed_batch(
    server: &TestServer,
    acct: &TestAccount,
    event_type: &str,
    n: usize,
) -> Vec<String> {
    let batch: Vec<Value> = (0..n)
        .map(|i| json!({"event_type": event_type, "payload": {"i": i}}))
        .collect();
    let published = server
        .post("/v1/events/batch", &acct.key, &json!({"events": batch}))
        .await;
    assert_eq!(published.status, 202, "{:?}", published.body);
    published.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("batch answer: {:?}", published.body))
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// Publishes `n` `fax.delivered` events in one batch; their ids in order.
pub async fn publish_batch(server: &TestServer, acct: &TestAccount, n: usize) -> Vec<String> {
    publish_typed_batch(server, acct, "fax.delivered", n).await
}

/// An endpoint at `/rated` on `rx` limited to `20/s` and 3 in flight, its
/// receiver taking 150 ms an answer, sent 200 events published through `nodes`
/// in turn: checks that no second saw more than the limit plus its burst of
/// one, never more than 3 were in flight, and the 200 took about 10 s.
pub async fn assert_rate_and_concurrency_held(
    nodes: &[&TestServer],
    acct: &TestAccount,
    rx: &Receiver,
) {
    rx.reply("/rated", Reply::Delay(Duration::from_millis(150)));
    let endpoint = json!({"url": rx.url("/rated"), "rate_limit": "20/s", "max_in_flight": 3});
    create_endpoint(nodes[0], acct, endpoint).await;
    for node in nodes.iter().cycle().take(2) {
        publish_batch(node, acct, 100).await;
    }
    let got = rx.wait_for_on("/rated", 200, Duration::from_secs(40)).await;
    let took = got.last().unwrap().at - got.first().unwrap().at;
    let most = rx.busiest_window("/rated", Duration::from_secs(1));
    let at_once = rx.most_concurrent();
    println!(
        "200 at 20/s through {} node(s): {took:?}, busiest second {most}, most at once {at_once}",
        nodes.len()
    );
    assert!(
        most <= 21,
        "{most} requests in one second (limit 20/s, burst 1)"
    );
    assert!(at_once <= 3, "{at_once} at once under max_in_flight 3");
    assert!(
        took >= Duration::from_millis(9_500),
        "200 at 20/s took {took:?}"
    );
    nodes[0].wait_none_pending(acct, super::SOON).await;
}
