//! Process metrics, served at `GET /metrics` in the Prometheus text format.
//! Counting must cost no lock and no allocation on the publish and delivery
//! paths: counters are plain atomics, and the histograms are the `prometheus`
//! crate's, whose `observe` is a few atomic adds on a sharded core (each
//! labelled series is resolved once, here, so the hot path never looks a label
//! up). No sample carries an account or endpoint id.

use crate::domain::attempt::Leg;
use crate::domain::delivery::QueueDepth;
use crate::domain::endpoint::EndpointTally;
use crate::domain::event::Shape;
use crate::domain::series::MinuteSeries;
use prometheus::core::Collector;
use prometheus::{Encoder, Histogram, HistogramOpts, HistogramVec, IntGaugeVec, Opts};
use std::fmt::{Display, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) for one delivery request: receivers answer in a
/// few milliseconds to tens of seconds; slower ones (the timeout goes up to
/// 2 minutes) land in `+Inf`.
const ATTEMPT_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
];

/// Upper bounds (seconds) for a publish: a group commit takes about a
/// millisecond on a quiet disk; seconds mean a stalled database.
const PUBLISH_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The metrics of one process.
pub struct Metrics {
    /// Events stored by publishes.
    pub events_accepted: AtomicU64,
    /// Publishes answered as duplicates of an earlier idempotency key.
    pub events_duplicate: AtomicU64,
    /// Delivery requests (HTTP or e-mail) that succeeded.
    pub requests_succeeded: AtomicU64,
    /// Delivery requests that failed.
    pub requests_failed: AtomicU64,
    /// Deliveries that reached `delivered`.
    pub deliveries_delivered: AtomicU64,
    /// Deliveries that reached `failed`.
    pub deliveries_failed: AtomicU64,
    /// Attempts recorded with a retry scheduled.
    pub retries_scheduled: AtomicU64,
    /// Claimed deliveries that delivery control put back without an attempt.
    pub deliveries_held: AtomicU64,
    /// Events deleted because their retention ended.
    pub events_purged: AtomicU64,
    attempts: Labelled<4>,
    publishes: Labelled<2>,
    node_info: IntGaugeVec,
    recent: RecentRequests,
}

/// A histogram family and its series, each resolved once by its labels.
struct Labelled<const N: usize> {
    family: HistogramVec,
    series: [Histogram; N],
}

impl<const N: usize> Labelled<N> {
    /// The family `name` with one series per entry of `values` (in order).
    fn new(name: &str, help: &str, buckets: &[f64], labels: &[&str], values: [&[&str]; N]) -> Self {
        let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        let family = HistogramVec::new(opts, labels).expect("valid histogram options");
        let series = values.map(|v| family.with_label_values(v));
        Labelled { family, series }
    }
}

