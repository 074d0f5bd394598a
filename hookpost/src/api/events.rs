//! Events: publish (one or a batch), read with the attempt log, list with filters,
//! and send again by hand.

use super::auth::Caller;
use super::error::ApiError;
use super::parse::{JsonBody, QueryParams};
use super::views::{EventView, Page, TargetView};
use super::AppState;
use crate::app::publish::{Outcome, PublishRequest};
use crate::domain::event::EventStatus;
use crate::domain::validate::FieldError;
use crate::storage::{EventFilter, RetryOutcome};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

/// Largest page of events.
const MAX_PAGE: u32 = 1000;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/events", post(publish).get(list))
        .route("/v1/events/batch", post(publish_batch))
        .route("/v1/events/{id}", get(show))
        .route("/v1/events/{id}/retry", post(retry))
}

fn outcome_view(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Accepted { id, status, target } => json!({
            "id": id,
            "status": status.as_str(),
            "duplicate": false,
            "target": target.as_deref().map(TargetView::from),
        }),
        Outcome::Duplicate { id } => json!({"id": id, "duplicate": true}),
    }
}

/// `202` once the event is durably stored; `200` for a duplicate.
async fn publish(
    Caller(account): Caller,
    State(app): State<AppState>,
    JsonBody(request): JsonBody<PublishRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let outcomes = app.publish(&account, vec![request]).await?;
    let outcome = outcomes.first().ok_or(ApiError::Internal)?;
    let status = match outcome {
        Outcome::Accepted { .. } => StatusCode::ACCEPTED,
        Outcome::Duplicate { .. } => StatusCode::OK,
    };
    Ok((status, Json(outcome_view(outcome))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    events: Vec<PublishRequest>,
}

/// All or nothing: one bad item refuses the batch and names it.
async fn publish_batch(
    Caller(account): Caller,
    State(app): State<AppState>,
    JsonBody(batch): JsonBody<Batch>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let max = app.config.max_batch;
    if batch.events.is_empty() || batch.events.len() > max {
        return Err(FieldError::new("events", format!("must hold 1 to {max} events")).into());
    }
    let outcomes = app.publish(&account, batch.events).await?;
    let data: Vec<Value> = outcomes.iter().map(outcome_view).collect();
    Ok((StatusCode::ACCEPTED, Json(json!({ "data": data }))))
}

async fn show(
    Caller(account): Caller,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match app.store.event(&account.id, &id).await? {
        Some(event) => Ok(Json(json!(EventView::new(&event, true)))),
        None => Err(ApiError::NotFound(format!(
            "no event `{id}` in this account"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    event_type: Option<String>,
    profile_id: Option<String>,
    since: Option<DateTime<Utc>>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Newest first; `next_cursor` fetches the following page.
async fn list(
    Caller(account): Caller,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(EventStatus::parse(s).ok_or_else(|| {
            FieldError::new(
                "status",
                "must be one of pending, delivered, failed, no_target, filtered",
            )
        })?),
    };
    let limit = super::page_limit(q.limit, MAX_PAGE)?;
    let filter = EventFilter {
        status,
        event_type: q.event_type,
        profile_id: q.profile_id,
        since: q.since,
        before_id: q.cursor,
        limit,
    };
    let events = app.store.list_events(&account.id, &filter).await?;
    let next_cursor = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.id.clone()))
        .flatten();
    let data = events.iter().map(|e| EventView::new(e, false)).collect();
    Ok(Json(json!(Page { data, next_cursor })))
}

/// Sends a failed (or delivered) event again: one more attempt, due now.
async fn retry(
    Caller(account): Caller,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    match app.store.retry_event(&account.id, &id).await? {
        RetryOutcome::Scheduled => {
            app.deliverer.wake();
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({"id": id, "status": "pending"})),
            ))
        }
        RetryOutcome::NotFound => Err(ApiError::NotFound(format!(
            "no event `{id}` in this account"
        ))),
        RetryOutcome::NotRetryable(status) => Err(ApiError::Conflict(format!(
            "the event is {}; only failed or delivered events can be sent again",
            status.as_str()
        ))),
    }
}
