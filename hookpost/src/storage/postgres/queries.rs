//! The SQL of the PostgreSQL backend, one function per storage operation that
//! needs more than a line. Each takes a client or a transaction.

use super::errors::from_pg;
use crate::domain::attachment::{NewAttachment, CHUNK_BYTES};
use crate::domain::event::{EventStatus, NewEvent};
use crate::domain::settings::WebhookSettings;
use crate::storage::rows::*;
use crate::storage::sql;
use crate::storage::*;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

type Sql<T> = StoreResult<T>;

/// Runs a cached statement and answers its rows.
pub(super) async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Sql<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(from_pg)?;
    c.query(&stmt, params).await.map_err(from_pg)
}

/// Runs a cached statement and answers how many rows it changed.
pub(super) async fn execute<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Sql<u64> {
    let stmt = c.prepare_cached(sql).await.map_err(from_pg)?;
    c.execute(&stmt, params).await.map_err(from_pg)
}

// ----- accounts -----

pub async fn insert_account<C: GenericClient>(c: &C, new: &NewAccount) -> Sql<()> {
    let a = &new.account;
    let (settings, keys) = (to_sealed(&a.settings)?, to_sealed(&a.keys)?);
    execute(
        c,
        sql::INSERT_ACCOUNT.postgres(),
        &[
            &a.id,
            &a.name,
            &&new.api_key_hash[..],
            &settings,
            &keys,
            &ms(a.created_at),
        ],
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
    let json = to_sealed(settings)?;
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
    query(c, sql::SELECT_PROFILE.postgres(), &[&account_id, &id])
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
    let params: [&(dyn ToSql + Sync); 3] = [&account_id, &after, &(limit as i64)];
    query(c, sql::LIST_PROFILES.postgres(), &params)
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
    execute(
        c,
        sql::INSERT_EVENT.postgres(),
        &[
            &e.id,
            &e.account_id,
            &e.profile_id,
            &e.event_type,
            &e.payload.get(),
            &e.payloads.as_ref().map(|p| p.get()),
            &e.occurred_at,
            &now,
            &e.idempotency_key,
            &e.status.as_str(),
            &e.ordering_key,
            &rows::attachments_column(&e.attachments)?,
        ],
    )
    .await?;
    insert_attachments(c, &e.id, &e.attachments).await?;
    insert_deliveries(c, &e.id, &e.deliveries, now).await?;
    Ok(Published::Created)
}

/// Each file in chunks of [`CHUNK_BYTES`], in the publish's transaction.
async fn insert_attachments<C: GenericClient>(
    c: &C,
    event_id: &str,
    files: &[NewAttachment],
) -> Sql<()> {
    for (position, file) in files.iter().enumerate() {
        for (seq, chunk) in file.content.chunks(CHUNK_BYTES).enumerate() {
            let (position, seq) = (position as i32, seq as i32);
            execute(
                c,
                sql::INSERT_ATTACHMENT_CHUNK.postgres(),
                &[&event_id, &position, &seq, &chunk],
            )
            .await?;
        }
    }
    Ok(())
}

async fn insert_deliveries<C: GenericClient>(
    c: &C,
    event_id: &str,
    deliveries: &[NewDelivery],
    now: i64,
) -> Sql<()> {
    for (seq, d) in deliveries.iter().enumerate() {
        let cols = DeliveryColumns::of(d)?;
        execute(
            c,
            sql::INSERT_DELIVERY.postgres(),
            &[
                &event_id,
                &(seq as i64),
                &cols.endpoint_id,
                &cols.target,
                &EventStatus::Pending.as_str(),
                &cols.retries_left,
                &cols.lease_ms,
                &cols.due_at,
                &d.claimed_by,
                &now,
                &cols.lane,
            ],
        )
        .await?;
    }
    Ok(())
}

pub async fn add_delivery<C: GenericClient>(c: &C, event_id: &str, d: &NewDelivery) -> Sql<bool> {
    let cols = DeliveryColumns::of(d)?;
    let now = now_ms();
    let added = execute(
        c,
        sql::ADD_DELIVERY.postgres(),
        &[
            &event_id,
            &cols.endpoint_id,
            &cols.target,
            &cols.retries_left,
            &cols.lease_ms,
            &now,
        ],
    )
    .await?;
    if added > 0 {
        execute(c, sql::SET_EVENT_PENDING.postgres(), &[&event_id, &now]).await?;
    }
    Ok(added > 0)
}

pub async fn replay_candidates<C: GenericClient>(
    c: &C,
    account_id: &str,
    after: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u32,
) -> Sql<Vec<ReplayCandidate>> {
    let found = query(
        c,
        sql::REPLAY_CANDIDATES.postgres(),
        &[&account_id, &after, &ms(since), &ms(until), &(limit as i64)],
    )
    .await?;
    found.iter().map(rows::replay_candidate).collect()
}

pub async fn event<C: GenericClient>(
    c: &C,
    account_id: &str,
    id: &str,
) -> Sql<Option<StoredEvent>> {
    let Some(row) = query(c, sql::SELECT_EVENT.postgres(), &[&id, &account_id])
        .await?
        .first()
        .map(EventRow::read)
        .transpose()?
    else {
        return Ok(None);
    };
    let mut event = row.into_event().with_deliveries(deliveries(c, id).await?);
    event.attempts = query(c, sql::SELECT_ATTEMPTS.postgres(), &[&id])
        .await?
        .iter()
        .map(|r| AttemptRow::read(r).map(AttemptRow::into_leg))
        .collect::<Sql<_>>()?;
    Ok(Some(event))
}

async fn deliveries<C: GenericClient>(c: &C, event_id: &str) -> Sql<Vec<DeliveryRecord>> {
    query(c, sql::SELECT_DELIVERIES.postgres(), &[&event_id])
        .await?
        .iter()
        .map(|r| DeliveryRow::read(r).map(DeliveryRow::into_record))
        .collect()
}

/// The page's deliveries in one round trip, handed to their events.
pub async fn list_events<C: GenericClient>(
    c: &C,
    account_id: &str,
    f: &EventFilter,
) -> Sql<Vec<StoredEvent>> {
    let params: [&(dyn ToSql + Sync); 8] = [
        &account_id,
        &f.cursor,
        &f.status.map(EventStatus::as_str),
        &f.event_type,
        &f.profile_id,
        &f.since.map(ms),
        &(f.limit as i64),
        &f.endpoint_id,
    ];
    let events = query(c, sql::list_events(f).postgres(), &params)
        .await?
        .iter()
        .map(|r| EventRow::read(r).map(EventRow::into_event))
        .collect::<Sql<Vec<_>>>()?;
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let rows = query(
        c,
        &format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE event_id = ANY($1) ORDER BY event_id, seq"),
        &[&ids],
    )
    .await?;
    let mut by_event: std::collections::HashMap<String, Vec<DeliveryRecord>> = Default::default();
    for row in &rows {
        let row = DeliveryRow::read(row)?;
        by_event
            .entry(row.event_id.clone())
            .or_default()
            .push(row.into_record());
    }
    Ok(events
        .into_iter()
        .map(|e| {
            let found = by_event.remove(&e.id).unwrap_or_default();
            e.with_deliveries(found)
        })
        .collect())
}

pub async fn retry_event<C: GenericClient>(c: &C, account_id: &str, id: &str) -> Sql<RetryOutcome> {
    let now = now_ms();
    let updated = execute(
        c,
        sql::RETRY_DELIVERIES.postgres(),
        &[&id, &account_id, &now],
    )
    .await?;
    if updated > 0 {
        execute(c, sql::SET_EVENT_PENDING.postgres(), &[&id, &now]).await?;
        return Ok(RetryOutcome::Scheduled);
    }
    let rows = query(c, sql::RETRY_STATE.postgres(), &[&id, &account_id]).await?;
    Ok(retry_refusal(rows.first().map(|r| (r.get(0), r.get(1)))))
}

pub async fn retarget_event<C: GenericClient>(c: &C, account_id: &str, r: &Retarget) -> Sql<bool> {
    let now = now_ms();
    let changed = execute(
        c,
        sql::RETARGET_EVENT.postgres(),
        &[
            &r.status.as_str(),
            &now,
            &r.id,
            &account_id,
            &r.expected.as_str(),
        ],
    )
    .await?;
    if changed > 0 {
        insert_deliveries(c, &r.id, &r.deliveries, now).await?;
    }
    Ok(changed > 0)
}

// ----- delivery queue -----

/// Claims in [`sql::CLAIM_PASSES`] order, each pass skipping rows another node
/// holds locked.
pub async fn claim_due<C: GenericClient>(
    c: &C,
    node: &str,
    limit: u32,
) -> Sql<Vec<ClaimedDelivery>> {
    let mut rows = Vec::new();
    for pass in sql::CLAIM_PASSES {
        let left = limit.saturating_sub(rows.len() as u32);
        if left == 0 {
            break;
        }
        let sql = format!(
            "WITH due AS (SELECT event_id, seq FROM deliveries WHERE status = 'pending' AND {pass}
                          AND due_at <= $1 ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED),
                  d AS (UPDATE deliveries SET due_at = $1 + deliveries.lease_ms, claimed_by = $2 FROM due
                        WHERE deliveries.event_id = due.event_id AND deliveries.seq = due.seq
                        RETURNING deliveries.*)
             SELECT {CLAIM_COLUMNS} FROM d JOIN events e ON e.id = d.event_id"
        );
        for row in query(c, &sql, &[&now_ms(), &node, &(left as i64)]).await? {
            rows.push(ClaimRow::read(&row)?);
        }
    }
    let (claimed, broken) = split_claims(rows);
    for (event_id, seq) in broken {
        execute(c, sql::FAIL_UNDECODABLE.postgres(), &[&event_id, &seq]).await?;
        execute(c, sql::SUM_UP_EVENT.postgres(), &[&event_id, &now_ms()]).await?;
    }
    Ok(claimed)
}

