//! The shell commands that talk to a running server (`create-account`, `publish`,
//! `list-events`, `keys`, `show-event`, `endpoints …`): thin wrappers over the API that print its
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
    let value: Value = match text.trim() {
        "" => Value::Null,
        body => serde_json::from_str(body).unwrap_or(Value::String(text)),
    };
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

/// The JSON body of an endpoint create or update from command-line flags: only
/// the fields given.
pub fn endpoint_body(
    url: Option<&str>,
    args: &crate::cli::EndpointArgs,
) -> Result<Value, ClientError> {
    let mut body = serde_json::Map::new();
    let mut text = |name: &str, value: Option<&String>| {
        if let Some(v) = value {
            body.insert(name.into(), Value::String(v.clone()));
        }
    };
    text("failover_url", args.failover_url.as_ref());
    text("profile_id", args.profile_id.as_ref());
    text("description", args.description.as_ref());
    text("rate_limit", args.rate_limit.as_ref());
    text("disable_after", args.disable_after.as_ref());
    if let Some(url) = url {
        body.insert("url".into(), json!(url));
    }
    if !args.event_types.is_empty() {
        body.insert("event_types".into(), json!(args.event_types));
    }
    if !args.headers.is_empty() {
        let mut headers = serde_json::Map::new();
        for header in &args.headers {
            let (name, value) = header
                .split_once(':')
                .ok_or_else(|| ClientError(format!("--header `{header}` is not `Name: value`")))?;
            headers.insert(name.trim().into(), json!(value.trim()));
        }
        body.insert("headers".into(), Value::Object(headers));
    }
    if let Some(settings) = &args.settings {
        let settings: Value = serde_json::from_str(settings)
            .map_err(|e| ClientError(format!("--settings is not JSON: {e}")))?;
        body.insert("settings".into(), settings);
    }
    if let Some(n) = args.max_in_flight {
        body.insert("max_in_flight".into(), json!(n));
    }
    Ok(Value::Object(body))
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
    fn endpoint_flags_become_only_the_fields_given() {
        let args = crate::cli::EndpointArgs {
            event_types: vec!["fax.*".into()],
            headers: vec!["X-Env: prod".into()],
            ..Default::default()
        };
        let body = endpoint_body(Some("https://a.example/"), &args).unwrap();
        assert_eq!(
            body,
            json!({"url": "https://a.example/", "event_types": ["fax.*"], "headers": {"X-Env": "prod"}})
        );
        let bad = crate::cli::EndpointArgs {
            headers: vec!["no colon".into()],
            ..Default::default()
        };
        assert!(endpoint_body(None, &bad).is_err());
    }

    #[test]
    fn one_field_prints_as_plain_text() {
        let v = json!({"api_key": "hp_x", "n": 3});
        assert_eq!(render(&v, Some("api_key")).unwrap(), "hp_x");
        assert_eq!(render(&v, Some("n")).unwrap(), "3");
        assert!(render(&v, Some("nope")).is_err());
    }
}
