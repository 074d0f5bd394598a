//! The report: a table for people, then, last, one line of JSON with every figure
//! and the ratios to the ceiling. Delivered rates, missing and duplicates count
//! deliveries: in a fan-out run, each event makes one per account endpoint.

use crate::phase::Figures;
use crate::{Plan, Scenario};
use serde_json::{json, Map, Value};
use std::time::Duration;

/// Share of their throughput that healthy endpoints should keep beside failing ones.
const KEPT_GOAL: f64 = 0.8;

/// One set of hookpost processes and the phases measured on it.
pub struct Run {
    /// `healthy`, `baseline`, `failing`, `backlog` or `fanout`.
    pub label: &'static str,
    /// Named phases, in order.
    pub phases: Vec<(&'static str, Figures)>,
    /// Account endpoints per event in a fan-out run; `None` on profiles.
    pub fanout: Option<usize>,
    /// Peak resident memory of each node over the run, in KiB.
    pub peak_rss_kib: Vec<u64>,
    /// Warning, error and non-JSON lines in the nodes' logs.
    pub warnings: usize,
    /// The backlog scenario's own figures.
    pub backlog: Option<Backlog>,
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

/// Everything one invocation measured.
pub struct Report {
    /// The settings.
    pub plan: Plan,
    /// Requests/s straight to the receiver.
    pub ceiling_rps: f64,
    /// The runs, in order.
    pub runs: Vec<Run>,
    /// Requests the receiver got, of any answer.
    pub receiver_requests: u64,
    /// Requests the receiver answered 200.
    pub receiver_ok: u64,
}

impl Report {
    /// Every counted event arrived and every publish was accepted.
    pub fn passed(&self) -> bool {
        self.figures()
            .all(|f| f.missing == 0 && f.publish_errors == 0)
    }

    /// Prints the table, then the JSON line.
    pub fn print(&self) {
        self.print_table();
        println!("{}", self.json());
    }

    /// Every phase of every run.
    fn figures(&self) -> impl Iterator<Item = &Figures> {
        self.runs
            .iter()
            .flat_map(|r| r.phases.iter().map(|(_, f)| f))
    }

    /// Per phase of the failing run: its delivered rate over the baseline's.
    fn kept(&self) -> Vec<(&'static str, f64)> {
        self.compare("baseline", "failing", |base, fail| {
            ratio(fail.delivered_rate, base.delivered_rate)
        })
    }

    /// Per phase of the fan-out run: the time one delivery takes over its time
    /// in the single-endpoint healthy run (the healthy run's delivered rate
    /// over the fan-out run's), when both ran.
    fn delivery_cost(&self) -> Vec<(&'static str, f64)> {
        self.compare("healthy", "fanout", |healthy, fanout| {
            ratio(healthy.delivered_rate, fanout.delivered_rate)
        })
    }

    /// `figure` of the phases that runs `first` and `second` both have, in
    /// order; nothing unless both ran.
    fn compare(
        &self,
        first: &str,
        second: &str,
        figure: impl Fn(&Figures, &Figures) -> f64,
    ) -> Vec<(&'static str, f64)> {
        let run = |label| self.runs.iter().find(|r| r.label == label);
        let (Some(first), Some(second)) = (run(first), run(second)) else {
            return Vec::new();
        };
        let pairs = first.phases.iter().zip(&second.phases);
        pairs
            .map(|((name, a), (_, b))| (*name, figure(a, b)))
            .collect()
    }

    /// The human table.
    fn print_table(&self) {
        let p = &self.plan;
        println!(
            "hookpost-bench: scenario {}, {} events/phase, {} publishers, {}-byte payloads, {} endpoint(s), {} node(s), {} store",
            p.scenario.name(), p.events, p.concurrency, p.payload_bytes, p.endpoints, p.nodes, store(p)
        );
        println!(
            "ceiling (straight to the receiver): {:.0} req/s\n",
            self.ceiling_rps
        );
        println!(
            "{:<9} {:<8} {:>7} {:>10} {:>12} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>5} {:>6}",
            "run",
            "phase",
            "events",
            "publish/s",
            "delivered/s",
            "vs ceil",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "missing",
            "dups",
            "errors"
        );
        for run in &self.runs {
            for (name, f) in &run.phases {
                self.print_row(run.label, name, f);
            }
        }
        println!();
        for run in &self.runs {
            print_run_notes(run);
            self.print_fanout_notes(run);
        }
        for (name, cost) in self.delivery_cost() {
            println!(
                "fanout: one delivery costs {cost:.2}× its time in the healthy run ({name}: healthy delivered/s ÷ fan-out deliveries/s)"
            );
        }
        for (name, kept) in self.kept() {
            println!(
                "failing: healthy endpoints keep {:.0}% of their {name} throughput (goal ≥ {:.0}%)",
                kept * 100.0,
                KEPT_GOAL * 100.0
            );
        }
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        let (missing, duplicates) = self.totals();
        println!("result: {verdict} ({missing} missing, {duplicates} duplicates)");
    }

    /// One phase's row.
    fn print_row(&self, run: &str, name: &str, f: &Figures) {
        let l = &f.latency;
        println!(
            "{:<9} {:<8} {:>7} {:>10.1} {:>12.1} {:>8.3} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8} {:>5} {:>6}",
            run,
            name,
            f.events,
            f.publish_rate,
            f.delivered_rate,
            ratio(f.delivered_rate, self.ceiling_rps),
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.max),
            f.missing,
            f.duplicates,
            f.publish_errors
        );
    }

    /// A fan-out run's figures per phase: deliveries and events per second.
    fn print_fanout_notes(&self, run: &Run) {
        let Some(fanout) = run.fanout else {
            return;
        };
        for (name, f) in &run.phases {
            println!(
                "{}: {name}: {} events × {fanout} endpoints = {} deliveries; {:.1} deliveries/s ({:.3}× the ceiling), {:.1} events/s",
                run.label,
                f.events,
                f.deliveries,
                f.delivered_rate,
                ratio(f.delivered_rate, self.ceiling_rps),
                f.event_rate
            );
        }
    }

    /// Missing and duplicate deliveries over all phases.
    fn totals(&self) -> (usize, usize) {
        let missing = self.figures().map(|f| f.missing).sum();
        let duplicates = self.figures().map(|f| f.duplicates).sum();
        (missing, duplicates)
    }

    /// The JSON line.
    fn json(&self) -> Value {
        let p = &self.plan;
        let runs: Map<String, Value> = self
            .runs
            .iter()
            .map(|r| (r.label.to_owned(), self.run_json(r)))
            .collect();
        let (missing, duplicates) = self.totals();
        let mut out = json!({
            "scenario": p.scenario.name(),
            "events": p.events,
            "concurrency": p.concurrency,
            "payload_bytes": p.payload_bytes,
            "endpoints": p.endpoints,
            "nodes": p.nodes,
            "store": store(p),
            "ceiling_rps": round(self.ceiling_rps, 1),
            "runs": runs,
            "receiver": {"requests": self.receiver_requests, "ok": self.receiver_ok},
            "missing": missing,
            "duplicates": duplicates,
            "passed": self.passed(),
        });
        if p.scenario == Scenario::Failing {
            out["healthy_endpoints_kept"] = json!(rounded(self.kept(), 3));
            out["kept_goal"] = json!(KEPT_GOAL);
        }
        let cost = self.delivery_cost();
        if !cost.is_empty() {
            out["delivery_cost_vs_healthy"] = json!(rounded(cost, 3));
        }
        out
    }

    /// One run's JSON.
    fn run_json(&self, run: &Run) -> Value {
        let phases: Map<String, Value> = run
            .phases
            .iter()
            .map(|(name, f)| ((*name).to_owned(), self.phase_json(f)))
            .collect();
        let mut out = json!({
            "peak_rss_mib": mib(&run.peak_rss_kib),
            "log_warnings": run.warnings,
            "phases": phases,
        });
        if let Some(fanout) = run.fanout {
            out["fanout"] = json!(fanout);
        }
        if let Some(b) = &run.backlog {
            out["backlog"] = json!({
                "attempted_while_down": b.attempted,
                "pending_at_sample": b.pending,
                "peak_rss_mib_with_backlog": mib(&b.peak_rss_kib),
                "first_arrival_s": round(b.first_arrival.as_secs_f64(), 3),
                "drain_s": round(b.drain.as_secs_f64(), 3),
                "drain_per_s": round(b.drain_rate, 1),
            });
        }
        out
    }

    /// One phase's JSON.
    fn phase_json(&self, f: &Figures) -> Value {
        let l = &f.latency;
        json!({
            "events": f.events,
            "deliveries": f.deliveries,
            "publish_per_s": round(f.publish_rate, 1),
            "delivered_per_s": round(f.delivered_rate, 1),
            "delivered_events_per_s": round(f.event_rate, 1),
            "publish_vs_ceiling": round(ratio(f.publish_rate, self.ceiling_rps), 3),
            "delivered_vs_ceiling": round(ratio(f.delivered_rate, self.ceiling_rps), 3),
            "latency_ms": {"p50": ms(l.p50), "p90": ms(l.p90), "p99": ms(l.p99), "max": ms(l.max)},
            "missing": f.missing,
            "duplicates": f.duplicates,
            "publish_errors": f.publish_errors,
        })
    }
}

/// Memory and log lines of a run, and the backlog's figures.
fn print_run_notes(run: &Run) {
    println!(
        "{}: peak RSS (VmHWM) {:?} MiB, {} warning line(s) in hookpost's log",
        run.label,
        mib(&run.peak_rss_kib),
        run.warnings
    );
    if let Some(b) = &run.backlog {
        println!(
            "backlog: {} events refused once while down, pending at the sample: {}; peak RSS with the backlog {:?} MiB",
            b.attempted,
            if b.pending { "yes" } else { "no" },
            mib(&b.peak_rss_kib),
        );
        println!(
            "backlog: after recovery, first arrival in {:.2} s, all in {:.2} s ({:.0} events/s)",
            b.first_arrival.as_secs_f64(),
            b.drain.as_secs_f64(),
            b.drain_rate
        );
    }
}

/// `embedded` or `postgres` (never the URL: it may hold a password).
fn store(plan: &Plan) -> &'static str {
    if plan.database.is_empty() {
        "embedded"
    } else {
        "postgres"
    }
}

/// Named figures as a JSON object, each rounded to `places` decimals.
fn rounded(figures: Vec<(&'static str, f64)>, places: i32) -> Map<String, Value> {
    figures
        .into_iter()
        .map(|(name, x)| (name.to_owned(), json!(round(x, places))))
        .collect()
}

/// `a / b`, 0 when `b` is 0.
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

/// Milliseconds, two decimals.
fn ms(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1000.0, 2)
}

/// KiB to MiB, one decimal.
fn mib(kib: &[u64]) -> Vec<f64> {
    kib.iter().map(|k| round(*k as f64 / 1024.0, 1)).collect()
}

/// `x` rounded to `places` decimals.
fn round(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}
