//! Process counters, served at `GET /metrics` in the Prometheus text format.
//! Plain atomics: counting must cost nothing on the publish and delivery paths.

use crate::domain::endpoint::EndpointTally;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// The counters of one process.
#[derive(Default)]
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
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition; `in_flight` is the number of attempts running now,
    /// `endpoints` the store's count of endpoints by state (if it answered).
    pub fn render(&self, in_flight: usize, endpoints: Option<EndpointTally>) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        metric(
            "hookpost_events_accepted_total",
            "counter",
            "Events stored by publishes.",
            &[("", get(&self.events_accepted))],
        );
        metric(
            "hookpost_events_duplicate_total",
            "counter",
            "Publishes that repeated a live idempotency key.",
            &[("", get(&self.events_duplicate))],
        );
        metric(
            "hookpost_delivery_requests_total",
            "counter",
            "Delivery requests by result.",
            &[
                ("{result=\"success\"}", get(&self.requests_succeeded)),
                ("{result=\"failure\"}", get(&self.requests_failed)),
            ],
        );
        metric(
            "hookpost_deliveries_finished_total",
            "counter",
            "Deliveries (one event to one destination) that reached a final state.",
            &[
                ("{status=\"delivered\"}", get(&self.deliveries_delivered)),
                ("{status=\"failed\"}", get(&self.deliveries_failed)),
            ],
        );
        metric(
            "hookpost_retries_scheduled_total",
            "counter",
            "Attempts that failed and scheduled a retry.",
            &[("", get(&self.retries_scheduled))],
        );
        metric(
            "hookpost_deliveries_held_total",
            "counter",
            "Claimed deliveries that delivery control put back without an attempt.",
            &[("", get(&self.deliveries_held))],
        );
        metric(
            "hookpost_events_purged_total",
            "counter",
            "Events deleted, with their deliveries and attempts, because their retention ended.",
            &[("", get(&self.events_purged))],
        );
        metric(
            "hookpost_attempts_in_flight",
            "gauge",
            "Delivery attempts running now.",
            &[("", in_flight as u64)],
        );
        if let Some(e) = endpoints {
            metric(
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
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_counter_in_the_text_format() {
        let m = Metrics::default();
        Metrics::inc(&m.events_accepted);
        Metrics::inc(&m.requests_failed);
        let tally = EndpointTally {
            enabled: 4,
            disabled: 1,
            breaker_open: 2,
        };
        let text = m.render(3, Some(tally));
        assert!(text.contains(
            "# TYPE hookpost_events_accepted_total counter\nhookpost_events_accepted_total 1\n"
        ));
        assert!(text.contains("hookpost_delivery_requests_total{result=\"failure\"} 1\n"));
        assert!(text.contains("hookpost_attempts_in_flight 3\n"));
        assert!(text.contains("hookpost_endpoints{state=\"breaker_open\"} 2\n"));
        assert!(!m.render(0, None).contains("hookpost_endpoints"));
    }
}
