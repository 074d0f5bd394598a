//! A webhook receiver under the test's control: a real HTTP server on loopback
//! that records every request and answers as told, per path.

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How the receiver answers requests to one path.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Answer with this status (body `ok`).
    Status(u16),
    /// Never answer (until the test ends).
    Hang,
    /// Answer 200 after a delay.
    Delay(Duration),
    /// Answer with status, headers and body.
    Full(u16, Vec<(&'static str, String)>, String),
}

/// One request the receiver saw.
#[derive(Clone, Debug)]
pub struct Received {
    /// Path (with query).
    pub path: String,
    /// The full URL the request was sent to.
    pub url: String,
    /// Who connected (the delivery's source address).
    pub peer: SocketAddr,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
    /// When it arrived.
    pub at: Instant,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }
}

#[derive(Default)]
struct Shared {
    base: std::sync::OnceLock<String>,
    seen: Mutex<Vec<Received>>,
    replies: Mutex<HashMap<String, Reply>>,
    arrived: Notify,
    active: std::sync::atomic::AtomicUsize,
    most_active: std::sync::atomic::AtomicUsize,
}

/// A running receiver.
#[derive(Clone)]
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Receiver {
    /// Starts a receiver on `127.0.0.1`, answering 200 everywhere.
    pub async fn start() -> Receiver {
        Self::start_on("127.0.0.1:0").await
    }

    /// Starts a receiver on a chosen address.
    pub async fn start_on(bind: &str) -> Receiver {
        let shared = Arc::new(Shared::default());
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().unwrap();
        shared.base.set(format!("http://{addr}")).unwrap();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Receiver { addr, shared }
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sets how requests to `path` are answered.
    pub fn reply(&self, path: &str, reply: Reply) {
        self.shared
            .replies
            .lock()
            .unwrap()
            .insert(path.to_string(), reply);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Requests received on `path`.
    pub fn received_on(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// The most requests this receiver was answering at the same time.
    pub fn most_concurrent(&self) -> usize {
        self.shared
            .most_active
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until at least `count` requests arrived (panics after `within`).
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.shared.arrived.notified();
            let seen = self.received();
            if seen.len() >= count {
                return seen;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "expected {count} requests within {within:?}, got {}",
                    self.received().len()
                );
            }
        }
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let reply = shared
        .replies
        .lock()
        .unwrap()
        .get(uri.path())
        .cloned()
        .unwrap_or(Reply::Status(200));
    shared.seen.lock().unwrap().push(Received {
        url: format!("{}{path}", shared.base.get().unwrap()),
        peer,
        path,
        headers,
        body,
        at: Instant::now(),
    });
    shared.arrived.notify_waiters();
    let _active = ActiveGuard::enter(&shared);
    match reply {
        Reply::Status(code) => (StatusCode::from_u16(code).unwrap(), "ok").into_response(),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::OK.into_response()
        }
        Reply::Delay(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "ok").into_response()
        }
        Reply::Full(code, headers, body) => {
            let mut res = (StatusCode::from_u16(code).unwrap(), body).into_response();
            for (name, value) in headers {
                res.headers_mut().insert(name, value.parse().unwrap());
            }
            res
        }
    }
}

/// A loopback URL where nothing listens (connection refused).
pub fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/nobody-home")
}

/// Counts requests being answered, and the most at once.
struct ActiveGuard<'a>(&'a Shared);

impl<'a> ActiveGuard<'a> {
    fn enter(shared: &'a Shared) -> Self {
        use std::sync::atomic::Ordering::SeqCst;
        let now = shared.active.fetch_add(1, SeqCst) + 1;
        shared.most_active.fetch_max(now, SeqCst);
        ActiveGuard(shared)
    }
}

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.0
            .active
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}