/// Takes the transaction-scoped advisory lock of each ordering lane, in sorted
/// order (so two transactions cannot wait on each other). A publish adding to a
/// lane and the record that lets a lane's next delivery go hold it, so that one
/// always sees the other's outcome: a delivery never waits behind one that has
/// finished.
pub async fn lock_lanes<'a, C: GenericClient>(
    c: &C,
    lanes: impl IntoIterator<Item = &'a str>,
) -> Sql<()> {
    let mut lanes: Vec<&str> = lanes.into_iter().collect();
    lanes.sort_unstable();
    lanes.dedup();
    for lane in lanes {
        execute(c, "SELECT pg_advisory_xact_lock(hashtext($1))", &[&lane]).await?;
    }
    Ok(())
}

/// Runs in a transaction. Summing up the event's status locks the event row
/// before reading the deliveries, so two deliveries of one event finishing at once on two nodes are
/// summed one after the other, each seeing the other's outcome.
pub async fn record_attempt<C: GenericClient>(
    c: &C,
    report: &AttemptReport,
    policy: &ControlPolicy,
) -> Sql<bool> {
    let (status, due, retries, reason) = next_state_columns(report.next);
    let (seq, attempt, now) = (report.seq as i64, report.attempt as i64, now_ms());
    let last = !matches!(report.next, NextState::RetryAt(..));
    if let Some(lane) = report.lane.as_deref().filter(|_| last) {
        // The lane before the delivery, as a deletion takes them.
        lock_lanes(c, [lane]).await?;
    }
    let changed = execute(
        c,
        sql::RECORD_ATTEMPT.postgres(),
        &[
            &report.event_id,
            &seq,
            &status,
            &attempt,
            &due,
            &retries,
            &now,
            &reason,
        ],
    )
    .await?;
    if changed == 0 {
        // Stale, but its place is given back all the same.
        super::control::give_back(c, report).await?;
        return Ok(false);
    }
    for leg in &report.legs {
        execute(
            c,
            sql::INSERT_ATTEMPT.postgres(),
            &[
                &report.event_id,
                &seq,
                &(leg.attempt as i64),
                &leg.leg.as_str(),
                &leg.url,
                &ms(leg.started_at),
                &(leg.duration_ms as i64),
                &leg.http_status.map(i64::from),
                &leg.error.map(|k| k.as_str()),
                &leg.response,
                &leg.error_detail,
            ],
        )
        .await?;
    }
    if !matches!(report.next, NextState::RetryAt(..)) {
        if let Some(lane) = &report.lane {
            lock_lanes(c, [lane.as_str()]).await?;
            execute(c, sql::UNBLOCK_LANE.postgres(), &[lane, &now]).await?;
        }
        // NO KEY: the attempt rows' foreign key holds a KEY SHARE lock on the
        // event, which a plain FOR UPDATE would wait on (and deadlock with the
        // other delivery's transaction doing the same).
        execute(
            c,
            "SELECT 1 FROM events WHERE id = $1 FOR NO KEY UPDATE",
            &[&report.event_id],
        )
        .await?;
        execute(c, sql::SUM_UP_EVENT.postgres(), &[&report.event_id, &now]).await?;
    }
    after_recorded(c, report, policy).await?;
    Ok(true)
}

