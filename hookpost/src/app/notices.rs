//! Publishes operational events ([`crate::domain::notice`]) into the operator
//! account as ordinary events, so they are stored, signed and delivered through
//! its endpoints like any other. Notices are claimed under a lease, published
//! with their id as the idempotency key (a notice two nodes both publish is
//! stored once) and deleted only after their publish is stored.

use super::publish::{PublishRequest, Shape};
use super::App;
use crate::domain::notice::{self, Notice};
use crate::jobs::{Job, BATCH};
use async_trait::async_trait;
use serde_json::value::RawValue;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a node holds claimed notices before another may publish them.
const LEASE: Duration = Duration::from_secs(60);

/// The background job that publishes notices.
pub struct OperationalEvents {
    app: Arc<App>,
    node: String,
    /// Whether this process has registered the notice types in the operator
    /// account (with their schemas) yet.
    registered: AtomicBool,
}

impl OperationalEvents {
    /// Publishes for `app`'s operator account, claiming as `node`.
    pub fn new(app: Arc<App>, node: String) -> Self {
        OperationalEvents {
            app,
            node,
            registered: AtomicBool::new(false),
        }
    }

    async fn publish(&self, account: &crate::storage::Account, n: &Notice) -> Result<(), String> {
        let payload = RawValue::from_string(n.payload.to_string()).map_err(|e| e.to_string())?;
        let request = PublishRequest {
            event_type: Some(n.event_type.to_string()),
            payload: Some(payload),
            occurred_at: None,
            profile_id: None,
            idempotency_key: Some(n.id.clone()),
            ordering_key: None,
            payloads: None,
            attachments: None,
            files: Vec::new(),
            settings: Default::default(),
        };
        self.app
            .publish(account, vec![request], Shape::Single)
            .await
            .map_err(|e| format!("publishing {} failed: {e}", n.event_type))?;
        Ok(())
    }

    /// Registers the notice types, once per process.
    async fn register(&self, account: &crate::storage::Account) -> Result<(), String> {
        if self.registered.load(Ordering::Relaxed) {
            return Ok(());
        }
        for t in notice::event_types() {
            self.app
                .put_event_type(account, &t)
                .await
                .map_err(|e| format!("registering {} failed: {e}", t.name))?;
        }
        self.registered.store(true, Ordering::Relaxed);
        Ok(())
    }
}

#[async_trait]
impl Job for OperationalEvents {
    fn name(&self) -> &'static str {
        "operational events"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(1)
    }

    async fn run_batch(&self) -> Result<u64, String> {
        let Some(operator) = self.app.config.operator_account.as_deref() else {
            return Ok(0);
        };
        let store = &self.app.store;
        let notices = store
            .claim_notices(&self.node, LEASE, BATCH)
            .await
            .map_err(|e| e.to_string())?;
        if notices.is_empty() {
            return Ok(0);
        }
        let account = store
            .account(operator)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the operator account {operator} does not exist (--operator-account); operational events wait"))?;
        self.register(&account).await?;
        // One refused notice must not hold back the others: it stays, claimed,
        // and is tried again when its claim lapses.
        for n in &notices {
            match self.publish(&account, n).await {
                Ok(()) => store
                    .delete_notice(&n.id)
                    .await
                    .map_err(|e| e.to_string())?,
                Err(e) => {
                    tracing::warn!(notice = %n.id, error = %e, "an operational event could not be published; trying again later")
                }
            }
        }
        Ok(notices.len() as u64)
    }
}
