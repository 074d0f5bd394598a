//! One measured phase: publish events (one per request, in batches, or paced),
//! wait for their deliveries at the receiver (one per endpoint an event goes
//! to), and turn the timings into figures. Also the ceiling: the same
//! deliveries sent straight to the receiver; waits on the account's pending
//! queue, on the nodes' count of purged events, on an endpoint's pause and on
//! deliveries held back by it; and publishing events that each carry a file.

use crate::api::Account;
use crate::load::{closed_loop, open_loop};
use crate::receiver::{self, Receiver, Seen};
use crate::stats::{per_second, Latency};
use axum::body::Bytes;
use reqwest::header::CONTENT_TYPE;
use reqwest::Client;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events per batch publish.
pub const BATCH: usize = 100;
/// Pause between looks at the receiver while waiting.
const POLL: Duration = Duration::from_millis(50);
/// Waiting ends when no new event arrived for this long…
const STALL: Duration = Duration::from_secs(15);
/// …or after this long in all.
const MAX_WAIT: Duration = Duration::from_secs(300);
/// Pause between looks at the purge counter (a `/metrics` request each).
const COUNTER_POLL: Duration = Duration::from_millis(100);

/// One accepted event.
struct Sent {
    /// The endpoints it goes to, one delivery each.
    endpoints: Range<usize>,
    /// Its id.
    id: String,
    /// When its publish request started.
    start: Instant,
}

/// What publishing a phase's events gave.
pub struct Publishing {
    /// Accepted events.
    sent: Vec<Sent>,
    /// Publish requests that failed.
    errors: usize,
    /// Wall time of publishing.
    wall: Duration,
}

impl Publishing {
    /// Accepted events.
    pub fn accepted(&self) -> usize {
        self.sent.len()
    }

    /// Publish requests that failed.
    pub fn errors(&self) -> usize {
        self.errors
    }

    /// Wall time of publishing.
    pub fn wall(&self) -> Duration {
        self.wall
    }

    /// Gathers the outcome of each request; shows the first failure.
    fn collect(outcomes: Vec<Result<Vec<Sent>, String>>, wall: Duration) -> Publishing {
        let (mut sent, mut errors) = (Vec::new(), 0);
        for outcome in outcomes {
            match outcome {
                Ok(accepted) => sent.extend(accepted),
                Err(e) if errors == 0 => {
                    eprintln!("hookpost-bench: a publish failed: {e}");
                    errors += 1;
                }
                Err(_) => errors += 1,
            }
        }
        Publishing { sent, errors, wall }
    }
}

/// How a closed-loop phase publishes: one event per request, or batches.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// [`single`].
    Single,
    /// [`batch`].
    Batch,
}

impl Shape {
    /// The phase's name.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Single => "single",
            Shape::Batch => "batch",
        }
    }

    /// Events per publish request.
    pub fn per_request(self) -> usize {
        match self {
            Shape::Single => 1,
            Shape::Batch => BATCH,
        }
    }

    /// Publishes `events` events this way from `concurrency` publishers.
    pub async fn publish(self, account: &Account, events: usize, concurrency: usize) -> Publishing {
        match self {
            Shape::Single => single(account, events, concurrency).await,
            Shape::Batch => batch(account, events, concurrency).await,
        }
    }
}

/// Publishes `events` events, one per request, from `concurrency` publishers.
pub async fn single(account: &Account, events: usize, concurrency: usize) -> Publishing {
    let account = account.clone();
    let job = move |seq| publish_one(account.clone(), seq);
    let (outcomes, wall) = closed_loop(events, concurrency, job).await;
    Publishing::collect(outcomes, wall)
}

/// Publishes `events` events in batches of [`BATCH`] from `concurrency` publishers.
pub async fn batch(account: &Account, events: usize, concurrency: usize) -> Publishing {
    let account = account.clone();
    let job = move |batch| publish_batch(account.clone(), batch, events);
    let (outcomes, wall) = closed_loop(events.div_ceil(BATCH), concurrency, job).await;
    Publishing::collect(outcomes, wall)
}