/// What follows a recorded attempt at its endpoint: the endpoint's last
/// success or failure, and delivery control fed the outcome.
pub async fn after_recorded<C: GenericClient>(
    c: &C,
    report: &AttemptReport,
    policy: &ControlPolicy,
) -> Sql<()> {
    let row = match &report.endpoint_id {
        Some(endpoint) => {
            let (success, failure) = health_columns(report);
            let rows = query(
                c,
                sql::ENDPOINT_HEALTH.postgres(),
                &[endpoint, &success, &failure],
            )
            .await?;
            rows.first()
                .map(control::ControlRow::read_head)
                .transpose()?
        }
        None => None,
    };
    super::control::after_attempt(c, report, row, policy).await
}

// ----- endpoints -----

pub async fn create_endpoint<C: GenericClient>(c: &C, e: &Endpoint) -> Sql<()> {
    execute(
        c,
        sql::INSERT_ENDPOINT.postgres(),
        &[
            &e.id,
            &e.account_id,
            &e.spec.profile_id,
            &to_sealed(&e.spec)?,
            &e.state.as_str(),
            &ms(e.created_at),
            &i64::from(e.gated()),
        ],
    )
    .await?;
    Ok(())
}

pub async fn endpoints_where<C: GenericClient>(
    c: &C,
    statement: &sql::Statement,
    params: &[&(dyn ToSql + Sync)],
) -> Sql<Vec<Endpoint>> {
    query(c, statement.postgres(), params)
        .await?
        .iter()
        .map(rows::endpoint)
        .collect()
}

