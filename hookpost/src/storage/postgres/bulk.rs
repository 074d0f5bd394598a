//! Multi-row statements for a group's plain writes ([`super::group`]): a
//! statement's fixed cost (a round trip, planning, executor start, a trigger
//! queue) is paid once for the group instead of once per row. Each column
//! travels as one array, turned back into rows by `UNNEST`.
//!
//! Only writes that need nothing row by row come here. An event with an
//! idempotency key to claim, files or an ordering lane, and a record that
//! moves a lane, take the one-at-a-time statements of [`super::queries`].

use super::queries::{execute, query};
use crate::domain::event::NewEvent;
use crate::storage::rows::{ms, next_state_columns, DeliveryColumns};
use crate::storage::sql;
use crate::storage::{AttemptReport, NextState, StoreResult};
use deadpool_postgres::GenericClient;
use futures::future::try_join_all;
use std::collections::HashSet;
use tokio_postgres::types::ToSql;

/// Events stored together: their rows, then all their deliveries' rows.
const INSERT_EVENTS: &str = "INSERT INTO events (id, account_id, profile_id, event_type, payload, payloads,
        occurred_at, created_at, status, updated_at)
     SELECT id, account_id, profile_id, event_type, payload, payloads, occurred_at, created_at, status, created_at
     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                 $8::bigint[], $9::text[])
       AS t(id, account_id, profile_id, event_type, payload, payloads, occurred_at, created_at, status)";
const INSERT_DELIVERIES: &str = "INSERT INTO deliveries (event_id, seq, endpoint_id, target, status,
        retries_left, lease_ms, due_at, claimed_by, updated_at)
     SELECT event_id, seq, endpoint_id, target, 'pending', retries_left, lease_ms, due_at, claimed_by, updated_at
     FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
                 $8::text[], $9::bigint[])
       AS t(event_id, seq, endpoint_id, target, retries_left, lease_ms, due_at, claimed_by, updated_at)";
/// Each delivery's next state, guarded as [`crate::storage::sql::RECORD_ATTEMPT`]
/// is; answers the deliveries it changed (the others' reports are stale).
const RECORD_ATTEMPTS: &str = "UPDATE deliveries d SET status = t.status, attempts_made = t.attempt,
        due_at = t.due, claimed_by = NULL, held = NULL, retries_left = COALESCE(t.retries, d.retries_left),
        reason = t.reason, updated_at = $8
     FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[])
       AS t(event_id, seq, status, attempt, due, retries, reason)
     WHERE d.event_id = t.event_id AND d.seq = t.seq AND d.status = 'pending' AND d.attempts_made = t.attempt - 1
     RETURNING d.event_id, d.seq";
const INSERT_ATTEMPTS: &str = "INSERT INTO attempts (event_id, seq, attempt, leg, url, started_at, duration_ms,
        http_status, error, response, error_detail)
     SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[],
                          $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[])
     ON CONFLICT DO NOTHING";
/// Locks the events in id order (`NO KEY`: see [`super::queries::record_attempt`]).
const LOCK_EVENTS: &str = "SELECT 1 FROM events WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE";
/// Whether an event can be stored with others in [`insert_events`].
pub fn is_plain_event(e: &NewEvent) -> bool {
    e.idempotency_key.is_none()
        && e.attachments.is_empty()
        && e.ordering_key.is_none()
        && e.deliveries.iter().all(|d| d.lane.is_none())
}

/// Whether a record can be written with others in [`record_attempts`].
pub fn is_plain_record(r: &AttemptReport) -> bool {
    r.lane.is_none()
}

/// Stores plain events and their deliveries in two statements.
pub async fn insert_events<C: GenericClient>(c: &C, events: &[&NewEvent]) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let text = |f: fn(&NewEvent) -> &str| events.iter().map(|e| f(e)).collect::<Vec<_>>();
    let (ids, accounts, types) = (
        text(|e| &e.id),
        text(|e| &e.account_id),
        text(|e| &e.event_type),
    );
    let payloads = text(|e| e.payload.get());
    let (occurred, statuses) = (text(|e| &e.occurred_at), text(|e| e.status.as_str()));
    let profiles: Vec<Option<&str>> = events.iter().map(|e| e.profile_id.as_deref()).collect();
    let versions: Vec<Option<&str>> = events
        .iter()
        .map(|e| e.payloads.as_ref().map(|p| p.get()))
        .collect();
    let created: Vec<i64> = events.iter().map(|e| ms(e.created_at)).collect();
    execute(
        c,
        INSERT_EVENTS,
        &[
            &ids, &accounts, &profiles, &types, &payloads, &versions, &occurred, &created,
            &statuses,
        ],
    )
    .await?;
    let mut d = DeliveryArrays::default();
    for e in events {
        for (seq, delivery) in e.deliveries.iter().enumerate() {
            let cols = DeliveryColumns::of(delivery)?;
            d.event_ids.push(&e.id);
            d.seqs.push(seq as i64);
            d.endpoints.push(cols.endpoint_id);
            d.targets.push(cols.target);
            d.retries.push(cols.retries_left);
            d.leases.push(cols.lease_ms);
            d.due.push(cols.due_at);
            d.claimed_by.push(delivery.claimed_by.as_deref());
            d.updated.push(ms(e.created_at));
        }
    }
    let d = &d;
    execute(
        c,
        INSERT_DELIVERIES,
        &[
            &d.event_ids,
            &d.seqs,
            &d.endpoints,
            &d.targets,
            &d.retries,
            &d.leases,
            &d.due,
            &d.claimed_by,
            &d.updated,
        ],
    )
    .await?;
    Ok(())
}

