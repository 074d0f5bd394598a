//! Delivery control on PostgreSQL: the plans of [`crate::storage::control`]
//! run in one transaction each. An admission locks its delivery, then the
//! endpoint row (the order recording an attempt takes them), so admissions to
//! one endpoint from every node are decided one after the other; bulk changes
//! pass over rows another transaction holds.

use super::queries::{execute as run, query};
use crate::storage::control::{self, Admitted, ControlRow, Feedback, Saved};
use crate::storage::rows::*;
use crate::storage::sql;
use crate::storage::*;
use deadpool_postgres::GenericClient;
use std::time::Duration;
use tokio_postgres::types::ToSql;

type Sql<T> = StoreResult<T>;

async fn first<C: GenericClient>(
    c: &C,
    sql: &str,
    values: &[&(dyn ToSql + Sync)],
) -> Sql<Option<tokio_postgres::Row>> {
    Ok(query(c, sql, values).await?.into_iter().next())
}

/// `statement` with its rows locked until the transaction ends.
fn locked(statement: &sql::Statement) -> String {
    format!("{} FOR UPDATE", statement.postgres())
}

async fn save<C: GenericClient>(
    c: &C,
    endpoint: &str,
    s: &Saved,
    changed_at: Option<i64>,
) -> Sql<()> {
    run(
        c,
        sql::SAVE_CONTROL.postgres(),
        &[&endpoint, &s.0, &s.1, &s.2, &changed_at],
    )
    .await?;
    Ok(())
}

/// See [`DeliveryControl::admit`]; runs in a transaction.
pub async fn admit<C: GenericClient>(c: &C, d: &ClaimedDelivery, lease: Duration) -> Sql<Admitted> {
    let Some(endpoint) = d.target.endpoint_id.as_deref() else {
        return Ok(Admitted::Go);
    };
    let seq = d.seq as i64;
    if first(c, &locked(&sql::DELIVERY_PENDING), &[&d.id, &seq])
        .await?
        .is_none()
    {
        return Ok(Admitted::Stopped);
    }
    let Some(row) = first(c, &locked(&sql::SELECT_CONTROL_BY_ID), &[&endpoint]).await? else {
        return Ok(Admitted::Go);
    };
    let row = ControlRow::read(&row)?;
    let now = now_ms();
    run(c, sql::DELETE_LAPSED_PERMITS.postgres(), &[&endpoint, &now]).await?;
    let counted = first(
        c,
        sql::COUNT_PERMITS.postgres(),
        &[&endpoint, &now, &d.id, &seq],
    )
    .await?;
    let in_flight: i64 = counted.map_or(0, |r| r.get(0));
    let plan = control::admission(&row, in_flight as u32, time(now), lease)?;
    if let Some(saved) = &plan.save {
        save(c, endpoint, saved, None).await?;
    }
    match (plan.admitted, plan.hold) {
        (Admitted::Go | Admitted::Probe, _) => {
            let expires = now + lease.as_millis() as i64;
            run(
                c,
                sql::INSERT_PERMIT.postgres(),
                &[&d.id, &seq, &endpoint, &expires],
            )
            .await?;
        }
        (Admitted::Parked, _) => {
            run(c, sql::PARK_DELIVERY.postgres(), &[&d.id, &seq, &now]).await?;
        }
        (_, Some((due, hold))) => {
            run(
                c,
                sql::HOLD_DELIVERY.postgres(),
                &[&d.id, &seq, &due, &hold, &now],
            )
            .await?;
        }
        _ => {}
    }
    Ok(plan.admitted)
}

/// The endpoint's side of recording an attempt, after its health update
/// answered `row` (and locked it).
pub async fn after_attempt<C: GenericClient>(
    c: &C,
    report: &AttemptReport,
    row: Option<ControlRow>,
    policy: &ControlPolicy,
) -> Sql<()> {
    let now = now_ms();
    let endpoint = report.endpoint_id.as_deref();
    give_back(c, report).await?;
    let url = report.legs.first().map(|l| l.url.as_str());
    if let Some(n) = control::failed_notice(report, policy, url, time(now)) {
        insert_notice(c, &n, now).await?;
    }
    let (Some(endpoint), Some(mut row)) = (endpoint, row) else {
        return Ok(());
    };
    if row.needs_spec(report) {
        let found = first(c, sql::SELECT_SPEC.postgres(), &[&endpoint]).await?;
        row = row.with_spec(found.map(|r| r.get(0)).unwrap_or_default());
    }
    let feedback = control::feedback(&row, report, policy, time(now))?;
    apply(c, endpoint, report, &feedback, now).await
}

