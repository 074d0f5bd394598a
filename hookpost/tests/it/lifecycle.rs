//! The data lifecycle: retention deletes finished events past their time (by
//! outcome, per account) and never pending ones; `DELETE /v1/events/{id}`
//! deletes one; `POST /v1/erase` deletes exactly a subject's events and
//! reports what went.

use crate::bulk_retry::wait_job;
use crate::helpers::server::{refused_start, Answer};
use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;

/// An account sending to `rx`'s `/ok` with one quick retry, so a short
/// retention is allowed.
async fn quick_account(server: &TestServer, rx: &Receiver) -> TestAccount {
    server
        .account_with(json!({"webhook_url": rx.url("/ok"), "retry_schedule": ["100ms"]}))
        .await
}

/// `PUT /v1/account/retention` with `body`.
async fn set_retention(server: &TestServer, acct: &TestAccount, body: &Value) -> Answer {
    server.put("/v1/account/retention", &acct.key, body).await
}

/// Polls until the event is gone (404), panicking after `within`.
async fn wait_gone(server: &TestServer, acct: &TestAccount, id: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let answer = server.get(&format!("/v1/events/{id}"), &acct.key).await;
        if answer.status == 404 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "event {id} still there after {within:?}: {}",
            answer.body["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of a counter on `/metrics`.
async fn counter(server: &TestServer, name: &str) -> u64 {
    let text = reqwest::get(format!("{}/metrics", server.url))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

#[tokio::test]
async fn finished_events_past_retention_go_while_recent_pending_and_others_stay() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/bad", Reply::Status(500));
    rx.reply("/slow", Reply::FailKey("head".into()));
    let acct = quick_account(&server, &rx).await;
    let set = set_retention(&server, &acct, &json!({"delivered": "1s"})).await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    assert_eq!(
        set.body,
        json!({"delivered": "1s", "failed": "30days", "other": "30days"})
    );
    let other = quick_account(&server, &rx).await;

    let body = json!({"event_type": "fax.delivered", "payload": {}, "idempotency_key": "k1"});
    let delivered = server.publish(&acct, body.clone()).await;
    let failed = server
        .publish(
            &acct,
            json!({"event_type": "fax.failed", "payload": {}, "webhook_url": rx.url("/bad")}),
        )
        .await;
    // A lane whose head keeps failing (retries an hour apart): the event behind
    // it stays pending, and so does the head.
    let lane = |key: &str| {
        json!({"event_type": "fax.progress", "payload": {"key": key, "seq": 0},
        "ordering_key": "L", "webhook_url": rx.url("/slow"), "retry_schedule": ["1h"]})
    };
    let _head = server.publish(&acct, lane("head")).await;
    let behind = server.publish(&acct, lane("behind")).await;
    let kept = server
        .publish(
            &other,
            json!({"event_type": "fax.delivered", "payload": {}}),
        )
        .await;
    server
        .wait_for_status(&acct, &delivered, "delivered", SOON)
        .await;
    server.wait_for_status(&acct, &failed, "failed", SOON).await;
    server
        .wait_for_status(&other, &kept, "delivered", SOON)
        .await;

    wait_gone(&server, &acct, &delivered, SOON).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        server.event(&acct, &failed).await["status"],
        "failed",
        "failed events are kept 30 days"
    );
    assert_eq!(
        server.event(&acct, &behind).await["status"],
        "pending",
        "pending events are never purged"
    );
    assert_eq!(
        server.event(&other, &kept).await["status"],
        "delivered",
        "another account keeps the default"
    );
    assert!(counter(&server, "hookpost_events_purged_total").await >= 1);
    let again = server.post("/v1/events", &acct.key, &body).await;
    assert_eq!(
        again.status, 202,
        "the purged event's idempotency key still answered: {:?}",
        again.body
    );
    assert_ne!(again.body["id"], delivered.as_str());
}

#[tokio::test]
async fn a_retention_shorter_than_a_retry_schedule_in_use_is_refused() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/ok")}))
        .await;
    let short = set_retention(&server, &acct, &json!({"failed": "1h"})).await;
    assert_refused(&short, 422, "failed");
    let message = short.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("retry schedule"), "{message}");
    for (body, field) in [
        (json!({"delivered": "5"}), "delivered"),
        (json!({"kept": "5d"}), "kept"),
        (json!({"other": "0s"}), "other"),
    ] {
        let answer = set_retention(&server, &acct, &body).await;
        assert_refused(&answer, 422, field);
    }
    // An endpoint with a long schedule raises the floor of a quick account.
    let quick = quick_account(&server, &rx).await;
    let endpoint = json!({"url": rx.url("/ep"), "settings": {"retry_schedule": ["2h"]}});
    let made = server.post("/v1/endpoints", &quick.key, &endpoint).await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let answer = set_retention(&server, &quick, &json!({"delivered": "1h"})).await;
    assert_refused(&answer, 422, "delivered");
    let fine = set_retention(&server, &quick, &json!({"delivered": "3h"})).await;
    assert_eq!(fine.status, 200, "{:?}", fine.body);
    let shown = server.get("/v1/account/retention", &quick.key).await;
    assert_eq!(shown.body["delivered"], "3h");

    let dir = tempfile::tempdir().unwrap();
    let stderr = refused_start(&dir.path().join("data"), &["--retention", "1h"]).await;
    assert!(
        stderr.contains("--retention") && stderr.contains("retry schedule"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "a refused start created the data directory"
    );
}

