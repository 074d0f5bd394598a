//! Fax-provider features: form posts, Phaxio signatures, e-mail webhooks, Basic
//! auth in URLs, event types with schemas and categories, payload versions.

use crate::helpers::smtp::{free_port, SmtpSink};
use crate::helpers::verify::verify;
use crate::helpers::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

/// The text fields of a multipart/form-data request, by a real multipart parser.
async fn form_fields(got: &receiver::Received) -> HashMap<String, String> {
    forms::parse_form(got).await.fields
}

#[tokio::test]
async fn form_deliveries_parse_as_multipart_and_carry_a_phaxio_signature() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(
            json!({"webhook_url": rx.url("/fax?x=1"), "format": "form", "signatures": ["phaxio"]}),
        )
        .await;
    let keys = server.get("/v1/account/keys", &acct.key).await.body;
    let payload =
        json!({"fax_id": "f-1", "status": "delivered", "note": "line1\r\nline2 --boundary"});
    let id = server
        .publish(
            &acct,
            json!({"event_type": "fax.delivered", "payload": payload,
                                           "occurred_at": "2026-01-07T10:01:43.677850Z"}),
        )
        .await;
    let got = &rx.wait_for(1, SOON).await[0];
    assert!(got
        .header("content-type")
        .unwrap()
        .starts_with("multipart/form-data; boundary="));
    let fields = form_fields(got).await;
    assert_eq!(fields["event_type"], "fax.delivered");
    assert_eq!(fields["id"], id);
    assert_eq!(fields["occurred_at"], "2026-01-07T10:01:43.677850Z");
    assert_eq!(fields["attempt"], "1");
    assert_eq!(fields["delivered_to"], rx.url("/fax?x=1"));
    assert_eq!(
        serde_json::from_str::<Value>(&fields["payload"]).unwrap(),
        payload
    );

    assert_eq!(verify(got, &got.body, &keys), json!({"phaxio": "ok"}));
    let tampered = String::from_utf8(got.body.to_vec())
        .unwrap()
        .replace("f-1", "f-2");
    assert_ne!(verify(got, tampered.as_bytes(), &keys)["phaxio"], "ok");
}

#[tokio::test]
async fn phaxio_signs_json_bodies_beside_the_other_schemes() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/j"), "signatures": ["standard", "phaxio"]}))
        .await;
    let keys = server.get("/v1/account/keys", &acct.key).await.body;
    server
        .publish(&acct, json!({"event_type": "x", "payload": {"a": 1}}))
        .await;
    let got = &rx.wait_for(1, SOON).await[0];
    assert_eq!(
        verify(got, &got.body, &keys),
        json!({"standard_v1": "ok", "standard_v1a": "ok", "phaxio": "ok"})
    );
}

#[tokio::test]
async fn email_webhooks_arrive_with_an_html_and_a_text_part() {
    let sink = SmtpSink::start();
    let server = TestServer::start_with(&[
        "--smtp-url",
        &sink.url(),
        "--smtp-from",
        "hooks@example.com",
    ])
    .await;
    let acct = server.account().await;
    let payload = json!({"fax_id": "f-9", "note": "<b>bold</b> & co"});
    let id = server
        .publish(
            &acct,
            json!({"event_type": "fax.delivered", "payload": payload,
                                           "webhook_url": "mailto:ops@example.com"}),
        )
        .await;
    let event = server.wait_for_status(&acct, &id, "delivered", SOON).await;
    let mail = &sink.messages()[0];
    assert_eq!(mail["rcpt_tos"], json!(["ops@example.com"]));
    assert_eq!(mail["mail_from"], "hooks@example.com");
    assert_eq!(mail["content_type"], "multipart/alternative");
    assert!(mail["subject"].as_str().unwrap().contains("fax.delivered"));
    let text = mail["text"].as_str().unwrap();
    assert!(
        text.contains(&id) && text.contains("<b>bold</b> & co"),
        "{text}"
    );
    let html = mail["html"].as_str().unwrap();
    assert!(
        html.contains(&id) && html.contains("&lt;b&gt;bold&lt;/b&gt; &amp; co"),
        "{html}"
    );
    let attempt = &event["attempts"][0];
    assert_eq!(attempt["url"], "mailto:ops@example.com");
    assert!(
        attempt["response"].as_str().unwrap().starts_with("250"),
        "{attempt}"
    );
}

