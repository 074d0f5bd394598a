//! Accounts: created by the operator (admin token); read, configured (settings,
//! retention) and keyed by their own API key.

use super::auth::{Admin, Caller};
use super::error::ApiError;
use super::parse::{object_from_slice, JsonBody};
use super::views::AccountView;
use super::AppState;
use crate::domain::retention::{Retention, RetentionOverride};
use crate::domain::settings::{Settings, WebhookSettings};
use crate::domain::validate::FieldError;
use crate::secrets::{new_api_key, SigningKeys};
use crate::storage::{Account, NewAccount};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/accounts", post(create))
        .route("/v1/account", get(show))
        .route("/v1/account/settings", put(set_settings).get(show_settings))
        .route(
            "/v1/account/retention",
            put(set_retention).get(show_retention),
        )
}

/// What the operator says about a new account.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateAccount {
    /// 1 to 200 printable characters.
    #[schema(min_length = 1, max_length = 200, example = "Acme")]
    name: String,
    /// Its webhook settings. Read apart, as an object: serde would take `[]`
    /// for empty settings.
    #[serde(default)]
    #[schema(value_type = Option<Settings<String>>)]
    settings: Option<Box<serde_json::value::RawValue>>,
}

/// The documented operations of this resource.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create,
    show,
    show_settings,
    set_settings,
    show_retention,
    set_retention
))]
pub(super) struct Api;

/// Creates an account; its API key is shown in this answer only.
#[utoipa::path(
    post,
    path = "/v1/accounts",
    operation_id = "create_account",
    tag = "accounts",
    security(("admin_token" = [])),
    request_body = CreateAccount,
    responses(
        (status = 201, description = "The account, with its `api_key` (shown once).", body = AccountView),
        (status = 409, description = "An account with this key exists already.", body = super::error::ErrorBody),
    ),
)]
async fn create(
    _: Admin,
    State(app): State<AppState>,
    JsonBody(req): JsonBody<CreateAccount>,
) -> Result<(StatusCode, Response), ApiError> {
    let name = req.name.trim();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(FieldError::new("name", "must be 1 to 200 printable characters").into());
    }
    let settings: WebhookSettings = match &req.settings {
        None => WebhookSettings::default(),
        Some(raw) => object_from_slice(raw.get().as_bytes()).map_err(|e| match e {
            ApiError::Field(f) if f.field == "body" => {
                ApiError::Field(FieldError::new("settings", f.message))
            }
            ApiError::Field(f) => ApiError::Field(f.within("settings")),
            other => other,
        })?,
    };
    app.check_settings(&settings)
        .map_err(|f| f.within("settings"))?;
    let (api_key, api_key_hash) = new_api_key();
    let account = Account {
        id: format!("acc_{}", uuid::Uuid::now_v7().simple()),
        name: name.to_string(),
        settings,
        keys: SigningKeys::generate(),
        retention: Default::default(),
        created_at: chrono::Utc::now(),
    };
    // Rendered before the account moves into the store.
    let view = Json(AccountView::new(
        &account,
        Some(api_key.expose().to_string()),
    ))
    .into_response();
    app.store
        .create_account(NewAccount {
            account,
            api_key_hash,
        })
        .await?;
    Ok((StatusCode::CREATED, view))
}

/// The calling account.
#[utoipa::path(
    get,
    path = "/v1/account",
    operation_id = "show_account",
    tag = "accounts",
    security(("account_key" = [])),
    responses((status = 200, description = "The account.", body = AccountView)),
)]
async fn show(Caller(account): Caller) -> Response {
    Json(AccountView::new(&account, None)).into_response()
}

/// The account-level webhook settings (URLs masked).
#[utoipa::path(
    get,
    path = "/v1/account/settings",
    operation_id = "show_account_settings",
    tag = "accounts",
    security(("account_key" = [])),
    responses((status = 200, description = "The settings.", body = Settings<String>)),
)]
async fn show_settings(Caller(account): Caller) -> Json<Settings<String>> {
    Json(account.settings.masked())
}

/// Replaces the account-level webhook settings.
#[utoipa::path(
    put,
    path = "/v1/account/settings",
    operation_id = "set_account_settings",
    tag = "accounts",
    security(("account_key" = [])),
    request_body = Settings<String>,
    responses((status = 200, description = "The settings now (URLs masked).", body = Settings<String>)),
)]
async fn set_settings(
    Caller(account): Caller,
    State(app): State<AppState>,
    JsonBody(settings): JsonBody<WebhookSettings>,
) -> Result<Json<Settings<String>>, ApiError> {
    app.set_account_settings(&account, &settings).await?;
    Ok(Json(settings.masked()))
}

/// How long this account's finished events are kept.
#[utoipa::path(
    get,
    path = "/v1/account/retention",
    operation_id = "show_retention",
    tag = "accounts",
    security(("account_key" = [])),
    responses((status = 200, description = "The retention times in effect.", body = Retention)),
)]
async fn show_retention(Caller(account): Caller, State(app): State<AppState>) -> Json<Retention> {
    Json(app.retention(&account))
}

/// Replaces the account's own retention times (a field left out is the
/// server's default); answers the times in effect.
#[utoipa::path(
    put,
    path = "/v1/account/retention",
    operation_id = "set_retention",
    tag = "accounts",
    security(("account_key" = [])),
    request_body = RetentionOverride,
    responses((status = 200, description = "The retention times in effect.", body = Retention)),
)]
async fn set_retention(
    Caller(account): Caller,
    State(app): State<AppState>,
    JsonBody(own): JsonBody<RetentionOverride>,
) -> Result<Json<Retention>, ApiError> {
    Ok(Json(app.set_retention(&account, own).await?))
}
