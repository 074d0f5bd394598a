//! The shell subcommands against a running server.

use crate::helpers::*;
use std::process::Command;

fn hookpost(server: &TestServer, token: &str, args: &[&str]) -> serde_json::Value {
    // `create-account` takes the admin token where the server does.
    let variable = if args[0] == "create-account" {
        "HOOKPOST_ADMIN_TOKEN"
    } else {
        "HOOKPOST_TOKEN"
    };
    let out = Command::new(env!("CARGO_BIN_EXE_hookpost"))
        .args(args)
        .env("HOOKPOST_URL", &server.url)
        .env(variable, token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hookpost {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn create_account_publish_and_show_event_from_the_shell() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let account = hookpost(&server, ADMIN_TOKEN, &["create-account", "--name", "shell"]);
    let key = account["api_key"].as_str().unwrap();
    let url = rx.url("/shell");
    let published = hookpost(
        &server,
        key,
        &[
            "publish",
            "--event-type",
            "fax.delivered",
            "--payload",
            r#"{"fax_id":"f"}"#,
            "--webhook-url",
            &url,
        ],
    );
    let id = published["id"].as_str().unwrap();
    rx.wait_for(1, SOON).await;
    let acct = TestAccount {
        id: account["id"].as_str().unwrap().into(),
        key: key.into(),
    };
    server.wait_for_status(&acct, id, "delivered", SOON).await;
    let loaded = hookpost(&server, key, &["load-catalog"]);
    assert_eq!(loaded["catalog"], "telnyx", "the default");
    assert_eq!(loaded["loaded"].as_array().unwrap().len(), 8);
    let shown = hookpost(&server, key, &["show-event", id]);
    assert_eq!(shown["status"], "delivered");
    assert_eq!(shown["attempts"][0]["http_status"], 200);

    let refused = Command::new(env!("CARGO_BIN_EXE_hookpost"))
        .args(["publish", "--event-type", "x", "--payload", "[1]"])
        .env("HOOKPOST_URL", &server.url)
        .env("HOOKPOST_TOKEN", key)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("payload"));
}

#[tokio::test]
async fn load_catalog_takes_the_provider_style() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let loaded = hookpost(&server, &acct.key, &["load-catalog", "--catalog", "phaxio"]);
    assert_eq!(loaded["catalog"], "phaxio");
    assert_eq!(
        loaded["loaded"],
        serde_json::json!(["fax_completed", "transmitting_page", "retry_scheduled"])
    );
    let page = server
        .get("/v1/event-types/transmitting_page", &acct.key)
        .await;
    assert_eq!(page.body["category"], "inflight");
    let refused = Command::new(env!("CARGO_BIN_EXE_hookpost"))
        .args(["load-catalog", "--catalog", "twilio"])
        .env("HOOKPOST_URL", &server.url)
        .env("HOOKPOST_TOKEN", &acct.key)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("phaxio"));
}

/// Runs `hookpost` and answers its stdout as text (for commands that print
/// nothing, or one field).
fn hookpost_text(server: &TestServer, token: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hookpost"))
        .args(args)
        .env("HOOKPOST_URL", &server.url)
        .env("HOOKPOST_TOKEN", token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hookpost {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn endpoints_are_managed_from_the_shell() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server.account().await;
    let url = rx.url("/cli");
    let id = hookpost_text(
        &server,
        &acct.key,
        &[
            "endpoints",
            "create",
            &url,
            "--event-types",
            "fax.*,message.failed",
            "--header",
            "X-Env: cli",
            "--description",
            "from the shell",
            "--print",
            "id",
        ],
    );
    assert!(id.starts_with("ep_"), "{id}");
    let shown = hookpost(&server, &acct.key, &["endpoints", "show", &id]);
    assert_eq!(
        shown["event_types"],
        serde_json::json!(["fax.*", "message.failed"])
    );
    assert_eq!(shown["headers"]["X-Env"], "cli");
    let updated = hookpost(
        &server,
        &acct.key,
        &[
            "endpoints",
            "update",
            &id,
            "--description",
            "changed",
            "--rate-limit",
            "5/s",
            "--disable-after",
            "2d",
        ],
    );
    assert_eq!(
        (
            updated["description"].as_str(),
            updated["rate_limit"].as_str(),
            updated["disable_after"].as_str()
        ),
        (Some("changed"), Some("5/s"), Some("2days"))
    );
    assert_eq!(
        updated["url"],
        url.as_str(),
        "an update keeps what it does not name"
    );
    let listed = hookpost(&server, &acct.key, &["endpoints", "list"]);
    assert_eq!(listed["data"][0]["id"], id.as_str());
    let disabled = hookpost(&server, &acct.key, &["endpoints", "disable", &id]);
    assert_eq!(disabled["state"], "disabled");
    let test = hookpost(
        &server,
        &acct.key,
        &["endpoints", "test", &id, "--payload", r#"{"ping":1}"#],
    );
    // A disabled endpoint's deliveries are parked, the test's too, until it is
    // enabled again.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        rx.received().is_empty(),
        "a disabled endpoint got a request"
    );
    let enabled = hookpost(&server, &acct.key, &["endpoints", "enable", &id]);
    assert_eq!(enabled["state"], "enabled");
    let got = rx.wait_for(1, SOON).await;
    assert_eq!(got[0].json()["data"]["id"], test["id"]);
    assert_eq!(got[0].header("x-env").as_deref(), Some("cli"));
    let stats = hookpost(&server, &acct.key, &["endpoints", "stats", &id]);
    assert_eq!(stats["state"], "enabled");
    assert_eq!(
        hookpost_text(&server, &acct.key, &["endpoints", "delete", &id]),
        ""
    );
    let gone = Command::new(env!("CARGO_BIN_EXE_hookpost"))
        .args(["endpoints", "show", &id])
        .env("HOOKPOST_URL", &server.url)
        .env("HOOKPOST_TOKEN", &acct.key)
        .output()
        .unwrap();
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("endpoint_not_found"));
}
