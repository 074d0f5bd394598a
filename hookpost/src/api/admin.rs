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

/// A new master key first in the key file, then every sealed value sealed
/// again under it; answers the new key's id and how many values moved.
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
