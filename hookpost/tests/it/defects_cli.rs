//! Fixed defects of the command line and the server's start: where tokens come
//! from, plain-text output of one field, profile ids with a `+`, the admin token
//! file, and a clear refusal of an SMTP URL without a scheme.

use crate::helpers::*;
use serde_json::{json, Value};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const PROFILE: &str = "+13125550000";

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "hookpost failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

// 1. The command line's tokens and output.

#[tokio::test]
async fn cli_without_a_token_names_hookpost_token() {
    let server = TestServer::start().await;
    let out = cli::run_cli(&server, &[], &["show-event", "x"]);
    assert!(
        !out.status.success(),
        "show-event without a token succeeded"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HOOKPOST_TOKEN"), "stderr: {stderr}");
}

#[tokio::test]
async fn cli_create_account_takes_the_admin_token_and_prints_one_field() {
    let server = TestServer::start().await;
    let by_flag = cli::run_cli(
        &server,
        &[],
        &[
            "create-account",
            "--name",
            "n",
            "--admin-token",
            ADMIN_TOKEN,
            "--print",
            "api_key",
        ],
    );
    let by_env = cli::run_cli(
        &server,
        &[("HOOKPOST_ADMIN_TOKEN", ADMIN_TOKEN)],
        &["create-account", "--name", "n", "--print", "api_key"],
    );
    for out in [by_flag, by_env] {
        let text = stdout(&out);
        let key = text.trim();
        assert!(
            !key.is_empty() && !key.contains(['"', '{', '\n', ' ']),
            "not a bare field: {text:?}"
        );
        assert_eq!(
            server.get("/v1/account", key).await.status,
            200,
            "{key:?} is not an API key"
        );
    }
    let wrong_variable = cli::run_cli(
        &server,
        &[("HOOKPOST_TOKEN", ADMIN_TOKEN)],
        &["create-account", "--name", "n"],
    );
    assert!(
        !wrong_variable.status.success(),
        "create-account took the admin token from HOOKPOST_TOKEN"
    );
}

#[tokio::test]
async fn cli_keys_prints_the_webhook_secret() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let text = stdout(&cli::run_cli(
        &server,
        &[("HOOKPOST_TOKEN", acct.key.as_str())],
        &["keys", "--print", "webhook_secret"],
    ));
    let secret = text.trim();
    assert!(secret.starts_with("whsec_"), "{text:?}");
    let keys = server.get("/v1/account/keys", &acct.key).await.body;
    assert_eq!(keys["webhook_secret"], secret);
}

#[tokio::test]
async fn cli_list_events_finds_a_profile_id_with_a_plus() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let put = server
        .put("/v1/profiles/%2B13125550000", &acct.key, &json!({}))
        .await;
    assert_eq!(put.status, 201, "{:?}", put.body);
    let id = server
        .publish(
            &acct,
            json!({"event_type": "x", "payload": {}, "profile_id": PROFILE}),
        )
        .await;
    server
        .publish(&acct, json!({"event_type": "x", "payload": {}}))
        .await;
    let text = stdout(&cli::run_cli(
        &server,
        &[("HOOKPOST_TOKEN", acct.key.as_str())],
        &["list-events", "--profile-id", PROFILE],
    ));
    let page: Value = serde_json::from_str(&text).expect("a JSON page");
    let ids: Vec<_> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(id)], "{page}");
    assert!(page.get("next_cursor").is_some(), "{page}");
}

// 2. --admin-token-file.

#[tokio::test]
async fn the_admin_token_file_is_read_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin-token");
    std::fs::write(&path, "  file-token-0123456789abcdef \n").unwrap();
    let server = TestServer::start_with(&["--admin-token-file", path.to_str().unwrap()]).await;
    let created = server
        .post(
            "/v1/accounts",
            "file-token-0123456789abcdef",
            &json!({"name": "a"}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let other = server
        .post("/v1/accounts", ADMIN_TOKEN, &json!({"name": "a"}))
        .await;
    assert_eq!(other.status, 401, "a token other than the file's was taken");
}

// 9. A clear message at start.

#[tokio::test]
async fn an_smtp_url_without_a_scheme_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookpost"))
        .args([
            "serve",
            "--smtp-url",
            "127.0.0.1:2525",
            "--admin-token",
            ADMIN_TOKEN,
        ])
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env_remove("HOOKPOST_DATABASE_URL")
        .env_remove("HOOKPOST_SMTP_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hookpost started with --smtp-url 127.0.0.1:2525");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("smtp://"), "stderr: {stderr}");
}
