//! Runs the jobs callers start (`POST /v1/endpoints/{id}/replay`, `POST
//! /v1/events/retry`, `POST /v1/erase`): each tick,
//! every due job is claimed under a lease, does one batch of at most `rate`
//! events, saves its progress and comes due again a second later. So a replay
//! goes at its rate, any node may run its next batch, and a node that dies
//! mid-batch loses nothing: the lease lapses and the batch is done again
//! (a replay adds at most one delivery per event and endpoint; a retry made
//! twice of one event only makes it due now twice; an erasure finds nothing
//! left to delete the second time).

use super::Job as BackgroundJob;
use crate::delivery::worker::Deliverer;
use crate::domain::delivery::NewDelivery;
use crate::domain::endpoint::{subscribed, EventTypePattern};
use crate::domain::job::{
    EraseParams, Job, JobKind, JobProgress, JobState, ReplayParams, RetryParams,
};
use crate::domain::subject::SubjectPath;
use crate::domain::target::endpoint_target;
use crate::storage::rows::{first_id_at, from_sealed};
use crate::storage::{EventFilter, RetryOutcome, Store, StoreError, StoredEvent};
use async_trait::async_trait;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;

/// How long a claimed job is held before another node may take it.
const LEASE: Duration = Duration::from_secs(60);
/// The pace of batches: one per job per tick.
const TICK: Duration = Duration::from_secs(1);

/// Runs due caller jobs.
pub struct CallerJobs {
    store: Arc<dyn Store>,
    node: String,
    deliverer: Option<Arc<Deliverer>>,
    lease_margin: Duration,
}

impl CallerJobs {
    /// A runner claiming as `node`, waking `deliverer` (if this node has one)
    /// when it queued deliveries.
    pub fn new(
        store: Arc<dyn Store>,
        node: String,
        deliverer: Option<Arc<Deliverer>>,
        lease_margin: Duration,
    ) -> Self {
        CallerJobs {
            store,
            node,
            deliverer,
            lease_margin,
        }
    }

    /// One batch of `job`: its new state and progress.
    async fn batch(&self, job: &Job) -> Result<(JobState, JobProgress), StoreError> {
        let mut progress = job.progress.clone();
        let looked_at = match &job.kind {
            JobKind::Replay(params) => self.replay_batch(job, params, &mut progress).await?,
            JobKind::Retry(params) => self.retry_batch(job, params, &mut progress).await?,
            JobKind::Erase(params) => self.erase_batch(job, params, &mut progress).await?,
        };
        let Some(looked_at) = looked_at else {
            return Ok((JobState::Failed, progress));
        };
        if progress.done > job.progress.done {
            if let Some(deliverer) = &self.deliverer {
                deliverer.wake();
            }
        }
        let done = looked_at < job.kind.rate() as usize;
        Ok((
            if done {
                JobState::Succeeded
            } else {
                JobState::Running
            },
            progress,
        ))
    }

    /// One batch of a replay; how many events it looked at, `None` when the
    /// endpoint is gone (the error is in `progress`).
    async fn replay_batch(
        &self,
        job: &Job,
        params: &ReplayParams,
        progress: &mut JobProgress,
    ) -> Result<Option<usize>, StoreError> {
        let Some(replay) = self.replay_target(job, params).await? else {
            progress.error = Some(format!("endpoint {} was deleted", params.endpoint_id));
            return Ok(None);
        };
        let candidates = self
            .store
            .replay_candidates(
                &job.account_id,
                progress.cursor.as_deref().unwrap_or(""),
                params.since,
                params.until,
                params.rate,
            )
            .await?;
        let types = if params.event_types.is_empty() {
            &replay.subscription
        } else {
            &params.event_types
        };
        for candidate in &candidates {
            progress.scanned += 1;
            progress.cursor = Some(candidate.id.clone());
            let in_scope = replay.profile_id.is_none() || candidate.profile_id == replay.profile_id;
            if !in_scope || !subscribed(types, &candidate.event_type) {
                continue;
            }
            progress.matched += 1;
            let added = self
                .store
                .add_delivery(&candidate.id, replay.delivery.clone())
                .await?;
            count(progress, added);
        }
        Ok(Some(candidates.len()))
    }

    /// One batch of a bulk retry, oldest first (so that a key's events are
    /// sent again in publish order), up to the events published before
    /// `until`; how many events it looked at.
    async fn retry_batch(
        &self,
        job: &Job,
        params: &RetryParams,
        progress: &mut JobProgress,
    ) -> Result<Option<usize>, StoreError> {
        let filter = EventFilter {
            status: params.status,
            event_type: params.event_type.clone(),
            profile_id: params.profile_id.clone(),
            endpoint_id: params.endpoint_id.clone(),
            since: params.since,
            cursor: progress.cursor.clone(),
            oldest_first: true,
            limit: params.rate,
        };
        let bound = first_id_at(params.until);
        let events = self.store.list_events(&job.account_id, &filter).await?;
        let before_until = events.iter().take_while(|e| e.id < bound);
        let mut looked_at = 0;
        for event in before_until {
            looked_at += 1;
            progress.scanned += 1;
            progress.matched += 1;
            progress.cursor = Some(event.id.clone());
            let outcome = self.store.retry_event(&job.account_id, &event.id).await?;
            count(
                progress,
                matches!(outcome, RetryOutcome::Scheduled | RetryOutcome::InFlight),
            );
        }
        Ok(Some(looked_at))
    }

