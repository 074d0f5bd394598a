//! The SQL of the PostgreSQL backend, one function per storage operation that
//! needs more than a line. Each takes a client or a transaction.

use super::errors::from_pg;
use crate::domain::event::{EventStatus, NewEvent};
use crate::domain::settings::WebhookSettings;
use crate::storage::rows::*;
use crate::storage::*;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

type Sql<T> = StoreResult<T>;

async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Sql<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(from_pg)?;
    c.query(&stmt, params).await.map_err(from_pg)
}

async fn execute<C: GenericClient>(c: &C, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Sql<u64> {
    let stmt = c.prepare_cached(sql).await.map_err(from_pg)?;
    c.execute(&stmt, params).await.map_err(from_pg)
}

// ----- accounts -----

pub async fn insert_account<C: GenericClient>(c: &C, new: &NewAccount) -> Sql<()> {
    let a = &new.account;
    let (settings, keys) = (to_json(&a.settings)?, to_json(&a.keys)?);
    execute(
        c,
        "INSERT INTO accounts (id, name, api_key_hash, settings, signing_keys, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&a.id, &a.name, &&new.api_key_hash[..], &settings, &keys, &ms(a.created_at)],
    )
    .await?;
    Ok(())
}

pub async fn account_where<C: GenericClient>(
    c: &C,
    clause: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Sql<Option<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {clause}");
    let rows = query(c, &sql, params).await?;
    rows.first()
        .map(|r| AccountRow::read(r)?.into_account())
        .transpose()
}

// ----- profiles -----

pub async fn put_profile<C: GenericClient>(
    c: &C,
    account_id: &str,
    id: &str,
    settings: &WebhookSettings,
) -> Sql<(Profile, bool)> {
    let json = to_json(settings)?;
    let rows = query(
        c,
        "INSERT INTO profiles (account_id, id, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (account_id, id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at
         RETURNING id, settings, created_at, updated_at, (xmax = 0) AS inserted",
        &[&account_id, &id, &json, &now_ms()],
    )
    .await?;
    let row = rows
        .first()
        .ok_or_else(|| StoreError::Internal("upsert returned nothing".into()))?;
    Ok((rows::profile(row)?, row.get("inserted")))
}

pub async fn profile<C: GenericClient>(c: &C, account_id: &str, id: &str) -> Sql<Option<Profile>> {
    let sql = format!("SELECT {PROFILE_COLUMNS} FROM profiles WHERE account_id = $1 AND id = $2");
    query(c, &sql, &[&account_id, &id])
        .await?
        .first()
        .map(rows::profile)
        .transpose()
}

pub async fn list_profiles<C: GenericClient>(
    c: &C,
    account_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Sql<Vec<Profile>> {
    let sql = format!(
        "SELECT {PROFILE_COLUMNS} FROM profiles
         WHERE account_id = $1 AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3"
    );
    query(c, &sql, &[&account_id, &after, &(limit as i64)])
        .await?
        .iter()
        .map(rows::profile)
        .collect()
}

// ----- events -----

/// Stores one event unless its idempotency key is live. The key is claimed with an
/// upsert that only replaces an expired entry, so two nodes racing on the same key
/// cannot both win.
pub async fn publish_one<C: GenericClient>(
    c: &C,
    e: &NewEvent,
    window: Duration,
) -> Sql<Published> {
    let now = ms(e.created_at);
    if let Some(key) = &e.idempotency_key {
        let expires = now + window.as_millis() as i64;
        let won = query(
            c,
            "INSERT INTO idempotency_keys (account_id, key, event_id, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account_id, key) DO UPDATE SET event_id = excluded.event_id, expires_at = excluded.expires_at
             WHERE idempotency_keys.expires_at <= $5
             RETURNING event_id",
            &[&e.account_id, key, &e.id, &expires, &now],
        )
        .await?;
        if won.is_empty() {
            let rows = query(
                c,
                "SELECT event_id FROM idempotency_keys WHERE account_id = $1 AND key = $2",
                &[&e.account_id, key],
            )
            .await?;
            let original_id = rows
                .first()
                .map(|r| r.get(0))
                .ok_or_else(|| StoreError::Internal("idempotency key vanished".into()))?;
            return Ok(Published::Duplicate { original_id });
        }
    }
    let cols = NewEventColumns::of(e)?;
    execute(
        c,
        "INSERT INTO events (id, account_id, profile_id, event_type, payload, payloads, occurred_at, created_at,
            idempotency_key, target, status, retries_left, lease_ms, due_at, claimed_by, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $8)",
        &[
            &e.id, &e.account_id, &e.profile_id, &e.event_type, &e.payload.get(), &e.payloads.as_ref().map(|p| p.get()),
            &e.occurred_at, &now, &e.idempotency_key, &cols.target, &e.status.as_str(), &cols.retries_left,
            &cols.lease_ms, &cols.due_at, &e.claimed_by,
        ],
    )
    .await?;
    Ok(Published::Created)
}

pub async fn event<C: GenericClient>(
    c: &C,
    account_id: &str,
    id: &str,
) -> Sql<Option<StoredEvent>> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND account_id = $2");
    let Some(row) = query(c, &sql, &[&id, &account_id])
        .await?
        .first()
        .map(EventRow::read)
        .transpose()?
    else {
        return Ok(None);
    };
    let mut event = row.into_event();
    let sql = format!("SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE event_id = $1 ORDER BY attempt, leg = 'failover'");
    event.attempts = query(c, &sql, &[&id])
        .await?
        .iter()
        .map(|r| AttemptRow::read(r).map(AttemptRow::into_leg))
        .collect::<Sql<_>>()?;
    Ok(Some(event))
}

