//! Conversions between stored column values and domain types, shared by every
//! backend so that each backend holds only its SQL. Times are stored as Unix
//! milliseconds; settings, keys and targets as JSON text.

pub use super::sql::{
    ACCOUNT_COLUMNS, ATTEMPT_COLUMNS, CLAIM_COLUMNS, DELIVERY_COLUMNS, ENDPOINT_COLUMNS,
    EVENT_COLUMNS, JOB_COLUMNS, PROFILE_COLUMNS,
};
use super::{
    Account, ClaimedDelivery, DeliveryRecord, Endpoint, Job, NewDelivery, Profile, StoreError,
    StoreResult, StoredEvent,
};
use crate::domain::attachment::{Attachment, NewAttachment};
use crate::domain::attempt::{FailureKind, Leg, LegRecord};
use crate::domain::delivery::DeliveryStatus;
use crate::domain::delivery::{reason, QueueDepth};
use crate::domain::endpoint::EndpointState;
use crate::domain::event::EventStatus;
use crate::domain::job::JobState;
use crate::domain::notice::{self, Notice};
use crate::domain::overview::{AccountSummary, RecentFailure};
use crate::domain::series::AttemptPoint;
use crate::domain::target::Target;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::value::RawValue;

/// A result row read by column name, whichever backend it came from, so that
/// each row shape is decoded once (here) for every backend.
pub trait Columns {
    /// A `TEXT` column.
    fn text(&self, name: &str) -> StoreResult<String>;
    /// A nullable `TEXT` column.
    fn opt_text(&self, name: &str) -> StoreResult<Option<String>>;
    /// An integer column.
    fn int(&self, name: &str) -> StoreResult<i64>;
    /// A nullable integer column.
    fn opt_int(&self, name: &str) -> StoreResult<Option<i64>>;
}

/// Unix milliseconds of a time.
pub fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The time of Unix milliseconds.
pub fn time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    ms(Utc::now())
}

/// A value as stored JSON text.
pub fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(e.to_string()))
}

/// A value as stored JSON text, sealed under the master key: for the columns
/// that hold secrets (see [`super::sealed`]).
pub fn to_sealed<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    Ok(super::sealed::seal(to_json(value)?))
}

/// A sealed column read back (see [`to_sealed`]).
pub fn from_sealed<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    from_json(&super::sealed::open(text)?)
}

/// Stored JSON text read back; failure means corrupt data or a bug.
pub fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Internal(format!("stored JSON does not parse: {e}")))
}

/// Stored JSON text kept as raw JSON.
pub fn raw(text: String) -> StoreResult<Box<RawValue>> {
    RawValue::from_string(text)
        .map_err(|e| StoreError::Internal(format!("stored JSON does not parse: {e}")))
}

/// The row of [`super::sql::QUEUE_DEPTH`].
pub fn queue_depth(r: &impl Columns) -> StoreResult<QueueDepth> {
    let count = |name| r.int(name).map(|n| n.max(0) as u64);
    Ok(QueueDepth {
        due: count("due")?,
        scheduled: count("scheduled")?,
        waiting: count("waiting")?,
        oldest_due_age: std::time::Duration::from_millis(count("oldest_due_age_ms")?),
    })
}

/// Columns of an account row.
pub struct AccountRow {
    /// `id`
    pub id: String,
    /// `name`
    pub name: String,
    /// `settings` (JSON)
    pub settings: String,
    /// `signing_keys` (JSON)
    pub signing_keys: String,
    /// `retention` (JSON)
    pub retention: String,
    /// `created_at` (ms)
    pub created_at: i64,
}

impl AccountRow {
    /// Reads the columns of [`ACCOUNT_COLUMNS`].
    pub fn read(r: &impl Columns) -> StoreResult<Self> {
        Ok(AccountRow {
            id: r.text("id")?,
            name: r.text("name")?,
            settings: r.text("settings")?,
            signing_keys: r.text("signing_keys")?,
            retention: r.text("retention")?,
            created_at: r.int("created_at")?,
        })
    }

    /// The account.
    pub fn into_account(self) -> StoreResult<Account> {
        Ok(Account {
            id: self.id,
            name: self.name,
            settings: from_sealed(&self.settings)?,
            keys: from_sealed(&self.signing_keys)?,
            retention: from_json(&self.retention)?,
            created_at: time(self.created_at),
        })
    }
}

/// The profile of a row of [`PROFILE_COLUMNS`].
pub fn profile(r: &impl Columns) -> StoreResult<Profile> {
    Ok(Profile {
        id: r.text("id")?,
        settings: from_sealed(&r.text("settings")?)?,
        created_at: time(r.int("created_at")?),
        updated_at: time(r.int("updated_at")?),
    })
}

