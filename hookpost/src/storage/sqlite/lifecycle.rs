//! The data lifecycle on SQLite: purges and deletions, each one writer
//! transaction of at most a batch of events, so publishing waits behind one
//! batch at most.

use super::errors::from_sqlite;
use crate::domain::retention::Outcome;
use crate::storage::rows::*;
use crate::storage::sealed::{Keyring, ResealPage, PREFIX};
use crate::storage::sql::{self, OverIds};
use crate::storage::*;
use rusqlite::{params, Connection};

type Sql<T> = StoreResult<T>;

/// See [`Lifecycle::retention_overrides`].
pub fn retention_overrides(c: &Connection) -> Sql<Vec<(String, RetentionOverride)>> {
    let mut stmt = c
        .prepare_cached(sql::ACCOUNT_RETENTIONS.sqlite())
        .map_err(from_sqlite)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(from_sqlite)?;
    rows.map(|r| {
        let (id, retention) = r.map_err(from_sqlite)?;
        Ok((id, from_json(&retention)?))
    })
    .collect()
}

/// See [`StoreConfig::master_key_ids`]; none before the table exists.
pub fn master_key_ids(c: &Connection) -> Sql<Vec<String>> {
    let tables = strings(
        c,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'master_keys'",
        [],
    )?;
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    strings(c, sql::MASTER_KEY_IDS.sqlite(), [])
}

/// See [`Maintenance::record_master_key`].
pub fn record_master_key(c: &Connection, id: &str) -> Sql<Vec<String>> {
    c.execute(sql::RECORD_MASTER_KEY.sqlite(), params![id, now_ms()])
        .map_err(from_sqlite)?;
    strings(c, sql::MASTER_KEY_IDS.sqlite(), [])
}

/// See [`Lifecycle::set_retention`].
pub fn set_retention(c: &Connection, account_id: &str, r: &RetentionOverride) -> Sql<()> {
    c.execute(
        sql::SET_ACCOUNT_RETENTION.sqlite(),
        params![to_json(r)?, account_id],
    )
    .map_err(from_sqlite)?;
    Ok(())
}

/// See [`Lifecycle::purge`].
pub fn purge(
    c: &Connection,
    account_id: &str,
    outcome: Outcome,
    before: DateTime<Utc>,
    limit: u32,
) -> Sql<Removed> {
    let (kept, first, second) = expired_bounds(outcome, before);
    let ids = strings(
        c,
        sql::SELECT_EXPIRED.sqlite(),
        params![account_id, kept, first, second, limit],
    )?;
    remove(c, &ids)
}

/// See [`Lifecycle::delete_events`].
pub fn delete_events(c: &Connection, account_id: &str, ids: &[String]) -> Sql<Removed> {
    let owned = strings(
        c,
        sql::OWNED_EVENTS.sqlite(),
        params![account_id, to_json(&ids)?],
    )?;
    remove(c, &owned)
}

/// See [`Lifecycle::reseal`].
pub fn reseal(
    c: &Connection,
    column: &sql::SealedColumn,
    keyring: &Keyring,
    after: &(String, String),
    limit: u32,
) -> Sql<ResealPage> {
    let pattern = format!("{PREFIX}{}:%", keyring.current().id());
    let rows: Vec<(String, String, String)> = {
        let mut stmt = c
            .prepare_cached(column.select.sqlite())
            .map_err(from_sqlite)?;
        let rows = stmt
            .query_map(params![pattern, limit, after.0, after.1], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(from_sqlite)?;
        rows.collect::<Result<_, _>>().map_err(from_sqlite)?
    };
    let mut page = ResealPage {
        looked: rows.len() as u64,
        resealed: 0,
        last: after.clone(),
    };
    for (first, second, stored) in rows {
        let fresh = keyring.seal(&keyring.open(&stored)?);
        page.resealed += c
            .prepare_cached(column.update.sqlite())
            .and_then(|mut s| s.execute(params![fresh, stored, first, second]))
            .map_err(from_sqlite)? as u64;
        page.last = (first, second);
    }
    Ok(page)
}

/// Deletes events with everything that hangs off them, then lets the lanes
/// their pending deliveries held move on.
fn remove(c: &Connection, ids: &[String]) -> Sql<Removed> {
    if ids.is_empty() {
        return Ok(Removed::default());
    }
    let list = to_json(&ids)?;
    let lanes = strings(c, sql::LANES_OF_EVENTS.sqlite(), [&list])?;
    let run = |s: &OverIds| -> Sql<u64> {
        c.prepare_cached(s.sqlite())
            .and_then(|mut st| st.execute([&list]))
            .map(|n| n as u64)
            .map_err(from_sqlite)
    };
    run(&sql::FORGET_EVENT_KEYS)?;
    let attempts = run(&sql::DELETE_EVENT_ATTEMPTS)?;
    run(&sql::DELETE_EVENT_PERMITS)?;
    run(&sql::DELETE_EVENT_ATTACHMENTS)?;
    let deliveries = run(&sql::DELETE_EVENT_DELIVERIES)?;
    let events = run(&sql::DELETE_EVENTS)?;
    let now = now_ms();
    for lane in lanes {
        c.prepare_cached(sql::UNBLOCK_LANE.sqlite())
            .and_then(|mut s| s.execute(params![lane, now]))
            .map_err(from_sqlite)?;
    }
    Ok(Removed {
        events,
        deliveries,
        attempts,
    })
}

/// The first column of every row, as text.
fn strings(c: &Connection, sql: &str, values: impl rusqlite::Params) -> Sql<Vec<String>> {
    let mut stmt = c.prepare_cached(sql).map_err(from_sqlite)?;
    let rows = stmt
        .query_map(values, |r| r.get::<_, String>(0))
        .map_err(from_sqlite)?;
    rows.map(|r| r.map_err(from_sqlite)).collect()
}
