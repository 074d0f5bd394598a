//! Signatures checked by verifiers hookpost did not write (see helpers::verify):
//! the `standardwebhooks` package, the Telnyx SDK, and a `v1a` check from the spec.

use crate::helpers::verify::verify;
use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn standard_and_telnyx_signatures_pass_independent_verifiers() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    let keys = server.get("/v1/account/keys", &acct.key).await.body;
    assert!(keys["webhook_secret"]
        .as_str()
        .unwrap()
        .starts_with("whsec_"));
    assert!(keys["standard_public_key"]
        .as_str()
        .unwrap()
        .starts_with("whpk_"));

    let payload =
        json!({"text": "Grüße 🚀 \"quoted\"", "n": 1.5, "nested": {"list": [1, 2, {"a": null}]}});
    let id = server.publish(&acct, json!({"event_type": "message.finalized", "payload": payload, "webhook_url": rx.url("/h")})).await;
    let got = &rx.wait_for(1, SOON).await[0];
    assert_eq!(got.header("webhook-id").as_deref(), Some(id.as_str()));

    let verdict = verify(got, &got.body, &keys);
    assert_eq!(
        verdict,
        json!({"standard_v1": "ok", "standard_v1a": "ok", "telnyx": "ok"})
    );
}

#[tokio::test]
async fn a_tampered_body_fails_every_verifier() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    let keys = server.get("/v1/account/keys", &acct.key).await.body;
    server
        .publish(
            &acct,
            json!({"event_type": "x", "payload": {"amount": 1}, "webhook_url": rx.url("/h")}),
        )
        .await;
    let got = &rx.wait_for(1, SOON).await[0];
    let tampered = String::from_utf8(got.body.to_vec())
        .unwrap()
        .replace("\"amount\":1", "\"amount\":9");
    let verdict = verify(got, tampered.as_bytes(), &keys);
    for scheme in ["standard_v1", "standard_v1a", "telnyx"] {
        assert_ne!(verdict[scheme], "ok", "{scheme} accepted a tampered body");
    }
}

#[tokio::test]
async fn another_accounts_keys_do_not_verify() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    let other = server.account().await;
    let other_keys = server.get("/v1/account/keys", &other.key).await.body;
    server
        .publish(
            &acct,
            json!({"event_type": "x", "payload": {}, "webhook_url": rx.url("/h")}),
        )
        .await;
    let got = &rx.wait_for(1, SOON).await[0];
    let verdict = verify(got, &got.body, &other_keys);
    for scheme in ["standard_v1", "standard_v1a", "telnyx"] {
        assert_ne!(
            verdict[scheme], "ok",
            "{scheme} verified with another account's key"
        );
    }
}

#[tokio::test]
async fn only_the_chosen_schemes_are_attached() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/h"), "signatures": ["telnyx"]}))
        .await;
    server
        .publish(&acct, json!({"event_type": "x", "payload": {}}))
        .await;
    let got = &rx.wait_for(1, SOON).await[0];
    assert!(got.header("webhook-signature").is_none());
    assert!(got.header("telnyx-signature-ed25519").is_some());
    assert!(got.header("telnyx-timestamp").is_some());
}
