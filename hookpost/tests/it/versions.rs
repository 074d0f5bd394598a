//! Per-version schemas on an event type: each versioned payload (`payloads.v2`)
//! is checked against its own version's schema and reaches receivers pinned to
//! that version.

use crate::helpers::server::Answer;
use crate::helpers::*;
use serde_json::{json, Value};

/// A `fax.delivered` type whose `v2` payloads count pages.
fn definition() -> Value {
    json!({
        "category": "postflight",
        "schema": {"type": "object", "required": ["fax_id"]},
        "versions": {"v2": {
            "schema": {"type": "object", "required": ["fax_id", "pages"],
                       "properties": {"fax_id": {"type": "string"}, "pages": {"type": "integer", "minimum": 1}}},
            "example": {"fax_id": "f-1", "pages": 3}
        }}
    })
}

/// A publish of `fax.delivered` with its main payload and a `v2` one.
fn with_v2(v2: Value) -> Value {
    json!({"event_type": "fax.delivered", "payload": {"fax_id": "f-1"},
           "payloads": {"v2": v2, "v3": {"unchecked": true}}})
}

/// Registers `fax.delivered` with only these `versions`.
async fn put_versions(server: &TestServer, acct: &TestAccount, versions: Value) -> Answer {
    server
        .put(
            "/v1/event-types/fax.delivered",
            &acct.key,
            &json!({"versions": versions}),
        )
        .await
}

#[tokio::test]
async fn a_versioned_payload_must_satisfy_its_version_schema_and_reaches_the_pinned_target() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/v2"), "version": "v2"}))
        .await;
    let put = server
        .put("/v1/event-types/fax.delivered", &acct.key, &definition())
        .await;
    assert_eq!(put.status, 201, "{:?}", put.body);
    let shown = server.get("/v1/event-types/fax.delivered", &acct.key).await;
    assert_eq!(shown.body["versions"], definition()["versions"]);

    let v2 = json!({"fax_id": "f-1", "pages": 3});
    let id = server.publish(&acct, with_v2(v2.clone())).await;
    server.wait_for_status(&acct, &id, "delivered", SOON).await;
    let got = &rx.wait_for(1, SOON).await[0];
    assert_eq!(got.json()["data"]["payload"], v2);
    assert_eq!(got.header("webhook-version").as_deref(), Some("v2"));

    let bad = server
        .post(
            "/v1/events",
            &acct.key,
            &with_v2(json!({"fax_id": "f-1", "pages": 0})),
        )
        .await;
    assert_refused(&bad, 422, "payloads.v2.pages");
    let main_still_checked = server
        .post(
            "/v1/events",
            &acct.key,
            &json!({"event_type": "fax.delivered", "payload": {}, "payloads": {"v2": v2}}),
        )
        .await;
    assert_refused(&main_still_checked, 422, "payload");
}

#[tokio::test]
async fn a_bad_versions_definition_is_refused_naming_the_field() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let schema = definition()["versions"]["v2"]["schema"].clone();
    let cases = [
        (
            json!({"v2": {"schema": {"type": "no-such-type"}}}),
            "versions.v2.schema",
        ),
        (
            json!({"v2": {"schema": schema, "example": {"fax_id": "f", "pages": "3"}}}),
            "versions.v2.example.pages",
        ),
        (json!({"v2": {"example": {}}}), "versions.v2.schema"),
        (
            json!({"v2": {"schema": {}, "exmple": {}}}),
            "versions.v2.exmple",
        ),
        (json!({"v\n2": {"schema": {}}}), "versions"),
    ];
    for (versions, field) in cases {
        assert_refused(&put_versions(&server, &acct, versions).await, 422, field);
    }
    assert_eq!(
        server
            .get("/v1/event-types/fax.delivered", &acct.key)
            .await
            .status,
        404,
        "nothing was stored"
    );
}