/// A counter family: name, help, and its samples (labels, value).
type Counter<'a> = (&'a str, &'a str, &'a [(&'a str, u64)]);

/// What a scrape reads besides this process's own counts.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Attempts running now on this node.
    pub in_flight: usize,
    /// Endpoints by state (if the store answered).
    pub endpoints: Option<EndpointTally>,
    /// Pending deliveries (if the store answered).
    pub queue: Option<QueueDepth>,
}

impl Metrics {
    /// The metrics of node `node`, started with `role` (`all`, `api` or
    /// `worker`): the only labels that tell nodes apart.
    pub fn new(node: &str, role: &str) -> Self {
        let node_info = IntGaugeVec::new(
            Opts::new(
                "hookpost_node_info",
                "This node: its id and role (always 1).",
            ),
            &["node", "role"],
        )
        .expect("valid gauge options");
        node_info.with_label_values(&[node, role]).set(1);
        Metrics {
            events_accepted: AtomicU64::default(),
            events_duplicate: AtomicU64::default(),
            requests_succeeded: AtomicU64::default(),
            requests_failed: AtomicU64::default(),
            deliveries_delivered: AtomicU64::default(),
            deliveries_failed: AtomicU64::default(),
            retries_scheduled: AtomicU64::default(),
            deliveries_held: AtomicU64::default(),
            events_purged: AtomicU64::default(),
            attempts: Labelled::new(
                "hookpost_attempt_duration_seconds",
                "Delivery requests by leg and result: from sending to the answer read.",
                &ATTEMPT_BUCKETS,
                &["leg", "result"],
                [
                    &["primary", "success"],
                    &["primary", "failure"],
                    &["failover", "success"],
                    &["failover", "failure"],
                ],
            ),
            publishes: Labelled::new(
                "hookpost_publish_duration_seconds",
                "Publishes, from the request's arrival to the answer once stored durably.",
                &PUBLISH_BUCKETS,
                &["shape"],
                [&["single"], &["batch"]],
            ),
            node_info,
            recent: RecentRequests::default(),
        }
    }

    /// This node's delivery requests of the last [`RECENT_MINUTES`] minutes,
    /// per minute, for the console's node plot.
    pub fn recent_requests(&self, now: chrono::DateTime<chrono::Utc>) -> MinuteSeries {
        self.recent.series(now)
    }

    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one delivery request of `leg` that took `took`.
    pub fn observe_request(&self, leg: Leg, succeeded: bool, took: Duration) {
        let leg = match leg {
            Leg::Primary => 0,
            Leg::Failover => 2,
        };
        let series = leg + usize::from(!succeeded);
        self.attempts.series[series].observe(took.as_secs_f64());
        self.recent.record(chrono::Utc::now(), succeeded, took);
    }

    /// Counts one publish answered after `took`.
    pub fn observe_publish(&self, shape: Shape, took: Duration) {
        let series = match shape {
            Shape::Single => 0,
            Shape::Batch => 1,
        };
        self.publishes.series[series].observe(took.as_secs_f64());
    }

    /// The text exposition of the counters, the histograms and `now`.
    pub fn render(&self, now: &Snapshot) -> String {
        let mut out = String::new();
        self.render_counters(&mut out);
        render_snapshot(&mut out, now);
        let families: Vec<_> = [
            self.attempts.family.collect(),
            self.publishes.family.collect(),
            self.node_info.collect(),
        ]
        .concat();
        let mut text = Vec::new();
        match prometheus::TextEncoder::new().encode(&families, &mut text) {
            Ok(()) => out.push_str(&String::from_utf8_lossy(&text)),
            Err(e) => tracing::warn!(error = %e, "could not encode histograms for /metrics"),
        }
        out
    }

    fn render_counters(&self, out: &mut String) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let counters: [Counter; 7] = [
            (
                "hookpost_events_accepted_total",
                "Events stored by publishes.",
                &[("", get(&self.events_accepted))],
            ),
            (
                "hookpost_events_duplicate_total",
                "Publishes that repeated a live idempotency key.",
                &[("", get(&self.events_duplicate))],
            ),
            (
                "hookpost_delivery_requests_total",
                "Delivery requests by result.",
                &[
                    ("{result=\"success\"}", get(&self.requests_succeeded)),
                    ("{result=\"failure\"}", get(&self.requests_failed)),
                ],
            ),
            (
                "hookpost_deliveries_finished_total",
                "Deliveries (one event to one destination) that reached a final state.",
                &[
                    ("{status=\"delivered\"}", get(&self.deliveries_delivered)),
                    ("{status=\"failed\"}", get(&self.deliveries_failed)),
                ],
            ),
            (
                "hookpost_retries_scheduled_total",
                "Attempts that failed and scheduled a retry.",
                &[("", get(&self.retries_scheduled))],
            ),
            (
                "hookpost_deliveries_held_total",
                "Claimed deliveries that delivery control put back without an attempt.",
                &[("", get(&self.deliveries_held))],
            ),
            (
                "hookpost_events_purged_total",
                "Events deleted, with their deliveries and attempts, because their retention ended.",
                &[("", get(&self.events_purged))],
            ),
        ];
        for (name, help, samples) in counters {
            family(out, name, "counter", help, samples);
        }
    }
}

