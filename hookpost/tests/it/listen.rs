//! `hookpost listen`, the development receiver, fed by the real server: it shows
//! each delivery with its signatures checked, answers as told, forwards.

use crate::helpers::*;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running `hookpost listen` and everything it printed.
struct Listen {
    child: Child,
    url: String,
    out: Arc<Mutex<Vec<String>>>,
}

impl Listen {
    /// Starts `hookpost listen ARGS` (on `--port 0` unless ARGS name one)
    /// with the server's URL and `key`.
    fn start(server: &TestServer, key: &str, args: &[&str]) -> Listen {
        let any_port: &[&str] = match args.contains(&"--port") {
            true => &[],
            false => &["--port", "0"],
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_hookpost"))
            .arg("listen")
            .args(any_port)
            .args(args)
            .env("HOOKPOST_URL", &server.url)
            .env("HOOKPOST_TOKEN", key)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start hookpost listen");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("a first line").unwrap();
        let url = first
            .split("listening on ")
            .nth(1)
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_string();
        let out = Arc::new(Mutex::new(Vec::new()));
        let sink = out.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Listen { child, url, out }
    }

    /// Waits until the printout holds `text` `n` times; the printout.
    async fn wait_for(&self, text: &str, n: usize) -> String {
        for _ in 0..500 {
            let all = self.out.lock().unwrap().join("\n");
            if all.matches(text).count() >= n {
                return all;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "`{text}` not printed {n} times: {}",
            self.out.lock().unwrap().join("\n")
        );
    }
}

impl Drop for Listen {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn listen_shows_each_delivery_with_its_signatures_checked() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let listen = Listen::start(&server, &acct.key, &["--account-key"]);
    let id = server
        .publish(&acct, json!({"event_type": "fax.delivered", "payload": {"fax_id": "f1"}, "webhook_url": format!("{}/hooks", listen.url)}))
        .await;
    let shown = listen.wait_for("answered 200", 1).await;
    assert!(shown.contains("signature standard: valid"), "{shown}");
    assert!(shown.contains("signature telnyx: valid"), "{shown}");
    assert!(shown.contains(&format!("webhook-id {id}")), "{shown}");
    assert!(
        shown.contains("attempt 1") && shown.contains("\"fax_id\": \"f1\""),
        "{shown}"
    );
    server.wait_for_status(&acct, &id, "delivered", SOON).await;
}

#[tokio::test]
async fn listen_checks_phaxio_signatures_of_form_deliveries() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let listen = Listen::start(&server, &acct.key, &["--account-key"]);
    let settings = json!({"webhook_url": format!("{}/fax", listen.url), "format": "form", "signatures": ["phaxio"]});
    server
        .put("/v1/account/settings", &acct.key, &settings)
        .await;
    server
        .publish(
            &acct,
            json!({"event_type": "fax.delivered", "payload": {"fax_id": "f2"}}),
        )
        .await;
    let shown = listen.wait_for("answered 200", 1).await;
    assert!(shown.contains("signature phaxio: valid"), "{shown}");
    assert!(shown.contains("[event_type] fax.delivered"), "{shown}");
    // With a file part, which the signature covers by its SHA-1.
    server
        .publish(
            &acct,
            json!({"event_type": "fax.received", "payload": {},
                   "attachments": [{"filename": "fax.pdf", "content_base64": "JVBERi0xLjQ="}]}),
        )
        .await;
    let shown = listen.wait_for("answered 200", 2).await;
    assert_eq!(
        shown.matches("signature phaxio: valid").count(),
        2,
        "{shown}"
    );
}

#[tokio::test]
async fn a_signature_from_another_account_is_shown_invalid() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let other = server.account().await;
    let theirs = server.get("/v1/account/keys", &other.key).await.body;
    let secret = theirs["webhook_secret"].as_str().unwrap();
    let listen = Listen::start(&server, &acct.key, &["--secret", secret]);
    server
        .publish(&acct, json!({"event_type": "x", "payload": {}, "webhook_url": listen.url.clone(), "signatures": ["standard"]}))
        .await;
    let shown = listen.wait_for("answered 200", 1).await;
    assert!(shown.contains("signature standard: INVALID"), "{shown}");
}

