//! How stored things are shown: the JSON shapes of the API. URLs are always shown
//! masked here, which is why targets and settings are never serialized directly.

use crate::app::publish::Outcome;
use crate::domain::attempt::LegRecord;
use crate::domain::settings::Settings;
use crate::domain::target::{Level, Target};
use crate::storage::{Account, Profile, StoredEvent};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::value::RawValue;

/// RFC 3339 with milliseconds, UTC.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A resolved target as shown.
#[derive(Serialize)]
pub struct TargetView {
    webhook_url: String,
    webhook_failover_url: Option<String>,
    level: Level,
    format: crate::domain::settings::Format,
    signatures: Vec<crate::domain::settings::SignatureScheme>,
    inflight: bool,
    version: Option<String>,
    retry_schedule: crate::domain::retry::RetrySchedule,
    timeout: crate::domain::duration::HumanDuration,
}

impl From<&Target> for TargetView {
    fn from(t: &Target) -> Self {
        TargetView {
            webhook_url: t.primary.masked(),
            webhook_failover_url: t.failover.as_ref().map(|u| u.masked()),
            level: t.level,
            format: t.format,
            signatures: t.signatures.clone(),
            inflight: t.inflight,
            version: t.version.clone(),
            retry_schedule: t.retry_schedule.clone(),
            timeout: t.timeout,
        }
    }
}

/// An event as shown, with its attempt log when read one at a time.
#[derive(Serialize)]
pub struct EventView<'a> {
    id: &'a str,
    event_type: &'a str,
    status: &'static str,
    profile_id: Option<&'a str>,
    occurred_at: &'a str,
    created_at: String,
    payload: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    payloads: Option<&'a RawValue>,
    idempotency_key: Option<&'a str>,
    target: Option<TargetView>,
    attempts_made: u32,
    in_flight: bool,
    next_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts: Option<Vec<AttemptView<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unreadable: Option<&'a str>,
}

impl<'a> EventView<'a> {
    /// The event; `with_attempts` adds its attempt log.
    pub fn new(e: &'a StoredEvent, with_attempts: bool) -> Self {
        EventView {
            id: &e.id,
            event_type: &e.event_type,
            status: e.status.as_str(),
            profile_id: e.profile_id.as_deref(),
            occurred_at: &e.occurred_at,
            created_at: timestamp(e.created_at),
            payload: &e.payload,
            payloads: e.payloads.as_deref(),
            idempotency_key: e.idempotency_key.as_deref(),
            target: e.target.as_ref().map(TargetView::from),
            attempts_made: e.attempts_made,
            in_flight: e.in_flight,
            next_attempt_at: e.next_attempt_at.map(timestamp),
            attempts: with_attempts.then(|| e.attempts.iter().map(AttemptView::from).collect()),
            unreadable: e.unreadable.as_deref(),
        }
    }
}

/// One request of the attempt log as shown (the URL is stored masked already).
#[derive(Serialize)]
pub struct AttemptView<'a> {
    attempt: u32,
    leg: crate::domain::attempt::Leg,
    url: &'a str,
    started_at: String,
    duration_ms: u64,
    http_status: Option<u16>,
    error: Option<&'static str>,
    error_detail: Option<&'a str>,
    response: Option<&'a str>,
}

impl<'a> From<&'a LegRecord> for AttemptView<'a> {
    fn from(r: &'a LegRecord) -> Self {
        AttemptView {
            attempt: r.attempt,
            leg: r.leg,
            url: &r.url,
            started_at: timestamp(r.started_at),
            duration_ms: r.duration_ms,
            http_status: r.http_status,
            error: r.error.map(|k| k.as_str()),
            error_detail: r.error_detail.as_deref(),
            response: r.response.as_deref(),
        }
    }
}

/// A profile as shown.
#[derive(Serialize)]
pub struct ProfileView<'a> {
    id: &'a str,
    settings: Settings<String>,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a Profile> for ProfileView<'a> {
    fn from(p: &'a Profile) -> Self {
        ProfileView {
            id: &p.id,
            settings: p.settings.masked(),
            created_at: timestamp(p.created_at),
            updated_at: timestamp(p.updated_at),
        }
    }
}

/// A page of a list: its items and the cursor of the next page, if any.
#[derive(Serialize)]
pub struct Page<T: Serialize> {
    /// The items.
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

/// A list without paging: `{"data": [...]}`.
#[derive(Serialize)]
pub struct List<T: Serialize> {
    /// The items.
    pub data: Vec<T>,
}

/// An account as shown; `api_key` only in the answer that created it.
#[derive(Serialize)]
pub struct AccountView<'a> {
    id: &'a str,
    name: &'a str,
    settings: Settings<String>,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<String>,
}

impl<'a> AccountView<'a> {
    /// The account; `api_key` is shown once, at creation.
    pub fn new(a: &'a Account, api_key: Option<String>) -> Self {
        AccountView {
            id: &a.id,
            name: &a.name,
            settings: a.settings.masked(),
            created_at: timestamp(a.created_at),
            api_key,
        }
    }
}

/// What one published event became.
#[derive(Serialize)]
#[serde(untagged)]
pub enum PublishedView<'a> {
    /// Stored.
    Accepted {
        /// The new event's id.
        id: &'a str,
        /// `pending`, `no_target` or `filtered`.
        status: &'static str,
        /// Always `false` here.
        duplicate: bool,
        /// Where it goes; `null` for `no_target`.
        target: Option<TargetView>,
    },
    /// Same idempotency key inside the window.
    Duplicate {
        /// The first event's id.
        id: &'a str,
        /// Always `true` here.
        duplicate: bool,
    },
}

impl<'a> From<&'a Outcome> for PublishedView<'a> {
    fn from(outcome: &'a Outcome) -> Self {
        match outcome {
            Outcome::Accepted { id, status, target } => PublishedView::Accepted {
                id,
                status: status.as_str(),
                duplicate: false,
                target: target.as_deref().map(TargetView::from),
            },
            Outcome::Duplicate { id } => PublishedView::Duplicate {
                id,
                duplicate: true,
            },
        }
    }
}

/// An event's id and where it stands, after a retry by hand.
#[derive(Serialize)]
pub struct EventStateView<'a> {
    /// The event.
    pub id: &'a str,
    /// Its status now.
    pub status: &'static str,
}

/// One set of verification keys (the current, or the previous during a rotation).
#[derive(Serialize)]
pub struct KeySetView {
    /// Standard Webhooks HMAC secret (`whsec_…`).
    pub webhook_secret: Option<String>,
    /// Ed25519 public key, base64 (Telnyx-style).
    pub public_key: Option<String>,
    /// The same key as Standard Webhooks writes it (`whpk_…`).
    pub standard_public_key: Option<String>,
    /// Phaxio-style callback token.
    pub callback_token: Option<String>,
}

/// The keys receivers verify with, and the previous ones while they still sign.
#[derive(Serialize)]
pub struct KeysView {
    /// The newest keys.
    #[serde(flatten)]
    pub current: KeySetView,
    /// The previous keys, during a rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousKeysView>,
}

/// The previous keys and until when they sign.
#[derive(Serialize)]
pub struct PreviousKeysView {
    /// The keys.
    #[serde(flatten)]
    pub keys: KeySetView,
    /// When they stop signing.
    pub valid_until: String,
}

/// A new API key (shown once).
#[derive(Serialize)]
pub struct ApiKeyView<'a> {
    /// The key.
    pub api_key: &'a str,
    /// Until when the old key keeps working, if it does.
    pub previous_key_valid_until: Option<String>,
}
