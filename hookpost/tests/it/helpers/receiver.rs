//! A webhook receiver under the test's control: a real HTTP server on loopback
//! that records every request and answers as told, per path.

use super::server::{TestAccount, TestServer};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
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
    /// Answer after `delay`: 500 to the first request of every `fail_every`-th
    /// distinct `webhook-id` (counted in order of first arrival), 200 otherwise,
    /// so every `fail_every`-th event needs a retry.
    Sequenced {
        /// How long each answer takes.
        delay: Duration,
        /// Which events fail their first request (every n-th, from 1).
        fail_every: usize,
    },
    /// Answer 500 to events whose payload `key` is this (see [`keyed_event`]),
    /// 200 to the others.
    FailKey(String),
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
    /// When its answer was sent (`None` until then, or if it never was).
    pub answered: Option<Instant>,
    /// The status it was answered with (`None` until then).
    pub status: Option<u16>,
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

    /// Whether it was answered with a 2xx.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
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
    /// Requests seen per `webhook-id`, for [`Reply::Sequenced`].
    ids: Mutex<HashMap<String, usize>>,
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
            // Forms carrying files are larger than axum's default 2 MiB.
            .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
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

    /// Per `webhook-id`, how many requests on `path` were answered with a 2xx.
    pub fn successes_by_id(&self, path: &str) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for r in self.received_on(path).iter().filter(|r| r.succeeded()) {
            *counts
                .entry(r.header("webhook-id").unwrap_or_default())
                .or_default() += 1;
        }
        counts
    }

    /// The most requests on `path` that arrived within any one `window`.
    pub fn busiest_window(&self, path: &str, window: Duration) -> usize {
        let times: Vec<Instant> = self.received_on(path).iter().map(|r| r.at).collect();
        times
            .iter()
            .map(|a| {
                times
                    .iter()
                    .filter(|b| **b >= *a && **b <= *a + window)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    /// The most requests this receiver was answering at the same time.
    pub fn most_concurrent(&self) -> usize {
        self.shared
            .most_active
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until at least `count` requests arrived (panics after `within`).
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        self.wait_until(count, within, |_| true).await
    }

    /// Waits until at least `count` requests arrived on `path` (panics after
    /// `within`); those requests.
    pub async fn wait_for_on(&self, path: &str, count: usize, within: Duration) -> Vec<Received> {
        self.wait_until(count, within, |r| r.path == path).await
    }

    /// Waits until at least `count` requests that `wanted` arrived (panics after `within`).
    async fn wait_until(
        &self,
        count: usize,
        within: Duration,
        wanted: impl Fn(&Received) -> bool,
    ) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.shared.arrived.notified();
            let seen: Vec<Received> = self.received().into_iter().filter(&wanted).collect();
            if seen.len() >= count {
                return seen;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "expected {count} requests within {within:?}, got {}",
                    seen.len()
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
    let index = {
        let mut seen = shared.seen.lock().unwrap();
        seen.push(Received {
            url: format!("{}{path}", shared.base.get().unwrap()),
            peer,
            path,
            headers,
            body,
            at: Instant::now(),
            answered: None,
            status: None,
        });
        seen.len() - 1
    };
    shared.arrived.notify_waiters();
    let _active = ActiveGuard::enter(&shared);
    let request = shared.seen.lock().unwrap()[index].clone();
    let res = answer(&shared, reply, &request).await;
    let mut seen = shared.seen.lock().unwrap();
    seen[index].answered = Some(Instant::now());
    seen[index].status = Some(res.status().as_u16());
    res
}

/// The answer `reply` gives to `request`.
async fn answer(shared: &Shared, reply: Reply, request: &Received) -> Response {
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
        Reply::Sequenced { delay, fail_every } => {
            let fail = {
                let mut ids = shared.ids.lock().unwrap();
                let distinct = ids.len();
                let seen = ids
                    .entry(request.header("webhook-id").unwrap_or_default())
                    .or_default();
                *seen += 1;
                // A new id is the (distinct + 1)-th.
                *seen == 1 && (distinct + 1).is_multiple_of(fail_every)
            };
            tokio::time::sleep(delay).await;
            let code = if fail { 500 } else { 200 };
            (StatusCode::from_u16(code).unwrap(), "ok").into_response()
        }
        Reply::FailKey(key) => {
            let fail = keyed(request).is_some_and(|(k, _)| k == key);
            let code = if fail { 500 } else { 200 };
            (StatusCode::from_u16(code).unwrap(), "ok").into_response()
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

// ----- ordering keys -----

/// An event of ordering key `key`, its payload carrying the key and its place
/// `seq` in the key's publish order.
pub fn keyed_event(key: &str, seq: usize) -> Value {
    json!({"event_type": "fax.progress", "payload": {"key": key, "seq": seq}, "ordering_key": key})
}

/// The key and place of a request built by [`keyed_event`].
pub fn keyed(request: &Received) -> Option<(String, usize)> {
    let body: Value = serde_json::from_slice(&request.body).ok()?;
    let payload = &body["data"]["payload"];
    Some((
        payload["key"].as_str()?.to_string(),
        payload["seq"].as_u64()? as usize,
    ))
}

/// Publishes `per_key` events ([`keyed_event`]) for each of `keys` keys
/// (`key-0`, `key-1`, …): each key's events one after the other through
/// `servers[k % servers.len()]`, the keys at once. Each key's event ids, in
/// publish order.
pub async fn publish_keyed(
    servers: &[&TestServer],
    account: &TestAccount,
    keys: usize,
    per_key: usize,
) -> Vec<Vec<String>> {
    let lanes = (0..keys).map(|k| async move {
        let server = servers[k % servers.len()];
        let key = format!("key-{k}");
        let mut ids = Vec::with_capacity(per_key);
        for seq in 0..per_key {
            ids.push(server.publish(account, keyed_event(&key, seq)).await);
        }
        ids
    });
    futures::future::join_all(lanes).await
}

/// How one ordering key's requests ([`keyed_event`]s) arrived, walked in
/// arrival order.
#[derive(Debug, Default)]
pub struct KeyOrder {
    /// Requests of this key.
    pub requests: usize,
    /// Requests answered with an error.
    pub failed: usize,
    /// Events delivered in order: places `0..in_order` each succeeded, one
    /// after the other.
    pub in_order: usize,
    /// Places of requests made before the event ahead had succeeded: the order
    /// broken.
    pub early: Vec<usize>,
    /// Requests for an event that had succeeded already (a copy re-sent).
    pub copies: usize,
    /// Requests that arrived before the key's previous request was answered.
    pub overlaps: usize,
    /// Requests of other keys that arrived while this key waited to retry a
    /// failed request (between it and the key's next request).
    pub others_meanwhile: usize,
}

/// Per key, how the [`keyed_event`]s among `received` arrived.
pub fn order_by_key(received: &[Received]) -> BTreeMap<String, KeyOrder> {
    let keyed: Vec<(String, usize, &Received)> = received
        .iter()
        .filter_map(|r| keyed(r).map(|(key, seq)| (key, seq, r)))
        .collect();
    let mut orders: BTreeMap<String, KeyOrder> = BTreeMap::new();
    let mut last: HashMap<&str, &Received> = HashMap::new();
    // Per key, the spans between a failed request and the key's next one.
    let mut waits: Vec<(&str, Instant, Instant)> = Vec::new();
    for (key, seq, r) in &keyed {
        let o = orders.entry(key.clone()).or_default();
        o.requests += 1;
        if let Some(prev) = last.insert(key, r) {
            if prev.answered.is_some_and(|answered| r.at < answered) {
                o.overlaps += 1;
            }
            if !prev.succeeded() {
                waits.push((key, prev.at, r.at));
            }
        }
        if !r.succeeded() {
            o.failed += 1;
        }
        match seq.cmp(&o.in_order) {
            std::cmp::Ordering::Greater => o.early.push(*seq),
            std::cmp::Ordering::Less => o.copies += 1,
            std::cmp::Ordering::Equal if r.succeeded() => o.in_order += 1,
            std::cmp::Ordering::Equal => {}
        }
    }
    for (key, from, to) in waits {
        let others = keyed
            .iter()
            .filter(|(k, _, r)| k != key && r.at > from && r.at < to)
            .count();
        orders.get_mut(key).unwrap().others_meanwhile += others;
    }
    orders
}

/// Asserts that each of `keys` keys (`key-0`, …) had all its `per_key` events
/// delivered in publish order, one request at a time, none sent before the
/// event ahead had succeeded; re-sent copies of delivered events only where
/// `copies_allowed` (after a crash).
pub fn assert_keys_in_order(
    orders: &BTreeMap<String, KeyOrder>,
    keys: usize,
    per_key: usize,
    copies_allowed: bool,
) {
    assert_eq!(orders.len(), keys, "keys seen: {orders:#?}");
    for (key, o) in orders {
        assert_eq!(
            o.in_order, per_key,
            "{key} not all delivered in order: {o:?}"
        );
        assert!(o.early.is_empty(), "{key} out of order: {o:?}");
        assert_eq!(o.overlaps, 0, "{key} had requests at once: {o:?}");
        assert!(copies_allowed || o.copies == 0, "{key} sent twice: {o:?}");
    }
}
