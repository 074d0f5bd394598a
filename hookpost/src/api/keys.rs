//! An account's keys: the signing keys receivers verify with, and rotation of
//! both the API key and the signing keys. During a signing-key rotation the old
//! keys keep signing beside the new ones, so receivers can switch at leisure.

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::parse::OptionalJson;
use super::views::{timestamp, ApiKeyView, KeySetView, KeysView, PreviousKeysView};
use super::AppState;
use crate::delivery::signing::public_keys;
use crate::domain::duration::HumanDuration;
use crate::domain::validate::FieldError;
use crate::secrets::{new_api_key, Secret, SigningKeys};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use std::time::Duration;

/// Longest time an old key may keep working after a rotation.
const MAX_OVERLAP: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long old signing keys keep signing when the caller does not say.
const DEFAULT_SIGNING_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/account/keys", get(keys))
        .route("/v1/account/api-key/rotate", post(rotate_api_key))
        .route("/v1/account/signing-keys/rotate", post(rotate_signing_keys))
}

/// How long the old key(s) keep working; an empty body takes the default.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Rotate {
    /// At most 30 days.
    keep_old_for: Option<HumanDuration>,
}

/// The documented operations of this resource.
#[derive(utoipa::OpenApi)]
#[openapi(paths(keys, rotate_api_key, rotate_signing_keys))]
pub(super) struct Api;

impl Rotate {
    fn overlap(&self, default: Duration) -> Result<Duration, FieldError> {
        let overlap = self.keep_old_for.map_or(default, |d| d.0);
        if overlap > MAX_OVERLAP {
            return Err(FieldError::new(
                "keep_old_for",
                format!("must be at most {}", HumanDuration(MAX_OVERLAP)),
            ));
        }
        Ok(overlap)
    }
}

fn until(overlap: Duration) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(overlap).unwrap_or(chrono::Duration::MAX)
}

/// The verification material of a set of keys (newest first, one per scheme).
fn view(keys: &SigningKeys) -> Result<KeysView, ApiError> {
    let public = public_keys(keys).map_err(|e| {
        tracing::error!(error = %e, "stored keys do not decode");
        ApiError::Internal
    })?;
    let nth = |list: &[Secret], i: usize| list.get(i).map(|s| s.expose().to_string());
    let set = |i: usize| KeySetView {
        webhook_secret: nth(&keys.hmac, i),
        public_key: public.get(i).cloned(),
        standard_public_key: public.get(i).map(|k| format!("whpk_{k}")),
        callback_token: nth(&keys.phaxio, i),
    };
    Ok(KeysView {
        current: set(0),
        previous: keys.previous_until.map(|until| PreviousKeysView {
            keys: set(1),
            valid_until: timestamp(until),
        }),
    })
}

/// The keys receivers verify with: the HMAC secret (`whsec_`, Standard Webhooks
/// `v1`), the Ed25519 public key (Telnyx, and `whpk_` for Standard `v1a`) and the
/// callback token (Phaxio-style HMAC-SHA1); during a rotation, also `previous`.
#[utoipa::path(
    get,
    path = "/v1/account/keys",
    operation_id = "show_keys",
    tag = "keys",
    security(("account_key" = [])),
    responses((status = 200, description = "The verification keys.", body = KeysView)),
)]
async fn keys(Caller(account): Caller) -> Result<Json<KeysView>, ApiError> {
    Ok(Json(view(&account.keys.active(Utc::now()))?))
}

/// A new API key; the old one stops at once, or after `keep_old_for`.
#[utoipa::path(
    post,
    path = "/v1/account/api-key/rotate",
    operation_id = "rotate_api_key",
    tag = "keys",
    security(("account_key" = [])),
    request_body(content = Option<Rotate>, description = "Optional: an empty body stops the old key at once."),
    responses((status = 200, description = "The new key (shown once).", body = ApiKeyView)),
)]
async fn rotate_api_key(
    Caller(account): Caller,
    State(app): State<AppState>,
    OptionalJson(body): OptionalJson<Rotate>,
) -> Result<Response, ApiError> {
    let overlap = body.overlap(Duration::ZERO)?;
    let keep_old_until = (!overlap.is_zero()).then(|| until(overlap));
    let (api_key, hash) = new_api_key();
    app.rotate_api_key(&account, hash, keep_old_until).await?;
    Ok(Json(ApiKeyView {
        api_key: api_key.expose(),
        previous_key_valid_until: keep_old_until.map(timestamp),
    })
    .into_response())
}

/// New signing keys; the old ones keep signing beside them for `keep_old_for`
/// (default 24 hours).
#[utoipa::path(
    post,
    path = "/v1/account/signing-keys/rotate",
    operation_id = "rotate_signing_keys",
    tag = "keys",
    security(("account_key" = [])),
    request_body(content = Option<Rotate>, description = "Optional: an empty body keeps the old keys for 24 hours."),
    responses(
        (status = 200, description = "The new keys, and the previous ones while they sign.", body = KeysView),
        (status = 404, description = "`account_not_found`: the account was deleted meanwhile.", body = super::error::ErrorBody),
    ),
)]
async fn rotate_signing_keys(
    Caller(account): Caller,
    State(app): State<AppState>,
    OptionalJson(body): OptionalJson<Rotate>,
) -> Result<Json<KeysView>, ApiError> {
    let overlap = body.overlap(DEFAULT_SIGNING_OVERLAP)?;
    let keys = app
        .rotate_signing_keys(&account, until(overlap))
        .await?
        .ok_or_else(|| ApiError::not_found(ErrorCode::AccountNotFound, "the account is gone"))?;
    Ok(Json(view(&keys)?))
}
