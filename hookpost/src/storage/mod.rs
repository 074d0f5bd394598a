//! Storage: one trait, [`Store`], and one module per backend. Nothing above this
//! layer knows which backend it talks to. The database is also the delivery queue:
//! a pending event *is* its queue entry, so nothing can be stranded between two
//! systems.
//!
//! Claims are leases written in the row (`due_at` pushed to the lease expiry,
//! `claimed_by` set), never locks held across an HTTP call: a node that dies
//! mid-delivery loses nothing, its events simply come due again.

pub mod postgres;
pub mod rows;
pub mod sqlite;

use crate::domain::attempt::LegRecord;
use crate::domain::event::{EventStatus, NewEvent};
use crate::domain::event_type::EventType;
use crate::domain::settings::WebhookSettings;
use crate::domain::target::Target;
use crate::secrets::SigningKeys;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use std::time::Duration;

/// Why a storage call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is overloaded; the caller may retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule was broken (an id that exists already).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Anything else: a bug or corrupt data.
    #[error("storage error: {0}")]
    Internal(String),
}

/// Result of a storage call.
pub type StoreResult<T> = Result<T, StoreError>;

/// A tenant.
#[derive(Debug, Clone)]
pub struct Account {
    /// Public id.
    pub id: String,
    /// A label for people.
    pub name: String,
    /// Account-level webhook settings.
    pub settings: WebhookSettings,
    /// Signing material.
    pub keys: SigningKeys,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A named scope inside an account, with its own settings.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Chosen by the caller.
    pub id: String,
    /// Profile-level webhook settings.
    pub settings: WebhookSettings,
    /// When it was first stored.
    pub created_at: DateTime<Utc>,
    /// When it was last replaced.
    pub updated_at: DateTime<Utc>,
}

/// An event as stored, with its delivery state.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// UUIDv7.
    pub id: String,
    /// Profile named at publish.
    pub profile_id: Option<String>,
    /// e.g. `fax.delivered`.
    pub event_type: String,
    /// As published.
    pub payload: Box<RawValue>,
    /// Per-version payloads, as published.
    pub payloads: Option<Box<RawValue>>,
    /// As published.
    pub occurred_at: String,
    /// When accepted.
    pub created_at: DateTime<Utc>,
    /// Publisher's de-duplication key.
    pub idempotency_key: Option<String>,
    /// Resolved target.
    pub target: Option<Target>,
    /// Where it stands.
    pub status: EventStatus,
    /// Attempts made so far.
    pub attempts_made: u32,
    /// Whether a node holds it right now (an attempt is being made).
    pub in_flight: bool,
    /// When the next attempt is due, while pending and not in flight.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The attempt log (filled by [`Store::event`], empty in lists).
    pub attempts: Vec<LegRecord>,
    /// What could not be decoded of the stored row, if anything.
    pub unreadable: Option<String>,
}

/// Filters and page position for [`Store::list_events`].
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only events in this state.
    pub status: Option<EventStatus>,
    /// Only this event type.
    pub event_type: Option<String>,
    /// Only this profile.
    pub profile_id: Option<String>,
    /// Only events accepted at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Events strictly older than this id (the previous page's last id).
    pub before_id: Option<String>,
    /// Page size.
    pub limit: u32,
}

/// What a publish did with one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// Stored as new.
    Created,
    /// An event with the same idempotency key exists inside the window.
    Duplicate {
        /// The first event's id.
        original_id: String,
    },
}

/// What a manual retry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    /// The event is pending again (or still), due now.
    Scheduled,
    /// The event is pending and a node is sending it right now.
    InFlight,
    /// No such event in this account.
    NotFound,
    /// The event cannot be retried in its current state.
    NotRetryable(EventStatus),
}

/// A new resolution of an event's target, for [`Store::retarget_event`].
#[derive(Debug, Clone)]
pub struct Retarget {
    /// The event.
    pub id: String,
    /// The state it must still be in.
    pub expected: EventStatus,
    /// Its new state: `pending`, `no_target` or `filtered`.
    pub status: EventStatus,
    /// Where it goes now.
    pub target: Option<Target>,
    /// The claim length for one attempt of that target.
    pub lease: Duration,
}

/// An event claimed for delivery by one node, under a lease.
#[derive(Debug, Clone)]
pub struct ClaimedEvent {
    /// Event id.
    pub id: String,
    /// Owner.
    pub account_id: String,
    /// e.g. `fax.delivered`.
    pub event_type: String,
    /// As published.
    pub payload: Box<RawValue>,
    /// Per-version payloads.
    pub payloads: Option<Box<RawValue>>,
    /// As published.
    pub occurred_at: String,
    /// Where it goes.
    pub target: Target,
    /// Attempts already made; this delivery is attempt `attempts_made + 1`.
    pub attempts_made: u32,
    /// Retries left before the event fails.
    pub retries_left: u32,
}

/// The state an attempt leaves its event in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextState {
    /// A receiver took it.
    Delivered,
    /// Try again at this time, with this many retries left after that one.
    RetryAt(DateTime<Utc>, u32),
    /// The schedule is spent.
    Failed,
}

