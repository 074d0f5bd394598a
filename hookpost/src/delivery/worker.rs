//! The delivery worker: claims due events in batches, runs each attempt in its own
//! task (so one slow receiver never delays another) and records the outcome.
//!
//! Concurrency is bounded by *slots*. The publish path takes a [`Reservation`]
//! (a free slot) when there is one and hands the new event straight to it with
//! [`Reservation::start`] (its lease was set at insert), so a quiet system
//! delivers without polling; whatever finds no slot waits in the database until
//! the scheduler claims it.

use super::attempt::Channels;
use super::signers::SignerCache;
use crate::domain::target::lease_for;
use crate::metrics::Metrics;
use crate::storage::{Admitted, AttemptReport, ClaimedDelivery, ControlPolicy, NextState, Store};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Most events claimed in one query.
const CLAIM_BATCH: usize = 256;
/// Longest wait after a storage error before trying again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Shortest pause between two looks at the queue when nothing more was due.
const MIN_WAIT: Duration = Duration::from_millis(10);

/// How long an endpoint that just failed here is admitted delivery by
/// delivery even when the claim said it needs no admission: longer than the
/// publish path's cached view of endpoints may lag behind its control state.
const WATCH_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// What one claim found.
enum Claim {
    /// As many events as there were free slots: more may be due.
    Full,
    /// Fewer: everything due is claimed.
    Partial,
    /// No free slot to claim into.
    NoSlots,
}

/// How a delivery came to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cleared {
    /// Its endpoint's delivery control had no say.
    Free,
    /// Delivery control admitted it (it holds a place).
    Admitted,
    /// Delivery control admitted it as the open breaker's probe.
    Probe,
}

/// A reserved place for one attempt in flight.
type Slot = OwnedSemaphorePermit;

/// A free slot of the local worker, held from publish until the event is stored;
/// dropping it gives the slot back.
pub struct Reservation {
    deliverer: Arc<Deliverer>,
    slot: Slot,
}

impl Reservation {
    /// The node the event is claimed for (written into its `claimed_by`).
    pub fn node(&self) -> &str {
        self.deliverer.node()
    }

    /// Runs one attempt of the event, claimed for [`Reservation::node`], in its own
    /// task.
    pub fn start(self, event: ClaimedDelivery) {
        self.deliverer.start(event, self.slot);
    }
}

/// Settings of the worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This node's name in claims.
    pub node: String,
    /// Most attempts in flight at once.
    pub concurrency: usize,
    /// Longest sleep between looks at the queue (other nodes may add work).
    pub poll_interval: Duration,
    /// How long shutdown waits for attempts in flight.
    pub drain_timeout: Duration,
    /// Spare time on a claim beyond its attempt (the place an admitted
    /// delivery holds lasts as long as its claim).
    pub lease_margin: Duration,
    /// The rules of delivery control.
    pub control: ControlPolicy,
}

/// Delivers events. Shared by the publish path (fast hand-off) and the scheduler.
pub struct Deliverer {
    store: Arc<dyn Store>,
    channels: Channels,
    config: WorkerConfig,
    signers: SignerCache,
    slots: Arc<Semaphore>,
    wake: Notify,
    /// Whether due work may be waiting in the database for a free slot.
    backlog: AtomicBool,
    /// Counters for `/metrics`.
    metrics: Arc<Metrics>,
    tasks: TaskTracker,
    /// Endpoints that failed here lately, until when ([`WATCH_AFTER_FAILURE`]).
    watched: Mutex<HashMap<String, Instant>>,
}

impl Deliverer {
    /// A deliverer over `store`, sending through `channels`.
    pub fn new(
        store: Arc<dyn Store>,
        channels: Channels,
        config: WorkerConfig,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new(Deliverer {
            store,
            channels,
            slots: Arc::new(Semaphore::new(config.concurrency)),
            config,
            signers: SignerCache::default(),
            wake: Notify::new(),
            backlog: AtomicBool::new(true),
            metrics,
            tasks: TaskTracker::new(),
            watched: Mutex::default(),
        })
    }

    /// This node's name, written into claims.
    pub fn node(&self) -> &str {
        &self.config.node
    }