/// Gives back the place an admitted attempt held (recorded or not) and wakes
/// the oldest delivery waiting for one.
pub async fn give_back<C: GenericClient>(c: &C, report: &AttemptReport) -> Sql<()> {
    if let (Some(endpoint), true) = (&report.endpoint_id, report.admitted) {
        let (seq, now, one) = (report.seq as i64, now_ms(), 1i64);
        run(c, sql::DELETE_PERMIT.postgres(), &[&report.event_id, &seq]).await?;
        let wake: [&(dyn ToSql + Sync); 4] = [endpoint, &"max_in_flight", &now, &one];
        run(c, sql::WAKE_HELD.postgres(), &wake).await?;
    }
    Ok(())
}

async fn apply<C: GenericClient>(
    c: &C,
    endpoint: &str,
    report: &AttemptReport,
    f: &Feedback,
    now: i64,
) -> Sql<()> {
    let seq = report.seq as i64;
    if let Some(saved) = &f.save {
        save(c, endpoint, saved, f.disabled.then_some(now)).await?;
    }
    if f.park_this {
        run(
            c,
            sql::PARK_DELIVERY.postgres(),
            &[&report.event_id, &seq, &now],
        )
        .await?;
    }
    if f.disabled {
        run(
            c,
            sql::PARK_ENDPOINT_DELIVERIES.postgres(),
            &[&endpoint, &now],
        )
        .await?;
    }
    if f.breaker_closed {
        let all = i64::MAX;
        let wake: [&(dyn ToSql + Sync); 4] = [&endpoint, &"breaker_open", &now, &all];
        run(c, sql::WAKE_HELD.postgres(), &wake).await?;
    }
    for n in &f.notices {
        insert_notice(c, n, now).await?;
    }
    Ok(())
}

/// See [`Endpoints::set_endpoint_state`]; runs in a transaction. Parking
/// passes over deliveries another transaction holds (their record or
/// admission sees the new state).
pub async fn set_endpoint_state<C: GenericClient>(
    c: &C,
    account_id: &str,
    id: &str,
    state: EndpointState,
    policy: &ControlPolicy,
) -> Sql<bool> {
    let now = now_ms();
    // The caller's own endpoint? (No lock yet: deliveries are locked before
    // the endpoint, in the order an attempt's record and a delete take them.)
    if first(c, sql::SELECT_CONTROL.postgres(), &[&account_id, &id])
        .await?
        .is_none()
    {
        return Ok(false);
    }
    let statement = match state {
        EndpointState::Enabled => &sql::RESUME_ENDPOINT_DELIVERIES,
        EndpointState::Disabled => &sql::PARK_ENDPOINT_DELIVERIES,
    };
    run(c, statement.postgres(), &[&id, &now]).await?;
    let Some(row) = first(c, &locked(&sql::SELECT_CONTROL), &[&account_id, &id]).await? else {
        return Ok(false);
    };
    let row = ControlRow::read(&row)?;
    let (saved, notice) = control::state_change(&row, id, state, policy, time(now))?;
    save(c, id, &saved, Some(now)).await?;
    if let Some(n) = notice {
        insert_notice(c, &n, now).await?;
    }
    Ok(true)
}

async fn insert_notice<C: GenericClient>(c: &C, n: &Notice, now: i64) -> Sql<()> {
    let payload = to_json(&n.payload)?;
    run(
        c,
        sql::INSERT_NOTICE.postgres(),
        &[&n.id, &n.event_type, &payload, &now],
    )
    .await?;
    Ok(())
}

/// See [`DeliveryControl::claim_notices`].
pub async fn claim_notices<C: GenericClient>(
    c: &C,
    node: &str,
    lease: Duration,
    limit: u32,
) -> Sql<Vec<Notice>> {
    let (lease, limit) = (lease.as_millis() as i64, limit as i64);
    let rows = query(
        c,
        sql::CLAIM_NOTICES.postgres(),
        &[&now_ms(), &node, &lease, &limit],
    )
    .await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in &rows {
        found.extend(notice(row)?);
    }
    Ok(found)
}

/// See [`DeliveryControl::delete_notice`].
pub async fn delete_notice<C: GenericClient>(c: &C, id: &str) -> Sql<()> {
    run(c, sql::DELETE_NOTICE.postgres(), &[&id]).await?;
    Ok(())
}
