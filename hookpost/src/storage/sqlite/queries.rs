//! The SQL of the embedded backend, one function per storage operation. Each runs
//! on a connection handed in by the writer thread or the read pool.

use super::errors::{decoded, from_sqlite};
use crate::domain::event::{EventStatus, NewEvent};
use crate::domain::event_type::EventType;
use crate::domain::settings::WebhookSettings;
use crate::storage::rows::*;
use crate::storage::sql;
use crate::storage::*;
use chrono::{DateTime, Utc};
use rusqlite::{named_params, params, Connection, OptionalExtension};
use std::time::Duration;

type Sql<T> = StoreResult<T>;

// ----- accounts -----

pub fn insert_account(c: &Connection, new: &NewAccount) -> Sql<()> {
    let a = &new.account;
    c.execute(
        sql::INSERT_ACCOUNT.sqlite(),
        params![
            a.id,
            a.name,
            &new.api_key_hash[..],
            to_json(&a.settings)?,
            to_json(&a.keys)?,
            ms(a.created_at)
        ],
    )
    .map_err(from_sqlite)?;
    Ok(())
}

fn account_where(
    c: &Connection,
    clause: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Sql<Option<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {clause}");
    let row = c.prepare_cached(&sql).and_then(|mut s| {
        s.query_row(params, |r| decoded(AccountRow::read(r)))
            .optional()
    });
    row.map_err(from_sqlite)?
        .map(AccountRow::into_account)
        .transpose()
}

/// The account of a key: its current key, or its previous one while that is
/// still allowed after a rotation.
pub fn account_by_key(c: &Connection, hash: &[u8; 32]) -> Sql<Option<Account>> {
    let clause = "api_key_hash = ?1 OR (previous_key_hash = ?1 AND previous_key_expires_at > ?2)";
    account_where(c, clause, &[&&hash[..], &now_ms()])
}

pub fn account_by_id(c: &Connection, id: &str) -> Sql<Option<Account>> {
    account_where(c, "id = ?1", &[&id])
}

pub fn rotate_api_key(
    c: &Connection,
    id: &str,
    hash: &[u8; 32],
    keep_old_until: Option<i64>,
) -> Sql<()> {
    c.execute(
        sql::ROTATE_API_KEY.sqlite(),
        params![id, &hash[..], keep_old_until],
    )
    .map_err(from_sqlite)?;
    Ok(())
}

pub fn rotate_signing_keys(
    c: &Connection,
    id: &str,
    fresh: crate::secrets::SigningKeys,
    until: DateTime<Utc>,
) -> Sql<Option<crate::secrets::SigningKeys>> {
    let Some(account) = account_by_id(c, id)? else {
        return Ok(None);
    };
    let keys = account.keys.active(Utc::now()).rotated(fresh, until);
    c.execute(sql::SET_SIGNING_KEYS.sqlite(), params![to_json(&keys)?, id])
        .map_err(from_sqlite)?;
    Ok(Some(keys))
}

pub fn set_account_settings(c: &Connection, id: &str, settings: &WebhookSettings) -> Sql<()> {
    c.execute(
        sql::SET_ACCOUNT_SETTINGS.sqlite(),
        params![to_json(settings)?, id],
    )
    .map_err(from_sqlite)?;
    Ok(())
}

// ----- profiles -----

pub fn put_profile(
    c: &Connection,
    account_id: &str,
    id: &str,
    settings: &WebhookSettings,
) -> Sql<(Profile, bool)> {
    let existed = profile(c, account_id, id)?.is_some();
    c.execute(
        "INSERT INTO profiles (account_id, id, settings, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (account_id, id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
        params![account_id, id, to_json(settings)?, now_ms()],
    )
    .map_err(from_sqlite)?;
    let stored = profile(c, account_id, id)?
        .ok_or_else(|| StoreError::Internal("profile vanished".into()))?;
    Ok((stored, !existed))
}

pub fn profile(c: &Connection, account_id: &str, id: &str) -> Sql<Option<Profile>> {
    c.prepare_cached(sql::SELECT_PROFILE.sqlite())
        .and_then(|mut s| {
            s.query_row(params![account_id, id], |r| decoded(rows::profile(r)))
                .optional()
        })
        .map_err(from_sqlite)
}

pub fn delete_profile(c: &Connection, account_id: &str, id: &str) -> Sql<bool> {
    let n = c
        .execute(sql::DELETE_PROFILE.sqlite(), params![account_id, id])
        .map_err(from_sqlite)?;
    Ok(n > 0)
}

