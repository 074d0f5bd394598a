//! Endpoints through the whole stack: create, read, list, change, enable and
//! disable, delete (stopping their pending deliveries), stats, the events list
//! filtered by endpoint, and every refusal naming its field.

use crate::helpers::endpoints::*;
use crate::helpers::server::Answer;
use crate::helpers::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// `POST /v1/endpoints/{ep}/{action}` (`enable`, `disable`) with `{}`;
/// answers whatever the server said.
async fn switch(server: &TestServer, acct: &TestAccount, ep: &str, action: &str) -> Answer {
    server
        .post(
            &format!("/v1/endpoints/{ep}/{action}"),
            &acct.key,
            &json!({}),
        )
        .await
}

/// `GET /v1/endpoints/{ep}/stats`; answers whatever the server said.
async fn stats(server: &TestServer, acct: &TestAccount, ep: &str) -> Answer {
    server
        .get(&format!("/v1/endpoints/{ep}/stats"), &acct.key)
        .await
}

/// Polls event `id` until it is no longer pending (panics after [`SOON`]).
async fn wait_settled(server: &TestServer, acct: &TestAccount, id: &str) -> Value {
    server
        .wait_for_event(acct, id, |e| e["status"] != "pending", SOON)
        .await
        .unwrap_or_else(|e| panic!("the event stayed pending: {e:#}"))
}

/// A receiver that never answers `/hang`, an endpoint there with `settings`,
/// and a published `fax.delivered` event whose request has arrived and hangs:
/// the receiver, the endpoint id and the event id.
async fn a_hanging_delivery(
    server: &TestServer,
    acct: &TestAccount,
    settings: Value,
) -> (Receiver, String, String) {
    let rx = Receiver::start().await;
    rx.reply("/hang", Reply::Hang);
    let ep = endpoint_id(
        server,
        acct,
        json!({"url": rx.url("/hang"), "settings": settings}),
    )
    .await;
    let id = publish_fax_delivered(server, acct).await;
    rx.wait_for(1, SOON).await;
    (rx, ep, id)
}

#[tokio::test]
async fn an_endpoint_is_created_with_every_field_and_read_back() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    put_profile(&server, &acct, "p1").await;
    let body = json!({
        "url": "http://user:s3cret@127.0.0.1:9/in",
        "failover_url": "http://127.0.0.1:9/backup",
        "profile_id": "p1",
        "event_types": ["fax.*", "message.sent"],
        "description": "pager",
        "headers": {"X-Env": "prod"},
        "settings": {"format": "json", "signatures": ["standard"], "timeout": "3s", "retry_schedule": ["1s"]},
        "max_in_flight": 4,
        "rate_limit": "50/s",
    });
    let created = create_endpoint(&server, &acct, body).await;
    let id = id_of(&created);
    assert!(id.starts_with("ep_"), "{created:#}");
    assert_eq!(created["url"], "http://user:***@127.0.0.1:9/in");
    assert!(!created.to_string().contains("s3cret"), "{created:#}");
    assert_eq!(created["failover_url"], "http://127.0.0.1:9/backup");
    assert_eq!(created["profile_id"], "p1");
    assert_eq!(created["event_types"], json!(["fax.*", "message.sent"]));
    assert_eq!(created["description"], "pager");
    assert_eq!(created["headers"], json!({"X-Env": "prod"}));
    assert_eq!(created["settings"]["timeout"], "3s");
    assert_eq!(created["settings"]["signatures"], json!(["standard"]));
    assert_eq!(created["max_in_flight"], 4);
    assert_eq!(created["rate_limit"], "50/s");
    assert_eq!(created["state"], "enabled");
    assert!(created["created_at"].is_string() && created["updated_at"].is_string());

    let shown = server.get(&format!("/v1/endpoints/{id}"), &acct.key).await;
    assert_eq!(shown.status, 200, "{:?}", shown.body);
    assert_eq!(
        shown.body, created,
        "read back differs from the create answer"
    );
}

#[tokio::test]
async fn an_endpoint_with_only_a_url_takes_defaults() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let created = create_endpoint(&server, &acct, json!({"url": "http://127.0.0.1:9/in"})).await;
    assert_eq!(created["url"], "http://127.0.0.1:9/in");
    assert_eq!(created["event_types"], json!([]));
    assert_eq!(created["headers"], json!({}));
    assert_eq!(created["state"], "enabled");
    for field in [
        "failover_url",
        "profile_id",
        "description",
        "max_in_flight",
        "rate_limit",
    ] {
        assert!(created[field].is_null(), "{field}: {created:#}");
    }
}

