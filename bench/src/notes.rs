//! A run's own figures beyond its phases, one kind per scenario that has them:
//! the backlog's memory and drain, the retry storm's size, the dead endpoint's
//! requests, the ordering check, the purge's fills, pace and store size, the
//! attachments' memory, concurrency and integrity. Each prints its lines and
//! its JSON object.

use crate::receiver::Order;
use crate::report::{mib, ratio, round};
use crate::stats::per_second;
use serde_json::{json, Value};
use std::time::Duration;

/// Largest size of the store after the purge scenario's second fill (with the
/// purge on), over its size after the first.
pub const STORE_GROWTH_GOAL: f64 = 1.10;

/// Peak resident memory of hookpost, in MiB, that the attachments scenario's
/// concurrent deliveries should stay under.
pub const ATTACHMENT_RSS_GOAL_MIB: f64 = 200.0;

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
    /// The purge scenario's.
    Purge(Purge),
    /// The attachments scenario's.
    Attachments(Attachments),
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

/// Figures of the purge scenario: its two fills, the purge of what was stored
/// before retention was shortened, and the store's size after each fill.
pub struct Purge {
    /// Retention of delivered events while filling and measuring the
    /// baseline, as the server answered it.
    pub kept: String,
    /// The fill before the purge, then the one with it on.
    pub fills: [Fill; 2],
    /// Bytes of the store's database and WAL after each fill was delivered
    /// (and, after the second, purged).
    pub store_bytes: [u64; 2],
    /// Events published before retention was shortened (the first fill's and
    /// the baseline phase's), all delivered and then past retention.
    pub stored: u64,
    /// What the purge did once retention was shortened.
    pub purging: Purging,
    /// Events published since retention was first set (all delivered, so all
    /// due for the purge by the end).
    pub published: u64,
    /// Events purged by the end.
    pub purged: u64,
}

/// The purge of the events stored before retention was shortened, around the
/// phase measured meanwhile.
pub struct Purging {
    /// Retention of delivered events from then on, as the server answered it.
    pub retention: String,
    /// From the retention change until the first purged event was seen, if
    /// within the wait.
    pub started: Option<Duration>,
    /// From the last look before the first purged event until the stored
    /// events were seen purged, if within the wait (at most one look, 0.1 s,
    /// too long).
    pub took: Option<Duration>,
    /// Events purged during the measured phase.
    pub during_phase: u64,
}

/// One fill of the purge scenario: events published in batches, then delivered.
pub struct Fill {
    /// Events accepted.
    pub accepted: usize,
    /// Batch publishes that failed.
    pub publish_errors: usize,
    /// Wall time of publishing.
    pub publish: Duration,
    /// Requests the receiver answered 200 until none was pending.
    pub delivered: u64,
    /// From the first publish until none of the account's events was pending
    /// (or the wait ended).
    pub drain: Duration,
    /// Whether none was pending within the wait.
    pub drained: bool,
}

/// Figures of the attachments scenario: events with a file each, published
/// while their endpoint is paused, then delivered together.
pub struct Attachments {
    /// Events accepted, one file each.
    pub events: usize,
    /// Publishes that failed.
    pub publish_errors: usize,
    /// Bytes of each file.
    pub file_bytes: usize,
    /// Wall time of publishing (one event at a time).
    pub publish: Duration,
    /// Requests the endpoint received while they were published: 0 when its
    /// pause held every delivery back.
    pub during_publish: u64,
    /// Events whose deliveries were all held back by the pause (none claimed)
    /// when the endpoint was released.
    pub held: usize,
    /// Peak resident memory of the node when publishing ended, before any
    /// delivery, in KiB.
    pub publish_peak_rss_kib: Vec<u64>,
    /// Peak resident memory of the node once the deliveries arrived, in KiB.
    pub peak_rss_kib: Vec<u64>,
    /// The most deliveries in flight at the receiver at once.
    pub most_in_flight: usize,
    /// Events whose delivery carried exactly their file, byte for byte (its
    /// SHA-256 at the receiver is the published one).
    pub verified: usize,
    /// From the endpoint's release until the last delivery was read.
    pub delivery: Option<Duration>,
    /// From the first publish until the last delivery was read.
    pub total: Option<Duration>,
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
    /// event out of order, none arrived unchecked, every purge fill delivered
    /// and purged, every attachment delivered intact with all of them in
    /// flight at once and none before publishing ended.
    pub fn passed(&self) -> bool {
        match self {
            Notes::Storm(s) => s.publish_errors == 0,
            Notes::Ordered(o) => o.order.out_of_order == 0 && o.order.checked == o.arrived as u64,
            Notes::Purge(p) => p.passed(),
            Notes::Attachments(a) => a.passed(),
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
            Notes::Purge(p) => p.print(),
            Notes::Attachments(a) => a.print(),
        }
    }

