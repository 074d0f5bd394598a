//! The scenarios. Each is a ceiling measurement and then one or more runs; a run
//! is a fresh set of hookpost processes with one account and one profile (or,
//! in a fan-out run, one account endpoint) per receiver endpoint, measured in
//! phases, and killed at its end. The attachments run has one account
//! endpoint, taking forms, on a files endpoint of the receiver.

use crate::api::{Account, Routing};
use crate::cpu;
use crate::files::{self, FILE_BYTES};
use crate::floor::Floor;
use crate::keys::Keys;
use crate::notes::{self, Notes};
use crate::phase::{self, Figures, Publishing, Shape};
use crate::receiver::{is_failing_endpoint, Receiver};
use crate::report::{Report, Run};
use crate::server::Cluster;
use crate::stats::per_second;
use crate::{Plan, Scenario};
use axum::http::StatusCode;
use reqwest::Client;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Retries of healthy endpoints (profiles or account endpoints): short, so a
/// transient failure is retried within the run.
const HEALTHY_RETRIES: &[&str] = &["100ms", "200ms", "400ms"];
/// Retries of failing endpoints' profiles and of the dead endpoint: all of
/// them happen during the run.
const FAILING_RETRIES: &[&str] = &["100ms", "200ms", "400ms", "800ms"];
/// Retries in the backlog scenario: the backlog outlives a short outage.
const BACKLOG_RETRIES: &[&str] = &["2s"; 5];
/// Longest the receiver stays down after the backlog is published, waiting for
/// every event's first attempt: well inside the 10 s that [`BACKLOG_RETRIES`] last.
const BACKLOG_DOWN_MAX: Duration = Duration::from_secs(6);
/// Longest the paced phase publishes, in seconds.
const PACED_SECS: f64 = 10.0;
/// The storm scenario's healthy endpoint (profile), for fresh events.
const FRESH_ENDPOINT: usize = 0;
/// The storm scenario's failing endpoint (profile).
const STORM_ENDPOINT: usize = 1;
/// What the storm's endpoint answers.
const STORM_STATUS: StatusCode = StatusCode::INTERNAL_SERVER_ERROR;
/// Retries of the storm's events: due together every 2 s for 12 s, longer
/// than the fresh phase that runs meanwhile.
const STORM_RETRIES: &[&str] = &["2s"; 6];
/// Longest wait for every storm event's first attempt before the fresh phase.
const STORM_ATTEMPT_MAX: Duration = Duration::from_secs(6);
/// Fresh events per second in the storm scenario's phases.
const FRESH_RATE: f64 = 200.0;
/// How long each of the storm scenario's fresh phases publishes, in seconds.
const FRESH_SECS: f64 = 8.0;
/// What the dead endpoint answers.
const DEAD_STATUS: StatusCode = StatusCode::SERVICE_UNAVAILABLE;
/// Longest wait, after the dead run's phases, for its dead deliveries to spend
/// their retries (1.5 s of [`FAILING_RETRIES`] after their first attempts);
/// with the endpoint's breaker open they do not, and the wait only lets the
/// probes show.
const DEAD_DRAIN_MAX: Duration = Duration::from_secs(30);
/// Retention of delivered events while the purge scenario fills its store and
/// measures its baseline: longer than both take, so nothing is purged yet.
const FILL_RETENTION: &str = "1h";
/// Retention of delivered events once the purge scenario lets the purge run:
/// no shorter than [`HEALTHY_RETRIES`] with their jitter (0.77 s), the
/// account's longest schedule, or the server refuses it.
const PURGE_RETENTION: &str = "1s";
/// Longest wait for a purge fill's events to leave the pending queue.
const FILL_DRAIN_MAX: Duration = Duration::from_secs(600);
/// Longest wait for the first purged event after retention is shortened: the
/// purge rests up to 60 s between looks while the shortest retention is long.
const PURGE_START_MAX: Duration = Duration::from_secs(90);
/// Longest the purged count may stand still while the bench waits for more,
/// once the purge looks every second.
const PURGE_STALL: Duration = Duration::from_secs(15);
/// Longest wait for the purge to delete what it should.
const PURGE_MAX: Duration = Duration::from_secs(600);
/// The attachments scenario's receiver endpoint (files endpoint).
const FILES_ENDPOINT: usize = 0;
/// How long the files endpoint asks hookpost to pause (`Retry-After`) while
/// the events are published: longer than publishing them takes.
const FILES_PAUSE: Duration = Duration::from_secs(60);
/// Retries of the attachments' endpoint: short first steps, and a longest one
/// of [`FILES_PAUSE`] (a pause is capped at the longest step).
const FILES_RETRIES: &[&str] = &["1s", "2s", "60s"];
/// Request timeout of the attachments' endpoint: the receiver holds each
/// delivery until all are in flight (at most 30 s), then reads it.
const FILES_TIMEOUT: &str = "60s";
/// Longest wait for the files endpoint's pause to be recorded, and then for
/// every published delivery to be held back by it.
const FILES_PAUSE_WAIT_MAX: Duration = Duration::from_secs(10);
/// Deadline of one HTTP request from the bench.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What every run of an invocation shares.
struct Bench {
    /// The settings.
    plan: Plan,
    /// Keep-alive HTTP client for hookpost and the receiver.
    client: Client,
    /// The receiver all profiles point at.
    receiver: Receiver,
    /// Serialized payload of every event.
    payload: String,
}

