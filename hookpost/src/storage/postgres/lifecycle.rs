//! The data lifecycle on PostgreSQL: purges and deletions, each one short
//! transaction of at most a batch of events. A deletion takes its locks in
//! the order recording an attempt and a retry take theirs: the lanes'
//! advisory locks, then the deliveries, then the events (and checks the
//! events' state again once they are locked).

use super::queries::{execute, lock_lanes, query};
use crate::domain::retention::Outcome;
use crate::storage::rows::*;
use crate::storage::sealed::{Keyring, ResealPage, PREFIX};
use crate::storage::sql::{self, OverIds};
use crate::storage::*;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;

type Sql<T> = StoreResult<T>;

/// See [`Lifecycle::retention_overrides`].
pub async fn retention_overrides<C: GenericClient>(c: &C) -> Sql<Vec<(String, RetentionOverride)>> {
    query(c, sql::ACCOUNT_RETENTIONS.postgres(), &[])
        .await?
        .iter()
        .map(|r| Ok((r.get(0), from_json(r.get(1))?)))
        .collect()
}

/// See [`StoreConfig::master_key_ids`]; none before the table exists.
pub async fn master_key_ids<C: GenericClient>(c: &C) -> Sql<Vec<String>> {
    let exists = query(c, "SELECT to_regclass('master_keys') IS NOT NULL", &[]).await?;
    if !exists.first().is_some_and(|r| r.get::<_, bool>(0)) {
        return Ok(Vec::new());
    }
    strings(c, sql::MASTER_KEY_IDS.postgres(), &[]).await
}

/// See [`Maintenance::record_master_key`].
pub async fn record_master_key<C: GenericClient>(c: &C, id: &str) -> Sql<Vec<String>> {
    execute(c, sql::RECORD_MASTER_KEY.postgres(), &[&id, &now_ms()]).await?;
    strings(c, sql::MASTER_KEY_IDS.postgres(), &[]).await
}

/// See [`Lifecycle::set_retention`].
pub async fn set_retention<C: GenericClient>(
    c: &C,
    account_id: &str,
    r: &RetentionOverride,
) -> Sql<()> {
    execute(
        c,
        sql::SET_ACCOUNT_RETENTION.postgres(),
        &[&to_json(r)?, &account_id],
    )
    .await?;
    Ok(())
}

/// See [`Lifecycle::purge`]; runs in a transaction.
pub async fn purge<C: GenericClient>(
    c: &C,
    account_id: &str,
    outcome: Outcome,
    before: DateTime<Utc>,
    limit: u32,
) -> Sql<Removed> {
    let (kept, first, second) = expired_bounds(outcome, before);
    let limit = i64::from(limit);
    let values: [&(dyn ToSql + Sync); 5] = [&account_id, &kept, &first, &second, &limit];
    let candidates = strings(c, sql::SELECT_EXPIRED.postgres(), &values).await?;
    locked_remove(c, &candidates, "AND status <> 'pending'").await
}

/// See [`Lifecycle::delete_events`]; runs in a transaction.
pub async fn delete_events<C: GenericClient>(
    c: &C,
    account_id: &str,
    ids: &[String],
) -> Sql<Removed> {
    let ids = ids.to_vec();
    let owned = strings(c, sql::OWNED_EVENTS.postgres(), &[&account_id, &ids]).await?;
    locked_remove(c, &owned, "").await
}

/// Locks the events' lanes, deliveries and rows, in that order, then deletes
/// those still matching `condition` (re-checked under the lock).
async fn locked_remove<C: GenericClient>(c: &C, ids: &[String], condition: &str) -> Sql<Removed> {
    if ids.is_empty() {
        return Ok(Removed::default());
    }
    let list = ids.to_vec();
    let lanes = strings(c, sql::LANES_OF_EVENTS.postgres(), &[&list]).await?;
    lock_lanes(c, lanes.iter().map(String::as_str)).await?;
    let deliveries =
        "SELECT 1 FROM deliveries WHERE event_id = ANY($1) ORDER BY event_id, seq FOR UPDATE";
    execute(c, deliveries, &[&list]).await?;
    let events =
        format!("SELECT id FROM events WHERE id = ANY($1) {condition} ORDER BY id FOR UPDATE");
    let locked = strings(c, &events, &[&list]).await?;
    remove(c, &locked, &lanes).await
}

/// See [`Lifecycle::reseal`]; runs in a transaction.
pub async fn reseal<C: GenericClient>(
    c: &C,
    column: &sql::SealedColumn,
    keyring: &Keyring,
    after: &(String, String),
    limit: u32,
) -> Sql<ResealPage> {
    let pattern = format!("{PREFIX}{}:%", keyring.current().id());
    let limit = i64::from(limit);
    let values: [&(dyn ToSql + Sync); 4] = [&pattern, &limit, &after.0, &after.1];
    let rows = query(c, column.select.postgres(), &values).await?;
    let mut page = ResealPage {
        looked: rows.len() as u64,
        resealed: 0,
        last: after.clone(),
    };
    for row in rows {
        let (first, second, stored): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        let fresh = keyring.seal(&keyring.open(&stored)?);
        page.resealed += execute(
            c,
            column.update.postgres(),
            &[&fresh, &stored, &first, &second],
        )
        .await?;
        page.last = (first, second);
    }
    Ok(page)
}

/// Deletes events with everything that hangs off them, then lets `lanes`
/// (those their pending deliveries held, locked already) move on.
async fn remove<C: GenericClient>(c: &C, ids: &[String], lanes: &[String]) -> Sql<Removed> {
    if ids.is_empty() {
        return Ok(Removed::default());
    }
    let list = ids.to_vec();
    let list: &(dyn ToSql + Sync) = &list;
    let run = |s: &'static OverIds| execute(c, s.postgres(), std::slice::from_ref(&list));
    run(&sql::FORGET_EVENT_KEYS).await?;
    let attempts = run(&sql::DELETE_EVENT_ATTEMPTS).await?;
    run(&sql::DELETE_EVENT_PERMITS).await?;
    run(&sql::DELETE_EVENT_ATTACHMENTS).await?;
    let deliveries = run(&sql::DELETE_EVENT_DELIVERIES).await?;
    let events = run(&sql::DELETE_EVENTS).await?;
    let now = now_ms();
    for lane in lanes {
        execute(c, sql::UNBLOCK_LANE.postgres(), &[lane, &now]).await?;
    }
    Ok(Removed {
        events,
        deliveries,
        attempts,
    })
}

/// The first column of every row, as text.
async fn strings<C: GenericClient>(
    c: &C,
    sql: &str,
    values: &[&(dyn ToSql + Sync)],
) -> Sql<Vec<String>> {
    Ok(query(c, sql, values)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}