    /// Asks the scheduler to look at the queue now (new or retried work).
    pub fn wake(&self) {
        self.backlog.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// A slot if one is free right now (never waits).
    pub fn reserve(self: &Arc<Self>) -> Option<Reservation> {
        let slot = self.slots.clone().try_acquire_owned().ok()?;
        Some(Reservation {
            deliverer: self.clone(),
            slot,
        })
    }

    /// Runs one attempt of a claimed event in its own task.
    fn start(self: &Arc<Self>, event: ClaimedDelivery, slot: Slot) {
        let this = self.clone();
        self.tasks.spawn(async move {
            let due_changed = match this.attempt(&event).await {
                Some(report) => {
                    this.watch(&report);
                    // A retry moves the next due time; a final outcome in an
                    // ordering lane lets the lane's next delivery come due.
                    let changed =
                        matches!(report.next, NextState::RetryAt(..)) || report.lane.is_some();
                    this.count(&report);
                    this.record(report).await;
                    changed
                }
                None => false,
            };
            drop(slot);
            // The scheduler only needs a look when work may be waiting for this slot
            // or a due time changed; otherwise it would query the database once
            // per delivered event for nothing.
            if due_changed || this.backlog.load(Ordering::Relaxed) {
                this.wake.notify_one();
            }
        });
    }

    /// Claims due events until `shutdown`, then waits for attempts in flight (up to
    /// the drain timeout; unfinished ones come due again when their lease lapses).
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut backoff = Duration::ZERO;
        while !shutdown.is_cancelled() {
            let wait = match self.claim_once().await {
                Ok(Claim::Full) => continue,
                // Every slot is busy: a finishing attempt wakes the loop (the
                // backlog flag is set), so there is nothing to look up meanwhile.
                Ok(Claim::NoSlots) => self.config.poll_interval,
                Ok(Claim::Partial) => {
                    backoff = Duration::ZERO;
                    self.until_next_due().await.max(MIN_WAIT)
                }
                Err(()) => {
                    backoff = (backoff * 2).clamp(Duration::from_millis(250), MAX_BACKOFF);
                    backoff
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.cancelled() => {}
            }
        }
        self.tasks.close();
        let drain = self.config.drain_timeout;
        tracing::info!(
            in_flight = self.in_flight(),
            waiting_up_to = %humantime::format_duration(drain),
            "shutting down"
        );
        if tokio::time::timeout(drain, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = self.in_flight(),
                "left deliveries to their lease; they are sent again when it lapses"
            );
        }
    }

