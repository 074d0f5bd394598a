//! Storage: one trait, [`Store`], and one module per backend. Nothing above this
//! layer knows which backend it talks to. The database is also the delivery queue:
//! a pending delivery (one event to one destination) *is* its queue entry, so
//! nothing can be stranded between two systems.
//!
//! Claims are leases written in the row (`due_at` pushed to the lease expiry,
//! `claimed_by` set), never locks held across an HTTP call: a node that dies
//! mid-delivery loses nothing, its deliveries simply come due again.

pub mod control;
pub mod postgres;
pub mod rows;
pub mod sealed;
pub mod sql;
pub mod sqlite;

use crate::domain::attachment::Attachment;
use crate::domain::event::NewEvent;
use crate::domain::event_type::EventType;
use crate::domain::settings::WebhookSettings;
use crate::secrets::SigningKeys;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
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

/// How hard a commit is pushed to disk (the embedded store's choice; PostgreSQL
/// follows its own `synchronous_commit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// Every commit is flushed before it is acknowledged: survives power loss.
    Full,
    /// Commits reach the OS but are not flushed: survives a crash of hookpost,
    /// not of the machine.
    Process,
}

/// Which backend keeps everything, and where.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// One SQLite file in a data directory, for one process.
    Embedded {
        /// The data directory (created 0700).
        data_dir: std::path::PathBuf,
        /// How hard commits are flushed.
        durability: Durability,
    },
    /// A PostgreSQL database, shared by any number of nodes.
    Postgres {
        /// `postgres://…` (never printed: it may hold a password).
        url: crate::secrets::Secret,
        /// Connections per node.
        pool_size: usize,
    },
}

impl StoreConfig {
    /// Reads the `--data-dir`/`--database` pair of the command line: an empty
    /// database URL means the embedded store.
    pub fn from_flags(
        data_dir: &std::path::Path,
        database_url: &str,
        durability: Durability,
        pool_size: usize,
    ) -> Result<StoreConfig, String> {
        if database_url.is_empty() {
            return Ok(StoreConfig::Embedded {
                data_dir: data_dir.to_path_buf(),
                durability,
            });
        }
        if !database_url.starts_with("postgres://") && !database_url.starts_with("postgresql://") {
            return Err("--database must be empty (embedded store) or a postgres:// URL".into());
        }
        Ok(StoreConfig::Postgres {
            url: crate::secrets::Secret::new(database_url),
            pool_size,
        })
    }

    /// Whether several processes can share this store.
    pub fn is_shared(&self) -> bool {
        matches!(self, StoreConfig::Postgres { .. })
    }

    /// Opens the store (applying migrations).
    pub async fn open(&self) -> StoreResult<std::sync::Arc<dyn Store>> {
        Ok(match self {
            StoreConfig::Embedded {
                data_dir,
                durability,
            } => std::sync::Arc::new(sqlite::SqliteStore::open(data_dir, *durability)?),
            StoreConfig::Postgres { url, pool_size } => {
                std::sync::Arc::new(postgres::PostgresStore::open(url.expose(), *pool_size).await?)
            }
        })
    }

    /// The ids of the master keys that sealed the database's secrets, read
    /// without changing anything (no migration, no lock, no write-ahead log
    /// folded in): what a starting server checks its master key against
    /// before it opens the store. Empty for a new database.
    pub async fn master_key_ids(&self) -> StoreResult<Vec<String>> {
        match self {
            StoreConfig::Embedded { data_dir, .. } => sqlite::master_key_ids(data_dir),
            StoreConfig::Postgres { url, .. } => {
                postgres::PostgresStore::connect(url.expose(), 1)?
                    .master_key_ids()
                    .await
            }
        }
    }

    /// Applies pending migrations only; answers how many ran.
    pub async fn migrate(&self) -> StoreResult<usize> {
        match self {
            StoreConfig::Embedded { data_dir, .. } => sqlite::SqliteStore::migrate_only(data_dir),
            StoreConfig::Postgres { url, .. } => {
                postgres::PostgresStore::connect(url.expose(), 1)?
                    .migrate()
                    .await
            }
        }
    }
}

/// Result of a storage call.
pub type StoreResult<T> = Result<T, StoreError>;

// The entities live in the domain; storage only keeps and fetches them.
pub use crate::domain::account::{Account, NewAccount, Profile};
pub use crate::domain::control::ControlPolicy;
pub use crate::domain::delivery::{
    AttemptReport, ClaimedDelivery, DeliveryRecord, NewDelivery, NextState, QueueDepth,
};
pub use crate::domain::endpoint::{Endpoint, EndpointState, EndpointStats, EndpointTally};
pub use crate::domain::event_log::{
    EventFilter, Published, Removed, Retarget, RetryOutcome, StoredEvent,
};
pub use crate::domain::job::{Job, JobProgress, JobState, ReplayCandidate};
pub use crate::domain::notice::Notice;
pub use crate::domain::overview::{AccountSummary, RecentFailure};
pub use crate::domain::retention::{Outcome, RetentionOverride};
pub use crate::domain::series::AttemptPoint;
pub use control::Admitted;

