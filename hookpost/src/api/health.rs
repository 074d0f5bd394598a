//! `GET /healthz`: the process is up and its database answers. `GET /metrics`:
//! counters in the Prometheus text format (counts only, no tenant data).

use super::error::ApiError;
use super::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
}

/// `{"status": "ok"}` when the database answers.
#[derive(serde::Serialize)]
struct Health {
    status: &'static str,
}

async fn health(State(app): State<AppState>) -> Result<Json<Health>, ApiError> {
    app.store.ping().await?;
    Ok(Json(Health { status: "ok" }))
}

async fn metrics(
    State(app): State<AppState>,
) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    let endpoints = app
        .store
        .endpoint_tally()
        .await
        .map_err(|e| tracing::warn!(error = %e, "could not count endpoints for /metrics"))
        .ok();
    let in_flight = app.deliverer.as_ref().map_or(0, |d| d.in_flight());
    let body = app.metrics.render(in_flight, endpoints);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
}
