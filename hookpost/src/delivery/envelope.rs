//! The body of a delivery, built once per request so that every signature covers
//! the very bytes that are sent: the JSON envelope of the spec, or the same facts
//! as `multipart/form-data` fields (the fax-provider style).

use crate::domain::settings::Format;
use serde::Serialize;
use serde_json::value::RawValue;

/// What one event contributes to every request of an attempt.
pub struct EventContent<'a> {
    /// Event id (also `webhook-id`).
    pub id: &'a str,
    /// e.g. `fax.delivered`.
    pub event_type: &'a str,
    /// As published.
    pub occurred_at: &'a str,
    /// The payload for this target's version, byte for byte as published.
    pub payload: &'a RawValue,
}

/// A request body ready to send and sign.
#[derive(Debug, Clone)]
pub struct Body {
    /// `content-type` header value.
    pub content_type: String,
    /// The bytes on the wire.
    pub bytes: Vec<u8>,
    /// For forms: the fields, by name, as sent (signatures over fields use them).
    pub fields: Vec<(&'static str, String)>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    data: Data<'a>,
    meta: Meta<'a>,
}

#[derive(Serialize)]
struct Data<'a> {
    record_type: &'static str,
    id: &'a str,
    event_type: &'a str,
    occurred_at: &'a str,
    payload: &'a RawValue,
}

#[derive(Serialize)]
struct Meta<'a> {
    attempt: u32,
    delivered_to: &'a str,
}

/// The body of one request in `format`.
pub fn body(format: Format, event: &EventContent<'_>, attempt: u32, delivered_to: &str) -> Body {
    match format {
        Format::Json => Body {
            content_type: "application/json".into(),
            bytes: json_body(event, attempt, delivered_to),
            fields: Vec::new(),
        },
        Format::Form => form_body(event, attempt, delivered_to),
    }
}

/// `{"data": {...}, "meta": {"attempt": n, "delivered_to": url}}`.
pub fn json_body(event: &EventContent<'_>, attempt: u32, delivered_to: &str) -> Vec<u8> {
    let envelope = Envelope {
        data: Data {
            record_type: "event",
            id: event.id,
            event_type: event.event_type,
            occurred_at: event.occurred_at,
            payload: event.payload,
        },
        meta: Meta {
            attempt,
            delivered_to,
        },
    };
    serde_json::to_vec(&envelope).expect("serializing borrowed strings and raw JSON cannot fail")
}

/// `multipart/form-data` with fields `event_type`, `id`, `occurred_at`, `attempt`,
/// `delivered_to` and `payload` (the payload as a JSON string).
fn form_body(event: &EventContent<'_>, attempt: u32, delivered_to: &str) -> Body {
    let fields: Vec<(&'static str, String)> = vec![
        ("event_type", event.event_type.to_string()),
        ("id", event.id.to_string()),
        ("occurred_at", event.occurred_at.to_string()),
        ("attempt", attempt.to_string()),
        ("delivered_to", delivered_to.to_string()),
        ("payload", event.payload.get().to_string()),
    ];
    // A boundary of random hex cannot occur in the values by chance; checked anyway.
    let mut boundary = format!("hookpost-{}", uuid::Uuid::new_v4().simple());
    while fields.iter().any(|(_, v)| v.contains(&boundary)) {
        boundary = format!("hookpost-{}", uuid::Uuid::new_v4().simple());
    }
    let mut bytes = Vec::new();
    for (name, value) in &fields {
        bytes.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        bytes.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
        );
        bytes.extend_from_slice(value.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Body {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        bytes,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(payload: &RawValue) -> EventContent<'_> {
        EventContent {
            id: "e1",
            event_type: "fax.delivered",
            occurred_at: "2026-01-07T10:01:43Z",
            payload,
        }
    }

    #[test]
    fn the_envelope_carries_the_payload_verbatim() {
        let payload = RawValue::from_string(r#"{"fax_id":"f1", "n": 1.50}"#.into()).unwrap();
        let body =
            String::from_utf8(json_body(&content(&payload), 2, "https://x.example/h")).unwrap();
        assert_eq!(
            body,
            r#"{"data":{"record_type":"event","id":"e1","event_type":"fax.delivered","occurred_at":"2026-01-07T10:01:43Z","payload":{"fax_id":"f1", "n": 1.50}},"meta":{"attempt":2,"delivered_to":"https://x.example/h"}}"#
        );
    }

    #[test]
    fn a_form_has_one_part_per_field_and_a_closing_boundary() {
        let payload = RawValue::from_string(r#"{"a":"x\r\ny"}"#.into()).unwrap();
        let body = body(Format::Form, &content(&payload), 1, "https://x.example/h");
        let boundary = body
            .content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        let text = String::from_utf8(body.bytes).unwrap();
        assert_eq!(text.matches(&format!("--{boundary}\r\n")).count(), 6);
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
        assert!(text.contains("name=\"payload\"\r\n\r\n{\"a\":\"x\\r\\ny\"}\r\n"));
        assert_eq!(body.fields.len(), 6);
    }
}
