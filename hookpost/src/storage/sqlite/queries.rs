//! The SQL of the embedded backend, one function per storage operation. Each runs
//! on a connection handed in by the writer thread or the read pool.

use super::errors::{decoded, from_sqlite};
use crate::domain::attachment::{NewAttachment, CHUNK_BYTES};
use crate::domain::event::{EventStatus, NewEvent};
use crate::domain::event_type::EventType;
use crate::domain::settings::WebhookSettings;
use crate::storage::rows::*;
use crate::storage::sql;
use crate::storage::*;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
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
            to_sealed(&a.settings)?,
            to_sealed(&a.keys)?,
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
    c.execute(
        sql::SET_SIGNING_KEYS.sqlite(),
        params![to_sealed(&keys)?, id],
    )
    .map_err(from_sqlite)?;
    Ok(Some(keys))
}

pub fn set_account_settings(c: &Connection, id: &str, settings: &WebhookSettings) -> Sql<()> {
    c.execute(
        sql::SET_ACCOUNT_SETTINGS.sqlite(),
        params![to_sealed(settings)?, id],
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
        params![account_id, id, to_sealed(settings)?, now_ms()],
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
    let attachments = rows::attachments_column(&e.attachments)?;
    c.prepare_cached(sql::INSERT_EVENT.sqlite())
        .and_then(|mut s| {
            s.execute(params![
                e.id,
                e.account_id,
                e.profile_id,
                e.event_type,
                e.payload.get(),
                e.payloads.as_ref().map(|p| p.get()),
                e.occurred_at,
                now,
                e.idempotency_key,
                e.status.as_str(),
                e.ordering_key,
                attachments,
            ])
        })
        .map_err(from_sqlite)?;
    insert_attachments(c, &e.id, &e.attachments)?;
    insert_deliveries(c, &e.id, &e.deliveries, now)?;
    Ok(Published::Created)
}

/// Each file in chunks of [`CHUNK_BYTES`], in the publish's transaction.
fn insert_attachments(c: &Connection, event_id: &str, files: &[NewAttachment]) -> Sql<()> {
    let mut insert = c
        .prepare_cached(sql::INSERT_ATTACHMENT_CHUNK.sqlite())
        .map_err(from_sqlite)?;
    for (position, file) in files.iter().enumerate() {
        for (seq, chunk) in file.content.chunks(CHUNK_BYTES).enumerate() {
            insert
                .execute(params![event_id, position as i64, seq as i64, chunk])
                .map_err(from_sqlite)?;
        }
    }
    Ok(())
}

fn insert_deliveries(
    c: &Connection,
    event_id: &str,
    deliveries: &[NewDelivery],
    now: i64,
) -> Sql<()> {
    let mut insert = c
        .prepare_cached(sql::INSERT_DELIVERY.sqlite())
        .map_err(from_sqlite)?;
    for (seq, d) in deliveries.iter().enumerate() {
        let cols = DeliveryColumns::of(d)?;
        insert
            .execute(params![
                event_id,
                seq as i64,
                cols.endpoint_id,
                cols.target,
                EventStatus::Pending.as_str(),
                cols.retries_left,
                cols.lease_ms,
                cols.due_at,
                d.claimed_by,
                now,
                cols.lane,
            ])
            .map_err(from_sqlite)?;
    }
    Ok(())
}

pub fn add_delivery(c: &Connection, event_id: &str, d: &NewDelivery) -> Sql<bool> {
    let cols = DeliveryColumns::of(d)?;
    let now = now_ms();
    let added = c
        .execute(
            sql::ADD_DELIVERY.sqlite(),
            params![
                event_id,
                cols.endpoint_id,
                cols.target,
                cols.retries_left,
                cols.lease_ms,
                now
            ],
        )
        .map_err(from_sqlite)?;
    if added > 0 {
        c.execute(sql::SET_EVENT_PENDING.sqlite(), params![event_id, now])
            .map_err(from_sqlite)?;
    }
    Ok(added > 0)
}

pub fn replay_candidates(
    c: &Connection,
    account_id: &str,
    after: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u32,
) -> Sql<Vec<ReplayCandidate>> {
    let mut stmt = c
        .prepare_cached(sql::REPLAY_CANDIDATES.sqlite())
        .map_err(from_sqlite)?;
    let rows = stmt
        .query_map(
            params![account_id, after, ms(since), ms(until), limit],
            |r| decoded(rows::replay_candidate(r)),
        )
        .map_err(from_sqlite)?;
    rows.map(|r| r.map_err(from_sqlite)).collect()
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
    let mut event = row.into_event().with_deliveries(deliveries(c, id)?);
    event.attempts = attempts(c, id)?;
    Ok(Some(event))
}

fn deliveries(c: &Connection, event_id: &str) -> Sql<Vec<DeliveryRecord>> {
    let mut stmt = c
        .prepare_cached(sql::SELECT_DELIVERIES.sqlite())
        .map_err(from_sqlite)?;
    let rows = stmt
        .query_map([event_id], |r| decoded(DeliveryRow::read(r)))
        .map_err(from_sqlite)?;
    rows.map(|r| r.map(DeliveryRow::into_record).map_err(from_sqlite))
        .collect()
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
        .prepare_cached(sql::list_events(f).sqlite())
        .map_err(from_sqlite)?;
    let rows = stmt
        .query_map(
            params![
                account_id,
                f.cursor,
                f.status.map(EventStatus::as_str),
                f.event_type,
                f.profile_id,
                f.since.map(ms),
                f.limit,
                f.endpoint_id,
            ],
            |r| decoded(EventRow::read(r)),
        )
        .map_err(from_sqlite)?;
    let events = rows
        .map(|r| r.map(EventRow::into_event).map_err(from_sqlite))
        .collect::<Sql<Vec<_>>>()?;
    events
        .into_iter()
        .map(|e| {
            let found = deliveries(c, &e.id)?;
            Ok(e.with_deliveries(found))
        })
        .collect()
}

pub fn retry_event(c: &Connection, account_id: &str, id: &str) -> Sql<RetryOutcome> {
    let now = now_ms();
    let changed = c
        .execute(sql::RETRY_DELIVERIES.sqlite(), params![id, account_id, now])
        .map_err(from_sqlite)?;
    if changed > 0 {
        c.execute(sql::SET_EVENT_PENDING.sqlite(), params![id, now])
            .map_err(from_sqlite)?;
        return Ok(RetryOutcome::Scheduled);
    }
    let row: Option<(String, i64)> = c
        .query_row(sql::RETRY_STATE.sqlite(), params![id, account_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(from_sqlite)?;
    Ok(retry_refusal(row))
}

pub fn retarget_event(c: &Connection, account_id: &str, r: &Retarget) -> Sql<bool> {
    let now = now_ms();
    let changed = c
        .execute(
            sql::RETARGET_EVENT.sqlite(),
            params![
                r.status.as_str(),
                now,
                r.id,
                account_id,
                r.expected.as_str()
            ],
        )
        .map_err(from_sqlite)?;
    if changed > 0 {
        insert_deliveries(c, &r.id, &r.deliveries, now)?;
    }
    Ok(changed > 0)
}

// ----- delivery queue -----

/// Claims in [`sql::CLAIM_PASSES`] order. Each pass reads the due rows with
/// their events in one query and claims them in one update: both run on the one
/// writer connection, so no other claim can come between.
pub fn claim_due(c: &Connection, node: &str, limit: u32) -> Sql<Vec<ClaimedDelivery>> {
    let now = now_ms();
    let mut rows: Vec<ClaimRow> = Vec::new();
    for pass in sql::CLAIM_PASSES {
        let left = limit.saturating_sub(rows.len() as u32);
        if left == 0 {
            break;
        }
        let due = format!(
            "SELECT {CLAIM_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id
             WHERE d.status = 'pending' AND d.{pass} AND d.due_at <= ?1 ORDER BY d.due_at LIMIT ?2"
        );
        let mut found: Vec<ClaimRow> = c
            .prepare_cached(&due)
            .and_then(|mut s| {
                s.query_map(params![now, left], |r| decoded(ClaimRow::read(r)))?
                    .collect()
            })
            .map_err(from_sqlite)?;
        let keys: Vec<(&str, i64)> = found.iter().map(|r| (r.id.as_str(), r.seq)).collect();
        let claimed = to_json(&keys)?;
        c.prepare_cached(
            "UPDATE deliveries SET due_at = ?1 + lease_ms, claimed_by = ?2
             WHERE (event_id, seq) IN
               (SELECT value ->> 0, value ->> 1 FROM json_each(?3))",
        )
        .and_then(|mut s| s.execute(params![now, node, claimed]))
        .map_err(from_sqlite)?;
        rows.append(&mut found);
    }
    let (claimed, broken) = split_claims(rows);
    for (event_id, seq) in broken {
        fail_undecodable(c, &event_id, seq)?;
    }
    Ok(claimed)
}

fn fail_undecodable(c: &Connection, event_id: &str, seq: i64) -> Sql<()> {
    c.execute(sql::FAIL_UNDECODABLE.sqlite(), params![event_id, seq])
        .map_err(from_sqlite)?;
    c.execute(sql::SUM_UP_EVENT.sqlite(), params![event_id, now_ms()])
        .map_err(from_sqlite)?;
    Ok(())
}

pub fn next_due(c: &Connection) -> Sql<Option<DateTime<Utc>>> {
    let due: Option<i64> = c
        .query_row(sql::NEXT_DUE.sqlite(), [], |r| r.get(0))
        .map_err(from_sqlite)?;
    Ok(due.map(time))
}

/// Makes every claimed pending delivery due now. Only safe when no other
/// process can hold a claim, which the data directory lock guarantees.
pub fn release_claims(c: &Connection) -> Sql<u64> {
    c.execute("DELETE FROM endpoint_permits", [])
        .map_err(from_sqlite)?;
    c.execute(
        "UPDATE deliveries SET due_at = ?1, claimed_by = NULL WHERE status = 'pending' AND claimed_by IS NOT NULL",
        [now_ms()],
    )
    .map(|n| n as u64)
    .map_err(from_sqlite)
}

pub fn record_attempt(c: &Connection, report: &AttemptReport, policy: &ControlPolicy) -> Sql<bool> {
    let (status, due, retries, reason) = next_state_columns(report.next);
    let now = now_ms();
    let changed = c
        .prepare_cached(sql::RECORD_ATTEMPT.sqlite())
        .and_then(|mut s| {
            s.execute(params![
                report.event_id,
                report.seq,
                status,
                report.attempt,
                due,
                retries,
                now,
                reason
            ])
        })
        .map_err(from_sqlite)?;
    if changed == 0 {
        // Stale, but its place is given back all the same.
        super::control::give_back(c, report)?;
        return Ok(false);
    }
    let mut insert = c
        .prepare_cached(sql::INSERT_ATTEMPT.sqlite())
        .map_err(from_sqlite)?;
    for leg in &report.legs {
        insert
            .execute(params![
                report.event_id,
                report.seq,
                leg.attempt,
                leg.leg.as_str(),
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
    if !matches!(report.next, NextState::RetryAt(..)) {
        c.prepare_cached(sql::SUM_UP_EVENT.sqlite())
            .and_then(|mut s| s.execute(params![report.event_id, now]))
            .map_err(from_sqlite)?;
        if let Some(lane) = &report.lane {
            c.prepare_cached(sql::UNBLOCK_LANE.sqlite())
                .and_then(|mut s| s.execute(params![lane, now]))
                .map_err(from_sqlite)?;
        }
    }
    let row = match &report.endpoint_id {
        Some(endpoint) => {
            let (success, failure) = health_columns(report);
            c.prepare_cached(sql::ENDPOINT_HEALTH.sqlite())
                .and_then(|mut s| {
                    s.query_row(params![endpoint, success, failure], |r| {
                        decoded(control::ControlRow::read_head(r))
                    })
                    .optional()
                })
                .map_err(from_sqlite)?
        }
        None => None,
    };
    super::control::after_attempt(c, report, row, policy)?;
    Ok(true)
}

// ----- endpoints -----

pub fn create_endpoint(c: &Connection, e: &Endpoint) -> Sql<()> {
    c.execute(
        sql::INSERT_ENDPOINT.sqlite(),
        params![
            e.id,
            e.account_id,
            e.spec.profile_id,
            to_sealed(&e.spec)?,
            e.state.as_str(),
            ms(e.created_at),
            i64::from(e.gated())
        ],
    )
    .map_err(from_sqlite)?;
    Ok(())
}

fn endpoints_where(
    c: &Connection,
    statement: &sql::Statement,
    params: &[&dyn rusqlite::ToSql],
) -> Sql<Vec<Endpoint>> {
    let mut stmt = c.prepare_cached(statement.sqlite()).map_err(from_sqlite)?;
    let rows = stmt
        .query_map(params, |r| decoded(rows::endpoint(r)))
        .map_err(from_sqlite)?;
    rows.map(|r| r.map_err(from_sqlite)).collect()
}

pub fn endpoint(c: &Connection, account_id: &str, id: &str) -> Sql<Option<Endpoint>> {
    Ok(
        endpoints_where(c, &sql::SELECT_ENDPOINT, &[&account_id, &id])?
            .into_iter()
            .next(),
    )
}

pub fn list_endpoints(
    c: &Connection,
    account_id: &str,
    profile_id: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> Sql<Vec<Endpoint>> {
    endpoints_where(
        c,
        &sql::LIST_ENDPOINTS,
        &[&account_id, &profile_id, &after, &limit],
    )
}

pub fn level_endpoints(
    c: &Connection,
    account_id: &str,
    profile_id: Option<&str>,
) -> Sql<Vec<Endpoint>> {
    endpoints_where(c, &sql::LEVEL_ENDPOINTS, &[&account_id, &profile_id])
}

pub fn count_endpoints(c: &Connection, account_id: &str) -> Sql<u64> {
    c.query_row(sql::COUNT_ENDPOINTS.sqlite(), [account_id], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n as u64)
    .map_err(from_sqlite)
}

pub fn update_endpoint(c: &Connection, e: &Endpoint) -> Sql<bool> {
    let n = c
        .execute(
            sql::UPDATE_ENDPOINT.sqlite(),
            params![
                to_sealed(&e.spec)?,
                e.spec.profile_id,
                ms(e.updated_at),
                e.account_id,
                e.id,
                i64::from(e.spec.limits() != Default::default())
            ],
        )
        .map_err(from_sqlite)?;
    if n > 0 {
        c.execute(sql::WAKE_ALL_HELD.sqlite(), params![e.id, now_ms()])
            .map_err(from_sqlite)?;
    }
    Ok(n > 0)
}

pub fn delete_endpoint(c: &Connection, account_id: &str, id: &str) -> Sql<Option<u64>> {
    let now = now_ms();
    let deleted = c
        .execute(sql::DELETE_ENDPOINT.sqlite(), params![account_id, id])
        .map_err(from_sqlite)?;
    if deleted == 0 {
        return Ok(None);
    }
    let stopped = c
        .execute(sql::STOP_ENDPOINT_DELIVERIES.sqlite(), params![id, now])
        .map_err(from_sqlite)?;
    c.execute(sql::SUM_UP_ENDPOINT_EVENTS.sqlite(), params![id, now])
        .map_err(from_sqlite)?;
    c.execute(sql::DELETE_ENDPOINT_PERMITS.sqlite(), params![id])
        .map_err(from_sqlite)?;
    Ok(Some(stopped as u64))
}

pub fn endpoint_tally(c: &Connection) -> Sql<EndpointTally> {
    let mut tally = EndpointTally::default();
    let mut s = c
        .prepare_cached(sql::ENDPOINT_TALLY.sqlite())
        .map_err(from_sqlite)?;
    let rows = s
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .map_err(from_sqlite)?;
    for row in rows {
        let (state, open, n) = row.map_err(from_sqlite)?;
        tally.add(&state, open == 1, n as u64);
    }
    Ok(tally)
}

pub fn queue_depth(c: &Connection, now: DateTime<Utc>) -> Sql<QueueDepth> {
    c.prepare_cached(sql::QUEUE_DEPTH.sqlite())
        .and_then(|mut s| s.query_row(params![ms(now)], |r| decoded(rows::queue_depth(r))))
        .map_err(from_sqlite)
}

pub fn endpoint_stats(
    c: &Connection,
    account_id: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Sql<Option<EndpointStats>> {
    let last: Option<(Option<i64>, Option<i64>)> = c
        .query_row(
            sql::ENDPOINT_LAST_REQUESTS.sqlite(),
            params![account_id, id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(from_sqlite)?;
    let Some((success, failure)) = last else {
        return Ok(None);
    };
    let mut stats = EndpointStats {
        last_success_at: success.map(time),
        last_failure_at: failure.map(time),
        ..EndpointStats::default()
    };
    let mut counts = c
        .prepare_cached(sql::ENDPOINT_COUNTS.sqlite())
        .map_err(from_sqlite)?;
    for (window, into) in [
        (chrono::Duration::hours(1), &mut stats.last_hour),
        (chrono::Duration::days(1), &mut stats.last_day),
    ] {
        let rows = counts
            .query_map(params![id, first_id_at(now - window)], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(from_sqlite)?;
        for row in rows {
            let (status, n) = row.map_err(from_sqlite)?;
            into.add(&status, n as u64);
        }
    }
    Ok(Some(stats))
}

// ----- jobs -----

pub fn create_job(c: &Connection, job: &Job) -> Sql<()> {
    c.execute(
        sql::INSERT_JOB.sqlite(),
        params![
            job.id,
            job.account_id,
            job.kind.name(),
            to_json(&job.kind)?,
            to_json(&job.progress)?,
            ms(job.created_at)
        ],
    )
    .map_err(from_sqlite)?;
    Ok(())
}

pub fn job(c: &Connection, account_id: &str, id: &str) -> Sql<Option<Job>> {
    c.prepare_cached(sql::SELECT_JOB.sqlite())
        .and_then(|mut s| {
            s.query_row(params![account_id, id], |r| decoded(rows::job(r)))
                .optional()
        })
        .map_err(from_sqlite)
}

pub fn claim_job(c: &Connection, node: &str, lease: Duration) -> Sql<Option<Job>> {
    let now = now_ms();
    let sql = format!(
        "UPDATE jobs SET due_at = ?1 + ?3, claimed_by = ?2
         WHERE id = (SELECT id FROM jobs WHERE state = 'running' AND due_at <= ?1 ORDER BY due_at LIMIT 1)
         RETURNING {JOB_COLUMNS}"
    );
    c.prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_row(params![now, node, lease.as_millis() as i64], |r| {
                decoded(rows::job(r))
            })
            .optional()
        })
        .map_err(from_sqlite)
}

pub fn save_job(
    c: &Connection,
    id: &str,
    node: &str,
    state: JobState,
    progress: &JobProgress,
    due: Option<DateTime<Utc>>,
) -> Sql<bool> {
    let n = c
        .execute(
            sql::SAVE_JOB.sqlite(),
            params![
                id,
                node,
                state.as_str(),
                to_json(progress)?,
                due.map(ms),
                now_ms()
            ],
        )
        .map_err(from_sqlite)?;
    Ok(n > 0)
}

pub fn cancel_job(c: &Connection, account_id: &str, id: &str) -> Sql<bool> {
    let n = c
        .execute(sql::CANCEL_JOB.sqlite(), params![account_id, id, now_ms()])
        .map_err(from_sqlite)?;
    Ok(n > 0)
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
