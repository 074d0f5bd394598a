//! `hookpost-bench`: measures the real `hookpost` binary on this machine —
//! publish rates, delivered events/s (and deliveries/s when events fan out to
//! several endpoints), end-to-end latency, peak memory, lost and duplicated
//! deliveries — against a ceiling: the same requests sent straight to
//! the bench's own receiver; also fresh-event latency during a retry storm,
//! healthy throughput beside a dead endpoint, ordering keys' throughput and
//! order, publishing while the retention purge empties a full store (and
//! the store's size with the purge on), and the memory of concurrent
//! deliveries of 10 MiB attachments. All traffic stays on 127.0.0.1, and
//! every loop is bounded in count and time.

mod api;
mod cpu;
mod files;
mod floor;
mod keys;
mod load;
mod notes;
mod phase;
mod receiver;
mod report;
mod scenario;
mod server;
mod stats;

use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Largest `--payload-bytes`: a batch of 100 such events must fit in hookpost's
/// default 1 MiB request body.
const MAX_PAYLOAD_BYTES: usize = 8192;
/// Events per phase unless `--events` says otherwise.
const DEFAULT_EVENTS: usize = 20_000;
/// Events of the retry storm unless `--events` says otherwise.
const DEFAULT_STORM_EVENTS: usize = 5000;
/// Events of each of the purge scenario's fills unless `--events` says otherwise.
const DEFAULT_PURGE_EVENTS: usize = 1_000_000;
/// Receiver endpoints of the storm scenario: the fresh events' and the storm's.
const STORM_ENDPOINTS: usize = 2;
/// Events (one file each) of the attachments scenario unless `--events` says otherwise.
const DEFAULT_ATTACHMENT_EVENTS: usize = 20;
/// Events per phase of `--smoke`…
const SMOKE_EVENTS: usize = 300;
/// …and of `--smoke` in the attachments scenario (10 MiB each).
const SMOKE_ATTACHMENT_EVENTS: usize = 2;

/// Benchmark of hookpost: starts a receiver and hookpost, publishes, measures.
#[derive(Debug, Parser)]
#[command(name = "hookpost-bench", version, about)]
struct Args {
    /// Events per phase (also the number of ceiling requests); in the storm
    /// scenario, the events to the failing endpoint; in the purge scenario,
    /// the events each of its two fills stores (its phases publish as many, at
    /// most 20000); in the attachments scenario, the events with a 10 MiB file
    /// each [default: 20000, 5000 for the storm scenario, 1000000 for the purge
    /// one, 20 for the attachments one].
    #[arg(long)]
    events: Option<usize>,
    /// Concurrent publishers (and concurrent ceiling senders).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Size of each event's JSON payload, in bytes.
    #[arg(long, default_value_t = 1024)]
    payload_bytes: usize,
    /// Distinct receiver paths, one profile each; events go round-robin; in
    /// the dead scenario, the healthy account endpoints beside the dead one
    /// [default: 1, 10 for the failing scenario, 4 for the dead one; not for
    /// the fanout and storm ones].
    #[arg(long)]
    endpoints: Option<usize>,
    /// Account endpoints (receiver paths) every event goes to in the fanout
    /// scenario and in the fan-out run of `--smoke`.
    #[arg(long, default_value_t = 5)]
    fanout: usize,
    /// Database: empty for hookpost's embedded store, or a `postgres://` URL.
    #[arg(long, default_value = "")]
    database: String,
    /// hookpost processes on the same database (more than 1 needs --database).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// What the receiver does while hookpost delivers.
    #[arg(long, value_enum, default_value_t = Scenario::Healthy)]
    scenario: Scenario,
    /// Ordering keys each phase's events are spread over in the ordered scenario.
    #[arg(long, default_value_t = 1000)]
    keys: usize,
    /// Events stored (without a target, so never delivered) before the measured
    /// phases: shows how publishing holds up on a full store.
    #[arg(long, default_value_t = 0)]
    prefill: usize,
    /// A tiny run for CI: 300 events (2 in the attachments scenario), 8
    /// publishers (overrides those flags); the healthy scenario is then
    /// followed by a fan-out run.
    #[arg(long)]
    smoke: bool,
    /// The hookpost binary [default: `hookpost` next to this program].
    #[arg(long)]
    hookpost_bin: Option<PathBuf>,
}

