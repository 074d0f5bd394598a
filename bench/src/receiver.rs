//! The bench's webhook receiver: a keep-alive HTTP/1.1 server on 127.0.0.1 with
//! one path per endpoint (`/e0`, `/e1`, …). It answers 200 — or 500 on failing
//! endpoints, 503 while "down", or a fixed status on the one broken endpoint —
//! and remembers, per delivery (endpoint path and event id, the `webhook-id`
//! header: see [`key`]), how many requests came, how many were answered 200,
//! and when the first of those arrived; per endpoint, how many requests came;
//! and, when checking order, whether each ordering key's events first arrived
//! in their publish order. Keying by path too tells apart the copies of a
//! fanned-out event.
//!
//! Beside them, files endpoints (`/files/e0`, …) take `multipart/form-data`
//! deliveries of any size: they ask for a pause (`503` with `Retry-After`)
//! while told to, hold the deliveries of the events they were told about until
//! all of them are in flight at once (counting the most at once), then read
//! each form to its end and keep the SHA-256 of every file part. Their
//! requests are recorded under the endpoint's name, like the others'.

use crate::files::hex;
use axum::body::Bytes;
use axum::extract::multipart::{Multipart, MultipartError};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Longest a files endpoint holds a delivery, waiting for the others to be in
/// flight too, before it reads it anyway.
const HOLD_MAX: Duration = Duration::from_secs(30);

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
    path_key(&endpoint_name(n), id)
}

/// The path name of endpoint `n`.
fn endpoint_name(n: usize) -> String {
    format!("e{n}")
}

/// The key of event `id`'s delivery to path `/{endpoint}`.
fn path_key(endpoint: &str, id: &str) -> String {
    format!("{endpoint}/{id}")
}

/// Whether endpoint `n` answers 500 when failing is on: every tenth one.
pub fn is_failing_endpoint(n: usize) -> bool {
    n % 10 == 9
}

/// An ordered event's place: its ordering key and its number among the key's
/// events, in publish order — the `key` and `n` fields of its payload.
struct Place {
    /// The ordering key.
    key: String,
    /// Its number in the key's publish order, from 0.
    n: u64,
}

impl Place {
    /// The place an event's delivery body carries, if any.
    fn of(body: &[u8]) -> Option<Place> {
        let body: Value = serde_json::from_slice(body).ok()?;
        let payload = &body["data"]["payload"];
        Some(Place {
            key: payload["key"].as_str()?.to_owned(),
            n: payload["n"].as_u64()?,
        })
    }
}

/// What the receiver remembers, behind one lock.
#[derive(Default)]
struct Book {
    /// Per delivery, by [`key`].
    seen: HashMap<String, Seen>,
    /// Requests of any answer, per endpoint path name.
    by_endpoint: HashMap<String, u64>,
    /// Per endpoint and ordering key (`e0/key`), the highest `n` arrived first
    /// so far.
    last_n: HashMap<String, u64>,
    /// Ordering figures so far.
    order: Order,
}

/// What the order check saw: first arrivals of ordered events (answered 200),
/// and those of them that came after a later event of their key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Order {
    /// Ordered events' first arrivals.
    pub checked: u64,
    /// Of them, those that came after a later event of the same key and endpoint.
    pub out_of_order: u64,
}

impl std::ops::Sub for Order {
    type Output = Order;

    /// The figures between two looks.
    fn sub(self, earlier: Order) -> Order {
        Order {
            checked: self.checked - earlier.checked,
            out_of_order: self.out_of_order - earlier.out_of_order,
        }
    }
}

impl Book {
    /// Records one request to `endpoint`: of delivery `id` (if known), answered
    /// 200 if `ok`, carrying `place` (if checked).
    fn record(
        &mut self,
        endpoint: &str,
        id: Option<&str>,
        ok: bool,
        arrived: Instant,
        place: Option<Place>,
    ) {
        if let Some(count) = self.by_endpoint.get_mut(endpoint) {
            *count += 1;
        } else {
            self.by_endpoint.insert(endpoint.to_owned(), 1);
        }
        let Some(id) = id else {
            return;
        };
        let entry = self.seen.entry(path_key(endpoint, id)).or_default();
        entry.requests += 1;
        if !ok {
            return;
        }
        entry.ok += 1;
        if entry.first_ok.is_none() {
            entry.first_ok = Some(arrived);
            if let Some(place) = place {
                self.check_order(endpoint, place);
            }
        }
    }