/// Tenants: their API keys (as hashes), signing keys and account-level settings.
#[async_trait]
pub trait Accounts: Send + Sync {
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
    /// rotations at once cannot lose one): `fresh` keys first, the current ones
    /// kept until `keep_old_until` ([`SigningKeys::rotated`]). Answers the stored
    /// keys; `None` for no account.
    async fn rotate_signing_keys(
        &self,
        id: &str,
        fresh: SigningKeys,
        keep_old_until: DateTime<Utc>,
    ) -> StoreResult<Option<SigningKeys>>;
    /// Replaces an account's webhook settings.
    async fn set_account_settings(&self, id: &str, settings: &WebhookSettings) -> StoreResult<()>;
}

/// Named scopes inside an account, each with its own settings.
#[async_trait]
pub trait Profiles: Send + Sync {
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
}

/// Registered event types: category and payload schema.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// Creates or replaces an event type; answers whether it is new.
    async fn put_event_type(&self, account_id: &str, event_type: &EventType) -> StoreResult<bool>;
    /// One event type.
    async fn event_type(&self, account_id: &str, name: &str) -> StoreResult<Option<EventType>>;
    /// Deletes an event type; `false` if there was none.
    async fn delete_event_type(&self, account_id: &str, name: &str) -> StoreResult<bool>;
    /// Every event type of the account, by name.
    async fn list_event_types(&self, account_id: &str) -> StoreResult<Vec<EventType>>;
}

