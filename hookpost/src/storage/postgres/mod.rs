//! The PostgreSQL backend, for several nodes on one database. Every node accepts
//! events and delivers; due events are claimed in batches with
//! `FOR UPDATE SKIP LOCKED` under a lease written in the row, so nodes never wait
//! on each other and no lock outlives the claiming statement. A node that dies
//! mid-delivery leaves leases that simply lapse; another node takes them over.
//!
//! PostgreSQL flushes a commit before acknowledging it (`synchronous_commit`);
//! publishes and attempt records share commits through [`group`], so a busy
//! node pays for one flush and one transaction per group, not per write.

mod attachments;
mod bulk;
mod control;
mod errors;
mod group;
mod lifecycle;
mod overview;
mod queries;

use crate::domain::event::NewEvent;
use crate::domain::event_type::EventType;
use crate::domain::settings::WebhookSettings;
use crate::storage::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use errors::{from_pg, from_pool};
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::NoTls;

/// Migrations in order; the `hookpost_schema` table records how many have run.
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
/// Serializes migrations between nodes starting together.
const MIGRATION_LOCK: i64 = 0x686f_6f6b_706f_7374; // "hookpost"

/// The PostgreSQL store: a pool of connections, and the group committer
/// publishes and attempt records go through.
pub struct PostgresStore {
    pool: Pool,
    writes: group::GroupCommit,
}

impl PostgresStore {
    /// Connects and applies pending migrations.
    pub async fn open(url: &str, pool_size: usize) -> StoreResult<PostgresStore> {
        let store = Self::connect(url, pool_size)?;
        store.migrate().await?;
        Ok(store)
    }

