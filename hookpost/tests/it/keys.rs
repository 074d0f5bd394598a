//! Keys: API keys kept as hashes and rotated; signing keys rotated with both the
//! old and the new signature on every delivery until the old ones retire.

use crate::helpers::verify::verify;
use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn an_api_key_rotation_can_keep_the_old_key_for_a_while_or_not_at_all() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let rotated = server
        .post(
            "/v1/account/api-key/rotate",
            &acct.key,
            &json!({"keep_old_for": "1h"}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let second = rotated.body["api_key"].as_str().unwrap().to_string();
    assert!(rotated.body["previous_key_valid_until"].is_string());
    assert_eq!(
        server.get("/v1/account", &acct.key).await.status,
        200,
        "the old key should still work"
    );
    assert_eq!(server.get("/v1/account", &second).await.status, 200);

    let third = server
        .call("POST", "/v1/account/api-key/rotate", &second, None)
        .await;
    let third = third.body["api_key"].as_str().unwrap().to_string();
    assert_eq!(
        server.get("/v1/account", &second).await.status,
        401,
        "without keep_old_for the old key stops at once"
    );
    assert_eq!(
        server.get("/v1/account", &acct.key).await.status,
        401,
        "the first key is long gone"
    );
    assert_eq!(
        server.get("/v1/account", &third).await.body["id"],
        acct.id.as_str()
    );
    let too_long = server
        .post(
            "/v1/account/api-key/rotate",
            &third,
            &json!({"keep_old_for": "400d"}),
        )
        .await;
    assert_eq!(too_long.body["error"]["field"], "keep_old_for");
}

#[tokio::test]
async fn during_a_signing_key_rotation_deliveries_verify_with_the_old_and_the_new_keys() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/h"), "signatures": ["standard", "telnyx"]}))
        .await;
    let old = server.get("/v1/account/keys", &acct.key).await.body;
    let rotated = server
        .call("POST", "/v1/account/signing-keys/rotate", &acct.key, None)
        .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let new = rotated.body.clone();
    assert_ne!(new["webhook_secret"], old["webhook_secret"]);
    assert_eq!(new["previous"]["webhook_secret"], old["webhook_secret"]);
    assert_eq!(server.get("/v1/account/keys", &acct.key).await.body, new);

    server
        .publish(&acct, json!({"event_type": "x", "payload": {"n": 1}}))
        .await;
    let got = &rx.wait_for(1, SOON).await[0];
    let signature = got.header("webhook-signature").unwrap();
    assert_eq!(signature.matches("v1,").count(), 2, "{signature}");
    assert_eq!(signature.matches("v1a,").count(), 2, "{signature}");
    let with_new = verify(got, &got.body, &new);
    assert_eq!(
        with_new,
        json!({"standard_v1": "ok", "standard_v1a": "ok", "telnyx": "ok"})
    );
    let with_old = verify(got, &got.body, &old);
    assert_eq!(with_old["standard_v1"], "ok");
    assert_eq!(with_old["standard_v1a"], "ok");
    assert_ne!(
        with_old["telnyx"], "ok",
        "the Telnyx header carries one signature: the new key's"
    );
}

#[tokio::test]
async fn old_signing_keys_retire_when_their_time_is_up() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/h"), "signatures": ["standard"]}))
        .await;
    let old = server.get("/v1/account/keys", &acct.key).await.body;
    let new = server
        .post(
            "/v1/account/signing-keys/rotate",
            &acct.key,
            &json!({"keep_old_for": "0s"}),
        )
        .await
        .body;
    assert!(new.get("previous").is_none() || new["previous"]["valid_until"].is_string());
    server
        .publish(&acct, json!({"event_type": "x", "payload": {}}))
        .await;
    let got = &rx.wait_for(1, SOON).await[0];
    assert_eq!(
        got.header("webhook-signature")
            .unwrap()
            .matches("v1,")
            .count(),
        1
    );
    assert_eq!(verify(got, &got.body, &new)["standard_v1"], "ok");
    assert_ne!(verify(got, &got.body, &old)["standard_v1"], "ok");
}