/// Publishes `events` events one per request, started `rate` times a second
/// whatever the answers (open loop).
pub async fn paced(account: &Account, events: usize, rate: f64) -> Publishing {
    let account = account.clone();
    let job = move |seq| publish_one(account.clone(), seq);
    let (outcomes, wall) = open_loop(events, Duration::from_secs_f64(1.0 / rate), job).await;
    Publishing::collect(outcomes, wall)
}

/// Publishes `events` events one after another, each with its own file of
/// `bytes` random bytes drawn from `seed` (see [`crate::files`]): what
/// publishing gave, and each accepted event's file's hex SHA-256 by event id.
pub async fn with_files(
    account: &Account,
    events: usize,
    bytes: usize,
    seed: u64,
) -> (Publishing, HashMap<String, String>) {
    let account = account.clone();
    let job = move |seq| publish_file(account.clone(), seq, bytes, seed);
    let (outcomes, wall) = closed_loop(events, 1, job).await;
    let mut hashes = HashMap::new();
    let outcomes = outcomes.into_iter().map(|outcome| {
        outcome.map(|(sent, sha256)| {
            hashes.insert(sent.id.clone(), sha256);
            vec![sent]
        })
    });
    let publishing = Publishing::collect(outcomes.collect(), wall);
    (publishing, hashes)
}

/// Publishes event `seq` with its file; the event and the file's SHA-256.
async fn publish_file(
    account: Account,
    seq: usize,
    bytes: usize,
    seed: u64,
) -> Result<(Sent, String), String> {
    let start = Instant::now();
    let (id, sha256) = account.publish_file(seq, bytes, seed).await?;
    let sent = Sent {
        endpoints: account.endpoints(seq),
        id,
        start,
    };
    Ok((sent, sha256))
}

/// Publishes event `seq` alone.
async fn publish_one(account: Account, seq: usize) -> Result<Vec<Sent>, String> {
    let start = Instant::now();
    let id = account.publish(seq).await?;
    Ok(vec![Sent {
        endpoints: account.endpoints(seq),
        id,
        start,
    }])
}

/// Publishes batch number `batch` of `events` events.
async fn publish_batch(account: Account, batch: usize, events: usize) -> Result<Vec<Sent>, String> {
    let seqs = batch * BATCH..((batch + 1) * BATCH).min(events);
    let start = Instant::now();
    let ids = account.publish_batch(batch, seqs.clone()).await?;
    if ids.len() != seqs.len() {
        return Err(format!("{} ids for a batch of {}", ids.len(), seqs.len()));
    }
    let sent = seqs.zip(ids).map(|(seq, id)| Sent {
        endpoints: account.endpoints(seq),
        id,
        start,
    });
    Ok(sent.collect())
}

/// The figures of one phase. Missing, duplicates, latency and the delivered
/// rate are per delivery: per event when each goes to one endpoint.
#[derive(Debug, Clone)]
pub struct Figures {
    /// Accepted events that count (with a delivery that counts).
    pub events: usize,
    /// Deliveries that count (to endpoints expected to answer 200).
    pub deliveries: usize,
    /// Publish requests that failed.
    pub publish_errors: usize,
    /// Accepted events per second of publishing.
    pub publish_rate: f64,
    /// Counted deliveries arrived per second, first publish to last arrival.
    pub delivered_rate: f64,
    /// Counted events with every counted delivery arrived, per second of the
    /// same span.
    pub event_rate: f64,
    /// Counted deliveries that never arrived.
    pub missing: usize,
    /// Arrivals answered 200 beyond one per counted delivery.
    pub duplicates: usize,
    /// Publish request start to first arrival, per delivery.
    pub latency: Latency,
    /// When the first counted delivery arrived.
    pub first_arrival: Option<Instant>,
    /// When the last counted delivery arrived.
    pub last_arrival: Option<Instant>,
    /// CPU time the nodes spent from the first publish until the last
    /// delivery arrived, in phases that measure it.
    pub cpu: Option<Duration>,
}