    /// A store over a pool that opens connections as they are needed; its
    /// group committer runs on the current Tokio runtime.
    pub fn connect(url: &str, pool_size: usize) -> StoreResult<PostgresStore> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::Internal(format!("--database is not a PostgreSQL URL: {e}"))
        })?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let timeout = Some(Duration::from_secs(5));
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .wait_timeout(timeout)
            .create_timeout(timeout)
            .recycle_timeout(timeout)
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        // At most two groups at once (from a pool of 16): fewer, larger groups
        // cost PostgreSQL less per write than many small ones; the rest of the
        // pool serves reads, claims and every other write.
        let writes = group::GroupCommit::start(pool.clone(), (pool_size / 8).clamp(1, 2));
        Ok(PostgresStore { pool, writes })
    }

    /// Applies pending migrations under an advisory lock; answers how many ran.
    pub async fn migrate(&self) -> StoreResult<usize> {
        let mut client = self.pool.get().await.map_err(from_pool)?;
        let tx = client.transaction().await.map_err(from_pg)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(from_pg)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS hookpost_schema (version BIGINT NOT NULL)")
            .await
            .map_err(from_pg)?;
        let row = tx
            .query_opt("SELECT version FROM hookpost_schema", &[])
            .await
            .map_err(from_pg)?;
        let current = row.map_or(0, |r| r.get::<_, i64>(0)) as usize;
        if current > MIGRATIONS.len() {
            return Err(StoreError::Internal(format!(
                "database schema {current} is newer than this hookpost"
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
            tx.batch_execute(sql).await.map_err(from_pg)?;
            tracing::info!(version = i + 1, "applied migration");
        }
        tx.execute("DELETE FROM hookpost_schema", &[])
            .await
            .map_err(from_pg)?;
        tx.execute(
            "INSERT INTO hookpost_schema (version) VALUES ($1)",
            &[&(MIGRATIONS.len() as i64)],
        )
        .await
        .map_err(from_pg)?;
        tx.commit().await.map_err(from_pg)?;
        Ok(MIGRATIONS.len() - current)
    }

    /// See [`StoreConfig::master_key_ids`].
    pub async fn master_key_ids(&self) -> StoreResult<Vec<String>> {
        lifecycle::master_key_ids(&self.client().await?).await
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.pool.get().await.map_err(from_pool)
    }
}

#[async_trait]
impl Accounts for PostgresStore {
    async fn create_account(&self, account: NewAccount) -> StoreResult<()> {
        queries::insert_account(&self.client().await?, &account).await
    }
    async fn account_by_key(&self, key_hash: [u8; 32]) -> StoreResult<Option<Account>> {
        let clause =
            "api_key_hash = $1 OR (previous_key_hash = $1 AND previous_key_expires_at > $2)";
        queries::account_where(
            &self.client().await?,
            clause,
            &[&&key_hash[..], &rows::now_ms()],
        )
        .await
    }
    async fn account(&self, id: &str) -> StoreResult<Option<Account>> {
        queries::account_where(&self.client().await?, "id = $1", &[&id]).await
    }
    async fn rotate_api_key(
        &self,
        id: &str,
        key_hash: [u8; 32],
        keep_old_until: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let until = keep_old_until.map(rows::ms);
        queries::rotate_api_key(&self.client().await?, id, &key_hash, until).await
    }
    async fn rotate_signing_keys(
        &self,
        id: &str,
        fresh: crate::secrets::SigningKeys,
        keep_old_until: DateTime<Utc>,
    ) -> StoreResult<Option<crate::secrets::SigningKeys>> {
        queries::rotate_signing_keys(&mut self.client().await?, id, fresh, keep_old_until).await
    }
    async fn set_account_settings(&self, id: &str, settings: &WebhookSettings) -> StoreResult<()> {
        queries::set_account_settings(&self.client().await?, id, settings).await
    }
}

#[async_trait]
impl Profiles for PostgresStore {
    async fn put_profile(
        &self,
        account_id: &str,
        id: &str,
        settings: &WebhookSettings,
    ) -> StoreResult<(Profile, bool)> {
        queries::put_profile(&self.client().await?, account_id, id, settings).await
    }
    async fn profile(&self, account_id: &str, id: &str) -> StoreResult<Option<Profile>> {
        queries::profile(&self.client().await?, account_id, id).await
    }
    async fn delete_profile(&self, account_id: &str, id: &str) -> StoreResult<bool> {
        queries::delete_profile(&self.client().await?, account_id, id).await
    }
    async fn list_profiles(
        &self,
        account_id: &str,
        after_id: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Profile>> {
        queries::list_profiles(&self.client().await?, account_id, after_id, limit).await
    }
}

#[async_trait]
impl Catalog for PostgresStore {
    async fn put_event_type(&self, account_id: &str, event_type: &EventType) -> StoreResult<bool> {
        queries::put_event_type(&self.client().await?, account_id, event_type).await
    }
    async fn event_type(&self, account_id: &str, name: &str) -> StoreResult<Option<EventType>> {
        queries::event_type(&self.client().await?, account_id, name).await
    }
    async fn delete_event_type(&self, account_id: &str, name: &str) -> StoreResult<bool> {
        queries::delete_event_type(&self.client().await?, account_id, name).await
    }
    async fn list_event_types(&self, account_id: &str) -> StoreResult<Vec<EventType>> {
        queries::list_event_types(&self.client().await?, account_id).await
    }
}

#[async_trait]
impl EventLog for PostgresStore {
    async fn publish(
        &self,
        events: Vec<NewEvent>,
        window: Duration,
    ) -> StoreResult<Vec<Published>> {
        self.writes.publish(events, window).await
    }
    async fn event(&self, account_id: &str, id: &str) -> StoreResult<Option<StoredEvent>> {
        queries::event(&self.client().await?, account_id, id).await
    }
    async fn list_events(
        &self,
        account_id: &str,
        filter: &EventFilter,
    ) -> StoreResult<Vec<StoredEvent>> {
        queries::list_events(&self.client().await?, account_id, filter).await
    }
    async fn retry_event(&self, account_id: &str, id: &str) -> StoreResult<RetryOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_pg)?;
        let outcome = queries::retry_event(&tx, account_id, id).await?;
        tx.commit().await.map_err(from_pg)?;
        Ok(outcome)
    }
    async fn retarget_event(&self, account_id: &str, retarget: &Retarget) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_pg)?;
        let lanes = retarget.deliveries.iter().filter_map(|d| d.lane.as_deref());
        queries::lock_lanes(&tx, lanes).await?;
        let changed = queries::retarget_event(&tx, account_id, retarget).await?;
        tx.commit().await.map_err(from_pg)?;
        Ok(changed)
    }
    async fn add_delivery(&self, event_id: &str, delivery: NewDelivery) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_pg)?;
        let added = queries::add_delivery(&tx, event_id, &delivery).await?;
        tx.commit().await.map_err(from_pg)?;
        Ok(added)
    }
    async fn replay_candidates(
        &self,
        account_id: &str,
        after_id: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ReplayCandidate>> {
        let client = self.client().await?;
        queries::replay_candidates(&client, account_id, after_id, since, until, limit).await
    }
}

