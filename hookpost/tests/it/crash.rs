//! Durability: `202` means stored. After `kill -9` and a restart every accepted
//! event is delivered at least once, pending retries keep their times, and
//! deliveries cut off mid-request are sent again.

use crate::helpers::*;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const EVENTS: usize = 400;
const PUBLISHERS: usize = 16;
const KILL_AFTER: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_accepted_event_is_delivered_after_kill_9() {
    let mut server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/h", Reply::Delay(Duration::from_millis(50)));
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/h")}))
        .await;

    let accepted = Arc::new(Mutex::new(HashSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut publishers = Vec::new();
    for p in 0..PUBLISHERS {
        let (url, key, accepted, stop) = (
            server.url.clone(),
            acct.key.clone(),
            accepted.clone(),
            stop.clone(),
        );
        publishers.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for i in (p..EVENTS).step_by(PUBLISHERS) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let body = json!({"event_type": "fax.delivered", "payload": {"i": i}});
                let sent = http
                    .post(format!("{url}/v1/events"))
                    .bearer_auth(&key)
                    .body(body.to_string())
                    .send()
                    .await;
                let Ok(res) = sent else { break };
                if res.status() == 202 {
                    let v: serde_json::Value =
                        serde_json::from_str(&res.text().await.unwrap()).unwrap();
                    accepted
                        .lock()
                        .unwrap()
                        .insert(v["id"].as_str().unwrap().to_string());
                }
            }
        }));
    }
    while accepted.lock().unwrap().len() < KILL_AFTER {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    for p in publishers {
        p.await.unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    let delivered_before_restart = rx.received().len();

    server.crash_and_restart().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let counts = loop {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for r in rx.received() {
            *counts
                .entry(r.json()["data"]["id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        if accepted.iter().all(|id| counts.contains_key(id))
            || tokio::time::Instant::now() > deadline
        {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let lost = accepted
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .count();
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    let unacknowledged = counts.keys().filter(|id| !accepted.contains(*id)).count();
    println!(
        "kill -9 test: accepted={} delivered={} lost={} duplicates={} delivered_before_kill={} stored_but_unacknowledged={}",
        accepted.len(),
        accepted.iter().filter(|id| counts.contains_key(*id)).count(),
        lost,
        duplicates,
        delivered_before_restart,
        unacknowledged
    );
    assert_eq!(lost, 0, "accepted events were lost");
}

#[tokio::test]
async fn pending_retries_keep_their_times_across_a_crash() {
    let mut server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/h", Reply::Status(500));
    let acct = server.account().await;
    let id = server.publish(&acct, json!({"event_type": "x", "payload": {}, "webhook_url": rx.url("/h"), "retry_schedule": ["2s"]})).await;
    rx.wait_for(1, SOON).await;
    let before = loop {
        let e = server.event(&acct, &id).await;
        if e["attempts_made"] == 1 {
            break e;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let due = before["next_attempt_at"].as_str().unwrap().to_string();

    server.crash_and_restart().await;
    let after = server.event(&acct, &id).await;
    assert_eq!(
        after["next_attempt_at"],
        due.as_str(),
        "the retry time moved across the restart"
    );
    assert_eq!(after["status"], "pending");
    rx.reply("/h", Reply::Status(200));
    let done = server.wait_for_status(&acct, &id, "delivered", SOON).await;
    let second_start = done["attempts"][1]["started_at"].as_str().unwrap();
    assert!(
        second_start >= due.as_str(),
        "retried at {second_start}, before its time {due}"
    );
}

#[tokio::test]
async fn a_delivery_cut_off_by_a_crash_is_sent_again() {
    let mut server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/h", Reply::Hang);
    let acct = server.account().await;
    let id = server.publish(&acct, json!({"event_type": "x", "payload": {}, "webhook_url": rx.url("/h"), "timeout": "30s"})).await;
    rx.wait_for(1, SOON).await;
    server.crash_and_restart().await;
    rx.reply("/h", Reply::Status(200));
    let event = server.wait_for_status(&acct, &id, "delivered", SOON).await;
    let got = rx.received();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].header("webhook-id"),
        got[1].header("webhook-id"),
        "the copy carries the same id"
    );
    assert_eq!(
        event["attempts_made"], 1,
        "the cut-off attempt was never recorded, so it is attempt 1 again"
    );
}
