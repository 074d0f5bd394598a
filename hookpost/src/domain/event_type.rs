//! Event types: their category (inflight or postflight) and an optional JSON
//! Schema that every published payload of the type must satisfy.

use super::event::Category;
use super::validate::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A registered event type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventType {
    /// e.g. `fax.delivered`.
    pub name: String,
    /// Whether it reports progress (`inflight`) or a state change (`postflight`).
    pub category: Category,
    /// What the type means, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema that payloads must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// A payload of this type, sent by an endpoint test
    /// (`POST /v1/endpoints/{id}/test`); it must satisfy the schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Value>,
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

    /// Checks a payload; the error names the failing path (`payload.to[0].status`).
    pub fn check(&self, payload: &Value) -> Result<(), FieldError> {
        match self.0.validate(payload) {
            Ok(()) => Ok(()),
            Err(e) => {
                let field = pointer_to_path("payload", &e.instance_path().to_string());
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

/// The ready-made catalog of fax and messaging event types (see `catalog.json`).
pub fn catalog() -> Vec<EventType> {
    serde_json::from_str(include_str!("catalog.json")).expect("the built-in catalog is valid")
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
        assert!(schema.check(&json!({"status": "queued"})).is_ok());
        assert_eq!(
            schema.check(&json!({"status": "lost"})).unwrap_err().field,
            "payload.status"
        );
        assert_eq!(
            schema
                .check(&json!({"status": "queued", "to": ["a", 3]}))
                .unwrap_err()
                .field,
            "payload.to[1]"
        );
        assert_eq!(schema.check(&json!({})).unwrap_err().field, "payload");
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
    fn the_catalog_compiles_and_checks_the_seed_examples() {
        let catalog = catalog();
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
        assert!(schema("fax.failed").check(&failed).is_ok());
        let mut bad = failed.clone();
        bad["failure_reason"] = json!("gremlins");
        assert_eq!(
            schema("fax.failed").check(&bad).unwrap_err().field,
            "payload.failure_reason"
        );
        let finalized = json!({"completed_at": "2019-12-09T21:32:14.148+00:00", "cost": null, "direction": "outbound",
            "encoding": "GSM-7", "errors": [], "id": "ac012cbf-5e09-46af-a69a-7c0e2d90993c", "media": [],
            "from": {"carrier": "T-Mobile USA", "line_type": "Wireless", "phone_number": "+13125000000", "status": "webhook_delivered"},
            "messaging_profile_id": "83d2343b-553f-4c5f-b8c8-fd27004f94bf", "parts": 1, "record_type": "message",
            "to": [{"carrier": "T-MOBILE USA, INC.", "line_type": "Wireless", "phone_number": "+13125000000", "status": "delivered"}],
            "type": "SMS", "text": "Hello there!", "tags": [], "webhook_failover_url": "", "webhook_url": "http://webhook.site/x"});
        assert!(schema("message.finalized").check(&finalized).is_ok());
        let mut bad = finalized.clone();
        bad["to"][0]["status"] = json!("teleported");
        assert_eq!(
            schema("message.finalized").check(&bad).unwrap_err().field,
            "payload.to[0].status"
        );
    }
}
