//! The HTTP API (`/v1`, JSON, Bearer auth): one file per resource, each with its
//! own router, merged here. Handlers parse, call the application services or the
//! store, and map errors through [`error::ApiError`]; they hold no SQL.

mod accounts;
mod auth;
mod egress;
pub mod error;
mod event_types;
mod events;
mod health;
mod keys;
pub mod parse;
mod profiles;
mod views;

use crate::app::App;
use crate::domain::validate::FieldError;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use error::ApiError;
use std::sync::Arc;

/// Shared state of every handler.
pub type AppState = Arc<App>;

/// The whole API.
pub fn router(app: AppState) -> Router {
    let body_limit = app.config.max_body_bytes;
    Router::new()
        .merge(accounts::router())
        .merge(profiles::router())
        .merge(events::router())
        .merge(event_types::router())
        .merge(health::router())
        .merge(egress::router())
        .merge(keys::router())
        .fallback(|| async {
            ApiError::NotFound("no such route; see the API reference in the README".into())
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(app)
}

/// Only `/healthz`, for worker-only nodes.
pub fn health_router(app: AppState) -> Router {
    health::router().with_state(app)
}

/// A page size from `limit`: default 50, at most `max`.
fn page_limit(limit: Option<u32>, max: u32) -> Result<u32, FieldError> {
    match limit.unwrap_or(50) {
        n if n == 0 || n > max => Err(FieldError::new(
            "limit",
            format!("must be between 1 and {max}"),
        )),
        n => Ok(n),
    }
}
