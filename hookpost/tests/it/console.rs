//! The console over HTTP: portal links (scope, expiry, revocation, refusals),
//! what a session may do (CSRF, read-only, profile scope, cookies, headers),
//! output escaping, the operator's view, and an endpoint made in the console
//! delivering with its attempts shown. The real-browser flows are in
//! `tests/browser/`.

use crate::helpers::console::Console;
use crate::helpers::endpoints::*;
use crate::helpers::*;
use serde_json::json;
use std::time::Duration;

/// A portal link for `acct` made with `body`; panics unless `201`.
async fn portal_link(server: &TestServer, acct: &TestAccount, body: serde_json::Value) -> String {
    let answer = server.post("/v1/portal-links", &acct.key, &body).await;
    assert_eq!(answer.status, 201, "portal link {body}: {:?}", answer.body);
    answer.body["url"].as_str().unwrap().to_string()
}

/// A browser that opened `url`; panics unless the link was taken.
async fn opened(server: &TestServer, url: &str) -> Console {
    let mut console = Console::new(server);
    let answer = console.open(url).await;
    assert_eq!(answer.status, 303, "portal link refused: {}", answer.body);
    assert_eq!(answer.location(), "/console");
    console
}

/// An account with one endpoint (on `rx`) and one published event.
async fn account_with_data(server: &TestServer, rx: &Receiver) -> (TestAccount, String, String) {
    let acct = server.account().await;
    let ep = subscriber(server, &acct, rx.url("/a"), &[]).await;
    let event = publish_fax_delivered(server, &acct).await;
    (acct, ep, event)
}

#[tokio::test]
async fn a_portal_link_shows_only_its_account_until_it_expires_or_is_revoked() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let (a, ep_a, event_a) = account_with_data(&server, &rx).await;
    let (_b, ep_b, event_b) = account_with_data(&server, &rx).await;
    let url = portal_link(&server, &a, json!({"expires_in": "1h"})).await;
    assert!(url.contains("/console/portal?token="), "{url}");
    let console = opened(&server, &url).await;

    let list = console.get("/console/endpoints").await;
    assert_eq!(list.status, 200);
    assert!(
        list.body.contains(&ep_a) && !list.body.contains(&ep_b),
        "{}",
        list.body
    );
    assert_eq!(
        console
            .get(&format!("/console/endpoints/{ep_a}"))
            .await
            .status,
        200
    );
    assert_eq!(
        console
            .get(&format!("/console/endpoints/{ep_b}"))
            .await
            .status,
        404
    );
    assert_eq!(
        console
            .get(&format!("/console/events/{event_a}"))
            .await
            .status,
        200
    );
    assert_eq!(
        console
            .get(&format!("/console/events/{event_b}"))
            .await
            .status,
        404
    );
    let events = console.get("/console/events").await;
    assert!(events.body.contains(&event_a) && !events.body.contains(&event_b));

    // A short link lapses; an altered one never opens.
    let short = portal_link(&server, &a, json!({"expires_in": "1s"})).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let expired = Console::new(&server).open(&short).await;
    assert_eq!(expired.status, 403, "{}", expired.body);
    assert!(expired.body.contains("expired"), "{}", expired.body);
    let altered = Console::new(&server).open(&format!("{url}x")).await;
    assert_eq!(altered.status, 403);

    // Revoking ends the links made so far, and the sessions they opened.
    let revoked = server
        .post("/v1/portal-links/revoke", &a.key, &json!({}))
        .await;
    assert_eq!(revoked.status, 200, "{:?}", revoked.body);
    assert_eq!(Console::new(&server).open(&url).await.status, 403);
    let after = console.get("/console/endpoints").await;
    assert_eq!((after.status, after.location()), (303, "/console/sign-in"));
    tokio::time::sleep(Duration::from_millis(5)).await;
    let fresh = portal_link(&server, &a, json!({})).await;
    opened(&server, &fresh).await;
}

