//! Delivery control on the embedded store: the plans of
//! [`crate::storage::control`] run on the one writer connection, so an
//! admission and the records it counts never interleave.

use super::errors::{decoded, from_sqlite};
use crate::storage::control::{self, Admitted, ControlRow, Feedback, Saved};
use crate::storage::rows::*;
use crate::storage::sql;
use crate::storage::*;
use rusqlite::{params, Connection, OptionalExtension};
use std::time::Duration;

type Sql<T> = StoreResult<T>;

fn control_row(
    c: &Connection,
    statement: &sql::Statement,
    keys: &[&dyn rusqlite::ToSql],
) -> Sql<Option<ControlRow>> {
    c.prepare_cached(statement.sqlite())
        .and_then(|mut s| {
            s.query_row(keys, |r| decoded(ControlRow::read(r)))
                .optional()
        })
        .map_err(from_sqlite)
}

fn save(c: &Connection, endpoint: &str, saved: &Saved, changed_at: Option<i64>) -> Sql<()> {
    c.prepare_cached(sql::SAVE_CONTROL.sqlite())
        .and_then(|mut s| s.execute(params![endpoint, saved.0, saved.1, saved.2, changed_at]))
        .map_err(from_sqlite)?;
    Ok(())
}

fn run(c: &Connection, statement: &sql::Statement, values: &[&dyn rusqlite::ToSql]) -> Sql<usize> {
    c.prepare_cached(statement.sqlite())
        .and_then(|mut s| s.execute(values))
        .map_err(from_sqlite)
}

/// See [`DeliveryControl::admit`].
pub fn admit(c: &Connection, d: &ClaimedDelivery, lease: Duration) -> Sql<Admitted> {
    let Some(endpoint) = d.target.endpoint_id.as_deref() else {
        return Ok(Admitted::Go);
    };
    let seq = d.seq as i64;
    let pending: Option<i64> = c
        .prepare_cached(sql::DELIVERY_PENDING.sqlite())
        .and_then(|mut s| s.query_row(params![d.id, seq], |r| r.get(0)).optional())
        .map_err(from_sqlite)?;
    if pending.is_none() {
        return Ok(Admitted::Stopped);
    }
    let Some(row) = control_row(c, &sql::SELECT_CONTROL_BY_ID, &[&endpoint])? else {
        return Ok(Admitted::Go);
    };
    let now = now_ms();
    run(c, &sql::DELETE_LAPSED_PERMITS, params![endpoint, now])?;
    let in_flight: i64 = c
        .prepare_cached(sql::COUNT_PERMITS.sqlite())
        .and_then(|mut s| s.query_row(params![endpoint, now, d.id, seq], |r| r.get(0)))
        .map_err(from_sqlite)?;
    let plan = control::admission(&row, in_flight as u32, time(now), lease)?;
    if let Some(saved) = &plan.save {
        save(c, endpoint, saved, None)?;
    }
    match (plan.admitted, plan.hold) {
        (Admitted::Go | Admitted::Probe, _) => {
            let expires = now + lease.as_millis() as i64;
            run(
                c,
                &sql::INSERT_PERMIT,
                params![d.id, seq, endpoint, expires],
            )?;
        }
        (Admitted::Parked, _) => {
            run(c, &sql::PARK_DELIVERY, params![d.id, seq, now])?;
        }
        (_, Some((due, hold))) => {
            run(c, &sql::HOLD_DELIVERY, params![d.id, seq, due, hold, now])?;
        }
        _ => {}
    }
    Ok(plan.admitted)
}

