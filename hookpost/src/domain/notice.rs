//! Operational events: what delivery control did (an endpoint disabled or
//! enabled, a breaker opened) and deliveries that failed for good, told to the
//! operator as ordinary hookpost events in the operator account. A notice is
//! written in the transaction that made the change, then published (so it is
//! stored, signed and delivered like any event) by whichever node takes it.

use super::event::Category;
use super::event_type::EventType;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

/// An endpoint was disabled (by its owner, a `410 Gone`, or failing too long).
pub const ENDPOINT_DISABLED: &str = "hookpost.endpoint.disabled";
/// A disabled endpoint was enabled again.
pub const ENDPOINT_ENABLED: &str = "hookpost.endpoint.enabled";
/// An endpoint's circuit breaker opened.
pub const BREAKER_OPENED: &str = "hookpost.endpoint.breaker_opened";
/// A delivery's retry schedule ran out.
pub const DELIVERY_FAILED: &str = "hookpost.delivery.failed";

/// Every type, as stored.
pub const TYPES: [&str; 4] = [
    ENDPOINT_DISABLED,
    ENDPOINT_ENABLED,
    BREAKER_OPENED,
    DELIVERY_FAILED,
];

/// One operational event waiting to be published.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Its id, also the idempotency key of its publish (so a notice published
    /// twice by two nodes is stored once).
    pub id: String,
    /// One of the types above.
    pub event_type: &'static str,
    /// Account, endpoint, reason, last error, time.
    pub payload: Value,
}

/// What a notice is about.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The account whose endpoint or delivery it is.
    pub account_id: &'a str,
    /// The endpoint, if any (a settings URL has none).
    pub endpoint_id: Option<&'a str>,
    /// Where it goes, password masked.
    pub url: Option<&'a str>,
}

impl Notice {
    /// A notice of `event_type` about `subject`, with `reason` and the last
    /// error seen, if any.
    pub fn new(
        event_type: &'static str,
        subject: Subject<'_>,
        reason: &str,
        last_error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Notice {
        Notice {
            id: format!("ntc_{}", uuid::Uuid::now_v7().simple()),
            event_type,
            payload: json!({
                "account_id": subject.account_id,
                "endpoint_id": subject.endpoint_id,
                "url": subject.url,
                "reason": reason,
                "last_error": last_error,
                "at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
            }),
        }
    }

    /// The same notice about a delivery of `event_id`.
    pub fn with_event(mut self, event_id: &str) -> Notice {
        self.payload["event_id"] = json!(event_id);
        self
    }
}

/// Whether changes in `account_id` are told to the operator: only when an
/// operator account is named, and never about the operator account itself
/// (its own failing endpoint must not feed itself events).
pub fn told(operator_account: Option<&str>, account_id: &str) -> bool {
    operator_account.is_some_and(|op| op != account_id)
}

/// The four types, registered in the operator account with a schema each.
pub fn event_types() -> Vec<EventType> {
    let nullable = json!({"type": ["string", "null"]});
    let base = |extra: &[&str]| {
        let mut required = vec!["account_id", "endpoint_id", "reason", "at"];
        required.extend_from_slice(extra);
        json!({
            "type": "object",
            "required": required,
            "properties": {
                "account_id": {"type": "string"},
                "endpoint_id": nullable,
                "url": nullable,
                "reason": {"type": "string"},
                "last_error": nullable,
                "at": {"type": "string", "format": "date-time"},
                "event_id": {"type": "string"},
            },
        })
    };
    [
        (ENDPOINT_DISABLED, "An endpoint was disabled.", base(&[])),
        (
            ENDPOINT_ENABLED,
            "An endpoint was enabled again.",
            base(&[]),
        ),
        (
            BREAKER_OPENED,
            "An endpoint's circuit breaker opened.",
            base(&[]),
        ),
        (
            DELIVERY_FAILED,
            "A delivery failed for good.",
            base(&["event_id"]),
        ),
    ]
    .into_iter()
    .map(|(name, description, schema)| EventType {
        name: name.into(),
        category: Category::Postflight,
        description: Some(description.into()),
        schema: Some(schema),
        example: None,
        versions: Default::default(),
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event_type::PayloadSchema;

    #[test]
    fn every_notice_satisfies_its_registered_schema() {
        let subject = Subject {
            account_id: "acct_1",
            endpoint_id: Some("ep_1"),
            url: Some("https://a.example/"),
        };
        let types = event_types();
        let schema = |name: &str| {
            let t = types.iter().find(|t| t.name == name).unwrap();
            PayloadSchema::compile(t.schema.as_ref().unwrap()).unwrap()
        };
        let disabled = Notice::new(
            ENDPOINT_DISABLED,
            subject,
            "gone",
            Some("http 410"),
            Utc::now(),
        );
        schema(ENDPOINT_DISABLED)
            .check("payload", &disabled.payload)
            .unwrap();
        let failed = Notice::new(
            DELIVERY_FAILED,
            subject,
            "attempts_exhausted",
            None,
            Utc::now(),
        );
        assert!(
            schema(DELIVERY_FAILED)
                .check("payload", &failed.payload)
                .is_err(),
            "event_id is required"
        );
        schema(DELIVERY_FAILED)
            .check("payload", &failed.with_event("evt").payload)
            .unwrap();
    }

    #[test]
    fn the_operator_account_is_never_told_about_itself() {
        assert!(told(Some("acct_op"), "acct_1"));
        assert!(!told(Some("acct_op"), "acct_op"));
        assert!(!told(None, "acct_1"));
    }
}