    /// One batch of an erasure, oldest first up to the events published
    /// before `until`: the matching events of the batch are deleted together.
    /// How many events it looked at; `None` when the stored path no longer
    /// reads (the error is in `progress`).
    async fn erase_batch(
        &self,
        job: &Job,
        params: &EraseParams,
        progress: &mut JobProgress,
    ) -> Result<Option<usize>, StoreError> {
        let path = match SubjectPath::parse(&params.path) {
            Ok(path) => path,
            Err(e) => {
                progress.error = Some(format!("path {}: {e}", params.path));
                return Ok(None);
            }
        };
        let sought = from_sealed::<serde_json::Value>(&params.sealed_value)?;
        let filter = EventFilter {
            cursor: progress.cursor.clone(),
            oldest_first: true,
            limit: params.rate,
            ..EventFilter::default()
        };
        let bound = first_id_at(params.until);
        let events = self.store.list_events(&job.account_id, &filter).await?;
        let mut doomed = Vec::new();
        let mut looked_at = 0;
        for event in events.iter().take_while(|e| e.id < bound) {
            looked_at += 1;
            progress.scanned += 1;
            progress.cursor = Some(event.id.clone());
            if holds_subject(event, &path, &sought) {
                progress.matched += 1;
                doomed.push(event.id.clone());
            }
        }
        let removed = self.store.delete_events(&job.account_id, &doomed).await?;
        progress.done += removed.events;
        progress.skipped += doomed.len() as u64 - removed.events;
        *progress.removed.get_or_insert_default() += removed;
        Ok(Some(looked_at))
    }

    /// Where a replay sends, resolved once per batch; `None` when the endpoint
    /// (or its account) is gone.
    async fn replay_target(
        &self,
        job: &Job,
        params: &ReplayParams,
    ) -> Result<Option<ReplayTarget>, StoreError> {
        let Some(endpoint) = self
            .store
            .endpoint(&job.account_id, &params.endpoint_id)
            .await?
        else {
            return Ok(None);
        };
        let Some(account) = self.store.account(&job.account_id).await? else {
            return Ok(None);
        };
        let profile = match &endpoint.spec.profile_id {
            Some(id) => self
                .store
                .profile(&account.id, id)
                .await?
                .map(|p| p.settings),
            None => None,
        };
        let target = endpoint_target(&endpoint, profile.as_ref(), &account.settings);
        Ok(Some(ReplayTarget {
            delivery: NewDelivery::new(target, self.lease_margin, Utc::now()),
            subscription: endpoint.spec.event_types,
            profile_id: endpoint.spec.profile_id,
        }))
    }
}

/// Whether the event's payload, or any of its versions, holds the subject.
fn holds_subject(event: &StoredEvent, path: &SubjectPath, sought: &serde_json::Value) -> bool {
    use serde_json::{value::RawValue, Map, Value};
    let payload: Option<Value> = serde_json::from_str(event.payload.get()).ok();
    let versions: Option<Map<String, Value>> = event
        .payloads
        .as_deref()
        .and_then(|raw: &RawValue| serde_json::from_str(raw.get()).ok());
    let each_version = versions.iter().flat_map(Map::values);
    payload
        .iter()
        .chain(each_version)
        .any(|p| path.holds(p, sought))
}

/// Counts a matched event as done or skipped.
fn count(progress: &mut JobProgress, done: bool) {
    if done {
        progress.done += 1;
    } else {
        progress.skipped += 1;
    }
}

/// What one batch of a replay sends and to whom.
struct ReplayTarget {
    /// The delivery each replayed event gets (due now, settings resolved as at
    /// publish).
    delivery: NewDelivery,
    /// The endpoint's subscription: the types replayed when the job names none.
    subscription: Vec<EventTypePattern>,
    /// The profile it is bound to: only that profile's events are replayed.
    profile_id: Option<String>,
}

#[async_trait]
impl BackgroundJob for CallerJobs {
    fn name(&self) -> &'static str {
        "caller-jobs"
    }

    fn interval(&self) -> Duration {
        TICK
    }

    /// Runs one batch of every due job; answers how many jobs ran (never a
    /// full [`super::BATCH`]: the next look is a tick later, which paces them).
    async fn run_batch(&self) -> Result<u64, String> {
        let mut ran = 0;
        while let Some(job) = self
            .store
            .claim_job(&self.node, LEASE)
            .await
            .map_err(|e| e.to_string())?
        {
            let (state, progress) = match self.batch(&job).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "a job batch failed; trying again after its lease");
                    continue;
                }
            };
            let due = (state == JobState::Running)
                .then(|| Utc::now() + chrono::Duration::from_std(TICK).expect("a second fits"));
            self.store
                .save_job(&job.id, &self.node, state, &progress, due)
                .await
                .map_err(|e| e.to_string())?;
            ran += 1;
        }
        Ok(ran)
    }
}
