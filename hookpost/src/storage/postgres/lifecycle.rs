//! The data lifecycle on PostgreSQL: purges and deletions, each one short
//! transaction of at most a batch of events. A deletion locks the events'
//! deliveries before the events (the order recording an attempt takes them),
//! and the lanes it lets move on by their advisory locks, as publishing does.

use super::queries::{execute, lock_lanes, query};
use crate::domain::retention::Outcome;
use crate::storage::rows::*;
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

/// See [`StoreConfig::sealed_sample`]; `None` before the accounts table exists.
pub async fn sealed_sample<C: GenericClient>(c: &C) -> Sql<Option<String>> {
    let exists = query(c, "SELECT to_regclass('accounts') IS NOT NULL", &[]).await?;
    if !exists.first().is_some_and(|r| r.get::<_, bool>(0)) {
        return Ok(None);
    }
    Ok(strings(c, sql::SEALED_SAMPLE.postgres(), &[]).await?.pop())
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
    let ids = strings(c, sql::SELECT_EXPIRED.postgres(), &values).await?;
    remove(c, &ids).await
}

/// See [`Lifecycle::delete_events`]; runs in a transaction.
pub async fn delete_events<C: GenericClient>(
    c: &C,
    account_id: &str,
    ids: &[String],
) -> Sql<Removed> {
    let ids = ids.to_vec();
    let lock_deliveries =
        "SELECT 1 FROM deliveries WHERE event_id = ANY($1) ORDER BY event_id, seq FOR UPDATE";
    execute(c, lock_deliveries, &[&ids]).await?;
    let owned = format!("{} ORDER BY id FOR UPDATE", sql::OWNED_EVENTS.postgres());
    let owned = strings(c, &owned, &[&account_id, &ids]).await?;
    remove(c, &owned).await
}

/// See [`Lifecycle::reseal`].
pub async fn reseal<C: GenericClient>(
    c: &C,
    column: &sql::SealedColumn,
    key_id: &str,
    limit: u32,
) -> Sql<u64> {
    let pattern = format!("{}{key_id}:%", crate::storage::sealed::PREFIX);
    let rows = query(c, column.select.postgres(), &[&pattern, &i64::from(limit)]).await?;
    let mut done = 0;
    for row in rows {
        let (first, second, stored): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        let fresh = resealed(&stored)?;
        done += execute(
            c,
            column.update.postgres(),
            &[&fresh, &stored, &first, &second],
        )
        .await?;
    }
    Ok(done)
}

/// Deletes events with everything that hangs off them, then lets the lanes
/// their pending deliveries held move on.
async fn remove<C: GenericClient>(c: &C, ids: &[String]) -> Sql<Removed> {
    if ids.is_empty() {
        return Ok(Removed::default());
    }
    let list = ids.to_vec();
    let lanes = strings(c, sql::LANES_OF_EVENTS.postgres(), &[&list]).await?;
    lock_lanes(c, lanes.iter().map(String::as_str)).await?;
    let list: &(dyn ToSql + Sync) = &list;
    let run = |s: &'static OverIds| execute(c, s.postgres(), std::slice::from_ref(&list));
    run(&sql::FORGET_EVENT_KEYS).await?;
    let attempts = run(&sql::DELETE_EVENT_ATTEMPTS).await?;
    run(&sql::DELETE_EVENT_PERMITS).await?;
    let deliveries = run(&sql::DELETE_EVENT_DELIVERIES).await?;
    let events = run(&sql::DELETE_EVENTS).await?;
    let now = now_ms();
    for lane in &lanes {
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