/// The columns of many deliveries, one array each.
#[derive(Default)]
struct DeliveryArrays<'a> {
    event_ids: Vec<&'a str>,
    seqs: Vec<i64>,
    endpoints: Vec<Option<String>>,
    targets: Vec<String>,
    retries: Vec<i64>,
    leases: Vec<i64>,
    due: Vec<i64>,
    claimed_by: Vec<Option<&'a str>>,
    updated: Vec<i64>,
}

/// Writes plain records' next states, their attempts and their events'
/// statuses: three statements, then one pipelined statement per finished
/// event. Answers, for each report, whether it was recorded (`false`: stale,
/// its delivery moved on; nothing written for it). The reports must name
/// distinct deliveries.
pub async fn record_attempts<C: GenericClient>(
    c: &C,
    reports: &[&AttemptReport],
    now: i64,
) -> StoreResult<Vec<bool>> {
    if reports.is_empty() {
        return Ok(Vec::new());
    }
    let (mut events, mut seqs, mut statuses, mut attempts) = (vec![], vec![], vec![], vec![]);
    let (mut due, mut retries, mut reasons) = (vec![], vec![], vec![]);
    for r in reports {
        let (status, next_due, left, reason) = next_state_columns(r.next);
        events.push(r.event_id.as_str());
        seqs.push(r.seq as i64);
        statuses.push(status);
        attempts.push(r.attempt as i64);
        due.push(next_due);
        retries.push(left);
        reasons.push(reason);
    }
    let params: [&(dyn ToSql + Sync); 8] = [
        &events, &seqs, &statuses, &attempts, &due, &retries, &reasons, &now,
    ];
    let changed: HashSet<(String, i64)> = query(c, RECORD_ATTEMPTS, &params)
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let recorded: Vec<bool> = reports
        .iter()
        .map(|r| changed.contains(&(r.event_id.clone(), r.seq as i64)))
        .collect();
    let kept = || {
        reports
            .iter()
            .zip(&recorded)
            .filter(|(_, ok)| **ok)
            .map(|(r, _)| *r)
    };
    insert_attempts(c, kept()).await?;
    let mut finished: Vec<&str> = kept()
        .filter(|r| !matches!(r.next, NextState::RetryAt(..)))
        .map(|r| r.event_id.as_str())
        .collect();
    finished.sort_unstable();
    finished.dedup();
    if !finished.is_empty() {
        execute(c, LOCK_EVENTS, &[&finished]).await?;
        // One event at a time, pipelined: the one-row statement keeps its
        // index plan whatever the table's statistics said when it was prepared.
        let sum_up = sql::SUM_UP_EVENT.postgres();
        let each: Vec<[&(dyn ToSql + Sync); 2]> =
            finished.iter().map(|id| [id as _, &now as _]).collect();
        try_join_all(each.iter().map(|params| execute(c, sum_up, params))).await?;
    }
    Ok(recorded)
}

async fn insert_attempts<'a, C: GenericClient>(
    c: &C,
    reports: impl Iterator<Item = &'a AttemptReport>,
) -> StoreResult<()> {
    let (mut events, mut seqs, mut attempts, mut legs, mut urls) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut started, mut took, mut statuses, mut errors) = (vec![], vec![], vec![], vec![]);
    let (mut responses, mut details) = (vec![], vec![]);
    for r in reports {
        for leg in &r.legs {
            events.push(r.event_id.as_str());
            seqs.push(r.seq as i64);
            attempts.push(leg.attempt as i64);
            legs.push(leg.leg.as_str());
            urls.push(leg.url.as_str());
            started.push(ms(leg.started_at));
            took.push(leg.duration_ms as i64);
            statuses.push(leg.http_status.map(i64::from));
            errors.push(leg.error.map(|k| k.as_str()));
            responses.push(leg.response.as_deref());
            details.push(leg.error_detail.as_deref());
        }
    }
    if events.is_empty() {
        return Ok(());
    }
    execute(
        c,
        INSERT_ATTEMPTS,
        &[
            &events, &seqs, &attempts, &legs, &urls, &started, &took, &statuses, &errors,
            &responses, &details,
        ],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bulk_statements_name_every_column_they_fill() {
        // Each UNNEST lists as many arrays as its alias names columns.
        for sql in [INSERT_EVENTS, INSERT_DELIVERIES, RECORD_ATTEMPTS] {
            let arrays = sql.matches("[]").count();
            let alias = sql
                .split("AS t(")
                .nth(1)
                .unwrap()
                .split(')')
                .next()
                .unwrap();
            assert_eq!(arrays, alias.split(',').count(), "{sql}");
        }
        assert_eq!(INSERT_ATTEMPTS.matches("[]").count(), 11);
    }
}
