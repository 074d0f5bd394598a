//! How stored things are shown: the JSON shapes of the API. URLs are always shown
//! masked here, which is why targets and settings are never serialized directly.

use crate::app::publish::Outcome;
use crate::domain::attempt::FailureKind;
use crate::domain::attempt::LegRecord;
use crate::domain::control::DisableReason;
use crate::domain::delivery::DeliveryStatus;
use crate::domain::duration::HumanDuration;
use crate::domain::endpoint::{
    CustomHeaders, DeliveryCounts, EndpointState, EventTypePattern, RateLimit,
};
use crate::domain::event::EventStatus;
use crate::domain::job::{JobKind, JobProgress, JobState};
use crate::domain::settings::Settings;
use crate::domain::target::{Level, Target};
use crate::storage::{
    Account, DeliveryRecord, Endpoint, EndpointStats, Job, Profile, Removed, StoredEvent,
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

/// RFC 3339 with milliseconds, UTC.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A resolved target as shown.
#[derive(Serialize, ToSchema)]
pub struct TargetView {
    webhook_url: String,
    #[schema(required = true)]
    webhook_failover_url: Option<String>,
    level: Level,
    format: crate::domain::settings::Format,
    form_fields: crate::domain::settings::FormFields,
    signatures: Vec<crate::domain::settings::SignatureScheme>,
    inflight: bool,
    #[schema(required = true)]
    version: Option<String>,
    retry_schedule: crate::domain::retry::RetrySchedule,
    timeout: crate::domain::duration::HumanDuration,
    success: crate::domain::settings::Success,
}

impl From<&Target> for TargetView {
    fn from(t: &Target) -> Self {
        TargetView {
            webhook_url: t.primary.masked(),
            webhook_failover_url: t.failover.as_ref().map(|u| u.masked()),
            level: t.level,
            format: t.format,
            form_fields: t.form_fields,
            signatures: t.signatures.clone(),
            inflight: t.inflight,
            version: t.version.clone(),
            retry_schedule: t.retry_schedule.clone(),
            timeout: t.timeout,
            success: t.success,
        }
    }
}

/// An event as shown, with its deliveries, and its attempt log when read one at
/// a time.
#[derive(Serialize, ToSchema)]
pub struct EventView<'a> {
    id: &'a str,
    event_type: &'a str,
    #[schema(value_type = EventStatus)]
    status: &'static str,
    #[schema(required = true)]
    profile_id: Option<&'a str>,
    #[schema(format = DateTime)]
    occurred_at: &'a str,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(value_type = Object)]
    payload: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = std::collections::HashMap<String, Object>)]
    payloads: Option<&'a RawValue>,
    #[schema(required = true)]
    idempotency_key: Option<&'a str>,
    #[schema(required = true)]
    ordering_key: Option<&'a str>,
    /// The files published with it (their descriptions; the bytes are in
    /// deliveries and download links).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    #[schema(value_type = Vec<crate::domain::attachment::Attachment>)]
    attachments: &'a [crate::domain::attachment::Attachment],
    /// The delivery of the level's `webhook_url` settings, if it has one.
    #[schema(required = true)]
    target: Option<TargetView>,
    deliveries: Vec<DeliveryView<'a>>,
    attempts_made: u32,
    in_flight: bool,
    #[schema(required = true, format = DateTime)]
    next_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    attempts: Option<Vec<AttemptView<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    unreadable: Option<&'a str>,
}

impl<'a> EventView<'a> {
    /// The event; `with_attempts` adds its attempt log.
    pub fn new(e: &'a StoredEvent, with_attempts: bool) -> Self {
        let endpoint_of = |seq: u32| {
            e.deliveries
                .iter()
                .find(|d| d.seq == seq)
                .and_then(DeliveryRecord::endpoint_id)
        };
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
            ordering_key: e.ordering_key.as_deref(),
            attachments: &e.attachments,
            target: e.settings_target().map(TargetView::from),
            deliveries: e.deliveries.iter().map(DeliveryView::from).collect(),
            attempts_made: e.attempts_made(),
            in_flight: e.in_flight(),
            next_attempt_at: e.next_attempt_at().map(timestamp),
            attempts: with_attempts.then(|| {
                e.attempts
                    .iter()
                    .map(|a| AttemptView::new(a, endpoint_of(a.seq)))
                    .collect()
            }),
            unreadable: e.unreadable.as_deref(),
        }
    }
}

