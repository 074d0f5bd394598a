//! The shell commands' way to the API: one request ([`Call`]) sent with a
//! bearer token (or none, for the public routes), the JSON answer or the API's
//! error read back, and the bodies built from flags. `commands` says which
//! call each subcommand makes; `output` prints the answers.

use serde_json::{json, Value};

/// A failed command, with what to tell the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ClientError(pub String);

/// Where a command sends its request, and how it authenticates.
pub struct Connection<'a> {
    /// Base URL of the server.
    pub url: &'a str,
    /// The token the route needs, if any.
    pub auth: Auth<'a>,
}

/// How a request authenticates.
pub enum Auth<'a> {
    /// `Authorization: Bearer`; a missing token is refused before anything is
    /// sent, naming where it can come from.
    Bearer {
        /// The token, if given.
        token: Option<&'a str>,
        /// Where the token can come from, named when it is missing.
        source: &'a str,
    },
    /// A public route (`/v1/egress`, `/healthz`, `/metrics`): no token.
    Public,
}

/// One API request: what every subcommand comes down to.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The HTTP method.
    pub method: reqwest::Method,
    /// The path and query, already encoded.
    pub path: String,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

impl Call {
    /// A `GET`.
    pub fn get(path: impl Into<String>) -> Call {
        Call::new(reqwest::Method::GET, path, None)
    }

    /// A request with a method, a path and maybe a body.
    pub fn new(method: reqwest::Method, path: impl Into<String>, body: Option<Value>) -> Call {
        Call {
            method,
            path: path.into(),
            body,
        }
    }

    /// What `--dry-run` prints: the method and URL, then the body.
    pub fn describe(&self, base: &str) -> String {
        let mut text = format!(
            "{} {}{}",
            self.method,
            base.trim_end_matches('/'),
            self.path
        );
        if let Some(body) = &self.body {
            text.push('\n');
            text.push_str(&serde_json::to_string_pretty(body).unwrap_or_default());
        }
        text
    }
}

/// Sends one API request and answers the JSON body (a text body, such as
/// `/metrics`, as a JSON string); a non-2xx answer is an error carrying the
/// server's code, message and field.
pub async fn call(to: &Connection<'_>, request: &Call) -> Result<Value, ClientError> {
    let url = format!("{}{}", to.url.trim_end_matches('/'), request.path);
    let mut builder = reqwest::Client::new().request(request.method.clone(), &url);
    if let Auth::Bearer { token, source } = to.auth {
        let token = token
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| ClientError(format!("no token: {source}")))?;
        builder = builder.bearer_auth(token);
    }
    if let Some(body) = &request.body {
        builder = builder
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = builder
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
        Err(ClientError(format!("{status}: {}", api_error(&value))))
    }
}

/// The API's `{"error": {code, message, field}}` in words: `invalid_field:
/// must be at most 2m (field: timeout)`; any other answer as it came.
fn api_error(value: &Value) -> String {
    let error = &value["error"];
    let (Some(code), Some(message)) = (error["code"].as_str(), error["message"].as_str()) else {
        return value.to_string();
    };
    match error["field"].as_str() {
        Some(field) => format!("{code}: {message} (field: {field})"),
        None => format!("{code}: {message}"),
    }
}

/// A request body from a whole one (`--json`, `--file`, or none: `{}`) with
/// the fields given as flags put over it.
pub fn body(
    whole: &crate::cli::BodyArgs,
    fields: Vec<(&str, Option<Value>)>,
) -> Result<Value, ClientError> {
    let mut body = match (&whole.json, &whole.file) {
        (Some(text), _) => parse_json("--json", text)?,
        (None, Some(path)) => read_json(path)?,
        (None, None) => json!({}),
    };
    let object = body
        .as_object_mut()
        .ok_or_else(|| ClientError("the body must be a JSON object".into()))?;
    for (name, value) in fields {
        if let Some(value) = value {
            object.insert(name.into(), value);
        }
    }
    Ok(body)
}

/// A JSON file's contents (`-`: standard input).
pub fn read_json(path: &std::path::Path) -> Result<Value, ClientError> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|e| ClientError(format!("cannot read {}: {e}", path.display())))?;
    parse_json(&path.display().to_string(), &text)
}

/// JSON text given by the user, refused naming where it came from.
pub fn parse_json(source: &str, text: &str) -> Result<Value, ClientError> {
    serde_json::from_str(text).map_err(|e| ClientError(format!("{source} is not JSON: {e}")))
}

/// One path segment, percent-encoded (a profile id's `+`, a space, a slash).
pub fn segment(text: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, KEEP).to_string()
}

/// The body of a publish request from command-line arguments.
pub fn publish_body(args: &crate::cli::PublishArgs) -> Result<Value, ClientError> {
    let text = |v: &Option<String>| v.as_ref().map(|v| json!(v));
    let fields = vec![
        ("event_type", Some(json!(args.event_type))),
        ("payload", Some(parse_json("--payload", &args.payload)?)),
        ("profile_id", text(&args.profile_id)),
        ("webhook_url", text(&args.webhook_url)),
        ("webhook_failover_url", text(&args.webhook_failover_url)),
        ("idempotency_key", text(&args.idempotency_key)),
    ];
    body(&crate::cli::BodyArgs::default(), fields)
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
    fn a_path_segment_keeps_its_plus() {
        assert_eq!(segment("+1312 555/x"), "%2B1312%20555%2Fx");
        assert_eq!(segment("fax.delivered"), "fax.delivered");
    }

    #[test]
    fn flags_go_over_the_whole_body() {
        let whole = crate::cli::BodyArgs {
            json: Some(r#"{"timeout": "5s", "format": "form"}"#.into()),
            file: None,
        };
        let fields = vec![("timeout", Some(json!("9s"))), ("version", None)];
        assert_eq!(
            body(&whole, fields).unwrap(),
            json!({"timeout": "9s", "format": "form"})
        );
        let list = crate::cli::BodyArgs {
            json: Some("[1]".into()),
            file: None,
        };
        assert!(body(&list, vec![]).is_err());
    }

    #[test]
    fn an_api_error_reads_as_words() {
        let error =
            json!({"error": {"code": "invalid_field", "message": "too long", "field": "timeout"}});
        assert_eq!(
            api_error(&error),
            "invalid_field: too long (field: timeout)"
        );
        assert_eq!(api_error(&json!("plain")), "\"plain\"");
    }
}