#[tokio::test]
async fn deleting_an_event_takes_its_attempts_and_lets_its_lane_move_on() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/ok", Reply::FailKey("head".into()));
    let acct = quick_account(&server, &rx).await;
    let stranger = quick_account(&server, &rx).await;
    let done = server
        .publish(&acct, json!({"event_type": "x", "payload": {}}))
        .await;
    server
        .wait_for_status(&acct, &done, "delivered", SOON)
        .await;

    let denied = server
        .call("DELETE", &format!("/v1/events/{done}"), &stranger.key, None)
        .await;
    assert_eq!(denied.status, 404, "another account deleted the event");
    let deleted = server
        .call("DELETE", &format!("/v1/events/{done}"), &acct.key, None)
        .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    assert_eq!(
        deleted.body["removed"],
        json!({"events": 1, "deliveries": 1, "attempts": 1})
    );
    let gone = server.get(&format!("/v1/events/{done}"), &acct.key).await;
    assert_eq!(gone.status, 404);
    let twice = server
        .call("DELETE", &format!("/v1/events/{done}"), &acct.key, None)
        .await;
    assert_eq!(twice.status, 404);

    let lane = |key: &str| {
        json!({"event_type": "x", "payload": {"key": key, "seq": 0},
        "ordering_key": "L", "retry_schedule": ["1h"]})
    };
    let head = server.publish(&acct, lane("head")).await;
    let behind = server.publish(&acct, lane("behind")).await;
    server
        .wait_for_event(
            &acct,
            &head,
            |e| e["deliveries"][0]["attempts_made"] == 1,
            SOON,
        )
        .await
        .expect("the head's first attempt");
    assert_eq!(server.event(&acct, &behind).await["status"], "pending");
    let deleted = server
        .call("DELETE", &format!("/v1/events/{head}"), &acct.key, None)
        .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    server
        .wait_for_status(&acct, &behind, "delivered", SOON)
        .await;
}

