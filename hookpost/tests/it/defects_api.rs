//! Fixed defects of the API: listing by profile and the last page, clear
//! messages, values that cannot be read, bodies that are not objects, and one
//! error shape for every client error.

use crate::helpers::*;
use serde_json::{json, Value};

const PROFILE: &str = "+13125550000";

// 7. Listing by profile, and the last page.

#[tokio::test]
async fn listing_by_profile_id_wants_the_plus_percent_encoded() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let k = acct.key.as_str();
    assert_eq!(
        server
            .put("/v1/profiles/%2B13125550000", k, &json!({}))
            .await
            .status,
        201
    );
    let id = server
        .publish(
            &acct,
            json!({"event_type": "x", "payload": {}, "profile_id": PROFILE}),
        )
        .await;

    let plain = server.get("/v1/events?profile_id=+13125550000", k).await;
    assert_refused(&plain, 422, "profile_id");
    assert!(
        plain.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("%2B"),
        "{:?}",
        plain.body
    );
    let encoded = server.get("/v1/events?profile_id=%2B13125550000", k).await;
    assert_eq!(encoded.status, 200, "{:?}", encoded.body);
    assert_eq!(encoded.body["data"][0]["id"], id.as_str());
    assert_eq!(encoded.body["data"].as_array().unwrap().len(), 1);
    assert_refused(
        &server.get("/v1/events?profile_id=ghost", k).await,
        422,
        "profile_id",
    );
}

#[tokio::test]
async fn a_page_that_ends_the_list_has_no_next_cursor() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let k = acct.key.as_str();
    for i in 0..3 {
        server
            .publish(&acct, json!({"event_type": "x", "payload": {"i": i}}))
            .await;
    }
    let all = server.get("/v1/events?limit=3", k).await.body;
    assert_eq!(all["data"].as_array().unwrap().len(), 3);
    assert!(
        all["next_cursor"].is_null(),
        "a full last page has a cursor: {all}"
    );

    let first = server.get("/v1/events?limit=2", k).await.body;
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a cursor after 2 of 3");
    let rest = server
        .get(&format!("/v1/events?limit=2&cursor={cursor}"), k)
        .await
        .body;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1, "{rest}");
    assert!(rest["next_cursor"].is_null(), "{rest}");

    for p in ["p1", "p2"] {
        server
            .put(&format!("/v1/profiles/{p}"), k, &json!({}))
            .await;
    }
    let profiles = server.get("/v1/profiles?limit=2", k).await.body;
    assert_eq!(profiles["data"].as_array().unwrap().len(), 2);
    assert!(profiles["next_cursor"].is_null(), "{profiles}");
}

// 9. Clear messages.

#[tokio::test]
async fn a_bad_since_asks_for_rfc_3339() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let answer = server.get("/v1/events?since=yesterday", &acct.key).await;
    assert_refused(&answer, 422, "since");
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("RFC 3339"),
        "{:?}",
        answer.body
    );
}

#[tokio::test]
async fn a_camel_case_field_is_named() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let answer = server
        .publish_text(&acct, r#"{"eventType": "x", "payload": {}}"#)
        .await;
    assert_refused(&answer, 422, "eventType");
}

// 10. Values that cannot be read.

#[tokio::test]
async fn numbers_and_strings_that_cannot_be_kept_are_refused() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let cases = [
        (
            r#"{"event_type": "x", "payload": {"n": 1e999}}"#,
            Some("payload"),
        ),
        (r#"{"event_type": "x", "payload": {"s": "\ud800"}}"#, None),
        (
            r#"{"event_type": "x", "payload": {}, "payloads": {"v2": {"n": -1e999}}}"#,
            Some("payloads"),
        ),
    ];
    for (body, field) in cases {
        let answer = server.publish_text(&acct, body).await;
        match field {
            Some(prefix) => assert_refused_under(&answer, 422, prefix),
            None => {
                assert_eq!(answer.status, 422, "{body}: {:?}", answer.body);
                assert_error_shape(&answer);
            }
        }
    }
    let list = server.get("/v1/events", &acct.key).await;
    assert_eq!(list.body["data"], json!([]), "a refused publish was stored");
}

/// Breaks the stored row of event `id` behind the server's back.
async fn corrupt_event_row(server: &TestServer, id: &str) {
    let statement = format!("UPDATE events SET payload = 'not json' WHERE id = '{id}'");
    assert_eq!(database::sql(server, &statement).await, 1);
    let statement = format!("UPDATE deliveries SET target = '{{broken' WHERE event_id = '{id}'");
    assert_eq!(database::sql(server, &statement).await, 1);
}

