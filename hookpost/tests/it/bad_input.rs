//! Bad input: every refusal is a 4xx JSON error naming the field, and nothing is
//! stored half-way.

use crate::helpers::*;
use serde_json::{json, Value};

/// Sends `body` to `path` and checks the status and the field named.
async fn refused(
    server: &TestServer,
    key: &str,
    path: &str,
    body: &str,
    status: u16,
    field: Option<&str>,
) -> Value {
    let answer = server.call("POST", path, key, Some(body)).await;
    assert_eq!(answer.status, status, "{path} {body}: {:?}", answer.body);
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "no message: {:?}",
        answer.body
    );
    if let Some(field) = field {
        assert_eq!(
            answer.body["error"]["field"], field,
            "{body}: {:?}",
            answer.body
        );
    }
    answer.body
}

#[tokio::test]
async fn every_bad_publish_is_refused_with_the_field_and_nothing_is_stored() {
    let server = TestServer::start_with(&["--max-body-bytes", "4096", "--max-batch", "3"]).await;
    let acct = server.account().await;
    let deep = format!(
        r#"{{"event_type": "x", "payload": {}{}}}"#,
        "{\"a\":".repeat(40) + "1",
        "}".repeat(40)
    );
    let big = format!(
        r#"{{"event_type": "x", "payload": {{"blob": "{}"}}}}"#,
        "a".repeat(5000)
    );
    let four = json!({"events": vec![json!({"event_type": "x", "payload": {}}); 4]}).to_string();
    let x = |extra: &str| format!(r#"{{"event_type": "x", "payload": {{}}, {extra}}}"#);
    let cases: Vec<(&str, String, u16, Option<&str>)> = vec![
        ("/v1/events", "{not json".into(), 400, None),
        ("/v1/events", "".into(), 400, None),
        ("/v1/events", r#"{"payload": {}}"#.into(), 422, Some("event_type")),
        ("/v1/events", r#"{"event_type": "x"}"#.into(), 422, Some("payload")),
        ("/v1/events", r#"{"event_type": 5, "payload": {}}"#.into(), 422, Some("event_type")),
        ("/v1/events", r#"{"event_type": "has space", "payload": {}}"#.into(), 422, Some("event_type")),
        ("/v1/events", r#"{"event_type": "x", "payload": [1]}"#.into(), 422, Some("payload")),
        ("/v1/events", r#"{"event_type": "x", "payload": "text"}"#.into(), 422, Some("payload")),
        ("/v1/events", x(r#""occurred_at": "yesterday""#), 422, Some("occurred_at")),
        ("/v1/events", x(r#""profile_id": "ghost""#), 422, Some("profile_id")),
        ("/v1/events", x(r#""webhook_url": "ftp://example.com/""#), 422, Some("webhook_url")),
        ("/v1/events", x(r#""webhook_url": "not a url""#), 422, Some("webhook_url")),
        ("/v1/events", x(r#""webhook_url": "mailto:a@example.com""#), 422, Some("webhook_url")),
        ("/v1/events", x(r#""webhook_failover_url": "http://127.0.0.1/""#), 422, Some("webhook_failover_url")),
        ("/v1/events", x(r#""webhok_url": "http://127.0.0.1/""#), 422, Some("webhok_url")),
        ("/v1/events", x(r#""timeout": "forever""#), 422, Some("timeout")),
        ("/v1/events", x(r#""retry_schedule": ["5m", 7]"#), 422, Some("retry_schedule[1]")),
        ("/v1/events", x(r#""signatures": ["rsa"]"#), 422, Some("signatures[0]")),
        ("/v1/events", x(r#""payloads": {"v2": 1}"#), 422, Some("payloads.v2")),
        ("/v1/events", x(r#""idempotency_key": """#), 422, Some("idempotency_key")),
        ("/v1/events", deep, 422, Some("payload")),
        ("/v1/events", big, 413, None),
        ("/v1/events/batch", r#"{"events": []}"#.into(), 422, Some("events")),
        ("/v1/events/batch", four, 422, Some("events")),
        (
            "/v1/events/batch",
            r#"{"events": [{"event_type": "x", "payload": {}}, {"event_type": "x", "payload": 3}]}"#.into(),
            422,
            Some("events[1].payload"),
        ),
        (
            "/v1/events/batch",
            r#"{"events": [{"event_type": "x", "payload": {}}, {"event_type": "x", "payload": {}, "profile_id": "ghost"}]}"#.into(),
            422,
            Some("events[1].profile_id"),
        ),
    ];
    for (path, body, status, field) in cases {
        refused(&server, &acct.key, path, &body, status, field).await;
    }
    let list = server.get("/v1/events", &acct.key).await;
    assert_eq!(
        list.body["data"],
        json!([]),
        "a refused publish stored something"
    );
}

#[tokio::test]
async fn missing_or_wrong_keys_are_refused() {
    let server = TestServer::start().await;
    let body = r#"{"event_type": "x", "payload": {}}"#;
    let answer = server.call("POST", "/v1/events", "", Some(body)).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body["error"]["code"], "missing_credentials");
    assert_eq!(
        server
            .call("POST", "/v1/events", "hp_wrong", Some(body))
            .await
            .status,
        401
    );
    assert_eq!(
        server
            .call("GET", "/v1/events", ADMIN_TOKEN, None)
            .await
            .status,
        401,
        "the admin token is not an API key"
    );
    let acct = server.account().await;
    assert_eq!(
        server
            .call("POST", "/v1/accounts", &acct.key, Some(r#"{"name": "x"}"#))
            .await
            .status,
        401
    );
    assert_eq!(
        server
            .call("POST", "/v1/accounts", "", Some(r#"{"name": "x"}"#))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn bad_settings_are_refused_with_the_field() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let k = acct.key.as_str();
    let cases = [
        (json!({"webhook_url": "gopher://x/"}), "webhook_url"),
        (
            json!({"webhook_failover_url": "https://b.example/"}),
            "webhook_failover_url",
        ),
        (json!({"format": "xml"}), "format"),
        (json!({"timeout": "0s"}), "timeout"),
        (json!({"version": "v1\r\nx-injected: 1"}), "version"),
        (json!({"retry_schedule": vec!["1s"; 51]}), "retry_schedule"),
        (json!({"inflight": "yes"}), "inflight"),
        (json!({"colour": "blue"}), "colour"),
    ];
    for (settings, field) in cases {
        for path in ["/v1/account/settings", "/v1/profiles/p1"] {
            let answer = server.put(path, k, &settings).await;
            assert_eq!(answer.status, 422, "{path} {settings}: {:?}", answer.body);
            assert_eq!(answer.body["error"]["field"], field, "{path} {settings}");
        }
    }
    assert_eq!(
        server.put("/v1/profiles/a%2Fb", k, &json!({})).await.body["error"]["field"],
        "profile_id"
    );
    assert_eq!(
        server.get("/v1/profiles/p1", k).await.status,
        404,
        "a refused profile was stored"
    );
    let bad_account = server
        .post("/v1/accounts", ADMIN_TOKEN, &json!({"name": ""}))
        .await;
    assert_eq!(bad_account.body["error"]["field"], "name");
}

#[tokio::test]
async fn literal_blocked_addresses_are_refused_at_once_without_the_allowlist() {
    let server = TestServer::start_with(&["--allow-targets", "192.0.2.0/24"]).await;
    let acct = server.account().await;
    for url in [
        "http://127.0.0.1:9/",
        "http://10.0.0.1/",
        "http://169.254.169.254/",
        "http://[::1]/",
        "http://0x7f000001/",
    ] {
        let body = json!({"event_type": "x", "payload": {}, "webhook_url": url}).to_string();
        let answer = refused(
            &server,
            &acct.key,
            "/v1/events",
            &body,
            422,
            Some("webhook_url"),
        )
        .await;
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("--allow-targets"),
            "{answer}"
        );
    }
}
