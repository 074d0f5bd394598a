//! Endpoints: the destinations an account keeps, each subscribed to event
//! types. Create, read, list, change, delete, enable and disable them; send one
//! a test event; replay past events to one; read its recent deliveries.

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::openapi::{EndpointChange, NewEndpoint};
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

/// The documented operations of this resource.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create, list, show, update, delete, disable, enable, test, replay, stats
))]
pub(super) struct Api;

/// `201` with the endpoint, enabled.
#[utoipa::path(
    post,
    path = "/v1/endpoints",
    operation_id = "create_endpoint",
    tag = "endpoints",
    security(("account_key" = [])),
    request_body = NewEndpoint,
    responses(
        (status = 201, description = "The endpoint.", body = EndpointView),
    ),
)]
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

/// One endpoint.
#[utoipa::path(
    get,
    path = "/v1/endpoints/{id}",
    operation_id = "show_endpoint",
    tag = "endpoints",
    security(("account_key" = [])),
    params(("id" = String, Path, description = "The endpoint.")),
    responses(
        (status = 200, description = "The endpoint.", body = EndpointView),
        (status = 404, description = "`endpoint_not_found`.", body = super::error::ErrorBody),
    ),
)]
async fn show(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    shown(app.store.endpoint(&account.id, &id).await?, &id)
}

/// The fields given replace the stored ones; `null` clears an optional one.
#[utoipa::path(
    patch,
    path = "/v1/endpoints/{id}",
    operation_id = "update_endpoint",
    tag = "endpoints",
    security(("account_key" = [])),
    params(("id" = String, Path, description = "The endpoint.")),
    request_body = EndpointChange,
    responses(
        (status = 200, description = "The endpoint now.", body = EndpointView),
        (status = 404, description = "`endpoint_not_found`.", body = super::error::ErrorBody),
    ),
)]
async fn update(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
    JsonBody(fields): JsonBody<EndpointFields>,
) -> Result<Response, ApiError> {
    shown(app.update_endpoint(&account, &id, fields).await?, &id)
}

/// Its pending deliveries stop (`failed`, reason `endpoint_deleted`).
#[utoipa::path(
    delete,
    path = "/v1/endpoints/{id}",
    operation_id = "delete_endpoint",
    tag = "endpoints",
    security(("account_key" = [])),
    params(("id" = String, Path, description = "The endpoint.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "`endpoint_not_found`.", body = super::error::ErrorBody),
    ),
)]
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

/// Stops new deliveries to it (pending ones are parked).
#[utoipa::path(
    post,
    path = "/v1/endpoints/{id}/disable",
    operation_id = "disable_endpoint",
    tag = "endpoints",
    security(("account_key" = [])),
    params(("id" = String, Path, description = "The endpoint.")),
    responses(
        (status = 200, description = "The endpoint now.", body = EndpointView),
        (status = 404, description = "`endpoint_not_found`.", body = super::error::ErrorBody),
    ),
)]
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

/// Resumes deliveries to it.
#[utoipa::path(
    post,
    path = "/v1/endpoints/{id}/enable",
    operation_id = "enable_endpoint",
    tag = "endpoints",
    security(("account_key" = [])),
    params(("id" = String, Path, description = "The endpoint.")),
    responses(
        (status = 200, description = "The endpoint now.", body = EndpointView),
        (status = 404, description = "`endpoint_not_found`.", body = super::error::ErrorBody),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/v1/endpoints/{id}/test",
    operation_id = "test_endpoint",
    tag = "endpoints",
    security(("account_key" = [])),
    params(("id" = String, Path, description = "The endpoint.")),
    request_body(content = Option<TestRequest>, description = "Optional: an empty body sends a `hookpost.test` event."),
    responses(
        (status = 202, description = "The test event.", body = PublishedView),
        (status = 404, description = "`endpoint_not_found`.", body = super::error::ErrorBody),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/v1/endpoints/{id}/replay",
    operation_id = "replay_to_endpoint",
    tag = "endpoints",
    security(("account_key" = [])),
    params(("id" = String, Path, description = "The endpoint.")),
    request_body = ReplayRequest,
    responses(
        (status = 202, description = "The replay job.", body = JobView),
        (status = 404, description = "`endpoint_not_found`.", body = super::error::ErrorBody),
    ),
)]
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

/// Deliveries of events published in the last hour and day, by status.
#[utoipa::path(
    get,
    path = "/v1/endpoints/{id}/stats",
    operation_id = "endpoint_stats",
    tag = "endpoints",
    security(("account_key" = [])),
    params(("id" = String, Path, description = "The endpoint.")),
    responses(
        (status = 200, description = "Its recent deliveries and state.", body = EndpointStatsView),
        (status = 404, description = "`endpoint_not_found`.", body = super::error::ErrorBody),
    ),
)]
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

/// A page of endpoints, of one profile or all.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Only this profile's endpoints.
    #[param(pattern = r"^[^/\u0000-\u001f\u007f-\u009f]{1,128}$")]
    profile_id: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// In id order (oldest first); `next_cursor` fetches the following page.
#[utoipa::path(
    get,
    path = "/v1/endpoints",
    operation_id = "list_endpoints",
    tag = "endpoints",
    security(("account_key" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of endpoints.", body = Page<EndpointView>),
    ),
)]
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
