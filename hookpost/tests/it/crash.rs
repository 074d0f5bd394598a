//! Durability: `202` means stored. After `kill -9` and a restart every accepted
//! event is delivered at least once, pending retries keep their times, and
//! deliveries cut off mid-request are sent again.

use crate::helpers::load::{tally, Load};
use crate::helpers::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_accepted_event_is_delivered_after_kill_9() {
    let mut server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/h", Reply::Delay(Duration::from_millis(50)));
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/h")}))
        .await;

    let load = Load::start(vec![server.url.clone()], &acct.key, 400, 16, Duration::ZERO);
    load.wait_accepted(150).await;
    server.kill9();
    let accepted = load.finish().await;
    server.crash_and_restart().await;

    server
        .wait_none_pending(&acct, Duration::from_secs(30))
        .await;
    // Counted once nothing is pending, so re-sent copies are counted too.
    let t = tally(&rx, &accepted, Duration::from_secs(60)).await;
    println!("kill -9 test: {t:?}");
    assert_eq!(t.lost, 0, "accepted events were lost: {t:?}");
}

#[tokio::test]
async fn pending_retries_keep_their_times_across_a_crash() {
    let mut server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/h", Reply::Status(500));
    let acct = server.account().await;
    let id = server.publish(&acct, json!({"event_type": "x", "payload": {}, "webhook_url": rx.url("/h"), "retry_schedule": ["2s"]})).await;
    rx.wait_for(1, SOON).await;
    let before = server
        .wait_for_event(&acct, &id, |e| e["attempts_made"] == 1, SOON)
        .await
        .unwrap();
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