/// Columns of an event row.
pub struct EventRow {
    /// `id`
    pub id: String,
    /// `profile_id`
    pub profile_id: Option<String>,
    /// `event_type`
    pub event_type: String,
    /// `payload`
    pub payload: String,
    /// `payloads`
    pub payloads: Option<String>,
    /// `occurred_at`
    pub occurred_at: String,
    /// `created_at` (ms)
    pub created_at: i64,
    /// `idempotency_key`
    pub idempotency_key: Option<String>,
    /// `ordering_key`
    pub ordering_key: Option<String>,
    /// `status`
    pub status: String,
    /// `attachments` (JSON list of descriptions)
    pub attachments: Option<String>,
}

impl EventRow {
    /// Reads the columns of [`EVENT_COLUMNS`].
    pub fn read(r: &impl Columns) -> StoreResult<Self> {
        Ok(EventRow {
            id: r.text("id")?,
            profile_id: r.opt_text("profile_id")?,
            event_type: r.text("event_type")?,
            payload: r.text("payload")?,
            payloads: r.opt_text("payloads")?,
            occurred_at: r.text("occurred_at")?,
            created_at: r.int("created_at")?,
            idempotency_key: r.opt_text("idempotency_key")?,
            ordering_key: r.opt_text("ordering_key")?,
            status: r.text("status")?,
            attachments: r.opt_text("attachments")?,
        })
    }

    /// The event, without its deliveries and attempts. Never fails: a column that does not
    /// decode (corrupt data, or a bug) is replaced by a neutral value and named
    /// in `unreadable`, so one bad row cannot break a whole listing.
    pub fn into_event(self) -> StoredEvent {
        let mut unreadable = Vec::new();
        let status = EventStatus::parse(&self.status).unwrap_or_else(|| {
            unreadable.push(format!("status `{}` is unknown", self.status));
            EventStatus::Failed
        });
        let mut json = |name: &str, text: String| {
            raw(text).unwrap_or_else(|e| {
                unreadable.push(format!("{name}: {e}"));
                RawValue::from_string("null".into()).expect("null is JSON")
            })
        };
        let payload = json("payload", self.payload);
        let payloads = self.payloads.map(|p| json("payloads", p));
        let attachments = read_attachments(self.attachments.as_deref()).unwrap_or_else(|e| {
            unreadable.push(format!("attachments: {e}"));
            Vec::new()
        });
        let unreadable = (!unreadable.is_empty()).then(|| unreadable.join("; "));
        if let Some(problem) = &unreadable {
            tracing::error!(event = %self.id, %problem, "a stored event does not decode");
        }
        StoredEvent {
            id: self.id,
            profile_id: self.profile_id,
            event_type: self.event_type,
            payload,
            payloads,
            occurred_at: self.occurred_at,
            created_at: time(self.created_at),
            idempotency_key: self.idempotency_key,
            ordering_key: self.ordering_key,
            status,
            attachments,
            deliveries: Vec::new(),
            attempts: Vec::new(),
            unreadable,
        }
    }
}

impl StoredEvent {
    /// The event with its deliveries; a delivery whose target did not decode
    /// is named in `unreadable` beside the event's own problems.
    pub fn with_deliveries(mut self, deliveries: Vec<DeliveryRecord>) -> StoredEvent {
        let broken: Vec<String> = deliveries
            .iter()
            .filter(|d| d.target.is_none())
            .map(|d| format!("delivery {}: target does not decode", d.seq))
            .collect();
        if !broken.is_empty() {
            let mut all: Vec<String> = self.unreadable.take().into_iter().collect();
            all.extend(broken);
            self.unreadable = Some(all.join("; "));
        }
        self.deliveries = deliveries;
        self
    }
}

/// Columns of a delivery row.
pub struct DeliveryRow {
    /// `event_id`
    pub event_id: String,
    /// `seq`
    pub seq: i64,
    /// `target` (JSON)
    pub target: String,
    /// `status`
    pub status: String,
    /// `reason`
    pub reason: Option<String>,
    /// `attempts_made`
    pub attempts_made: i64,
    /// `due_at` (ms)
    pub due_at: Option<i64>,
    /// `claimed_by`
    pub claimed_by: Option<String>,
    /// `held`
    pub held: Option<String>,
}

