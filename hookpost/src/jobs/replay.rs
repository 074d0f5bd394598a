//! Runs the jobs callers start (`POST /v1/endpoints/{id}/replay`): each tick,
//! every due job is claimed under a lease, does one batch of at most `rate`
//! events, saves its progress and comes due again a second later. So a replay
//! goes at its rate, any node may run its next batch, and a node that dies
//! mid-batch loses nothing: the lease lapses and the batch is done again
//! (deliveries already added are skipped, one per event and endpoint).

use super::Job as BackgroundJob;
use crate::delivery::worker::Deliverer;
use crate::domain::delivery::NewDelivery;
use crate::domain::endpoint::{subscribed, EventTypePattern};
use crate::domain::job::{Job, JobKind, JobProgress, JobState, ReplayParams};
use crate::domain::settings::WebhookSettings;
use crate::domain::target::{endpoint_target, Levels};
use crate::storage::{Store, StoreError};
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
        let JobKind::Replay(params) = &job.kind;
        let mut progress = job.progress.clone();
        let Some(replay) = self.replay_target(job, params).await? else {
            progress.error = Some(format!("endpoint {} was deleted", params.endpoint_id));
            return Ok((JobState::Failed, progress));
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
            let added = in_scope
                && subscribed(types, &candidate.event_type)
                && self
                    .store
                    .add_delivery(&candidate.id, replay.delivery.clone())
                    .await?;
            if added {
                progress.queued += 1;
            } else {
                progress.skipped += 1;
            }
        }
        if progress.queued > job.progress.queued {
            if let Some(deliverer) = &self.deliverer {
                deliverer.wake();
            }
        }
        let done = candidates.len() < params.rate as usize;
        Ok((
            if done {
                JobState::Succeeded
            } else {
                JobState::Running
            },
            progress,
        ))
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
        let target = endpoint_target(
            &Levels {
                request: &WebhookSettings::default(),
                profile: profile.as_ref(),
                account: &account.settings,
            },
            &endpoint,
        );
        Ok(Some(ReplayTarget {
            delivery: NewDelivery::new(target, self.lease_margin, Utc::now()),
            subscription: endpoint.spec.event_types,
            profile_id: endpoint.spec.profile_id,
        }))
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