#[tokio::test]
async fn a_status_sequence_drives_failover_and_retries() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let rx = Receiver::start().await;
    let listen = Listen::start(
        &server,
        &acct.key,
        &["--account-key", "--status", "500,200"],
    );
    let id = server
        .publish(&acct, json!({"event_type": "x", "payload": {}, "webhook_url": listen.url.clone(), "webhook_failover_url": rx.url("/backup")}))
        .await;
    let event = server.wait_for_status(&acct, &id, "delivered", SOON).await;
    let legs: Vec<_> = event["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["leg"].clone(), a["http_status"].clone()))
        .collect();
    assert_eq!(
        legs,
        [
            (json!("primary"), json!(500)),
            (json!("failover"), json!(200))
        ]
    );
    listen
        .wait_for("answered 500 Internal Server Error", 1)
        .await;
}

#[tokio::test]
async fn listen_forwards_to_a_local_app_and_answers_with_its_status() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let app = Receiver::start().await;
    app.reply("/app", Reply::Status(503));
    let listen = Listen::start(
        &server,
        &acct.key,
        &["--account-key", "--forward", &app.url("/app")],
    );
    let id = server
        .publish(&acct, json!({"event_type": "x", "payload": {"n": 7}, "webhook_url": listen.url.clone(), "retry_schedule": ["1h"]}))
        .await;
    let got = app.wait_for(1, SOON).await;
    assert_eq!(got[0].json()["data"]["payload"]["n"], 7);
    assert_eq!(got[0].header("webhook-id").as_deref(), Some(id.as_str()));
    let event = server
        .wait_for_event(&acct, &id, |e| e["attempts_made"] == 1, SOON)
        .await
        .unwrap();
    assert_eq!(event["attempts"][0]["http_status"], 503);
    listen.wait_for("forwarded to", 1).await;
}

/// The crate (through `listen`) verifies every scheme on both body formats of
/// the real server: the interop matrix's server rows.
#[tokio::test]
async fn every_scheme_verifies_on_json_and_form_deliveries() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let listen = Listen::start(&server, &acct.key, &["--account-key"]);
    for (n, format) in ["json", "form"].into_iter().enumerate() {
        let settings = json!({"webhook_url": format!("{}/{format}", listen.url), "format": format,
                              "signatures": ["standard", "telnyx", "phaxio"]});
        server
            .put("/v1/account/settings", &acct.key, &settings)
            .await;
        server
            .publish(
                &acct,
                json!({"event_type": "fax.delivered", "payload": {"fax_id": format}}),
            )
            .await;
        let shown = listen.wait_for("answered 200", n + 1).await;
        let this = shown.rsplit("── POST").next().unwrap();
        for scheme in ["standard", "telnyx", "phaxio"] {
            assert!(
                this.contains(&format!("signature {scheme}: valid")),
                "{format}: {this}"
            );
        }
    }
}

#[tokio::test]
async fn listen_checks_phaxio_over_the_url_as_configured() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let port = crate::helpers::smtp::free_port().to_string();
    let given = format!("HTTP://127.0.0.1:{port}/fax/./in");
    let listen = Listen::start(
        &server,
        &acct.key,
        &["--account-key", "--port", &port, "--signed-url", &given],
    );
    let settings = json!({"webhook_url": given, "format": "form", "signatures": ["phaxio"]});
    server
        .put("/v1/account/settings", &acct.key, &settings)
        .await;
    server
        .publish(&acct, json!({"event_type": "fax.delivered", "payload": {}}))
        .await;
    let shown = listen.wait_for("answered 200", 1).await;
    assert!(shown.contains("signature phaxio: valid"), "{shown}");
}
