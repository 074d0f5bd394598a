//! PostgreSQL-only tests: several nodes on one database, and the database going
//! away under load. Run by `scripts/test`, which provides the cluster.

#[path = "../it/helpers/mod.rs"]
mod helpers;

use helpers::endpoints::{endpoint_receivers, tally_each_once_drained};
use helpers::load::{tally, Load};
use helpers::postgres::{fresh_database, PgCluster};
use helpers::*;
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

/// Publishes `events` events round-robin over all `nodes` (12 publishers, no
/// pause), kills node 1 with SIGKILL once `kill_after` were accepted, and waits
/// until the publishers are through; the accepted ids.
async fn load_killing_node_1(
    nodes: &mut [TestServer],
    key: &str,
    events: usize,
    kill_after: usize,
) -> HashSet<String> {
    let urls = nodes.iter().map(|n| n.url.clone()).collect();
    let load = Load::start(urls, key, events, 12, Duration::ZERO);
    load.wait_accepted(kill_after).await;
    nodes[1].kill9();
    load.complete().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_share_the_load_and_a_killed_node_loses_nothing() {
    let mut nodes = TestServer::start_nodes(3, &[]).await;
    let rx = Receiver::start().await;
    rx.reply("/h", Reply::Delay(Duration::from_millis(20)));
    let acct = nodes[0]
        .account_with(json!({"webhook_url": rx.url("/h"), "timeout": "2s"}))
        .await;

    let accepted = load_killing_node_1(&mut nodes, &acct.key, 900, 300).await;

    nodes[0]
        .wait_none_pending(&acct, Duration::from_secs(30))
        .await;
    // Counted once nothing is pending, so re-sent copies are counted too.
    let t = tally(&rx, &accepted, Duration::from_secs(60)).await;
    println!("three nodes, one killed: {t:?}");
    assert_eq!(t.lost, 0, "{t:?}");
    assert!(
        t.accepted >= 600,
        "the surviving nodes stopped accepting: {t:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_fan_out_to_three_endpoints_and_a_killed_node_loses_nothing_at_any() {
    let mut nodes = TestServer::start_nodes(3, &[]).await;
    let acct = nodes[0].account_with(json!({"timeout": "2s"})).await;
    let receivers = endpoint_receivers(&nodes[0], &acct, 3, Duration::from_millis(20)).await;

    let accepted = load_killing_node_1(&mut nodes, &acct.key, 600, 200).await;

    let tallies = tally_each_once_drained(
        &nodes[0],
        &acct,
        &receivers,
        &accepted,
        Duration::from_secs(60),
        Duration::from_secs(60),
        "three nodes fanning out, one killed",
    )
    .await;
    for (i, t) in tallies.iter().enumerate() {
        assert_eq!(t.lost, 0, "endpoint {i}: {t:?}");
        assert!(
            t.accepted >= 400,
            "the surviving nodes stopped accepting: {t:?}"
        );
    }
}

#[tokio::test]
async fn api_and_worker_roles_split_the_jobs() {
    let database = fresh_database(&helpers::postgres::admin_url()).await;
    let api = TestServer::start_on(Some(&database.url), &["--role", "api"]).await;
    let worker = TestServer::start_on(Some(&database.url), &["--role", "worker"]).await;
    let rx = Receiver::start().await;
    let acct = api.account_with(json!({"webhook_url": rx.url("/h")})).await;
    let id = api
        .publish(&acct, json!({"event_type": "x", "payload": {}}))
        .await;

    api.wait_for_status(&acct, &id, "delivered", SOON).await;
    assert_eq!(rx.received().len(), 1);
    assert_eq!(worker.get("/healthz", "").await.status, 200);
    assert_eq!(
        worker.get("/v1/events", &acct.key).await.status,
        404,
        "a worker node serves no API"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_under_load_answers_503_and_loses_nothing() {
    let cluster = PgCluster::start();
    let database = fresh_database(&cluster.url()).await;
    let server = TestServer::start_on(Some(&database.url), &[]).await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/h")}))
        .await;

    let load = Load::start(
        vec![server.url.clone()],
        &acct.key,
        2400,
        4,
        Duration::from_millis(10),
    );
    load.wait_accepted(200).await;
    cluster.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = server
        .post(
            "/v1/events",
            &acct.key,
            &json!({"event_type": "x", "payload": {}}),
        )
        .await;
    assert_eq!(during.status, 503, "{:?}", during.body);
    assert_eq!(during.body["error"]["code"], "unavailable");
    assert_eq!(server.get("/healthz", "").await.status, 503);
    cluster.resume();
    let accepted_before_resume = load.accepted_count();
    let statuses = load.statuses.clone();
    let accepted = load.complete().await;
    assert!(
        accepted.len() > accepted_before_resume,
        "publishing did not resume after the database came back"
    );

    server
        .wait_none_pending(&acct, Duration::from_secs(60))
        .await;
    // Counted once nothing is pending, so re-sent copies are counted too.
    let t = tally(&rx, &accepted, Duration::from_secs(90)).await;
    let statuses = statuses.lock().unwrap().clone();
    println!("database restart: {t:?}, answers by status: {statuses:?}");
    assert_eq!(t.lost, 0, "{t:?}");
    assert!(
        statuses.keys().all(|s| [202, 503].contains(s)),
        "unexpected answers: {statuses:?}"
    );
    assert!(
        statuses.get(&503).copied().unwrap_or(0) > 0,
        "the outage was not noticed: {statuses:?}"
    );
    assert_eq!(server.get("/healthz", "").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_deliver_each_ordering_key_in_publish_order() {
    use helpers::receiver::{assert_keys_in_order, order_by_key, publish_keyed};
    let nodes = TestServer::start_nodes(2, &[]).await;
    let rx = Receiver::start().await;
    let (delay, fail_every) = (Duration::from_millis(5), 7);
    rx.reply("/h", Reply::Sequenced { delay, fail_every });
    let settings =
        json!({"webhook_url": rx.url("/h"), "retry_schedule": ["50ms"], "timeout": "2s"});
    let acct = nodes[0].account_with(settings).await;

    // Six keys, three published through each node.
    publish_keyed(&[&nodes[0], &nodes[1]], &acct, 6, 40).await;
    nodes[0]
        .wait_none_pending(&acct, Duration::from_secs(60))
        .await;

    let orders = order_by_key(&rx.received_on("/h"));
    let attempts: Vec<usize> = nodes
        .iter()
        .map(|n| n.log_lines("delivery attempt").len())
        .collect();
    let failed: usize = orders.values().map(|o| o.failed).sum();
    println!(
        "two nodes, 6 keys × 40: {} requests, {failed} failed, attempts per node {attempts:?}",
        rx.received().len()
    );
    assert_keys_in_order(&orders, 6, 40, false);
    assert_eq!(failed, 6 * 40 / fail_every, "{orders:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bulk_retry_runs_on_one_node_at_a_time_and_sends_each_event_once() {
    let nodes = TestServer::start_nodes(2, &[]).await;
    let rx = Receiver::start().await;
    rx.reply("/h", Reply::Status(500));
    let settings = json!({"webhook_url": rx.url("/h"), "retry_schedule": []});
    let acct = nodes[0].account_with(settings).await;
    let mut ids = HashSet::new();
    for i in 0..200 {
        let event = json!({"event_type": "fax.failed", "payload": {"i": i}});
        ids.insert(nodes[i % 2].publish(&acct, event).await);
    }
    nodes[0].wait_none_pending(&acct, SOON).await;
    rx.reply("/h", Reply::Status(200));

    let started = nodes[1]
        .post("/v1/events/retry", &acct.key, &json!({"rate": 50}))
        .await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    let path = format!("/v1/jobs/{}", started.body["id"].as_str().unwrap());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let job = loop {
        let job = nodes[0].get(&path, &acct.key).await.body;
        if job["state"] != "running" || tokio::time::Instant::now() > deadline {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    nodes[0].wait_none_pending(&acct, SOON).await;

    let counts = rx.successes_by_id("/h");
    println!(
        "bulk retry on two nodes: {}, {} events sent again, {} requests",
        job["progress"],
        counts.len(),
        counts.values().sum::<usize>()
    );
    assert_eq!(job["state"], "succeeded", "{job:#}");
    assert_eq!(job["progress"]["matched"], 200, "{job:#}");
    assert_eq!(counts.keys().cloned().collect::<HashSet<_>>(), ids);
    assert!(counts.values().all(|&n| n == 1), "sent twice: {counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_hold_one_endpoints_rate_limit_and_max_in_flight_together() {
    let nodes = TestServer::start_nodes(2, &[]).await;
    let rx = Receiver::start().await;
    let acct = nodes[0].account().await;
    helpers::endpoints::assert_rate_and_concurrency_held(&[&nodes[0], &nodes[1]], &acct, &rx).await;
    let attempts: Vec<usize> = nodes
        .iter()
        .map(|n| n.log_lines("delivery attempt").len())
        .collect();
    println!("attempts per node {attempts:?}");
    assert!(
        attempts.iter().all(|n| *n > 0),
        "one node did all the work: {attempts:?}"
    );
}