/// What the receiver does during a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Every endpoint answers 200.
    Healthy,
    /// Every 10th endpoint answers 500; compared with a healthy run of the same size.
    Failing,
    /// The receiver answers 503 while a backlog is published, then recovers.
    Backlog,
    /// Every endpoint answers 200; each event, published without a profile,
    /// goes to all `--fanout` account endpoints; compared (in time and CPU per
    /// delivery) with a healthy run of single-endpoint events.
    Fanout,
    /// `--events` events to an endpoint answering 500 on a short retry
    /// schedule; while their retries come due, fresh events are published at a
    /// steady rate to a healthy endpoint of the account, and their latency is
    /// compared with the same phase before the storm.
    Storm,
    /// Each event fans out to `--endpoints` healthy account endpoints and one
    /// that answers 503 to everything; compared with a run without it, and its
    /// requests counted.
    Dead,
    /// Events carry ordering keys, `--keys` per phase; compared with a run
    /// without keys, and each key's arrival order checked at the receiver.
    Ordered,
    /// `--events` events stored in batches and delivered; single publishes
    /// measured on that store, then again while the retention purge deletes
    /// it; then as many events stored again with the purge on, and the
    /// store's size compared with the first fill's (embedded store only).
    Purge,
    /// `--events` events, each with its own 10 MiB file, to one account
    /// endpoint taking forms (files as file parts, default signatures),
    /// published while the endpoint is paused and then delivered all at once;
    /// the node's peak memory after publishing and after the deliveries, the
    /// most deliveries in flight at once, every file checked (one node).
    Attachments,
}

impl Scenario {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Healthy => "healthy",
            Scenario::Failing => "failing",
            Scenario::Backlog => "backlog",
            Scenario::Fanout => "fanout",
            Scenario::Storm => "storm",
            Scenario::Dead => "dead",
            Scenario::Ordered => "ordered",
            Scenario::Purge => "purge",
            Scenario::Attachments => "attachments",
        }
    }
}

/// One invocation's settings, checked.
#[derive(Debug, Clone)]
pub struct Plan {
    /// What the receiver does.
    pub scenario: Scenario,
    /// Events per phase (with a file each in the attachments scenario).
    pub events: usize,
    /// Concurrent publishers.
    pub concurrency: usize,
    /// Payload size in bytes.
    pub payload_bytes: usize,
    /// Receiver endpoints (and profiles, or account endpoints when fanning
    /// out); in the dead scenario, the healthy ones.
    pub endpoints: usize,
    /// Account endpoints each event goes to in a fan-out run.
    pub fanout: usize,
    /// A CI run: the healthy scenario is followed by a fan-out run.
    pub smoke: bool,
    /// hookpost processes.
    pub nodes: usize,
    /// Database URL, empty for the embedded store.
    pub database: String,
    /// The hookpost binary.
    pub hookpost_bin: PathBuf,
    /// Events stored before the measured phases.
    pub prefill: usize,
    /// Ordering keys per phase in the ordered scenario.
    pub keys: usize,
    /// Events each of the purge scenario's two fills stores (0 in the others).
    pub fill: usize,
}

