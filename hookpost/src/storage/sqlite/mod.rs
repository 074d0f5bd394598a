//! The embedded backend: one SQLite file in the data directory, in WAL mode.
//! One writer thread commits in groups ([`writer`]); reads use a small pool of
//! their own connections, which WAL lets run beside the writer.
//!
//! The data directory is locked while a server uses it, so exactly one process
//! delivers from it; at start that process takes back every claim a crash left
//! behind, so events that were in flight are due again at once.

mod attachments;
mod control;
mod errors;
mod lifecycle;
mod overview;
mod queries;
mod read_pool;
mod writer;

use crate::domain::event::NewEvent;
use crate::domain::event_type::EventType;
use crate::domain::settings::WebhookSettings;
pub use crate::storage::Durability;
use crate::storage::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use errors::from_sqlite;
use read_pool::ReadPool;
use rusqlite::Connection;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;
use writer::Writer;

/// Migrations in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_event_types.sql"),
    include_str!("migrations/0003_key_rotation.sql"),
    include_str!("migrations/0004_attempt_error_detail.sql"),
    include_str!("migrations/0005_idempotency_expiry.sql"),
    include_str!("migrations/0006_endpoints_and_deliveries.sql"),
    include_str!("migrations/0007_delivery_control.sql"),
    include_str!("migrations/0008_data_lifecycle.sql"),
    include_str!("migrations/0009_attachments.sql"),
    include_str!("migrations/0010_portal_links.sql"),
];

/// The embedded store.
pub struct SqliteStore {
    writer: Writer,
    readers: ReadPool,
    /// Held for the store's lifetime: the data directory's exclusive lock.
    _lock: File,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `data_dir`, applies migrations and
    /// takes back claims left by a previous process.
    pub fn open(data_dir: &Path, durability: Durability) -> StoreResult<SqliteStore> {
        prepare_data_dir(data_dir)?;
        let lock = lock_data_dir(data_dir)?;
        let path = data_dir.join("hookpost.db");
        let conn = open_connection(&path, durability)?;
        migrate(&conn)?;
        Ok(SqliteStore {
            writer: Writer::start(conn),
            readers: ReadPool::new(path, durability),
            _lock: lock,
        })
    }

    /// Applies pending migrations and answers how many ran (for `hookpost migrate`).
    pub fn migrate_only(data_dir: &Path) -> StoreResult<usize> {
        prepare_data_dir(data_dir)?;
        let _lock = lock_data_dir(data_dir)?;
        let conn = open_connection(&data_dir.join("hookpost.db"), Durability::Full)?;
        migrate(&conn)
    }
}

/// See [`StoreConfig::master_key_ids`]: read from a read-only connection, if
/// the store exists.
pub fn master_key_ids(data_dir: &Path) -> StoreResult<Vec<String>> {
    let path = data_dir.join("hookpost.db");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(from_sqlite)?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(from_sqlite)?;
    lifecycle::master_key_ids(&conn)
}

