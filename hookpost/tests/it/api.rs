//! The management API: accounts, settings, profiles, listing with filters and
//! pagination, health, and tenant isolation.

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn health_answers_ok() {
    let server = TestServer::start().await;
    let answer = server.get("/healthz", "").await;
    assert_eq!((answer.status, answer.body), (200, json!({"status": "ok"})));
    assert_eq!(server.get("/v1/nothing-here", "").await.status, 404);
}

#[tokio::test]
async fn account_settings_are_stored_and_shown_with_the_password_masked() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let me = server.get("/v1/account", &acct.key).await;
    assert_eq!(me.body["id"], acct.id.as_str());
    assert!(
        me.body.get("api_key").is_none(),
        "the API key is shown once, at creation"
    );

    let settings = json!({"webhook_url": "https://user:hunter2@hooks.example/in", "retry_schedule": ["1s", "250ms"], "timeout": "2s"});
    let put = server
        .put("/v1/account/settings", &acct.key, &settings)
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let shown = server.get("/v1/account/settings", &acct.key).await.body;
    assert_eq!(shown["webhook_url"], "https://user:***@hooks.example/in");
    assert_eq!(shown["retry_schedule"], json!(["1s", "250ms"]));
    assert!(!server
        .get("/v1/account", &acct.key)
        .await
        .body
        .to_string()
        .contains("hunter2"));
}

#[tokio::test]
async fn profiles_can_be_created_read_listed_replaced_and_deleted() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let k = acct.key.as_str();
    for id in ["+13125550000", "b-profile", "c-profile"] {
        let put = server
            .put(
                &format!("/v1/profiles/{id}"),
                k,
                &json!({"webhook_url": "https://x.example/"}),
            )
            .await;
        assert_eq!(put.status, 201, "{:?}", put.body);
    }
    let replaced = server
        .put("/v1/profiles/b-profile", k, &json!({"version": "v2"}))
        .await;
    assert_eq!(replaced.status, 200);
    assert_eq!(replaced.body["settings"], json!({"version": "v2"}));

    let one = server.get("/v1/profiles/+13125550000", k).await;
    assert_eq!(one.body["id"], "+13125550000");
    let page = server.get("/v1/profiles?limit=2", k).await.body;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let next = page["next_cursor"].as_str().unwrap();
    let rest = server
        .get(&format!("/v1/profiles?limit=2&cursor={next}"), k)
        .await
        .body;
    assert_eq!(rest["data"][0]["id"], "c-profile");
    assert!(rest["next_cursor"].is_null());

    assert_eq!(
        server
            .call("DELETE", "/v1/profiles/c-profile", k, None)
            .await
            .status,
        204
    );
    assert_eq!(server.get("/v1/profiles/c-profile", k).await.status, 404);
    assert_eq!(
        server
            .call("DELETE", "/v1/profiles/c-profile", k, None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn events_are_listed_newest_first_with_filters_and_cursor_pages() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    server.put("/v1/profiles/p1", &acct.key, &json!({})).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let profile = if i % 2 == 0 { json!("p1") } else { json!(null) };
        let kind = if i < 3 { "fax.queued" } else { "fax.delivered" };
        ids.push(
            server
                .publish(
                    &acct,
                    json!({"event_type": kind, "payload": {"i": i}, "profile_id": profile}),
                )
                .await,
        );
    }
    let page1 = server.get("/v1/events?limit=2", &acct.key).await.body;
    assert_eq!(page1["data"][0]["id"], ids[4].as_str());
    assert_eq!(page1["data"][1]["id"], ids[3].as_str());
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = server
        .get(&format!("/v1/events?limit=2&cursor={cursor}"), &acct.key)
        .await
        .body;
    assert_eq!(page2["data"][0]["id"], ids[2].as_str());

    let queued = server
        .get("/v1/events?event_type=fax.queued", &acct.key)
        .await
        .body;
    assert_eq!(queued["data"].as_array().unwrap().len(), 3);
    let p1 = server
        .get("/v1/events?profile_id=p1&status=no_target", &acct.key)
        .await
        .body;
    assert_eq!(p1["data"].as_array().unwrap().len(), 3);
    let future = server
        .get("/v1/events?since=2999-01-01T00:00:00Z", &acct.key)
        .await
        .body;
    assert_eq!(future["data"], json!([]));
    assert_eq!(
        server.get("/v1/events?status=done", &acct.key).await.body["error"]["field"],
        "status"
    );
    assert_eq!(
        server.get("/v1/events?limit=0", &acct.key).await.body["error"]["field"],
        "limit"
    );
    assert_eq!(
        server.get("/v1/events?since=soon", &acct.key).await.body["error"]["field"],
        "since"
    );
}

