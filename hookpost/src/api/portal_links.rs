//! Portal links: `POST /v1/portal-links` makes a signed, expiring URL that
//! opens the console on the caller's account (or one profile of it);
//! `POST /v1/portal-links/revoke` ends every link made until now.

use super::auth::Caller;
use super::error::ApiError;
use super::parse::OptionalJson;
use super::views::{timestamp, PortalLinkView, RevokedView};
use super::AppState;
use crate::app::portal::PortalLinkRequest;
use axum::extract::State;
use axum::http::header::HOST;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/portal-links", post(create))
        .route("/v1/portal-links/revoke", post(revoke))
}

/// Where the link points: `--public-url` when set, else the host the caller
/// reached this server at.
fn base(app: &AppState, headers: &HeaderMap) -> String {
    match &app.config.public_url {
        Some(url) => url.as_str().trim_end_matches('/').to_string(),
        None => {
            let host = headers.get(HOST).and_then(|h| h.to_str().ok());
            format!("http://{}", host.unwrap_or("127.0.0.1"))
        }
    }
}

/// The documented operations of this resource.
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, revoke))]
pub(super) struct Api;

/// `201` with the link.
#[utoipa::path(
    post,
    path = "/v1/portal-links",
    operation_id = "create_portal_link",
    tag = "portal",
    security(("account_key" = [])),
    request_body(content = Option<PortalLinkRequest>, description = "Optional: an empty body makes a one-hour link to the whole account."),
    responses((status = 201, description = "The link, to hand to a customer.", body = PortalLinkView)),
)]
async fn create(
    Caller(account): Caller,
    State(app): State<AppState>,
    headers: HeaderMap,
    OptionalJson(request): OptionalJson<PortalLinkRequest>,
) -> Result<(StatusCode, Json<PortalLinkView>), ApiError> {
    let profile_id = request.profile_id.clone();
    let read_only = request.read_only;
    let link = app.portal_link(&account, request).await?;
    let url = format!(
        "{}/console/portal?token={}",
        base(&app, &headers),
        link.token
    );
    Ok((
        StatusCode::CREATED,
        Json(PortalLinkView {
            url,
            expires_at: timestamp(link.expires_at),
            profile_id,
            read_only,
        }),
    ))
}

/// Every link of the account made until now stops working, at once.
#[utoipa::path(
    post,
    path = "/v1/portal-links/revoke",
    operation_id = "revoke_portal_links",
    tag = "portal",
    security(("account_key" = [])),
    responses((status = 200, description = "When the links were revoked.", body = RevokedView)),
)]
async fn revoke(
    Caller(account): Caller,
    State(app): State<AppState>,
) -> Result<Json<RevokedView>, ApiError> {
    let at = app.revoke_portal_links(&account).await?;
    Ok(Json(RevokedView {
        revoked_at: timestamp(at),
    }))
}
