//! The Phaxio signature covers the callback URL as the customer gave it, which
//! normalisation would change, while the request goes to its normalised form.

use crate::helpers::verify::verify_configured;
use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn phaxio_signs_the_callback_url_as_given_with_its_userinfo() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let given = format!("HTTP://user:pass@{}/cb/./x/../hook?b=2&a=1", rx.addr);
    let acct = server
        .account_with(json!({"webhook_url": given, "format": "form", "signatures": ["phaxio"]}))
        .await;
    let keys = server.get("/v1/account/keys", &acct.key).await.body;
    server
        .publish(
            &acct,
            json!({"event_type": "fax.delivered", "payload": {"fax_id": "f-1"}}),
        )
        .await;
    let got = &rx.wait_for(1, SOON).await[0];
    assert_eq!(got.path, "/cb/hook?b=2&a=1", "sent to the normalised URL");
    assert_eq!(
        got.header("authorization").as_deref(),
        Some("Basic dXNlcjpwYXNz"),
        "credentials travel as Basic auth, not in the request line"
    );
    assert_eq!(
        verify_configured(got, &got.body, &keys, &given),
        json!({"phaxio": "ok"})
    );
    assert_ne!(
        verify_configured(got, &got.body, &keys, &got.url)["phaxio"],
        "ok",
        "the request line's URL is not what was signed"
    );
    let shown = server.get("/v1/account/settings", &acct.key).await.body;
    assert_eq!(
        shown["webhook_url"],
        format!("http://user:***@{}/cb/hook?b=2&a=1", rx.addr),
        "shown normalised and masked"
    );
}
