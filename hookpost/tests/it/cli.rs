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
