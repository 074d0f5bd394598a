//! `GET /openapi.json`: the API described in OpenAPI 3.1, generated from the
//! code. Each resource file annotates its handlers (`#[utoipa::path]`) and
//! lists them in its own `Api`; the views, the request types and the error
//! catalogue derive their schemas. This file merges the resources' documents
//! and adds, once, what every operation shares (the conventions of
//! [`conventions`]: the security schemes, and the refusals that the
//! extractors and the store give any route that reads a key, a body, a query,
//! a path segment or the database), so each annotation names only what is
//! particular to its route.
//!
//! The document is also checked in (`hookpost/openapi.json`, printed by
//! `hookpost openapi`); a test fails when the two drift apart.

mod schemas;

pub use schemas::{Binary, MultipartPublish, PublishEvent};

use super::error::{ErrorBody, ErrorCode};
use super::AppState;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::sync::OnceLock;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, Response, ResponseBuilder};
use utoipa::OpenApi;

/// The document's root: its description, the tags, the route serving it and
/// the error schemas every refusal uses.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "hookpost",
        description = "Self-hosted webhook delivery: signed, retried, with failover and an attempt log. \
            Every refusal is `{\"error\": {\"code\", \"message\", \"field\"}}`, `code` one of the \
            catalogue `ErrorCode`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(openapi_json),
    components(schemas(ErrorBody, ErrorCode)),
    tags(
        (name = "accounts", description = "Accounts: created by the operator, configured with their own key."),
        (name = "keys", description = "An account's API key and the signing keys receivers verify with."),
        (name = "profiles", description = "Named scopes inside an account, each with its own settings."),
        (name = "events", description = "Publish, read, list, retry, delete and erase events."),
        (name = "endpoints", description = "Destinations subscribed to event types."),
        (name = "jobs", description = "Replays, bulk retries and erasures, followed and cancelled."),
        (name = "event-types", description = "Categories, schemas and ready catalogs of event types."),
        (name = "attachments", description = "Files of events, through signed links."),
        (name = "egress", description = "The networks deliveries leave from."),
        (name = "health", description = "Health and metrics."),
        (name = "admin", description = "Operator routes (admin token)."),
        (name = "meta", description = "This document."),
    ),
)]
struct Root;

/// The whole document: every resource's operations, with the shared
/// conventions applied.
pub fn document() -> Document {
    let mut document = Root::openapi();
    for part in [
        super::accounts::Api::openapi(),
        super::keys::Api::openapi(),
        super::profiles::Api::openapi(),
        super::events::Api::openapi(),
        super::endpoints::Api::openapi(),
        super::jobs::Api::openapi(),
        super::event_types::Api::openapi(),
        super::attachments::Api::openapi(),
        super::egress::Api::openapi(),
        super::health::Api::openapi(),
        super::admin::Api::openapi(),
    ] {
        document.merge(part);
    }
    conventions(&mut document);
    document
}

/// The document as served and checked in: pretty-printed, with a final newline.
pub fn json() -> String {
    let mut text = document()
        .to_pretty_json()
        .expect("the document serializes");
    text.push('\n');
    text
}

/// `GET /openapi.json`.
pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi_json))
}

/// This document (no credentials needed).
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document.", body = Object)),
)]
async fn openapi_json() -> impl IntoResponse {
    static TEXT: OnceLock<String> = OnceLock::new();
    (
        [(CONTENT_TYPE, "application/json")],
        TEXT.get_or_init(json).as_str(),
    )
}

/// Operations that never read the store, so never answer `500` or `503`.
const STORELESS: &[&str] = &["egress", "metrics", "openapi"];

/// What every operation shares, added where its annotation did not say it:
/// the two bearer schemes; `401` where a credential is needed; the body
/// refusals (`400`, `408`, `413`, `415`, `422`) where a body is read; `422`
/// where a query is read; `404` (`route_not_found`: a segment that is not
/// UTF-8 or not a number) where a path segment is read; and `500`/`503` where
/// the store is read.
fn conventions(document: &mut Document) {
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "account_key",
        bearer("The account's API key, as `Authorization: Bearer <key>`."),
    );
    components.add_security_scheme(
        "admin_token",
        bearer("The operator's admin token (`--admin-token`), as `Authorization: Bearer <token>`."),
    );
    for item in document.paths.paths.values_mut() {
        for operation in operations(item) {
            shared_refusals(operation);
        }
    }
}

fn bearer(description: &str) -> SecurityScheme {
    SecurityScheme::Http(
        HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(description))
            .build(),
    )
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

fn shared_refusals(operation: &mut Operation) {
    let reads = |place: ParameterIn| {
        operation
            .parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == place)
    };
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let (query, path) = (reads(ParameterIn::Query), reads(ParameterIn::Path));
    let body = operation.request_body.is_some();
    let stored = !STORELESS.contains(&operation.operation_id.as_deref().unwrap_or(""));
    let mut add = |status: &str, response: Response| {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert(RefOr::T(response));
    };
    if secured {
        add(
            "401",
            refusal("No credentials, or wrong ones: `missing_credentials`, `malformed_authorization`, `invalid_api_key` or `invalid_admin_token`.")
                .header("WWW-Authenticate", header("`Bearer`."))
                .build(),
        );
    }
    if body {
        add(
            "400",
            refusal("`invalid_json`: the body is not well-formed JSON.").build(),
        );
        add(
            "408",
            refusal("`body_timeout`: the body did not arrive within `--body-read-timeout`.")
                .build(),
        );
        add(
            "413",
            refusal("`body_too_large`: the body is over the limit.").build(),
        );
        add(
            "415",
            refusal("`unsupported_media_type`: the body's `Content-Type` is not JSON.").build(),
        );
    }
    if body || query {
        add("422", refusal("`invalid_field`: a field is missing, ill-typed, unknown or out of bounds; `field` names it.").build());
    }
    if path {
        add(
            "404",
            refusal("`route_not_found`: no such resource.").build(),
        );
    }
    if stored {
        add(
            "500",
            refusal("`internal`: a bug or corrupt data; the detail is in the server log.").build(),
        );
        add(
            "503",
            refusal("`unavailable`: the database is unreachable; retry after `Retry-After`.")
                .header("Retry-After", header("Seconds to wait."))
                .build(),
        );
    }
}

/// An error answer with the one error body.
fn refusal(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    )
}

fn header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(description))
        .build()
}