#[tokio::test]
async fn a_dead_relay_falls_over_to_the_failover() {
    let rx = Receiver::start().await;
    let relay = format!("smtp://127.0.0.1:{}", free_port());
    let server = TestServer::start_with(&["--smtp-url", &relay]).await;
    let acct = server.account().await;
    let id = server
        .publish(
            &acct,
            json!({"event_type": "x", "payload": {}, "webhook_url": "mailto:ops@example.com",
                                           "webhook_failover_url": rx.url("/backup")}),
        )
        .await;
    let event = server.wait_for_status(&acct, &id, "delivered", SOON).await;
    assert_eq!(event["attempts"][0]["error"], "smtp");
    assert_eq!(event["attempts"][1]["leg"], "failover");
    assert_eq!(rx.received_on("/backup")[0].json()["meta"]["attempt"], 1);
}

#[tokio::test]
async fn an_email_retried_after_the_relay_comes_back_is_delivered() {
    let port = free_port();
    let server = TestServer::start_with(&["--smtp-url", &format!("smtp://127.0.0.1:{port}")]).await;
    let acct = server.account().await;
    let id = server
        .publish(
            &acct,
            json!({"event_type": "x", "payload": {}, "webhook_url": "mailto:ops@example.com",
                                           "retry_schedule": ["1s"], "timeout": "2s"}),
        )
        .await;
    let first = server
        .wait_for_event(&acct, &id, |e| e["attempts_made"] == 1, SOON)
        .await
        .unwrap();
    assert_eq!(first["attempts"][0]["error"], "smtp");
    let sink = SmtpSink::start_on(port);
    let event = server.wait_for_status(&acct, &id, "delivered", SOON).await;
    assert_eq!(event["attempts_made"], 2);
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn basic_auth_reaches_the_receiver_and_the_password_is_masked_everywhere() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    let url = format!("http://fax-user:s3cr3t-pw@{}/auth", rx.addr);
    let answer = server
        .post(
            "/v1/events",
            &acct.key,
            &json!({"event_type": "x", "payload": {}, "webhook_url": url}),
        )
        .await;
    let masked = format!("http://fax-user:***@{}/auth", rx.addr);
    assert_eq!(answer.body["target"]["webhook_url"], masked.as_str());
    let id = answer.body["id"].as_str().unwrap();
    let event = server.wait_for_status(&acct, id, "delivered", SOON).await;
    let got = &rx.received()[0];
    assert_eq!(
        got.header("authorization").as_deref(),
        Some("Basic ZmF4LXVzZXI6czNjcjN0LXB3")
    );
    assert_eq!(got.json()["meta"]["delivered_to"], masked.as_str());
    assert_eq!(event["attempts"][0]["url"], masked.as_str());
    for shown in [
        event.to_string(),
        server.get("/v1/events", &acct.key).await.body.to_string(),
        String::from_utf8_lossy(&got.body).to_string(),
        server.log_text(),
    ] {
        assert!(!shown.contains("s3cr3t-pw"), "the password leaked: {shown}");
    }
}

