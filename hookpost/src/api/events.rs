//! Events: publish (one or a batch), read with the attempt log, list with filters,
//! send again by hand, delete one, and erase a subject's.

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::openapi::{MultipartPublish, PublishEvent};
use super::parse::{Arrived, JsonBody, PathParam, QueryParams};
use super::publish_body::{CarriesFiles, JsonPublish, PublishBody};
use super::views::{DeletedView, EventStateView, EventView, JobView, List, Page, PublishedView};
use super::AppState;
use crate::app::lifecycle::EraseRequest;
use crate::app::publish::{Outcome, PublishRequest, Shape};
use crate::app::retry::{BulkRetryRequest, Retried};
use crate::app::AppError;
use crate::domain::event::EventStatus;
use crate::domain::validate;
use crate::domain::validate::FieldError;
use crate::storage::{Account, EventFilter};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Largest page of events.
const MAX_PAGE: u32 = 1000;

/// Routes of this resource.
pub fn router(publish_limit: usize) -> Router<AppState> {
    let limit = DefaultBodyLimit::max(publish_limit);
    Router::new()
        .route("/v1/events", post(publish).layer(limit).get(list))
        .route("/v1/events/batch", post(publish_batch).layer(limit))
        .route("/v1/events/retry", post(retry_many))
        .route("/v1/events/{id}", get(show).delete(delete))
        .route("/v1/erase", post(erase))
        .route("/v1/events/{id}/retry", post(retry))
}

/// The documented operations of this resource.
#[derive(utoipa::OpenApi)]
#[openapi(paths(publish, publish_batch, list, show, delete, erase, retry, retry_many))]
pub(super) struct Api;

/// Publishes one event: `202` once it is durably stored; `200` for a
/// duplicate (its idempotency key was used within the window).
#[utoipa::path(
    post,
    path = "/v1/events",
    operation_id = "publish_event",
    tag = "events",
    security(("account_key" = [])),
    request_body(content(
        (PublishEvent = "application/json"),
        (MultipartPublish = "multipart/form-data"),
    )),
    responses(
        (status = 202, description = "Stored; its deliveries are under way.", body = PublishedView),
        (status = 200, description = "A duplicate: the first event as it stands.", body = PublishedView),
    ),
)]
async fn publish(
    arrived: Arrived,
    Caller(account): Caller,
    State(app): State<AppState>,
    PublishBody(request): PublishBody,
) -> Result<(StatusCode, Response), ApiError> {
    let outcomes = timed_publish(&app, arrived, &account, vec![request], Shape::Single).await?;
    let outcome = outcomes.first().ok_or(ApiError::Internal)?;
    let status = match outcome {
        Outcome::Accepted { .. } => StatusCode::ACCEPTED,
        Outcome::Duplicate { .. } => StatusCode::OK,
    };
    Ok((status, Json(PublishedView::from(outcome)).into_response()))
}

/// Several events, published all or nothing.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Batch {
    /// 1 to `--max-batch` events.
    #[schema(value_type = Vec<PublishEvent>, min_items = 1)]
    events: Vec<PublishRequest>,
}

impl CarriesFiles for Batch {
    fn base64_bytes(&self) -> usize {
        self.events.iter().map(CarriesFiles::base64_bytes).sum()
    }
}

/// All or nothing: one bad item refuses the batch and names it.
#[utoipa::path(
    post,
    path = "/v1/events/batch",
    operation_id = "publish_batch",
    tag = "events",
    security(("account_key" = [])),
    request_body = Batch,
    responses((status = 202, description = "One result per event, in order.", body = List<PublishedView>)),
)]
async fn publish_batch(
    arrived: Arrived,
    Caller(account): Caller,
    State(app): State<AppState>,
    JsonPublish(batch): JsonPublish<Batch>,
) -> Result<(StatusCode, Response), ApiError> {
    let max = app.config.max_batch;
    if batch.events.is_empty() || batch.events.len() > max {
        return Err(FieldError::new("events", format!("must hold 1 to {max} events")).into());
    }
    let outcomes = timed_publish(&app, arrived, &account, batch.events, Shape::Batch).await?;
    let data = outcomes.iter().map(PublishedView::from).collect();
    Ok((StatusCode::ACCEPTED, Json(List { data }).into_response()))
}

