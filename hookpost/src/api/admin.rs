//! Operator routes (admin token): rotating the master key online.

use super::auth::Admin;
use super::error::ApiError;
use super::views::RotationView;
use super::AppState;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/master-key/rotate", post(rotate_master_key))
}

/// The documented operations of this resource.
#[derive(utoipa::OpenApi)]
#[openapi(paths(rotate_master_key))]
pub(super) struct Api;

/// A new master key first in the key file, then every sealed value sealed
/// again under it; answers the new key's id and how many values moved.
#[utoipa::path(
    post,
    path = "/v1/admin/master-key/rotate",
    operation_id = "rotate_master_key",
    tag = "admin",
    security(("admin_token" = [])),
    responses((status = 200, description = "The new key's id and the values sealed again.", body = RotationView)),
)]
async fn rotate_master_key(
    _: Admin,
    State(app): State<AppState>,
) -> Result<Json<RotationView>, ApiError> {
    let (key_id, resealed) = app.rotate_master_key().await?;
    Ok(Json(RotationView {
        key_id,
        resealed: resealed.into_iter().collect(),
    }))
}