pub async fn count_endpoints<C: GenericClient>(c: &C, account_id: &str) -> Sql<u64> {
    let rows = query(c, sql::COUNT_ENDPOINTS.postgres(), &[&account_id]).await?;
    Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0)) as u64)
}

pub async fn endpoint_tally<C: GenericClient>(c: &C) -> Sql<EndpointTally> {
    let mut tally = EndpointTally::default();
    for row in query(c, sql::ENDPOINT_TALLY.postgres(), &[]).await? {
        let (state, open, n): (String, i32, i64) = (row.get(0), row.get(1), row.get(2));
        tally.add(&state, open == 1, n as u64);
    }
    Ok(tally)
}

pub async fn queue_depth<C: GenericClient>(c: &C, now: DateTime<Utc>) -> Sql<QueueDepth> {
    let rows = query(c, sql::QUEUE_DEPTH.postgres(), &[&ms(now)]).await?;
    rows.first()
        .map_or(Ok(QueueDepth::default()), rows::queue_depth)
}

pub async fn update_endpoint<C: GenericClient>(c: &C, e: &Endpoint) -> Sql<bool> {
    let n = execute(
        c,
        sql::UPDATE_ENDPOINT.postgres(),
        &[
            &to_sealed(&e.spec)?,
            &e.spec.profile_id,
            &ms(e.updated_at),
            &e.account_id,
            &e.id,
            &i64::from(e.spec.limits() != Default::default()),
        ],
    )
    .await?;
    if n > 0 {
        execute(c, sql::WAKE_ALL_HELD.postgres(), &[&e.id, &now_ms()]).await?;
    }
    Ok(n > 0)
}

