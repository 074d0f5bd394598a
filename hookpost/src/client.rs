//! The shell commands that talk to a running server (`create-account`, `publish`,
//! `list-events`, `keys`, `show-event`): thin wrappers over the API that print its
//! JSON answers, or one field of them for use in scripts.

use serde_json::{json, Value};

/// A failed command, with what to tell the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ClientError(String);

/// Where a command sends its request, and with which bearer token.
pub struct Connection<'a> {
    /// Base URL of the server.
    pub url: &'a str,
    /// The token; `None` is refused before anything is sent.
    pub token: Option<&'a str>,
    /// Where the token can come from, named when it is missing.
    pub token_source: &'a str,
}

/// Sends one API request and answers the JSON body; a non-2xx answer is an error
/// carrying the server's message.
pub async fn call(
    to: &Connection<'_>,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, ClientError> {
    let token = to
        .token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ClientError(format!("no token: {}", to.token_source)))?;
    let url = format!("{}{}", to.url.trim_end_matches('/'), path);
    let mut request = reqwest::Client::new()
        .request(method, &url)
        .bearer_auth(token);
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

/// A path with a query string of the given parameters, percent-encoded (so a
/// profile id like `+13125550000` keeps its `+`).
pub fn with_query(path: &str, params: &[(&str, Option<String>)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    let query = query.finish();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// What a command prints: the whole answer, pretty, or one field of it as plain
/// text (strings without quotes), for `$(…)` in scripts.
pub fn render(value: &Value, field: Option<&str>) -> Result<String, ClientError> {
    let Some(field) = field else {
        return Ok(serde_json::to_string_pretty(value).unwrap_or_default());
    };
    match value.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err(ClientError(format!("the answer has no field `{field}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plus_in_a_query_value_is_encoded() {
        let path = with_query(
            "/v1/events",
            &[("profile_id", Some("+1312 555".into())), ("status", None)],
        );
        assert_eq!(path, "/v1/events?profile_id=%2B1312+555");
        assert_eq!(with_query("/v1/events", &[]), "/v1/events");
    }

    #[test]
    fn one_field_prints_as_plain_text() {
        let v = json!({"api_key": "hp_x", "n": 3});
        assert_eq!(render(&v, Some("api_key")).unwrap(), "hp_x");
        assert_eq!(render(&v, Some("n")).unwrap(), "3");
        assert!(render(&v, Some("nope")).is_err());
    }
}
