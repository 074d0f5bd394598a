//! Jobs a caller started (a replay): follow their progress, or cancel them.

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::parse::PathParam;
use super::views::JobView;
use super::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/jobs/{id}", get(show))
        .route("/v1/jobs/{id}/cancel", post(cancel))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(
        ErrorCode::JobNotFound,
        format!("no job `{id}` in this account"),
    )
}

/// The documented operations of this resource.
#[derive(utoipa::OpenApi)]
#[openapi(paths(show, cancel))]
pub(super) struct Api;

/// A job's state and progress.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}",
    operation_id = "show_job",
    tag = "jobs",
    security(("account_key" = [])),
    params(("id" = String, Path, description = "The job.")),
    responses(
        (status = 200, description = "The job.", body = JobView),
        (status = 404, description = "`job_not_found`.", body = super::error::ErrorBody),
    ),
)]
async fn show(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let job = app
        .store
        .job(&account.id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(JobView::from(&job)).into_response())
}

/// Stops a running job after its current batch; the job as it stands after.
#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/cancel",
    operation_id = "cancel_job",
    tag = "jobs",
    security(("account_key" = [])),
    params(("id" = String, Path, description = "The job.")),
    responses(
        (status = 200, description = "The job as it stands after.", body = JobView),
        (status = 404, description = "`job_not_found`.", body = super::error::ErrorBody),
    ),
)]
async fn cancel(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    app.store.cancel_job(&account.id, &id).await?;
    show(Caller(account), State(app), PathParam(id)).await
}
