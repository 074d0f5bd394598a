//! The JSON envelope of a delivery, built once per request so that every signature
//! covers the very bytes that are sent.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_carries_the_payload_verbatim() {
        let payload = RawValue::from_string(r#"{"fax_id":"f1", "n": 1.50}"#.into()).unwrap();
        let event = EventContent {
            id: "e1",
            event_type: "fax.delivered",
            occurred_at: "2026-01-07T10:01:43Z",
            payload: &payload,
        };
        let body = String::from_utf8(json_body(&event, 2, "https://x.example/h")).unwrap();
        assert_eq!(
            body,
            r#"{"data":{"record_type":"event","id":"e1","event_type":"fax.delivered","occurred_at":"2026-01-07T10:01:43Z","payload":{"fax_id":"f1", "n": 1.50}},"meta":{"attempt":2,"delivered_to":"https://x.example/h"}}"#
        );
    }
}
