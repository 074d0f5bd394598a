//! Event types: register a type's category (inflight or postflight), an
//! optional JSON Schema that its payloads must satisfy and a schema per payload
//! version; load a ready catalog of fax and messaging types in one call.

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::parse::{JsonBody, OptionalJson, PathParam};
use super::views::List;
use super::AppState;
use crate::domain::event::Category;
use crate::domain::event_type::{Catalog, EventType, VersionSchema};
use crate::domain::validate::{self, FieldError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Longest description.
const MAX_DESCRIPTION: usize = 1000;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/event-types", get(list))
        .route("/v1/event-types/catalog", post(load_catalog))
        .route(
            "/v1/event-types/{name}",
            get(show).put(put_type).delete(delete),
        )
}

/// An event type's registration (its name is in the path).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PutEventType {
    /// `postflight` (the default) or `inflight`.
    #[serde(default)]
    category: Category,
    /// For people, at most 1000 characters.
    #[serde(default)]
    description: Option<String>,
    /// A JSON Schema its payloads must satisfy.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    schema: Option<Value>,
    /// A payload that satisfies the schema, sent by endpoint tests.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    example: Option<Value>,
    /// A schema per payload version (`{"v2": {"schema", "example"?}}`).
    #[serde(default)]
    versions: BTreeMap<String, VersionSchema>,
}

/// The documented operations of this resource.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, load_catalog, put_type, show, delete))]
pub(super) struct Api;

fn check(event_type: &EventType) -> Result<(), FieldError> {
    validate::event_type(&event_type.name).map_err(|e| FieldError::new("name", e.message))?;
    if event_type
        .description
        .as_ref()
        .is_some_and(|d| d.len() > MAX_DESCRIPTION)
    {
        return Err(FieldError::new(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        ));
    }
    event_type.check_schemas()
}

/// Registers or replaces an event type.
#[utoipa::path(
    put,
    path = "/v1/event-types/{name}",
    operation_id = "put_event_type",
    tag = "event-types",
    security(("account_key" = [])),
    params(("name" = String, Path, description = "The event type (`fax.delivered`).", pattern = r"^[A-Za-z0-9._-]{1,128}$")),
    request_body = PutEventType,
    responses(
        (status = 201, description = "Registered.", body = EventType),
        (status = 200, description = "Replaced.", body = EventType),
    ),
)]
async fn put_type(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(name): PathParam<String>,
    JsonBody(body): JsonBody<PutEventType>,
) -> Result<(StatusCode, Json<EventType>), ApiError> {
    let event_type = EventType {
        name,
        category: body.category,
        description: body.description,
        schema: body.schema,
        example: body.example,
        versions: body.versions,
    };
    check(&event_type)?;
    let created = app.put_event_type(&account, &event_type).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(event_type)))
}

/// One registered event type.
#[utoipa::path(
    get,
    path = "/v1/event-types/{name}",
    operation_id = "show_event_type",
    tag = "event-types",
    security(("account_key" = [])),
    params(("name" = String, Path, description = "The event type (`fax.delivered`).", pattern = r"^[A-Za-z0-9._-]{1,128}$")),
    responses(
        (status = 200, description = "The event type.", body = EventType),
        (status = 404, description = "`event_type_not_found`.", body = super::error::ErrorBody),
    ),
)]
async fn show(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(name): PathParam<String>,
) -> Result<Json<EventType>, ApiError> {
    match app.store.event_type(&account.id, &name).await? {
        Some(t) => Ok(Json(t)),
        None => Err(missing(&name)),
    }
}

fn missing(name: &str) -> ApiError {
    ApiError::not_found(
        ErrorCode::EventTypeNotFound,
        format!("no event type `{name}` in this account"),
    )
}

/// Removes a registered event type.
#[utoipa::path(
    delete,
    path = "/v1/event-types/{name}",
    operation_id = "delete_event_type",
    tag = "event-types",
    security(("account_key" = [])),
    params(("name" = String, Path, description = "The event type (`fax.delivered`).", pattern = r"^[A-Za-z0-9._-]{1,128}$")),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, description = "`event_type_not_found`.", body = super::error::ErrorBody),
    ),
)]
async fn delete(
    Caller(account): Caller,
    State(app): State<AppState>,
    PathParam(name): PathParam<String>,
) -> Result<StatusCode, ApiError> {
    let deleted = app.delete_event_type(&account, &name).await?;
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(missing(&name))
    }
}

/// Every registered event type.
#[utoipa::path(
    get,
    path = "/v1/event-types",
    operation_id = "list_event_types",
    tag = "event-types",
    security(("account_key" = [])),
    responses((status = 200, description = "The registered types.", body = List<EventType>)),
)]
async fn list(
    Caller(account): Caller,
    State(app): State<AppState>,
) -> Result<Json<List<EventType>>, ApiError> {
    let data = app.store.list_event_types(&account.id).await?;
    Ok(Json(List { data }))
}

/// Which catalog to load; an empty body means Telnyx, as before there was a
/// choice.
#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LoadCatalog {
    /// `telnyx` (the default) or `phaxio`.
    #[serde(default)]
    catalog: Catalog,
}

/// The catalog loaded and the names of the types it registered.
#[derive(Serialize, utoipa::ToSchema)]
struct Loaded {
    /// The catalog.
    catalog: Catalog,
    /// The types it registered.
    loaded: Vec<String>,
}

/// Registers (or replaces) every type of a built-in catalog in the account.
#[utoipa::path(
    post,
    path = "/v1/event-types/catalog",
    operation_id = "load_catalog",
    tag = "event-types",
    security(("account_key" = [])),
    request_body(content = Option<LoadCatalog>, description = "Optional: an empty body loads `telnyx`."),
    responses((status = 200, description = "The catalog loaded and its types.", body = Loaded)),
)]
async fn load_catalog(
    Caller(account): Caller,
    State(app): State<AppState>,
    OptionalJson(body): OptionalJson<LoadCatalog>,
) -> Result<Json<Loaded>, ApiError> {
    let loaded = app.load_catalog(&account, body.catalog).await?;
    Ok(Json(Loaded {
        catalog: body.catalog,
        loaded,
    }))
}
