//! The bench's webhook receiver: a keep-alive HTTP/1.1 server on 127.0.0.1 with
//! one path per endpoint (`/e0`, `/e1`, …). It answers 200 — or 500 on failing
//! endpoints, or 503 while "down" — and remembers, per delivery (endpoint path
//! and event id, the `webhook-id` header: see [`key`]), how many requests came,
//! how many were answered 200, and when the first of those arrived. Keying by
//! path too tells apart the copies of a fanned-out event.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// What the receiver saw of one delivery (one event id on one endpoint).
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen {
    /// Arrival of the first request answered 200.
    pub first_ok: Option<Instant>,
    /// Requests answered 200.
    pub ok: u32,
    /// Requests of any answer.
    pub requests: u32,
}

/// The key of event `id`'s delivery to endpoint `n`, as [`Receiver::seen`] takes it.
pub fn key(n: usize, id: &str) -> String {
    path_key(&format!("e{n}"), id)
}

/// The key of event `id`'s delivery to path `/{endpoint}`.
fn path_key(endpoint: &str, id: &str) -> String {
    format!("{endpoint}/{id}")
}

/// Whether endpoint `n` answers 500 when failing is on: every tenth one.
pub fn is_failing_endpoint(n: usize) -> bool {
    n % 10 == 9
}

/// State shared by the handler and the bench.
#[derive(Default)]
struct Shared {
    /// Every endpoint answers 503.
    down: AtomicBool,
    /// Failing endpoints answer 500.
    failing: AtomicBool,
    /// Requests of any answer.
    requests: AtomicU64,
    /// Requests answered 200.
    answered_ok: AtomicU64,
    /// Per delivery, by [`key`].
    seen: Mutex<HashMap<String, Seen>>,
}

impl Shared {
    /// The map, even if a holder panicked (its counts stay usable).
    fn seen(&self) -> MutexGuard<'_, HashMap<String, Seen>> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The status endpoint `name` answers with now.
    fn answer(&self, name: &str) -> StatusCode {
        let Some(n) = name.strip_prefix('e').and_then(|n| n.parse().ok()) else {
            return StatusCode::NOT_FOUND;
        };
        if self.down.load(Ordering::Relaxed) {
            StatusCode::SERVICE_UNAVAILABLE
        } else if self.failing.load(Ordering::Relaxed) && is_failing_endpoint(n) {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        }
    }
}

/// A running receiver; it serves until the runtime stops.
pub struct Receiver {
    /// State shared with the handler.
    shared: Arc<Shared>,
    /// Where it listens.
    address: SocketAddr,
}

impl Receiver {
    /// Starts serving on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/{endpoint}", post(receive))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Receiver { shared, address })
    }

    /// URL of endpoint `n`.
    pub fn url(&self, n: usize) -> String {
        format!("http://{}/e{n}", self.address)
    }

    /// Makes every endpoint answer 503 (`true`) or recover (`false`).
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::Relaxed);
    }

    /// Makes every tenth endpoint answer 500 (`true`) or 200 (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.shared.failing.store(failing, Ordering::Relaxed);
    }

    /// Requests received so far, and how many of them were answered 200.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.shared.requests.load(Ordering::Relaxed),
            self.shared.answered_ok.load(Ordering::Relaxed),
        )
    }

    /// What was seen of each delivery of `keys` (made by [`key`]), in order
    /// (nothing yet: the default).
    pub fn seen(&self, keys: &[String]) -> Vec<Seen> {
        let seen = self.shared.seen();
        keys.iter()
            .map(|key| seen.get(key).copied().unwrap_or_default())
            .collect()
    }
}

/// Answers one delivery; the whole body is read before the arrival is taken.
async fn receive(
    State(shared): State<Arc<Shared>>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    _body: Bytes,
) -> StatusCode {
    let arrived = Instant::now();
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let status = shared.answer(&endpoint);
    let ok = status == StatusCode::OK;
    if ok {
        shared.answered_ok.fetch_add(1, Ordering::Relaxed);
    }
    if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok()) {
        let mut seen = shared.seen();
        let entry = seen.entry(path_key(&endpoint, id)).or_default();
        entry.requests += 1;
        if ok {
            entry.first_ok.get_or_insert(arrived);
            entry.ok += 1;
        }
    }
    status
}