impl DeliveryRow {
    /// Reads the columns of [`DELIVERY_COLUMNS`].
    pub fn read(r: &impl Columns) -> StoreResult<Self> {
        Ok(DeliveryRow {
            event_id: r.text("event_id")?,
            seq: r.int("seq")?,
            target: r.text("target")?,
            status: r.text("status")?,
            reason: r.opt_text("reason")?,
            attempts_made: r.int("attempts_made")?,
            due_at: r.opt_int("due_at")?,
            claimed_by: r.opt_text("claimed_by")?,
            held: r.opt_text("held")?,
        })
    }

    /// The delivery. Never fails, like [`EventRow::into_event`]: a target that
    /// does not decode is `None` (and logged).
    pub fn into_record(self) -> DeliveryRecord {
        let target = from_sealed::<Target>(&self.target)
            .map_err(|e| tracing::error!(event = %self.event_id, seq = self.seq, error = %e, "a stored delivery does not decode"))
            .ok();
        let status = DeliveryStatus::parse(&self.status).unwrap_or(DeliveryStatus::Failed);
        let pending = status == DeliveryStatus::Pending;
        DeliveryRecord {
            seq: self.seq as u32,
            target,
            status,
            reason: self.reason,
            attempts_made: self.attempts_made as u32,
            in_flight: pending && self.claimed_by.is_some(),
            // A claimed delivery's due time is its lease expiry, not a next attempt.
            next_attempt_at: self
                .due_at
                .filter(|_| pending && self.claimed_by.is_none())
                .map(time),
            held: self.held.filter(|_| pending && self.claimed_by.is_none()),
        }
    }
}

/// Columns a claim returns.
pub struct ClaimRow {
    /// `id` (the event's)
    pub id: String,
    /// `seq`
    pub seq: i64,
    /// `account_id`
    pub account_id: String,
    /// `event_type`
    pub event_type: String,
    /// `payload`
    pub payload: String,
    /// `payloads`
    pub payloads: Option<String>,
    /// `occurred_at`
    pub occurred_at: String,
    /// `attachments`
    pub attachments: Option<String>,
    /// `target` (JSON)
    pub target: String,
    /// `attempts_made`
    pub attempts_made: i64,
    /// `retries_left`
    pub retries_left: i64,
    /// `lane`
    pub lane: Option<String>,
    /// `gated`: its endpoint's control must admit it.
    pub gated: bool,
}

impl ClaimRow {
    /// Reads the columns of [`CLAIM_COLUMNS`].
    pub fn read(r: &impl Columns) -> StoreResult<Self> {
        Ok(ClaimRow {
            id: r.text("id")?,
            seq: r.int("seq")?,
            account_id: r.text("account_id")?,
            event_type: r.text("event_type")?,
            payload: r.text("payload")?,
            payloads: r.opt_text("payloads")?,
            occurred_at: r.text("occurred_at")?,
            attachments: r.opt_text("attachments")?,
            target: r.text("target")?,
            attempts_made: r.int("attempts_made")?,
            retries_left: r.int("retries_left")?,
            lane: r.opt_text("lane")?,
            gated: r.int("gated")? != 0,
        })
    }

    /// The claimed delivery.
    pub fn into_claimed(self) -> StoreResult<ClaimedDelivery> {
        Ok(ClaimedDelivery {
            id: self.id,
            seq: self.seq as u32,
            account_id: self.account_id,
            event_type: self.event_type,
            payload: raw(self.payload)?,
            payloads: self.payloads.map(raw).transpose()?,
            occurred_at: self.occurred_at,
            attachments: read_attachments(self.attachments.as_deref())?,
            target: from_sealed(&self.target)?,
            attempts_made: self.attempts_made as u32,
            retries_left: self.retries_left as u32,
            lane: self.lane,
            gated: self.gated,
        })
    }
}

/// The `attachments` column: a JSON list of descriptions, or NULL for none.
pub fn read_attachments(text: Option<&str>) -> StoreResult<Vec<Attachment>> {
    text.map_or(Ok(Vec::new()), |t| {
        serde_json::from_str(t).map_err(|e| StoreError::Internal(format!("attachments: {e}")))
    })
}

/// The `attachments` column for an event's files: NULL when it has none.
pub fn attachments_column(files: &[NewAttachment]) -> StoreResult<Option<String>> {
    if files.is_empty() {
        return Ok(None);
    }
    let metas: Vec<&Attachment> = files.iter().map(|f| &f.meta).collect();
    to_json(&metas).map(Some)
}

/// Decodes claimed rows. A row that does not decode (corrupt or from a bug) must
/// not stop the queue: its `(event, seq)` is returned apart so the backend can
/// fail it, and the other deliveries are made.
pub fn split_claims(rows: Vec<ClaimRow>) -> (Vec<ClaimedDelivery>, Vec<(String, i64)>) {
    let (mut claimed, mut broken) = (Vec::with_capacity(rows.len()), Vec::new());
    for row in rows {
        let key = (row.id.clone(), row.seq);
        match row.into_claimed() {
            Ok(delivery) => claimed.push(delivery),
            Err(e) => {
                tracing::error!(event = %key.0, seq = key.1, error = %e, "a due delivery does not decode; marking it failed");
                broken.push(key);
            }
        }
    }
    (claimed, broken)
}