impl Args {
    /// Applies `--smoke` and the defaults, and refuses combinations that cannot work.
    fn into_plan(self) -> Result<Plan, String> {
        let default_events = match self.scenario {
            Scenario::Storm => DEFAULT_STORM_EVENTS,
            Scenario::Purge => DEFAULT_PURGE_EVENTS,
            Scenario::Attachments => DEFAULT_ATTACHMENT_EVENTS,
            _ => DEFAULT_EVENTS,
        };
        let smoke_events = match self.scenario {
            Scenario::Attachments => SMOKE_ATTACHMENT_EVENTS,
            _ => SMOKE_EVENTS,
        };
        let (events, concurrency) = if self.smoke {
            (smoke_events, 8)
        } else {
            (self.events.unwrap_or(default_events), self.concurrency)
        };
        // The purge scenario's count fills its store; its phases keep the usual length.
        let (events, fill) = match self.scenario {
            Scenario::Purge => (events.min(DEFAULT_EVENTS), events),
            _ => (events, 0),
        };
        let failing = self.scenario == Scenario::Failing;
        let refused = match self.scenario {
            Scenario::Fanout => "--scenario fanout takes --fanout, not --endpoints",
            Scenario::Storm => {
                "--scenario storm takes no --endpoints (it has a failing and a healthy one)"
            }
            Scenario::Attachments => "--scenario attachments takes no --endpoints (it has one)",
            _ => "",
        };
        if !refused.is_empty() && self.endpoints.is_some() {
            return Err(refused.into());
        }
        let endpoints = self.endpoints.unwrap_or(match self.scenario {
            Scenario::Failing => 10,
            Scenario::Fanout => self.fanout,
            Scenario::Storm => STORM_ENDPOINTS,
            Scenario::Dead => 4,
            _ => 1,
        });
        let counts = [events, concurrency, endpoints, self.fanout, self.nodes];
        if counts.contains(&0) || self.keys == 0 {
            return Err(
                "--events, --concurrency, --endpoints, --fanout, --nodes and --keys must be at least 1"
                    .into(),
            );
        }
        if failing && endpoints < 10 {
            return Err("--scenario failing needs --endpoints 10 or more".into());
        }
        if self.nodes > 1 && self.database.is_empty() {
            return Err("--nodes above 1 needs a shared --database postgres://…".into());
        }
        if self.scenario == Scenario::Attachments && self.nodes > 1 {
            return Err("--scenario attachments measures one node's memory: no --nodes".into());
        }
        if self.scenario == Scenario::Purge && !self.database.is_empty() {
            return Err(
                "--scenario purge measures the embedded store's files: no --database".into(),
            );
        }
        if !(16..=MAX_PAYLOAD_BYTES).contains(&self.payload_bytes) {
            return Err(format!("--payload-bytes must be 16 to {MAX_PAYLOAD_BYTES}"));
        }
        Ok(Plan {
            scenario: self.scenario,
            events,
            concurrency,
            payload_bytes: self.payload_bytes,
            endpoints,
            fanout: self.fanout,
            smoke: self.smoke,
            nodes: self.nodes,
            database: self.database,
            prefill: self.prefill,
            keys: self.keys,
            fill,
            hookpost_bin: match self.hookpost_bin {
                Some(path) => path,
                None => sibling_hookpost()?,
            },
        })
    }
}

/// `hookpost` in the directory of this program (`target/release/`).
fn sibling_hookpost() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let bin = exe.with_file_name("hookpost");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found: run `cargo build --release` or pass --hookpost-bin",
            bin.display()
        ))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // Never used for loopback HTTP, but reqwest's TLS (turned on by hookpost's
    // features in a workspace build) refuses to build a client without it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let plan = match Args::parse().into_plan() {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("hookpost-bench: {message}");
            return ExitCode::from(2);
        }
    };
    // Dropping the run on a signal kills the hookpost processes it started.
    let outcome = tokio::select! {
        outcome = scenario::run(plan) => outcome,
        () = interrupted() => Err("interrupted".into()),
    };
    match outcome {
        Ok(report) => {
            report.print();
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(message) => {
            eprintln!("hookpost-bench: {message}");
            ExitCode::from(2)
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupted() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("cannot watch SIGTERM");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
