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