#[tokio::test]
async fn a_row_that_cannot_be_decoded_is_shown_as_unreadable_and_the_rest_reads() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/x")}))
        .await;
    let broken = server
        .publish(&acct, json!({"event_type": "x", "payload": {"n": 1}}))
        .await;
    server
        .wait_for_status(&acct, &broken, "delivered", SOON)
        .await;
    let healthy = server
        .publish(&acct, json!({"event_type": "x", "payload": {"n": 2}}))
        .await;
    corrupt_event_row(&server, &broken).await;

    let one = server.get(&format!("/v1/events/{broken}"), &acct.key).await;
    assert_eq!(one.status, 200, "{:?}", one.body);
    assert!(
        one.body["unreadable"]
            .as_str()
            .is_some_and(|u| u.contains("payload") && u.contains("delivery 0")),
        "{:?}",
        one.body
    );
    let list = server.get("/v1/events", &acct.key).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    let find = |id: &str| {
        list.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed: {:?}", list.body))
            .clone()
    };
    assert!(find(&broken)["unreadable"].is_string(), "{:?}", list.body);
    let good = find(&healthy);
    assert!(good.get("unreadable").is_none_or(Value::is_null), "{good}");
    assert_eq!(good["payload"], json!({"n": 2}), "{good}");
}

// 11.–13. Bodies that are not objects, a batch of one, wrong types.

#[tokio::test]
async fn bodies_must_be_json_objects() {
    let server = TestServer::start().await;
    let acct = server.account_with(json!({"timeout": "3s"})).await;
    let k = acct.key.as_str();
    let before = server.get("/v1/account/settings", k).await.body;
    let call =
        |method: &'static str, path: &'static str, token: &'static str, body: &'static str| {
            let token = if token == "admin" { ADMIN_TOKEN } else { k };
            server.call(method, path, token, Some(body))
        };
    assert_refused(
        &call("POST", "/v1/accounts", "admin", r#"["x"]"#).await,
        422,
        "body",
    );
    let settings = call("PUT", "/v1/account/settings", "key", "[]").await;
    assert_eq!(settings.status, 422, "{:?}", settings.body);
    assert_error_shape(&settings);
    assert_eq!(server.get("/v1/account/settings", k).await.body, before);
    let event_type = call("PUT", "/v1/event-types/t", "key", r#"["inflight"]"#).await;
    assert_eq!(event_type.status, 422, "{:?}", event_type.body);
    assert_error_shape(&event_type);
    assert_refused(
        &call(
            "POST",
            "/v1/accounts",
            "admin",
            r#"{"name": "a", "settings": []}"#,
        )
        .await,
        422,
        "settings",
    );
}

#[tokio::test]
async fn a_batch_of_one_names_the_field_inside_it() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let body = r#"{"events": [{"event_type": "x", "payload": 3}]}"#;
    let answer = server
        .call("POST", "/v1/events/batch", &acct.key, Some(body))
        .await;
    assert_refused(&answer, 422, "events[0].payload");
}

#[tokio::test]
async fn wrong_types_are_errors_of_their_field() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    for body in [r#"{"category": null}"#, r#"{"category": 1}"#] {
        let answer = server
            .call("PUT", "/v1/event-types/t", &acct.key, Some(body))
            .await;
        assert_refused(&answer, 422, "category");
    }
    let answer = server
        .publish_text(&acct, r#"{"event_type":"x","payload":{},"format":null}"#)
        .await;
    assert_refused(&answer, 422, "format");
}

// 14. One error shape for every 4xx.

#[tokio::test]
async fn every_client_error_has_the_same_shape() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let k = acct.key.as_str();
    let delete = server.call("DELETE", "/v1/events", k, None).await;
    assert_eq!(delete.status, 405, "{:?}", delete.body);
    assert_error_shape(&delete);
    assert_eq!(delete.body["error"]["code"], "method_not_allowed");

    let bad_id = server.get("/v1/events/%FF", k).await;
    assert!(
        [404, 422].contains(&bad_id.status),
        "{} {:?}",
        bad_id.status,
        bad_id.body
    );
    assert_error_shape(&bad_id);

    assert_refused(
        &server.get("/v1/events?limit=1&limit=2", k).await,
        422,
        "limit",
    );

    let empty_key = server
        .publish_text(&acct, r#"{"event_type": "x", "payload": {}, "": 1}"#)
        .await;
    assert_eq!(empty_key.status, 422, "{:?}", empty_key.body);
    assert_error_shape(&empty_key);
    assert_ne!(empty_key.body["error"]["field"], "", "{:?}", empty_key.body);

    let no_key = server.get("/v1/events", "").await;
    assert_eq!(no_key.status, 401);
    assert_error_shape(&no_key);
}
