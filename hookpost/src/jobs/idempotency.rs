//! Forgets idempotency keys after their window: the spec says keys are
//! forgotten, and without this job their table grows with every keyed publish.

use super::{Job, BATCH};
use crate::storage::Store;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// Deletes expired idempotency keys.
pub struct IdempotencyExpiry {
    store: Arc<dyn Store>,
    interval: Duration,
}

impl IdempotencyExpiry {
    /// Looks for expired keys once per `window` (at least every second, at most
    /// every minute): a key lives at most about two windows.
    pub fn new(store: Arc<dyn Store>, window: Duration) -> Self {
        IdempotencyExpiry {
            store,
            interval: window.clamp(Duration::from_secs(1), Duration::from_secs(60)),
        }
    }
}

#[async_trait]
impl Job for IdempotencyExpiry {
    fn name(&self) -> &'static str {
        "idempotency-expiry"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    async fn run_batch(&self) -> Result<u64, String> {
        self.store
            .expire_idempotency_keys(chrono::Utc::now(), BATCH)
            .await
            .map_err(|e| e.to_string())
    }
}