    /// Counts a first arrival that comes after a later event of the same key
    /// on the same endpoint.
    fn check_order(&mut self, endpoint: &str, place: Place) {
        let key = path_key(endpoint, &place.key);
        self.order.checked += 1;
        match self.last_n.get(&key) {
            Some(&last) if place.n <= last => self.order.out_of_order += 1,
            _ => {
                self.last_n.insert(key, place.n);
            }
        }
    }
}

/// What the files endpoints do and saw, behind one lock.
#[derive(Default)]
struct Files {
    /// While set, they answer `503` with this `Retry-After` to everything.
    pause: Option<Duration>,
    /// The deliveries they hold until all are in flight.
    hold: Option<Hold>,
    /// Held deliveries in flight now: arrived, not yet answered.
    in_flight: usize,
    /// The most held deliveries in flight at once.
    most_in_flight: usize,
    /// Per event id, the hex SHA-256 of each file part (in order) of its
    /// first delivery read to the end.
    received: HashMap<String, Vec<String>>,
}

/// Deliveries a files endpoint holds, before reading them, until all are in
/// flight at once.
struct Hold {
    /// The events whose deliveries are held.
    ids: HashSet<String>,
    /// Becomes `true` once all of them were in flight at once.
    released: watch::Sender<bool>,
}

/// What the files endpoints saw (see [`Receiver::files`]).
pub struct FilesSeen {
    /// The most held deliveries in flight at once.
    pub most_in_flight: usize,
    /// Per event id, the hex SHA-256 of each file part of its first delivery
    /// read to the end.
    pub received: HashMap<String, Vec<String>>,
}

/// State shared by the handler and the bench.
#[derive(Default)]
struct Shared {
    /// Every endpoint answers 503.
    down: AtomicBool,
    /// Failing endpoints answer 500.
    failing: AtomicBool,
    /// One endpoint that answers this status whatever the other settings.
    broken: RwLock<Option<(usize, StatusCode)>>,
    /// Delivery bodies are read for their ordering [`Place`].
    checking_order: AtomicBool,
    /// Requests of any answer.
    requests: AtomicU64,
    /// Requests answered 200.
    answered_ok: AtomicU64,
    /// Per delivery, per endpoint, per ordering key.
    book: Mutex<Book>,
    /// The files endpoints'.
    files: Mutex<Files>,
}

impl Shared {
    /// The book, even if a holder panicked (its counts stay usable).
    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The files endpoints' state, even if a holder panicked.
    fn files(&self) -> MutexGuard<'_, Files> {
        self.files.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a request to `endpoint` in the totals and the book (see
    /// [`Book::record`]).
    fn record(
        &self,
        endpoint: &str,
        id: Option<&str>,
        ok: bool,
        arrived: Instant,
        place: Option<Place>,
    ) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if ok {
            self.answered_ok.fetch_add(1, Ordering::Relaxed);
        }
        self.book().record(endpoint, id, ok, arrived, place);
    }