pub fn list_profiles(
    c: &Connection,
    account_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Sql<Vec<Profile>> {
    let mut stmt = c
        .prepare_cached(sql::LIST_PROFILES.sqlite())
        .map_err(from_sqlite)?;
    let rows = stmt
        .query_map(params![account_id, after, limit], |r| {
            decoded(rows::profile(r))
        })
        .map_err(from_sqlite)?;
    rows.map(|r| r.map_err(from_sqlite)).collect()
}

// ----- event types -----

pub fn put_event_type(c: &Connection, account_id: &str, t: &EventType) -> Sql<bool> {
    let existed = event_type(c, account_id, &t.name)?.is_some();
    c.execute(
        "INSERT INTO event_types (account_id, name, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (account_id, name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
        params![account_id, t.name, to_json(t)?, now_ms()],
    )
    .map_err(from_sqlite)?;
    Ok(!existed)
}

pub fn event_type(c: &Connection, account_id: &str, name: &str) -> Sql<Option<EventType>> {
    let definition: Option<String> = c
        .prepare_cached(sql::SELECT_EVENT_TYPE.sqlite())
        .and_then(|mut s| {
            s.query_row(params![account_id, name], |r| r.get(0))
                .optional()
        })
        .map_err(from_sqlite)?;
    definition.as_deref().map(from_json).transpose()
}

pub fn delete_event_type(c: &Connection, account_id: &str, name: &str) -> Sql<bool> {
    let n = c
        .execute(sql::DELETE_EVENT_TYPE.sqlite(), params![account_id, name])
        .map_err(from_sqlite)?;
    Ok(n > 0)
}

pub fn list_event_types(c: &Connection, account_id: &str) -> Sql<Vec<EventType>> {
    let mut stmt = c
        .prepare_cached(sql::LIST_EVENT_TYPES.sqlite())
        .map_err(from_sqlite)?;
    let rows = stmt
        .query_map([account_id], |r| r.get::<_, String>(0))
        .map_err(from_sqlite)?;
    rows.map(|r| from_json(&r.map_err(from_sqlite)?)).collect()
}

// ----- events -----

/// Inserts events in order; an idempotency key seen in the window makes its event
/// a duplicate (also within one batch).
pub fn publish(c: &Connection, events: &[NewEvent], window: Duration) -> Sql<Vec<Published>> {
    events.iter().map(|e| publish_one(c, e, window)).collect()
}

fn publish_one(c: &Connection, e: &NewEvent, window: Duration) -> Sql<Published> {
    let now = ms(e.created_at);
    if let Some(key) = &e.idempotency_key {
        let seen: Option<String> = c
            .prepare_cached("SELECT event_id FROM idempotency_keys WHERE account_id = ?1 AND key = ?2 AND expires_at > ?3")
            .and_then(|mut s| s.query_row(params![e.account_id, key, now], |r| r.get(0)).optional())
            .map_err(from_sqlite)?;
        if let Some(original_id) = seen {
            return Ok(Published::Duplicate { original_id });
        }
        c.prepare_cached("INSERT OR REPLACE INTO idempotency_keys (account_id, key, event_id, expires_at) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![e.account_id, key, e.id, now + window.as_millis() as i64]))
            .map_err(from_sqlite)?;
    }
    let cols = NewEventColumns::of(e)?;
    c.prepare_cached(
        "INSERT INTO events (id, account_id, profile_id, event_type, payload, payloads, occurred_at, created_at,
            idempotency_key, target, status, retries_left, lease_ms, due_at, claimed_by, updated_at)
         VALUES (:id, :account, :profile, :type, :payload, :payloads, :occurred, :created,
            :key, :target, :status, :retries, :lease, :due, :claimed, :created)",
    )
    .and_then(|mut s| {
        s.execute(named_params! {
            ":id": e.id, ":account": e.account_id, ":profile": e.profile_id, ":type": e.event_type,
            ":payload": e.payload.get(), ":payloads": e.payloads.as_ref().map(|p| p.get()),
            ":occurred": e.occurred_at, ":created": now, ":key": e.idempotency_key, ":target": cols.target,
            ":status": e.status.as_str(), ":retries": cols.retries_left, ":lease": cols.lease_ms,
            ":due": cols.due_at, ":claimed": e.claimed_by,
        })
    })
    .map_err(from_sqlite)?;
    Ok(Published::Created)
}

pub fn event(c: &Connection, account_id: &str, id: &str) -> Sql<Option<StoredEvent>> {
    let row = c
        .prepare_cached(sql::SELECT_EVENT.sqlite())
        .and_then(|mut s| {
            s.query_row(params![id, account_id], |r| decoded(EventRow::read(r)))
                .optional()
        });
    let Some(row) = row.map_err(from_sqlite)? else {
        return Ok(None);
    };
    let mut event = row.into_event();
    event.attempts = attempts(c, id)?;
    Ok(Some(event))
}

fn attempts(c: &Connection, event_id: &str) -> Sql<Vec<crate::domain::attempt::LegRecord>> {
    let mut stmt = c
        .prepare_cached(sql::SELECT_ATTEMPTS.sqlite())
        .map_err(from_sqlite)?;
    let rows = stmt
        .query_map([event_id], |r| decoded(AttemptRow::read(r)))
        .map_err(from_sqlite)?;
    rows.map(|r| r.map(AttemptRow::into_leg).map_err(from_sqlite))
        .collect()
}

pub fn list_events(c: &Connection, account_id: &str, f: &EventFilter) -> Sql<Vec<StoredEvent>> {
    let mut stmt = c
        .prepare_cached(sql::LIST_EVENTS.sqlite())
        .map_err(from_sqlite)?;
    let rows = stmt
        .query_map(
            params![
                account_id,
                f.before_id,
                f.status.map(EventStatus::as_str),
                f.event_type,
                f.profile_id,
                f.since.map(ms),
                f.limit
            ],
            |r| decoded(EventRow::read(r)),
        )
        .map_err(from_sqlite)?;
    rows.map(|r| r.map(EventRow::into_event).map_err(from_sqlite))
        .collect()
}

pub fn retry_event(c: &Connection, account_id: &str, id: &str) -> Sql<RetryOutcome> {
    let now = now_ms();
    let changed = c
        .execute(sql::RETRY_EVENT.sqlite(), params![id, account_id, now])
        .map_err(from_sqlite)?;
    if changed > 0 {
        return Ok(RetryOutcome::Scheduled);
    }
    let row: Option<(String, Option<String>)> = c
        .query_row(sql::RETRY_STATE.sqlite(), params![id, account_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(from_sqlite)?;
    Ok(retry_refusal(row))
}

pub fn retarget_event(c: &Connection, account_id: &str, r: &Retarget) -> Sql<bool> {
    let cols = NewEventColumns::of_retarget(r)?;
    let changed = c
        .execute(
            sql::RETARGET_EVENT.sqlite(),
            params![
                r.status.as_str(),
                cols.target,
                cols.retries_left,
                cols.lease_ms,
                cols.due_at,
                now_ms(),
                r.id,
                account_id,
                r.expected.as_str()
            ],
        )
        .map_err(from_sqlite)?;
    Ok(changed > 0)
}

// ----- delivery queue -----

pub fn claim_due(c: &Connection, node: &str, limit: u32) -> Sql<Vec<ClaimedEvent>> {
    let sql = format!(
        "UPDATE events SET due_at = :now + lease_ms, claimed_by = :node
         WHERE id IN (SELECT id FROM events WHERE status = 'pending' AND due_at <= :now ORDER BY due_at LIMIT :limit)
         RETURNING {CLAIM_COLUMNS}"
    );
    let mut stmt = c.prepare_cached(&sql).map_err(from_sqlite)?;
    let rows = stmt
        .query_map(
            named_params! {":now": now_ms(), ":node": node, ":limit": limit},
            |r| decoded(ClaimRow::read(r)),
        )
        .map_err(from_sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(from_sqlite)?;
    let (claimed, broken) = split_claims(rows);
    for id in broken {
        c.execute(sql::FAIL_UNDECODABLE.sqlite(), [id])
            .map_err(from_sqlite)?;
    }
    Ok(claimed)
}

pub fn next_due(c: &Connection) -> Sql<Option<DateTime<Utc>>> {
    let due: Option<i64> = c
        .query_row(sql::NEXT_DUE.sqlite(), [], |r| r.get(0))
        .map_err(from_sqlite)?;
    Ok(due.map(time))
}

/// Makes every claimed pending event due now. Only safe when no other process can
/// hold a claim, which the data directory lock guarantees.
pub fn release_claims(c: &Connection) -> Sql<u64> {
    c.execute(
        "UPDATE events SET due_at = ?1, claimed_by = NULL WHERE status = 'pending' AND claimed_by IS NOT NULL",
        [now_ms()],
    )
    .map(|n| n as u64)
    .map_err(from_sqlite)
}

pub fn record_attempt(c: &Connection, report: &AttemptReport) -> Sql<bool> {
    let (status, due, retries) = next_state_columns(report.next);
    let changed = c
        .prepare_cached(sql::RECORD_ATTEMPT.sqlite())
        .and_then(|mut s| {
            s.execute(params![
                report.event_id,
                status,
                report.attempt,
                due,
                retries,
                now_ms()
            ])
        })
        .map_err(from_sqlite)?;
    if changed == 0 {
        return Ok(false);
    }
    let mut insert = c
        .prepare_cached(sql::INSERT_ATTEMPT.sqlite())
        .map_err(from_sqlite)?;
    for leg in &report.legs {
        insert
            .execute(params![
                report.event_id,
                leg.attempt,
                leg_name(leg.leg),
                leg.url,
                ms(leg.started_at),
                leg.duration_ms as i64,
                leg.http_status,
                leg.error.map(|k| k.as_str()),
                leg.response,
                leg.error_detail,
            ])
            .map_err(from_sqlite)?;
    }
    Ok(true)
}

// ----- background jobs -----

pub fn expire_idempotency_keys(c: &Connection, now: DateTime<Utc>, limit: u32) -> Sql<u64> {
    c.prepare_cached(
        "DELETE FROM idempotency_keys WHERE (account_id, key) IN
           (SELECT account_id, key FROM idempotency_keys WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)",
    )
    .and_then(|mut s| s.execute(params![ms(now), limit]))
    .map(|n| n as u64)
    .map_err(from_sqlite)
}
