//! The data lifecycle's services: an account's retention times (checked
//! against every retry schedule the account uses), deleting one event, and
//! starting an erasure by subject.

use super::retry::job_rate;
use super::{App, AppError};
use crate::domain::job::{EraseParams, Job, JobKind};
use crate::domain::retention::{self, Retention, RetentionOverride};
use crate::domain::retry::RetrySchedule;
use crate::domain::subject::{check_value, SubjectPath};
use crate::domain::validate::FieldError;
use crate::storage::{sealed, Account, Removed, StoreError, StoreResult};
use chrono::Utc;
use serde::Deserialize;
use std::time::Duration;

/// Page size when reading an account's profiles and endpoints.
const PAGE: u32 = 200;

/// Every item of a listing read page by page (`page(after)` answers the
/// items after the one whose id is `after`; an empty page ends it).
async fn every_page<T, F, Fut>(mut page: F, id: impl Fn(&T) -> String) -> Result<Vec<T>, AppError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = StoreResult<Vec<T>>>,
{
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let items = page(after).await?;
        after = items.last().map(&id);
        all.extend(items);
        if after.is_none() {
            return Ok(all);
        }
    }
}

/// `POST /v1/erase`: whose data to erase.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    /// Where in the payload, e.g. `payload.to[].phone_number`.
    #[schema(
        pattern = r"^payload\.[^.\[\]]+(\.[^.\[\]]+|\[\])*$",
        example = "payload.to[].phone_number"
    )]
    path: String,
    /// The value that names the subject.
    #[schema(schema_with = subject_value)]
    value: serde_json::Value,
    /// Most events looked at per second.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10000)]
    rate: Option<u32>,
}

/// [`EraseRequest::value`]'s schema, as `subject::check_value` reads it.
fn subject_value() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1)),
        )
        .item(ObjectBuilder::new().schema_type(Type::Number))
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .examples([serde_json::json!("+13125550000")])
        .into()
}

impl App {
    /// The retention times in effect for the account.
    pub fn retention(&self, account: &Account) -> Retention {
        account.retention.over(self.config.retention)
    }

    /// Replaces the account's own retention times, refusing one shorter than
    /// a retry schedule the account uses; answers the times now in effect.
    pub async fn set_retention(
        &self,
        account: &Account,
        own: RetentionOverride,
    ) -> Result<Retention, AppError> {
        own.check(self.retry_floor(account).await?)?;
        self.store.set_retention(&account.id, &own).await?;
        self.caches.forget_account(&account.id);
        self.retention_changed.notify_one();
        Ok(own.over(self.config.retention))
    }

    /// The longest retry span of the schedules the account's settings, its
    /// profiles and its endpoints set (the default where the account sets none).
    async fn retry_floor(&self, account: &Account) -> Result<Duration, AppError> {
        let (store, id) = (&self.store, account.id.as_str());
        let profiles = every_page(
            |after| async move { store.list_profiles(id, after.as_deref(), PAGE).await },
            |p| p.id.clone(),
        )
        .await?;
        let endpoints = every_page(
            |after| async move { store.list_endpoints(id, None, after.as_deref(), PAGE).await },
            |e| e.id.clone(),
        )
        .await?;
        let own = account.settings.retry_schedule.clone().unwrap_or_default();
        let schedules: Vec<RetrySchedule> = std::iter::once(own)
            .chain(
                profiles
                    .into_iter()
                    .filter_map(|p| p.settings.retry_schedule),
            )
            .chain(
                endpoints
                    .into_iter()
                    .filter_map(|e| e.spec.settings.retry_schedule),
            )
            .collect();
        Ok(retention::floor(&schedules))
    }

    /// Puts a new master key first in the key file and seals every stored
    /// secret again under it; answers its id and the values moved per column.
    pub async fn rotate_master_key(&self) -> Result<(String, Vec<(&'static str, u64)>), AppError> {
        let keyring = crate::master_key::rotate(&self.config.master_key_path())
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        self.store.record_master_key(keyring.current().id()).await?;
        let resealed = crate::master_key::reseal_all(self.store.as_ref()).await?;
        let id = keyring.current().id();
        if sealed::installed().is_some_and(|k| k.current().id() == id) {
            // Every value is under the new key now (a reseal cut short by
            // another rotation leaves the old ids recorded).
            self.store.keep_master_key(id).await?;
        }
        Ok((id.to_string(), resealed))
    }

    /// Deletes one event with its deliveries and attempts, whatever its
    /// state; `None` when the account has no such event.
    pub async fn delete_event(
        &self,
        account: &Account,
        id: &str,
    ) -> Result<Option<Removed>, AppError> {
        let removed = self
            .store
            .delete_events(&account.id, &[id.to_string()])
            .await?;
        Ok((removed.events > 0).then_some(removed))
    }

    /// Starts a job deleting every event published until now whose payload
    /// holds the subject (see [`crate::domain::subject`]).
    pub async fn start_erasure(
        &self,
        account: &Account,
        request: EraseRequest,
    ) -> Result<Job, AppError> {
        let path = SubjectPath::parse(&request.path).map_err(|e| FieldError::new("path", e))?;
        check_value(&request.value)?;
        let now = Utc::now();
        let job = Job::started(
            &account.id,
            JobKind::Erase(EraseParams {
                path: path.as_str().to_string(),
                sealed_value: sealed::seal(request.value.to_string()),
                until: now,
                rate: job_rate(request.rate)?,
            }),
            now,
        );
        self.store.create_job(&job).await?;
        Ok(job)
    }
}