/// Starts an erasure and waits for it to succeed; the job as it ended.
async fn erased(server: &TestServer, acct: &TestAccount, body: Value) -> Value {
    let started = server.post("/v1/erase", &acct.key, &body).await;
    assert_eq!(started.status, 202, "{body}: {:?}", started.body);
    assert!(
        !started.body.to_string().contains("+1312"),
        "the job keeps the value: {}",
        started.body
    );
    let job = wait_job(
        server,
        acct,
        &started.body,
        |j| j["state"] != "running",
        SOON,
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job:#}");
    job
}

#[tokio::test]
async fn erasure_deletes_exactly_the_subjects_events_and_reports_them() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = quick_account(&server, &rx).await;
    let stranger = quick_account(&server, &rx).await;
    let subject = "+13125550000";
    let publish = |payload: Value| json!({"event_type": "message.sent", "payload": payload});
    let direct = server.publish(&acct, publish(json!({"to": subject}))).await;
    let listed = server
        .publish(
            &acct,
            publish(json!({"to": [{"phone_number": "+1999"}, {"phone_number": subject}]})),
        )
        .await;
    let other = server
        .publish(
            &acct,
            publish(json!({"to": "+13125550001", "from": subject})),
        )
        .await;
    let foreign = server
        .publish(&stranger, publish(json!({"to": subject})))
        .await;
    for (a, id) in [
        (&acct, &direct),
        (&acct, &listed),
        (&acct, &other),
        (&stranger, &foreign),
    ] {
        server.wait_for_status(a, id, "delivered", SOON).await;
    }

    let job = erased(
        &server,
        &acct,
        json!({"path": "payload.to", "value": subject}),
    )
    .await;
    assert_eq!(job["kind"], "erase");
    assert_eq!(job["progress"]["scanned"], 3, "{job:#}");
    assert_eq!(job["progress"]["matched"], 1, "{job:#}");
    assert_eq!(
        job["progress"]["removed"],
        json!({"events": 1, "deliveries": 1, "attempts": 1})
    );
    assert_eq!(
        server
            .get(&format!("/v1/events/{direct}"), &acct.key)
            .await
            .status,
        404
    );
    assert_eq!(server.event(&acct, &listed).await["status"], "delivered");

    let job = erased(
        &server,
        &acct,
        json!({"path": "payload.to[].phone_number", "value": subject}),
    )
    .await;
    assert_eq!(job["progress"]["removed"]["events"], 1, "{job:#}");
    assert_eq!(
        server
            .get(&format!("/v1/events/{listed}"), &acct.key)
            .await
            .status,
        404
    );
    assert_eq!(
        server.event(&acct, &other).await["status"],
        "delivered",
        "another field's value was erased"
    );
    assert_eq!(
        server.event(&stranger, &foreign).await["status"],
        "delivered",
        "another account's event was erased"
    );
}

#[tokio::test]
async fn erasure_refuses_an_empty_value_or_an_unknown_path() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    for (body, field) in [
        (json!({"path": "payload.to", "value": ""}), "value"),
        (json!({"path": "payload.to", "value": null}), "value"),
        (json!({"path": "payload.to", "value": {"a": 1}}), "value"),
        (json!({"path": "to", "value": "x"}), "path"),
        (json!({"path": "payload.to[0]", "value": "x"}), "path"),
        (json!({"path": "payload..to", "value": "x"}), "path"),
        (json!({"value": "x"}), "path"),
        (
            json!({"path": "payload.to", "value": "x", "rate": 0}),
            "rate",
        ),
    ] {
        let answer = server.post("/v1/erase", &acct.key, &body).await;
        assert_refused(&answer, 422, field);
    }
}