#[tokio::test]
async fn portal_link_requests_are_checked_field_by_field() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    for (body, field) in [
        (json!({"expires_in": "0s"}), "expires_in"),
        (json!({"expires_in": "31d"}), "expires_in"),
        (json!({"expires_in": 5}), "expires_in"),
        (json!({"profile_id": "+15550000000"}), "profile_id"),
        (json!({"read_only": "yes"}), "read_only"),
        (json!({"scope": "all"}), "scope"),
    ] {
        let answer = server.post("/v1/portal-links", &acct.key, &body).await;
        assert_refused(&answer, 422, field);
    }
    let anonymous = server.post("/v1/portal-links", "", &json!({})).await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn a_profile_link_shows_that_profile_and_a_read_only_link_changes_nothing() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    assert_eq!(
        put_profile(&server, &acct, "+13125550000").await.status,
        201
    );
    let own = endpoint_id(
        &server,
        &acct,
        json!({"url": rx.url("/p"), "profile_id": "+13125550000"}),
    )
    .await;
    let other = subscriber(&server, &acct, rx.url("/a"), &[]).await;
    let url = portal_link(&server, &acct, json!({"profile_id": "+13125550000"})).await;
    let console = opened(&server, &url).await;
    let list = console.get("/console/endpoints").await;
    assert!(
        list.body.contains(&own) && !list.body.contains(&other),
        "{}",
        list.body
    );
    assert_eq!(
        console
            .get(&format!("/console/endpoints/{other}"))
            .await
            .status,
        404
    );
    let secrets = console
        .post("/console/keys", "/console/keys/reveal", &[])
        .await;
    assert_eq!(
        secrets.status, 403,
        "a profile's customer must not see the signing secrets"
    );
    assert!(!secrets.body.contains("whsec_"));
    let settings = console.get("/console/settings").await;
    assert_eq!(settings.location(), "/console/profiles/%2B13125550000");

    let read_only = portal_link(&server, &acct, json!({"read_only": true})).await;
    let viewer = opened(&server, &read_only).await;
    let page = viewer.get("/console/endpoints").await;
    assert!(page.body.contains(&own) && !page.body.contains("create-endpoint"));
    let create = viewer
        .post(
            "/console/endpoints",
            "/console/endpoints",
            &[("url", &rx.url("/x"))],
        )
        .await;
    assert_eq!(create.status, 403, "{}", create.body);
    let disable = viewer
        .post(
            "/console",
            &format!("/console/endpoints/{own}/disable"),
            &[],
        )
        .await;
    assert_eq!(disable.status, 403);
    let listed = server.get("/v1/endpoints", &acct.key).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);
    assert!(listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["state"] == "enabled"));
}

