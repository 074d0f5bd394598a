//! Fan-out: one event, one delivery per destination that takes it, each with
//! its own status, attempts and failover; endpoints under the hierarchy (request
//! → profile → account); test events, replays, and a crash mid fan-out.

use crate::helpers::endpoints::*;
use crate::helpers::load::Load;
use crate::helpers::verify::verify;
use crate::helpers::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// The endpoint ids of the deliveries a publish answer (or an event) lists.
fn planned(answer: &Value) -> BTreeSet<String> {
    answer["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| d["endpoint_id"].as_str().unwrap_or("settings").to_string())
        .collect()
}

/// Whether every delivery `answer` (a publish answer or an event) lists has
/// `field` equal to `value`.
fn every_delivery(answer: &Value, field: &str, value: &str) -> bool {
    answer["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d[field] == value)
}

/// Polls a job until it is no longer running; `Err` with the last view after `within`.
async fn wait_job(
    server: &TestServer,
    acct: &TestAccount,
    id: &str,
    within: Duration,
) -> Result<Value, Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let job = server.get(&format!("/v1/jobs/{id}"), &acct.key).await;
        assert_eq!(job.status, 200, "{:?}", job.body);
        if job.body["state"] != "running" {
            return Ok(job.body);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(job.body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (up to `within`) for the replay `job` (its start answer) to finish;
/// its last view. Panics if it is still running.
async fn replay_done(
    server: &TestServer,
    acct: &TestAccount,
    job: &Value,
    within: Duration,
) -> Value {
    wait_job(server, acct, &id_of(job), within)
        .await
        .unwrap_or_else(|j| panic!("the replay did not finish: {j:#}"))
}

/// Puts event type `name` with `body`; panics unless it is `200` or `201`.
async fn put_event_type(server: &TestServer, acct: &TestAccount, name: &str, body: Value) {
    let put = server
        .put(&format!("/v1/event-types/{name}"), &acct.key, &body)
        .await;
    assert!([200, 201].contains(&put.status), "{:?}", put.body);
}

/// With 20 events published, a new endpoint at `/ep` on `rx` and a replay to
/// it at 1 event a second, under way (its first request arrived): the endpoint
/// id and the job (its start answer).
async fn a_slow_replay_under_way(
    server: &TestServer,
    rx: &Receiver,
    acct: &TestAccount,
) -> (String, Value) {
    publish_batch(server, acct, 20).await;
    let ep = endpoint_id(server, acct, json!({"url": rx.url("/ep")})).await;
    let job = start_replay(
        server,
        acct,
        &ep,
        json!({"since": "2000-01-01T00:00:00Z", "rate": 1}),
    )
    .await;
    rx.wait_for(1, SOON).await;
    (ep, job)
}

/// An account with a settings URL and an endpoint of its own, and a profile
/// `p1` with an endpoint bound to it: the receiver's paths are `/account`,
/// `/account-ep` and `/p1-ep`.
async fn two_levels(server: &TestServer, rx: &Receiver) -> (TestAccount, String, String) {
    let acct = account_sending_to(server, rx, "/account").await;
    for profile in ["p1", "p2"] {
        let p = put_profile(server, &acct, profile).await;
        assert_eq!(p.status, 201, "{:?}", p.body);
    }
    let account_ep = endpoint_id(server, &acct, json!({"url": rx.url("/account-ep")})).await;
    let p1_ep = endpoint_id(
        server,
        &acct,
        json!({"url": rx.url("/p1-ep"), "profile_id": "p1"}),
    )
    .await;
    (acct, account_ep, p1_ep)
}

#[tokio::test]
async fn each_endpoint_gets_exactly_the_types_it_subscribed_to() {
    let (server, rx, acct) = server_receiver_account().await;
    let fax = subscriber(&server, &acct, rx.url("/fax"), &["fax.*"]).await;
    let failed = subscriber(&server, &acct, rx.url("/failed"), &["fax.failed"]).await;
    let every = subscriber(&server, &acct, rx.url("/every"), &[]).await;

    let mut sent = Vec::new();
    for t in ["fax.delivered", "fax.failed", "message.sent", "faxes.sent"] {
        let answer = post_event(
            &server,
            &acct,
            json!({"event_type": t, "payload": {"t": t}}),
        )
        .await;
        assert_eq!(answer.status, 202, "{:?}", answer.body);
        assert_eq!(answer.body["status"], "pending");
        assert!(
            answer.body["target"].is_null(),
            "no settings URL: {:?}",
            answer.body
        );
        let expected: BTreeSet<String> = match t {
            "fax.delivered" => [&fax, &every].map(|s| s.to_string()).into(),
            "fax.failed" => [&fax, &failed, &every].map(|s| s.to_string()).into(),
            _ => [every.clone()].into(),
        };
        assert_eq!(planned(&answer.body), expected, "{t}: {:?}", answer.body);
        assert!(every_delivery(&answer.body, "level", "account"));
        sent.push(id_of(&answer.body));
    }
    for id in &sent {
        let e = server.wait_for_status(&acct, id, "delivered", SOON).await;
        assert!(every_delivery(&e, "status", "delivered"));
    }
    let ids = |idx: &[usize]| {
        idx.iter()
            .map(|&i| sent[i].clone())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(ids_on(&rx, "/fax"), ids(&[0, 1]));
    assert_eq!(ids_on(&rx, "/failed"), ids(&[1]));
    assert_eq!(ids_on(&rx, "/every"), ids(&[0, 1, 2, 3]));
    assert_eq!(rx.received().len(), 7, "one request per delivery");
}

#[tokio::test]
async fn a_failing_endpoint_fails_over_while_the_others_succeed_each_with_its_own_attempt_log() {
    let (server, rx, acct) = server_receiver_account().await;
    rx.reply("/a", Reply::Status(500));
    let a = endpoint_id(
        &server,
        &acct,
        json!({"url": rx.url("/a"), "failover_url": rx.url("/a-failover")}),
    )
    .await;
    let b = endpoint_id(&server, &acct, json!({"url": rx.url("/b")})).await;
    let c = endpoint_id(&server, &acct, json!({"url": rx.url("/c")})).await;
    let id = publish_fax_delivered(&server, &acct).await;
    let e = server.wait_for_status(&acct, &id, "delivered", SOON).await;

    let deliveries = e["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 3, "{e:#}");
    let seqs: BTreeSet<u64> = deliveries
        .iter()
        .map(|d| d["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs.len(), 3, "each delivery has its own seq: {e:#}");
    let attempts = e["attempts"].as_array().unwrap();
    assert_eq!(
        attempts.len(),
        4,
        "two legs for a, one each for b and c: {e:#}"
    );
    for d in deliveries {
        assert_eq!(d["status"], "delivered", "{e:#}");
        assert_eq!(d["attempts_made"], 1, "{e:#}");
        let own: Vec<&Value> = attempts.iter().filter(|x| x["seq"] == d["seq"]).collect();
        assert!(
            own.iter().all(|x| x["endpoint_id"] == d["endpoint_id"]),
            "an attempt's endpoint differs from its delivery's: {e:#}"
        );
    }
    let of =
        |ep: &str| -> Vec<&Value> { attempts.iter().filter(|x| x["endpoint_id"] == ep).collect() };
    let legs = of(&a);
    assert_eq!(legs.len(), 2, "{e:#}");
    assert_eq!(legs[0]["leg"], "primary");
    assert_eq!(legs[0]["http_status"], 500);
    assert_eq!(legs[0]["url"], rx.url("/a"));
    assert_eq!(legs[1]["leg"], "failover");
    assert_eq!(legs[1]["http_status"], 200);
    assert_eq!(legs[1]["url"], rx.url("/a-failover"));
    assert!(legs.iter().all(|x| x["attempt"] == 1));
    assert_eq!(legs[0]["seq"], delivery_to(&e, &a)["seq"]);
    for (ep, path) in [(&b, "/b"), (&c, "/c")] {
        let only = of(ep);
        assert_eq!(only.len(), 1, "{ep}: {e:#}");
        assert_eq!(only[0]["leg"], "primary");
        assert_eq!(only[0]["http_status"], 200);
        assert_eq!(only[0]["url"], rx.url(path));
        assert_eq!(only[0]["seq"], delivery_to(&e, ep)["seq"]);
    }
    for path in ["/a", "/a-failover", "/b", "/c"] {
        assert_eq!(rx.received_on(path).len(), 1, "{path}");
    }
}

#[tokio::test]
async fn one_endpoint_failing_for_good_fails_the_event_but_not_the_other_deliveries() {
    let (server, rx, acct) = server_receiver_account().await;
    rx.reply("/bad", Reply::Status(500));
    let bad = endpoint_id(
        &server,
        &acct,
        json!({"url": rx.url("/bad"), "settings": {"retry_schedule": ["100ms"]}}),
    )
    .await;
    let good = endpoint_id(&server, &acct, json!({"url": rx.url("/good")})).await;
    let id = publish_fax_delivered(&server, &acct).await;
    let e = server.wait_for_status(&acct, &id, "failed", SOON).await;
    assert_eq!(delivery_to(&e, &bad)["status"], "failed", "{e:#}");
    assert_eq!(delivery_to(&e, &bad)["attempts_made"], 2, "{e:#}");
    assert_eq!(delivery_to(&e, &good)["status"], "delivered", "{e:#}");
    assert_eq!(delivery_to(&e, &good)["attempts_made"], 1, "{e:#}");
    assert_eq!(rx.received_on("/bad").len(), 2);
    assert_eq!(
        rx.received_on("/good").len(),
        1,
        "the good endpoint was sent to again"
    );
}

#[tokio::test]
async fn every_endpoint_gets_the_same_webhook_id_and_each_copy_verifies() {
    let (server, rx, acct) = server_receiver_account().await;
    let keys = server.get("/v1/account/keys", &acct.key).await.body;
    for path in ["/one", "/two", "/three"] {
        create_endpoint(&server, &acct, json!({"url": rx.url(path)})).await;
    }
    let payload = json!({"text": "Grüße 🚀", "n": 1.5, "nested": [1, {"a": null}]});
    let id = server
        .publish(
            &acct,
            json!({"event_type": "fax.delivered", "payload": payload}),
        )
        .await;
    server.wait_for_status(&acct, &id, "delivered", SOON).await;
    for path in ["/one", "/two", "/three"] {
        let got = rx.received_on(path);
        assert_eq!(got.len(), 1, "{path}");
        assert_eq!(
            got[0].header("webhook-id").as_deref(),
            Some(id.as_str()),
            "{path}"
        );
        assert_eq!(got[0].json()["data"]["id"], id.as_str(), "{path}");
        assert_eq!(got[0].json()["data"]["payload"], payload, "{path}");
        let verdict = verify(&got[0], &got[0].body, &keys);
        assert_eq!(
            verdict,
            json!({"standard_v1": "ok", "standard_v1a": "ok", "telnyx": "ok"}),
            "{path}"
        );
    }
}

#[tokio::test]
async fn custom_headers_arrive_on_every_request_to_their_endpoint_only() {
    let (server, rx, acct) = server_receiver_account().await;
    rx.reply("/h", Reply::Status(500));
    create_endpoint(
        &server,
        &acct,
        json!({"url": rx.url("/h"), "failover_url": rx.url("/h-failover"),
               "headers": {"X-Env": "prod", "X-Team": "fax ops"}}),
    )
    .await;
    create_endpoint(&server, &acct, json!({"url": rx.url("/plain")})).await;
    let id = publish_fax_delivered(&server, &acct).await;
    server.wait_for_status(&acct, &id, "delivered", SOON).await;

    for path in ["/h", "/h-failover"] {
        let got = rx.received_on(path);
        assert_eq!(got.len(), 1, "{path}");
        assert_eq!(got[0].header("x-env").as_deref(), Some("prod"), "{path}");
        assert_eq!(
            got[0].header("x-team").as_deref(),
            Some("fax ops"),
            "{path}"
        );
        assert!(
            got[0].header("webhook-signature").is_some(),
            "{path}: signatures kept"
        );
    }
    let plain = rx.received_on("/plain");
    assert_eq!(plain.len(), 1);
    assert!(
        plain[0].header("x-env").is_none(),
        "another endpoint's header leaked"
    );
    assert!(
        plain[0].header("x-team").is_none(),
        "another endpoint's header leaked"
    );
}

#[tokio::test]
async fn an_endpoints_own_settings_apply_to_its_deliveries_only() {
    let (server, rx, acct) = server_receiver_account().await;
    create_endpoint(
        &server,
        &acct,
        json!({"url": rx.url("/telnyx"), "settings": {"signatures": ["telnyx"]}}),
    )
    .await;
    create_endpoint(&server, &acct, json!({"url": rx.url("/default")})).await;
    let id = publish_fax_delivered(&server, &acct).await;
    server.wait_for_status(&acct, &id, "delivered", SOON).await;
    let telnyx = &rx.received_on("/telnyx")[0];
    assert!(telnyx.header("webhook-signature").is_none());
    assert!(telnyx.header("telnyx-signature-ed25519").is_some());
    let default = &rx.received_on("/default")[0];
    assert!(
        default.header("webhook-signature").is_some(),
        "the other endpoint's settings leaked"
    );
}

#[tokio::test]
async fn a_profile_with_endpoints_hides_the_accounts_destinations() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let (acct, account_ep, p1_ep) = two_levels(&server, &rx).await;

    let answer = post_fax_delivered(&server, &acct, json!({"profile_id": "p1"})).await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    assert_eq!(
        planned(&answer.body),
        BTreeSet::from([p1_ep.clone()]),
        "{:?}",
        answer.body
    );
    assert_eq!(answer.body["deliveries"][0]["level"], "profile");
    assert!(answer.body["target"].is_null(), "{:?}", answer.body);
    let profiled = id_of(&answer.body);
    server
        .wait_for_status(&acct, &profiled, "delivered", SOON)
        .await;

    let answer = post_fax_delivered(&server, &acct, json!({})).await;
    assert_eq!(
        planned(&answer.body),
        BTreeSet::from(["settings".to_string(), account_ep])
    );
    assert_eq!(answer.body["target"]["level"], "account");
    let plain = id_of(&answer.body);
    server
        .wait_for_status(&acct, &plain, "delivered", SOON)
        .await;

    assert_eq!(ids_on(&rx, "/p1-ep"), BTreeSet::from([profiled]));
    assert_eq!(ids_on(&rx, "/account"), BTreeSet::from([plain.clone()]));
    assert_eq!(ids_on(&rx, "/account-ep"), BTreeSet::from([plain]));
}

#[tokio::test]
async fn a_request_url_hides_profile_and_account_endpoints() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let (acct, _, _) = two_levels(&server, &rx).await;
    let answer = post_fax_delivered(
        &server,
        &acct,
        json!({"profile_id": "p1", "webhook_url": rx.url("/request")}),
    )
    .await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    let deliveries = answer.body["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{:?}", answer.body);
    assert!(deliveries[0]["endpoint_id"].is_null());
    assert_eq!(deliveries[0]["level"], "request");
    assert_eq!(deliveries[0]["webhook_url"], rx.url("/request"));
    assert_eq!(answer.body["target"]["level"], "request");
    let id = answer.body["id"].as_str().unwrap();
    server.wait_for_status(&acct, id, "delivered", SOON).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ids_on(&rx, "/request"), BTreeSet::from([id.to_string()]));
    assert_eq!(rx.received().len(), 1, "only the request's URL is sent to");
}

#[tokio::test]
async fn a_profile_without_destinations_falls_to_the_accounts() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let (acct, account_ep, _) = two_levels(&server, &rx).await;
    let answer = post_fax_delivered(&server, &acct, json!({"profile_id": "p2"})).await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    assert_eq!(
        planned(&answer.body),
        BTreeSet::from(["settings".to_string(), account_ep])
    );
    assert!(every_delivery(&answer.body, "level", "account"));
    let id = id_of(&answer.body);
    server.wait_for_status(&acct, &id, "delivered", SOON).await;
    assert_eq!(ids_on(&rx, "/account"), BTreeSet::from([id.clone()]));
    assert_eq!(ids_on(&rx, "/account-ep"), BTreeSet::from([id]));
    assert!(
        rx.received_on("/p1-ep").is_empty(),
        "another profile's endpoint was sent to"
    );
}

#[tokio::test]
async fn an_event_no_endpoint_subscribes_to_is_filtered() {
    let (server, rx, acct) = server_receiver_account().await;
    subscriber(&server, &acct, rx.url("/fax"), &["fax.*"]).await;
    subscriber(&server, &acct, rx.url("/failed"), &["fax.failed"]).await;
    let answer = post_event(
        &server,
        &acct,
        json!({"event_type": "message.sent", "payload": {}}),
    )
    .await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    assert_eq!(answer.body["status"], "filtered", "{:?}", answer.body);
    assert_eq!(answer.body["deliveries"], json!([]));
    assert!(answer.body["target"].is_null());
    let e = server.event(&acct, &id_of(&answer.body)).await;
    assert_eq!(e["status"], "filtered");
    assert_eq!(e["deliveries"], json!([]));
    assert_eq!(e["attempts"], json!([]));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(rx.received().is_empty());
}

#[tokio::test]
async fn a_profile_whose_endpoints_all_decline_does_not_fall_to_the_account() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = account_sending_to(&server, &rx, "/account").await;
    put_profile(&server, &acct, "p1").await;
    create_endpoint(
        &server,
        &acct,
        json!({"url": rx.url("/p1-ep"), "profile_id": "p1", "event_types": ["message.*"]}),
    )
    .await;
    let answer = post_fax_delivered(&server, &acct, json!({"profile_id": "p1"})).await;
    assert_eq!(answer.body["status"], "filtered", "{:?}", answer.body);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        rx.received().is_empty(),
        "the event fell through to the account"
    );
}

#[tokio::test]
async fn the_test_route_reaches_only_that_endpoint() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = account_sending_to(&server, &rx, "/account").await;
    let a = subscriber(&server, &acct, rx.url("/a"), &["fax.*"]).await;
    create_endpoint(&server, &acct, json!({"url": rx.url("/b")})).await;
    let example = json!({"example": {"fax_id": "example-1"}});
    put_event_type(&server, &acct, "fax.delivered", example).await;

    let path = format!("/v1/endpoints/{a}/test");
    let bare = server.call("POST", &path, &acct.key, None).await;
    assert_eq!(bare.status, 202, "{:?}", bare.body);
    assert_eq!(
        planned(&bare.body),
        BTreeSet::from([a.clone()]),
        "{:?}",
        bare.body
    );
    let typed = server
        .post(&path, &acct.key, &json!({"event_type": "fax.delivered"}))
        .await;
    assert_eq!(typed.status, 202, "{:?}", typed.body);
    let given = server
        .post(
            &path,
            &acct.key,
            &json!({"event_type": "fax.failed", "payload": {"k": 1}}),
        )
        .await;
    assert_eq!(given.status, 202, "{:?}", given.body);

    let mut ids = Vec::new();
    for answer in [&bare, &typed, &given] {
        let id = id_of(&answer.body);
        let e = server.wait_for_status(&acct, &id, "delivered", SOON).await;
        assert_eq!(e["deliveries"].as_array().unwrap().len(), 1, "{e:#}");
        ids.push(id);
    }
    let got = rx.received_on("/a");
    assert_eq!(got.len(), 3);
    let body_of = |id: &str| {
        got.iter()
            .map(|r| r.json()["data"].clone())
            .find(|d| d["id"] == id)
            .unwrap_or_else(|| panic!("test event {id} did not arrive"))
    };
    let bare_body = body_of(&ids[0]);
    assert_eq!(bare_body["event_type"], "hookpost.test");
    assert_eq!(bare_body["payload"], json!({}));
    let typed_body = body_of(&ids[1]);
    assert_eq!(typed_body["event_type"], "fax.delivered");
    assert_eq!(
        typed_body["payload"],
        json!({"fax_id": "example-1"}),
        "the type's example"
    );
    assert_eq!(body_of(&ids[2])["payload"], json!({"k": 1}));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        rx.received_on("/b").is_empty(),
        "another endpoint got a test event"
    );
    assert!(
        rx.received_on("/account").is_empty(),
        "the account's URL got a test event"
    );
}

#[tokio::test]
async fn a_replay_to_a_new_endpoint_delivers_past_events_to_it_alone() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = account_sending_to(&server, &rx, "/account").await;
    create_endpoint(&server, &acct, json!({"url": rx.url("/old")})).await;
    let mut fax = BTreeSet::new();
    for t in [
        "fax.queued",
        "message.sent",
        "fax.delivered",
        "fax.failed",
        "message.finalized",
    ] {
        let id = server
            .publish(&acct, json!({"event_type": t, "payload": {"t": t}}))
            .await;
        server.wait_for_status(&acct, &id, "delivered", SOON).await;
        if t.starts_with("fax.") {
            fax.insert(id);
        }
    }
    let before = rx.received().len();
    assert_eq!(before, 10);

    let new = subscriber(&server, &acct, rx.url("/new"), &["fax.*"]).await;
    let job = start_replay(
        &server,
        &acct,
        &new,
        json!({"since": "2000-01-01T00:00:00Z", "rate": 2}),
    )
    .await;
    assert!(job["id"].as_str().unwrap().starts_with("job_"), "{job:#}");
    assert_eq!(job["kind"], "replay");
    assert_eq!(job["endpoint_id"], new.as_str());
    assert_eq!(job["rate"], 2);
    assert_eq!(job["state"], "running");
    assert!(
        job["since"]
            .as_str()
            .is_some_and(|s| s.starts_with("2000-01-01T00:00:00")),
        "{job:#}"
    );
    assert!(job["until"].is_string(), "{job:#}");

    let done = replay_done(&server, &acct, &job, Duration::from_secs(20)).await;
    assert_eq!(done["state"], "succeeded", "{done:#}");
    assert_eq!(done["progress"]["scanned"], 5, "{done:#}");
    assert_eq!(done["progress"]["matched"], 3, "only fax events: {done:#}");
    assert_eq!(done["progress"]["done"], 3, "{done:#}");
    assert_eq!(done["progress"]["skipped"], 0, "{done:#}");

    for id in &fax {
        let e = server.wait_for_status(&acct, id, "delivered", SOON).await;
        assert_eq!(delivery_to(&e, &new)["status"], "delivered", "{e:#}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ids_on(&rx, "/new"), fax);
    assert_eq!(
        rx.received_on("/new").len(),
        3,
        "a replayed event was sent twice"
    );
    assert_eq!(rx.received().len(), before + 3, "others were sent to again");
    let listed = events_by_endpoint(&server, &acct, &new).await.body;
    assert_eq!(listed_ids(&listed), fax);
}

#[tokio::test]
async fn a_replay_skips_events_that_already_went_to_the_endpoint() {
    let (server, rx, acct) = server_receiver_account().await;
    let ep = endpoint_id(&server, &acct, json!({"url": rx.url("/ep")})).await;
    for _ in 0..3 {
        let id = publish_fax_delivered(&server, &acct).await;
        server.wait_for_status(&acct, &id, "delivered", SOON).await;
    }
    let job = start_replay(
        &server,
        &acct,
        &ep,
        json!({"since": "2000-01-01T00:00:00Z"}),
    )
    .await;
    let done = replay_done(&server, &acct, &job, Duration::from_secs(20)).await;
    assert_eq!(done["state"], "succeeded", "{done:#}");
    assert_eq!(done["progress"]["scanned"], 3, "{done:#}");
    assert_eq!(done["progress"]["matched"], 3, "{done:#}");
    assert_eq!(
        done["progress"]["done"], 0,
        "each event had a delivery there: {done:#}"
    );
    assert_eq!(done["progress"]["skipped"], 3, "{done:#}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.received().len(), 3);
}

#[tokio::test]
async fn a_cancelled_replay_stops() {
    let (server, rx, acct) = server_receiver_account().await;
    let (_, started) = a_slow_replay_under_way(&server, &rx, &acct).await;
    let job = id_of(&started);
    let cancelled = server
        .post(&format!("/v1/jobs/{job}/cancel"), &acct.key, &json!({}))
        .await;
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    assert_eq!(cancelled.body["state"], "cancelled", "{:?}", cancelled.body);
    let at_cancel = cancelled.body["progress"]["scanned"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let later = server.get(&format!("/v1/jobs/{job}"), &acct.key).await.body;
    assert_eq!(later["state"], "cancelled", "{later:#}");
    assert!(
        later["progress"]["scanned"].as_u64().unwrap() <= at_cancel + 1,
        "the job went on after its cancel: {later:#}"
    );
    assert!(
        rx.received().len() < 20,
        "every event was replayed despite the cancel"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_a_fan_out_to_five_endpoints_loses_nothing_at_any() {
    let mut server = TestServer::start().await;
    let acct = server.account().await;
    let receivers = endpoint_receivers(&server, &acct, 5, Duration::from_millis(30)).await;

    let load = Load::start(vec![server.url.clone()], &acct.key, 200, 8, Duration::ZERO);
    load.wait_accepted(80).await;
    server.kill9();
    let accepted = load.finish().await;
    server.crash_and_restart().await;

    let tallies = tally_each_once_drained(
        &server,
        &acct,
        &receivers,
        &accepted,
        Duration::from_secs(60),
        Duration::from_secs(30),
        "kill -9 mid fan-out",
    )
    .await;
    for (i, t) in tallies.iter().enumerate() {
        assert_eq!(t.lost, 0, "endpoint {i} lost accepted events: {t:?}");
        assert!(t.accepted >= 80, "{t:?}");
    }
}

#[tokio::test]
async fn a_replay_sends_only_events_published_between_since_and_until() {
    let (server, rx, acct) = server_receiver_account().await;
    let mut ids = Vec::new();
    let mut marks = Vec::new();
    for i in 0..3 {
        marks.push(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        tokio::time::sleep(Duration::from_millis(100)).await;
        ids.push(
            server
                .publish(
                    &acct,
                    json!({"event_type": "fax.delivered", "payload": {"i": i}}),
                )
                .await,
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ep = endpoint_id(&server, &acct, json!({"url": rx.url("/ep")})).await;
    let job = start_replay(
        &server,
        &acct,
        &ep,
        json!({"since": marks[1], "until": marks[2]}),
    )
    .await;
    let done = replay_done(&server, &acct, &job, Duration::from_secs(20)).await;
    assert_eq!(done["state"], "succeeded", "{done:#}");
    assert_eq!(done["progress"]["done"], 1, "{done:#}");
    server
        .wait_for_status(&acct, &ids[1], "delivered", SOON)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ids_on(&rx, "/ep"), BTreeSet::from([ids[1].clone()]));
}

#[tokio::test]
async fn a_replay_whose_endpoint_is_deleted_fails() {
    let (server, rx, acct) = server_receiver_account().await;
    let (ep, started) = a_slow_replay_under_way(&server, &rx, &acct).await;
    let deleted = delete_endpoint(&server, &acct, &ep).await;
    assert_eq!(deleted.status, 204);
    let done = wait_job(&server, &acct, &id_of(&started), SOON)
        .await
        .unwrap_or_else(|j| panic!("the replay went on without its endpoint: {j:#}"));
    assert_eq!(done["state"], "failed", "{done:#}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        rx.received().len() < 20,
        "every event was replayed to a deleted endpoint"
    );
}

#[tokio::test]
async fn inflight_events_reach_only_the_endpoints_that_take_them() {
    let (server, rx, acct) = server_receiver_account().await;
    let inflight = json!({"category": "inflight"});
    put_event_type(&server, &acct, "fax.page_sent", inflight).await;
    let live = endpoint_id(
        &server,
        &acct,
        json!({"url": rx.url("/live"), "settings": {"inflight": true}}),
    )
    .await;
    create_endpoint(&server, &acct, json!({"url": rx.url("/quiet")})).await;
    let answer = post_event(
        &server,
        &acct,
        json!({"event_type": "fax.page_sent", "payload": {}}),
    )
    .await;
    assert_eq!(
        planned(&answer.body),
        BTreeSet::from([live]),
        "{:?}",
        answer.body
    );
    let id = id_of(&answer.body);
    server.wait_for_status(&acct, &id, "delivered", SOON).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ids_on(&rx, "/live"), BTreeSet::from([id]));
    assert!(rx.received_on("/quiet").is_empty());
}

#[tokio::test]
async fn an_endpoints_max_in_flight_bounds_its_concurrent_requests() {
    let server = TestServer::start().await;
    let limited = Receiver::start().await;
    let open = Receiver::start().await;
    limited.reply("/h", Reply::Delay(Duration::from_millis(400)));
    open.reply("/h", Reply::Delay(Duration::from_millis(400)));
    let acct = server.account().await;
    create_endpoint(
        &server,
        &acct,
        json!({"url": limited.url("/h"), "max_in_flight": 2}),
    )
    .await;
    create_endpoint(&server, &acct, json!({"url": open.url("/h")})).await;
    publish_batch(&server, &acct, 10).await;
    limited.wait_for(10, Duration::from_secs(15)).await;
    open.wait_for(10, SOON).await;
    server.wait_none_pending(&acct, SOON).await;
    assert!(
        open.most_concurrent() > 2,
        "the unlimited endpoint was never sent more than 2 at once ({}): the test proves nothing",
        open.most_concurrent()
    );
    assert!(
        limited.most_concurrent() <= 2,
        "max_in_flight 2, but {} requests were in flight at once",
        limited.most_concurrent()
    );
}

#[tokio::test]
async fn an_endpoints_rate_limit_spaces_its_requests() {
    let server = TestServer::start().await;
    let limited = Receiver::start().await;
    let open = Receiver::start().await;
    let acct = server.account().await;
    create_endpoint(
        &server,
        &acct,
        json!({"url": limited.url("/h"), "rate_limit": "2/s"}),
    )
    .await;
    create_endpoint(&server, &acct, json!({"url": open.url("/h")})).await;
    publish_batch(&server, &acct, 8).await;
    let got = limited.wait_for(8, Duration::from_secs(15)).await;
    let span = got.last().unwrap().at - got.first().unwrap().at;
    let fast = open.wait_for(8, SOON).await;
    let fast_span = fast.last().unwrap().at - fast.first().unwrap().at;
    assert!(
        fast_span < Duration::from_millis(1000),
        "the unlimited endpoint took {fast_span:?}: the test proves nothing"
    );
    // 8 requests at 2/s: even with a full burst of 2 up front, at least 3s.
    assert!(
        span >= Duration::from_millis(2500),
        "rate_limit 2/s, but 8 requests arrived within {span:?}"
    );
}