/// Every file of the data directory but the master key, as bytes.
fn raw_store_files(data_dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(data_dir)
        .expect("the data directory")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n != "master.key"))
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read(&p).expect("a store file"),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_raw_database_files_hold_no_secret() {
    if std::env::var("HOOKPOST_TEST_DATABASE_URL").is_ok() {
        return; // the embedded store's files; PostgreSQL seals the same columns
    }
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let password = "pa55w0rd-in-the-url";
    let url = rx
        .url("/h")
        .replace("http://", &format!("http://user:{password}@"));
    let acct = server.account_with(json!({"webhook_url": url})).await;
    let header = "Bearer token-in-a-header";
    let endpoint = json!({"url": url.replace("/h", "/ep"), "headers": {"Authorization": header}});
    let made = server.post("/v1/endpoints", &acct.key, &endpoint).await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let id = server
        .publish(&acct, json!({"event_type": "x", "payload": {}}))
        .await;
    server.wait_for_status(&acct, &id, "delivered", SOON).await;
    let keys = server.get("/v1/account/keys", &acct.key).await.body;
    let secrets = [
        password.to_string(),
        header.to_string(),
        keys["webhook_secret"].as_str().expect("an HMAC secret")["whsec_".len()..].to_string(),
        keys["callback_token"]
            .as_str()
            .expect("a callback token")
            .to_string(),
    ];
    let files = raw_store_files(server.data_dir());
    assert!(files.iter().any(|(name, _)| name.ends_with("hookpost.db")));
    for (name, bytes) in &files {
        for secret in &secrets {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{name} holds a secret in the clear");
        }
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(server.data_dir().join("master.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(
        mode & 0o777,
        0o600,
        "the master key file is readable by others"
    );
}

#[tokio::test]
async fn a_wrong_or_missing_master_key_stops_the_start_and_changes_nothing() {
    let mut server = TestServer::start().await;
    let acct = server.account().await;
    let data_dir = server.data_dir().to_path_buf();
    let database = server.database_url();
    server.terminate();
    server.wait_exit(SOON).await.expect("the server stopped");
    let mut on_store: Vec<&str> = Vec::new();
    if let Some(url) = &database {
        on_store.extend(["--database", url]);
    }
    let key_file = server.master_key_file();
    let stranger = data_dir.join("other.key");
    std::fs::create_dir_all(&data_dir).unwrap(); // on PostgreSQL nothing else is kept there
    std::fs::write(&stranger, "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n").unwrap();
    // SQLite may create an empty write-ahead log beside a database it reads:
    // that is no change.
    let store_files = || {
        ["hookpost.db", "hookpost.db-wal"].map(|f| {
            std::fs::read(data_dir.join(f))
                .ok()
                .filter(|b| !b.is_empty())
        })
    };
    let before = store_files();
    let wrong: Vec<&str> = [
        &on_store[..],
        &["--master-key-file", stranger.to_str().unwrap()],
    ]
    .concat();
    let stderr = refused_start(&data_dir, &wrong).await;
    assert!(
        stderr.contains("does not open this database's secrets"),
        "{stderr}"
    );
    let sizes = |files: &[Option<Vec<u8>>; 2]| files.clone().map(|f| f.map(|b| b.len()));
    let after = store_files();
    assert!(
        after == before,
        "a refused start changed the database: {:?} → {:?}",
        sizes(&before),
        sizes(&after)
    );

    let kept = data_dir.join("kept.key");
    std::fs::rename(&key_file, &kept).unwrap();
    let stderr = refused_start(&data_dir, &on_store).await;
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(
        !key_file.exists(),
        "a refused start created a new master key"
    );

    std::fs::rename(&kept, &key_file).unwrap();
    server.restart_with(&[]).await;
    let shown = server.get("/v1/account", &acct.key).await;
    assert_eq!(shown.status, 200, "{:?}", shown.body);
}

#[tokio::test]
async fn a_backup_taken_while_publishing_restores_and_delivers_everything_pending() {
    if std::env::var("HOOKPOST_TEST_DATABASE_URL").is_ok() {
        return; // an embedded-store command; PostgreSQL is backed up with pg_dump
    }
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/h", Reply::Hang);
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/h"), "timeout": "60s"}))
        .await;
    for n in 0..20 {
        server
            .publish(&acct, json!({"event_type": "x", "payload": {"n": n}}))
            .await;
    }
    let copy_dir = tempfile::tempdir().unwrap();
    let restored = copy_dir.path().join("data");
    std::fs::create_dir(&restored).unwrap();
    let file = restored.join("hookpost.db");
    let publishing = async {
        for n in 20..120 {
            server
                .publish(&acct, json!({"event_type": "x", "payload": {"n": n}}))
                .await;
        }
    };
    let backup = async {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookpost"))
            .args(["backup", "--data-dir", server.data_dir().to_str().unwrap()])
            .args(["--to", file.to_str().unwrap()])
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    tokio::join!(publishing, backup);
    std::fs::copy(
        server.data_dir().join("master.key"),
        restored.join("master.key"),
    )
    .unwrap();
    rx.reply("/h", Reply::Status(200));

    let copy = TestServer::start_in(&restored, &[]).await;
    // Every event the copy holds was pending when it was taken (the receiver
    // hung); some may be delivered already by the time they are listed.
    let held = copy.get("/v1/events?limit=1000", &acct.key).await;
    let held: Vec<String> = held.body["data"]
        .as_array()
        .expect("a page of events")
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        held.len() >= 20,
        "the copy lost events published before it: {}",
        held.len()
    );
    copy.wait_none_pending(&acct, Duration::from_secs(30)).await;
    for id in &held {
        assert_eq!(copy.event(&acct, id).await["status"], "delivered");
    }
}

/// The key lines of a master key file (comments left out).
fn key_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("the master key file")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn rotating_the_master_key_online_reseals_every_secret_under_the_new_key() {
    let mut server = TestServer::start().await;
    let rx = Receiver::start().await;
    let url = rx.url("/h").replace("http://", "http://user:secret@");
    let acct = server.account_with(json!({"webhook_url": url})).await;
    let endpoint =
        json!({"url": url.replace("/h", "/ep"), "headers": {"Authorization": "Bearer x"}});
    assert_eq!(
        server
            .post("/v1/endpoints", &acct.key, &endpoint)
            .await
            .status,
        201
    );
    let mut events = Vec::new();
    for n in 0..5 {
        events.push(
            server
                .publish(&acct, json!({"event_type": "x", "payload": {"n": n}}))
                .await,
        );
    }
    let key_file = server.master_key_file();
    let old = key_lines(&key_file);

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookpost"))
        .arg("rotate-master-key")
        .env("HOOKPOST_URL", &server.url)
        .env("HOOKPOST_ADMIN_TOKEN", ADMIN_TOKEN)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert!(
        report["resealed"]["accounts.signing_keys"].as_u64() >= Some(1),
        "{report}"
    );
    assert!(
        report["resealed"]["endpoints.spec"].as_u64() >= Some(1),
        "{report}"
    );
    assert!(
        report["resealed"]["deliveries.target"].as_u64() >= Some(10),
        "{report}"
    );
    let now = key_lines(&key_file);
    assert_eq!(now.len(), 2, "the old key is kept beside the new one");
    assert_eq!(now[1], old[0]);
    let after = server
        .publish(&acct, json!({"event_type": "x", "payload": {}}))
        .await;
    server
        .wait_for_status(&acct, &after, "delivered", SOON)
        .await;

    let only_new = server.data_dir().join("new-only.key");
    std::fs::create_dir_all(server.data_dir()).unwrap();
    std::fs::write(&only_new, format!("{}\n", now[0])).unwrap();
    server
        .restart_with(&["--master-key-file", only_new.to_str().unwrap()])
        .await;
    for id in events.iter().chain([&after]) {
        let event = server.wait_for_status(&acct, id, "delivered", SOON).await;
        assert!(
            event.get("unreadable").is_none_or(Value::is_null),
            "{event:#}"
        );
    }
    let shown = server.get("/v1/endpoints", &acct.key).await;
    assert_eq!(
        shown.body["data"][0]["headers"]["Authorization"], "Bearer x",
        "{:?}",
        shown.body
    );
}
