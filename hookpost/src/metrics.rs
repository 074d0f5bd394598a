//! Process counters, served at `GET /metrics` in the Prometheus text format.
//! Plain atomics: counting must cost nothing on the publish and delivery paths.

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
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition; `in_flight` is the number of attempts running now.
    pub fn render(&self, in_flight: usize) -> String {
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
            "hookpost_attempts_in_flight",
            "gauge",
            "Delivery attempts running now.",
            &[("", in_flight as u64)],
        );
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
        let text = m.render(3);
        assert!(text.contains(
            "# TYPE hookpost_events_accepted_total counter\nhookpost_events_accepted_total 1\n"
        ));
        assert!(text.contains("hookpost_delivery_requests_total{result=\"failure\"} 1\n"));
        assert!(text.contains("hookpost_attempts_in_flight 3\n"));
    }
}