    /// Claims one batch.
    async fn claim_once(self: &Arc<Self>) -> Result<Claim, ()> {
        let free = self.slots.available_permits().min(CLAIM_BATCH);
        if free == 0 {
            return Ok(Claim::NoSlots);
        }
        let Ok(mut permits) = self.slots.clone().try_acquire_many_owned(free as u32) else {
            return Ok(Claim::NoSlots);
        };
        let events = self
            .store
            .claim_due(self.node(), free as u32)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "could not claim due deliveries; backing off");
            })?;
        let full = events.len() == free;
        // Work is left behind only when the batch was full.
        self.backlog.store(full, Ordering::Relaxed);
        for event in events {
            let slot = permits
                .split(1)
                .expect("one permit was acquired per claimed event");
            self.start(event, slot);
        }
        Ok(if full { Claim::Full } else { Claim::Partial })
    }

    async fn until_next_due(&self) -> Duration {
        let poll = self.config.poll_interval;
        match self.store.next_due().await {
            Ok(Some(at)) => (at - self.channels.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(poll),
            _ => poll,
        }
    }

    /// Writes the report, retrying while storage is down: an attempt that is never
    /// recorded is simply made again after its lease.
    async fn record(&self, report: AttemptReport) {
        let mut backoff = Duration::from_millis(100);
        for _ in 0..20 {
            match self
                .store
                .record_attempt(report.clone(), &self.config.control)
                .await
            {
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(event = %report.event_id, error = %e, "could not record an attempt; retrying")
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Attempts running now.
    pub fn in_flight(&self) -> usize {
        self.config.concurrency - self.slots.available_permits()
    }

    fn count(&self, report: &AttemptReport) {
        for leg in &report.legs {
            let counter = if leg.succeeded() {
                &self.metrics.requests_succeeded
            } else {
                &self.metrics.requests_failed
            };
            Metrics::inc(counter);
            let took = Duration::from_millis(leg.duration_ms);
            self.metrics.observe_request(leg.leg, leg.succeeded(), took);
        }
        Metrics::inc(match report.next {
            NextState::Delivered => &self.metrics.deliveries_delivered,
            NextState::Failed => &self.metrics.deliveries_failed,
            NextState::RetryAt(..) => &self.metrics.retries_scheduled,
        });
    }

    /// Forgets an account's cached signing keys (after a rotation).
    pub fn forget_signer(&self, account_id: &str) {
        self.signers.forget(account_id);
    }

    /// One attempt; `None` when the keys could not be loaded or delivery
    /// control held it back (the lease, or control, brings it back).
    async fn attempt(&self, event: &ClaimedDelivery) -> Option<AttemptReport> {
        let signer = self
            .signers
            .get(self.store.as_ref(), &event.account_id)
            .await?;
        let cleared = self.admit(event).await?;
        let mut report = self.channels.attempt(&signer, event).await;
        report.admitted = cleared != Cleared::Free;
        report.signal.probe = cleared == Cleared::Probe;
        Some(report)
    }

    /// Asks the endpoint's delivery control, when it has a say, whether the
    /// delivery goes now; `None` when it was held back, parked or stopped.
    async fn admit(&self, event: &ClaimedDelivery) -> Option<Cleared> {
        let Some(endpoint) = event.target.endpoint_id.as_deref() else {
            return Some(Cleared::Free);
        };
        if !event.gated && !self.watching(endpoint) {
            return Some(Cleared::Free);
        }
        let lease = lease_for(&event.target, self.config.lease_margin);
        match self.store.admit(event, lease).await {
            Ok(Admitted::Go) => Some(Cleared::Admitted),
            Ok(Admitted::Probe) => Some(Cleared::Probe),
            Ok(held) => {
                tracing::debug!(event = %event.id, seq = event.seq, endpoint, ?held, "delivery control held a delivery back");
                Metrics::inc(&self.metrics.deliveries_held);
                self.wake.notify_one();
                None
            }
            Err(e) => {
                tracing::warn!(event = %event.id, error = %e, "could not ask delivery control; the delivery comes back after its lease");
                None
            }
        }
    }

    /// Remembers an endpoint whose attempt failed, so that this node admits its
    /// next deliveries one by one for a while (its control may have turned).
    fn watch(&self, report: &AttemptReport) {
        let Some(endpoint) = report
            .endpoint_id
            .as_ref()
            .filter(|_| !report.signal.delivered)
        else {
            return;
        };
        let mut watched = self.watched.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        watched.retain(|_, until| *until > now);
        watched.insert(endpoint.clone(), now + WATCH_AFTER_FAILURE);
    }

    fn watching(&self, endpoint: &str) -> bool {
        let watched = self.watched.lock().unwrap_or_else(|e| e.into_inner());
        watched
            .get(endpoint)
            .is_some_and(|until| *until > Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::fakes::{answered, channels, now, target, FakeTransport, Seen};
    use crate::domain::event::{EventStatus, NewEvent};
    use crate::domain::settings::WebhookSettings;
    use crate::domain::target::Target;
    use crate::secrets::SigningKeys;
    use crate::storage::sqlite::SqliteStore;
    use crate::storage::{Account, Durability, NewAccount, NewDelivery, StoredEvent};
    use chrono::Utc;
    use serde_json::value::RawValue;

    const URL: &str = "https://receiver.example/hook";
    const LEASE: Duration = Duration::from_secs(30);

    /// A deliverer over the embedded store in a temporary directory, sending
    /// through a fake transport at the fake clock's time.
    struct Fixture {
        deliverer: Arc<Deliverer>,
        store: Arc<dyn Store>,
        web: Arc<FakeTransport>,
        account: Account,
        _dir: tempfile::TempDir,
    }

    async fn fixture(concurrency: usize) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("data"), Durability::Full).unwrap());
        let account = Account {
            id: "acct_worker".into(),
            name: "worker".into(),
            settings: WebhookSettings::default(),
            keys: SigningKeys::generate(),
            retention: Default::default(),
            created_at: Utc::now(),
        };
        let new = NewAccount {
            account: account.clone(),
            api_key_hash: [7; 32],
        };
        store.create_account(new).await.unwrap();
        let web = FakeTransport::new();
        let config = WorkerConfig {
            node: "node-test".into(),
            concurrency,
            poll_interval: Duration::from_millis(50),
            drain_timeout: Duration::from_secs(5),
            lease_margin: Duration::from_secs(30),
            control: ControlPolicy::default(),
        };
        let metrics = Arc::new(Metrics::new("node-test", "all"));
        let deliverer = Deliverer::new(store.clone(), channels(&web, None), config, metrics);
        Fixture {
            deliverer,
            store,
            web,
            account,
            _dir: dir,
        }
    }

    impl Fixture {
        /// Stores a pending event for `target`: claimed by `node` under its lease
        /// if given, as the publish path does; due now otherwise.
        async fn publish(&self, target: Target, node: Option<&str>) -> NewEvent {
            let created_at = Utc::now();
            let lease = chrono::Duration::from_std(LEASE).unwrap();
            let event = NewEvent {
                id: uuid::Uuid::now_v7().to_string(),
                account_id: self.account.id.clone(),
                profile_id: None,
                event_type: "fax.delivered".into(),
                payload: RawValue::from_string(r#"{"pages":3}"#.into()).unwrap(),
                payloads: None,
                occurred_at: "2026-03-01T11:59:00Z".into(),
                created_at,
                idempotency_key: None,
                ordering_key: None,
                status: EventStatus::Pending,
                attachments: Vec::new(),
                deliveries: vec![NewDelivery {
                    target,
                    lease: LEASE,
                    claimed_by: node.map(str::to_string),
                    due_at: node.map_or(created_at, |_| created_at + lease),
                    lane: None,
                }],
            };
            let window = Duration::from_secs(60);
            self.store
                .publish(vec![event.clone()], window)
                .await
                .unwrap();
            event
        }

        /// The event once an attempt of it is recorded (panics after 5 s).
        async fn recorded(&self, id: &str) -> StoredEvent {
            for _ in 0..500 {
                let stored = self.store.event(&self.account.id, id).await.unwrap();
                if let Some(stored) = stored.filter(|e| !e.attempts.is_empty()) {
                    return stored;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("no attempt of {id} was recorded");
        }
    }

    /// The event's one delivery as the worker gets it for its first attempt.
    fn first_attempt(event: NewEvent) -> ClaimedDelivery {
        event.first_claims().next().expect("a claimed delivery")
    }

    #[tokio::test]
    async fn a_reservation_holds_a_slot_until_it_is_dropped() {
        let f = fixture(1).await;
        let reservation = f.deliverer.reserve().expect("a free slot");
        assert_eq!(reservation.node(), "node-test");
        assert!(f.deliverer.reserve().is_none());
        assert_eq!(f.deliverer.in_flight(), 1);
        drop(reservation);
        assert!(f.deliverer.reserve().is_some());
    }

    #[tokio::test]
    async fn a_reserved_event_is_attempted_and_recorded() {
        let f = fixture(2).await;
        let reservation = f.deliverer.reserve().unwrap();
        let event = f
            .publish(target(URL, None, &[60]), Some(reservation.node()))
            .await;
        let id = event.id.clone();
        reservation.start(first_attempt(event));
        let stored = f.recorded(&id).await;
        assert_eq!(stored.status, EventStatus::Delivered);
        assert_eq!(stored.attempts.len(), 1);
        assert_eq!(stored.attempts[0].attempt, 1);
        assert_eq!(stored.attempts[0].started_at, now());
        let seen = Seen {
            url: URL.into(),
            attempt: 1,
            mail: false,
        };
        assert_eq!(f.web.seen(), [seen]);
    }

    #[tokio::test]
    async fn a_failed_attempt_is_recorded_with_its_retry_at_the_clock_time() {
        let f = fixture(2).await;
        f.web.answer(URL, answered(500));
        let reservation = f.deliverer.reserve().unwrap();
        let event = f
            .publish(target(URL, None, &[60, 120]), Some(reservation.node()))
            .await;
        let id = event.id.clone();
        reservation.start(first_attempt(event));
        let stored = f.recorded(&id).await;
        assert_eq!(stored.status, EventStatus::Pending);
        assert_eq!(stored.attempts_made(), 1);
        let retry_at = now() + chrono::Duration::seconds(60);
        assert_eq!(stored.next_attempt_at(), Some(retry_at));
    }

    #[tokio::test]
    async fn the_scheduler_claims_a_due_event_and_records_it() {
        let f = fixture(2).await;
        let event = f.publish(target(URL, None, &[60]), None).await;
        let stop = CancellationToken::new();
        let worker = tokio::spawn(f.deliverer.clone().run(stop.clone()));
        let stored = f.recorded(&event.id).await;
        stop.cancel();
        worker.await.unwrap();
        assert_eq!(stored.status, EventStatus::Delivered);
        assert_eq!(f.web.seen().len(), 1);
    }
}
