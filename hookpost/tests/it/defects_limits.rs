//! Fixed defects of the limits: the IPv4 allowlist and IPv6 forms that embed an
//! IPv4 address, permissions of the embedded store, durations too short to mean
//! anything, header leniency, version keys, and bodies declared too large.

use crate::helpers::raw::first_response_line;
use crate::helpers::*;
use serde_json::json;
use std::time::Duration;

fn on_postgres() -> bool {
    std::env::var("HOOKPOST_TEST_DATABASE_URL").is_ok()
}

// 15. The IPv4 allowlist and IPv6 forms that embed an IPv4 address.

#[tokio::test]
async fn an_ipv4_allowlist_does_not_admit_embedded_ipv6_forms() {
    let server = TestServer::start_with(&["--allow-targets", "127.0.0.1/32"]).await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    let publish = |url: String| json!({"event_type": "x", "payload": {}, "webhook_url": url});
    for url in [
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::1]/",
        "http://[::7f00:1]/",
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
    ] {
        let answer = server
            .post("/v1/events", &acct.key, &publish(url.to_string()))
            .await;
        assert_eq!(answer.status, 422, "{url} was accepted: {:?}", answer.body);
        assert_eq!(answer.body["error"]["field"], "webhook_url", "{url}");
    }
    let mapped = format!("http://[::ffff:127.0.0.1]:{}/", rx.addr.port());
    let answer = server
        .post("/v1/events", &acct.key, &publish(mapped.clone()))
        .await;
    assert_eq!(answer.status, 202, "{mapped}: {:?}", answer.body);
}

// 16. File permissions of the embedded store.

#[tokio::test]
async fn the_embedded_store_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    if on_postgres() {
        return;
    }
    let server = TestServer::start().await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode(server.data_dir()),
        0o700,
        "data dir mode {:o}",
        mode(server.data_dir())
    );
    let db = server.data_dir().join("hookpost.db");
    assert_eq!(mode(&db), 0o600, "hookpost.db mode {:o}", mode(&db));
}

// 17. Smaller limits and leniencies.

#[tokio::test]
async fn durations_too_short_to_mean_anything_are_refused() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let timeout = server
        .publish_text(
            &acct,
            r#"{"event_type": "x", "payload": {}, "timeout": "1ns"}"#,
        )
        .await;
    assert_refused(&timeout, 422, "timeout");
    let schedule = server
        .publish_text(
            &acct,
            r#"{"event_type": "x", "payload": {}, "retry_schedule": ["1ns"]}"#,
        )
        .await;
    assert_refused_under(&schedule, 422, "retry_schedule");
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let auth = format!("BEARER {}", acct.key);
    let answer = server
        .call_raw(
            "POST",
            "/v1/events",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            Some(r#"{"event_type": "x", "payload": {}}"#),
        )
        .await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
}

#[tokio::test]
async fn only_json_or_no_content_type_is_taken() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let auth = format!("Bearer {}", acct.key);
    let body = Some(r#"{"event_type": "x", "payload": {}}"#);
    let text = server
        .call_raw(
            "POST",
            "/v1/events",
            &[("authorization", &auth), ("content-type", "text/plain")],
            body,
        )
        .await;
    assert_eq!(text.status, 415, "{:?}", text.body);
    assert_error_shape(&text);
    let none = server
        .call_raw("POST", "/v1/events", &[("authorization", &auth)], body)
        .await;
    assert_eq!(none.status, 202, "{:?}", none.body);
}

#[tokio::test]
async fn empty_or_control_character_version_keys_are_refused() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    for payloads in [json!({"": {}}), json!({"v\r\n": {}})] {
        let body = json!({"event_type": "x", "payload": {}, "payloads": payloads});
        let answer = server.post("/v1/events", &acct.key, &body).await;
        assert_refused_under(&answer, 422, "payloads");
    }
}

fn huge_declared_publish(key: &str, expect: bool) -> Vec<u8> {
    let expect = if expect {
        "Expect: 100-continue\r\n"
    } else {
        ""
    };
    format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\n{expect}Content-Length: 10000000000\r\n\r\n"
    )
    .into_bytes()
}

/// The first response line to a publish declaring a 10 GB body that never comes.
async fn answer_to_huge_declared_publish(expect_continue: bool) -> String {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let request = huge_declared_publish(&acct.key, expect_continue);
    first_response_line(server.addr(), &request, Duration::from_secs(5))
        .await
        .expect("no answer within 5 s while the body was never sent")
}

#[tokio::test]
async fn a_huge_declared_body_is_refused_before_100_continue() {
    let line = answer_to_huge_declared_publish(true).await;
    assert!(
        line.starts_with("HTTP/1.1 413"),
        "first response line: {line:?}"
    );
}

#[tokio::test]
async fn a_huge_declared_body_is_refused_without_waiting_for_it() {
    let line = answer_to_huge_declared_publish(false).await;
    assert!(
        line.starts_with("HTTP/1.1 413"),
        "first response line: {line:?}"
    );
}