/// The gauges read at scrape time.
fn render_snapshot(out: &mut String, now: &Snapshot) {
    family(
        out,
        "hookpost_attempts_in_flight",
        "gauge",
        "Delivery attempts running now.",
        &[("", now.in_flight as u64)],
    );
    if let Some(e) = now.endpoints {
        family(
            out,
            "hookpost_endpoints",
            "gauge",
            "Endpoints by state (breaker_open: enabled, with the circuit breaker open).",
            &[
                ("{state=\"enabled\"}", e.enabled),
                ("{state=\"disabled\"}", e.disabled),
                ("{state=\"breaker_open\"}", e.breaker_open),
            ],
        );
    }
    if let Some(q) = now.queue {
        family(
            out,
            "hookpost_queue_deliveries",
            "gauge",
            "Pending deliveries of every node: due now, due later (retries, held, in flight), \
             waiting behind their ordering lane's head.",
            &[
                ("{state=\"due\"}", q.due),
                ("{state=\"scheduled\"}", q.scheduled),
                ("{state=\"waiting\"}", q.waiting),
            ],
        );
        family(
            out,
            "hookpost_queue_oldest_due_age_seconds",
            "gauge",
            "How long the oldest due delivery has been due (0 when none is).",
            &[("", q.oldest_due_age.as_secs_f64())],
        );
    }
}