/// The endpoint's side of recording an attempt, after its health update
/// answered `row`.
pub fn after_attempt(
    c: &Connection,
    report: &AttemptReport,
    row: Option<ControlRow>,
    policy: &ControlPolicy,
) -> Sql<()> {
    let now = now_ms();
    let endpoint = report.endpoint_id.as_deref();
    give_back(c, report)?;
    let url = report.legs.first().map(|l| l.url.as_str());
    if let Some(n) = control::failed_notice(report, policy, url, time(now)) {
        insert_notice(c, &n, now)?;
    }
    let (Some(endpoint), Some(mut row)) = (endpoint, row) else {
        return Ok(());
    };
    if row.needs_spec(report) {
        let spec: String = c
            .prepare_cached(sql::SELECT_SPEC.sqlite())
            .and_then(|mut s| s.query_row(params![endpoint], |r| r.get(0)))
            .map_err(from_sqlite)?;
        row = row.with_spec(spec);
    }
    let feedback = control::feedback(&row, report, policy, time(now))?;
    apply(c, endpoint, report, &feedback, now)
}

/// Gives back the place an admitted attempt held (recorded or not) and wakes
/// the oldest delivery waiting for one.
pub fn give_back(c: &Connection, report: &AttemptReport) -> Sql<()> {
    if let (Some(endpoint), true) = (&report.endpoint_id, report.admitted) {
        run(c, &sql::DELETE_PERMIT, params![report.event_id, report.seq])?;
        run(
            c,
            &sql::WAKE_HELD,
            params![endpoint, "max_in_flight", now_ms(), 1],
        )?;
    }
    Ok(())
}

fn apply(
    c: &Connection,
    endpoint: &str,
    report: &AttemptReport,
    f: &Feedback,
    now: i64,
) -> Sql<()> {
    if let Some(saved) = &f.save {
        save(c, endpoint, saved, f.disabled.then_some(now))?;
    }
    if f.park_this {
        run(
            c,
            &sql::PARK_DELIVERY,
            params![report.event_id, report.seq, now],
        )?;
    }
    if f.disabled {
        run(c, &sql::PARK_ENDPOINT_DELIVERIES, params![endpoint, now])?;
    }
    if f.breaker_closed {
        run(
            c,
            &sql::WAKE_HELD,
            params![endpoint, "breaker_open", now, i64::MAX],
        )?;
    }
    for n in &f.notices {
        insert_notice(c, n, now)?;
    }
    Ok(())
}

/// See [`Endpoints::set_endpoint_state`].
pub fn set_endpoint_state(
    c: &Connection,
    account_id: &str,
    id: &str,
    state: EndpointState,
    policy: &ControlPolicy,
) -> Sql<bool> {
    let Some(row) = control_row(c, &sql::SELECT_CONTROL, &[&account_id, &id])? else {
        return Ok(false);
    };
    let now = now_ms();
    let (saved, notice) = control::state_change(&row, id, state, policy, time(now))?;
    let statement = match state {
        EndpointState::Enabled => &sql::RESUME_ENDPOINT_DELIVERIES,
        EndpointState::Disabled => &sql::PARK_ENDPOINT_DELIVERIES,
    };
    run(c, statement, params![id, now])?;
    save(c, id, &saved, Some(now))?;
    if let Some(n) = notice {
        insert_notice(c, &n, now)?;
    }
    Ok(true)
}

fn insert_notice(c: &Connection, n: &Notice, now: i64) -> Sql<()> {
    let payload = to_json(&n.payload)?;
    run(
        c,
        &sql::INSERT_NOTICE,
        params![n.id, n.event_type, payload, now],
    )?;
    Ok(())
}

/// See [`DeliveryControl::claim_notices`].
pub fn claim_notices(c: &Connection, node: &str, lease: Duration, limit: u32) -> Sql<Vec<Notice>> {
    let lease = lease.as_millis() as i64;
    let found: Vec<Option<Notice>> = c
        .prepare_cached(sql::CLAIM_NOTICES.sqlite())
        .and_then(|mut s| {
            s.query_map(params![now_ms(), node, lease, limit], |r| {
                decoded(notice(r))
            })?
            .collect()
        })
        .map_err(from_sqlite)?;
    Ok(found.into_iter().flatten().collect())
}

/// See [`DeliveryControl::delete_notice`].
pub fn delete_notice(c: &Connection, id: &str) -> Sql<()> {
    run(c, &sql::DELETE_NOTICE, params![id])?;
    Ok(())
}