pub async fn list_events<C: GenericClient>(
    c: &C,
    account_id: &str,
    f: &EventFilter,
) -> Sql<Vec<StoredEvent>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE account_id = $1
           AND ($2::text IS NULL OR id < $2) AND ($3::text IS NULL OR status = $3)
           AND ($4::text IS NULL OR event_type = $4) AND ($5::text IS NULL OR profile_id = $5)
           AND ($6::bigint IS NULL OR created_at >= $6)
         ORDER BY id DESC LIMIT $7"
    );
    let params: [&(dyn ToSql + Sync); 7] = [
        &account_id,
        &f.before_id,
        &f.status.map(EventStatus::as_str),
        &f.event_type,
        &f.profile_id,
        &f.since.map(ms),
        &(f.limit as i64),
    ];
    query(c, &sql, &params)
        .await?
        .iter()
        .map(|r| EventRow::read(r).map(EventRow::into_event))
        .collect()
}

pub async fn retry_event<C: GenericClient>(c: &C, account_id: &str, id: &str) -> Sql<RetryOutcome> {
    let updated = execute(
        c,
        "UPDATE events SET retries_left = CASE WHEN status = 'pending' THEN retries_left ELSE 0 END,
            status = 'pending', due_at = $3, claimed_by = NULL, updated_at = $3
         WHERE id = $1 AND account_id = $2
           AND (status IN ('failed', 'delivered') OR (status = 'pending' AND claimed_by IS NULL))",
        &[&id, &account_id, &now_ms()],
    )
    .await?;
    if updated > 0 {
        return Ok(RetryOutcome::Scheduled);
    }
    let rows = query(
        c,
        "SELECT status, claimed_by FROM events WHERE id = $1 AND account_id = $2",
        &[&id, &account_id],
    )
    .await?;
    Ok(retry_refusal(rows.first().map(|r| (r.get(0), r.get(1)))))
}

pub async fn retarget_event<C: GenericClient>(c: &C, account_id: &str, r: &Retarget) -> Sql<bool> {
    let cols = NewEventColumns::of_retarget(r)?;
    let changed = execute(
        c,
        "UPDATE events SET status = $1, target = $2, retries_left = $3, lease_ms = $4, due_at = $5,
            claimed_by = NULL, updated_at = $6
         WHERE id = $7 AND account_id = $8 AND status = $9",
        &[
            &r.status.as_str(),
            &cols.target,
            &cols.retries_left,
            &cols.lease_ms,
            &cols.due_at,
            &now_ms(),
            &r.id,
            &account_id,
            &r.expected.as_str(),
        ],
    )
    .await?;
    Ok(changed > 0)
}

// ----- delivery queue -----

pub async fn claim_due<C: GenericClient>(c: &C, node: &str, limit: u32) -> Sql<Vec<ClaimedEvent>> {
    let sql = format!(
        "UPDATE events SET due_at = $1 + lease_ms, claimed_by = $2
         WHERE id IN (SELECT id FROM events WHERE status = 'pending' AND due_at <= $1
                      ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING {CLAIM_COLUMNS}"
    );
    let rows = query(c, &sql, &[&now_ms(), &node, &(limit as i64)]).await?;
    let rows = rows.iter().map(ClaimRow::read).collect::<Sql<_>>()?;
    let (claimed, broken) = split_claims(rows);
    for id in broken {
        execute(
            c,
            "UPDATE events SET status = 'failed', due_at = NULL, claimed_by = NULL WHERE id = $1",
            &[&id],
        )
        .await?;
    }
    Ok(claimed)
}

pub async fn record_attempt<C: GenericClient>(c: &C, report: &AttemptReport) -> Sql<bool> {
    let (status, due, retries) = next_state_columns(report.next);
    let attempt = report.attempt as i64;
    let changed = execute(
        c,
        "UPDATE events SET status = $2, attempts_made = $3, due_at = $4, claimed_by = NULL,
            retries_left = COALESCE($5, retries_left), updated_at = $6
         WHERE id = $1 AND status = 'pending' AND attempts_made = $3::bigint - 1",
        &[
            &report.event_id,
            &status,
            &attempt,
            &due,
            &retries,
            &now_ms(),
        ],
    )
    .await?;
    if changed == 0 {
        return Ok(false);
    }
    for leg in &report.legs {
        execute(
            c,
            "INSERT INTO attempts (event_id, attempt, leg, url, started_at, duration_ms, http_status, error, response, error_detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            &[
                &report.event_id, &(leg.attempt as i64), &leg_name(leg.leg), &leg.url, &ms(leg.started_at),
                &(leg.duration_ms as i64), &leg.http_status.map(i64::from), &leg.error.map(|k| k.as_str()), &leg.response,
                &leg.error_detail,
            ],
        )
        .await?;
    }
    Ok(true)
}

// ----- background jobs -----

pub async fn expire_idempotency_keys<C: GenericClient>(
    c: &C,
    now: DateTime<Utc>,
    limit: u32,
) -> Sql<u64> {
    execute(
        c,
        "DELETE FROM idempotency_keys WHERE (account_id, key) IN
           (SELECT account_id, key FROM idempotency_keys WHERE expires_at <= $1
            ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        &[&ms(now), &(limit as i64)],
    )
    .await
}
