//! The ready catalogs of event types, one per provider style, loaded in one call.

use crate::helpers::*;
use serde_json::{json, Value};

/// Phaxio's documented payloads by event type, and under `invalid` payloads that
/// break them with the field a refusal must name.
const PHAXIO_EXAMPLES: &str = include_str!("fixtures/phaxio_examples.json");

/// The category of each registered type, by name.
async fn categories(server: &TestServer, acct: &TestAccount) -> Value {
    let types = server.get("/v1/event-types", &acct.key).await.body;
    types["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["category"].clone(),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[tokio::test]
async fn the_phaxio_catalog_loads_and_checks_every_documented_payload() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let loaded = server
        .post(
            "/v1/event-types/catalog",
            &acct.key,
            &json!({"catalog": "phaxio"}),
        )
        .await;
    assert_eq!(loaded.status, 200, "{:?}", loaded.body);
    assert_eq!(loaded.body["catalog"], "phaxio");
    assert_eq!(
        categories(&server, &acct).await,
        json!({"fax_completed": "postflight", "transmitting_page": "inflight", "retry_scheduled": "inflight"})
    );
    assert_eq!(loaded.body["loaded"].as_array().unwrap().len(), 3);

    let mut examples: Value = serde_json::from_str(PHAXIO_EXAMPLES).unwrap();
    let invalid = examples.as_object_mut().unwrap().remove("invalid").unwrap();
    let documented = by_type(&examples);
    let names: std::collections::BTreeSet<_> = documented.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 3, "every type has documented payloads");
    for (name, payload) in documented {
        let event = json!({"event_type": name, "payload": payload});
        let answer = server.post("/v1/events", &acct.key, &event).await;
        assert_eq!(answer.status, 202, "{name}: {:?}", answer.body);
    }
    let invalid = by_type(&invalid);
    assert!(!invalid.is_empty());
    for (name, case) in invalid {
        let event = json!({"event_type": name, "payload": case["payload"]});
        let answer = server.post("/v1/events", &acct.key, &event).await;
        assert_refused(&answer, 422, case["field"].as_str().unwrap());
    }
}

/// `{type: [item, …]}` as (type, item) pairs.
fn by_type(groups: &Value) -> Vec<(String, Value)> {
    let groups = groups.as_object().unwrap();
    groups
        .iter()
        .flat_map(|(name, items)| {
            let items = items.as_array().unwrap();
            items.iter().map(move |item| (name.clone(), item.clone()))
        })
        .collect()
}

#[tokio::test]
async fn an_empty_body_still_loads_telnyx_and_an_unknown_catalog_lists_the_choices() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let loaded = server
        .call("POST", "/v1/event-types/catalog", &acct.key, None)
        .await;
    assert_eq!(
        (loaded.status, loaded.body["catalog"].as_str()),
        (200, Some("telnyx")),
        "{:?}",
        loaded.body
    );
    assert_eq!(loaded.body["loaded"].as_array().unwrap().len(), 8);
    assert_eq!(
        categories(&server, &acct).await["fax.sending.started"],
        "postflight"
    );

    let unknown = server
        .post(
            "/v1/event-types/catalog",
            &acct.key,
            &json!({"catalog": "twilio"}),
        )
        .await;
    assert_refused(&unknown, 422, "catalog");
    let message = unknown.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("telnyx") && message.contains("phaxio"),
        "{message}"
    );
}