impl Figures {
    /// The nodes' CPU time per delivery that arrived, in µs.
    pub fn cpu_us_per_delivery(&self) -> Option<f64> {
        let arrived = self.deliveries - self.missing;
        let cpu = self.cpu.filter(|_| arrived > 0)?;
        Some(cpu.as_secs_f64() * 1e6 / arrived as f64)
    }
}

/// The deliveries of `publishing` to endpoints where `counted` holds: the event
/// of each, and its receiver key.
fn deliveries(
    publishing: &Publishing,
    counted: impl Fn(usize) -> bool,
) -> (Vec<&Sent>, Vec<String>) {
    publishing
        .sent
        .iter()
        .flat_map(|s| s.endpoints.clone().map(move |e| (s, e)))
        .filter(|(_, e)| counted(*e))
        .map(|(s, e)| (s, receiver::key(e, &s.id)))
        .unzip()
}

/// Waits for the deliveries of `publishing` to endpoints where `counted` holds,
/// and measures them.
pub async fn settle(
    receiver: &Receiver,
    publishing: &Publishing,
    counted: impl Fn(usize) -> bool,
) -> Figures {
    let (sent, keys) = deliveries(publishing, counted);
    let seen = wait_for(receiver, &keys, |s| s.first_ok.is_some(), MAX_WAIT).await;
    let latencies: Vec<Duration> = sent
        .iter()
        .zip(&seen)
        .filter_map(|(s, seen)| seen.first_ok.map(|t| t.saturating_duration_since(s.start)))
        .collect();
    let events = distinct(sent.iter().copied());
    let missed = sent
        .iter()
        .zip(&seen)
        .filter(|(_, seen)| seen.first_ok.is_none());
    let incomplete = distinct(missed.map(|(s, _)| *s));
    let first_start = sent.iter().map(|s| s.start).min();
    let first_arrival = seen.iter().filter_map(|s| s.first_ok).min();
    let last_arrival = seen.iter().filter_map(|s| s.first_ok).max();
    let span = match (first_start, last_arrival) {
        (Some(first), Some(last)) => last.saturating_duration_since(first),
        _ => Duration::ZERO,
    };
    Figures {
        events,
        deliveries: sent.len(),
        publish_errors: publishing.errors,
        publish_rate: per_second(publishing.sent.len(), publishing.wall),
        delivered_rate: per_second(latencies.len(), span),
        event_rate: per_second(events - incomplete, span),
        missing: sent.len() - latencies.len(),
        duplicates: seen.iter().map(|s| s.ok.saturating_sub(1) as usize).sum(),
        latency: Latency::of(latencies),
        first_arrival,
        last_arrival,
        cpu: None,
    }
}

/// Distinct events among `sent` (by id).
fn distinct<'a>(sent: impl Iterator<Item = &'a Sent>) -> usize {
    sent.map(|s| s.id.as_str()).collect::<HashSet<_>>().len()
}