/// One delivery of an event as shown.
#[derive(Serialize, ToSchema)]
pub struct DeliveryView<'a> {
    seq: u32,
    #[schema(required = true)]
    endpoint_id: Option<&'a str>,
    #[schema(required = true)]
    webhook_url: Option<String>,
    #[schema(required = true)]
    webhook_failover_url: Option<String>,
    #[schema(required = true)]
    level: Option<Level>,
    #[schema(value_type = DeliveryStatus)]
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    reason: Option<&'a str>,
    attempts_made: u32,
    in_flight: bool,
    #[schema(required = true, format = DateTime)]
    next_attempt_at: Option<String>,
    /// Why delivery control holds it back without an attempt, if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    held: Option<&'a str>,
}

impl<'a> From<&'a DeliveryRecord> for DeliveryView<'a> {
    fn from(d: &'a DeliveryRecord) -> Self {
        DeliveryView {
            seq: d.seq,
            endpoint_id: d.endpoint_id(),
            webhook_url: d.target.as_ref().map(|t| t.primary.masked()),
            webhook_failover_url: d
                .target
                .as_ref()
                .and_then(|t| t.failover.as_ref())
                .map(|u| u.masked()),
            level: d.target.as_ref().map(|t| t.level),
            status: d.status.as_str(),
            reason: d.reason.as_deref(),
            attempts_made: d.attempts_made,
            in_flight: d.in_flight,
            next_attempt_at: d.next_attempt_at.map(timestamp),
            held: d.held.as_deref(),
        }
    }
}

/// A delivery as a publish answer lists it: where it goes.
#[derive(Serialize, ToSchema)]
pub struct PlannedDeliveryView<'a> {
    #[schema(required = true)]
    endpoint_id: Option<&'a str>,
    webhook_url: String,
    #[schema(required = true)]
    webhook_failover_url: Option<String>,
    level: Level,
}

impl<'a> From<&'a Target> for PlannedDeliveryView<'a> {
    fn from(t: &'a Target) -> Self {
        PlannedDeliveryView {
            endpoint_id: t.endpoint_id.as_deref(),
            webhook_url: t.primary.masked(),
            webhook_failover_url: t.failover.as_ref().map(|u| u.masked()),
            level: t.level,
        }
    }
}

/// One request of the attempt log as shown (the URL is stored masked already).
#[derive(Serialize, ToSchema)]
pub struct AttemptView<'a> {
    seq: u32,
    #[schema(required = true)]
    endpoint_id: Option<&'a str>,
    attempt: u32,
    leg: crate::domain::attempt::Leg,
    url: &'a str,
    #[schema(format = DateTime)]
    started_at: String,
    duration_ms: u64,
    #[schema(required = true)]
    http_status: Option<u16>,
    #[schema(required = true, value_type = Option<FailureKind>)]
    error: Option<&'static str>,
    #[schema(required = true)]
    error_detail: Option<&'a str>,
    #[schema(required = true)]
    response: Option<&'a str>,
}

