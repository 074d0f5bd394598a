//! Target resolution through the whole stack: request → profile → account → none.

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn each_level_of_the_hierarchy_delivers_to_its_own_url() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/account")}))
        .await;
    let p = server
        .put(
            "/v1/profiles/+13125550000",
            &acct.key,
            &json!({"webhook_url": rx.url("/profile")}),
        )
        .await;
    assert_eq!(p.status, 201, "{:?}", p.body);

    let cases = [
        (
            json!({"profile_id": "+13125550000", "webhook_url": rx.url("/request")}),
            "request",
            "/request",
        ),
        (json!({"profile_id": "+13125550000"}), "profile", "/profile"),
        (json!({}), "account", "/account"),
    ];
    for (extra, level, path) in cases {
        let mut body = json!({"event_type": "fax.delivered", "payload": {"fax_id": level}});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let answer = server.post("/v1/events", &acct.key, &body).await;
        assert_eq!(answer.status, 202, "{:?}", answer.body);
        assert_eq!(answer.body["target"]["level"], level);
        assert_eq!(answer.body["target"]["webhook_url"], rx.url(path));
        let id = answer.body["id"].as_str().unwrap();
        server.wait_for_status(&acct, id, "delivered", SOON).await;
        let got = rx.received_on(path);
        assert_eq!(got.len(), 1, "one delivery to {path}");
        assert_eq!(got[0].json()["data"]["id"], id);
        assert_eq!(got[0].json()["data"]["payload"]["fax_id"], level);
    }
}

#[tokio::test]
async fn an_event_without_any_url_is_stored_as_no_target_and_nothing_is_sent() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    server
        .put("/v1/profiles/empty", &acct.key, &json!({"version": "v2"}))
        .await;
    let answer = server
        .post(
            "/v1/events",
            &acct.key,
            &json!({"event_type": "fax.queued", "payload": {}, "profile_id": "empty"}),
        )
        .await;
    assert_eq!(answer.status, 202);
    assert_eq!(answer.body["status"], "no_target");
    assert!(answer.body["target"].is_null());
    let event = server
        .event(&acct, answer.body["id"].as_str().unwrap())
        .await;
    assert_eq!(event["status"], "no_target");
    assert_eq!(event["attempts"], json!([]));
}

#[tokio::test]
async fn a_request_url_without_failover_does_not_inherit_the_profiles_failover() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/req", Reply::Status(500));
    let acct = server.account().await;
    let profile = json!({"webhook_url": rx.url("/p"), "webhook_failover_url": rx.url("/pf")});
    server.put("/v1/profiles/p1", &acct.key, &profile).await;
    let body = json!({"event_type": "x", "payload": {}, "profile_id": "p1", "webhook_url": rx.url("/req"),
                      "retry_schedule": []});
    let answer = server.post("/v1/events", &acct.key, &body).await;
    assert!(answer.body["target"]["webhook_failover_url"].is_null());
    server
        .wait_for_status(&acct, answer.body["id"].as_str().unwrap(), "failed", SOON)
        .await;
    assert!(
        rx.received_on("/pf").is_empty(),
        "the profile's failover must not be used"
    );
}

#[tokio::test]
async fn other_settings_are_taken_field_by_field_from_the_most_specific_level() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(
            json!({"webhook_url": rx.url("/a"), "version": "2024-01", "signatures": ["standard"]}),
        )
        .await;
    server
        .put("/v1/profiles/p", &acct.key, &json!({"timeout": "3s"}))
        .await;
    let answer = server
        .post(
            "/v1/events",
            &acct.key,
            &json!({"event_type": "x", "payload": {}, "profile_id": "p", "version": "2025-06"}),
        )
        .await;
    let target = &answer.body["target"];
    assert_eq!(target["level"], "account");
    assert_eq!(target["version"], "2025-06");
    assert_eq!(target["timeout"], "3s");
    assert_eq!(target["signatures"], json!(["standard"]));
    let got = rx.wait_for(1, SOON).await;
    assert_eq!(got[0].header("webhook-version").as_deref(), Some("2025-06"));
    assert!(got[0].header("telnyx-signature-ed25519").is_none());
}
