//! One HTTP request of an attempt: vetted addresses, no redirects, a total
//! deadline, a bounded read of the answer. Whatever happens comes back as a
//! [`Sent`], never as an error: failures are data for the attempt log.

use super::address::{AddressPolicy, BlockedRange};
use super::transport::{Content, Outgoing, Post, Sent, Transport};
use crate::domain::attempt::{keep_response, FailureKind};
use crate::domain::webhook_url::WebhookUrl;
use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most bytes read from a response; the rest is not read at all.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// A receiver's answer.
struct Answer {
    status: u16,
    body: Vec<u8>,
    retry_after: Option<Duration>,
}

/// The delivery HTTP client, shared by all workers (it pools connections per host).
#[derive(Clone)]
pub struct HttpSender {
    client: reqwest::Client,
    policy: Arc<AddressPolicy>,
    hosts: Arc<HostSlots>,
}

/// How the sender is set up.
pub struct SenderConfig {
    /// Which addresses may be reached.
    pub policy: AddressPolicy,
    /// Source address of deliveries (one receivers can allowlist).
    pub bind: Option<IpAddr>,
    /// Most requests in flight to one host at once.
    pub max_per_host: usize,
    /// Skip TLS certificate checks: only for testing against self-signed receivers.
    pub dangerously_accept_invalid_certs: bool,
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
    /// A client that checks every address against the policy.
    pub fn new(config: SenderConfig) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(config.policy);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(VettingResolver {
                policy: policy.clone(),
            }))
            .local_address(config.bind)
            .user_agent(concat!("hookpost/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .no_proxy()
            .tls_danger_accept_invalid_certs(config.dangerously_accept_invalid_certs)
            .build()?;
        Ok(HttpSender {
            client,
            policy,
            hosts: Arc::new(HostSlots::new(config.max_per_host)),
        })
    }

    /// Sends one signed POST and reports what happened.
    async fn post(&self, url: &WebhookUrl, timeout: Duration, post: Post<'_>) -> Sent {
        let started = Instant::now();
        match self.exchange(url, timeout, post).await {
            Ok(answer) => Sent {
                http_status: Some(answer.status),
                error: FailureKind::from_status(answer.status),
                detail: status_detail(answer.status),
                response: Some(keep_response(&answer.body)),
                duration: started.elapsed(),
                retry_after: answer.retry_after,
            },
            Err((kind, detail)) => {
                tracing::debug!(url = %url.masked(), error = kind.as_str(), %detail, "request failed");
                Sent {
                    http_status: None,
                    error: Some(kind),
                    detail: Some(detail),
                    response: None,
                    duration: started.elapsed(),
                    retry_after: None,
                }
            }
        }
    }

    /// Vets the address, waits for a slot on the host, then sends with one deadline
    /// for connect, TLS and headers. A status that arrived in time counts, whatever
    /// the body does after.
    async fn exchange(
        &self,
        url: &WebhookUrl,
        timeout: Duration,
        post: Post<'_>,
    ) -> Result<Answer, (FailureKind, String)> {
        // Literal IP hosts never reach the resolver, so they are checked here.
        self.policy
            .check_host(url.url())
            .map_err(|(_, range)| fail(FailureKind::BlockedAddress, range.as_str()))?;
        // One deadline covers waiting for a slot on the host too, so an attempt never
        // outlives its lease however busy the host is.
        let deadline = tokio::time::Instant::now() + timeout;
        let _slot = tokio::time::timeout_at(deadline, self.hosts.acquire(url.url()))
            .await
            .map_err(|_| {
                fail(
                    FailureKind::Timeout,
                    "no free connection slot for the host within the timeout",
                )
            })?;
        let mut response = tokio::time::timeout_at(deadline, self.request(url, post).send())
            .await
            .map_err(|_| fail(FailureKind::Timeout, "no answer within the timeout"))?
            .map_err(classify)?;
        let status = response.status().as_u16();
        let retry_after = matches!(status, 429 | 503)
            .then(|| {
                response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)?
                    .to_str()
                    .ok()
                    .and_then(parse_retry_after)
            })
            .flatten();
        let body = read_bounded(&mut response, deadline).await;
        Ok(Answer {
            status,
            body,
            retry_after,
        })
    }

    fn request(&self, url: &WebhookUrl, post: Post<'_>) -> reqwest::RequestBuilder {
        let mut request = self
            .client
            .post(url.without_credentials())
            .header(reqwest::header::CONTENT_TYPE, post.content_type)
            .body(post.body);
        // The endpoint's own headers first: none may be a signature header
        // (refused when the endpoint was stored), and these are appended after.
        for (name, value) in post.custom {
            request = request.header(name.as_str(), value.as_str());
        }
        for (name, value) in post.headers {
            request = request.header(name, value);
        }
        if let Some((user, password)) = url.basic_auth() {
            request = request.basic_auth(user, password);
        }
        request
    }
}