/// Columns of an attempt row.
pub struct AttemptRow {
    /// `seq`
    pub seq: i64,
    /// `attempt`
    pub attempt: i64,
    /// `leg`
    pub leg: String,
    /// `url` (masked)
    pub url: String,
    /// `started_at` (ms)
    pub started_at: i64,
    /// `duration_ms`
    pub duration_ms: i64,
    /// `http_status`
    pub http_status: Option<i64>,
    /// `error`
    pub error: Option<String>,
    /// `response`
    pub response: Option<String>,
    /// `error_detail`
    pub error_detail: Option<String>,
}

impl AttemptRow {
    /// Reads the columns of [`ATTEMPT_COLUMNS`].
    pub fn read(r: &impl Columns) -> StoreResult<Self> {
        Ok(AttemptRow {
            seq: r.int("seq")?,
            attempt: r.int("attempt")?,
            leg: r.text("leg")?,
            url: r.text("url")?,
            started_at: r.int("started_at")?,
            duration_ms: r.int("duration_ms")?,
            http_status: r.opt_int("http_status")?,
            error: r.opt_text("error")?,
            response: r.opt_text("response")?,
            error_detail: r.opt_text("error_detail")?,
        })
    }

    /// The attempt leg.
    pub fn into_leg(self) -> LegRecord {
        LegRecord {
            seq: self.seq as u32,
            attempt: self.attempt as u32,
            leg: if self.leg == "failover" {
                Leg::Failover
            } else {
                Leg::Primary
            },
            url: self.url,
            started_at: time(self.started_at),
            duration_ms: self.duration_ms as u64,
            http_status: self.http_status.map(|s| s as u16),
            error: self.error.as_deref().map(FailureKind::parse),
            error_detail: self.error_detail,
            response: self.response,
        }
    }
}

/// The derived columns of a new delivery: `target` JSON, `retries_left`,
/// `lease_ms` and `due_at`.
pub struct DeliveryColumns {
    /// `endpoint_id`
    pub endpoint_id: Option<String>,
    /// `target`
    pub target: String,
    /// `retries_left`
    pub retries_left: i64,
    /// `lease_ms`
    pub lease_ms: i64,
    /// `due_at`
    pub due_at: i64,
    /// `lane`
    pub lane: Option<String>,
}

impl DeliveryColumns {
    /// Derives the columns of `d`.
    pub fn of(d: &NewDelivery) -> StoreResult<Self> {
        Ok(DeliveryColumns {
            endpoint_id: d.target.endpoint_id.clone(),
            target: to_sealed(&d.target)?,
            retries_left: d.target.retry_schedule.retries() as i64,
            lease_ms: d.lease.as_millis() as i64,
            due_at: ms(d.due_at),
            lane: d.lane.clone(),
        })
    }
}

/// The state a manual retry that changed nothing found, from the event's
/// `status` and how many of its deliveries a node holds (`None`: no such event).
pub fn retry_refusal(row: Option<(String, i64)>) -> super::RetryOutcome {
    let state = row.and_then(|(status, held)| EventStatus::parse(&status).map(|s| (s, held > 0)));
    super::RetryOutcome::unchanged(state)
}

/// The `status`, `due_at`, `retries_left` (`None` = unchanged) and `reason` an
/// attempt's outcome writes.
pub fn next_state_columns(
    next: super::NextState,
) -> (&'static str, Option<i64>, Option<i64>, Option<&'static str>) {
    match next {
        super::NextState::Delivered => (EventStatus::Delivered.as_str(), None, None, None),
        super::NextState::Failed => (
            EventStatus::Failed.as_str(),
            None,
            None,
            Some(reason::ATTEMPTS_EXHAUSTED),
        ),
        super::NextState::RetryAt(at, left) => (
            EventStatus::Pending.as_str(),
            Some(ms(at)),
            Some(left as i64),
            None,
        ),
    }
}

/// When an attempt's requests last succeeded and failed, for the endpoint's
/// health columns (`None` = unchanged).
pub fn health_columns(report: &super::AttemptReport) -> (Option<i64>, Option<i64>) {
    let last = |ok: bool| {
        report
            .legs
            .iter()
            .filter(|l| l.succeeded() == ok)
            .map(|l| ms(l.started_at))
            .max()
    };
    (last(true), last(false))
}

