//! Bulk retry: `POST /v1/events/retry` retries every event a filter selects,
//! as a job going newest first at its `rate`; `GET /v1/jobs/{id}` follows it.

use crate::helpers::receiver::{assert_keys_in_order, order_by_key, KeyOrder};
use crate::helpers::*;
use crate::ordering::{every_100ms, key_a_failing, publish_key};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

/// A server, a receiver answering 500 on `/h`, and an account sending there
/// without retries, so every event fails at its first attempt.
async fn failing() -> (TestServer, Receiver, TestAccount) {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/h", Reply::Status(500));
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/h"), "retry_schedule": []}))
        .await;
    (server, rx, acct)
}

/// Publishes `n` events of `event_type` in batches; their ids, in publish order.
async fn publish_many(
    server: &TestServer,
    acct: &TestAccount,
    event_type: &str,
    n: usize,
) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for start in (0..n).step_by(250) {
        let events: Vec<Value> = (start..n.min(start + 250))
            .map(|i| json!({"event_type": event_type, "payload": {"i": i}}))
            .collect();
        let answer = server
            .post("/v1/events/batch", &acct.key, &json!({"events": events}))
            .await;
        assert_eq!(answer.status, 202, "{:?}", answer.body);
        ids.extend(answer.body["data"].as_array().unwrap().iter().map(|e| {
            assert_eq!(e["status"], "pending", "{e}");
            e["id"].as_str().unwrap().to_string()
        }));
    }
    ids
}

/// [`failing`], with `n` events of `event_type` failed for good, and the
/// receiver answering 200 from now on.
async fn failed_events(n: usize) -> (TestServer, Receiver, TestAccount, Vec<String>) {
    let (server, rx, acct) = failing().await;
    let ids = publish_many(&server, &acct, "fax.failed", n).await;
    server
        .wait_none_pending(&acct, Duration::from_secs(60))
        .await;
    rx.reply("/h", Reply::Status(200));
    (server, rx, acct, ids)
}

/// Starts a bulk retry of `body`; panics unless it is accepted (202). The job.
async fn start_retry(server: &TestServer, acct: &TestAccount, body: Value) -> Value {
    let answer = server.post("/v1/events/retry", &acct.key, &body).await;
    assert_eq!(answer.status, 202, "{body}: {:?}", answer.body);
    answer.body
}