#[async_trait]
impl Endpoints for PostgresStore {
    async fn create_endpoint(&self, endpoint: &Endpoint) -> StoreResult<()> {
        queries::create_endpoint(&self.client().await?, endpoint).await
    }
    async fn endpoint(&self, account_id: &str, id: &str) -> StoreResult<Option<Endpoint>> {
        let client = self.client().await?;
        let found =
            queries::endpoints_where(&client, &sql::SELECT_ENDPOINT, &[&account_id, &id]).await?;
        Ok(found.into_iter().next())
    }
    async fn list_endpoints(
        &self,
        account_id: &str,
        profile_id: Option<&str>,
        after_id: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Endpoint>> {
        let client = self.client().await?;
        let params: [&(dyn ToSql + Sync); 4] =
            [&account_id, &profile_id, &after_id, &(limit as i64)];
        queries::endpoints_where(&client, &sql::LIST_ENDPOINTS, &params).await
    }
    async fn level_endpoints(
        &self,
        account_id: &str,
        profile_id: Option<&str>,
    ) -> StoreResult<Vec<Endpoint>> {
        let client = self.client().await?;
        queries::endpoints_where(&client, &sql::LEVEL_ENDPOINTS, &[&account_id, &profile_id]).await
    }
    async fn count_endpoints(&self, account_id: &str) -> StoreResult<u64> {
        queries::count_endpoints(&self.client().await?, account_id).await
    }
    async fn update_endpoint(&self, endpoint: &Endpoint) -> StoreResult<bool> {
        queries::update_endpoint(&self.client().await?, endpoint).await
    }
    async fn set_endpoint_state(
        &self,
        account_id: &str,
        id: &str,
        state: EndpointState,
        policy: &ControlPolicy,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_pg)?;
        let found = control::set_endpoint_state(&tx, account_id, id, state, policy).await?;
        tx.commit().await.map_err(from_pg)?;
        Ok(found)
    }
    async fn delete_endpoint(&self, account_id: &str, id: &str) -> StoreResult<Option<u64>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_pg)?;
        let stopped = queries::delete_endpoint(&tx, account_id, id).await?;
        tx.commit().await.map_err(from_pg)?;
        Ok(stopped)
    }
    async fn endpoint_stats(
        &self,
        account_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<EndpointStats>> {
        queries::endpoint_stats(&self.client().await?, account_id, id, now).await
    }
}

#[async_trait]
impl Jobs for PostgresStore {
    async fn create_job(&self, job: &Job) -> StoreResult<()> {
        queries::create_job(&self.client().await?, job).await
    }
    async fn job(&self, account_id: &str, id: &str) -> StoreResult<Option<Job>> {
        queries::job(&self.client().await?, account_id, id).await
    }
    async fn claim_job(&self, node: &str, lease: Duration) -> StoreResult<Option<Job>> {
        queries::claim_job(&self.client().await?, node, lease).await
    }
    async fn save_job(
        &self,
        id: &str,
        node: &str,
        state: JobState,
        progress: &JobProgress,
        due: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        queries::save_job(&self.client().await?, id, node, state, progress, due).await
    }
    async fn cancel_job(&self, account_id: &str, id: &str) -> StoreResult<bool> {
        queries::cancel_job(&self.client().await?, account_id, id).await
    }
}

