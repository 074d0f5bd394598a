//! The floor: what the parts every delivered event needs cost on this machine,
//! measured in the same run as hookpost, so the distance between hookpost's
//! CPU per event and the least it could be is visible. The parts: one bare
//! HTTP exchange (hookpost serves the publish and sends the delivery: a
//! server's half and a client's half), the default signatures (Standard
//! Webhooks' HMAC-SHA256 and Ed25519, Telnyx's Ed25519) over the delivery's
//! body, and a share of a durable group commit of the event and its attempt.

use crate::cpu;
use aws_lc_rs::signature::Ed25519KeyPair;
use hmac::{Hmac, KeyInit, Mac};
use rusqlite::{params, Connection};
use sha2::Sha256;
use std::hint::black_box;
use std::time::Duration;

/// CPU time each signature figure is taken over at least: the thread's clock
/// (`schedstat`) advances at scheduler ticks, so a short loop reads as zero.
const TIMED: Duration = Duration::from_millis(200);
/// Calls between looks at that clock.
const CALLS_PER_LOOK: u32 = 256;
/// Events written in the commit measurement…
const COMMIT_EVENTS: u32 = 20_000;
/// …in transactions of this many (a group commit of the default 64 publishers).
const COMMIT_GROUP: u32 = 64;

/// The floor's parts, in µs of CPU each.
#[derive(Debug, Clone, Copy)]
pub struct Floor {
    /// One keep-alive HTTP/1.1 POST of a delivery's body and its `200`, client
    /// and server together: the bench's CPU during the ceiling per request.
    pub exchange_us: f64,
    /// One Ed25519 signature of the body.
    pub ed25519_us: f64,
    /// One HMAC-SHA256 of the body.
    pub hmac_us: f64,
    /// Per event, a durable (WAL, `synchronous = FULL`) write of the event
    /// with its delivery row, then of its attempt and the delivery's update,
    /// in group commits of [`COMMIT_GROUP`].
    pub commit_us: f64,
}

impl Floor {
    /// Measures the signatures and the commit over `body`; `exchange_us` comes
    /// from the ceiling.
    pub fn measure(exchange_us: f64, body: &[u8]) -> Result<Floor, String> {
        Ok(Floor {
            exchange_us,
            ed25519_us: per_call(ed25519(body)),
            hmac_us: per_call(hmac(body)),
            commit_us: commit(body)?,
        })
    }

    /// The least one delivered event with the default signatures costs: an
    /// exchange, two Ed25519 signatures, an HMAC and a commit's share.
    pub fn per_event_us(&self) -> f64 {
        self.exchange_us + 2.0 * self.ed25519_us + self.hmac_us + self.commit_us
    }
}

/// µs of this thread's CPU per call of `f`, over at least [`TIMED`].
fn per_call(mut f: impl FnMut()) -> f64 {
    let before = cpu::of_this_thread();
    let mut calls = 0u32;
    loop {
        for _ in 0..CALLS_PER_LOOK {
            f();
        }
        calls += CALLS_PER_LOOK;
        let spent = cpu::of_this_thread().saturating_sub(before);
        if spent >= TIMED {
            return micros(spent) / f64::from(calls);
        }
    }
}

/// One Ed25519 signature of `body` per call, by the fastest signer we know
/// of on this machine (AWS-LC's, as hookpost signs bodies held in memory).
fn ed25519(body: &[u8]) -> impl FnMut() + '_ {
    let key = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).expect("a 32-byte seed");
    move || {
        black_box(key.sign(black_box(body)));
    }
}

/// One HMAC-SHA256 of `body` per call.
fn hmac(body: &[u8]) -> impl FnMut() + '_ {
    move || {
        let mut mac = Hmac::<Sha256>::new_from_slice(&[7; 32]).expect("any key length");
        mac.update(black_box(body));
        black_box(mac.finalize());
    }
}

/// µs of CPU per event of durable group commits in a fresh SQLite database.
fn commit(body: &[u8]) -> Result<f64, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("floor: no temporary directory: {e}"))?;
    let db = Connection::open(dir.path().join("floor.db")).map_err(sqlite)?;
    db.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE events (id INTEGER PRIMARY KEY, body BLOB NOT NULL);
         CREATE TABLE deliveries (event INTEGER PRIMARY KEY, status INTEGER NOT NULL, due INTEGER);
         CREATE INDEX deliveries_due ON deliveries (due) WHERE due IS NOT NULL;
         CREATE TABLE attempts (id INTEGER PRIMARY KEY, event INTEGER NOT NULL, status INTEGER NOT NULL);",
    )
    .map_err(sqlite)?;
    let before = cpu::of_this_thread();
    for group in 0..COMMIT_EVENTS / COMMIT_GROUP {
        let ids = group * COMMIT_GROUP..(group + 1) * COMMIT_GROUP;
        write_group(
            &db,
            "INSERT INTO events (id, body) VALUES (?1, ?2)",
            ids.clone(),
            body,
        )?;
        write_group(
            &db,
            "INSERT INTO attempts (event, status) VALUES (?1, 200)",
            ids,
            &[],
        )?;
    }
    let events = COMMIT_EVENTS / COMMIT_GROUP * COMMIT_GROUP;
    Ok(micros(cpu::of_this_thread() - before) / f64::from(events))
}

/// One transaction over events `ids`: `sql` for each (its body, when it takes
/// one), and the delivery row made due with the event, done with the attempt.
fn write_group(
    db: &Connection,
    sql: &str,
    ids: std::ops::Range<u32>,
    body: &[u8],
) -> Result<(), String> {
    let tx = db.unchecked_transaction().map_err(sqlite)?;
    let mut write = tx.prepare_cached(sql).map_err(sqlite)?;
    let mut delivery = tx
        .prepare_cached(
            "INSERT INTO deliveries (event, status, due) VALUES (?1, 0, ?1)
             ON CONFLICT (event) DO UPDATE SET status = 1, due = NULL",
        )
        .map_err(sqlite)?;
    for id in ids {
        if body.is_empty() {
            write.execute(params![id]).map_err(sqlite)?;
        } else {
            write.execute(params![id, body]).map_err(sqlite)?;
        }
        delivery.execute(params![id]).map_err(sqlite)?;
    }
    drop((write, delivery));
    tx.commit().map_err(sqlite)
}

/// A SQLite error as the bench reports it.
fn sqlite(e: rusqlite::Error) -> String {
    format!("floor: SQLite: {e}")
}

/// A duration in µs.
fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_part_costs_something_and_adds_up() {
        let floor = Floor::measure(30.0, &[b'x'; 1300]).unwrap();
        for part in [floor.ed25519_us, floor.hmac_us, floor.commit_us] {
            assert!(part > 0.0 && part < 10_000.0, "{floor:?}");
        }
        assert!(floor.ed25519_us > floor.hmac_us, "{floor:?}");
        let sum = 30.0 + 2.0 * floor.ed25519_us + floor.hmac_us + floor.commit_us;
        assert!((floor.per_event_us() - sum).abs() < 1e-9);
    }
}
