//! Endpoints: the destinations an account keeps, each subscribed to event
//! types. Create, read, list, change, delete, enable and disable them; send one
//! a test event; replay past events to one; read its recent deliveries.

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::parse::{JsonBody, OptionalJson, PathParam, QueryParams};
use super::views::{EndpointStatsView, EndpointView, JobView, Page, PublishedView};
use super::AppState;
use crate::app::endpoints::{EndpointFields, ReplayRequest, TestRequest};
use crate::domain::endpoint::{Endpoint, EndpointState};
use crate::domain::validate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

/// Largest page of endpoints.
const MAX_PAGE: u32 = 1000;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/endpoints", post(create).get(list))
        .route("/v1/endpoints/{id}", get(show).patch(update).delete(delete))
        .route("/v1/endpoints/{id}/disable", post(disable))
        .route("/v1/endpoints/{id}/enable", post(enable))
        .route("/v1/endpoints/{id}/test", post(test))
        .route("/v1/endpoints/{id}/replay", post(replay))
        .route("/v1/endpoints/{id}/stats", get(stats))
}

/// The refusal for an id this account has no endpoint under.
fn not_found(id: &str) -> ApiError {
    ApiError::not_found(
        ErrorCode::EndpointNotFound,
        format!("no endpoint `{id}` in this account"),
    )
}

fn shown(endpoint: Option<Endpoint>, id: &str) -> Result<Response, ApiError> {
    let endpoint = endpoint.ok_or_else(|| not_found(id))?;
    Ok(Json(EndpointView::from(&endpoint)).into_response())
}

/// `201` with the endpoint, enabled.
async fn create(
    Caller(account): Caller,
    State(app): State<AppState>,
    JsonBody(fields): JsonBody<EndpointFields>,
) -> Result<(StatusCode, Response), ApiError> {
    let endpoint = app.create_endpoint(&account, fields).await?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointView::from(&endpoint)).into_response(),
    ))
}

async fn show(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    shown(app.store.endpoint(&account.id, &id).await?, &id)
}

/// The fields given replace the stored ones; `null` clears an optional one.
async fn update(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
    JsonBody(fields): JsonBody<EndpointFields>,
) -> Result<Response, ApiError> {
    shown(app.update_endpoint(&account, &id, fields).await?, &id)
}

/// Its pending deliveries stop (`failed`, reason `endpoint_deleted`).
async fn delete(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<StatusCode, ApiError> {
    match app.delete_endpoint(&account, &id).await? {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(not_found(&id)),
    }
}

async fn disable(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let endpoint = app
        .set_endpoint_state(&account, &id, EndpointState::Disabled)
        .await?;
    shown(endpoint, &id)
}

async fn enable(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let endpoint = app
        .set_endpoint_state(&account, &id, EndpointState::Enabled)
        .await?;
    shown(endpoint, &id)
}

/// `202` with the test event, as a publish answers.
async fn test(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
    OptionalJson(request): OptionalJson<TestRequest>,
) -> Result<(StatusCode, Response), ApiError> {
    let outcome = app
        .test_endpoint(&account, &id, request)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PublishedView::from(&outcome)).into_response(),
    ))
}

/// `202` with the job; `GET /v1/jobs/{id}` follows it.
async fn replay(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
    JsonBody(request): JsonBody<ReplayRequest>,
) -> Result<(StatusCode, Response), ApiError> {
    let job = app
        .start_replay(&account, &id, request)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(JobView::from(&job)).into_response(),
    ))
}

async fn stats(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let endpoint = app
        .store
        .endpoint(&account.id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let stats = app
        .store
        .endpoint_stats(&account.id, &id, chrono::Utc::now())
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(EndpointStatsView::new(&endpoint, &stats)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    profile_id: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// In id order (oldest first); `next_cursor` fetches the following page.
async fn list(
    Caller(account): Caller,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = super::page_limit(q.limit, MAX_PAGE)?;
    if let Some(profile) = &q.profile_id {
        validate::profile_id(profile)?;
    }
    let mut endpoints = app
        .store
        .list_endpoints(
            &account.id,
            q.profile_id.as_deref(),
            q.cursor.as_deref(),
            limit + 1,
        )
        .await?;
    let next_cursor = super::next_cursor(&mut endpoints, limit, |e| e.id.clone());
    Ok(Json(Page {
        data: endpoints.iter().map(EndpointView::from).collect(),
        next_cursor,
    })
    .into_response())
}