impl<'a> AttemptView<'a> {
    /// A request of the delivery that went to `endpoint_id`.
    fn new(r: &'a LegRecord, endpoint_id: Option<&'a str>) -> Self {
        AttemptView {
            seq: r.seq,
            endpoint_id,
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
#[derive(Serialize, ToSchema)]
pub struct ProfileView<'a> {
    id: &'a str,
    settings: Settings<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
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
#[derive(Serialize, ToSchema)]
pub struct Page<T: Serialize + ToSchema> {
    /// The items.
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last one.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// A list without paging: `{"data": [...]}`.
#[derive(Serialize, ToSchema)]
pub struct List<T: Serialize + ToSchema> {
    /// The items.
    pub data: Vec<T>,
}

/// An account as shown; `api_key` only in the answer that created it.
#[derive(Serialize, ToSchema)]
pub struct AccountView<'a> {
    id: &'a str,
    name: &'a str,
    settings: Settings<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
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

/// What one published event became: the same shape for a new event and for
/// a duplicate (which shows the first event as it stands).
#[derive(Serialize, ToSchema)]
pub struct PublishedView<'a> {
    /// The event's id (a duplicate's: the first event's).
    id: &'a str,
    /// `pending`, `no_target` or `filtered` for a new event; a duplicate's
    /// first event's status now.
    #[schema(value_type = EventStatus)]
    status: &'static str,
    /// Whether the idempotency key was used already.
    duplicate: bool,
    /// The delivery of the level's `webhook_url` settings; `null` when there
    /// is none (no target, or endpoints only).
    #[schema(required = true)]
    target: Option<TargetView>,
    /// Every delivery: endpoint (`null` for the settings URL), masked URLs,
    /// level.
    deliveries: Vec<PlannedDeliveryView<'a>>,
}

impl<'a> From<&'a Outcome> for PublishedView<'a> {
    fn from(outcome: &'a Outcome) -> Self {
        let (id, status, duplicate, targets) = match outcome {
            Outcome::Accepted {
                id,
                status,
                targets,
                ..
            } => (id, status, false, targets),
            Outcome::Duplicate {
                id,
                status,
                targets,
            } => (id, status, true, targets),
        };
        PublishedView {
            id,
            status: status.as_str(),
            duplicate,
            target: targets
                .iter()
                .find(|t| t.endpoint_id.is_none())
                .map(TargetView::from),
            deliveries: targets.iter().map(PlannedDeliveryView::from).collect(),
        }
    }
}

/// An endpoint as shown (URLs masked).
#[derive(Serialize, ToSchema)]
pub struct EndpointView<'a> {
    id: &'a str,
    url: String,
    #[schema(required = true)]
    failover_url: Option<String>,
    #[schema(required = true)]
    profile_id: Option<&'a str>,
    #[schema(value_type = Vec<EventTypePattern>)]
    event_types: &'a [EventTypePattern],
    #[schema(required = true)]
    description: Option<&'a str>,
    #[schema(value_type = CustomHeaders)]
    headers: &'a CustomHeaders,
    settings: Settings<String>,
    #[schema(required = true)]
    max_in_flight: Option<u32>,
    #[schema(required = true, value_type = Option<RateLimit>)]
    rate_limit: Option<String>,
    #[schema(required = true, value_type = Option<HumanDuration>)]
    disable_after: Option<String>,
    #[schema(value_type = EndpointState)]
    state: &'static str,
    control: ControlView,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// An endpoint's delivery control as shown: its breaker, any pause or cut
/// concurrency in force, and why it was disabled.
#[derive(Serialize, ToSchema)]
pub struct ControlView {
    breaker: Breaker,
    failure_streak: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = DateTime)]
    breaker_opened_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = DateTime)]
    next_probe_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = DateTime)]
    paused_until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    allowed_in_flight: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = DisableReason)]
    disabled_reason: Option<&'static str>,
}

/// Whether an endpoint's breaker holds its deliveries back.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Breaker {
    /// Deliveries go.
    Closed,
    /// Failures opened it: one probe at a time until one succeeds.
    Open,
}

impl ControlView {
    fn of(e: &Endpoint) -> Self {
        let c = &e.control;
        let now = Utc::now();
        ControlView {
            breaker: if c.breaker.is_some() {
                Breaker::Open
            } else {
                Breaker::Closed
            },
            failure_streak: c.failure_streak,
            breaker_opened_at: c.breaker.map(|b| timestamp(b.opened_at)),
            next_probe_at: c.breaker.map(|b| timestamp(b.probe_at)),
            paused_until: c.paused_until.filter(|t| *t > now).map(timestamp),
            allowed_in_flight: c.allowed_in_flight,
            disabled_reason: c
                .disabled_reason
                .filter(|_| e.state == EndpointState::Disabled)
                .map(|r| r.as_str()),
        }
    }
}

impl<'a> From<&'a Endpoint> for EndpointView<'a> {
    fn from(e: &'a Endpoint) -> Self {
        let spec = &e.spec;
        EndpointView {
            id: &e.id,
            url: spec.url.masked(),
            failover_url: spec.failover_url.as_ref().map(|u| u.masked()),
            profile_id: spec.profile_id.as_deref(),
            event_types: &spec.event_types,
            description: spec.description.as_deref(),
            headers: &spec.headers,
            settings: spec.settings.masked(),
            max_in_flight: spec.max_in_flight,
            rate_limit: spec.rate_limit.map(|r| r.to_string()),
            disable_after: spec.disable_after.map(|d| d.to_string()),
            state: e.state.as_str(),
            control: ControlView::of(e),
            created_at: timestamp(e.created_at),
            updated_at: timestamp(e.updated_at),
        }
    }
}

/// An endpoint's recent deliveries and state.
#[derive(Serialize, ToSchema)]
pub struct EndpointStatsView<'a> {
    id: &'a str,
    #[schema(value_type = EndpointState)]
    state: &'static str,
    control: ControlView,
    last_hour: DeliveryCounts,
    last_day: DeliveryCounts,
    #[schema(required = true, format = DateTime)]
    last_success_at: Option<String>,
    #[schema(required = true, format = DateTime)]
    last_failure_at: Option<String>,
}