#[async_trait]
impl Transport for HttpSender {
    async fn send(&self, out: Outgoing<'_>) -> Sent {
        match out.content {
            Content::Post(post) => self.post(out.url, out.timeout, post).await,
            Content::Mail { .. } => {
                Sent::not_sent(FailureKind::Other, "the HTTP sender does not send e-mail")
            }
        }
    }
}

/// Reads at most [`MAX_RESPONSE_BYTES`] of a body, stopping at the deadline: a
/// receiver that trickles or sends gigabytes cannot hold a worker.
async fn read_bounded(response: &mut reqwest::Response, deadline: tokio::time::Instant) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < MAX_RESPONSE_BYTES {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                body.extend_from_slice(&chunk[..chunk.len().min(MAX_RESPONSE_BYTES - body.len())])
            }
            _ => break,
        }
    }
    body
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// A cap on concurrent requests per destination (`host:port`), so one popular
/// receiver is not flooded and cannot take every worker slot.
struct HostSlots {
    per_host: usize,
    hosts: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

impl HostSlots {
    /// Hosts remembered before idle ones are forgotten.
    const KEEP: usize = 10_000;

    fn new(per_host: usize) -> Self {
        HostSlots {
            per_host,
            hosts: Default::default(),
        }
    }

    async fn acquire(&self, url: &url::Url) -> tokio::sync::OwnedSemaphorePermit {
        let key = format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        let semaphore = {
            let mut hosts = self.hosts.lock().expect("host slots poisoned");
            if hosts.len() >= Self::KEEP {
                hosts.retain(|_, s| s.available_permits() < self.per_host);
            }
            hosts
                .entry(key)
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.per_host)))
                .clone()
        };
        semaphore
            .acquire_owned()
            .await
            .expect("host semaphores are never closed")
    }
}

fn fail(kind: FailureKind, detail: &str) -> (FailureKind, String) {
    (kind, detail.to_string())
}

/// Why a status that arrived is a failure, in words.
fn status_detail(status: u16) -> Option<String> {
    match FailureKind::from_status(status)? {
        FailureKind::Redirect => Some(format!(
            "the receiver answered {status}; redirects are not followed"
        )),
        _ => Some(format!(
            "the receiver answered {status}; only a 2xx is success"
        )),
    }
}

/// Names a transport error and its cause in words ("connection refused",
/// "TLS: …", "HTTP parse error: …"), from the innermost cause that says most.
fn classify(e: reqwest::Error) -> (FailureKind, String) {
    let chain = causes(&e);
    for err in &chain {
        if err.is::<Blocked>() {
            return (FailureKind::BlockedAddress, err.to_string());
        }
        if err.is::<NotResolved>() {
            return (FailureKind::Dns, err.to_string());
        }
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return (FailureKind::Tls, format!("TLS: {tls}"));
        }
    }
    for err in &chain {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(found) = io_cause(io) {
                return found;
            }
        }
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            if h.is_parse() || h.is_parse_status() {
                return (FailureKind::Other, format!("HTTP parse error: {h}"));
            }
            if h.is_incomplete_message() {
                let what = "the connection closed before a complete answer";
                return (FailureKind::Connection, what.into());
            }
        }
    }
    let kind = if e.is_timeout() {
        FailureKind::Timeout
    } else if e.is_connect() || e.is_request() {
        FailureKind::Connection
    } else {
        FailureKind::Other
    };
    (kind, error_chain(&chain))
}

/// The failure an I/O error means, when its kind says something definite.
fn io_cause(io: &std::io::Error) -> Option<(FailureKind, String)> {
    use std::io::ErrorKind::*;
    let what = match io.kind() {
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset by peer",
        ConnectionAborted => "connection aborted",
        BrokenPipe => "connection closed by the receiver while sending",
        UnexpectedEof => "the connection closed before an answer",
        NetworkUnreachable | HostUnreachable => "no route to the receiver",
        TimedOut => return Some((FailureKind::Timeout, "connect timed out".into())),
        _ => return None,
    };
    Some((FailureKind::Connection, what.into()))
}

/// An error and every cause under it. `std::io::Error` hides the error it wraps
/// from `source()` (it answers that error's own source), so it is unwrapped here.
fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut chain = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        chain.push(err);
        next = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    chain
}

fn error_chain(chain: &[&(dyn std::error::Error + 'static)]) -> String {
    chain
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}