    /// The broken endpoint and its status, if any.
    fn broken(&self) -> Option<(usize, StatusCode)> {
        *self.broken.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The status endpoint `name` answers with now.
    fn answer(&self, name: &str) -> StatusCode {
        let Some(n) = name.strip_prefix('e').and_then(|n| n.parse().ok()) else {
            return StatusCode::NOT_FOUND;
        };
        match self.broken() {
            Some((broken, status)) if broken == n => status,
            _ if self.down.load(Ordering::Relaxed) => StatusCode::SERVICE_UNAVAILABLE,
            _ if self.failing.load(Ordering::Relaxed) && is_failing_endpoint(n) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            _ => StatusCode::OK,
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
        // Forms with 10 MiB files: no body limit on the files endpoints.
        let files = post(receive_files).layer(DefaultBodyLimit::disable());
        let app = Router::new()
            .route("/{endpoint}", post(receive))
            .route("/files/{endpoint}", files)
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Receiver { shared, address })
    }

    /// URL of endpoint `n`.
    pub fn url(&self, n: usize) -> String {
        format!("http://{}/{}", self.address, endpoint_name(n))
    }

    /// URL of files endpoint `n` (recorded as endpoint `n`: see [`key`]).
    pub fn files_url(&self, n: usize) -> String {
        format!("http://{}/files/{}", self.address, endpoint_name(n))
    }

    /// Makes the files endpoints answer `503` with `Retry-After: pause` (in
    /// whole seconds) to everything, without reading the body.
    pub fn pause_files(&self, pause: Duration) {
        let mut files = self.shared.files();
        files.pause = Some(pause);
        files.hold = None;
    }

    /// Ends the pause; from now on the files endpoints hold the deliveries of
    /// events `ids`, before reading them, until all are in flight at once
    /// (each at most [`HOLD_MAX`]), and answer other deliveries at once.
    pub fn hold_files(&self, ids: HashSet<String>) {
        let mut files = self.shared.files();
        files.pause = None;
        files.hold = Some(Hold {
            ids,
            released: watch::channel(false).0,
        });
        (files.in_flight, files.most_in_flight) = (0, 0);
    }

    /// What the files endpoints saw so far.
    pub fn files(&self) -> FilesSeen {
        let files = self.shared.files();
        FilesSeen {
            most_in_flight: files.most_in_flight,
            received: files.received.clone(),
        }
    }

    /// Makes every endpoint answer 503 (`true`) or recover (`false`).
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::Relaxed);
    }

    /// Makes every tenth endpoint answer 500 (`true`) or 200 (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.shared.failing.store(failing, Ordering::Relaxed);
    }

    /// Makes endpoint `n` answer `status` to everything, or (`None`) none.
    pub fn set_broken(&self, broken: Option<(usize, StatusCode)>) {
        *self
            .shared
            .broken
            .write()
            .unwrap_or_else(PoisonError::into_inner) = broken;
    }

    /// Reads (`true`) or ignores (`false`) delivery bodies for the ordering
    /// key and number their payload carries (see [`Receiver::order`]).
    pub fn set_checking_order(&self, checking: bool) {
        self.shared
            .checking_order
            .store(checking, Ordering::Relaxed);
    }

    /// Requests received so far, and how many of them were answered 200.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.shared.requests.load(Ordering::Relaxed),
            self.shared.answered_ok.load(Ordering::Relaxed),
        )
    }

    /// Requests endpoint `n` received so far, of any answer.
    pub fn requests_to(&self, n: usize) -> u64 {
        let book = self.shared.book();
        book.by_endpoint
            .get(&endpoint_name(n))
            .copied()
            .unwrap_or(0)
    }

    /// What the order check saw so far (while [`Receiver::set_checking_order`]
    /// was on).
    pub fn order(&self) -> Order {
        self.shared.book().order
    }

    /// What was seen of each delivery of `keys` (made by [`key`]), in order
    /// (nothing yet: the default).
    pub fn seen(&self, keys: &[String]) -> Vec<Seen> {
        let book = self.shared.book();
        keys.iter()
            .map(|key| book.seen.get(key).copied().unwrap_or_default())
            .collect()
    }
}

/// Answers one delivery; the whole body is read before the arrival is taken,
/// and the arrival is recorded before the answer leaves (so an ordered
/// delivery's successor, sent only after this answer, is recorded after it).
async fn receive(
    State(shared): State<Arc<Shared>>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let arrived = Instant::now();
    let status = shared.answer(&endpoint);
    let checking = shared.checking_order.load(Ordering::Relaxed);
    let place = checking.then(|| Place::of(&body)).flatten();
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok());
    shared.record(&endpoint, id, status == StatusCode::OK, arrived, place);
    status
}

/// A held delivery in flight: counted from its arrival until it is answered
/// or dropped (when the sender gives up).
struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.files().in_flight -= 1;
    }
}

/// What a files endpoint does with one request: ask for a pause, or hold it
/// (with the wait for the others) or not, then read it.
enum Treatment {
    /// Answer `503` with this `Retry-After`.
    Pause(Duration),
    /// Wait until this says all held deliveries are in flight, then read.
    Hold(watch::Receiver<bool>),
    /// Read it at once.
    Read,
}