/// Runs in a transaction. Locks in the order an attempt's record does —
/// deliveries, then events, then the endpoint row — so the two cannot
/// deadlock: the endpoint's pending deliveries stop first, it goes last.
pub async fn delete_endpoint<C: GenericClient>(
    c: &C,
    account_id: &str,
    id: &str,
) -> Sql<Option<u64>> {
    let now = now_ms();
    if query(c, sql::SELECT_ENDPOINT.postgres(), &[&account_id, &id])
        .await?
        .is_empty()
    {
        return Ok(None);
    }
    let stopped = execute(c, sql::STOP_ENDPOINT_DELIVERIES.postgres(), &[&id, &now]).await?;
    execute(c, sql::SUM_UP_ENDPOINT_EVENTS.postgres(), &[&id, &now]).await?;
    if execute(c, sql::DELETE_ENDPOINT.postgres(), &[&account_id, &id]).await? == 0 {
        return Ok(None);
    }
    execute(c, sql::DELETE_ENDPOINT_PERMITS.postgres(), &[&id]).await?;
    Ok(Some(stopped))
}

pub async fn endpoint_stats<C: GenericClient>(
    c: &C,
    account_id: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Sql<Option<EndpointStats>> {
    let rows = query(
        c,
        sql::ENDPOINT_LAST_REQUESTS.postgres(),
        &[&account_id, &id],
    )
    .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let mut stats = EndpointStats {
        last_success_at: row.get::<_, Option<i64>>(0).map(time),
        last_failure_at: row.get::<_, Option<i64>>(1).map(time),
        ..EndpointStats::default()
    };
    for (window, into) in [
        (chrono::Duration::hours(1), &mut stats.last_hour),
        (chrono::Duration::days(1), &mut stats.last_day),
    ] {
        let from = first_id_at(now - window);
        for row in query(c, sql::ENDPOINT_COUNTS.postgres(), &[&id, &from]).await? {
            into.add(row.get::<_, &str>(0), row.get::<_, i64>(1) as u64);
        }
    }
    Ok(Some(stats))
}

// ----- jobs -----

pub async fn create_job<C: GenericClient>(c: &C, job: &Job) -> Sql<()> {
    execute(
        c,
        sql::INSERT_JOB.postgres(),
        &[
            &job.id,
            &job.account_id,
            &job.kind.name(),
            &to_json(&job.kind)?,
            &to_json(&job.progress)?,
            &ms(job.created_at),
        ],
    )
    .await?;
    Ok(())
}

pub async fn job<C: GenericClient>(c: &C, account_id: &str, id: &str) -> Sql<Option<Job>> {
    query(c, sql::SELECT_JOB.postgres(), &[&account_id, &id])
        .await?
        .first()
        .map(rows::job)
        .transpose()
}

pub async fn claim_job<C: GenericClient>(c: &C, node: &str, lease: Duration) -> Sql<Option<Job>> {
    let sql = format!(
        "UPDATE jobs SET due_at = $1 + $3, claimed_by = $2
         WHERE id = (SELECT id FROM jobs WHERE state = 'running' AND due_at <= $1
                     ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING {JOB_COLUMNS}"
    );
    query(c, &sql, &[&now_ms(), &node, &(lease.as_millis() as i64)])
        .await?
        .first()
        .map(rows::job)
        .transpose()
}

pub async fn save_job<C: GenericClient>(
    c: &C,
    id: &str,
    node: &str,
    state: JobState,
    progress: &JobProgress,
    due: Option<DateTime<Utc>>,
) -> Sql<bool> {
    let n = execute(
        c,
        sql::SAVE_JOB.postgres(),
        &[
            &id,
            &node,
            &state.as_str(),
            &to_json(progress)?,
            &due.map(ms),
            &now_ms(),
        ],
    )
    .await?;
    Ok(n > 0)
}

pub async fn cancel_job<C: GenericClient>(c: &C, account_id: &str, id: &str) -> Sql<bool> {
    Ok(execute(
        c,
        sql::CANCEL_JOB.postgres(),
        &[&account_id, &id, &now_ms()],
    )
    .await?
        > 0)
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

// ----- accounts (kept here with the rest of the PostgreSQL SQL) -----

pub async fn rotate_api_key<C: GenericClient>(
    c: &C,
    id: &str,
    hash: &[u8; 32],
    keep_old_until: Option<i64>,
) -> Sql<()> {
    execute(
        c,
        sql::ROTATE_API_KEY.postgres(),
        &[&id, &&hash[..], &keep_old_until],
    )
    .await?;
    Ok(())
}

/// Rotates in one transaction with the row locked, so two rotations at once
/// cannot lose one.
pub async fn rotate_signing_keys(
    client: &mut deadpool_postgres::Object,
    id: &str,
    fresh: crate::secrets::SigningKeys,
    keep_old_until: DateTime<Utc>,
) -> Sql<Option<crate::secrets::SigningKeys>> {
    let tx = client.transaction().await.map_err(from_pg)?;
    let row = tx
        .query_opt(
            "SELECT signing_keys FROM accounts WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .map_err(from_pg)?;
    let Some(row) = row else { return Ok(None) };
    let current: crate::secrets::SigningKeys = from_sealed(row.get(0))?;
    let keys = current.active(Utc::now()).rotated(fresh, keep_old_until);
    tx.execute(sql::SET_SIGNING_KEYS.postgres(), &[&to_sealed(&keys)?, &id])
        .await
        .map_err(from_pg)?;
    tx.commit().await.map_err(from_pg)?;
    Ok(Some(keys))
}

pub async fn set_account_settings<C: GenericClient>(
    c: &C,
    id: &str,
    settings: &WebhookSettings,
) -> Sql<()> {
    execute(
        c,
        sql::SET_ACCOUNT_SETTINGS.postgres(),
        &[&to_sealed(settings)?, &id],
    )
    .await?;
    Ok(())
}

pub async fn delete_profile<C: GenericClient>(c: &C, account_id: &str, id: &str) -> Sql<bool> {
    Ok(execute(c, sql::DELETE_PROFILE.postgres(), &[&account_id, &id]).await? > 0)
}

// ----- event types -----

/// Creates or replaces; `xmax = 0` tells an insert from an update.
pub async fn put_event_type<C: GenericClient>(c: &C, account_id: &str, t: &EventType) -> Sql<bool> {
    let rows = query(
        c,
        "INSERT INTO event_types (account_id, name, definition, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (account_id, name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at
         RETURNING (xmax = 0)",
        &[&account_id, &t.name, &to_json(t)?, &now_ms()],
    )
    .await?;
    let row = rows
        .first()
        .ok_or_else(|| StoreError::Internal("upsert returned nothing".into()))?;
    Ok(row.get(0))
}

pub async fn event_type<C: GenericClient>(
    c: &C,
    account_id: &str,
    name: &str,
) -> Sql<Option<EventType>> {
    query(c, sql::SELECT_EVENT_TYPE.postgres(), &[&account_id, &name])
        .await?
        .first()
        .map(|r| from_json(r.get(0)))
        .transpose()
}

pub async fn delete_event_type<C: GenericClient>(c: &C, account_id: &str, name: &str) -> Sql<bool> {
    Ok(execute(c, sql::DELETE_EVENT_TYPE.postgres(), &[&account_id, &name]).await? > 0)
}

pub async fn list_event_types<C: GenericClient>(c: &C, account_id: &str) -> Sql<Vec<EventType>> {
    query(c, sql::LIST_EVENT_TYPES.postgres(), &[&account_id])
        .await?
        .iter()
        .map(|r| from_json(r.get(0)))
        .collect()
}

// ----- queue -----

/// A restarted node takes back the claims made under its own id.
pub async fn release_claims<C: GenericClient>(c: &C, node: &str) -> Sql<u64> {
    execute(c, sql::DELETE_NODE_PERMITS.postgres(), &[&node]).await?;
    execute(
        c,
        "UPDATE deliveries SET due_at = $2, claimed_by = NULL WHERE status = 'pending' AND claimed_by = $1",
        &[&node, &now_ms()],
    )
    .await
}

pub async fn next_due<C: GenericClient>(c: &C) -> Sql<Option<DateTime<Utc>>> {
    let rows = query(c, sql::NEXT_DUE.postgres(), &[]).await?;
    Ok(rows
        .first()
        .and_then(|r| r.get::<_, Option<i64>>(0))
        .map(time))
}