/// Events as published, with their state and attempt log, for reading and listing.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Stores events atomically with their idempotency keys. An event whose key was
    /// used in the same account less than `window` ago is not stored.
    async fn publish(&self, events: Vec<NewEvent>, window: Duration)
        -> StoreResult<Vec<Published>>;
    /// One event with its attempt log.
    async fn event(&self, account_id: &str, id: &str) -> StoreResult<Option<StoredEvent>>;
    /// A page of events, newest first (oldest first when the filter says so).
    async fn list_events(
        &self,
        account_id: &str,
        filter: &EventFilter,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// Makes a failed or delivered event pending again, due now, for one attempt;
    /// makes a pending event that no node holds due now.
    async fn retry_event(&self, account_id: &str, id: &str) -> StoreResult<RetryOutcome>;
    /// Gives an event resolved anew (a `no_target` or `filtered` one) its new
    /// deliveries and state, if it is still in state `expected`; answers whether it was.
    async fn retarget_event(&self, account_id: &str, retarget: &Retarget) -> StoreResult<bool>;
    /// Adds a delivery to a stored event, due now, unless the event has one to
    /// the same endpoint already; the event becomes pending. Answers whether
    /// it was added.
    async fn add_delivery(&self, event_id: &str, delivery: NewDelivery) -> StoreResult<bool>;
    /// Up to `limit` events published in `[since, until)` after event
    /// `after_id` (`""`: from the start), in publish order.
    async fn replay_candidates(
        &self,
        account_id: &str,
        after_id: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ReplayCandidate>>;
}

/// Endpoints: the destinations an account keeps.
#[async_trait]
pub trait Endpoints: Send + Sync {
    /// Stores a new endpoint.
    async fn create_endpoint(&self, endpoint: &Endpoint) -> StoreResult<()>;
    /// One endpoint.
    async fn endpoint(&self, account_id: &str, id: &str) -> StoreResult<Option<Endpoint>>;
    /// Endpoints in id order after `after_id`, only those bound to `profile_id`
    /// when given.
    async fn list_endpoints(
        &self,
        account_id: &str,
        profile_id: Option<&str>,
        after_id: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Endpoint>>;
    /// The endpoints bound to `profile_id`, or (`None`) to no profile: the
    /// candidates of one level of resolution.
    async fn level_endpoints(
        &self,
        account_id: &str,
        profile_id: Option<&str>,
    ) -> StoreResult<Vec<Endpoint>>;
    /// How many endpoints the account has.
    async fn count_endpoints(&self, account_id: &str) -> StoreResult<u64>;
    /// Replaces an endpoint's spec (and profile binding); `false` if there is none.
    async fn update_endpoint(&self, endpoint: &Endpoint) -> StoreResult<bool>;
    /// Sets an endpoint's state; `false` if there is none. Disabling parks its
    /// pending deliveries (`paused`); enabling resumes them, due now, and
    /// forgets its delivery control's reactions (breaker, pause, cut
    /// concurrency). A change is told to the operator under `policy`.
    async fn set_endpoint_state(
        &self,
        account_id: &str,
        id: &str,
        state: EndpointState,
        policy: &ControlPolicy,
    ) -> StoreResult<bool>;
    /// Deletes an endpoint and stops its pending deliveries (`failed`, reason
    /// `endpoint_deleted`); answers how many stopped, `None` if there was none.
    async fn delete_endpoint(&self, account_id: &str, id: &str) -> StoreResult<Option<u64>>;
    /// An endpoint's recent deliveries by status and when requests to it last
    /// succeeded and failed; `None` if there is none.
    async fn endpoint_stats(
        &self,
        account_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<EndpointStats>>;
}

/// Jobs callers start: stored with their progress, claimed under a lease.
#[async_trait]
pub trait Jobs: Send + Sync {
    /// Stores a new running job, due now.
    async fn create_job(&self, job: &Job) -> StoreResult<()>;
    /// One job.
    async fn job(&self, account_id: &str, id: &str) -> StoreResult<Option<Job>>;
    /// Claims one due running job for `node` for `lease`.
    async fn claim_job(&self, node: &str, lease: Duration) -> StoreResult<Option<Job>>;
    /// Writes a batch's outcome and releases the claim: the job is due again at
    /// `due` while running. `false` when `node` no longer holds it or it was
    /// cancelled meanwhile.
    async fn save_job(
        &self,
        id: &str,
        node: &str,
        state: JobState,
        progress: &JobProgress,
        due: Option<DateTime<Utc>>,
    ) -> StoreResult<bool>;
    /// Stops a running job; `false` if it is not running (or not there).
    async fn cancel_job(&self, account_id: &str, id: &str) -> StoreResult<bool>;
}

/// The delivery queue: pending deliveries claimed under a lease, and attempts recorded.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Claims up to `limit` due deliveries for `node`, each under a lease long
    /// enough for one attempt of its target.
    async fn claim_due(&self, node: &str, limit: u32) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Makes the deliveries `node` had claimed due now: called when a node
    /// starts, so a restarted node does not wait out its own leases. Answers how many.
    async fn release_claims(&self, node: &str) -> StoreResult<u64>;
    /// When the earliest pending delivery comes due, if any.
    async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Writes an attempt, the delivery's next state, the event's status summed
    /// up, the endpoint's last success or failure and what its delivery control
    /// makes of the outcome under `policy` (a cut concurrency, a pause, the
    /// breaker, disabling it: see [`control::feedback`]), with any operational
    /// events. Ignored (answers `false`) when the attempt is stale: another
    /// node already recorded that attempt number, or the delivery was stopped.
    async fn record_attempt(
        &self,
        report: AttemptReport,
        policy: &ControlPolicy,
    ) -> StoreResult<bool>;
}

/// Delivery control across nodes: admissions under an endpoint's limits, and
/// the operational events waiting to be published.
#[async_trait]
pub trait DeliveryControl: Send + Sync {
    /// Asks the endpoint's delivery control whether a delivery claimed for one
    /// attempt goes now ([`control::admission`]). One that goes holds a place
    /// for `lease` (or until its attempt is recorded); one held back is due
    /// again later, its attempt count unchanged; one whose endpoint is disabled
    /// is parked.
    async fn admit(&self, delivery: &ClaimedDelivery, lease: Duration) -> StoreResult<Admitted>;
    /// Claims up to `limit` operational events for `node`, for `lease`.
    async fn claim_notices(
        &self,
        node: &str,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Notice>>;
    /// Forgets a published operational event.
    async fn delete_notice(&self, id: &str) -> StoreResult<()>;
}

/// What is no longer kept: events past their retention, and events deleted on
/// request (one by id, or a subject's by erasure). A deletion takes an
/// event's deliveries, attempts, permits and idempotency key with it, in one
/// transaction; an ordered lane whose pending delivery goes moves on to its
/// next.
#[async_trait]
pub trait Lifecycle: Send + Sync {
    /// Every account's own retention times, by account id.
    async fn retention_overrides(&self) -> StoreResult<Vec<(String, RetentionOverride)>>;
    /// Replaces an account's own retention times.
    async fn set_retention(
        &self,
        account_id: &str,
        retention: &RetentionOverride,
    ) -> StoreResult<()>;
    /// Deletes up to `limit` of the account's events of `outcome` published
    /// before `before`, oldest first. Never a pending event: one made pending
    /// again meanwhile is passed over.
    async fn purge(
        &self,
        account_id: &str,
        outcome: Outcome,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Removed>;
    /// Deletes the account's events among `ids`, whatever their state: their
    /// pending deliveries stop (an attempt in flight is not recorded).
    async fn delete_events(&self, account_id: &str, ids: &[String]) -> StoreResult<Removed>;
    /// Seals again, under `keyring`'s current key, the next `limit` values of
    /// `column` after the key `after` that are not sealed under it (sealed
    /// under an older key, or stored before sealing), in one transaction; a
    /// value changed meanwhile is left for the next pass.
    async fn reseal(
        &self,
        column: &'static sql::SealedColumn,
        keyring: Arc<sealed::Keyring>,
        after: (String, String),
        limit: u32,
    ) -> StoreResult<sealed::ResealPage>;
}

/// An event's files, owner included: a download link names only the event.
#[derive(Debug, Clone)]
pub struct EventFiles {
    /// The account the event belongs to.
    pub account_id: String,
    /// Its files' descriptions, in publish order.
    pub files: Vec<Attachment>,
}

/// The bytes of attachments, read a chunk at a time (they are written with
/// their event by [`EventLog::publish`] and deleted with it).
#[async_trait]
pub trait Attachments: Send + Sync {
    /// Chunk `seq` (from 0, of [`crate::domain::attachment::CHUNK_BYTES`]) of
    /// the event's file at `position`; `None` if there is no such chunk.
    async fn attachment_chunk(
        &self,
        event_id: &str,
        position: u32,
        seq: u32,
    ) -> StoreResult<Option<Vec<u8>>>;
    /// The event's owner and files; `None` if there is no such event.
    async fn event_attachments(&self, event_id: &str) -> StoreResult<Option<EventFiles>>;
}

/// What background jobs and health checks need.
#[async_trait]
pub trait Maintenance: Send + Sync {
    /// Deletes up to `limit` idempotency keys whose window ended before `now`,
    /// oldest first; answers how many went (fewer than `limit`: none are left).
    async fn expire_idempotency_keys(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
    /// Endpoints by state, for `/metrics`.
    async fn endpoint_tally(&self) -> StoreResult<EndpointTally>;
    /// The pending deliveries by due state at `now`, for `/metrics`: one pass
    /// over the two partial indexes the claims use (`deliveries_fresh`,
    /// `deliveries_retry`), never the table.
    async fn queue_depth(&self, now: DateTime<Utc>) -> StoreResult<QueueDepth>;
    /// Records that the master key `id` seals this database's secrets;
    /// answers every id recorded (another one is a node started with a
    /// different key).
    async fn record_master_key(&self, id: &str) -> StoreResult<Vec<String>>;
    /// Forgets every recorded master key but `id`: every secret was sealed
    /// again under it.
    async fn keep_master_key(&self, id: &str) -> StoreResult<()>;
    /// Cheap round trip, for `/healthz`.
    async fn ping(&self) -> StoreResult<()>;
}
/// What the console reads beyond the API: the operator's view across
/// accounts, an endpoint's requests for its plot, and the revocation of an
/// account's portal links.
#[async_trait]
pub trait Overview: Send + Sync {
    /// Accounts in id order, after `after`, at most `limit`.
    async fn list_accounts(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<AccountSummary>>;
    /// Endpoints an operator should look at, across accounts: disabled, with
    /// the breaker open, or whose last request failed; at most `limit`.
    async fn troubled_endpoints(&self, limit: u32) -> StoreResult<Vec<Endpoint>>;
    /// The latest failed requests of events published since `since`, of one
    /// account or of all, newest first.
    async fn recent_failures(
        &self,
        account_id: Option<&str>,
        since: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<RecentFailure>>;
    /// The requests made since `since` to one of the account's endpoints, for
    /// events published since `published_since`.
    async fn endpoint_requests(
        &self,
        account_id: &str,
        endpoint_id: &str,
        published_since: DateTime<Utc>,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<AttemptPoint>>;
    /// Every portal link of the account made up to `at` stops working.
    async fn revoke_portal_links(&self, account_id: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// When the account's portal links were last revoked.
    async fn portal_links_revoked_at(&self, account_id: &str)
        -> StoreResult<Option<DateTime<Utc>>>;
}

/// `Store` and its blanket implementation, over one list of parts.
macro_rules! store_of {
    ($(#[$doc:meta])* $($part:ident),+) => {
        $(#[$doc])*
        pub trait Store: $($part +)+ 'static {}

        impl<T> Store for T where T: $($part +)+ 'static {}
    };
}

store_of!(
    /// Everything hookpost keeps: the sum of the small traits above, so a backend is
    /// written (and tested, by the conformance suite) one concern at a time while
    /// callers hold one `Arc<dyn Store>`. Implementations must make every write
    /// durable before returning (per the configured durability) and be safe to call
    /// concurrently.
    Accounts,
    Profiles,
    Catalog,
    EventLog,
    Endpoints,
    Queue,
    DeliveryControl,
    Jobs,
    Lifecycle,
    Attachments,
    Maintenance,
    Overview
);