/// Runs the plan's scenario and gathers the report.
pub async fn run(plan: Plan) -> Result<Report, String> {
    let receiver = Receiver::start()
        .await
        .map_err(|e| format!("cannot start the receiver: {e}"))?;
    let client = Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(plan.concurrency)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let payload = payload(plan.payload_bytes);
    let bench = Bench {
        plan,
        client,
        receiver,
        payload,
    };
    let (ceiling_rps, floor) = bench.ceiling().await?;
    let runs = match bench.plan.scenario {
        Scenario::Healthy if bench.plan.smoke => vec![
            bench.measured("healthy", false).await?,
            bench.fanout().await?,
        ],
        Scenario::Healthy => vec![bench.measured("healthy", false).await?],
        Scenario::Failing => vec![
            bench.measured("baseline", false).await?,
            bench.measured("failing", true).await?,
        ],
        Scenario::Backlog => vec![bench.backlog().await?],
        Scenario::Fanout => vec![
            bench.measured("healthy", false).await?,
            bench.fanout().await?,
        ],
        Scenario::Storm => vec![bench.storm().await?],
        Scenario::Dead => vec![
            bench.dead("baseline", false).await?,
            bench.dead("dead", true).await?,
        ],
        Scenario::Ordered => {
            bench.receiver.set_checking_order(true);
            vec![bench.ordered(false).await?, bench.ordered(true).await?]
        }
        Scenario::Purge => vec![bench.purge().await?],
        Scenario::Attachments => vec![bench.attachments().await?],
    };
    let (receiver_requests, receiver_ok) = bench.receiver.totals();
    Ok(Report {
        plan: bench.plan,
        ceiling_rps,
        floor,
        runs,
        receiver_requests,
        receiver_ok,
    })
}

