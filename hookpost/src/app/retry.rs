//! Sending an event again by hand: a failed event's failed deliveries (a
//! delivered event's deliveries) get one more attempt, pending ones are made
//! due now, and a `no_target` or `filtered` one
//! is resolved again with the settings of today (the publish request's own
//! settings, if it had any, are not kept for events that never had a target).

use super::App;
use super::AppError;
use crate::domain::event::EventStatus;
use crate::domain::settings::WebhookSettings;
use crate::storage::{Account, Retarget, RetryOutcome};

/// What a retry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retried {
    /// The event is pending: due now, or being sent right now.
    Pending,
    /// Resolved again, the event still has nowhere to go (`no_target`,
    /// `filtered`), or another request changed it meanwhile.
    Unchanged(EventStatus),
    /// No such event in this account.
    NotFound,
}

impl App {
    /// Sends event `id` again (see the module documentation).
    pub async fn retry(&self, account: &Account, id: &str) -> Result<Retried, AppError> {
        match self.store.retry_event(&account.id, id).await? {
            RetryOutcome::Scheduled => {
                self.wake_worker();
                Ok(Retried::Pending)
            }
            RetryOutcome::InFlight => Ok(Retried::Pending),
            RetryOutcome::NotFound => Ok(Retried::NotFound),
            RetryOutcome::NotRetryable(status) => self.resolve_again(account, id, status).await,
        }
    }

    async fn resolve_again(
        &self,
        account: &Account,
        id: &str,
        status: EventStatus,
    ) -> Result<Retried, AppError> {
        if !matches!(status, EventStatus::NoTarget | EventStatus::Filtered) {
            return Ok(Retried::Unchanged(status));
        }
        let Some(event) = self.store.event(&account.id, id).await? else {
            return Ok(Retried::NotFound);
        };
        // A profile deleted since publishing no longer contributes settings.
        let profile = match &event.profile_id {
            Some(p) => self.profile_settings(account, p).await.ok(),
            None => None,
        };
        let rules = self.type_rules(account, &event.event_type).await?;
        let scope = event.profile_id.as_deref().zip(profile.as_ref());
        let resolved = self
            .resolve(
                account,
                &WebhookSettings::default(),
                scope,
                &event.event_type,
                &rules,
                chrono::Utc::now(),
            )
            .await?;
        if resolved.status == status {
            return Ok(Retried::Unchanged(status));
        }
        let retarget = Retarget {
            id: id.to_string(),
            expected: status,
            status: resolved.status,
            deliveries: resolved.deliveries,
        };
        if !self.store.retarget_event(&account.id, &retarget).await? {
            return Ok(Retried::Unchanged(status));
        }
        if retarget.status == EventStatus::Pending {
            self.wake_worker();
            return Ok(Retried::Pending);
        }
        Ok(Retried::Unchanged(retarget.status))
    }
}