#[tokio::test]
async fn every_bad_endpoint_is_refused_naming_the_field_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let ok = "http://127.0.0.1:9/in";
    let with = |extra: &str| format!(r#"{{"url": "{ok}", {extra}}}"#);
    // (body, field the refusal names, or the prefix it starts with)
    let cases: Vec<(String, &str, bool)> = vec![
        ("{}".into(), "url", true),
        (r#"{"url": null}"#.into(), "url", true),
        (r#"{"url": "not a url"}"#.into(), "url", true),
        (r#"{"url": "mailto:ops@example.com"}"#.into(), "url", true),
        (
            with(r#""failover_url": "mailto:ops@example.com""#),
            "failover_url",
            true,
        ),
        (with(r#""profile_id": "ghost""#), "profile_id", true),
        (with(r#""event_types": ["fax.**"]"#), "event_types", false),
        (with(r#""event_types": [""]"#), "event_types", false),
        (
            with(r#""event_types": ["fax.*", "*.sent"]"#),
            "event_types",
            false,
        ),
        (with(r#""event_types": "fax.*""#), "event_types", false),
        (
            with(r#""headers": {"X-Env": "a", "x-env": "b"}"#),
            "headers.x-env",
            true,
        ),
        (
            with(r#""headers": {"Host": "evil.example"}"#),
            "headers",
            false,
        ),
        (
            with(r#""headers": {"webhook-signature": "v1,forged"}"#),
            "headers",
            false,
        ),
        (
            with(r#""headers": {"Content-Type": "text/plain"}"#),
            "headers",
            false,
        ),
        (
            with(r#""headers": {"X-A": "a\r\nX-B: b"}"#),
            "headers",
            false,
        ),
        (with(r#""headers": {"X-A": "a\nb"}"#), "headers", false),
        (
            with(r#""settings": {"webhook_url": "http://127.0.0.1:9/x"}"#),
            "settings.webhook_url",
            true,
        ),
        (
            with(r#""settings": {"timeout": "forever"}"#),
            "settings.timeout",
            true,
        ),
        (with(r#""max_in_flight": 0"#), "max_in_flight", true),
        (with(r#""max_in_flight": -3"#), "max_in_flight", true),
        (with(r#""max_in_flight": 10001"#), "max_in_flight", true),
        (with(r#""rate_limit": "50/d""#), "rate_limit", true),
        (with(r#""rate_limit": "0/s""#), "rate_limit", true),
        (with(r#""rate_limit": "-5/s""#), "rate_limit", true),
        (with(r#""rate_limit": "fast""#), "rate_limit", true),
        (with(r#""disable_after": "0s""#), "disable_after", true),
        (with(r#""disable_after": "5""#), "disable_after", true),
        (with(r#""disable_after": "400d""#), "disable_after", true),
        (with(r#""colour": "red""#), "colour", true),
    ];
    for (body, field, exact) in &cases {
        let answer = server
            .call("POST", "/v1/endpoints", &acct.key, Some(body))
            .await;
        assert_eq!(answer.status, 422, "{body}: {:?}", answer.body);
        assert_eq!(
            answer.body["error"]["code"], "invalid_field",
            "{body}: {:?}",
            answer.body
        );
        if *exact {
            assert_refused(&answer, 422, field);
        } else {
            assert_refused_under(&answer, 422, field);
        }
    }
    let list = server.get("/v1/endpoints", &acct.key).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert_eq!(
        list.body["data"],
        json!([]),
        "a refused endpoint was stored"
    );
}

#[tokio::test]
async fn a_refused_change_leaves_the_endpoint_as_it_was() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let created = create_endpoint(
        &server,
        &acct,
        json!({"url": "http://127.0.0.1:9/in", "event_types": ["fax.*"], "headers": {"X-Env": "prod"}}),
    )
    .await;
    let path = format!("/v1/endpoints/{}", id_of(&created));
    let cases = [
        (r#"{"event_types": ["fax.**"]}"#, "event_types"),
        (r#"{"headers": {"X-Env": "a", "X-ENV": "b"}}"#, "headers"),
        (r#"{"headers": {"Host": "x"}}"#, "headers"),
        (
            r#"{"settings": {"webhook_url": "http://127.0.0.1:9/x"}}"#,
            "settings.webhook_url",
        ),
        (r#"{"profile_id": "ghost"}"#, "profile_id"),
        (r#"{"url": "mailto:ops@example.com"}"#, "url"),
        (r#"{"url": null}"#, "url"),
    ];
    for (body, field) in cases {
        let answer = server.call("PATCH", &path, &acct.key, Some(body)).await;
        assert_refused_under(&answer, 422, field);
    }
    let shown = server.get(&path, &acct.key).await.body;
    assert_eq!(shown, created, "a refused change was stored");
}

#[tokio::test]
async fn an_account_may_keep_at_most_max_endpoints() {
    let server = TestServer::start_with(&["--max-endpoints", "2"]).await;
    let acct = server.account().await;
    let body = json!({"url": "http://127.0.0.1:9/in"});
    let first = create_endpoint(&server, &acct, body.clone()).await;
    create_endpoint(&server, &acct, body.clone()).await;
    let third = server.post("/v1/endpoints", &acct.key, &body).await;
    assert_refused(&third, 422, "url");
    assert_eq!(third.body["error"]["code"], "invalid_field");
    let list = server.get("/v1/endpoints", &acct.key).await.body;
    assert_eq!(list["data"].as_array().unwrap().len(), 2, "{list:#}");

    let other = server.account().await;
    create_endpoint(&server, &other, body.clone()).await;

    assert_eq!(
        delete_endpoint(&server, &acct, &id_of(&first)).await.status,
        204
    );
    create_endpoint(&server, &acct, body).await;
}

#[tokio::test]
async fn another_accounts_endpoint_is_not_found_on_every_route() {
    let server = TestServer::start().await;
    let owner = server.account().await;
    let other = server.account().await;
    let created = create_endpoint(&server, &owner, json!({"url": "http://127.0.0.1:9/in"})).await;
    let id = id_of(&created);
    let base = format!("/v1/endpoints/{id}");
    let calls: Vec<(&str, String, Option<&str>)> = vec![
        ("GET", base.clone(), None),
        (
            "PATCH",
            base.clone(),
            Some(r#"{"description": "mine now"}"#),
        ),
        ("DELETE", base.clone(), None),
        ("POST", format!("{base}/disable"), None),
        ("POST", format!("{base}/enable"), None),
        ("POST", format!("{base}/test"), Some("{}")),
        (
            "POST",
            format!("{base}/replay"),
            Some(r#"{"since": "2000-01-01T00:00:00Z"}"#),
        ),
        ("GET", format!("{base}/stats"), None),
    ];
    for (method, path, body) in &calls {
        for (who, key) in [("another account", &other.key), ("nobody's id", &owner.key)] {
            let path = if who == "nobody's id" {
                path.replace(&id, "ep_0000000000000000000000000000dead")
            } else {
                path.clone()
            };
            let answer = server.call(method, &path, key, *body).await;
            assert_eq!(
                answer.status, 404,
                "{who}: {method} {path}: {:?}",
                answer.body
            );
            assert_eq!(
                answer.body["error"]["code"], "endpoint_not_found",
                "{who}: {method} {path}: {:?}",
                answer.body
            );
        }
    }
    assert_eq!(
        server.get("/v1/endpoints", &other.key).await.body["data"],
        json!([])
    );
    let shown = server.get(&base, &owner.key).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.body, created, "another account changed the endpoint");
    let events = server.get("/v1/events", &owner.key).await.body;
    assert_eq!(
        events["data"],
        json!([]),
        "another account's test event was stored"
    );
}

#[tokio::test]
async fn an_unknown_or_foreign_job_is_not_found() {
    let server = TestServer::start().await;
    let owner = server.account().await;
    let other = server.account().await;
    let ep = endpoint_id(&server, &owner, json!({"url": "http://127.0.0.1:9/in"})).await;
    let job = start_replay(
        &server,
        &owner,
        &ep,
        json!({"since": "2000-01-01T00:00:00Z"}),
    )
    .await;
    let job_id = job["id"].as_str().unwrap();
    assert!(job_id.starts_with("job_"), "{job:?}");
    assert_eq!(
        server
            .get(&format!("/v1/jobs/{job_id}"), &owner.key)
            .await
            .status,
        200
    );

    for (key, path) in [
        (
            &owner.key,
            "/v1/jobs/job_0000000000000000000000000000dead".to_string(),
        ),
        (&other.key, format!("/v1/jobs/{job_id}")),
    ] {
        for method in ["GET", "POST"] {
            let path = if method == "POST" {
                format!("{path}/cancel")
            } else {
                path.clone()
            };
            let answer = server.call(method, &path, key, None).await;
            assert_eq!(answer.status, 404, "{method} {path}: {:?}", answer.body);
            assert_eq!(
                answer.body["error"]["code"], "job_not_found",
                "{:?}",
                answer.body
            );
        }
    }
}

#[tokio::test]
async fn a_change_replaces_the_fields_given_and_null_clears_optional_ones() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    put_profile(&server, &acct, "p1").await;
    let created = create_endpoint(
        &server,
        &acct,
        json!({
            "url": "http://127.0.0.1:9/in",
            "failover_url": "http://127.0.0.1:9/backup",
            "profile_id": "p1",
            "event_types": ["fax.*"],
            "description": "pager",
            "headers": {"X-Env": "prod", "X-Team": "fax"},
            "max_in_flight": 4,
            "rate_limit": "50/s",
        }),
    )
    .await;
    let path = format!("/v1/endpoints/{}", id_of(&created));
    let changed = server
        .call(
            "PATCH",
            &path,
            &acct.key,
            Some(
                &json!({
                    "failover_url": null,
                    "profile_id": null,
                    "description": null,
                    "max_in_flight": null,
                    "rate_limit": null,
                    "event_types": ["fax.failed"],
                    "headers": {"X-Env": "staging"},
                })
                .to_string(),
            ),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let e = &changed.body;
    for field in [
        "failover_url",
        "profile_id",
        "description",
        "max_in_flight",
        "rate_limit",
    ] {
        assert!(e[field].is_null(), "{field} was not cleared: {e:#}");
    }
    assert_eq!(e["event_types"], json!(["fax.failed"]));
    assert_eq!(
        e["headers"],
        json!({"X-Env": "staging"}),
        "headers are replaced whole"
    );
    assert_eq!(e["url"], created["url"], "a field not named is kept");
    assert_eq!(e["id"], created["id"]);
    assert_eq!(e["created_at"], created["created_at"]);
    assert_eq!(e["state"], "enabled");
    assert_eq!(
        server.get(&path, &acct.key).await.body,
        *e,
        "the change was not stored"
    );

    let renamed = server
        .call(
            "PATCH",
            &path,
            &acct.key,
            Some(r#"{"url": "http://127.0.0.1:9/other"}"#),
        )
        .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    assert_eq!(renamed.body["url"], "http://127.0.0.1:9/other");
    assert_eq!(renamed.body["event_types"], json!(["fax.failed"]));
}

#[tokio::test]
async fn a_changed_endpoint_takes_events_under_its_new_subscription() {
    let (server, rx, acct) = server_receiver_account().await;
    let ep = subscriber(&server, &acct, rx.url("/old"), &["fax.*"]).await;
    let path = format!("/v1/endpoints/{ep}");
    let body = json!({"url": rx.url("/new"), "event_types": ["message.*"]}).to_string();
    assert_eq!(
        server
            .call("PATCH", &path, &acct.key, Some(&body))
            .await
            .status,
        200
    );

    let fax = publish_fax_delivered(&server, &acct).await;
    let msg = server
        .publish(&acct, json!({"event_type": "message.sent", "payload": {}}))
        .await;
    assert_eq!(server.event(&acct, &fax).await["status"], "filtered");
    server.wait_for_status(&acct, &msg, "delivered", SOON).await;
    assert!(rx.received_on("/old").is_empty(), "the old URL was used");
    assert_eq!(ids_on(&rx, "/new"), BTreeSet::from([msg]));
}

#[tokio::test]
async fn endpoints_are_listed_in_pages_and_by_profile() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    put_profile(&server, &acct, "p1").await;
    let mut all = BTreeSet::new();
    let mut bound = BTreeSet::new();
    for i in 0..5 {
        let mut body = json!({"url": format!("http://127.0.0.1:9/e{i}")});
        if i % 2 == 1 {
            body["profile_id"] = json!("p1");
        }
        let id = endpoint_id(&server, &acct, body).await;
        if i % 2 == 1 {
            bound.insert(id.clone());
        }
        all.insert(id);
    }

    let mut seen = Vec::new();
    let mut path = "/v1/endpoints?limit=2".to_string();
    let mut pages = 0;
    loop {
        let page = server.get(&path, &acct.key).await;
        assert_eq!(page.status, 200, "{path}: {:?}", page.body);
        let data = page.body["data"].as_array().unwrap();
        assert!(
            data.len() <= 2,
            "a page larger than its limit: {:?}",
            page.body
        );
        seen.extend(data.iter().map(|e| e["id"].as_str().unwrap().to_string()));
        pages += 1;
        assert!(pages <= 5, "the cursor does not end");
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/endpoints?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3, "five endpoints in pages of two: {seen:?}");
    assert_eq!(seen.len(), 5, "an endpoint shown twice: {seen:?}");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), all);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "not in id order");

    let p1 = server.get("/v1/endpoints?profile_id=p1", &acct.key).await;
    assert_eq!(p1.status, 200, "{:?}", p1.body);
    assert_eq!(listed_ids(&p1.body), bound);
    assert!(p1.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["profile_id"] == "p1"));
    assert!(p1.body["next_cursor"].is_null());
}

#[tokio::test]
async fn a_disabled_endpoint_takes_nothing_new_until_enabled() {
    let (server, rx, acct) = server_receiver_account().await;
    let a = endpoint_id(&server, &acct, json!({"url": rx.url("/a")})).await;
    let b = endpoint_id(&server, &acct, json!({"url": rx.url("/b")})).await;

    let off = switch(&server, &acct, &a, "disable").await;
    assert_eq!(off.status, 200, "{:?}", off.body);
    assert_eq!(off.body["state"], "disabled");
    assert_eq!(
        server
            .get(&format!("/v1/endpoints/{a}"), &acct.key)
            .await
            .body["state"],
        "disabled"
    );
    let while_off = post_fax_delivered(&server, &acct, json!({})).await;
    assert_eq!(while_off.status, 202);
    let planned: Vec<&Value> = while_off.body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(planned.len(), 1, "{:?}", while_off.body);
    assert_eq!(planned[0]["endpoint_id"], b.as_str());
    let e1 = id_of(&while_off.body);
    server.wait_for_status(&acct, &e1, "delivered", SOON).await;

    let on = switch(&server, &acct, &a, "enable").await;
    assert_eq!(on.status, 200, "{:?}", on.body);
    assert_eq!(on.body["state"], "enabled");
    let e2 = publish_fax_delivered(&server, &acct).await;
    server.wait_for_status(&acct, &e2, "delivered", SOON).await;

    assert_eq!(
        ids_on(&rx, "/a"),
        BTreeSet::from([e2.clone()]),
        "the disabled endpoint got an event"
    );
    assert_eq!(ids_on(&rx, "/b"), BTreeSet::from([e1, e2]));
}

#[tokio::test]
async fn a_disabled_endpoint_still_keeps_its_level_so_the_event_is_filtered() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = account_sending_to(&server, &rx, "/account").await;
    put_profile(&server, &acct, "p1").await;
    let ep = endpoint_id(
        &server,
        &acct,
        json!({"url": rx.url("/p1"), "profile_id": "p1"}),
    )
    .await;
    let off = switch(&server, &acct, &ep, "disable").await;
    assert_eq!(off.status, 200, "{:?}", off.body);

    let answer = post_fax_delivered(&server, &acct, json!({"profile_id": "p1"})).await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    assert_eq!(answer.body["status"], "filtered", "{:?}", answer.body);
    assert_eq!(answer.body["deliveries"], json!([]));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        rx.received().is_empty(),
        "the event fell through to the account's URL"
    );
}

#[tokio::test]
async fn deleting_an_endpoint_fails_its_pending_deliveries_and_the_others_complete() {
    let (server, rx, acct) = server_receiver_account().await;
    rx.reply("/doomed", Reply::Status(500));
    rx.reply("/slow", Reply::Delay(Duration::from_secs(3)));
    let doomed = endpoint_id(
        &server,
        &acct,
        json!({"url": rx.url("/doomed"), "settings": {"retry_schedule": ["1h"]}}),
    )
    .await;
    let slow = endpoint_id(&server, &acct, json!({"url": rx.url("/slow")})).await;
    let id = publish_fax_delivered(&server, &acct).await;
    server
        .wait_for_event(
            &acct,
            &id,
            |e| {
                let d = delivery_to(e, &doomed);
                d["attempts_made"] == 1 && d["in_flight"] == false
            },
            SOON,
        )
        .await
        .unwrap_or_else(|e| panic!("the first attempt to the doomed endpoint did not end: {e:#}"));

    let deleted = delete_endpoint(&server, &acct, &doomed).await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    let gone = server
        .get(&format!("/v1/endpoints/{doomed}"), &acct.key)
        .await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.body["error"]["code"], "endpoint_not_found");

    let now = server.event(&acct, &id).await;
    let d = delivery_to(&now, &doomed);
    assert_eq!(d["status"], "failed", "{now:#}");
    assert_eq!(d["reason"], "endpoint_deleted", "{now:#}");
    assert_eq!(
        delivery_to(&now, &slow)["status"],
        "pending",
        "the slow delivery should still be under way: {now:#}"
    );
    assert_eq!(
        now["status"], "pending",
        "pending while any delivery is: {now:#}"
    );

    let done = wait_settled(&server, &acct, &id).await;
    assert_eq!(delivery_to(&done, &slow)["status"], "delivered", "{done:#}");
    assert_eq!(done["status"], "failed", "one delivery failed: {done:#}");
    assert_eq!(rx.received_on("/slow").len(), 1);
    assert_eq!(
        rx.received_on("/doomed").len(),
        1,
        "the deleted endpoint was tried again"
    );
}

#[tokio::test]
async fn stats_count_an_endpoints_own_deliveries_by_status() {
    let (server, rx, acct) = server_receiver_account().await;
    let flaky = endpoint_id(
        &server,
        &acct,
        json!({"url": rx.url("/flaky"), "settings": {"retry_schedule": []}}),
    )
    .await;
    let steady = endpoint_id(&server, &acct, json!({"url": rx.url("/steady")})).await;
    for _ in 0..2 {
        let id = publish_fax_delivered(&server, &acct).await;
        server.wait_for_status(&acct, &id, "delivered", SOON).await;
    }
    rx.reply("/flaky", Reply::Status(500));
    let id = publish_fax_delivered(&server, &acct).await;
    server.wait_for_status(&acct, &id, "failed", SOON).await;

    let flaky_stats = stats(&server, &acct, &flaky).await;
    assert_eq!(flaky_stats.status, 200, "{:?}", flaky_stats.body);
    let s = &flaky_stats.body;
    assert_eq!(s["id"], flaky.as_str());
    assert_eq!(s["state"], "enabled");
    let expected = json!({"pending": 0, "delivered": 2, "failed": 1});
    assert_eq!(s["last_hour"], expected, "{s:#}");
    assert_eq!(s["last_day"], expected, "{s:#}");
    assert!(s["last_success_at"].is_string(), "{s:#}");
    assert!(s["last_failure_at"].is_string(), "{s:#}");
    assert!(
        s["last_failure_at"].as_str() > s["last_success_at"].as_str(),
        "the failure came last: {s:#}"
    );

    let other = stats(&server, &acct, &steady).await.body;
    assert_eq!(
        other["last_hour"],
        json!({"pending": 0, "delivered": 3, "failed": 0}),
        "{other:#}"
    );
    assert!(other["last_failure_at"].is_null(), "{other:#}");
}

#[tokio::test]
async fn the_events_list_filters_by_endpoint() {
    let (server, rx, acct) = server_receiver_account().await;
    let fax = subscriber(&server, &acct, rx.url("/fax"), &["fax.*"]).await;
    let msg = subscriber(&server, &acct, rx.url("/msg"), &["message.*"]).await;
    let mut fax_events = BTreeSet::new();
    let mut msg_events = BTreeSet::new();
    for t in [
        "fax.queued",
        "message.sent",
        "fax.delivered",
        "message.finalized",
        "fax.failed",
    ] {
        let id = server
            .publish(&acct, json!({"event_type": t, "payload": {}}))
            .await;
        server.wait_for_status(&acct, &id, "delivered", SOON).await;
        if t.starts_with("fax.") {
            fax_events.insert(id);
        } else {
            msg_events.insert(id);
        }
    }
    let by_fax = events_by_endpoint(&server, &acct, &fax).await;
    assert_eq!(by_fax.status, 200, "{:?}", by_fax.body);
    assert_eq!(listed_ids(&by_fax.body), fax_events);
    let by_msg = events_by_endpoint(&server, &acct, &msg).await;
    assert_eq!(listed_ids(&by_msg.body), msg_events);
    let paged = server
        .get(&format!("/v1/events?endpoint_id={fax}&limit=2"), &acct.key)
        .await;
    assert_eq!(paged.body["data"].as_array().unwrap().len(), 2);
    assert!(paged.body["next_cursor"].is_string(), "{:?}", paged.body);
    let other = server.account().await;
    let foreign = events_by_endpoint(&server, &other, &fax).await;
    assert!(
        foreign.status == 200 && foreign.body["data"] == json!([]) || foreign.status == 404,
        "another account listed events by this account's endpoint: {:?}",
        foreign.body
    );
}

#[tokio::test]
async fn a_delivery_in_flight_when_its_endpoint_is_deleted_is_not_tried_again() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let settings = json!({"timeout": "1s", "retry_schedule": ["100ms", "100ms"]});
    let (rx, ep, id) = a_hanging_delivery(&server, &acct, settings).await;
    let deleted = delete_endpoint(&server, &acct, &ep).await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);

    // The hanging request times out after 1s; its retries would follow 100ms later.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        rx.received_on("/hang").len(),
        1,
        "the deleted endpoint was tried again"
    );
    let e = wait_settled(&server, &acct, &id).await;
    let d = delivery_to(&e, &ep);
    assert_eq!(d["status"], "failed", "{e:#}");
    assert_eq!(d["reason"], "endpoint_deleted", "{e:#}");
    assert_eq!(e["status"], "failed", "{e:#}");
}

#[tokio::test]
async fn stats_count_a_delivery_under_way_as_pending() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let (_rx, ep, _) = a_hanging_delivery(&server, &acct, json!({"timeout": "30s"})).await;
    let s = stats(&server, &acct, &ep).await.body;
    let expected = json!({"pending": 1, "delivered": 0, "failed": 0});
    assert_eq!(s["last_hour"], expected, "{s:#}");
    assert_eq!(s["last_day"], expected, "{s:#}");
    assert!(
        s["last_success_at"].is_null() && s["last_failure_at"].is_null(),
        "{s:#}"
    );

    let off = switch(&server, &acct, &ep, "disable").await;
    assert_eq!(off.status, 200);
    let s = stats(&server, &acct, &ep).await.body;
    assert_eq!(s["state"], "disabled", "{s:#}");
}

#[tokio::test]
async fn bad_test_and_replay_requests_are_refused_naming_the_field() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let ep = endpoint_id(&server, &acct, json!({"url": "http://127.0.0.1:9/in"})).await;
    let test = format!("/v1/endpoints/{ep}/test");
    let replay = format!("/v1/endpoints/{ep}/replay");
    let cases: Vec<(&str, &str, &str)> = vec![
        (&test, r#"{"event_type": "has space"}"#, "event_type"),
        (&test, r#"{"payload": [1]}"#, "payload"),
        (&test, r#"{"colour": "red"}"#, "colour"),
        (&replay, r#"{}"#, "since"),
        (&replay, r#"{"since": "yesterday"}"#, "since"),
        (
            &replay,
            r#"{"since": "2030-01-01T00:00:00Z", "until": "2020-01-01T00:00:00Z"}"#,
            "until",
        ),
        (
            &replay,
            r#"{"since": "2000-01-01T00:00:00Z", "rate": 0}"#,
            "rate",
        ),
        (
            &replay,
            r#"{"since": "2000-01-01T00:00:00Z", "event_types": ["fax.**"]}"#,
            "event_types",
        ),
    ];
    for (path, body, field) in cases {
        let answer = server.call("POST", path, &acct.key, Some(body)).await;
        assert_refused_under(&answer, 422, field);
        assert_eq!(
            answer.body["error"]["code"], "invalid_field",
            "{body}: {:?}",
            answer.body
        );
    }
    let events = server.get("/v1/events", &acct.key).await.body;
    assert_eq!(events["data"], json!([]), "a refused test event was stored");
}