    /// The name and value of the run's JSON field.
    pub fn json(&self) -> (&'static str, Value) {
        match self {
            Notes::Backlog(b) => ("backlog", b.json()),
            Notes::Storm(s) => ("storm", s.json()),
            Notes::Dead(d) => ("dead_endpoint", d.json()),
            Notes::Ordered(o) => ("ordering", o.json()),
            Notes::Purge(p) => ("purge", p.json()),
            Notes::Attachments(a) => ("attachments", a.json()),
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

impl Purge {
    /// Every fill accepted and delivered, the purge started, and everything
    /// published was purged within the waits.
    fn passed(&self) -> bool {
        let filled = |f: &Fill| f.publish_errors == 0 && f.drained;
        let purging = &self.purging;
        self.fills.iter().all(filled)
            && purging.started.is_some()
            && purging.took.is_some()
            && self.purged >= self.published
    }

    /// The store's size after the second fill over its size after the first.
    fn growth(&self) -> f64 {
        let [first, second] = self.store_bytes;
        ratio(second as f64, first as f64)
    }

    /// Events purged per second while the stored ones were.
    fn purge_rate(&self) -> f64 {
        let took = self.purging.took;
        took.map_or(0.0, |took| per_second(self.stored as usize, took))
    }

    /// The human lines.
    fn print(&self) {
        let (kept, purging) = (&self.kept, &self.purging);
        let [first, second] = &self.fills;
        let [before, after] = self.store_bytes.map(bytes_mib);
        first.print("fill 1", kept, before);
        println!(
            "purge: retention of delivered events {kept} → {}: first purge after {}, the {} events stored before purged in {} ({:.0}/s); {} purged during the measured phase",
            purging.retention,
            seconds(purging.started),
            self.stored,
            seconds(purging.took),
            self.purge_rate(),
            purging.during_phase
        );
        second.print("fill 2", &purging.retention, after);
        println!(
            "purge: {} of {} published events purged by the end; store {after:.1} MiB after the second fill, {before:.1} MiB after the first: {:.2}× (goal ≤ {STORE_GROWTH_GOAL:.2}×)",
            self.purged,
            self.published,
            self.growth()
        );
    }

    /// The JSON object.
    fn json(&self) -> Value {
        let purging = &self.purging;
        let secs = |d: Option<Duration>| d.map(|d| round(d.as_secs_f64(), 3));
        json!({
            "retention": {"fill": self.kept, "purge": purging.retention},
            "fills": self.fills.iter().map(Fill::json).collect::<Vec<_>>(),
            "store_bytes": self.store_bytes,
            "store_mib": self.store_bytes.map(bytes_mib),
            "store_growth": round(self.growth(), 3),
            "store_growth_goal": STORE_GROWTH_GOAL,
            "stored_before_purge": self.stored,
            "purge_started_after_s": secs(purging.started),
            "purge_of_stored_s": secs(purging.took),
            "purge_per_s": round(self.purge_rate(), 1),
            "purged_during_phase": purging.during_phase,
            "published": self.published,
            "purged": self.purged,
        })
    }
}

impl Attachments {
    /// Every publish accepted, nothing delivered while publishing, every
    /// delivery held by the pause, all in flight at once, and every file
    /// received intact.
    fn passed(&self) -> bool {
        self.publish_errors == 0
            && self.during_publish == 0
            && self.held == self.events
            && self.most_in_flight == self.events
            && self.verified == self.events
    }

    /// The node's peak over the run, in MiB (the largest node's).
    fn peak_mib(&self) -> f64 {
        mib(&self.peak_rss_kib).into_iter().fold(0.0, f64::max)
    }

    /// The human lines.
    fn print(&self) {
        println!(
            "attachments: {} events with a {:.1} MiB file each ({} errors) published one at a time in {:.1} s while the endpoint was paused; requests to it meanwhile: {} (must be 0); {} of them held by the pause at the release",
            self.events,
            bytes_mib(self.file_bytes as u64),
            self.publish_errors,
            self.publish.as_secs_f64(),
            self.during_publish,
            self.held
        );
        let peak = self.peak_mib();
        println!(
            "attachments: peak RSS (VmHWM) {:?} MiB after publishing, before any delivery; {:?} MiB with the deliveries (goal < {ATTACHMENT_RSS_GOAL_MIB:.0} MiB: {})",
            mib(&self.publish_peak_rss_kib),
            mib(&self.peak_rss_kib),
            if peak < ATTACHMENT_RSS_GOAL_MIB { "met" } else { "not met" }
        );
        println!(
            "attachments: most deliveries in flight at the receiver at once: {} of {} (the memory figure counts only if all: {}); {} of {} files received byte for byte (SHA-256); last delivery read {} after the release, {} after the first publish",
            self.most_in_flight,
            self.events,
            if self.most_in_flight == self.events { "yes" } else { "no" },
            self.verified,
            self.events,
            seconds(self.delivery),
            seconds(self.total)
        );
    }

    /// The JSON object.
    fn json(&self) -> Value {
        let secs = |d: Option<Duration>| d.map(|d| round(d.as_secs_f64(), 3));
        json!({
            "events": self.events,
            "publish_errors": self.publish_errors,
            "file_bytes": self.file_bytes,
            "publish_s": round(self.publish.as_secs_f64(), 3),
            "requests_during_publish": self.during_publish,
            "held_at_release": self.held,
            "publish_peak_rss_mib": mib(&self.publish_peak_rss_kib),
            "peak_rss_mib": mib(&self.peak_rss_kib),
            "rss_goal_mib": ATTACHMENT_RSS_GOAL_MIB,
            "rss_goal_met": self.peak_mib() < ATTACHMENT_RSS_GOAL_MIB,
            "most_in_flight": self.most_in_flight,
            "verified": self.verified,
            "delivery_s": secs(self.delivery),
            "total_s": secs(self.total),
        })
    }
}

impl Fill {
    /// The human line of fill `name`, stored under retention `retention`,
    /// leaving a store of `store_mib`.
    fn print(&self, name: &str, retention: &str, store_mib: f64) {
        println!(
            "purge: {name} (delivered kept {retention}): {} events published in {:.1} s ({:.0}/s, {} errors), {} delivered, none pending after {:.1} s: {}; store {store_mib:.1} MiB",
            self.accepted,
            self.publish.as_secs_f64(),
            per_second(self.accepted, self.publish),
            self.publish_errors,
            self.delivered,
            self.drain.as_secs_f64(),
            if self.drained { "yes" } else { "no" }
        );
    }

    /// The JSON object.
    fn json(&self) -> Value {
        json!({
            "accepted": self.accepted,
            "publish_errors": self.publish_errors,
            "publish_s": round(self.publish.as_secs_f64(), 3),
            "publish_per_s": round(per_second(self.accepted, self.publish), 1),
            "delivered": self.delivered,
            "drain_s": round(self.drain.as_secs_f64(), 3),
            "drained": self.drained,
        })
    }
}

/// Bytes to MiB, one decimal.
fn bytes_mib(bytes: u64) -> f64 {
    round(bytes as f64 / (1024.0 * 1024.0), 1)
}

/// A wait's duration in seconds, or that it ended without what it waited for.
fn seconds(d: Option<Duration>) -> String {
    d.map_or("— (not within the wait)".to_owned(), |d| {
        format!("{:.1} s", d.as_secs_f64())
    })
}