/// Copies the store in `data_dir` to `to` with SQLite's online backup: page
/// by page, a hundred at a time, starting over any step a concurrent write
/// changed, so the copy is one consistent state while a server keeps
/// writing. Does not take the data directory's lock (a running server holds
/// it). Answers the number of pages copied.
pub fn backup(data_dir: &Path, to: &Path) -> StoreResult<i32> {
    let source_path = data_dir.join("hookpost.db");
    if !source_path.exists() {
        return Err(StoreError::Unavailable(format!(
            "no embedded store at {}",
            source_path.display()
        )));
    }
    let fail =
        |e: std::io::Error| StoreError::Unavailable(format!("cannot create {}: {e}", to.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    drop(options.open(to).map_err(fail)?);
    let source =
        Connection::open_with_flags(&source_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(from_sqlite)?;
    source
        .busy_timeout(Duration::from_secs(5))
        .map_err(from_sqlite)?;
    let mut target = Connection::open(to).map_err(from_sqlite)?;
    let copy = rusqlite::backup::Backup::new(&source, &mut target).map_err(from_sqlite)?;
    copy.run_to_completion(100, Duration::from_millis(5), None)
        .map_err(from_sqlite)?;
    let pages = copy.progress().pagecount;
    drop(copy);
    target
        .execute_batch("PRAGMA journal_mode = DELETE;")
        .map_err(from_sqlite)?;
    Ok(pages)
}

/// Creates the data directory readable by its owner only (0700) and the database
/// file 0600 before SQLite opens it: SQLite gives its WAL and shared-memory files
/// the database file's mode. An existing directory or file is tightened too.
fn prepare_data_dir(data_dir: &Path) -> StoreResult<()> {
    let fail = |what: &Path, e: std::io::Error| {
        StoreError::Unavailable(format!("cannot prepare {}: {e}", what.display()))
    };
    std::fs::create_dir_all(data_dir).map_err(|e| fail(data_dir, e))?;
    restrict(data_dir, 0o700).map_err(|e| fail(data_dir, e))?;
    for name in ["hookpost.db", "hookpost.db-wal", "hookpost.db-shm"] {
        let path = data_dir.join(name);
        if name == "hookpost.db" || path.exists() {
            owner_only_file(&path).map_err(|e| fail(&path, e))?;
        }
    }
    Ok(())
}

/// Opens (creating if absent) a file that only its owner may read or write.
fn owner_only_file(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    restrict(path, 0o600)?;
    Ok(file)
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}

fn lock_data_dir(data_dir: &Path) -> StoreResult<File> {
    let path: PathBuf = data_dir.join("hookpost.lock");
    let file = owner_only_file(&path)
        .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", path.display())))?;
    file.try_lock().map_err(|_| {
        StoreError::Unavailable(format!(
            "{} is in use by another hookpost process; the embedded store serves one process (use PostgreSQL for several)",
            data_dir.display()
        ))
    })?;
    Ok(file)
}

/// Opens a connection with the pragmas every connection needs.
pub(crate) fn open_connection(path: &Path, durability: Durability) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(from_sqlite)?;
    let synchronous = match durability {
        Durability::Full => "FULL",
        Durability::Process => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = ON; PRAGMA secure_delete = FAST;"
    ))
    .map_err(from_sqlite)?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(from_sqlite)?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> StoreResult<usize> {
    let current = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(from_sqlite)? as usize;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Internal(format!(
            "the database is at schema version {current}, newer than this hookpost knows ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let version = i + 1;
        conn.execute_batch(&format!(
            "BEGIN; {sql}; PRAGMA user_version = {version}; COMMIT;"
        ))
        .map_err(from_sqlite)?;
        tracing::info!(version, "applied migration");
    }
    Ok(MIGRATIONS.len() - current)
}

#[async_trait]
impl Accounts for SqliteStore {
    async fn create_account(&self, account: NewAccount) -> StoreResult<()> {
        self.writer
            .write(move |c| queries::insert_account(c, &account))
            .await
    }
    async fn account_by_key(&self, key_hash: [u8; 32]) -> StoreResult<Option<Account>> {
        self.readers
            .read(move |c| queries::account_by_key(c, &key_hash))
            .await
    }
    async fn account(&self, id: &str) -> StoreResult<Option<Account>> {
        let id = id.to_string();
        self.readers
            .read(move |c| queries::account_by_id(c, &id))
            .await
    }
    async fn rotate_api_key(
        &self,
        id: &str,
        key_hash: [u8; 32],
        keep_old_until: Option<chrono::DateTime<chrono::Utc>>,
    ) -> StoreResult<()> {
        let (id, until) = (id.to_string(), keep_old_until.map(rows::ms));
        self.writer
            .write(move |c| queries::rotate_api_key(c, &id, &key_hash, until))
            .await
    }
    async fn rotate_signing_keys(
        &self,
        id: &str,
        fresh: crate::secrets::SigningKeys,
        keep_old_until: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Option<crate::secrets::SigningKeys>> {
        let id = id.to_string();
        self.writer
            .write(move |c| queries::rotate_signing_keys(c, &id, fresh.clone(), keep_old_until))
            .await
    }
    async fn set_account_settings(&self, id: &str, settings: &WebhookSettings) -> StoreResult<()> {
        let (id, settings) = (id.to_string(), settings.clone());
        self.writer
            .write(move |c| queries::set_account_settings(c, &id, &settings))
            .await
    }
}

#[async_trait]
impl Profiles for SqliteStore {
    async fn put_profile(
        &self,
        account_id: &str,
        id: &str,
        settings: &WebhookSettings,
    ) -> StoreResult<(Profile, bool)> {
        let (account_id, id, settings) = (account_id.to_string(), id.to_string(), settings.clone());
        self.writer
            .write(move |c| queries::put_profile(c, &account_id, &id, &settings))
            .await
    }
    async fn profile(&self, account_id: &str, id: &str) -> StoreResult<Option<Profile>> {
        let (account_id, id) = (account_id.to_string(), id.to_string());
        self.readers
            .read(move |c| queries::profile(c, &account_id, &id))
            .await
    }
    async fn delete_profile(&self, account_id: &str, id: &str) -> StoreResult<bool> {
        let (account_id, id) = (account_id.to_string(), id.to_string());
        self.writer
            .write(move |c| queries::delete_profile(c, &account_id, &id))
            .await
    }
    async fn list_profiles(
        &self,
        account_id: &str,
        after_id: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Profile>> {
        let (account_id, after_id) = (account_id.to_string(), after_id.map(str::to_string));
        self.readers
            .read(move |c| queries::list_profiles(c, &account_id, after_id.as_deref(), limit))
            .await
    }
}

#[async_trait]
impl Catalog for SqliteStore {
    async fn put_event_type(&self, account_id: &str, event_type: &EventType) -> StoreResult<bool> {
        let (account_id, event_type) = (account_id.to_string(), event_type.clone());
        self.writer
            .write(move |c| queries::put_event_type(c, &account_id, &event_type))
            .await
    }
    async fn event_type(&self, account_id: &str, name: &str) -> StoreResult<Option<EventType>> {
        let (account_id, name) = (account_id.to_string(), name.to_string());
        self.readers
            .read(move |c| queries::event_type(c, &account_id, &name))
            .await
    }
    async fn delete_event_type(&self, account_id: &str, name: &str) -> StoreResult<bool> {
        let (account_id, name) = (account_id.to_string(), name.to_string());
        self.writer
            .write(move |c| queries::delete_event_type(c, &account_id, &name))
            .await
    }
    async fn list_event_types(&self, account_id: &str) -> StoreResult<Vec<EventType>> {
        let account_id = account_id.to_string();
        self.readers
            .read(move |c| queries::list_event_types(c, &account_id))
            .await
    }
}

#[async_trait]
impl EventLog for SqliteStore {
    async fn publish(
        &self,
        events: Vec<NewEvent>,
        window: Duration,
    ) -> StoreResult<Vec<Published>> {
        self.writer
            .write(move |c| queries::publish(c, &events, window))
            .await
    }
    async fn event(&self, account_id: &str, id: &str) -> StoreResult<Option<StoredEvent>> {
        let (account_id, id) = (account_id.to_string(), id.to_string());
        self.readers
            .read(move |c| queries::event(c, &account_id, &id))
            .await
    }
    async fn list_events(
        &self,
        account_id: &str,
        filter: &EventFilter,
    ) -> StoreResult<Vec<StoredEvent>> {
        let (account_id, filter) = (account_id.to_string(), filter.clone());
        self.readers
            .read(move |c| queries::list_events(c, &account_id, &filter))
            .await
    }
    async fn retry_event(&self, account_id: &str, id: &str) -> StoreResult<RetryOutcome> {
        let (account_id, id) = (account_id.to_string(), id.to_string());
        self.writer
            .write(move |c| queries::retry_event(c, &account_id, &id))
            .await
    }
    async fn retarget_event(&self, account_id: &str, retarget: &Retarget) -> StoreResult<bool> {
        let (account_id, retarget) = (account_id.to_string(), retarget.clone());
        self.writer
            .write(move |c| queries::retarget_event(c, &account_id, &retarget))
            .await
    }
    async fn add_delivery(&self, event_id: &str, delivery: NewDelivery) -> StoreResult<bool> {
        let event_id = event_id.to_string();
        self.writer
            .write(move |c| queries::add_delivery(c, &event_id, &delivery))
            .await
    }
    async fn replay_candidates(
        &self,
        account_id: &str,
        after_id: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ReplayCandidate>> {
        let (account_id, after_id) = (account_id.to_string(), after_id.to_string());
        self.readers
            .read(move |c| {
                queries::replay_candidates(c, &account_id, &after_id, since, until, limit)
            })
            .await
    }
}

#[async_trait]
impl Endpoints for SqliteStore {
    async fn create_endpoint(&self, endpoint: &Endpoint) -> StoreResult<()> {
        let endpoint = endpoint.clone();
        self.writer
            .write(move |c| queries::create_endpoint(c, &endpoint))
            .await
    }
    async fn endpoint(&self, account_id: &str, id: &str) -> StoreResult<Option<Endpoint>> {
        let (account_id, id) = (account_id.to_string(), id.to_string());
        self.readers
            .read(move |c| queries::endpoint(c, &account_id, &id))
            .await
    }
    async fn list_endpoints(
        &self,
        account_id: &str,
        profile_id: Option<&str>,
        after_id: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Endpoint>> {
        let account_id = account_id.to_string();
        let (profile_id, after_id) = (profile_id.map(str::to_string), after_id.map(str::to_string));
        self.readers
            .read(move |c| {
                queries::list_endpoints(
                    c,
                    &account_id,
                    profile_id.as_deref(),
                    after_id.as_deref(),
                    limit,
                )
            })
            .await
    }
    async fn level_endpoints(
        &self,
        account_id: &str,
        profile_id: Option<&str>,
    ) -> StoreResult<Vec<Endpoint>> {
        let (account_id, profile_id) = (account_id.to_string(), profile_id.map(str::to_string));
        self.readers
            .read(move |c| queries::level_endpoints(c, &account_id, profile_id.as_deref()))
            .await
    }
    async fn count_endpoints(&self, account_id: &str) -> StoreResult<u64> {
        let account_id = account_id.to_string();
        self.readers
            .read(move |c| queries::count_endpoints(c, &account_id))
            .await
    }
    async fn update_endpoint(&self, endpoint: &Endpoint) -> StoreResult<bool> {
        let endpoint = endpoint.clone();
        self.writer
            .write(move |c| queries::update_endpoint(c, &endpoint))
            .await
    }
    async fn set_endpoint_state(
        &self,
        account_id: &str,
        id: &str,
        state: EndpointState,
        policy: &ControlPolicy,
    ) -> StoreResult<bool> {
        let (account_id, id, policy) = (account_id.to_string(), id.to_string(), policy.clone());
        self.writer
            .write(move |c| control::set_endpoint_state(c, &account_id, &id, state, &policy))
            .await
    }
    async fn delete_endpoint(&self, account_id: &str, id: &str) -> StoreResult<Option<u64>> {
        let (account_id, id) = (account_id.to_string(), id.to_string());
        self.writer
            .write(move |c| queries::delete_endpoint(c, &account_id, &id))
            .await
    }
    async fn endpoint_stats(
        &self,
        account_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<EndpointStats>> {
        let (account_id, id) = (account_id.to_string(), id.to_string());
        self.readers
            .read(move |c| queries::endpoint_stats(c, &account_id, &id, now))
            .await
    }
}

#[async_trait]
impl Jobs for SqliteStore {
    async fn create_job(&self, job: &Job) -> StoreResult<()> {
        let job = job.clone();
        self.writer
            .write(move |c| queries::create_job(c, &job))
            .await
    }
    async fn job(&self, account_id: &str, id: &str) -> StoreResult<Option<Job>> {
        let (account_id, id) = (account_id.to_string(), id.to_string());
        self.readers
            .read(move |c| queries::job(c, &account_id, &id))
            .await
    }
    async fn claim_job(&self, node: &str, lease: Duration) -> StoreResult<Option<Job>> {
        let node = node.to_string();
        self.writer
            .write(move |c| queries::claim_job(c, &node, lease))
            .await
    }
    async fn save_job(
        &self,
        id: &str,
        node: &str,
        state: JobState,
        progress: &JobProgress,
        due: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        let (id, node, progress) = (id.to_string(), node.to_string(), progress.clone());
        self.writer
            .write(move |c| queries::save_job(c, &id, &node, state, &progress, due))
            .await
    }
    async fn cancel_job(&self, account_id: &str, id: &str) -> StoreResult<bool> {
        let (account_id, id) = (account_id.to_string(), id.to_string());
        self.writer
            .write(move |c| queries::cancel_job(c, &account_id, &id))
            .await
    }
}

#[async_trait]
impl Queue for SqliteStore {
    async fn claim_due(&self, node: &str, limit: u32) -> StoreResult<Vec<ClaimedDelivery>> {
        let node = node.to_string();
        self.writer
            .write(move |c| queries::claim_due(c, &node, limit))
            .await
    }
    /// Every claim is this process's: the data directory lock admits no other.
    async fn release_claims(&self, _node: &str) -> StoreResult<u64> {
        self.writer.write(queries::release_claims).await
    }
    async fn next_due(&self) -> StoreResult<Option<chrono::DateTime<chrono::Utc>>> {
        self.readers.read(queries::next_due).await
    }
    async fn record_attempt(
        &self,
        report: AttemptReport,
        policy: &ControlPolicy,
    ) -> StoreResult<bool> {
        let policy = policy.clone();
        self.writer
            .write(move |c| queries::record_attempt(c, &report, &policy))
            .await
    }
}

#[async_trait]
impl DeliveryControl for SqliteStore {
    async fn admit(&self, delivery: &ClaimedDelivery, lease: Duration) -> StoreResult<Admitted> {
        let delivery = delivery.clone();
        self.writer
            .write(move |c| control::admit(c, &delivery, lease))
            .await
    }
    async fn claim_notices(
        &self,
        node: &str,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Notice>> {
        let node = node.to_string();
        self.writer
            .write(move |c| control::claim_notices(c, &node, lease, limit))
            .await
    }
    async fn delete_notice(&self, id: &str) -> StoreResult<()> {
        let id = id.to_string();
        self.writer
            .write(move |c| control::delete_notice(c, &id))
            .await
    }
}

#[async_trait]
impl Lifecycle for SqliteStore {
    async fn retention_overrides(&self) -> StoreResult<Vec<(String, RetentionOverride)>> {
        self.readers.read(lifecycle::retention_overrides).await
    }
    async fn set_retention(
        &self,
        account_id: &str,
        retention: &RetentionOverride,
    ) -> StoreResult<()> {
        let (account_id, retention) = (account_id.to_string(), retention.clone());
        self.writer
            .write(move |c| lifecycle::set_retention(c, &account_id, &retention))
            .await
    }
    async fn purge(
        &self,
        account_id: &str,
        outcome: Outcome,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Removed> {
        let account_id = account_id.to_string();
        self.writer
            .write(move |c| lifecycle::purge(c, &account_id, outcome, before, limit))
            .await
    }
    async fn delete_events(&self, account_id: &str, ids: &[String]) -> StoreResult<Removed> {
        let (account_id, ids) = (account_id.to_string(), ids.to_vec());
        self.writer
            .write(move |c| lifecycle::delete_events(c, &account_id, &ids))
            .await
    }
    async fn reseal(
        &self,
        column: &'static crate::storage::sql::SealedColumn,
        keyring: std::sync::Arc<sealed::Keyring>,
        after: (String, String),
        limit: u32,
    ) -> StoreResult<sealed::ResealPage> {
        self.writer
            .write(move |c| lifecycle::reseal(c, column, &keyring, &after, limit))
            .await
    }
}

#[async_trait]
impl Attachments for SqliteStore {
    async fn attachment_chunk(
        &self,
        event_id: &str,
        position: u32,
        seq: u32,
    ) -> StoreResult<Option<Vec<u8>>> {
        let event_id = event_id.to_string();
        self.readers
            .read(move |c| attachments::chunk(c, &event_id, position, seq))
            .await
    }
    async fn event_attachments(&self, event_id: &str) -> StoreResult<Option<EventFiles>> {
        let event_id = event_id.to_string();
        self.readers
            .read(move |c| attachments::of_event(c, &event_id))
            .await
    }
}

#[async_trait]
impl Maintenance for SqliteStore {
    async fn expire_idempotency_keys(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> StoreResult<u64> {
        self.writer
            .write(move |c| queries::expire_idempotency_keys(c, now, limit))
            .await
    }
    async fn endpoint_tally(&self) -> StoreResult<EndpointTally> {
        self.readers.read(queries::endpoint_tally).await
    }
    async fn queue_depth(&self, now: DateTime<Utc>) -> StoreResult<QueueDepth> {
        self.readers
            .read(move |c| queries::queue_depth(c, now))
            .await
    }
    async fn record_master_key(&self, id: &str) -> StoreResult<Vec<String>> {
        let id = id.to_string();
        self.writer
            .write(move |c| lifecycle::record_master_key(c, &id))
            .await
    }
    async fn keep_master_key(&self, id: &str) -> StoreResult<()> {
        let id = id.to_string();
        self.writer
            .write(move |c| {
                c.execute(sql::KEEP_MASTER_KEY.sqlite(), [&id])
                    .map(drop)
                    .map_err(from_sqlite)
            })
            .await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.readers
            .read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(from_sqlite))
            .await
    }
}