/// A JSON object of exactly `bytes` bytes (at least 10).
fn payload(bytes: usize) -> String {
    let pad = bytes.saturating_sub(r#"{"pad":""}"#.len());
    format!(r#"{{"pad":"{}"}}"#, "x".repeat(pad))
}

impl Bench {
    /// Requests/s of delivery-sized POSTs straight to the receiver, and the
    /// floor: the bench's CPU per such request, and the other parts of a
    /// delivered event measured over the same body.
    async fn ceiling(&self) -> Result<(f64, Floor), String> {
        let url = self.receiver.url(0);
        let body = format!(
            r#"{{"data":{{"record_type":"event","id":"ceiling","event_type":"bench.event","occurred_at":"2026-01-01T00:00:00Z","payload":{}}},"meta":{{"attempt":1,"delivered_to":"{url}"}}}}"#,
            self.payload
        );
        let (events, concurrency) = (self.plan.events, self.plan.concurrency);
        let before = cpu::of_bench();
        let rps = phase::ceiling(&self.client, url, body.clone(), events, concurrency).await?;
        let exchange = cpu::of_bench().saturating_sub(before);
        let exchange_us = exchange.as_secs_f64() * 1e6 / events.max(1) as f64;
        let floor = tokio::task::block_in_place(|| Floor::measure(exchange_us, body.as_bytes()))?;
        Ok((rps, floor))
    }

    /// Starts the run's hookpost processes, and an account with a profile or an
    /// account endpoint (as `routing` says) per receiver endpoint.
    async fn setup(&self, routing: Routing) -> Result<(Cluster, Account), String> {
        let (cluster, account) = self.start(routing).await?;
        for endpoint in 0..routing.endpoints() {
            let url = self.receiver.url(endpoint);
            account
                .add_destination(endpoint, &url, self.retries(endpoint))
                .await?;
        }
        Ok((cluster, account))
    }

    /// Starts the run's hookpost processes, and an account routing its events
    /// as `routing` says, without destinations yet.
    async fn start(&self, routing: Routing) -> Result<(Cluster, Account), String> {
        let plan = &self.plan;
        let cluster = tokio::task::block_in_place(|| {
            Cluster::start(&plan.hookpost_bin, &plan.database, plan.nodes)
        })?;
        let (client, payload) = (self.client.clone(), self.payload.clone());
        let retries = self.account_retries();
        let account = Account::create(client, cluster.bases(), payload, routing, retries).await?;
        Ok((cluster, account))
    }

    /// The retry schedule of endpoint `endpoint`'s profile (or account endpoint).
    fn retries(&self, endpoint: usize) -> &'static [&'static str] {
        match self.plan.scenario {
            Scenario::Backlog => BACKLOG_RETRIES,
            Scenario::Failing if is_failing_endpoint(endpoint) => FAILING_RETRIES,
            Scenario::Storm if endpoint == STORM_ENDPOINT => STORM_RETRIES,
            Scenario::Dead if endpoint == self.dead_endpoint() => FAILING_RETRIES,
            _ => HEALTHY_RETRIES,
        }
    }

    /// The account's own retry schedule: in the purge scenario, short enough
    /// for [`PURGE_RETENTION`] (the server's would refuse it); the server's in
    /// the others.
    fn account_retries(&self) -> Option<&'static [&'static str]> {
        (self.plan.scenario == Scenario::Purge).then_some(HEALTHY_RETRIES)
    }

    /// The dead scenario's dead endpoint: the one after the healthy ones.
    fn dead_endpoint(&self) -> usize {
        self.plan.endpoints
    }

    /// Whether deliveries to `endpoint` count: not to those that fail on
    /// purpose (every tenth in both runs of the failing scenario, the storm's,
    /// the dead one).
    fn counted(&self, endpoint: usize) -> bool {
        match self.plan.scenario {
            Scenario::Failing => !is_failing_endpoint(endpoint),
            Scenario::Storm => endpoint != STORM_ENDPOINT,
            Scenario::Dead => endpoint != self.dead_endpoint(),
            _ => true,
        }
    }

    /// Waits for and measures a phase's events on the endpoints that count.
    async fn settle(&self, publishing: Publishing) -> Figures {
        phase::settle(&self.receiver, &publishing, |e| self.counted(e)).await
    }

    /// Publishes and measures a closed-loop phase of `shape`; with `keys`
    /// ordering keys, each owned by one publisher so that its events are
    /// published in order.
    async fn closed(
        &self,
        cluster: &Cluster,
        account: &Account,
        shape: Shape,
        keys: Option<usize>,
    ) -> Figures {
        let (events, concurrency) = (self.plan.events, self.plan.concurrency);
        let publishing = async {
            match keys {
                None => shape.publish(account, events, concurrency).await,
                Some(keys) => {
                    let per_request = shape.per_request();
                    let keys = Keys::new(shape.name(), keys, concurrency, events, per_request);
                    let keyed = account.keyed(keys);
                    shape.publish(&keyed, events, keys.publishers()).await
                }
            }
        };
        self.metered(cluster, publishing).await
    }

    /// Publishes with `publishing`, waits for and measures its events, with
    /// the CPU time the cluster's nodes spent from the first publish until the
    /// last delivery arrived.
    async fn metered(
        &self,
        cluster: &Cluster,
        publishing: impl std::future::Future<Output = Publishing>,
    ) -> Figures {
        let before = cluster.cpu_time();
        let mut figures = self.settle(publishing.await).await;
        figures.cpu = Some(cluster.cpu_time().saturating_sub(before));
        figures
    }

    /// Stores `--prefill` events that go nowhere, if asked, and says how long it took.
    async fn prefill(&self, account: &Account) -> Result<(), String> {
        if self.plan.prefill == 0 {
            return Ok(());
        }
        let started = Instant::now();
        account
            .prefill(self.plan.prefill, self.plan.concurrency)
            .await?;
        println!(
            "prefill: {} events stored in {:.1} s",
            self.plan.prefill,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// A run on profiles of the single and batch phases (and, in the healthy
    /// scenario, the paced one), with every 10th endpoint failing if `failing`.
    async fn measured(&self, label: &'static str, failing: bool) -> Result<Run, String> {
        self.receiver.set_failing(failing);
        let paced = self.plan.scenario == Scenario::Healthy;
        let routing = Routing::Profiles(self.plan.endpoints);
        self.phases(label, routing, paced, None).await
    }

    /// A run of the single and batch phases with every event fanned out to
    /// `--fanout` healthy account endpoints.
    async fn fanout(&self) -> Result<Run, String> {
        self.receiver.set_failing(false);
        let routing = Routing::FanOut(self.plan.fanout);
        self.phases("fanout", routing, false, None).await
    }

    /// A run of the single and batch phases, each event fanned out to the
    /// `--endpoints` healthy account endpoints and, if `dead`, to one more
    /// that answers 503 to everything: only the healthy deliveries count. The
    /// dead endpoint's requests are counted once its deliveries have spent
    /// their retries.
    async fn dead(&self, label: &'static str, dead: bool) -> Result<Run, String> {
        let (healthy, endpoint) = (self.plan.endpoints, self.dead_endpoint());
        let routing = Routing::FanOut(healthy + usize::from(dead));
        self.receiver
            .set_broken(dead.then_some((endpoint, DEAD_STATUS)));
        let before = self.receiver.requests_to(endpoint);
        let (cluster, account) = self.setup(routing).await?;
        let phases = self.measure(&cluster, &account, false, None).await?;
        let mut run = finish(label, phases, &cluster, routing, None);
        run.fanout = Some(healthy);
        if dead {
            let drained = phase::drained(&account, DEAD_DRAIN_MAX).await?;
            run.notes = Some(Notes::Dead(notes::Dead {
                status: DEAD_STATUS.as_u16(),
                deliveries: run.phases.iter().map(|(_, f)| f.events).sum(),
                requests: self.receiver.requests_to(endpoint) - before,
                drained,
            }));
        }
        self.receiver.set_broken(None);
        Ok(run)
    }

    /// A run of the single and batch phases on profiles, with (`keyed`) or
    /// without `--keys` ordering keys; the receiver checks each key's arrival
    /// order.
    async fn ordered(&self, keyed: bool) -> Result<Run, String> {
        let routing = Routing::Profiles(self.plan.endpoints);
        let keys = keyed.then_some(self.plan.keys);
        let label = if keyed { "ordered" } else { "unkeyed" };
        let before = self.receiver.order();
        let mut run = self.phases(label, routing, false, keys).await?;
        if keyed {
            let phases = run.phases.iter().map(|(_, f)| f.deliveries - f.missing);
            run.notes = Some(Notes::Ordered(notes::Ordered {
                keys: self.plan.keys,
                arrived: phases.sum(),
                order: self.receiver.order() - before,
            }));
        }
        Ok(run)
    }

    /// Sets up a run with `routing` and measures its phases (see [`Bench::measure`]).
    async fn phases(
        &self,
        label: &'static str,
        routing: Routing,
        paced: bool,
        keys: Option<usize>,
    ) -> Result<Run, String> {
        let (cluster, account) = self.setup(routing).await?;
        let phases = self.measure(&cluster, &account, paced, keys).await?;
        Ok(finish(label, phases, &cluster, routing, None))
    }

    /// Prefills, and measures the single and batch phases (under `keys`
    /// ordering keys, if given), then the paced one if `paced`.
    async fn measure(
        &self,
        cluster: &Cluster,
        account: &Account,
        paced: bool,
        keys: Option<usize>,
    ) -> Result<Vec<(&'static str, Figures)>, String> {
        self.prefill(account).await?;
        let single = self.closed(cluster, account, Shape::Single, keys).await;
        let batch = self.closed(cluster, account, Shape::Batch, keys).await;
        // Latency at half the delivered rate; none to pace at if nothing arrived.
        let rate = single.delivered_rate / 2.0;
        let mut phases = vec![(Shape::Single.name(), single), (Shape::Batch.name(), batch)];
        if paced && rate >= 1.0 {
            let events = self.plan.events;
            let count = ((rate * PACED_SECS) as usize).clamp(1, (events / 2).max(1));
            let paced = self
                .metered(cluster, phase::paced(account, count, rate))
                .await;
            phases.push(("paced", paced));
        }
        Ok(phases)
    }

    /// Fresh events at [`FRESH_RATE`] to the healthy profile, before and then
    /// during a retry storm: `--events` events to a profile answering 500,
    /// published in batches, each attempted once, whose retries then come due
    /// together every 2 s while the second fresh phase publishes.
    async fn storm(&self) -> Result<Run, String> {
        let routing = Routing::Profiles(self.plan.endpoints);
        let (cluster, account) = self.setup(routing).await?;
        self.prefill(&account).await?;
        self.receiver
            .set_broken(Some((STORM_ENDPOINT, STORM_STATUS)));
        let (phases, storm) = self.storm_phases(&account).await?;
        self.receiver.set_broken(None);
        let notes = Some(Notes::Storm(storm));
        Ok(finish("storm", phases, &cluster, routing, notes))
    }

    /// The storm scenario's phases with its failing profile broken: the
    /// baseline fresh phase, the storm's publishing, the fresh phase during it.
    async fn storm_phases(
        &self,
        account: &Account,
    ) -> Result<(Vec<(&'static str, Figures)>, notes::Storm), String> {
        let fresh = account.only(FRESH_ENDPOINT);
        let count = (FRESH_RATE * FRESH_SECS) as usize;
        let baseline = self
            .settle(phase::paced(&fresh, count, FRESH_RATE).await)
            .await;
        let failing = account.only(STORM_ENDPOINT);
        let storming = phase::batch(&failing, self.plan.events, self.plan.concurrency).await;
        let attempted = phase::attempted(&self.receiver, &storming, STORM_ATTEMPT_MAX).await;
        let (started, before) = (Instant::now(), self.receiver.requests_to(STORM_ENDPOINT));
        let during = self
            .settle(phase::paced(&fresh, count, FRESH_RATE).await)
            .await;
        let storm = notes::Storm {
            status: STORM_STATUS.as_u16(),
            events: storming.accepted(),
            publish_errors: storming.errors(),
            attempted,
            retries: self.receiver.requests_to(STORM_ENDPOINT) - before,
            window: started.elapsed(),
        };
        Ok((vec![("baseline", baseline), ("storm", during)], storm))
    }

    /// Publishes a backlog while the receiver answers 503 and waits until each
    /// event was refused once, samples memory, then lets the receiver recover and
    /// times the drain.
    async fn backlog(&self) -> Result<Run, String> {
        let routing = Routing::Profiles(self.plan.endpoints);
        let (cluster, account) = self.setup(routing).await?;
        self.receiver.set_down(true);
        let (events, concurrency) = (self.plan.events, self.plan.concurrency);
        let publishing = phase::batch(&account, events, concurrency).await;
        let attempted = phase::attempted(&self.receiver, &publishing, BACKLOG_DOWN_MAX).await;
        let pending = account.any_pending().await?;
        let peak_rss_kib = cluster.peak_rss_kib();
        self.receiver.set_down(false);
        let up = Instant::now();
        let figures = self.settle(publishing).await;
        let since_up =
            |t: Option<Instant>| t.map_or(Duration::ZERO, |t| t.saturating_duration_since(up));
        let drain = since_up(figures.last_arrival);
        let backlog = notes::Backlog {
            attempted,
            pending,
            peak_rss_kib,
            first_arrival: since_up(figures.first_arrival),
            drain,
            drain_rate: per_second(figures.deliveries - figures.missing, drain),
        };
        Ok(finish(
            "backlog",
            vec![("backlog", figures)],
            &cluster,
            routing,
            Some(Notes::Backlog(backlog)),
        ))
    }

    /// Fills the store with delivered events kept [`FILL_RETENTION`] long and
    /// measures single publishes on it; shortens the retention to
    /// [`PURGE_RETENTION`] and, once the purge started, measures them again
    /// while it deletes the store; then fills the store again with the purge
    /// on, and compares its size with the first fill's.
    async fn purge(&self) -> Result<Run, String> {
        let routing = Routing::Profiles(self.plan.endpoints);
        let (cluster, account) = self.setup(routing).await?;
        let kept = account.set_retention(FILL_RETENTION).await?;
        self.prefill(&account).await?;
        let first = self.fill(&account).await?;
        let first_bytes = cluster.store_bytes();
        let baseline = self.closed(&cluster, &account, Shape::Single, None).await;
        let before = account.purged().await?;
        let stored = (first.accepted + baseline.events) as u64;
        let (during, purging) = self.purging(&cluster, &account, before, stored).await?;
        let second = self.fill(&account).await?;
        let published = stored + (during.events + second.accepted) as u64;
        let target = before + published;
        let cleared = phase::purged(&account, target, PURGE_STALL, PURGE_MAX).await?;
        let purge = notes::Purge {
            kept,
            fills: [first, second],
            store_bytes: [first_bytes, cluster.store_bytes()],
            stored,
            purging,
            published,
            purged: cleared.count - before,
        };
        let phases = vec![("baseline", baseline), ("purging", during)];
        let notes = Some(Notes::Purge(purge));
        Ok(finish("purge", phases, &cluster, routing, notes))
    }

    /// Shortens the retention of delivered events, waits for the purge's
    /// first deletion (the nodes' purged count above `before`), and measures
    /// single publishes while the purge deletes the `stored` events published
    /// until then: the phase's figures, and what the purge did.
    async fn purging(
        &self,
        cluster: &Cluster,
        account: &Account,
        before: u64,
        stored: u64,
    ) -> Result<(Figures, notes::Purging), String> {
        let changed = Instant::now();
        let retention = account.set_retention(PURGE_RETENTION).await?;
        let first = before + 1;
        let start = phase::purged(account, first, PURGE_START_MAX, PURGE_START_MAX).await?;
        let measured = async {
            let at_start = account.purged().await?;
            let figures = self.closed(cluster, account, Shape::Single, None).await;
            Ok::<_, String>((figures, account.purged().await? - at_start))
        };
        let target = before + stored;
        let purge = phase::purged(account, target, PURGE_STALL, PURGE_MAX);
        let (measured, done) = tokio::join!(measured, purge);
        let ((figures, during_phase), done) = (measured?, done?);
        // From the last look before the first deletion: at most a look too long.
        let first_deletion = start.reached.map(|_| start.below);
        let took = first_deletion.zip(done.reached);
        let purging = notes::Purging {
            retention,
            started: start.reached.map(|t| t.saturating_duration_since(changed)),
            took: took.map(|(start, done)| done.saturating_duration_since(start)),
            during_phase,
        };
        Ok((figures, purging))
    }

    /// Publishes the plan's fill in batches and waits until none of the
    /// account's events is pending.
    async fn fill(&self, account: &Account) -> Result<notes::Fill, String> {
        let (_, ok_before) = self.receiver.totals();
        let started = Instant::now();
        let publishing = phase::batch(account, self.plan.fill, self.plan.concurrency).await;
        let drained = phase::drained(account, FILL_DRAIN_MAX).await?;
        Ok(notes::Fill {
            accepted: publishing.accepted(),
            publish_errors: publishing.errors(),
            publish: publishing.wall(),
            delivered: self.receiver.totals().1 - ok_before,
            drain: started.elapsed(),
            drained,
        })
    }

    /// `--events` events with a [`FILE_BYTES`] file each, to one account
    /// endpoint taking forms with the default signatures: published one at a
    /// time while the endpoint is paused (a first, file-less event was
    /// answered `503` with `Retry-After`), so that nothing is delivered and
    /// the node's peak memory of publishing alone is read; then, once every
    /// delivery is held back by the pause, the endpoint is enabled (its pause
    /// forgotten, its held deliveries due at once) and
    /// the receiver holds every delivery until all are in flight at once,
    /// then reads each and checks its file's SHA-256.
    async fn attachments(&self) -> Result<Run, String> {
        let routing = Routing::FanOut(1);
        let (cluster, account) = self.start(routing).await?;
        self.prefill(&account).await?;
        self.receiver.pause_files(FILES_PAUSE);
        let url = self.receiver.files_url(FILES_ENDPOINT);
        let endpoint = account
            .add_form_endpoint(&url, FILES_RETRIES, FILES_TIMEOUT)
            .await?;
        account.publish(0).await?;
        if !phase::paused(&account, &endpoint, FILES_PAUSE_WAIT_MAX).await? {
            return Err("the files endpoint's 503 with Retry-After did not pause it".into());
        }
        let before = self.receiver.requests_to(FILES_ENDPOINT);
        let started = Instant::now();
        let events = self.plan.events;
        let (publishing, hashes) =
            phase::with_files(&account, events, FILE_BYTES, files::seed()).await;
        let publish = publishing.wall();
        let during_publish = self.receiver.requests_to(FILES_ENDPOINT) - before;
        let publish_peak_rss_kib = cluster.peak_rss_kib();
        // Enabling the endpoint while a delivery is being admitted leaves it
        // held until the old pause ends: wait until none is.
        let ids: Vec<&str> = hashes.keys().map(String::as_str).collect();
        let held = phase::held(&account, &ids, FILES_PAUSE_WAIT_MAX).await?;
        self.receiver
            .hold_files(hashes.keys().cloned().collect::<HashSet<_>>());
        let released = Instant::now();
        account.enable_endpoint(&endpoint).await?;
        let figures = self.settle(publishing).await;
        let seen = self.receiver.files();
        let intact = |(id, sha256): (&String, &String)| {
            let files = seen.received.get(id).map(Vec::as_slice);
            matches!(files, Some([one]) if one == sha256)
        };
        let since = |from: Instant| {
            let last = figures.last_arrival;
            last.map(|t| t.saturating_duration_since(from))
        };
        let notes = notes::Attachments {
            events: figures.events,
            publish_errors: figures.publish_errors,
            file_bytes: FILE_BYTES,
            publish,
            during_publish,
            held,
            publish_peak_rss_kib,
            peak_rss_kib: cluster.peak_rss_kib(),
            most_in_flight: seen.most_in_flight,
            verified: hashes.iter().filter(|&f| intact(f)).count(),
            delivery: since(released),
            total: since(started),
        };
        let phases = vec![("files", figures)];
        let mut run = finish("attachments", phases, &cluster, routing, None);
        run.fanout = None;
        run.notes = Some(Notes::Attachments(notes));
        Ok(run)
    }
}

/// A finished run, with the processes' peak memory read before they are killed.
fn finish(
    label: &'static str,
    phases: Vec<(&'static str, Figures)>,
    cluster: &Cluster,
    routing: Routing,
    notes: Option<Notes>,
) -> Run {
    Run {
        label,
        phases,
        fanout: routing.fanout(),
        peak_rss_kib: cluster.peak_rss_kib(),
        warnings: cluster.warnings(),
        notes,
    }
}
