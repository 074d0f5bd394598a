//! Event types: their category (inflight or postflight), an optional JSON
//! Schema that every published payload of the type must satisfy, a schema per
//! payload version, and the ready-made catalogs of them.

use super::event::Category;
use super::validate::{self, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A registered event type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventType {
    /// e.g. `fax.delivered`.
    pub name: String,
    /// Whether it reports progress (`inflight`) or a state change (`postflight`).
    pub category: Category,
    /// What the type means, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    /// A JSON Schema that payloads must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Object)]
    pub schema: Option<Value>,
    /// A payload of this type, sent by an endpoint test
    /// (`POST /v1/endpoints/{id}/test`); it must satisfy the schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Object)]
    pub example: Option<Value>,
    /// The schemas of versioned payloads (`payloads.v2`), by version name: a
    /// receiver pinned to a version gets that payload, so it is checked
    /// against that version's schema, not the main one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub versions: BTreeMap<String, VersionSchema>,
}

/// The schema of one payload version, and an example of it for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionSchema {
    /// A JSON Schema that payloads of this version must satisfy.
    #[schema(value_type = Object)]
    pub schema: Value,
    /// A payload of this version; it must satisfy `schema`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub example: Option<Value>,
}

impl EventType {
    /// Checks the schemas a caller registers: each compiles, each example
    /// satisfies its own schema, and versions are named like versions (they
    /// travel in the `webhook-version` header).
    pub fn check_schemas(&self) -> Result<(), FieldError> {
        check_schema(self.schema.as_ref(), self.example.as_ref())?;
        for (name, version) in &self.versions {
            validate::version_key("versions", name)?;
            check_schema(Some(&version.schema), version.example.as_ref())
                .map_err(|e| e.within(&format!("versions.{name}")))?;
        }
        Ok(())
    }
}

/// Compiles a schema and checks an example against it, naming `schema` or
/// `example` (a path under it) when one is wrong.
fn check_schema(schema: Option<&Value>, example: Option<&Value>) -> Result<(), FieldError> {
    let schema = schema.map(PayloadSchema::compile).transpose()?;
    let Some(example) = example else {
        return Ok(());
    };
    if !example.is_object() {
        return Err(FieldError::new("example", "must be a JSON object"));
    }
    schema.map_or(Ok(()), |s| s.check("example", example))
}

/// Largest schema accepted, so compiled schemas kept in memory stay small.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;

/// A compiled schema, ready to check payloads.
pub struct PayloadSchema(jsonschema::Validator);

impl PayloadSchema {
    /// Compiles `schema`, refusing one that is not a valid JSON Schema.
    pub fn compile(schema: &Value) -> Result<PayloadSchema, FieldError> {
        if !schema.is_object() {
            return Err(FieldError::new("schema", "must be a JSON Schema object"));
        }
        if schema.to_string().len() > MAX_SCHEMA_BYTES {
            return Err(FieldError::new(
                "schema",
                format!("is larger than {} KiB", MAX_SCHEMA_BYTES / 1024),
            ));
        }
        jsonschema::validator_for(schema)
            .map(PayloadSchema)
            .map_err(|e| FieldError::new("schema", format!("is not a valid JSON Schema: {e}")))
    }

    /// Checks a payload found at `root` (`payload`, `payloads.v2`, `example`);
    /// the error names the failing path under it (`payload.to[0].status`).
    pub fn check(&self, root: &str, payload: &Value) -> Result<(), FieldError> {
        match self.0.validate(payload) {
            Ok(()) => Ok(()),
            Err(e) => {
                let field = pointer_to_path(root, &e.instance_path().to_string());
                Err(FieldError::new(
                    field,
                    format!("does not match the event type's schema: {e}"),
                ))
            }
        }
    }
}

/// `/to/0/status` under `payload` → `payload.to[0].status`.
fn pointer_to_path(root: &str, pointer: &str) -> String {
    let mut path = root.to_string();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.chars().all(|c| c.is_ascii_digit()) && !segment.is_empty() {
            path.push_str(&format!("[{segment}]"));
        } else {
            path.push('.');
            path.push_str(&segment);
        }
    }
    path
}