/// Polls job `job` (as started) until `done` holds (panics after `within`).
pub async fn wait_job(
    server: &TestServer,
    acct: &TestAccount,
    job: &Value,
    done: impl Fn(&Value) -> bool,
    within: Duration,
) -> Value {
    let path = format!("/v1/jobs/{}", job["id"].as_str().expect("a job id"));
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let answer = server.get(&path, &acct.key).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        if done(&answer.body) {
            return answer.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job not done within {within:?}: {:#}",
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls job `job` until it has done at least `n` events.
async fn wait_done(server: &TestServer, acct: &TestAccount, job: &Value, n: u64) {
    let done = |j: &Value| j["progress"]["done"].as_u64() >= Some(n);
    wait_job(server, acct, job, done, SOON).await;
}

/// Polls job `job` until it is no longer running; then waits until the
/// account has nothing pending. The job as it ended.
async fn job_end(server: &TestServer, acct: &TestAccount, job: &Value, within: Duration) -> Value {
    let ended = wait_job(server, acct, job, |j| j["state"] != "running", within).await;
    server.wait_none_pending(acct, within).await;
    ended
}

/// Starts a bulk retry of `body` and waits for its end ([`job_end`]).
async fn retried(server: &TestServer, acct: &TestAccount, body: Value) -> Value {
    let job = start_retry(server, acct, body).await;
    job_end(server, acct, &job, SOON).await
}

/// Asserts the job `succeeded` having matched and done `n` events.
fn assert_succeeded(job: &Value, n: u64) {
    assert_eq!(job["state"], "succeeded", "{job:#}");
    assert_eq!(job["progress"]["matched"], n, "{job:#}");
    assert_eq!(job["progress"]["done"], n, "{job:#}");
}

/// The ids of events answered 200 on `/h`.
fn succeeded(rx: &Receiver) -> HashSet<String> {
    rx.successes_by_id("/h").into_keys().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_failed_events_are_each_sent_once_more_at_the_rate_asked() {
    let (server, rx, acct, ids) = failed_events(1000).await;
    let started = Instant::now();
    let job = start_retry(&server, &acct, json!({"status": "failed", "rate": 100})).await;
    assert!(job["id"].as_str().unwrap().starts_with("job_"), "{job:#}");
    for (field, value) in [
        ("kind", json!("retry")),
        ("status", json!("failed")),
        ("rate", json!(100)),
        ("state", json!("running")),
    ] {
        assert_eq!(job[field], value, "{field}: {job:#}");
    }
    assert!(job["until"].is_string(), "{job:#}");
    for field in ["scanned", "matched", "done", "skipped", "cursor"] {
        assert!(job["progress"].get(field).is_some(), "{field}: {job:#}");
    }

    let ended = wait_job(
        &server,
        &acct,
        &job,
        |j| j["state"] != "running",
        Duration::from_secs(60),
    )
    .await;
    let took = started.elapsed();
    server
        .wait_none_pending(&acct, Duration::from_secs(60))
        .await;
    let counts = rx.successes_by_id("/h");
    let once = counts.values().filter(|&&n| n == 1).count();
    println!(
        "bulk retry of 1000 at 100/s: {took:?}, progress {}, {} events arrived again, {once} exactly once",
        ended["progress"],
        counts.len()
    );
    assert_succeeded(&ended, 1000);
    assert_eq!(ended["progress"]["skipped"], 0, "{ended:#}");
    assert!(
        (Duration::from_secs(8)..Duration::from_secs(30)).contains(&took),
        "1000 events at 100/s took {took:?}"
    );
    assert_eq!(
        counts.keys().cloned().collect::<HashSet<_>>(),
        ids.iter().cloned().collect::<HashSet<_>>()
    );
    assert_eq!(once, 1000, "some event arrived more than once");
    let first = rx.received_on("/h").into_iter().find(|r| r.succeeded());
    let first = first.unwrap().header("webhook-id").unwrap();
    assert!(
        ids[..100].contains(&first),
        "the oldest events go first (so a key keeps its order); {first} is not among the oldest 100"
    );
}

#[tokio::test]
async fn an_event_type_filter_retries_only_that_type() {
    let (server, rx, acct) = failing().await;
    let wanted = publish_many(&server, &acct, "fax.failed", 4).await;
    publish_many(&server, &acct, "fax.delivered", 4).await;
    server.wait_none_pending(&acct, SOON).await;
    rx.reply("/h", Reply::Status(200));

    let job = retried(&server, &acct, json!({"event_type": "fax.failed"})).await;
    assert_succeeded(&job, 4);
    assert_eq!(succeeded(&rx), wanted.into_iter().collect());
}

#[tokio::test]
async fn since_and_until_bound_the_events_retried() {
    let (server, rx, acct) = failing().await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.extend(publish_many(&server, &acct, "fax.failed", 1).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.wait_none_pending(&acct, SOON).await;
    rx.reply("/h", Reply::Status(200));
    let created = |event: Value| event["created_at"].as_str().unwrap().to_string();
    let since = created(server.event(&acct, &ids[1]).await);
    let until = created(server.event(&acct, &ids[3]).await);

    let job = retried(&server, &acct, json!({"since": since, "until": until})).await;
    assert_succeeded(&job, 2);
    assert_eq!(succeeded(&rx), ids[1..3].iter().cloned().collect());
}

#[tokio::test]
async fn a_filter_matching_nothing_succeeds_having_matched_nothing() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/h")}))
        .await;
    let id = server
        .publish(&acct, json!({"event_type": "fax.delivered", "payload": {}}))
        .await;
    server.wait_for_status(&acct, &id, "delivered", SOON).await;

    for filter in [
        json!({"status": "failed"}),
        json!({"event_type": "nothing.here"}),
    ] {
        let job = retried(&server, &acct, filter.clone()).await;
        assert_succeeded(&job, 0);
    }
    assert_eq!(rx.received().len(), 1, "an event was sent again");
}

#[tokio::test]
async fn a_bad_filter_or_rate_is_refused_naming_the_field() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let cases = [
        (json!({"status": "lost"}), "status"),
        (json!({"rate": 0}), "rate"),
        (json!({"rate": 10001}), "rate"),
        (json!({"rate": "fast"}), "rate"),
        (json!({"profile_id": "ghost"}), "profile_id"),
        (json!({"event_type": "no spaces"}), "event_type"),
        (json!({"since": "yesterday"}), "since"),
        (json!({"until": "soon"}), "until"),
        (
            json!({"since": "2001-01-01T00:00:00Z", "until": "2000-01-01T00:00:00Z"}),
            "until",
        ),
        (json!({"colour": "red"}), "colour"),
    ];
    for (body, field) in cases {
        let answer = server.post("/v1/events/retry", &acct.key, &body).await;
        assert_refused(&answer, 422, field);
    }
    for rate in [1, 10_000] {
        start_retry(&server, &acct, json!({"rate": rate})).await;
    }
}

#[tokio::test]
async fn a_cancelled_job_stops() {
    let (server, rx, acct, _) = failed_events(20).await;
    let job = start_retry(&server, &acct, json!({"rate": 2})).await;
    wait_done(&server, &acct, &job, 2).await;

    let path = format!("/v1/jobs/{}/cancel", job["id"].as_str().unwrap());
    let cancelled = server.call("POST", &path, &acct.key, None).await;
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    assert_eq!(cancelled.body["state"], "cancelled", "{:?}", cancelled.body);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after = job_end(&server, &acct, &job, SOON).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = wait_job(&server, &acct, &job, |_| true, SOON).await;
    let done = after["progress"]["done"].as_u64().unwrap();
    println!("cancelled job: {}", later["progress"]);
    assert_eq!(later["state"], "cancelled", "{later:#}");
    assert_eq!(later["progress"], after["progress"], "it went on");
    assert!(done < 20, "it did everything: {later:#}");
    assert_eq!(succeeded(&rx).len() as u64, done);
}

#[tokio::test]
async fn another_accounts_job_is_not_found() {
    let server = TestServer::start().await;
    let owner = server.account().await;
    let other = server.account().await;
    let job = start_retry(&server, &owner, json!({})).await;
    let path = format!("/v1/jobs/{}", job["id"].as_str().unwrap());

    for (method, path) in [("GET", path.clone()), ("POST", format!("{path}/cancel"))] {
        let answer = server.call(method, &path, &other.key, None).await;
        assert_eq!(answer.status, 404, "{method} {path}: {:?}", answer.body);
        assert_eq!(answer.body["error"]["code"], "job_not_found");
    }
    let ended = job_end(&server, &owner, &job, SOON).await;
    assert_succeeded(&ended, 0);
}

#[tokio::test]
async fn a_job_goes_on_after_kill_9() {
    let (mut server, rx, acct, ids) = failed_events(30).await;
    let job = start_retry(&server, &acct, json!({"rate": 10})).await;
    wait_done(&server, &acct, &job, 10).await;
    server.crash_and_restart().await;

    let ended = job_end(&server, &acct, &job, Duration::from_secs(30)).await;
    let counts = rx.successes_by_id("/h");
    println!(
        "bulk retry across kill -9: {}, {} events arrived again, {} requests",
        ended["progress"],
        counts.len(),
        counts.values().sum::<usize>()
    );
    assert_succeeded(&ended, 30);
    assert_eq!(
        counts.into_keys().collect::<HashSet<_>>(),
        ids.into_iter().collect()
    );
}

/// The order of each key's requests on `/h` that arrived after `from`.
fn orders_since(rx: &Receiver, from: Instant) -> BTreeMap<String, KeyOrder> {
    let after: Vec<_> = rx
        .received_on("/h")
        .into_iter()
        .filter(|r| r.at > from)
        .collect();
    order_by_key(&after)
}

#[tokio::test]
async fn a_bulk_retry_sends_one_keys_failed_events_in_publish_order() {
    let (server, rx, acct) = failing().await;
    publish_key(&server, &acct, "a", 10).await;
    server.wait_none_pending(&acct, SOON).await;
    rx.reply("/h", Reply::Status(200));

    let from = Instant::now();
    let job = retried(&server, &acct, json!({"status": "failed"})).await;
    assert_succeeded(&job, 10);
    let orders = orders_since(&rx, from);
    println!("bulk retry of one key's failed events: {orders:?}");
    assert_keys_in_order(&orders, 1, 10, false);
}

#[tokio::test]
async fn a_bulk_retry_of_pending_events_keeps_each_keys_order() {
    let (server, rx, acct) = key_a_failing(every_100ms()).await;
    publish_key(&server, &acct, "a", 5).await;
    rx.wait_for(1, SOON).await;

    let from = Instant::now();
    let job = start_retry(&server, &acct, json!({"status": "pending"})).await;
    wait_job(&server, &acct, &job, |j| j["state"] != "running", SOON).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    rx.reply("/h", Reply::Status(200));
    server.wait_none_pending(&acct, SOON).await;
    let orders = orders_since(&rx, from);
    println!("bulk retry while a key's head fails: {orders:?}");
    assert_keys_in_order(&orders, 1, 5, false);
}
