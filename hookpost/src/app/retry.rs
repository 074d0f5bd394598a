//! Sending an event again by hand: a failed event's failed deliveries (a
//! delivered event's deliveries) get one more attempt, pending ones are made
//! due now, and a `no_target` or `filtered` one
//! is resolved again with the settings of today (the publish request's own
//! settings, if it had any, are not kept for events that never had a target).

use super::endpoints::{time_field, DEFAULT_JOB_RATE, MAX_JOB_RATE};
use super::App;
use super::AppError;
use crate::domain::event::EventStatus;
use crate::domain::job::{Job, JobKind, RetryParams};
use crate::domain::settings::WebhookSettings;
use crate::domain::validate::FieldError;
use crate::storage::{Account, Retarget, RetryOutcome};
use chrono::Utc;
use serde::Deserialize;

/// A bulk retry: which events (every filter optional), and how fast.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRetryRequest {
    /// Only events in this state.
    #[serde(default)]
    #[schema(value_type = Option<crate::domain::event::EventStatus>)]
    status: Option<String>,
    /// Only this event type.
    #[serde(default)]
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,128}$")]
    event_type: Option<String>,
    /// Only this profile.
    #[serde(default)]
    #[schema(pattern = r"^[^/\u0000-\u001f\u007f-\u009f]{1,128}$")]
    profile_id: Option<String>,
    /// Only events with a delivery to this endpoint.
    #[serde(default)]
    endpoint_id: Option<String>,
    /// Only events published at or after this time (RFC 3339).
    #[serde(default)]
    #[schema(format = DateTime)]
    since: Option<String>,
    /// Only events published before this time (default: now).
    #[serde(default)]
    #[schema(format = DateTime)]
    until: Option<String>,
    /// Most events retried per second (default 100).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10000)]
    rate: Option<u32>,
}

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
    /// Starts a job that retries every event the filter selects, published
    /// before `until` (default: now), at `rate` events per second. A filter
    /// that selects nothing is no error: the job ends with nothing matched.
    pub async fn start_bulk_retry(
        &self,
        account: &Account,
        request: BulkRetryRequest,
    ) -> Result<Job, AppError> {
        let now = Utc::now();
        let status = request
            .status
            .as_deref()
            .map(|s| {
                EventStatus::parse(s).ok_or_else(|| {
                    FieldError::new(
                        "status",
                        "must be one of pending, delivered, failed, no_target, filtered",
                    )
                })
            })
            .transpose()?;
        if let Some(name) = &request.event_type {
            crate::domain::validate::event_type(name)?;
        }
        if let Some(profile) = &request.profile_id {
            self.profile_settings(account, profile).await?;
        }
        let since = request
            .since
            .as_deref()
            .map(|t| time_field("since", t))
            .transpose()?;
        let until = match request.until.as_deref() {
            Some(t) => time_field("until", t)?,
            None => now,
        };
        if since.is_some_and(|since| since >= until) {
            return Err(FieldError::new("until", "must be after since").into());
        }
        let rate = job_rate(request.rate)?;
        let job = Job::started(
            &account.id,
            JobKind::Retry(RetryParams {
                status,
                event_type: request.event_type,
                profile_id: request.profile_id,
                endpoint_id: request.endpoint_id,
                since,
                until,
                rate,
            }),
            now,
        );
        self.store.create_job(&job).await?;
        Ok(job)
    }

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
        let key = event.ordering_key.as_deref();
        let retarget = Retarget {
            id: id.to_string(),
            expected: status,
            status: resolved.status,
            deliveries: resolved
                .deliveries
                .into_iter()
                .map(|d| d.ordered(&account.id, key))
                .collect(),
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

/// A job's rate: events per second, default [`DEFAULT_JOB_RATE`].
pub fn job_rate(rate: Option<u32>) -> Result<u32, FieldError> {
    let rate = rate.unwrap_or(DEFAULT_JOB_RATE);
    if !(1..=MAX_JOB_RATE).contains(&rate) {
        return Err(FieldError::new(
            "rate",
            format!("must be between 1 and {MAX_JOB_RATE} events per second"),
        ));
    }
    Ok(rate)
}