/// Looks at the receiver until `done` holds for every delivery of `keys`,
/// progress stalls, or `max` has passed; what it saw last.
async fn wait_for(
    receiver: &Receiver,
    keys: &[String],
    done: impl Fn(&Seen) -> bool,
    max: Duration,
) -> Vec<Seen> {
    let started = Instant::now();
    let (mut reached, mut progressed) = (0, started);
    loop {
        let seen = receiver.seen(keys);
        let now = seen.iter().filter(|s| done(s)).count();
        if now > reached {
            (reached, progressed) = (now, Instant::now());
        }
        if reached == keys.len() || progressed.elapsed() > STALL || started.elapsed() > max {
            return seen;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits, at most `max`, until every delivery of the accepted events reached
/// the receiver at least once (whatever the answer); how many did.
pub async fn attempted(receiver: &Receiver, publishing: &Publishing, max: Duration) -> usize {
    let (_, keys) = deliveries(publishing, |_| true);
    let tried = |s: &Seen| s.requests > 0;
    let seen = wait_for(receiver, &keys, tried, max).await;
    seen.iter().filter(|s| tried(s)).count()
}

/// Waits, at most `max`, until none of the account's events is pending (each
/// delivery made or failed for good); whether that happened.
pub async fn drained(account: &Account, max: Duration) -> Result<bool, String> {
    let started = Instant::now();
    while account.any_pending().await? {
        if started.elapsed() > max {
            return Ok(false);
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(true)
}

/// Waits, at most `max`, until account endpoint `endpoint` is paused (a
/// receiver's `Retry-After` recorded); whether that happened.
pub async fn paused(account: &Account, endpoint: &str, max: Duration) -> Result<bool, String> {
    let started = Instant::now();
    while !account.endpoint_paused(endpoint).await? {
        if started.elapsed() > max {
            return Ok(false);
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(true)
}

/// Waits, at most `max`, until every delivery of events `ids` is held back
/// by delivery control and none is claimed; how many events were so at the
/// last look.
pub async fn held(account: &Account, ids: &[&str], max: Duration) -> Result<usize, String> {
    let started = Instant::now();
    loop {
        let mut held = 0;
        for id in ids {
            held += usize::from(account.event_held(id).await?);
        }
        if held == ids.len() || started.elapsed() > max {
            return Ok(held);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// What a wait on the purge counter saw.
#[derive(Debug, Clone, Copy)]
pub struct Purged {
    /// Events purged (summed over the nodes) when the wait ended.
    pub count: u64,
    /// When the count was first seen at the target or above, if it was.
    pub reached: Option<Instant>,
    /// When it was last seen below the target (the wait's start if never):
    /// with `reached`, the target was crossed in between.
    pub below: Instant,
}

/// Looks at the nodes' count of purged events until it reaches `target`, has
/// not moved for `stall` (since the wait began or it last moved), or `max` has
/// passed.
pub async fn purged(
    account: &Account,
    target: u64,
    stall: Duration,
    max: Duration,
) -> Result<Purged, String> {
    let started = Instant::now();
    let (mut progressed, mut below) = (started, started);
    let mut count = account.purged().await?;
    while count < target {
        if progressed.elapsed() > stall || started.elapsed() > max {
            return Ok(Purged {
                count,
                reached: None,
                below,
            });
        }
        tokio::time::sleep(COUNTER_POLL).await;
        let looked = Instant::now();
        let now = account.purged().await?;
        if now > count {
            progressed = looked;
        }
        if now < target {
            below = looked;
        }
        count = now;
    }
    Ok(Purged {
        count,
        reached: Some(Instant::now()),
        below,
    })
}

/// Requests per second of `requests` delivery-like POSTs of `body` straight to
/// `url` from `concurrency` senders.
pub async fn ceiling(
    client: &Client,
    url: String,
    body: String,
    requests: usize,
    concurrency: usize,
) -> Result<f64, String> {
    let (client, url, body) = (client.clone(), Arc::<str>::from(url), Bytes::from(body));
    let job = move |i| post_direct(client.clone(), url.clone(), body.clone(), i);
    let (answers, wall) = closed_loop(requests, concurrency, job).await;
    let failed = answers.iter().filter(|ok| !**ok).count();
    if failed > 0 {
        return Err(format!(
            "{failed} of {requests} requests straight to the receiver failed"
        ));
    }
    Ok(per_second(requests, wall))
}

/// One direct POST, answered 200 and read to the end.
async fn post_direct(client: Client, url: Arc<str>, body: Bytes, i: usize) -> bool {
    let sent = client
        .post(&*url)
        .header("webhook-id", format!("ceiling-{i}"))
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    match sent {
        Ok(answer) => answer.status().is_success() && answer.bytes().await.is_ok(),
        Err(_) => false,
    }
}
