//! `hookpost listen`: a webhook receiver for development. It prints each
//! delivery (headers, the body pretty, the attempt, whether each signature
//! holds, checked with `hookpost-signatures`), answers with a chosen status (or
//! a sequence of them, to watch failover and retries), and can forward each
//! delivery to a local app, answering with the app's status.

use crate::cli::ListenArgs;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hookpost_signatures::{Request, Scheme, Verifier, VerifyError, VerifyKeys};
use serde_json::Value;
use sha1::{Digest, Sha1};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// `hookpost listen`: keys from the flags or the server, then serve until stopped.
pub async fn run(args: ListenArgs) -> Result<(), String> {
    let statuses = parse_statuses(&args.status)?;
    let keys = if args.account_key {
        let to = crate::client::Connection {
            url: &args.url,
            auth: crate::client::Auth::Bearer {
                token: args.token.as_deref(),
                source: "--account-key reads the API key from HOOKPOST_TOKEN (or --token)",
            },
        };
        let keys = crate::client::Call::get("/v1/account/keys");
        let answer = crate::client::call(&to, &keys)
            .await
            .map_err(|e| e.to_string())?;
        keys_from_answer(&answer)?
    } else {
        VerifyKeys::decode(
            &as_strs(&args.secret),
            &as_strs(&args.public_key),
            &as_strs(&args.callback_token),
        )
        .map_err(|e| e.to_string())?
    };
    let listener = tokio::net::TcpListener::bind((args.bind, args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.bind, args.port))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    println!("hookpost listen: listening on http://{address}");
    Listener::new(
        keys,
        args.tolerance,
        statuses,
        args.forward,
        args.signed_url,
    )
    .serve(listener)
    .await
    .map_err(|e| e.to_string())
}

/// Borrowed views of owned strings.
fn as_strs(values: &[String]) -> Vec<&str> {
    values.iter().map(String::as_str).collect()
}

/// How the receiver answers and whom it forwards to.
pub struct Listener {
    /// Checks the signatures of each delivery.
    verifier: Verifier,
    /// The status of the n-th delivery: the n-th of the list, the last one
    /// once the list is used up.
    statuses: Vec<StatusCode>,
    /// Where each delivery is forwarded (and the client that does it), if anywhere.
    forward: Option<(String, reqwest::Client)>,
    /// The URL the Phaxio signature is checked over, if not the request's.
    signed_url: Option<String>,
    /// Deliveries received so far.
    received: AtomicUsize,
}

/// Reads `--status 500,500,200`: each a status code.
pub fn parse_statuses(text: &str) -> Result<Vec<StatusCode>, String> {
    let statuses: Result<Vec<_>, _> = text
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<u16>()
                .ok()
                .and_then(|n| StatusCode::from_u16(n).ok())
                .ok_or_else(|| format!("--status: `{s}` is not an HTTP status"))
        })
        .collect();
    match statuses? {
        empty if empty.is_empty() => Err("--status needs at least one status".into()),
        statuses => Ok(statuses),
    }
}

/// The keys of an account as `GET /v1/account/keys` shows them: the current
/// ones and, during a rotation, the previous ones.
pub fn keys_from_answer(answer: &Value) -> Result<VerifyKeys, String> {
    let sets = [Some(answer), answer.get("previous")];
    let field = |name: &str| -> Vec<&str> {
        sets.iter()
            .flatten()
            .filter_map(|set| set.get(name).and_then(Value::as_str))
            .filter(|key| !key.is_empty())
            .collect()
    };
    VerifyKeys::decode(
        &field("webhook_secret"),
        &field("public_key"),
        &field("callback_token"),
    )
    .map_err(|e| e.to_string())
}

impl Listener {
    /// A receiver checking with `keys` (within `tolerance`), answering
    /// `statuses` in turn, forwarding to `forward` if given.
    pub fn new(
        keys: VerifyKeys,
        tolerance: Duration,
        statuses: Vec<StatusCode>,
        forward: Option<String>,
        signed_url: Option<String>,
    ) -> Arc<Listener> {
        Arc::new(Listener {
            verifier: Verifier::new(keys).tolerance(tolerance),
            statuses,
            forward: forward.map(|to| (to, reqwest::Client::new())),
            signed_url,
            received: AtomicUsize::new(0),
        })
    }

    /// Serves on `listener` until the process stops.
    pub async fn serve(self: Arc<Self>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        // Forms carrying files are larger than axum's default 2 MiB.
        let app = axum::Router::new()
            .fallback(receive)
            .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
            .with_state(self);
        axum::serve(listener, app).await
    }

    /// The status the n-th delivery (from 0) gets when nothing is forwarded.
    fn status_of(&self, n: usize) -> StatusCode {
        self.statuses[n.min(self.statuses.len() - 1)]
    }