/// Publishes, and counts the time from the request's arrival to its events
/// stored durably (refusals are not counted).
async fn timed_publish(
    app: &AppState,
    Arrived(arrived): Arrived,
    account: &Account,
    requests: Vec<PublishRequest>,
    shape: Shape,
) -> Result<Vec<Outcome>, AppError> {
    let outcomes = app.publish(account, requests, shape).await?;
    app.metrics.observe_publish(shape, arrived.elapsed());
    Ok(outcomes)
}

/// The event, its status, its deliveries and its attempt log.
#[utoipa::path(
    get,
    path = "/v1/events/{id}",
    operation_id = "show_event",
    tag = "events",
    security(("account_key" = [])),
    params(("id" = String, Path, description = "The event.")),
    responses(
        (status = 200, description = "The event with its `attempts`.", body = EventView),
        (status = 404, description = "`event_not_found`.", body = super::error::ErrorBody),
    ),
)]
async fn show(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    match app.store.event(&account.id, &id).await? {
        Some(event) => Ok(Json(EventView::new(&event, true)).into_response()),
        None => Err(ApiError::not_found(
            ErrorCode::EventNotFound,
            format!("no event `{id}` in this account"),
        )),
    }
}

/// Deletes the event with its deliveries and attempts, whatever its state.
#[utoipa::path(
    delete,
    path = "/v1/events/{id}",
    operation_id = "delete_event",
    tag = "events",
    security(("account_key" = [])),
    params(("id" = String, Path, description = "The event.")),
    responses(
        (status = 200, description = "What went with it.", body = DeletedView),
        (status = 404, description = "`event_not_found`.", body = super::error::ErrorBody),
    ),
)]
async fn delete(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    match app.delete_event(&account, &id).await? {
        Some(removed) => Ok(Json(DeletedView { id: &id, removed }).into_response()),
        None => Err(ApiError::not_found(
            ErrorCode::EventNotFound,
            format!("no event `{id}` in this account"),
        )),
    }
}

/// Starts an erasure job; `202` with the job, whose progress reports what went.
#[utoipa::path(
    post,
    path = "/v1/erase",
    operation_id = "erase",
    tag = "events",
    security(("account_key" = [])),
    request_body = EraseRequest,
    responses((status = 202, description = "The erasure job.", body = JobView)),
)]
async fn erase(
    Caller(account): Caller,
    State(app): State<AppState>,
    JsonBody(request): JsonBody<EraseRequest>,
) -> Result<(StatusCode, Response), ApiError> {
    let job = app.start_erasure(&account, request).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(JobView::from(&job)).into_response(),
    ))
}

/// The filters of a listing, all optional.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Only events in this state.
    #[param(value_type = Option<EventStatus>)]
    status: Option<String>,
    /// Only this event type.
    event_type: Option<String>,
    /// Only this profile, which must exist (write a `+` as `%2B`).
    #[param(pattern = r"^[^/\u0000-\u001f\u007f-\u009f]{1,128}$")]
    profile_id: Option<String>,
    /// Only events with a delivery to this endpoint.
    endpoint_id: Option<String>,
    /// Only events published at or after this time (RFC 3339).
    #[param(format = DateTime)]
    since: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Newest first; `next_cursor` fetches the following page (`null` on the last).
