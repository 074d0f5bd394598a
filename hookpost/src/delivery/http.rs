//! One HTTP request of an attempt: vetted addresses, no redirects, a total
//! deadline, a bounded read of the answer. Whatever happens comes back as a
//! [`Sent`], never as an error: failures are data for the attempt log.

use super::address::{AddressPolicy, BlockedRange};
use crate::domain::attempt::{keep_response, FailureKind};
use crate::domain::webhook_url::WebhookUrl;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Host;

/// Most bytes read from a response; the rest is not read at all.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// A request to send.
pub struct Outgoing<'a> {
    /// Destination (credentials become Basic auth).
    pub url: &'a WebhookUrl,
    /// `content-type` of the body.
    pub content_type: &'a str,
    /// The exact bytes that were signed.
    pub body: Vec<u8>,
    /// Signature and version headers.
    pub headers: Vec<(&'static str, String)>,
    /// Total deadline: connect, TLS, headers and body.
    pub timeout: Duration,
}

/// What happened to one request.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The receiver's status code, if it answered.
    pub http_status: Option<u16>,
    /// Why it failed; `None` on success.
    pub error: Option<FailureKind>,
    /// The first KiB of the answer.
    pub response: Option<String>,
    /// Wall time spent.
    pub duration: Duration,
}

/// The delivery HTTP client, shared by all workers (it pools connections per host).
#[derive(Clone)]
pub struct HttpSender {
    client: reqwest::Client,
    policy: Arc<AddressPolicy>,
}

/// Refusal raised inside DNS resolution so reqwest never connects.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {ip}, a {} address", range.as_str())]
struct Blocked {
    host: String,
    ip: IpAddr,
    range: BlockedRange,
}

/// A name that did not resolve.
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {0}: {1}")]
struct NotResolved(String, String);

/// Resolves names and refuses the host if *any* answer is blocked, so a name with
/// one public and one private answer cannot be used to reach the private one.
struct VettingResolver {
    policy: Arc<AddressPolicy>,
}

impl Resolve for VettingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> {
                    Box::new(NotResolved(host.clone(), e.to_string()))
                })?
                .collect();
            for addr in &addrs {
                if let Err(range) = policy.check(addr.ip()) {
                    return Err(Box::new(Blocked {
                        host: host.clone(),
                        ip: addr.ip(),
                        range,
                    }) as _);
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

impl HttpSender {
    /// A client that checks every address against `policy` and may leave from
    /// `bind` (a source address receivers can allowlist).
    pub fn new(policy: AddressPolicy, bind: Option<IpAddr>) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(VettingResolver {
                policy: policy.clone(),
            }))
            .local_address(bind)
            .user_agent(concat!("hookpost/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .no_proxy()
            .build()?;
        Ok(HttpSender { client, policy })
    }

    /// Sends one request and reports what happened.
    pub async fn send(&self, out: Outgoing<'_>) -> Sent {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + out.timeout;
        let result = match self.check_literal(out.url) {
            Err(range) => Err(fail(FailureKind::BlockedAddress, range.as_str())),
            Ok(()) => tokio::time::timeout_at(deadline, self.exchange(&out, deadline))
                .await
                .unwrap_or_else(|_| {
                    Err(fail(FailureKind::Timeout, "no answer within the timeout"))
                }),
        };
        let duration = started.elapsed();
        match result {
            Ok((status, body)) => Sent {
                http_status: Some(status),
                error: FailureKind::from_status(status),
                response: Some(keep_response(&body)),
                duration,
            },
            Err((kind, detail)) => {
                tracing::debug!(url = %out.url.masked(), error = kind.as_str(), %detail, "request failed");
                Sent {
                    http_status: None,
                    error: Some(kind),
                    response: None,
                    duration,
                }
            }
        }
    }

    /// Literal IP hosts never reach the resolver, so they are checked here.
    fn check_literal(&self, url: &WebhookUrl) -> Result<(), BlockedRange> {
        match url.url().host() {
            Some(Host::Ipv4(ip)) => self.policy.check(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.policy.check(IpAddr::V6(ip)),
            _ => Ok(()),
        }
    }

    async fn exchange(
        &self,
        out: &Outgoing<'_>,
        deadline: tokio::time::Instant,
    ) -> Result<(u16, Vec<u8>), (FailureKind, String)> {
        let mut request = self
            .client
            .post(out.url.without_credentials())
            .header(reqwest::header::CONTENT_TYPE, out.content_type)
            .body(out.body.clone());
        for (name, value) in &out.headers {
            request = request.header(*name, value);
        }
        if let Some((user, password)) = out.url.basic_auth() {
            request = request.basic_auth(user, password);
        }
        let mut response = request.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        // The status already counts; a body that trickles past the deadline is cut.
        while body.len() < MAX_RESPONSE_BYTES {
            match tokio::time::timeout_at(deadline, response.chunk()).await {
                Ok(Ok(Some(chunk))) => body
                    .extend_from_slice(&chunk[..chunk.len().min(MAX_RESPONSE_BYTES - body.len())]),
                _ => break,
            }
        }
        Ok((status, body))
    }
}

fn fail(kind: FailureKind, detail: &str) -> (FailureKind, String) {
    (kind, detail.to_string())
}

/// Names a transport error by walking its causes.
fn classify(e: reqwest::Error) -> (FailureKind, String) {
    let detail = error_chain(&e);
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if err.is::<Blocked>() {
            return (FailureKind::BlockedAddress, detail);
        }
        if err.is::<NotResolved>() {
            return (FailureKind::Dns, detail);
        }
        if err.is::<rustls::Error>() {
            return (FailureKind::Tls, detail);
        }
        source = err.source();
    }
    let kind = if e.is_timeout() {
        FailureKind::Timeout
    } else if e.is_connect() || e.is_request() {
        FailureKind::Connection
    } else {
        FailureKind::Other
    };
    (kind, detail)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(err) = source {
        text.push_str(": ");
        text.push_str(&err.to_string());
        source = err.source();
    }
    text
}