#[tokio::test]
async fn forms_need_the_sessions_csrf_token_and_the_cookie_and_headers_are_locked_down() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    let mut console = Console::new(&server);
    let signed = console.sign_in(&acct.key).await;
    let cookie = signed.header("set-cookie").unwrap().to_string();
    for flag in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/console"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(
        !cookie.contains(&acct.key),
        "the cookie must not hold the key"
    );

    let url = rx.url("/c");
    let missing = console
        .post_raw("/console/endpoints", &[("url", &url)])
        .await;
    let wrong = console
        .post_raw("/console/endpoints", &[("csrf", "forged"), ("url", &url)])
        .await;
    assert_eq!((missing.status, wrong.status), (403, 403));
    assert_eq!(
        server.get("/v1/endpoints", &acct.key).await.body["data"],
        json!([])
    );
    let made = console
        .post("/console/endpoints", "/console/endpoints", &[("url", &url)])
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    assert!(
        made.location().contains("/console/endpoints/ep_"),
        "{}",
        made.location()
    );

    let page = console.get("/console").await;
    let policy = page.header("content-security-policy").unwrap();
    assert!(
        policy.contains("default-src 'none'") && !policy.contains("script-src"),
        "{policy}"
    );
    assert!(policy.contains("frame-ancestors 'none'"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(
        !page.body.contains("<script"),
        "the console has no script at all"
    );

    let elsewhere = Console::new(&server)
        .sign_in_from("http://attacker.invalid", &acct.key)
        .await;
    assert_eq!(elsewhere.status, 403, "a sign-in posted from another site");
    assert!(elsewhere.header("set-cookie").is_none());
    let wrong_key = Console::new(&server).sign_in("hp_not-a-key").await;
    assert_eq!(wrong_key.status, 401);
    assert!(wrong_key.header("set-cookie").is_none());
    let signed_out = Console::new(&server).get("/console/events").await;
    assert_eq!(
        (signed_out.status, signed_out.location()),
        (303, "/console/sign-in")
    );
}

#[tokio::test]
async fn a_payload_holding_markup_is_shown_as_inert_text() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    let event = server
        .publish(
            &acct,
            json!({"event_type": "fax.delivered", "payload": {"note": hostile}}),
        )
        .await;
    let console = Console::signed_in(&server, &acct.key).await;
    let page = console.get(&format!("/console/events/{event}")).await;
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains("<script>alert(1)") && !page.body.contains("<img src=x"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_operator_sees_accounts_the_queue_and_failing_endpoints() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    rx.reply("/down", Reply::Status(500));
    let acct = server.account().await;
    let ep = subscriber(&server, &acct, rx.url("/down"), &[]).await;
    let event = publish_fax_delivered(&server, &acct).await;
    rx.wait_for_on("/down", 1, SOON).await;
    server
        .wait_for_event(
            &acct,
            &event,
            |e| e["attempts"].as_array().is_some_and(|a| !a.is_empty()),
            SOON,
        )
        .await
        .unwrap();
    let operator = Console::signed_in(&server, ADMIN_TOKEN).await;
    let page = operator.get("/console").await;
    assert_eq!(page.status, 200);
    for needle in [
        acct.id.as_str(),
        ep.as_str(),
        event.as_str(),
        "id=\"queue-due\"",
        "this node",
    ] {
        assert!(
            page.body.contains(needle),
            "{needle} missing: {}",
            page.body
        );
    }
    assert!(
        page.body
            .contains("1 in the last 60 minutes, 0 succeeded, 1 failed."),
        "{}",
        page.body
    );
    // An account's session sees no operator page, and the operator no account page.
    let account = Console::signed_in(&server, &acct.key).await;
    assert!(!account.get("/console").await.body.contains("queue-due"));
    assert_eq!(operator.get("/console/endpoints").await.status, 403);
}

#[tokio::test]
async fn an_endpoint_made_in_the_console_takes_a_test_event_and_shows_the_attempt() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    let console = Console::signed_in(&server, &acct.key).await;
    let fields = [
        ("url", rx.url("/hook")),
        ("event_types", "fax.*, message.finalized".into()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let made = console
        .post("/console/endpoints", "/console/endpoints", &fields)
        .await;
    let page = made.location().split('?').next().unwrap().to_string();
    let ep = page.rsplit('/').next().unwrap().to_string();
    let shown = server.get(&format!("/v1/endpoints/{ep}"), &acct.key).await;
    assert_eq!(
        shown.body["event_types"],
        json!(["fax.*", "message.finalized"])
    );

    let tested = console
        .post(
            &page,
            &format!("{page}/test"),
            &[("event_type", "fax.delivered")],
        )
        .await;
    assert_eq!(tested.location(), format!("{page}?done=tested"));
    let got = rx.wait_for_on("/hook", 1, SOON).await;
    let event = got[0].json()["data"]["id"].as_str().unwrap().to_string();
    server
        .wait_for_status(&acct, &event, "delivered", SOON)
        .await;
    let endpoint_page = console.get(&page).await;
    assert!(
        endpoint_page.body.contains(&event),
        "{}",
        endpoint_page.body
    );
    assert!(
        endpoint_page.body.contains("1 succeeded, 0 failed."),
        "{}",
        endpoint_page.body
    );
    let event_page = console.get(&format!("/console/events/{event}")).await;
    assert!(
        event_page.body.contains("<tr class=\"attempt\">"),
        "{}",
        event_page.body
    );
    assert!(event_page.body.contains("HTTP 200"));
}