    /// Sends a delivery on to the local app; its status (502 if it is down).
    async fn forward(
        http: &reqwest::Client,
        to: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> (StatusCode, String) {
        let mut request = http.post(to).body(body);
        for (name, value) in headers {
            if !matches!(name.as_str(), "host" | "content-length" | "connection") {
                request = request.header(name.as_str(), value.as_bytes());
            }
        }
        match request.send().await {
            Ok(answer) => {
                let status = StatusCode::from_u16(answer.status().as_u16())
                    .unwrap_or(StatusCode::BAD_GATEWAY);
                (status, format!("forwarded to {to}: {status}"))
            }
            Err(e) => (
                StatusCode::BAD_GATEWAY,
                format!("forwarding to {to} failed: {e}"),
            ),
        }
    }
}

/// Prints one delivery and answers it.
async fn receive(
    State(listener): State<Arc<Listener>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let n = listener.received.fetch_add(1, Ordering::Relaxed);
    let text_headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let url = listener
        .signed_url
        .clone()
        .unwrap_or_else(|| format!("http://{host}{uri}"));
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let owned_form = form_parts(content_type, &body).await;
    let form: Option<Vec<(&str, String)>> = owned_form.as_ref().map(|f| {
        f.fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect()
    });
    let files: Vec<(&str, String)> = owned_form
        .as_ref()
        .map(|f| {
            f.files
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let pairs: Vec<(&str, &str)> = text_headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let request = Request {
        headers: &pairs,
        url: &url,
        body: &body,
        form_fields: form.as_deref(),
        form_files: &files,
    };
    let verdicts = listener
        .verifier
        .verify_present(&request, chrono::Utc::now().timestamp());
    let (status, outcome) = match &listener.forward {
        Some((to, http)) => Listener::forward(http, to, &headers, body.clone()).await,
        None => {
            let status = listener.status_of(n);
            (status, format!("answered {status}"))
        }
    };
    println!(
        "{}",
        render(
            &method,
            &uri,
            &text_headers,
            &body,
            form.as_deref(),
            &verdicts,
            &outcome
        )
    );
    (status, "ok").into_response()
}

/// A multipart body's text fields, and its file parts' names with the hex
/// SHA-1 of their contents: what the Phaxio check signs.
struct FormParts {
    fields: Vec<(String, String)>,
    files: Vec<(String, String)>,
}

/// The parts of a multipart body (for the Phaxio check and the printout);
/// `None` for other bodies.
async fn form_parts(content_type: &str, body: &Bytes) -> Option<FormParts> {
    let boundary = multer::parse_boundary(content_type).ok()?;
    let stream = futures::stream::once(std::future::ready(Ok::<_, std::io::Error>(body.clone())));
    let mut parts = multer::Multipart::new(stream, boundary);
    let mut form = FormParts {
        fields: Vec::new(),
        files: Vec::new(),
    };
    while let Ok(Some(field)) = parts.next_field().await {
        let name = field.name().unwrap_or("").to_string();
        if field.file_name().is_some() {
            let contents = field.bytes().await.unwrap_or_default();
            let sha1: String = Sha1::digest(&contents)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            form.files.push((name, sha1));
        } else {
            form.fields
                .push((name, field.text().await.unwrap_or_default()));
        }
    }
    Some(form)
}

/// The printout of one delivery.
fn render(
    method: &Method,
    uri: &Uri,
    headers: &[(String, String)],
    body: &[u8],
    form: Option<&[(&str, String)]>,
    verdicts: &[(Scheme, Result<(), VerifyError>)],
    outcome: &str,
) -> String {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let attempt = json
        .as_ref()
        .and_then(|j| j.pointer("/meta/attempt").cloned())
        .map(|a| a.to_string())
        .or_else(|| {
            form.and_then(|f| {
                f.iter()
                    .find(|(k, _)| *k == "attempt")
                    .map(|(_, v)| v.clone())
            })
        })
        .unwrap_or_else(|| "?".into());
    let id = headers
        .iter()
        .find(|(k, _)| k == "webhook-id")
        .map_or("-", |(_, v)| v.as_str());
    let mut out = format!("── {method} {uri}  attempt {attempt}  webhook-id {id}\n");
    for (name, value) in headers {
        out.push_str(&format!("  {name}: {value}\n"));
    }
    match (&json, form) {
        (Some(j), _) => out.push_str(&serde_json::to_string_pretty(j).unwrap_or_default()),
        (None, Some(fields)) => {
            for (name, value) in fields {
                out.push_str(&format!("  [{name}] {value}\n"));
            }
        }
        (None, None) => out.push_str(&String::from_utf8_lossy(body)),
    }
    out.push('\n');
    if verdicts.is_empty() {
        out.push_str("signatures: none\n");
    }
    for (scheme, verdict) in verdicts {
        let word = match verdict {
            Ok(()) => "valid".to_string(),
            Err(e) => format!("INVALID ({e})"),
        };
        out.push_str(&format!("signature {}: {word}\n", scheme.name()));
    }
    out.push_str(outcome);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_sequence_ends_on_its_last_status() {
        let statuses = parse_statuses("500, 503,200").unwrap();
        let listener = Listener::new(
            VerifyKeys::decode(&[], &[], &[]).unwrap(),
            Duration::from_secs(300),
            statuses,
            None,
            None,
        );
        let seen: Vec<u16> = (0..5).map(|n| listener.status_of(n).as_u16()).collect();
        assert_eq!(seen, [500, 503, 200, 200, 200]);
        assert!(parse_statuses("abc").is_err() && parse_statuses("99").is_err());
    }

    #[test]
    fn keys_are_read_with_the_previous_ones_of_a_rotation() {
        let answer = serde_json::json!({
            "webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "previous": {"webhook_secret": "whsec_bm90IGJhc2U2NA=="},
        });
        assert!(keys_from_answer(&answer).is_ok());
        let bad = serde_json::json!({"webhook_secret": "whsec_!!!"});
        assert!(keys_from_answer(&bad).is_err());
    }
}
