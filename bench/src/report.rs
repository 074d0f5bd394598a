//! The report: a table for people, then, last, one line of JSON with every figure
//! and the ratios to the ceiling. Delivered rates, missing and duplicates count
//! deliveries: in a fan-out run, each event makes one per account endpoint.

use crate::floor::Floor;
use crate::notes::Notes;
use crate::phase::Figures;
use crate::stats::Latency;
use crate::{Plan, Scenario};
use serde_json::{json, Map, Value};
use std::time::Duration;

/// Share of their throughput that healthy endpoints should keep beside failing ones.
const KEPT_GOAL: f64 = 0.8;
/// Share of their publish and delivered rates that single publishes should
/// keep while the retention purge deletes a full store.
const PURGE_KEPT_GOAL: f64 = 0.8;

/// One set of hookpost processes and the phases measured on it.
pub struct Run {
    /// `healthy`, `baseline`, `failing`, `backlog`, `fanout`, `storm`, `dead`,
    /// `unkeyed`, `ordered`, `purge` or `attachments`.
    pub label: &'static str,
    /// Named phases, in order.
    pub phases: Vec<(&'static str, Figures)>,
    /// Counted account endpoints per event in a fan-out run; `None` on profiles.
    pub fanout: Option<usize>,
    /// Peak resident memory of each node over the run, in KiB.
    pub peak_rss_kib: Vec<u64>,
    /// Warning, error and non-JSON lines in the nodes' logs.
    pub warnings: usize,
    /// The run's own figures, in the scenarios that have them.
    pub notes: Option<Notes>,
}

/// Everything one invocation measured.
pub struct Report {
    /// The settings.
    pub plan: Plan,
    /// Requests/s straight to the receiver.
    pub ceiling_rps: f64,
    /// What the parts of a delivered event cost at least on this machine.
    pub floor: Floor,
    /// The runs, in order.
    pub runs: Vec<Run>,
    /// Requests the receiver got, of any answer.
    pub receiver_requests: u64,
    /// Requests the receiver answered 200.
    pub receiver_ok: u64,
}

impl Report {
    /// Every counted event arrived, every publish was accepted, and no run's
    /// own figures show a fault (an event out of order).
    pub fn passed(&self) -> bool {
        let mut notes = self.runs.iter().filter_map(|r| r.notes.as_ref());
        self.figures()
            .all(|f| f.missing == 0 && f.publish_errors == 0)
            && notes.all(Notes::passed)
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

    /// Per phase of the failing or dead run: its (healthy endpoints')
    /// delivered rate over the baseline's.
    fn kept(&self) -> Vec<(&'static str, f64)> {
        self.compare("baseline", self.plan.scenario.name(), |base, other| {
            ratio(other.delivered_rate, base.delivered_rate)
        })
    }

    /// Per phase of the ordered run: its delivered rate over the unkeyed run's.
    fn keyed_share(&self) -> Vec<(&'static str, f64)> {
        self.compare("unkeyed", "ordered", |unkeyed, keyed| {
            ratio(keyed.delivered_rate, unkeyed.delivered_rate)
        })
    }

    /// Fresh events' latency in the storm run: without the storm, then during it.
    fn storm_latency(&self) -> Option<(Latency, Latency)> {
        let (calm, storm) = self.phase_pair("storm", "baseline", "storm")?;
        Some((calm.latency, storm.latency))
    }

    /// Single publishes in the purge run while the purge deletes the store,
    /// over the baseline on the same store: publish rate, delivered rate.
    fn purge_kept(&self) -> Option<(f64, f64)> {
        let (base, purging) = self.phase_pair("purge", "baseline", "purging")?;
        Some((
            ratio(purging.publish_rate, base.publish_rate),
            ratio(purging.delivered_rate, base.delivered_rate),
        ))
    }

    /// Phases `first` and `second` of run `label`, if it ran with both.
    fn phase_pair(&self, label: &str, first: &str, second: &str) -> Option<(&Figures, &Figures)> {
        let run = self.runs.iter().find(|r| r.label == label)?;
        let phase = |name| run.phases.iter().find(|(n, _)| *n == name).map(|(_, f)| f);
        Some((phase(first)?, phase(second)?))
    }

    /// Events out of order over all runs, if order was checked.
    fn out_of_order(&self) -> Option<u64> {
        let notes = self.runs.iter().filter_map(|r| r.notes.as_ref());
        notes.filter_map(Notes::out_of_order).reduce(|a, b| a + b)
    }

    /// Per phase of the fan-out run: the time one delivery takes over its time
    /// in the single-endpoint healthy run (the healthy run's delivered rate
    /// over the fan-out run's), when both ran.
    fn delivery_cost(&self) -> Vec<(&'static str, f64)> {
        self.compare("healthy", "fanout", |healthy, fanout| {
            ratio(healthy.delivered_rate, fanout.delivered_rate)
        })
    }

    /// Per phase of the fan-out run: the nodes' CPU time per delivery over
    /// their CPU time per event in the single-endpoint healthy run, when both
    /// ran and were metered.
    fn delivery_cpu_cost(&self) -> Vec<(&'static str, f64)> {
        let cost = self.compare("healthy", "fanout", |healthy, fanout| {
            let per = |f: &Figures| f.cpu_us_per_delivery();
            per(fanout)
                .zip(per(healthy))
                .map_or(f64::NAN, |(f, h)| ratio(f, h))
        });
        cost.into_iter().filter(|(_, c)| c.is_finite()).collect()
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
            "ceiling (straight to the receiver): {:.0} req/s",
            self.ceiling_rps
        );
        let f = &self.floor;
        println!(
            "floor per delivered event: {:.1} µs CPU = exchange {:.1} + 2 × Ed25519 {:.1} + HMAC {:.1} + commit {:.1}\n",
            f.per_event_us(), f.exchange_us, f.ed25519_us, f.hmac_us, f.commit_us
        );
        println!(
            "{:<9} {:<8} {:>7} {:>10} {:>12} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>5} {:>6} {:>8}",
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
            "errors",
            "cpu µs"
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
        for (name, cost) in self.delivery_cpu_cost() {
            println!(
                "fanout: one delivery costs {cost:.2}× the CPU of a healthy-run event ({name}: CPU µs per delivery, fan-out ÷ healthy)"
            );
        }
        self.print_comparisons();
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        let (missing, duplicates) = self.totals();
        let order = match self.out_of_order() {
            Some(n) => format!(", {n} out of order"),
            None => String::new(),
        };
        println!("result: {verdict} ({missing} missing, {duplicates} duplicates{order})");
    }

    /// The lines comparing runs or phases: healthy endpoints kept beside
    /// failing or dead ones, keyed against unkeyed, fresh latency in a storm,
    /// publishing during a purge.
    fn print_comparisons(&self) {
        let scenario = self.plan.scenario;
        let goal = match scenario {
            Scenario::Failing => format!(" (goal ≥ {:.0}%)", KEPT_GOAL * 100.0),
            _ => " beside the dead endpoint".to_owned(),
        };
        for (name, kept) in self.kept() {
            println!(
                "{}: healthy endpoints keep {:.0}% of their {name} throughput{goal}",
                scenario.name(),
                kept * 100.0,
            );
        }
        for (name, share) in self.keyed_share() {
            println!(
                "ordered: {name}: keyed deliveries/s are {:.0}% of unkeyed ones",
                share * 100.0
            );
        }
        if let Some((calm, storm)) = self.storm_latency() {
            println!(
                "storm: fresh events p50 / p99 / max {:.1} / {:.1} / {:.1} ms during the storm, {:.1} / {:.1} / {:.1} ms without",
                ms(storm.p50), ms(storm.p99), ms(storm.max), ms(calm.p50), ms(calm.p99), ms(calm.max)
            );
        }
        if let Some((publish, delivered)) = self.purge_kept() {
            println!(
                "purge: single publishes during the purge keep {:.0}% of the baseline's publish rate and {:.0}% of its delivered rate (goal ≥ {:.0}%)",
                publish * 100.0,
                delivered * 100.0,
                PURGE_KEPT_GOAL * 100.0
            );
        }
    }

    /// One phase's row.
    fn print_row(&self, run: &str, name: &str, f: &Figures) {
        let l = &f.latency;
        println!(
            "{:<9} {:<8} {:>7} {:>10.1} {:>12.1} {:>8.3} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8} {:>5} {:>6} {:>8}",
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
            f.publish_errors,
            f.cpu_us_per_delivery()
                .map_or_else(|| "—".to_owned(), |us| format!("{us:.1}"))
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
            "floor_us": {
                "per_event": round(self.floor.per_event_us(), 1),
                "exchange": round(self.floor.exchange_us, 1),
                "ed25519": round(self.floor.ed25519_us, 1),
                "hmac": round(self.floor.hmac_us, 1),
                "commit": round(self.floor.commit_us, 1),
            },
            "runs": runs,
            "receiver": {"requests": self.receiver_requests, "ok": self.receiver_ok},
            "missing": missing,
            "duplicates": duplicates,
            "passed": self.passed(),
        });
        if matches!(p.scenario, Scenario::Failing | Scenario::Dead) {
            out["healthy_endpoints_kept"] = json!(rounded(self.kept(), 3));
        }
        if p.scenario == Scenario::Failing {
            out["kept_goal"] = json!(KEPT_GOAL);
        }
        if p.scenario == Scenario::Ordered {
            out["keys"] = json!(p.keys);
            out["keyed_vs_unkeyed"] = json!(rounded(self.keyed_share(), 3));
            out["out_of_order"] = json!(self.out_of_order());
        }
        if let Some((calm, storm)) = self.storm_latency() {
            let p99 = ratio(storm.p99.as_secs_f64(), calm.p99.as_secs_f64());
            out["fresh_p99_storm_vs_baseline"] = json!(round(p99, 3));
        }
        if p.scenario == Scenario::Purge {
            out["fill"] = json!(p.fill);
            out["purge_kept_goal"] = json!(PURGE_KEPT_GOAL);
        }
        if let Some((publish, delivered)) = self.purge_kept() {
            out["purging_vs_baseline"] =
                json!({"publish": round(publish, 3), "delivered": round(delivered, 3)});
        }
        let cost = self.delivery_cost();
        if !cost.is_empty() {
            out["delivery_cost_vs_healthy"] = json!(rounded(cost, 3));
        }
        let cpu_cost = self.delivery_cpu_cost();
        if !cpu_cost.is_empty() {
            out["delivery_cpu_vs_healthy"] = json!(rounded(cpu_cost, 3));
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
        if let Some(notes) = &run.notes {
            let (name, value) = notes.json();
            out[name] = value;
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
            "cpu_us_per_delivery": f.cpu_us_per_delivery().map(|us| round(us, 1)),
            "cpu_vs_floor": f
                .cpu_us_per_delivery()
                .map(|us| round(ratio(us, self.floor.per_event_us()), 3)),
        })
    }
}

/// Memory and log lines of a run, and its own figures.
fn print_run_notes(run: &Run) {
    println!(
        "{}: peak RSS (VmHWM) {:?} MiB, {} warning line(s) in hookpost's log",
        run.label,
        mib(&run.peak_rss_kib),
        run.warnings
    );
    if let Some(notes) = &run.notes {
        notes.print();
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
pub fn ratio(a: f64, b: f64) -> f64 {
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
pub fn mib(kib: &[u64]) -> Vec<f64> {
    kib.iter().map(|k| round(*k as f64 / 1024.0, 1)).collect()
}

/// `x` rounded to `places` decimals.
pub fn round(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}
