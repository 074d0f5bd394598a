//! Conversions between stored column values and domain types, shared by every
//! backend so that each backend holds only its SQL. Times are stored as Unix
//! milliseconds; settings, keys and targets as JSON text.

pub use super::sql::{
    ACCOUNT_COLUMNS, ATTEMPT_COLUMNS, CLAIM_COLUMNS, EVENT_COLUMNS, PROFILE_COLUMNS,
};
use super::{Account, ClaimedEvent, Profile, StoreError, StoreResult, StoredEvent};
use crate::domain::attempt::{FailureKind, Leg, LegRecord};
use crate::domain::event::EventStatus;
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

/// The stored name of a leg.
pub fn leg_name(leg: Leg) -> &'static str {
    match leg {
        Leg::Primary => "primary",
        Leg::Failover => "failover",
    }
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
            created_at: r.int("created_at")?,
        })
    }

    /// The account.
    pub fn into_account(self) -> StoreResult<Account> {
        Ok(Account {
            id: self.id,
            name: self.name,
            settings: from_json(&self.settings)?,
            keys: from_json(&self.signing_keys)?,
            created_at: time(self.created_at),
        })
    }
}

/// The profile of a row of [`PROFILE_COLUMNS`].
pub fn profile(r: &impl Columns) -> StoreResult<Profile> {
    Ok(Profile {
        id: r.text("id")?,
        settings: from_json(&r.text("settings")?)?,
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
    /// `target` (JSON)
    pub target: Option<String>,
    /// `status`
    pub status: String,
    /// `attempts_made`
    pub attempts_made: i64,
    /// `due_at` (ms)
    pub due_at: Option<i64>,
    /// `claimed_by`
    pub claimed_by: Option<String>,
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
            target: r.opt_text("target")?,
            status: r.text("status")?,
            attempts_made: r.int("attempts_made")?,
            due_at: r.opt_int("due_at")?,
            claimed_by: r.opt_text("claimed_by")?,
        })
    }

    /// The event, without its attempts. Never fails: a column that does not
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
        let target = self.target.as_deref().and_then(|t| {
            from_json::<Target>(t)
                .map_err(|e| unreadable.push(format!("target: {e}")))
                .ok()
        });
        let unreadable = (!unreadable.is_empty()).then(|| unreadable.join("; "));
        if let Some(problem) = &unreadable {
            tracing::error!(event = %self.id, %problem, "a stored event does not decode");
        }
        let pending = status == EventStatus::Pending;
        StoredEvent {
            id: self.id,
            profile_id: self.profile_id,
            event_type: self.event_type,
            payload,
            payloads,
            occurred_at: self.occurred_at,
            created_at: time(self.created_at),
            idempotency_key: self.idempotency_key,
            target,
            status,
            attempts_made: self.attempts_made as u32,
            in_flight: pending && self.claimed_by.is_some(),
            // A claimed event's due time is its lease expiry, not a next attempt.
            next_attempt_at: self
                .due_at
                .filter(|_| pending && self.claimed_by.is_none())
                .map(time),
            attempts: Vec::new(),
            unreadable,
        }
    }
}

/// Columns a claim returns.
pub struct ClaimRow {
    /// `id`
    pub id: String,
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
    /// `target` (JSON; a pending event always has one)
    pub target: Option<String>,
    /// `attempts_made`
    pub attempts_made: i64,
    /// `retries_left`
    pub retries_left: i64,
}

impl ClaimRow {
    /// Reads the columns of [`CLAIM_COLUMNS`].
    pub fn read(r: &impl Columns) -> StoreResult<Self> {
        Ok(ClaimRow {
            id: r.text("id")?,
            account_id: r.text("account_id")?,
            event_type: r.text("event_type")?,
            payload: r.text("payload")?,
            payloads: r.opt_text("payloads")?,
            occurred_at: r.text("occurred_at")?,
            target: r.opt_text("target")?,
            attempts_made: r.int("attempts_made")?,
            retries_left: r.int("retries_left")?,
        })
    }

