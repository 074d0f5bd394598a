//! Background jobs: work the server does on its own, on a schedule, beside the
//! API and the delivery worker. Each job does one small batch at a time and runs
//! batches one after another only while a batch comes back full, resting
//! between them three times as long as the batch took, so a backlog drains
//! without ever holding the writer (or a PostgreSQL lock) for long. Every node
//! runs every job; the jobs are written so that several nodes doing the same
//! work at once is harmless.

mod caller_jobs;
mod idempotency;
mod master_key;
mod retention;

pub use caller_jobs::CallerJobs;
pub use idempotency::IdempotencyExpiry;
pub use master_key::MasterKeyWatch;
pub use retention::RetentionPurge;

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Most rows one batch of a job touches.
pub const BATCH: u32 = 500;

/// How long a job rests after a full batch, in multiples of the time the batch
/// took: a backlog then takes at most a quarter of the store's writer, so
/// publishing and delivery keep the rest (a purge of a million events,
/// unpaced, halved the publish rate beside it).
const REST_PER_BATCH: u32 = 3;

/// One kind of background work.
#[async_trait]
pub trait Job: Send + Sync + 'static {
    /// A name for the log.
    fn name(&self) -> &'static str;
    /// How long to rest after the backlog is drained.
    fn interval(&self) -> Duration;
    /// Does one batch; answers how many items it handled (a full [`BATCH`] means
    /// more may be waiting).
    async fn run_batch(&self) -> Result<u64, String>;
    /// What ends its rest early (a change that gives it work now), if anything.
    fn wake(&self) -> Option<Arc<Notify>> {
        None
    }
}

/// Runs `jobs` until `stop` is cancelled, each in its own task.
pub fn start(jobs: Vec<Arc<dyn Job>>, stop: CancellationToken) -> tokio_util::task::TaskTracker {
    let tasks = tokio_util::task::TaskTracker::new();
    for job in jobs {
        tasks.spawn(run(job, stop.clone()));
    }
    tasks.close();
    tasks
}

async fn run(job: Arc<dyn Job>, stop: CancellationToken) {
    let wake = job.wake().unwrap_or_default();
    while !stop.is_cancelled() {
        let done = drain(job.as_ref(), &stop).await;
        if done > 0 {
            tracing::debug!(job = job.name(), done, "background job ran");
        }
        tokio::select! {
            _ = tokio::time::sleep(job.interval()) => {}
            _ = wake.notified() => {}
            _ = stop.cancelled() => {}
        }
    }
}

/// Runs batches while they come back full; answers how many items were handled.
async fn drain(job: &dyn Job, stop: &CancellationToken) -> u64 {
    let mut total = 0;
    while !stop.is_cancelled() {
        let started = tokio::time::Instant::now();
        match job.run_batch().await {
            Ok(n) => {
                total += n;
                if n < u64::from(BATCH) {
                    break;
                }
                // Let publishing and delivery in between two batches.
                tokio::select! {
                    _ = tokio::time::sleep(started.elapsed() * REST_PER_BATCH) => {}
                    _ = stop.cancelled() => {}
                }
            }
            Err(e) => {
                tracing::warn!(job = job.name(), error = %e, "background job failed; trying again later");
                break;
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A job with `backlog` items, handled a batch at a time.
    struct Countdown {
        backlog: AtomicU64,
        batches: AtomicU64,
    }

    #[async_trait]
    impl Job for Countdown {
        fn name(&self) -> &'static str {
            "countdown"
        }
        fn interval(&self) -> Duration {
            Duration::from_secs(60)
        }
        async fn run_batch(&self) -> Result<u64, String> {
            self.batches.fetch_add(1, Ordering::Relaxed);
            let left = self.backlog.load(Ordering::Relaxed);
            let n = left.min(u64::from(BATCH));
            self.backlog.store(left - n, Ordering::Relaxed);
            Ok(n)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_backlog_drains_in_batches_then_the_job_rests() {
        let job = Arc::new(Countdown {
            backlog: AtomicU64::new(u64::from(BATCH) * 2 + 7),
            batches: AtomicU64::new(0),
        });
        let stop = CancellationToken::new();
        let tasks = start(vec![job.clone()], stop.clone());
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(job.backlog.load(Ordering::Relaxed), 0);
        assert_eq!(
            job.batches.load(Ordering::Relaxed),
            3,
            "two full batches and a short one"
        );
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(
            job.batches.load(Ordering::Relaxed),
            4,
            "one more look after the interval"
        );
        stop.cancel();
        tasks.wait().await;
    }
}
