//! Profiles: named scopes inside an account, each with its own webhook settings.
//! The id is the caller's (`+13125550000`, a UUID…).

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::parse::{JsonBody, PathParam, QueryParams};
use super::views::{Page, ProfileView};
use super::AppState;
use crate::domain::settings::WebhookSettings;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    cursor: Option<String>,
    limit: Option<u32>,
}

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