/// The outcome of one attempt, to be written in one transaction.
#[derive(Debug, Clone)]
pub struct AttemptReport {
    /// The event.
    pub event_id: String,
    /// Attempt number (from 1).
    pub attempt: u32,
    /// Primary, then failover if it was tried.
    pub legs: Vec<LegRecord>,
    /// Where the event goes next.
    pub next: NextState,
}

/// A new account to store.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The account itself.
    pub account: Account,
    /// SHA-256 of its API key; the key itself is never stored.
    pub api_key_hash: [u8; 32],
}

/// Everything hookpost keeps. Implementations must make every write durable before
/// returning (per the configured durability) and be safe to call concurrently.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a new account.
    async fn create_account(&self, account: NewAccount) -> StoreResult<()>;
    /// The account whose API key hashes to `key_hash`.
    async fn account_by_key(&self, key_hash: [u8; 32]) -> StoreResult<Option<Account>>;
    /// One account by id.
    async fn account(&self, id: &str) -> StoreResult<Option<Account>>;
    /// Makes `key_hash` the account's API key; the old key keeps working until
    /// `keep_old_until` (or stops at once when `None`).
    async fn rotate_api_key(
        &self,
        id: &str,
        key_hash: [u8; 32],
        keep_old_until: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;
    /// Rotates an account's signing keys in one read-modify-write (so two
    /// rotations at once cannot lose one): new keys first, the current ones kept
    /// until `keep_old_until`. Answers the stored keys; `None` for no account.
    async fn rotate_signing_keys(
        &self,
        id: &str,
        keep_old_until: DateTime<Utc>,
    ) -> StoreResult<Option<SigningKeys>>;
    /// Replaces an account's webhook settings.
    async fn set_account_settings(&self, id: &str, settings: &WebhookSettings) -> StoreResult<()>;

    /// Creates or replaces a profile; answers the stored profile and whether it is new.
    async fn put_profile(
        &self,
        account_id: &str,
        id: &str,
        settings: &WebhookSettings,
    ) -> StoreResult<(Profile, bool)>;
    /// One profile.
    async fn profile(&self, account_id: &str, id: &str) -> StoreResult<Option<Profile>>;
    /// Deletes a profile; `false` if there was none.
    async fn delete_profile(&self, account_id: &str, id: &str) -> StoreResult<bool>;
    /// Profiles in id order, after `after_id`.
    async fn list_profiles(
        &self,
        account_id: &str,
        after_id: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Profile>>;

    /// Creates or replaces an event type; answers whether it is new.
    async fn put_event_type(&self, account_id: &str, event_type: &EventType) -> StoreResult<bool>;
    /// One event type.
    async fn event_type(&self, account_id: &str, name: &str) -> StoreResult<Option<EventType>>;
    /// Deletes an event type; `false` if there was none.
    async fn delete_event_type(&self, account_id: &str, name: &str) -> StoreResult<bool>;
    /// Every event type of the account, by name.
    async fn list_event_types(&self, account_id: &str) -> StoreResult<Vec<EventType>>;

    /// Stores events atomically with their idempotency keys. An event whose key was
    /// used in the same account less than `window` ago is not stored.
    async fn publish(&self, events: Vec<NewEvent>, window: Duration)
        -> StoreResult<Vec<Published>>;
    /// One event with its attempt log.
    async fn event(&self, account_id: &str, id: &str) -> StoreResult<Option<StoredEvent>>;
    /// A page of events, newest first.
    async fn list_events(
        &self,
        account_id: &str,
        filter: &EventFilter,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// Makes a failed or delivered event pending again, due now, for one attempt;
    /// makes a pending event that no node holds due now.
    async fn retry_event(&self, account_id: &str, id: &str) -> StoreResult<RetryOutcome>;
    /// Gives an event resolved anew (a `no_target` or `filtered` one) its new
    /// target and state, if it is still in state `expected`; answers whether it was.
    async fn retarget_event(&self, account_id: &str, retarget: &Retarget) -> StoreResult<bool>;

    /// Claims up to `limit` due events for `node`, each under a lease long enough
    /// for one attempt of its target.
    async fn claim_due(&self, node: &str, limit: u32) -> StoreResult<Vec<ClaimedEvent>>;
    /// Makes the events `node` had claimed due now: called when a node starts, so a
    /// restarted node does not wait out its own leases. Answers how many.
    async fn release_claims(&self, node: &str) -> StoreResult<u64>;
    /// When the earliest pending event comes due, if any.
    async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Writes an attempt and the event's next state. Ignored (answers `false`) when
    /// the attempt is stale: another node already recorded that attempt number.
    async fn record_attempt(&self, report: AttemptReport) -> StoreResult<bool>;
    /// Deletes up to `limit` idempotency keys whose window ended before `now`,
    /// oldest first; answers how many went (fewer than `limit`: none are left).
    async fn expire_idempotency_keys(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
    /// Cheap round trip, for `/healthz`.
    async fn ping(&self) -> StoreResult<()>;
}
