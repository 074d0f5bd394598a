//! Deletes events past their retention: each batch visits every account's
//! outcomes (delivered, failed, other) and deletes at most [`BATCH`] events in
//! all, oldest first, each account's cutoff its own times over the server's
//! default. Pending events are never touched (the store passes over them).

use super::{Job, BATCH};
use crate::domain::retention::Outcome;
use crate::metrics::Metrics;
use crate::storage::Store;
use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Longest rest between looks.
const LONGEST_REST: Duration = Duration::from_secs(60);
/// Shortest rest between looks.
const SHORTEST_REST: Duration = Duration::from_secs(1);

/// The retention purge.
pub struct RetentionPurge {
    store: Arc<dyn Store>,
    default: Duration,
    metrics: Arc<Metrics>,
    /// Rest after a drained backlog, in ms: a tenth of the shortest retention
    /// in effect, so an event outlives its retention by about a tenth at most.
    rest_ms: AtomicU64,
    /// Ends the rest when an account's retention changed on this node.
    changed: Arc<Notify>,
}

impl RetentionPurge {
    /// A purge keeping events `default` long unless their account says
    /// otherwise, looking again at once when `changed` is notified.
    pub fn new(
        store: Arc<dyn Store>,
        default: Duration,
        metrics: Arc<Metrics>,
        changed: Arc<Notify>,
    ) -> Self {
        RetentionPurge {
            store,
            default,
            metrics,
            rest_ms: AtomicU64::new(rest(default).as_millis() as u64),
            changed,
        }
    }
}

/// How long to rest between looks when the shortest retention is `shortest`.
fn rest(shortest: Duration) -> Duration {
    (shortest / 10).clamp(SHORTEST_REST, LONGEST_REST)
}

#[async_trait]
impl Job for RetentionPurge {
    fn name(&self) -> &'static str {
        "retention-purge"
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(self.rest_ms.load(Ordering::Relaxed))
    }

    fn wake(&self) -> Option<Arc<Notify>> {
        Some(self.changed.clone())
    }

    async fn run_batch(&self) -> Result<u64, String> {
        let accounts = self
            .store
            .retention_overrides()
            .await
            .map_err(|e| e.to_string())?;
        let now = chrono::Utc::now();
        let mut shortest = self.default;
        let mut deleted = 0;
        'accounts: for (account, own) in accounts {
            let retention = own.over(self.default);
            shortest = shortest.min(retention.shortest());
            for outcome in Outcome::ALL {
                let room = u64::from(BATCH) - deleted;
                if room == 0 {
                    break 'accounts;
                }
                let before = retention.cutoff(outcome, now);
                let removed = self
                    .store
                    .purge(&account, outcome, before, room as u32)
                    .await
                    .map_err(|e| e.to_string())?;
                deleted += removed.events;
                self.metrics
                    .events_purged
                    .fetch_add(removed.events, Ordering::Relaxed);
            }
        }
        self.rest_ms
            .store(rest(shortest).as_millis() as u64, Ordering::Relaxed);
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rests_a_tenth_of_the_shortest_retention_within_bounds() {
        assert_eq!(rest(Duration::from_secs(30 * 86_400)), LONGEST_REST);
        assert_eq!(rest(Duration::from_secs(100)), Duration::from_secs(10));
        assert_eq!(rest(Duration::from_secs(2)), SHORTEST_REST);
    }
}
