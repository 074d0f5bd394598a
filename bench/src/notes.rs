//! A run's own figures beyond its phases, one kind per scenario that has them:
//! the backlog's memory and drain, the retry storm's size, the dead endpoint's
//! requests, the ordering check. Each prints its lines and its JSON object.

use crate::receiver::Order;
use crate::report::{mib, round};
use crate::stats::per_second;
use serde_json::{json, Value};
use std::time::Duration;

/// A run's own figures.
pub enum Notes {
    /// The backlog scenario's.
    Backlog(Backlog),
    /// The storm scenario's.
    Storm(Storm),
    /// The dead endpoint's, in the dead scenario's dead run.
    Dead(Dead),
    /// The ordering check's, in the ordered scenario's keyed run.
    Ordered(Ordered),
}

/// Figures of the backlog scenario.
pub struct Backlog {
    /// Deliveries (one per event here) refused at least once before the
    /// receiver recovered.
    pub attempted: usize,
    /// Whether events were pending when memory was sampled.
    pub pending: bool,
    /// Peak resident memory of each node with the backlog pending, in KiB.
    pub peak_rss_kib: Vec<u64>,
    /// From the receiver's recovery to the first arrival (mostly the retry step).
    pub first_arrival: Duration,
    /// From the receiver's recovery to the last arrival.
    pub drain: Duration,
    /// Deliveries per second of the drain.
    pub drain_rate: f64,
}

/// Figures of the retry storm: the events to the failing endpoint, and what it
/// received while fresh events went to the healthy one.
pub struct Storm {
    /// Status the failing endpoint answers.
    pub status: u16,
    /// Events accepted for the failing endpoint.
    pub events: usize,
    /// Their publish requests that failed.
    pub publish_errors: usize,
    /// Of them, those whose first attempt came before the fresh phase started.
    pub attempted: usize,
    /// Requests the failing endpoint received during the fresh phase (retries).
    pub retries: u64,
    /// The fresh phase, from its first publish to its last arrival seen.
    pub window: Duration,
}

/// Figures of the dead endpoint beside the healthy ones.
pub struct Dead {
    /// Status the dead endpoint answers.
    pub status: u16,
    /// Deliveries to it (one per event of the run).
    pub deliveries: usize,
    /// Requests it received over the run.
    pub requests: u64,
    /// Whether every event was done (the dead deliveries' retries spent) when
    /// they were counted.
    pub drained: bool,
}

/// Figures of the ordering check.
pub struct Ordered {
    /// Ordering keys per phase.
    pub keys: usize,
    /// Counted deliveries that arrived.
    pub arrived: usize,
    /// What the receiver's check saw over the run: every arrived delivery
    /// should have been checked.
    pub order: Order,
}

impl Notes {
    /// Whether these figures show nothing wrong: no refused storm publish, no
    /// event out of order, none arrived unchecked.
    pub fn passed(&self) -> bool {
        match self {
            Notes::Storm(s) => s.publish_errors == 0,
            Notes::Ordered(o) => o.order.out_of_order == 0 && o.order.checked == o.arrived as u64,
            Notes::Backlog(_) | Notes::Dead(_) => true,
        }
    }

    /// Events out of order, if this is the ordering check.
    pub fn out_of_order(&self) -> Option<u64> {
        match self {
            Notes::Ordered(o) => Some(o.order.out_of_order),
            _ => None,
        }
    }

    /// The human lines.
    pub fn print(&self) {
        match self {
            Notes::Backlog(b) => b.print(),
            Notes::Storm(s) => s.print(),
            Notes::Dead(d) => d.print(),
            Notes::Ordered(o) => o.print(),
        }
    }

    /// The name and value of the run's JSON field.
    pub fn json(&self) -> (&'static str, Value) {
        match self {
            Notes::Backlog(b) => ("backlog", b.json()),
            Notes::Storm(s) => ("storm", s.json()),
            Notes::Dead(d) => ("dead_endpoint", d.json()),
            Notes::Ordered(o) => ("ordering", o.json()),
        }
    }
}

impl Backlog {
    /// The human lines.
    fn print(&self) {
        println!(
            "backlog: {} events refused once while down, pending at the sample: {}; peak RSS with the backlog {:?} MiB",
            self.attempted,
            if self.pending { "yes" } else { "no" },
            mib(&self.peak_rss_kib),
        );
        println!(
            "backlog: after recovery, first arrival in {:.2} s, all in {:.2} s ({:.0} events/s)",
            self.first_arrival.as_secs_f64(),
            self.drain.as_secs_f64(),
            self.drain_rate
        );
    }

    /// The JSON object.
    fn json(&self) -> Value {
        json!({
            "attempted_while_down": self.attempted,
            "pending_at_sample": self.pending,
            "peak_rss_mib_with_backlog": mib(&self.peak_rss_kib),
            "first_arrival_s": round(self.first_arrival.as_secs_f64(), 3),
            "drain_s": round(self.drain.as_secs_f64(), 3),
            "drain_per_s": round(self.drain_rate, 1),
        })
    }
}

impl Storm {
    /// Storm requests per second of the fresh phase.
    fn retry_rate(&self) -> f64 {
        per_second(self.retries as usize, self.window)
    }

    /// The human lines.
    fn print(&self) {
        println!(
            "storm: {} events to an endpoint answering {} ({} publish errors), {} of them attempted before the fresh phase",
            self.events, self.status, self.publish_errors, self.attempted
        );
        println!(
            "storm: the failing endpoint got {} requests (retries) during the {:.1} s storm phase ({:.0}/s)",
            self.retries,
            self.window.as_secs_f64(),
            self.retry_rate()
        );
    }

    /// The JSON object.
    fn json(&self) -> Value {
        json!({
            "status": self.status,
            "events": self.events,
            "publish_errors": self.publish_errors,
            "attempted_before_fresh": self.attempted,
            "retries_during_storm_phase": self.retries,
            "storm_phase_s": round(self.window.as_secs_f64(), 3),
            "retries_per_s": round(self.retry_rate(), 1),
        })
    }
}

impl Dead {
    /// Requests per delivery to the dead endpoint.
    fn per_delivery(&self) -> f64 {
        if self.deliveries == 0 {
            0.0
        } else {
            self.requests as f64 / self.deliveries as f64
        }
    }

    /// The human line.
    fn print(&self) {
        println!(
            "dead: the dead endpoint (answers {}) got {} requests for {} deliveries ({:.2} per delivery; all of them finished within the wait: {})",
            self.status,
            self.requests,
            self.deliveries,
            self.per_delivery(),
            if self.drained { "yes" } else { "no" }
        );
    }

    /// The JSON object.
    fn json(&self) -> Value {
        json!({
            "status": self.status,
            "deliveries": self.deliveries,
            "requests": self.requests,
            "requests_per_delivery": round(self.per_delivery(), 3),
            "retries_spent": self.drained,
        })
    }
}

impl Ordered {
    /// The human line.
    fn print(&self) {
        println!(
            "ordered: {} ordering keys per phase; {} of {} arrived deliveries checked, {} out of their key's publish order (must be 0)",
            self.keys, self.order.checked, self.arrived, self.order.out_of_order
        );
    }

    /// The JSON object.
    fn json(&self) -> Value {
        json!({
            "keys": self.keys,
            "arrived": self.arrived,
            "checked": self.order.checked,
            "out_of_order": self.order.out_of_order,
        })
    }
}