#[async_trait]
impl Queue for PostgresStore {
    async fn claim_due(&self, node: &str, limit: u32) -> StoreResult<Vec<ClaimedDelivery>> {
        queries::claim_due(&self.client().await?, node, limit).await
    }
    async fn release_claims(&self, node: &str) -> StoreResult<u64> {
        queries::release_claims(&self.client().await?, node).await
    }
    async fn next_due(&self) -> StoreResult<Option<chrono::DateTime<chrono::Utc>>> {
        queries::next_due(&self.client().await?).await
    }
    async fn record_attempt(
        &self,
        report: AttemptReport,
        policy: &ControlPolicy,
    ) -> StoreResult<bool> {
        self.writes.record(report, policy).await
    }
}

#[async_trait]
impl DeliveryControl for PostgresStore {
    async fn admit(&self, delivery: &ClaimedDelivery, lease: Duration) -> StoreResult<Admitted> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_pg)?;
        let admitted = control::admit(&tx, delivery, lease).await?;
        tx.commit().await.map_err(from_pg)?;
        Ok(admitted)
    }
    async fn claim_notices(
        &self,
        node: &str,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Notice>> {
        control::claim_notices(&self.client().await?, node, lease, limit).await
    }
    async fn delete_notice(&self, id: &str) -> StoreResult<()> {
        control::delete_notice(&self.client().await?, id).await
    }
}

#[async_trait]
impl Lifecycle for PostgresStore {
    async fn retention_overrides(&self) -> StoreResult<Vec<(String, RetentionOverride)>> {
        lifecycle::retention_overrides(&self.client().await?).await
    }
    async fn set_retention(
        &self,
        account_id: &str,
        retention: &RetentionOverride,
    ) -> StoreResult<()> {
        lifecycle::set_retention(&self.client().await?, account_id, retention).await
    }
    async fn purge(
        &self,
        account_id: &str,
        outcome: Outcome,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Removed> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_pg)?;
        let removed = lifecycle::purge(&tx, account_id, outcome, before, limit).await?;
        tx.commit().await.map_err(from_pg)?;
        Ok(removed)
    }
    async fn delete_events(&self, account_id: &str, ids: &[String]) -> StoreResult<Removed> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_pg)?;
        let removed = lifecycle::delete_events(&tx, account_id, ids).await?;
        tx.commit().await.map_err(from_pg)?;
        Ok(removed)
    }
    async fn reseal(
        &self,
        column: &'static crate::storage::sql::SealedColumn,
        keyring: std::sync::Arc<sealed::Keyring>,
        after: (String, String),
        limit: u32,
    ) -> StoreResult<sealed::ResealPage> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_pg)?;
        let page = lifecycle::reseal(&tx, column, &keyring, &after, limit).await?;
        tx.commit().await.map_err(from_pg)?;
        Ok(page)
    }
}

#[async_trait]
impl Attachments for PostgresStore {
    async fn attachment_chunk(
        &self,
        event_id: &str,
        position: u32,
        seq: u32,
    ) -> StoreResult<Option<Vec<u8>>> {
        attachments::chunk(&self.client().await?, event_id, position, seq).await
    }
    async fn event_attachments(&self, event_id: &str) -> StoreResult<Option<EventFiles>> {
        attachments::of_event(&self.client().await?, event_id).await
    }
}

#[async_trait]
impl Maintenance for PostgresStore {
    async fn expire_idempotency_keys(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> StoreResult<u64> {
        queries::expire_idempotency_keys(&self.client().await?, now, limit).await
    }
    async fn endpoint_tally(&self) -> StoreResult<EndpointTally> {
        queries::endpoint_tally(&self.client().await?).await
    }
    async fn queue_depth(&self, now: DateTime<Utc>) -> StoreResult<QueueDepth> {
        queries::queue_depth(&self.client().await?, now).await
    }
    async fn record_master_key(&self, id: &str) -> StoreResult<Vec<String>> {
        lifecycle::record_master_key(&self.client().await?, id).await
    }
    async fn keep_master_key(&self, id: &str) -> StoreResult<()> {
        let client = self.client().await?;
        queries::execute(&client, sql::KEEP_MASTER_KEY.postgres(), &[&id]).await?;
        Ok(())
    }
    async fn ping(&self) -> StoreResult<()> {
        self.client()
            .await?
            .execute("SELECT 1", &[])
            .await
            .map_err(from_pg)?;
        Ok(())
    }
}
