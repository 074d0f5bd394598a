//! The shell commands that talk to a running server (`create-account`, `publish`,
//! `show-event`): thin wrappers over the API that print its JSON answers.

use crate::cli::ServerArgs;
use serde_json::{json, Value};

/// A failed command, with what to tell the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ClientError(String);

/// Sends one API request and answers the JSON body; a non-2xx answer is an error
/// carrying the server's message.
pub async fn call(
    server: &ServerArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, ClientError> {
    let url = format!("{}{}", server.url.trim_end_matches('/'), path);
    let mut request = reqwest::Client::new()
        .request(method, &url)
        .bearer_auth(&server.token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request
        .send()
        .await
        .map_err(|e| ClientError(format!("cannot reach {url}: {e}")))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| ClientError(e.to_string()))?;
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status.is_success() {
        Ok(value)
    } else {
        Err(ClientError(format!("{status}: {value}")))
    }
}

/// The body of a publish request from command-line arguments.
pub fn publish_body(
    event_type: &str,
    payload: &str,
    optional: [(&str, Option<&String>); 4],
) -> Result<Value, ClientError> {
    let payload: Value = serde_json::from_str(payload)
        .map_err(|e| ClientError(format!("--payload is not JSON: {e}")))?;
    let mut body = json!({"event_type": event_type, "payload": payload});
    for (name, value) in optional {
        if let Some(v) = value {
            body[name] = Value::String(v.clone());
        }
    }
    Ok(body)
}