#[tokio::test]
async fn an_account_sees_and_changes_only_its_own_data_on_every_route() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let a = server
        .account_with(json!({"webhook_url": rx.url("/a")}))
        .await;
    let b = server.account().await;
    server
        .put("/v1/profiles/shared-name", &a.key, &json!({"version": "a"}))
        .await;
    server
        .put(
            "/v1/event-types/order.paid",
            &a.key,
            &json!({"schema": {"type": "object", "required": ["amount"]}}),
        )
        .await;
    let id = server
        .publish(&a, json!({"event_type": "x", "payload": {"secret": 1}}))
        .await;
    let a_keys = server.get("/v1/account/keys", &a.key).await.body;

    // Reads of A's things by B find nothing.
    for path in [
        format!("/v1/events/{id}"),
        "/v1/profiles/shared-name".into(),
        "/v1/event-types/order.paid".into(),
    ] {
        assert_eq!(server.get(&path, &b.key).await.status, 404, "{path}");
    }
    for list in ["/v1/events", "/v1/profiles", "/v1/event-types"] {
        assert_eq!(
            server.get(list, &b.key).await.body["data"],
            json!([]),
            "{list}"
        );
    }
    // Changes by B do not reach A's things.
    assert_eq!(
        server
            .post(&format!("/v1/events/{id}/retry"), &b.key, &json!({}))
            .await
            .status,
        404
    );
    assert_eq!(
        server
            .call("DELETE", "/v1/profiles/shared-name", &b.key, None)
            .await
            .status,
        404
    );
    assert_eq!(
        server
            .call("DELETE", "/v1/event-types/order.paid", &b.key, None)
            .await
            .status,
        404
    );
    let with_a_profile = json!({"event_type": "x", "payload": {}, "profile_id": "shared-name"});
    assert_eq!(
        server
            .post("/v1/events", &b.key, &with_a_profile)
            .await
            .status,
        422
    );
    let schema_of_a = json!({"event_type": "order.paid", "payload": {}});
    assert_eq!(
        server.post("/v1/events", &b.key, &schema_of_a).await.status,
        202,
        "A's schema applied to B"
    );
    server
        .put(
            "/v1/account/settings",
            &b.key,
            &json!({"webhook_url": rx.url("/b")}),
        )
        .await;
    server
        .post("/v1/account/signing-keys/rotate", &b.key, &json!({}))
        .await;
    server
        .post("/v1/account/api-key/rotate", &b.key, &json!({}))
        .await;

    // A is untouched.
    assert_eq!(
        server.get("/v1/account/settings", &a.key).await.body["webhook_url"],
        rx.url("/a")
    );
    assert_eq!(server.get("/v1/account/keys", &a.key).await.body, a_keys);
    assert_eq!(
        server.get("/v1/profiles/shared-name", &a.key).await.body["settings"]["version"],
        "a"
    );
    assert_eq!(
        server
            .get("/v1/event-types/order.paid", &a.key)
            .await
            .status,
        200
    );
    assert_eq!(
        server.get(&format!("/v1/events/{id}"), &a.key).await.status,
        200
    );
    assert_ne!(a_keys, server.get("/v1/account/keys", &b.key).await.body);
}

#[tokio::test]
async fn secrets_never_appear_in_the_server_log() {
    let smtp = format!(
        "smtp://mail-user:smtp-pa55@127.0.0.1:{}",
        crate::helpers::smtp::free_port()
    );
    let server = TestServer::start_with(&["--smtp-url", &smtp]).await;
    let rx = Receiver::start().await;
    rx.reply("/h", Reply::Status(500));
    let acct = server.account().await;
    let keys = server.get("/v1/account/keys", &acct.key).await.body;
    let mail = server.publish(&acct, json!({"event_type": "x", "payload": {}, "webhook_url": "mailto:a@example.com", "retry_schedule": []})).await;
    server.wait_for_status(&acct, &mail, "failed", SOON).await;
    let rotated = server
        .post(
            "/v1/account/api-key/rotate",
            &acct.key,
            &json!({"keep_old_for": "1m"}),
        )
        .await
        .body;
    let new_keys = server
        .post("/v1/account/signing-keys/rotate", &acct.key, &json!({}))
        .await
        .body;
    let url = format!("http://hook-user:pa55-w0rd-xyz@{}/h", rx.addr);
    let id = server.publish(&acct, json!({"event_type": "x", "payload": {}, "webhook_url": url,
        "webhook_failover_url": refused_url().replace("127.0.0.1", "u:failover-secret@127.0.0.1"), "retry_schedule": []})).await;
    server.wait_for_status(&acct, &id, "failed", SOON).await;
    assert_eq!(
        server
            .get("/v1/events", "hp_wrong-key-attempt")
            .await
            .status,
        401
    );

    let log = server.log_text();
    assert!(
        log.contains("hookpost listening"),
        "the log was not captured"
    );
    for secret in [
        acct.key.as_str(),
        "hp_wrong-key-attempt",
        ADMIN_TOKEN,
        "pa55-w0rd-xyz",
        "failover-secret",
        keys["webhook_secret"].as_str().unwrap(),
        keys["webhook_secret"]
            .as_str()
            .unwrap()
            .trim_start_matches("whsec_"),
        keys["callback_token"].as_str().unwrap(),
        rotated["api_key"].as_str().unwrap(),
        new_keys["webhook_secret"]
            .as_str()
            .unwrap()
            .trim_start_matches("whsec_"),
        "smtp-pa55",
    ] {
        assert!(!log.contains(secret), "the log contains a secret: {secret}");
    }
}

#[tokio::test]
async fn metrics_count_publishes_requests_and_outcomes() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/down", Reply::Status(500));
    let acct = server.account().await;
    let ok = server
        .publish(
            &acct,
            json!({"event_type": "x", "payload": {}, "webhook_url": rx.url("/up")}),
        )
        .await;
    let body = json!({"event_type": "x", "payload": {}, "webhook_url": rx.url("/down"), "retry_schedule": [], "idempotency_key": "k"});
    let bad = server.publish(&acct, body.clone()).await;
    assert_eq!(
        server.post("/v1/events", &acct.key, &body).await.status,
        200
    );
    server.wait_for_status(&acct, &ok, "delivered", SOON).await;
    server.wait_for_status(&acct, &bad, "failed", SOON).await;

    let res = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap();
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = res.text().await.unwrap();
    for line in [
        "hookpost_events_accepted_total 2",
        "hookpost_events_duplicate_total 1",
        "hookpost_delivery_requests_total{result=\"success\"} 1",
        "hookpost_delivery_requests_total{result=\"failure\"} 1",
        "hookpost_deliveries_finished_total{status=\"delivered\"} 1",
        "hookpost_deliveries_finished_total{status=\"failed\"} 1",
        "hookpost_attempts_in_flight 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        );
    }
}