impl<'a> EndpointStatsView<'a> {
    /// The stats of `endpoint`.
    pub fn new(endpoint: &'a Endpoint, stats: &EndpointStats) -> Self {
        EndpointStatsView {
            id: &endpoint.id,
            state: endpoint.state.as_str(),
            control: ControlView::of(endpoint),
            last_hour: stats.last_hour,
            last_day: stats.last_day,
            last_success_at: stats.last_success_at.map(timestamp),
            last_failure_at: stats.last_failure_at.map(timestamp),
        }
    }
}

/// A job as shown: what it does, where it stands, how far it got.
#[derive(Serialize, ToSchema)]
pub struct JobView<'a> {
    id: &'a str,
    #[serde(flatten)]
    #[schema(value_type = JobKind)]
    kind: &'a JobKind,
    #[schema(value_type = JobState)]
    state: &'static str,
    #[schema(value_type = JobProgress)]
    progress: &'a JobProgress,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

impl<'a> From<&'a Job> for JobView<'a> {
    fn from(j: &'a Job) -> Self {
        JobView {
            id: &j.id,
            kind: &j.kind,
            state: j.state.as_str(),
            progress: &j.progress,
            created_at: timestamp(j.created_at),
            updated_at: timestamp(j.updated_at),
        }
    }
}

/// An event's id and where it stands, after a retry by hand.
#[derive(Serialize, ToSchema)]
pub struct EventStateView<'a> {
    /// The event.
    pub id: &'a str,
    /// Its status now.
    #[schema(value_type = EventStatus)]
    pub status: &'static str,
}

/// One set of verification keys (the current, or the previous during a rotation).
#[derive(Serialize, ToSchema)]
pub struct KeySetView {
    /// Standard Webhooks HMAC secret (`whsec_…`).
    #[schema(required = true)]
    pub webhook_secret: Option<String>,
    /// Ed25519 public key, base64 (Telnyx-style).
    #[schema(required = true)]
    pub public_key: Option<String>,
    /// The same key as Standard Webhooks writes it (`whpk_…`).
    #[schema(required = true)]
    pub standard_public_key: Option<String>,
    /// Phaxio-style callback token.
    #[schema(required = true)]
    pub callback_token: Option<String>,
}

/// The keys receivers verify with, and the previous ones while they still sign.
#[derive(Serialize, ToSchema)]
pub struct KeysView {
    /// The newest keys.
    #[serde(flatten)]
    pub current: KeySetView,
    /// The previous keys, during a rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub previous: Option<PreviousKeysView>,
}

/// The previous keys and until when they sign.
#[derive(Serialize, ToSchema)]
pub struct PreviousKeysView {
    /// The keys.
    #[serde(flatten)]
    pub keys: KeySetView,
    /// When they stop signing.
    #[schema(format = DateTime)]
    pub valid_until: String,
}

/// A new API key (shown once).
#[derive(Serialize, ToSchema)]
pub struct ApiKeyView<'a> {
    /// The key.
    pub api_key: &'a str,
    /// Until when the old key keeps working, if it does.
    #[schema(required = true, format = DateTime)]
    pub previous_key_valid_until: Option<String>,
}

/// A deleted event: its id and what went with it.
#[derive(Serialize, ToSchema)]
pub struct DeletedView<'a> {
    /// The event.
    pub id: &'a str,
    /// The event, its deliveries and its attempts.
    pub removed: Removed,
}

/// A master key rotation: the new key's id and the values sealed again under
/// it, by `table.column`.
#[derive(Serialize, ToSchema)]
pub struct RotationView {
    /// The id sealed values now name.
    pub key_id: String,
    /// Values sealed again, per column.
    #[schema(value_type = std::collections::BTreeMap<String, u64>)]
    pub resealed: std::collections::BTreeMap<&'static str, u64>,
}

/// A portal link: the URL to hand a customer, and when it stops working.
#[derive(Serialize, ToSchema)]
pub struct PortalLinkView {
    /// Opens the console on the account (or the profile).
    pub url: String,
    /// When the link stops working.
    pub expires_at: String,
    /// The one profile it shows, if any.
    pub profile_id: Option<String>,
    /// Whether it may change nothing.
    pub read_only: bool,
}

/// When an account's portal links were revoked.
#[derive(Serialize, ToSchema)]
pub struct RevokedView {
    /// Links made until this time no longer work.
    pub revoked_at: String,
}