/// The endpoint of a row of [`ENDPOINT_COLUMNS`].
pub fn endpoint(r: &impl Columns) -> StoreResult<Endpoint> {
    let state = r.text("state")?;
    Ok(Endpoint {
        id: r.text("id")?,
        account_id: r.text("account_id")?,
        spec: from_sealed(&r.text("spec")?)?,
        state: EndpointState::parse(&state)
            .ok_or_else(|| StoreError::Internal(format!("endpoint state `{state}` is unknown")))?,
        created_at: time(r.int("created_at")?),
        updated_at: time(r.int("updated_at")?),
        control: from_json(&r.text("control")?)?,
    })
}

/// An operational event of a row `id, event_type, payload`; `None` for a type
/// this version does not know (left in place).
pub fn notice(r: &impl Columns) -> StoreResult<Option<Notice>> {
    let event_type = r.text("event_type")?;
    let Some(known) = notice::TYPES.iter().find(|t| **t == event_type) else {
        tracing::warn!(%event_type, "an operational event of an unknown type is left unpublished");
        return Ok(None);
    };
    Ok(Some(Notice {
        id: r.text("id")?,
        event_type: known,
        payload: from_json(&r.text("payload")?)?,
    }))
}

/// A replay candidate: `id`, `event_type` and `profile_id` of an event row.
pub fn replay_candidate(r: &impl Columns) -> StoreResult<super::ReplayCandidate> {
    Ok(super::ReplayCandidate {
        id: r.text("id")?,
        event_type: r.text("event_type")?,
        profile_id: r.opt_text("profile_id")?,
    })
}

/// The job of a row of [`JOB_COLUMNS`].
pub fn job(r: &impl Columns) -> StoreResult<Job> {
    let state = r.text("state")?;
    Ok(Job {
        id: r.text("id")?,
        account_id: r.text("account_id")?,
        kind: from_json(&r.text("params")?)?,
        state: JobState::parse(&state)
            .ok_or_else(|| StoreError::Internal(format!("job state `{state}` is unknown")))?,
        progress: from_json(&r.text("progress")?)?,
        created_at: time(r.int("created_at")?),
        updated_at: time(r.int("updated_at")?),
    })
}

/// The parameters of `SELECT_EXPIRED` after the account: the first id kept
/// (events published at or after `before`) and the outcome's two state names
/// (one named twice when it has only one).
pub fn expired_bounds(
    outcome: crate::domain::retention::Outcome,
    before: DateTime<Utc>,
) -> (String, &'static str, &'static str) {
    let statuses = outcome.statuses();
    let last = statuses[statuses.len() - 1].as_str();
    (first_id_at(before), statuses[0].as_str(), last)
}

/// The smallest UUIDv7 of a time: events published at or after `t` have ids
/// at or above it (ids sort by time).
pub fn first_id_at(t: DateTime<Utc>) -> String {
    let ms = ms(t).max(0) as u64;
    format!(
        "{:08x}-{:04x}-0000-0000-000000000000",
        ms >> 16,
        ms & 0xffff
    )
}

/// Reads a row of [`sql::LIST_ACCOUNTS`](super::sql::LIST_ACCOUNTS).
pub fn account_summary(r: &impl Columns) -> StoreResult<AccountSummary> {
    Ok(AccountSummary {
        id: r.text("id")?,
        name: r.text("name")?,
        created_at: time(r.int("created_at")?),
    })
}

/// Reads a row of [`sql::RECENT_FAILURES`](super::sql::RECENT_FAILURES).
pub fn recent_failure(r: &impl Columns) -> StoreResult<RecentFailure> {
    Ok(RecentFailure {
        account_id: r.text("account_id")?,
        event_id: r.text("event_id")?,
        endpoint_id: r.opt_text("endpoint_id")?,
        attempt: r.int("attempt")? as u32,
        leg: r.text("leg")?,
        url: r.text("url")?,
        started_at: time(r.int("started_at")?),
        duration_ms: r.int("duration_ms")?.max(0) as u64,
        http_status: r.opt_int("http_status")?.map(|s| s as u16),
        error: r.opt_text("error")?.unwrap_or_default(),
    })
}

/// Reads a row of [`sql::ENDPOINT_REQUESTS`](super::sql::ENDPOINT_REQUESTS).
pub fn attempt_point(r: &impl Columns) -> StoreResult<AttemptPoint> {
    Ok(AttemptPoint {
        at: time(r.int("started_at")?),
        duration_ms: r.int("duration_ms")?.max(0) as u64,
        ok: r.int("ok")? == 1,
    })
}