impl Files {
    /// How to treat a delivery of event `id`; counts it in flight if held,
    /// and releases every held delivery once all are in flight.
    fn arrive(&mut self, id: &str) -> Treatment {
        if let Some(pause) = self.pause {
            return Treatment::Pause(pause);
        }
        let Some(hold) = self.hold.as_ref().filter(|h| h.ids.contains(id)) else {
            return Treatment::Read;
        };
        let released = hold.released.subscribe();
        let expected = hold.ids.len();
        self.in_flight += 1;
        self.most_in_flight = self.most_in_flight.max(self.in_flight);
        if self.in_flight >= expected {
            hold.released.send_replace(true);
        }
        Treatment::Hold(released)
    }
}

/// Answers one delivery to a files endpoint: a pause while asked to;
/// otherwise, once its hold (if any) is over, reads the form to its end and
/// records its files' hashes and its arrival (when read) before answering 200.
async fn receive_files(
    State(shared): State<Arc<Shared>>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    form: Multipart,
) -> Response {
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok());
    let treatment = shared.files().arrive(id.unwrap_or_default());
    let _in_flight = match treatment {
        Treatment::Pause(pause) => {
            shared.record(&endpoint, id, false, Instant::now(), None);
            let retry_after = [(RETRY_AFTER, pause.as_secs().to_string())];
            return (StatusCode::SERVICE_UNAVAILABLE, retry_after).into_response();
        }
        Treatment::Hold(mut released) => {
            let guard = InFlight(&shared);
            let _ = tokio::time::timeout(HOLD_MAX, released.wait_for(|all| *all)).await;
            Some(guard)
        }
        Treatment::Read => None,
    };
    let read = read_files(form).await;
    let ok = read.is_ok();
    if let (Some(id), Ok(hashes)) = (id, read) {
        shared
            .files()
            .received
            .entry(id.to_owned())
            .or_insert(hashes);
    }
    shared.record(&endpoint, id, ok, Instant::now(), None);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    status.into_response()
}

/// Reads a form to its end: the hex SHA-256 of each file part, in order,
/// hashed as it streams in.
async fn read_files(mut form: Multipart) -> Result<Vec<String>, MultipartError> {
    let mut hashes = Vec::new();
    while let Some(mut field) = form.next_field().await? {
        let file = field.file_name().is_some();
        let mut hash = Sha256::new();
        while let Some(chunk) = field.chunk().await? {
            if file {
                hash.update(&chunk);
            }
        }
        if file {
            hashes.push(hex(&hash.finalize()));
        }
    }
    Ok(hashes)
}

#[cfg(test)]
mod tests {
    use super::{Book, Order, Place};
    use std::time::Instant;

    /// A delivery body carrying key `key` and number `n`.
    fn body(key: &str, n: u64) -> Vec<u8> {
        let payload = format!(r#"{{"key":"{key}","n":{n},"pad":"x"}}"#);
        format!(r#"{{"data":{{"id":"x","payload":{payload}}},"meta":{{"attempt":1}}}}"#)
            .into_bytes()
    }

    /// Records a first 200 of event `id` on `endpoint`, number `n` of `key`.
    fn arrive(book: &mut Book, endpoint: &str, id: &str, key: &str, n: u64) {
        let place = Place::of(&body(key, n));
        assert!(place.is_some(), "the body's place is read");
        book.record(endpoint, Some(id), true, Instant::now(), place);
    }

    /// Late arrivals of earlier numbers count, per key and endpoint; repeats
    /// of an arrived delivery do not.
    #[test]
    fn counts_arrivals_out_of_their_key_order() {
        let mut book = Book::default();
        arrive(&mut book, "e0", "a", "k1", 0);
        arrive(&mut book, "e0", "c", "k1", 2);
        arrive(&mut book, "e0", "b", "k1", 1);
        arrive(&mut book, "e0", "c", "k1", 2);
        arrive(&mut book, "e1", "b", "k1", 1);
        arrive(&mut book, "e0", "d", "k2", 0);
        let expected = Order {
            checked: 5,
            out_of_order: 1,
        };
        assert_eq!(book.order, expected);
        assert_eq!(book.by_endpoint["e0"], 5);
    }
}