/// One metric family: its `HELP` and `TYPE` lines, then a line per sample
/// (`labels` is either empty or a whole `{…}` set).
fn family<V: Display>(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, V)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            in_flight: 3,
            endpoints: Some(EndpointTally {
                enabled: 4,
                disabled: 1,
                breaker_open: 2,
            }),
            queue: Some(QueueDepth {
                due: 5,
                scheduled: 7,
                waiting: 2,
                oldest_due_age: Duration::from_millis(1500),
            }),
        }
    }

    #[test]
    fn renders_every_counter_in_the_text_format() {
        let m = Metrics::new("node-a", "all");
        Metrics::inc(&m.events_accepted);
        Metrics::inc(&m.requests_failed);
        let text = m.render(&snapshot());
        assert!(text.contains(
            "# TYPE hookpost_events_accepted_total counter\nhookpost_events_accepted_total 1\n"
        ));
        assert!(text.contains("hookpost_delivery_requests_total{result=\"failure\"} 1\n"));
        assert!(text.contains("hookpost_attempts_in_flight 3\n"));
        assert!(text.contains("hookpost_endpoints{state=\"breaker_open\"} 2\n"));
    }

    #[test]
    fn renders_the_queue_and_leaves_out_what_the_store_did_not_answer() {
        let m = Metrics::new("node-a", "all");
        let text = m.render(&snapshot());
        assert!(text.contains("# TYPE hookpost_queue_deliveries gauge\n"));
        assert!(text.contains("hookpost_queue_deliveries{state=\"due\"} 5\n"));
        assert!(text.contains("hookpost_queue_deliveries{state=\"scheduled\"} 7\n"));
        assert!(text.contains("hookpost_queue_deliveries{state=\"waiting\"} 2\n"));
        assert!(text.contains("hookpost_queue_oldest_due_age_seconds 1.5\n"));
        let bare = m.render(&Snapshot::default());
        assert!(!bare.contains("hookpost_endpoints"));
        assert!(!bare.contains("hookpost_queue_"));
        assert!(bare.contains("hookpost_attempts_in_flight 0\n"));
    }

    #[test]
    fn observations_fill_cumulative_buckets_per_series() {
        let m = Metrics::new("node-a", "worker");
        m.observe_request(Leg::Primary, true, Duration::from_millis(3));
        m.observe_request(Leg::Primary, true, Duration::from_millis(40));
        m.observe_request(Leg::Failover, false, Duration::from_secs(45));
        m.observe_publish(Shape::Batch, Duration::from_millis(2));
        let text = m.render(&Snapshot::default());
        let primary = "leg=\"primary\",result=\"success\"";
        for line in [
            "# TYPE hookpost_attempt_duration_seconds histogram".to_string(),
            format!("hookpost_attempt_duration_seconds_bucket{{{primary},le=\"0.005\"}} 1"),
            format!("hookpost_attempt_duration_seconds_bucket{{{primary},le=\"0.05\"}} 2"),
            format!("hookpost_attempt_duration_seconds_bucket{{{primary},le=\"+Inf\"}} 2"),
            format!("hookpost_attempt_duration_seconds_count{{{primary}}} 2"),
            "hookpost_attempt_duration_seconds_bucket{leg=\"failover\",result=\"failure\",le=\"30\"} 0".into(),
            "hookpost_attempt_duration_seconds_count{leg=\"failover\",result=\"failure\"} 1".into(),
            "hookpost_attempt_duration_seconds_count{leg=\"primary\",result=\"failure\"} 0".into(),
            "hookpost_publish_duration_seconds_bucket{shape=\"batch\",le=\"0.0025\"} 1".into(),
            "hookpost_publish_duration_seconds_count{shape=\"single\"} 0".into(),
        ] {
            assert!(text.contains(&format!("{line}\n")), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn the_node_is_told_apart_by_its_id_and_role_only() {
        let text = Metrics::new("node \"a\"", "api").render(&Snapshot::default());
        assert!(text.contains("hookpost_node_info{node=\"node \\\"a\\\"\",role=\"api\"} 1\n"));
    }
}

/// How many minutes of requests a node keeps for its plot.
pub const RECENT_MINUTES: usize = 60;

/// A ring of per-minute request counts, one slot a minute, lock-free: a slot
/// holds the minute it counts, and the first request of a new minute clears
/// it (a request racing that reset may be lost, which a plot can bear).
struct RecentRequests {
    slots: [MinuteSlot; RECENT_MINUTES],
}

#[derive(Default)]
struct MinuteSlot {
    minute: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    total_ms: AtomicU64,
    max_ms: AtomicU64,
}

impl Default for RecentRequests {
    fn default() -> Self {
        RecentRequests {
            slots: std::array::from_fn(|_| MinuteSlot::default()),
        }
    }
}

fn minute_number(at: chrono::DateTime<chrono::Utc>) -> u64 {
    u64::try_from(at.timestamp() / 60).unwrap_or(0)
}

impl RecentRequests {
    fn record(&self, at: chrono::DateTime<chrono::Utc>, ok: bool, took: Duration) {
        let minute = minute_number(at);
        let slot = &self.slots[(minute % RECENT_MINUTES as u64) as usize];
        let seen = slot.minute.load(Ordering::Relaxed);
        if seen != minute
            && slot
                .minute
                .compare_exchange(seen, minute, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            for counter in [&slot.ok, &slot.failed, &slot.total_ms, &slot.max_ms] {
                counter.store(0, Ordering::Relaxed);
            }
        }
        let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        let counter = if ok { &slot.ok } else { &slot.failed };
        counter.fetch_add(1, Ordering::Relaxed);
        slot.total_ms.fetch_add(ms, Ordering::Relaxed);
        slot.max_ms.fetch_max(ms, Ordering::Relaxed);
    }

    fn series(&self, now: chrono::DateTime<chrono::Utc>) -> MinuteSeries {
        let mut series = MinuteSeries::empty(now, RECENT_MINUTES);
        let first = minute_number(series.start);
        for (bucket, offset) in series.buckets.iter_mut().zip(0u64..) {
            let minute = first + offset;
            let slot = &self.slots[(minute % RECENT_MINUTES as u64) as usize];
            if slot.minute.load(Ordering::Acquire) == minute {
                bucket.ok = slot.ok.load(Ordering::Relaxed);
                bucket.failed = slot.failed.load(Ordering::Relaxed);
                bucket.total_ms = slot.total_ms.load(Ordering::Relaxed);
                bucket.max_ms = slot.max_ms.load(Ordering::Relaxed);
            }
        }
        series
    }
}

#[cfg(test)]
mod recent_tests {
    use super::*;

    #[test]
    fn the_ring_counts_by_minute_and_forgets_an_hour_back() {
        let ring = RecentRequests::default();
        let t0: chrono::DateTime<chrono::Utc> = "2026-12-03T10:00:10Z".parse().unwrap();
        ring.record(t0, true, Duration::from_millis(10));
        ring.record(t0, false, Duration::from_millis(30));
        ring.record(
            t0 + chrono::TimeDelta::minutes(2),
            true,
            Duration::from_millis(5),
        );
        let series = ring.series(t0 + chrono::TimeDelta::minutes(2));
        let last = series.buckets.len() - 1;
        assert_eq!(
            (series.buckets[last - 2].ok, series.buckets[last - 2].failed),
            (1, 1)
        );
        assert_eq!(series.buckets[last - 2].mean_ms(), Some(20));
        assert_eq!(series.buckets[last].ok, 1);
        // The same slot an hour later counts afresh.
        let later = t0 + chrono::TimeDelta::minutes(60);
        ring.record(later, true, Duration::from_millis(1));
        let series = ring.series(later);
        assert_eq!(series.total().count(), 2, "the first minute's two fell off");
    }
}