#[utoipa::path(
    get,
    path = "/v1/events",
    operation_id = "list_events",
    tag = "events",
    security(("account_key" = [])),
    params(ListQuery),
    responses((status = 200, description = "A page of events (without attempts).", body = Page<EventView>)),
)]
async fn list(
    Caller(account): Caller,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Response, ApiError> {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(EventStatus::parse(s).ok_or_else(|| {
            FieldError::new(
                "status",
                "must be one of pending, delivered, failed, no_target, filtered",
            )
        })?),
    };
    let since = q.since.as_deref().map(since_time).transpose()?;
    if let Some(id) = &q.profile_id {
        known_profile(&app, &account, id).await?;
    }
    let limit = super::page_limit(q.limit, MAX_PAGE)?;
    let filter = EventFilter {
        status,
        event_type: q.event_type,
        profile_id: q.profile_id,
        endpoint_id: q.endpoint_id,
        since,
        cursor: q.cursor,
        oldest_first: false,
        // One more than the page: whether it came tells if another page exists.
        limit: limit + 1,
    };
    let mut events = app.store.list_events(&account.id, &filter).await?;
    let next_cursor = super::next_cursor(&mut events, limit, |e| e.id.clone());
    let data = events.iter().map(|e| EventView::new(e, false)).collect();
    Ok(Json(Page { data, next_cursor }).into_response())
}

fn state(id: &str, status: EventStatus) -> Response {
    Json(EventStateView {
        id,
        status: status.as_str(),
    })
    .into_response()
}

/// `since` as an RFC 3339 time.
fn since_time(text: &str) -> Result<DateTime<Utc>, FieldError> {
    validate::timestamp("since", text)?;
    Ok(DateTime::parse_from_rfc3339(text)
        .expect("checked just above")
        .with_timezone(&Utc))
}

/// A profile filter must name a profile: a silent empty page would hide a
/// mistake, most often a `+` that a query string reads as a space.
async fn known_profile(app: &AppState, account: &Account, id: &str) -> Result<(), ApiError> {
    match app.profile_settings(account, id).await {
        Ok(_) => Ok(()),
        Err(AppError::Field(f)) => {
            let hint = " (in a query string `+` reads as a space: write it %2B, e.g. profile_id=%2B13125550000)";
            Err(FieldError::new(f.field, f.message + hint).into())
        }
        Err(other) => Err(other.into()),
    }
}

/// Sends an event again: a failed or delivered one gets one more attempt, a
/// pending one is sent now, a `no_target` or `filtered` one is resolved again
/// with today's settings.
#[utoipa::path(
    post,
    path = "/v1/events/{id}/retry",
    operation_id = "retry_event",
    tag = "events",
    security(("account_key" = [])),
    params(("id" = String, Path, description = "The event.")),
    responses(
        (status = 202, description = "Pending: it goes again.", body = EventStateView),
        (status = 200, description = "It still has nowhere to go: its status.", body = EventStateView),
        (status = 404, description = "`event_not_found`.", body = super::error::ErrorBody),
    ),
)]
async fn retry(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<(StatusCode, Response), ApiError> {
    match app.retry(&account, &id).await? {
        Retried::Pending => Ok((StatusCode::ACCEPTED, state(&id, EventStatus::Pending))),
        Retried::Unchanged(status) => Ok((StatusCode::OK, state(&id, status))),
        Retried::NotFound => Err(ApiError::not_found(
            ErrorCode::EventNotFound,
            format!("no event `{id}` in this account"),
        )),
    }
}

/// Retries every event a filter selects, as a job: `202` with the job; `GET
/// /v1/jobs/{id}` follows it.
#[utoipa::path(
    post,
    path = "/v1/events/retry",
    operation_id = "retry_events",
    tag = "events",
    security(("account_key" = [])),
    request_body = BulkRetryRequest,
    responses((status = 202, description = "The retry job.", body = JobView)),
)]
async fn retry_many(
    Caller(account): Caller,
    State(app): State<AppState>,
    JsonBody(request): JsonBody<BulkRetryRequest>,
) -> Result<(StatusCode, Response), ApiError> {
    let job = app.start_bulk_retry(&account, request).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(JobView::from(&job)).into_response(),
    ))
}