#[tokio::test]
async fn event_type_schemas_refuse_bad_payloads_naming_the_path() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let schema = json!({"type": "object", "required": ["amount"],
                        "properties": {"amount": {"type": "integer", "minimum": 1}, "lines": {"type": "array", "items": {"type": "string"}}}});
    let put = server
        .put(
            "/v1/event-types/order.paid",
            &acct.key,
            &json!({"category": "postflight", "schema": schema}),
        )
        .await;
    assert_eq!(put.status, 201, "{:?}", put.body);
    let publish = |payload: Value| json!({"event_type": "order.paid", "payload": payload});
    let bad = server
        .post("/v1/events", &acct.key, &publish(json!({"amount": 0})))
        .await;
    assert_eq!(
        (bad.status, bad.body["error"]["field"].as_str()),
        (422, Some("payload.amount"))
    );
    let bad = server
        .post(
            "/v1/events",
            &acct.key,
            &publish(json!({"amount": 2, "lines": ["a", 3]})),
        )
        .await;
    assert_eq!(bad.body["error"]["field"], "payload.lines[1]");
    assert_eq!(
        server
            .post("/v1/events", &acct.key, &publish(json!({"amount": 2})))
            .await
            .status,
        202
    );

    let invalid = server
        .put(
            "/v1/event-types/x",
            &acct.key,
            &json!({"schema": {"type": "nonsense"}}),
        )
        .await;
    assert_eq!(
        (invalid.status, invalid.body["error"]["field"].as_str()),
        (422, Some("schema"))
    );
    let bad_name = server
        .put("/v1/event-types/has%20space", &acct.key, &json!({}))
        .await;
    assert_eq!(bad_name.body["error"]["field"], "name");
    assert_eq!(
        server
            .get("/v1/event-types/order.paid", &acct.key)
            .await
            .body["schema"],
        schema
    );
    assert_eq!(
        server.get("/v1/event-types", &acct.key).await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        server
            .call("DELETE", "/v1/event-types/order.paid", &acct.key, None)
            .await
            .status,
        204
    );
    assert_eq!(
        server
            .post("/v1/events", &acct.key, &publish(json!({"amount": 0})))
            .await
            .status,
        202
    );
    let other = server.account().await;
    assert_eq!(
        server
            .get("/v1/event-types/order.paid", &other.key)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn the_catalog_loads_in_one_call_and_checks_documented_fields() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let loaded = server
        .post("/v1/event-types/catalog", &acct.key, &json!({}))
        .await;
    assert_eq!(
        loaded.body["loaded"].as_array().unwrap().len(),
        8,
        "{:?}",
        loaded.body
    );
    let types = server.get("/v1/event-types", &acct.key).await.body;
    let category = |name: &str| {
        types["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["category"]
            .clone()
    };
    // The Telnyx-style documents deliver every status: the catalog's progress
    // statuses are postflight too.
    assert_eq!(category("fax.sending.started"), "postflight");
    assert_eq!(category("fax.failed"), "postflight");
    let failed = |reason: &str| json!({"event_type": "fax.failed", "payload": {"fax_id": "f", "status": "failed", "failure_reason": reason}});
    assert_eq!(
        server
            .post("/v1/events", &acct.key, &failed("user_busy"))
            .await
            .status,
        202
    );
    let bad = server
        .post("/v1/events", &acct.key, &failed("gremlins"))
        .await;
    assert_eq!(
        (bad.status, bad.body["error"]["field"].as_str()),
        (422, Some("payload.failure_reason"))
    );
    let message = json!({"event_type": "message.finalized", "payload": {"id": "m", "direction": "outbound",
        "to": [{"phone_number": "+13125000000", "status": "teleported"}]}});
    assert_eq!(
        server.post("/v1/events", &acct.key, &message).await.body["error"]["field"],
        "payload.to[0].status"
    );
}

#[tokio::test]
async fn inflight_events_reach_only_targets_that_take_them() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/quiet")}))
        .await;
    let registered = server
        .put(
            "/v1/event-types/fax.page.sent",
            &acct.key,
            &json!({"category": "inflight"}),
        )
        .await;
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    server
        .put(
            "/v1/profiles/live",
            &acct.key,
            &json!({"webhook_url": rx.url("/live"), "inflight": true}),
        )
        .await;
    let progress = json!({"event_type": "fax.page.sent", "payload": {"fax_id": "f", "page": 1}});

    let filtered = server.post("/v1/events", &acct.key, &progress).await;
    assert_eq!(filtered.body["status"], "filtered");
    let mut to_live = progress.clone();
    to_live["profile_id"] = json!("live");
    let live = server.publish(&acct, to_live).await;
    server
        .wait_for_status(&acct, &live, "delivered", SOON)
        .await;
    let done = server.publish(&acct, json!({"event_type": "fax.delivered", "payload": {"fax_id": "f", "status": "delivered"}})).await;
    server
        .wait_for_status(&acct, &done, "delivered", SOON)
        .await;

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.received_on("/live").len(), 1);
    let quiet = rx.received_on("/quiet");
    assert_eq!(
        quiet.len(),
        1,
        "only the postflight event reaches a target without inflight"
    );
    assert_eq!(quiet[0].json()["data"]["event_type"], "fax.delivered");
    let id = filtered.body["id"].as_str().unwrap();
    assert_eq!(server.event(&acct, id).await["attempts"], json!([]));
}

#[tokio::test]
async fn each_receiver_gets_the_payload_of_its_version() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    server
        .put(
            "/v1/profiles/pinned",
            &acct.key,
            &json!({"webhook_url": rx.url("/v2"), "version": "2025-01"}),
        )
        .await;
    server
        .put(
            "/v1/profiles/plain",
            &acct.key,
            &json!({"webhook_url": rx.url("/v1")}),
        )
        .await;
    for profile in ["pinned", "plain"] {
        server
            .publish(
                &acct,
                json!({"event_type": "x", "profile_id": profile, "payload": {"n": 1},
                                      "payloads": {"2025-01": {"n": 2, "renamed": true}}}),
            )
            .await;
    }
    rx.wait_for(2, SOON).await;
    let pinned = &rx.received_on("/v2")[0];
    assert_eq!(
        pinned.json()["data"]["payload"],
        json!({"n": 2, "renamed": true})
    );
    assert_eq!(pinned.header("webhook-version").as_deref(), Some("2025-01"));
    let plain = &rx.received_on("/v1")[0];
    assert_eq!(plain.json()["data"]["payload"], json!({"n": 1}));
    assert!(plain.header("webhook-version").is_none());
}
