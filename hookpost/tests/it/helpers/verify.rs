//! Signature checks by implementations hookpost did not write: the Python script
//! `tests/verify/verify_signatures.py` (the `standardwebhooks` package, the Telnyx
//! SDK, and `v1a` and Phaxio checks written from the public specifications).

use super::receiver::Received;
use base64::Engine;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

/// The Python interpreter with the verifier packages (`scripts/test` sets it up).
pub fn python() -> String {
    std::env::var("HOOKPOST_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Runs every verifier on a received request with the account's keys (the answer
/// of `GET /v1/account/keys`) and returns each verifier's verdict.
pub fn verify(request: &Received, body: &[u8], keys: &Value) -> Value {
    verify_configured(request, body, keys, &request.url)
}

/// Like [`verify`], with the callback URL as the receiver configured it: the
/// Phaxio scheme signs that text, not the request line's normalised form.
pub fn verify_configured(request: &Received, body: &[u8], keys: &Value, url: &str) -> Value {
    let headers: serde_json::Map<String, Value> = request
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                Value::String(v.to_str().unwrap().to_string()),
            )
        })
        .collect();
    let input = json!({
        "body_base64": base64::engine::general_purpose::STANDARD.encode(body),
        "headers": headers,
        "url": url,
        "callback_token": keys["callback_token"],
        "secret": keys["webhook_secret"],
        "public_key": keys["public_key"],
        "standard_public_key": keys["standard_public_key"],
    });
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/verify/verify_signatures.py"
    );
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the Python verifier (see scripts/test)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the verifier failed to run (are tests/verify/requirements.txt installed? use scripts/test): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("verifier output")
}
