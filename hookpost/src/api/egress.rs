//! `GET /v1/egress`: the networks deliveries leave from, as the operator declares
//! them, so receivers can allowlist them (as the messaging seed publishes its
//! webhook subnet). Public: it is meant to be handed to receivers.

use super::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use ipnet::IpNet;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/egress", get(egress))
}

/// The networks deliveries leave from.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Egress {
    /// CIDR networks (`192.0.2.0/24`).
    #[schema(example = json!(["192.0.2.0/24"]))]
    networks: Vec<String>,
}

/// The documented operations of this resource.
#[derive(utoipa::OpenApi)]
#[openapi(paths(egress))]
pub(super) struct Api;

/// The declared networks; without any, the bind address if one is set.
#[utoipa::path(
    get,
    path = "/v1/egress",
    operation_id = "egress",
    tag = "egress",
    responses((status = 200, description = "The networks deliveries come from.", body = Egress)),
)]
async fn egress(State(app): State<AppState>) -> Json<Egress> {
    let mut networks: Vec<IpNet> = app.config.egress_networks.clone();
    if networks.is_empty() {
        networks.extend(app.config.egress_bind.map(IpNet::from));
    }
    let networks: Vec<String> = networks.iter().map(ToString::to_string).collect();
    Json(Egress { networks })
}