    /// The claimed event; `None` for a row without a target (cannot be pending).
    pub fn into_claimed(self) -> StoreResult<Option<ClaimedEvent>> {
        let Some(target) = self.target else {
            return Ok(None);
        };
        Ok(Some(ClaimedEvent {
            id: self.id,
            account_id: self.account_id,
            event_type: self.event_type,
            payload: raw(self.payload)?,
            payloads: self.payloads.map(raw).transpose()?,
            occurred_at: self.occurred_at,
            target: from_json(&target)?,
            attempts_made: self.attempts_made as u32,
            retries_left: self.retries_left as u32,
        }))
    }
}

/// Decodes claimed rows. A row that does not decode (corrupt or from a bug) must
/// not stop the queue: its id is returned apart so the backend can fail it,
/// and the other events are delivered.
pub fn split_claims(rows: Vec<ClaimRow>) -> (Vec<ClaimedEvent>, Vec<String>) {
    let (mut claimed, mut broken) = (Vec::with_capacity(rows.len()), Vec::new());
    for row in rows {
        let id = row.id.clone();
        match row.into_claimed() {
            Ok(event) => claimed.extend(event),
            Err(e) => {
                tracing::error!(event = %id, error = %e, "a due event does not decode; marking it failed");
                broken.push(id);
            }
        }
    }
    (claimed, broken)
}

/// Columns of an attempt row.
pub struct AttemptRow {
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

/// The derived columns of a new event: `target` JSON, `retries_left`, `lease_ms`
/// and `due_at` (only while pending).
pub struct NewEventColumns {
    /// `target`
    pub target: Option<String>,
    /// `retries_left`
    pub retries_left: i64,
    /// `lease_ms`
    pub lease_ms: i64,
    /// `due_at`
    pub due_at: Option<i64>,
}

impl NewEventColumns {
    /// Derives the columns of `e`.
    pub fn of(e: &crate::domain::event::NewEvent) -> StoreResult<Self> {
        Self::derive(e.target.as_ref(), e.status, e.lease, e.due_at)
    }

    /// Derives the columns of an event resolved anew, due now if pending.
    pub fn of_retarget(r: &super::Retarget) -> StoreResult<Self> {
        Self::derive(r.target.as_ref(), r.status, r.lease, Utc::now())
    }

    fn derive(
        target: Option<&Target>,
        status: EventStatus,
        lease: std::time::Duration,
        due_at: DateTime<Utc>,
    ) -> StoreResult<Self> {
        Ok(NewEventColumns {
            target: target.map(to_json).transpose()?,
            retries_left: target.map_or(0, |t| t.retry_schedule.retries()) as i64,
            lease_ms: lease.as_millis() as i64,
            due_at: (status == EventStatus::Pending).then_some(ms(due_at)),
        })
    }
}

/// The state a manual retry that changed nothing found, from the event's
/// `status` and `claimed_by` columns (`None`: no such event).
pub fn retry_refusal(row: Option<(String, Option<String>)>) -> super::RetryOutcome {
    let state = row.and_then(|(status, claimed_by)| {
        EventStatus::parse(&status).map(|s| (s, claimed_by.is_some()))
    });
    super::RetryOutcome::unchanged(state)
}

/// The `status`, `due_at` and `retries_left` (`None` = unchanged) an attempt's
/// outcome writes.
pub fn next_state_columns(next: super::NextState) -> (&'static str, Option<i64>, Option<i64>) {
    match next {
        super::NextState::Delivered => (EventStatus::Delivered.as_str(), None, None),
        super::NextState::Failed => (EventStatus::Failed.as_str(), None, None),
        super::NextState::RetryAt(at, left) => (
            EventStatus::Pending.as_str(),
            Some(ms(at)),
            Some(left as i64),
        ),
    }
}
