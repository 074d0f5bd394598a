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

pub use schemas::{Binary, EndpointChange, MultipartPublish, NewEndpoint, PublishEvent};

use super::error::{ErrorBody, ErrorCode};
use super::AppState;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::sync::OnceLock;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
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
        (name = "portal", description = "Portal links: signed, expiring URLs opening the console on an account or a profile."),
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
        super::portal_links::Api::openapi(),
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
/// UTF-8 or not a number) where a path segment is read; `500`/`503` where
/// the store is read; and optional bodies that are absent, never `null`.
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
            absent_not_null(operation);
        }
    }
}

/// An optional body (`content = Option<T>`) may be left out, but a body of
/// `null` is refused like any body that is not an object: its schema is `T`,
/// and the body not required.
fn absent_not_null(operation: &mut Operation) {
    let Some(body) = operation.request_body.as_mut() else {
        return;
    };
    for content in body.content.values_mut() {
        if let Some(RefOr::T(Schema::OneOf(one_of))) = &mut content.schema {
            let null = serde_json::json!({"type": "null"});
            one_of
                .items
                .retain(|item| serde_json::to_value(item).ok().as_ref() != Some(&null));
            if one_of.items.len() == 1 {
                content.schema = one_of.items.pop();
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Every `pattern` anywhere in `value`.
    fn patterns(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(p)) = map.get("pattern") {
                    found.push(p.clone());
                }
                map.values().for_each(|v| patterns(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| patterns(v, found)),
            _ => {}
        }
    }

    fn pattern_of<T: utoipa::PartialSchema>() -> String {
        serde_json::to_value(T::schema()).unwrap()["pattern"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The patterns are written as literals in the annotations (the macros
    /// take no constant): each must be one of the rules' own.
    #[test]
    fn every_pattern_in_the_document_is_a_rule_s_own() {
        use crate::domain::{subject, validate};
        let rules = [
            validate::EVENT_TYPE_PATTERN.to_string(),
            validate::PROFILE_ID_PATTERN.to_string(),
            validate::VERSION_PATTERN.to_string(),
            subject::SUBJECT_PATH_PATTERN.to_string(),
            pattern_of::<crate::domain::duration::HumanDuration>(),
            pattern_of::<crate::domain::webhook_url::WebhookUrl>(),
            pattern_of::<crate::domain::endpoint::RateLimit>(),
        ];
        let mut found = Vec::new();
        patterns(&serde_json::to_value(document()).unwrap(), &mut found);
        assert!(found.len() > 10, "{found:?}");
        for pattern in found {
            assert!(rules.contains(&pattern), "{pattern} is no rule's pattern");
        }
    }

    #[test]
    fn the_duration_pattern_takes_what_humantime_reads_and_writes() {
        let pattern = pattern_of::<crate::domain::duration::HumanDuration>();
        let matches = |t: &str| crate::domain::validate::tests::matches(&pattern, t);
        for text in [
            "5m", "250ms", "1h 30m", "1h30m", "2 days", "1.5h", "6h", "0s",
        ] {
            assert!(matches(text), "{text}");
            assert!(
                crate::domain::duration::HumanDuration::parse(text).is_ok(),
                "{text}"
            );
        }
        for text in ["0A", "30", "", "m", "5 m s"] {
            assert!(!matches(text), "{text}");
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_with_both_bearer_schemes() {
        let document = serde_json::to_value(document()).unwrap();
        assert_eq!(document["openapi"], "3.1.0");
        for scheme in ["account_key", "admin_token"] {
            let s = &document["components"]["securitySchemes"][scheme];
            assert_eq!(
                (&s["type"], &s["scheme"]),
                (&"http".into(), &"bearer".into())
            );
        }
    }
}
