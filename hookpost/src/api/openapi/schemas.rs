//! Schemas written by hand for the types whose JSON is custom serde (a
//! duration as `"5m"`, a URL, a rate as `"50/s"`, headers as an object): each
//! describes the text its `Serialize` and `Deserialize` write and read.

use crate::app::publish::PublishRequest;
use crate::domain::duration::HumanDuration;
use crate::domain::endpoint::{CustomHeaders, EventTypePattern, RateLimit};
use crate::domain::settings::{Settings, Success};
use crate::domain::webhook_url::WebhookUrl;
use serde_json::json;
use utoipa::openapi::schema::{
    AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// The units humantime 2 reads (`humantime::parse_duration`).
const DURATION_UNIT: &str = "(nanos|nsec|ns|usec|us|µs|millis|msec|ms|seconds|second|secs|sec|s|\
    minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|wks|wk|w|months|month|M|\
    years|year|yrs|yr|y)";

/// A string schema with a description and an example.
fn text(description: &str, example: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .examples([json!(example)])
}

impl PartialSchema for HumanDuration {
    fn schema() -> RefOr<Schema> {
        text(
            "A duration as people write it, down to milliseconds: `30s`, `5m`, \
             `1h 30m`, `250ms` (a bare number is refused: its unit would be a guess).",
            "5m",
        )
        .pattern(Some(format!(
            "^[0-9]+(\\.[0-9]+)? ?{DURATION_UNIT}( ?[0-9]+(\\.[0-9]+)? ?{DURATION_UNIT})*$"
        )))
        .into()
    }
}
impl ToSchema for HumanDuration {}

impl PartialSchema for WebhookUrl {
    fn schema() -> RefOr<Schema> {
        text(
            "An `http(s)://` or `mailto:` URL; shown with any password masked.",
            "https://example.com/hooks",
        )
        .format(Some(SchemaFormat::Custom("uri".into())))
        .pattern(Some(
            "^\\s*([hH][tT][tT][pP][sS]?://|[mM][aA][iI][lL][tT][oO]:)",
        ))
        .max_length(Some(crate::domain::webhook_url::MAX_URL_LENGTH))
        .into()
    }
}
impl ToSchema for WebhookUrl {}

impl PartialSchema for EventTypePattern {
    fn schema() -> RefOr<Schema> {
        text(
            "An event type (`fax.delivered`), a prefix ending in `.*` (`fax.*`), or `*`.",
            "fax.*",
        )
        .into()
    }
}
impl ToSchema for EventTypePattern {}

impl PartialSchema for RateLimit {
    fn schema() -> RefOr<Schema> {
        text(
            "Deliveries per second, minute or hour: `N/s`, `N/m` or `N/h`, N from 1 to 1000000.",
            "50/s",
        )
        .pattern(Some("^[0-9]+/[smh]$"))
        .into()
    }
}
impl ToSchema for RateLimit {}

impl PartialSchema for CustomHeaders {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some(
                "Headers sent with every delivery, name to value, in the order given \
                 (no header hookpost writes itself, no hop-by-hop header, no name twice).",
            ))
            .additional_properties(Some(AdditionalProperties::RefOr(
                ObjectBuilder::new().schema_type(Type::String).into(),
            )))
            .examples([json!({"X-Tenant": "acme"})])
            .into()
    }
}
impl ToSchema for CustomHeaders {}

impl PartialSchema for Success {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .description(Some(
                "Which answers count as delivered: `\"2xx\"` (any 2xx, the default) or \
                 `200` (only 200, so a 204 fails over).",
            ))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["2xx"])),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .enum_values(Some([200])),
            )
            .into()
    }
}
impl ToSchema for Success {}

/// The body of one published event: the event's own fields and, beside them,
/// any webhook settings overriding the profile's and the account's for this
/// event (a flattened map in [`PublishRequest`], so written out here from the
/// two derived schemas).
pub struct PublishEvent;

impl PartialSchema for PublishEvent {
    fn schema() -> RefOr<Schema> {
        let mut event = object_of(PublishRequest::schema());
        let settings = object_of(Settings::<String>::schema());
        for (name, property) in settings.properties {
            event.properties.entry(name).or_insert(property);
        }
        event.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
        event.description = Some(
            "One event. Only `event_type` and `payload` are required; webhook settings \
             (`webhook_url`, `format`, `timeout`…) may sit beside the event's fields and \
             override the profile's and the account's for this event."
                .into(),
        );
        Schema::Object(event).into()
    }
}
impl ToSchema for PublishEvent {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        PublishRequest::schemas(schemas);
        Settings::<String>::schemas(schemas);
    }
}

/// The inline object of a derived schema.
fn object_of(schema: RefOr<Schema>) -> utoipa::openapi::schema::Object {
    match schema {
        RefOr::T(Schema::Object(object)) => object,
        _ => unreachable!("derived struct schemas are inline objects"),
    }
}

/// The body of an endpoint's creation: its fields, `url` required.
pub struct NewEndpoint;

/// The body of an endpoint's change: the fields given replace the stored ones.
pub struct EndpointChange;

/// An endpoint's fields; its own `settings` carry no URL (its URLs are `url`
/// and `failover_url`).
fn endpoint_fields(url_required: bool) -> RefOr<Schema> {
    let mut fields = object_of(crate::app::endpoints::EndpointFields::schema());
    let mut settings = object_of(Settings::<String>::schema());
    settings
        .properties
        .retain(|name, _| !name.starts_with("webhook_"));
    settings.description = Some("Its own webhook settings, without URLs.".into());
    fields
        .properties
        .insert("settings".into(), Schema::Object(settings).into());
    if url_required {
        fields.required.insert(0, "url".into());
    }
    Schema::Object(fields).into()
}

impl PartialSchema for NewEndpoint {
    fn schema() -> RefOr<Schema> {
        endpoint_fields(true)
    }
}
impl ToSchema for NewEndpoint {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        crate::app::endpoints::EndpointFields::schemas(schemas);
    }
}

impl PartialSchema for EndpointChange {
    fn schema() -> RefOr<Schema> {
        endpoint_fields(false)
    }
}
impl ToSchema for EndpointChange {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        crate::app::endpoints::EndpointFields::schemas(schemas);
    }
}

/// A multipart publish: the event as JSON in the `event` part, and one part
/// per file (a part with a filename).
pub struct MultipartPublish;

impl PartialSchema for MultipartPublish {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some(
                "`event`: the event as JSON (the same fields as a JSON publish); every other \
                 part must carry a filename and is a file of the event.",
            ))
            .property(
                "event",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .content_media_type("application/json"),
            )
            .required("event")
            .additional_properties(Some(AdditionalProperties::RefOr(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .content_media_type("application/octet-stream")
                    .into(),
            )))
            .into()
    }
}
impl ToSchema for MultipartPublish {}

/// Bytes of any type: a file as it was published.
pub struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("application/octet-stream")
            .into()
    }
}
impl ToSchema for Binary {}
