//! Profiles: named scopes inside an account, each with its own webhook settings.
//! The id is the caller's (`+13125550000`, a UUID…).

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::parse::{JsonBody, PathParam, QueryParams};
use super::views::{Page, ProfileView};
use super::AppState;
use crate::domain::settings::{Settings, WebhookSettings};
use crate::domain::validate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

/// Largest page of profiles.
const MAX_PAGE: u32 = 1000;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/profiles", get(list)).route(
        "/v1/profiles/{id}",
        get(show).put(put_profile).delete(delete),
    )
}

/// The documented operations of this resource.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, put_profile, show, delete))]
pub(super) struct Api;

/// Creates or replaces a profile with these settings.
#[utoipa::path(
    put,
    path = "/v1/profiles/{id}",
    operation_id = "put_profile",
    tag = "profiles",
    security(("account_key" = [])),
    params(("id" = String, Path, description = "The profile's id, the caller's own (`+13125550000`, a UUID…).", pattern = r"^[^/\u0000-\u001f\u007f-\u009f]{1,128}$")),
    request_body = Settings<String>,
    responses(
        (status = 201, description = "Created.", body = ProfileView),
        (status = 200, description = "Replaced.", body = ProfileView),
    ),
)]
async fn put_profile(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
    JsonBody(settings): JsonBody<WebhookSettings>,
) -> Result<(StatusCode, Response), ApiError> {
    validate::profile_id(&id)?;
    let (profile, created) = app.put_profile(&account, &id, &settings).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(ProfileView::from(&profile)).into_response()))
}

/// One profile.
#[utoipa::path(
    get,
    path = "/v1/profiles/{id}",
    operation_id = "show_profile",
    tag = "profiles",
    security(("account_key" = [])),
    params(("id" = String, Path, description = "The profile's id, the caller's own (`+13125550000`, a UUID…).", pattern = r"^[^/\u0000-\u001f\u007f-\u009f]{1,128}$")),
    responses(
        (status = 200, description = "The profile.", body = ProfileView),
        (status = 404, description = "`profile_not_found`.", body = super::error::ErrorBody),
    ),
)]
async fn show(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    match app.store.profile(&account.id, &id).await? {
        Some(p) => Ok(Json(ProfileView::from(&p)).into_response()),
        None => Err(ApiError::not_found(
            ErrorCode::ProfileNotFound,
            format!("no profile `{id}` in this account"),
        )),
    }
}

/// Deletes a profile.
#[utoipa::path(
    delete,
    path = "/v1/profiles/{id}",
    operation_id = "delete_profile",
    tag = "profiles",
    security(("account_key" = [])),
    params(("id" = String, Path, description = "The profile's id, the caller's own (`+13125550000`, a UUID…).", pattern = r"^[^/\u0000-\u001f\u007f-\u009f]{1,128}$")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "`profile_not_found`.", body = super::error::ErrorBody),
    ),
)]
async fn delete(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(id): PathParam<String>,
) -> Result<StatusCode, ApiError> {
    let deleted = app.delete_profile(&account, &id).await?;
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            ErrorCode::ProfileNotFound,
            format!("no profile `{id}` in this account"),
        ))
    }
}

/// A page of profiles.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// Profiles in id order.
#[utoipa::path(
    get,
    path = "/v1/profiles",
    operation_id = "list_profiles",
    tag = "profiles",
    security(("account_key" = [])),
    params(ListQuery),
    responses((status = 200, description = "A page of profiles.", body = Page<ProfileView>)),
)]
async fn list(
    Caller(account): Caller,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = super::page_limit(q.limit, MAX_PAGE)?;
    let mut profiles = app
        .store
        .list_profiles(&account.id, q.cursor.as_deref(), limit + 1)
        .await?;
    let next_cursor = super::next_cursor(&mut profiles, limit, |p| p.id.clone());
    Ok(Json(Page {
        data: profiles.iter().map(ProfileView::from).collect(),
        next_cursor,
    })
    .into_response())
}
