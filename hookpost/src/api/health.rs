//! `GET /healthz`: the process is up and its database answers. `GET /metrics`:
//! counters, histograms and the store's queue and endpoint gauges in the
//! Prometheus text format (counts only, no tenant data).

use super::error::ApiError;
use super::AppState;
use crate::metrics::Snapshot;
use crate::storage::StoreResult;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
}

/// `{"status": "ok"}` when the database answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Health {
    /// Always `ok`.
    #[schema(value_type = String, example = "ok")]
    status: &'static str,
}

/// The documented operations of this resource.
#[derive(utoipa::OpenApi)]
#[openapi(paths(health, metrics))]
pub(super) struct Api;

/// The process is up and its database answers.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    tag = "health",
    responses((status = 200, description = "The database answers.", body = Health)),
)]
async fn health(State(app): State<AppState>) -> Result<Json<Health>, ApiError> {
    app.store.ping().await?;
    Ok(Json(Health { status: "ok" }))
}

/// Counters, histograms and gauges in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    responses((status = 200, description = "Prometheus text format 0.0.4.", content_type = "text/plain", body = String)),
)]
async fn metrics(
    State(app): State<AppState>,
) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    let (endpoints, queue) = tokio::join!(
        app.store.endpoint_tally(),
        app.store.queue_depth(Utc::now())
    );
    let snapshot = Snapshot {
        in_flight: app.deliverer.as_ref().map_or(0, |d| d.in_flight()),
        endpoints: answered(endpoints, "endpoints"),
        queue: answered(queue, "queued deliveries"),
    };
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        app.metrics.render(&snapshot),
    )
}

/// A store reading for a scrape; one that failed is logged and left out.
fn answered<T>(read: StoreResult<T>, what: &str) -> Option<T> {
    read.map_err(|e| tracing::warn!(error = %e, "could not count {what} for /metrics"))
        .ok()
}