/// The ready-made catalogs of event types, one per provider style: the choice
/// a caller makes when loading one (`{"catalog": "phaxio"}`, `--catalog phaxio`).
/// Each is a JSON file under `catalogs/`, compiled into the binary.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Catalog {
    /// Telnyx style: every fax and message status is delivered, so every type
    /// is postflight (the default: it was the only catalog before there was a
    /// choice).
    #[default]
    Telnyx,
    /// Phaxio style: completion is postflight; page progress and scheduled
    /// retries are inflight.
    Phaxio,
}

impl Catalog {
    /// The catalog's event types, with their schemas and examples.
    pub fn types(self) -> Vec<EventType> {
        let text = match self {
            Catalog::Telnyx => include_str!("catalogs/telnyx.json"),
            Catalog::Phaxio => include_str!("catalogs/phaxio.json"),
        };
        serde_json::from_str(text).expect("the built-in catalogs are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failing_paths_are_named_in_dotted_form() {
        assert_eq!(pointer_to_path("payload", ""), "payload");
        assert_eq!(
            pointer_to_path("payload", "/to/0/status"),
            "payload.to[0].status"
        );
        assert_eq!(pointer_to_path("payload", "/a~1b"), "payload.a/b");
    }

    #[test]
    fn a_schema_checks_payloads_and_names_the_culprit() {
        let schema = PayloadSchema::compile(&json!({
            "type": "object", "required": ["status"],
            "properties": {"status": {"enum": ["queued", "delivered"]}, "to": {"type": "array", "items": {"type": "string"}}}
        }))
        .unwrap();
        assert!(schema
            .check("payload", &json!({"status": "queued"}))
            .is_ok());
        assert_eq!(
            schema
                .check("payload", &json!({"status": "lost"}))
                .unwrap_err()
                .field,
            "payload.status"
        );
        assert_eq!(
            schema
                .check("payload", &json!({"status": "queued", "to": ["a", 3]}))
                .unwrap_err()
                .field,
            "payload.to[1]"
        );
        assert_eq!(
            schema.check("payload", &json!({})).unwrap_err().field,
            "payload"
        );
    }

    #[test]
    fn invalid_schemas_are_refused() {
        assert!(PayloadSchema::compile(&json!({"type": "no-such-type"})).is_err());
        assert!(PayloadSchema::compile(&json!([1])).is_err());
        let huge = json!({"description": "x".repeat(MAX_SCHEMA_BYTES)});
        assert_eq!(
            PayloadSchema::compile(&huge).err().map(|e| e.field),
            Some("schema".to_string())
        );
    }

    #[test]
    fn every_catalog_type_is_a_valid_definition() {
        for catalog in [Catalog::Telnyx, Catalog::Phaxio] {
            for t in catalog.types() {
                assert_eq!(t.check_schemas(), Ok(()), "{catalog:?} {}", t.name);
                assert!(t.schema.is_some(), "{catalog:?} {} has a schema", t.name);
            }
        }
    }

    #[test]
    fn the_phaxio_catalog_reports_completion_postflight_and_progress_inflight() {
        let catalog = Catalog::Phaxio.types();
        let category = |name: &str| catalog.iter().find(|t| t.name == name).unwrap().category;
        assert_eq!(category("fax_completed"), Category::Postflight);
        assert_eq!(category("transmitting_page"), Category::Inflight);
        assert_eq!(category("retry_scheduled"), Category::Inflight);
        let t = catalog
            .iter()
            .find(|t| t.name == "transmitting_page")
            .unwrap();
        let schema = PayloadSchema::compile(t.schema.as_ref().unwrap()).unwrap();
        let mut page = t.example.clone().unwrap();
        assert!(schema.check("payload", &page).is_ok());
        page["page"] = json!(0);
        assert_eq!(
            schema.check("payload", &page).unwrap_err().field,
            "payload.page"
        );
    }

    #[test]
    fn a_catalog_is_chosen_by_its_lower_case_name_and_telnyx_is_the_default() {
        assert_eq!(Catalog::default(), Catalog::Telnyx);
        assert_eq!(
            serde_json::from_value::<Catalog>(json!("phaxio")).unwrap(),
            Catalog::Phaxio
        );
        let unknown = serde_json::from_value::<Catalog>(json!("twilio")).unwrap_err();
        assert!(unknown.to_string().contains("`telnyx`"), "{unknown}");
        assert!(unknown.to_string().contains("`phaxio`"), "{unknown}");
    }

    fn with_version(version: &str, definition: Value) -> EventType {
        EventType {
            name: "fax.delivered".into(),
            category: Category::Postflight,
            description: None,
            schema: None,
            example: None,
            versions: [(
                version.to_string(),
                serde_json::from_value(definition).unwrap(),
            )]
            .into(),
        }
    }

    #[test]
    fn version_schemas_compile_and_their_examples_satisfy_them() {
        let schema = json!({"type": "object", "required": ["fax_id"], "properties": {"fax_id": {"type": "string"}}});
        let good = with_version("v2", json!({"schema": schema, "example": {"fax_id": "f"}}));
        assert_eq!(good.check_schemas(), Ok(()));
        let field = |t: EventType| t.check_schemas().unwrap_err().field;
        assert_eq!(
            field(with_version(
                "v2",
                json!({"schema": {"type": "no-such-type"}})
            )),
            "versions.v2.schema"
        );
        assert_eq!(
            field(with_version(
                "v2",
                json!({"schema": schema, "example": {"fax_id": 7}})
            )),
            "versions.v2.example.fax_id"
        );
        assert_eq!(
            field(with_version(
                "v2",
                json!({"schema": schema, "example": [1]})
            )),
            "versions.v2.example"
        );
        assert_eq!(
            field(with_version("v 2", json!({"schema": {}}))),
            "versions"
        );
    }

    #[test]
    fn a_version_definition_names_its_unknown_or_missing_fields() {
        let read = |v: Value| {
            serde_json::from_value::<VersionSchema>(v)
                .unwrap_err()
                .to_string()
        };
        assert!(read(json!({"example": {}})).contains("missing field `schema`"));
        assert!(read(json!({"schema": {}, "exmple": {}})).contains("unknown field `exmple`"));
    }

    #[test]
    fn the_telnyx_catalog_compiles_and_checks_the_seed_examples() {
        let catalog = Catalog::Telnyx.types();
        let names: Vec<_> = catalog.iter().map(|t| t.name.as_str()).collect();
        for name in [
            "fax.queued",
            "fax.media.processed",
            "fax.sending.started",
            "fax.delivered",
            "fax.failed",
            "message.sent",
            "message.finalized",
            "message.received",
        ] {
            assert!(names.contains(&name), "{name} missing");
        }
        // The Telnyx-style documents deliver every status, progress included.
        assert!(catalog.iter().all(|t| t.category == Category::Postflight));
        let schema = |name: &str| {
            let t = catalog.iter().find(|t| t.name == name).unwrap();
            PayloadSchema::compile(t.schema.as_ref().unwrap()).unwrap()
        };
        let failed = json!({"connection_id": "1232154810234", "direction": "outbound", "failure_reason": "user_busy",
            "fax_id": "f7b303ed-674c-4962-951b-848380510893", "from": "+19459457421", "original_media_url": "",
            "status": "failed", "to": "+13129457420", "user_id": "417b0cc2-39e0-4ab9-b116-e56543649aa9"});
        assert!(schema("fax.failed").check("payload", &failed).is_ok());
        let mut bad = failed.clone();
        bad["failure_reason"] = json!("gremlins");
        assert_eq!(
            schema("fax.failed")
                .check("payload", &bad)
                .unwrap_err()
                .field,
            "payload.failure_reason"
        );
        let finalized = json!({"completed_at": "2019-12-09T21:32:14.148+00:00", "cost": null, "direction": "outbound",
            "encoding": "GSM-7", "errors": [], "id": "ac012cbf-5e09-46af-a69a-7c0e2d90993c", "media": [],
            "from": {"carrier": "T-Mobile USA", "line_type": "Wireless", "phone_number": "+13125000000", "status": "webhook_delivered"},
            "messaging_profile_id": "83d2343b-553f-4c5f-b8c8-fd27004f94bf", "parts": 1, "record_type": "message",
            "to": [{"carrier": "T-MOBILE USA, INC.", "line_type": "Wireless", "phone_number": "+13125000000", "status": "delivered"}],
            "type": "SMS", "text": "Hello there!", "tags": [], "webhook_failover_url": "", "webhook_url": "http://webhook.site/x"});
        assert!(schema("message.finalized")
            .check("payload", &finalized)
            .is_ok());
        let mut bad = finalized.clone();
        bad["to"][0]["status"] = json!("teleported");
        assert_eq!(
            schema("message.finalized")
                .check("payload", &bad)
                .unwrap_err()
                .field,
            "payload.to[0].status"
        );
    }
}
