//! The scenarios. Each is a ceiling measurement and then one or more runs; a run
//! is a fresh set of hookpost processes with one account and one profile (or,
//! in a fan-out run, one account endpoint) per receiver endpoint, measured in
//! phases, and killed at its end.

use crate::api::{Account, Routing};
use crate::phase::{self, Figures, Publishing};
use crate::receiver::{is_failing_endpoint, Receiver};
use crate::report::{Backlog, Report, Run};
use crate::server::Cluster;
use crate::stats::per_second;
use crate::{Plan, Scenario};
use reqwest::Client;
use std::time::{Duration, Instant};

/// Retries of healthy endpoints (profiles or account endpoints): short, so a
/// transient failure is retried within the run.
const HEALTHY_RETRIES: &[&str] = &["100ms", "200ms", "400ms"];
/// Retries of failing endpoints' profiles: all of them happen during the run.
const FAILING_RETRIES: &[&str] = &["100ms", "200ms", "400ms", "800ms"];
/// Retries in the backlog scenario: the backlog outlives a short outage.
const BACKLOG_RETRIES: &[&str] = &["2s"; 5];
/// Longest the receiver stays down after the backlog is published, waiting for
/// every event's first attempt: well inside the 10 s that [`BACKLOG_RETRIES`] last.
const BACKLOG_DOWN_MAX: Duration = Duration::from_secs(6);
/// Longest the paced phase publishes, in seconds.
const PACED_SECS: f64 = 10.0;
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
    let ceiling_rps = bench.ceiling().await?;
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
        Scenario::Fanout => vec![bench.fanout().await?],
    };
    let (receiver_requests, receiver_ok) = bench.receiver.totals();
    Ok(Report {
        plan: bench.plan,
        ceiling_rps,
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
    /// Requests/s of delivery-sized POSTs straight to the receiver.
    async fn ceiling(&self) -> Result<f64, String> {
        let url = self.receiver.url(0);
        let body = format!(
            r#"{{"data":{{"record_type":"event","id":"ceiling","event_type":"bench.event","occurred_at":"2026-01-01T00:00:00Z","payload":{}}},"meta":{{"attempt":1,"delivered_to":"{url}"}}}}"#,
            self.payload
        );
        let (events, concurrency) = (self.plan.events, self.plan.concurrency);
        phase::ceiling(&self.client, url, body, events, concurrency).await
    }

    /// Starts the run's hookpost processes, and an account with a profile or an
    /// account endpoint (as `routing` says) per receiver endpoint.
    async fn setup(&self, routing: Routing) -> Result<(Cluster, Account), String> {
        let plan = &self.plan;
        let cluster = tokio::task::block_in_place(|| {
            Cluster::start(&plan.hookpost_bin, &plan.database, plan.nodes)
        })?;
        let client = self.client.clone();
        let account =
            Account::create(client, cluster.bases(), self.payload.clone(), routing).await?;
        for endpoint in 0..routing.endpoints() {
            let url = self.receiver.url(endpoint);
            account
                .add_destination(endpoint, &url, self.retries(endpoint))
                .await?;
        }
        Ok((cluster, account))
    }

    /// The retry schedule of endpoint `endpoint`'s profile.
    fn retries(&self, endpoint: usize) -> &'static [&'static str] {
        match self.plan.scenario {
            Scenario::Backlog => BACKLOG_RETRIES,
            Scenario::Failing if is_failing_endpoint(endpoint) => FAILING_RETRIES,
            _ => HEALTHY_RETRIES,
        }
    }

    /// Waits for and measures a phase's events on the endpoints that count: in
    /// the failing scenario, those that never fail (in both of its runs).
    async fn settle(&self, publishing: Publishing) -> Figures {
        let failing = self.plan.scenario == Scenario::Failing;
        let counted = |endpoint| !(failing && is_failing_endpoint(endpoint));
        phase::settle(&self.receiver, &publishing, counted).await
    }

    /// A run on profiles of the single and batch phases (and, in the healthy
    /// scenario, the paced one), with every 10th endpoint failing if `failing`.
    async fn measured(&self, label: &'static str, failing: bool) -> Result<Run, String> {
        self.receiver.set_failing(failing);
        let paced = self.plan.scenario == Scenario::Healthy;
        let routing = Routing::Profiles(self.plan.endpoints);
        self.phases(label, routing, paced).await
    }

    /// A run of the single and batch phases with every event fanned out to
    /// `--fanout` healthy account endpoints.
    async fn fanout(&self) -> Result<Run, String> {
        self.receiver.set_failing(false);
        let routing = Routing::FanOut(self.plan.fanout);
        self.phases("fanout", routing, false).await
    }

    /// Sets up a run with `routing`, prefills, and measures the single and
    /// batch phases, then the paced one if `paced`.
    async fn phases(
        &self,
        label: &'static str,
        routing: Routing,
        paced: bool,
    ) -> Result<Run, String> {
        let (cluster, account) = self.setup(routing).await?;
        let (events, concurrency) = (self.plan.events, self.plan.concurrency);
        if self.plan.prefill > 0 {
            let started = Instant::now();
            account.prefill(self.plan.prefill, concurrency).await?;
            println!(
                "prefill: {} events stored in {:.1} s",
                self.plan.prefill,
                started.elapsed().as_secs_f64()
            );
        }
        let single = self
            .settle(phase::single(&account, events, concurrency).await)
            .await;
        let batch = self
            .settle(phase::batch(&account, events, concurrency).await)
            .await;
        // Latency at half the delivered rate; none to pace at if nothing arrived.
        let rate = single.delivered_rate / 2.0;
        let mut phases = vec![("single", single), ("batch", batch)];
        if paced && rate >= 1.0 {
            let count = ((rate * PACED_SECS) as usize).clamp(1, (events / 2).max(1));
            let paced = self.settle(phase::paced(&account, count, rate).await).await;
            phases.push(("paced", paced));
        }
        Ok(finish(label, phases, &cluster, routing, None))
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
        let backlog = Backlog {
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
            Some(backlog),
        ))
    }
}

/// A finished run, with the processes' peak memory read before they are killed.
fn finish(
    label: &'static str,
    phases: Vec<(&'static str, Figures)>,
    cluster: &Cluster,
    routing: Routing,
    backlog: Option<Backlog>,
) -> Run {
    Run {
        label,
        phases,
        fanout: routing.fanout(),
        peak_rss_kib: cluster.peak_rss_kib(),
        warnings: cluster.warnings(),
        backlog,
    }
}
