//! Events as hookpost stores them, and their life cycle.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::HashMap;

/// Whether a publish came as one event or as a batch, which decides how a
/// refusal names its field (`payload` or `events[0].payload`) and labels its
/// latency in `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `POST /v1/events`.
    Single,
    /// `POST /v1/events/batch`.
    Batch,
}

/// Where an event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Waiting for its next attempt (or in one).
    Pending,
    /// A receiver answered 2xx.
    Delivered,
    /// The retry schedule is spent.
    Failed,
    /// No level named a webhook URL; nothing is sent.
    NoTarget,
    /// An inflight event whose target does not take inflight events.
    Filtered,
}

impl EventStatus {
    /// The name used in storage, the API and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Delivered => "delivered",
            EventStatus::Failed => "failed",
            EventStatus::NoTarget => "no_target",
            EventStatus::Filtered => "filtered",
        }
    }

    /// Reads a name written by [`EventStatus::as_str`].
    pub fn parse(name: &str) -> Option<EventStatus> {
        [
            Self::Pending,
            Self::Delivered,
            Self::Failed,
            Self::NoTarget,
            Self::Filtered,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// Whether an event type reports progress (`inflight`) or a state change
/// (`postflight`). Unregistered types are postflight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Progress during a transmission, such as a page sent.
    Inflight,
    /// A state change or completion.
    #[default]
    Postflight,
}

impl Category {
    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Inflight => "inflight",
            Category::Postflight => "postflight",
        }
    }
}

/// An event ready to be stored: validated, its destinations resolved.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// UUIDv7, so ids sort by time and index well.
    pub id: String,
    /// The tenant.
    pub account_id: String,
    /// The profile named at publish, if any.
    pub profile_id: Option<String>,
    /// e.g. `fax.delivered`.
    pub event_type: String,
    /// The payload exactly as published (a JSON object).
    pub payload: Box<RawValue>,
    /// Payloads per version (a JSON object of objects), if given.
    pub payloads: Option<Box<RawValue>>,
    /// When the publisher says it happened (RFC 3339, as given).
    pub occurred_at: String,
    /// When hookpost accepted it.
    pub created_at: DateTime<Utc>,
    /// The publisher's de-duplication key.
    pub idempotency_key: Option<String>,
    /// Same-key deliveries to one destination go in publish order, one at a time.
    pub ordering_key: Option<String>,
    /// `pending` (with deliveries), `no_target` or `filtered` (without).
    pub status: EventStatus,
    /// One per destination that takes it.
    pub deliveries: Vec<super::delivery::NewDelivery>,
    /// Files published with it.
    pub attachments: Vec<super::attachment::NewAttachment>,
}

/// The payload a receiver pinned to `version` gets: its own entry in `payloads`, or
/// the main payload.
pub fn select_payload<'a>(
    payload: &'a RawValue,
    payloads: Option<&'a RawValue>,
    version: Option<&str>,
) -> &'a RawValue {
    let (Some(map), Some(version)) = (payloads, version) else {
        return payload;
    };
    // Owned keys: a key with a JSON escape cannot be borrowed from the text.
    let parsed: Result<HashMap<String, &RawValue>, _> = serde_json::from_str(map.get());
    match parsed.ok().and_then(|m| m.get(version).copied()) {
        Some(found) => found,
        None => payload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    #[test]
    fn status_names_round_trip() {
        for s in ["pending", "delivered", "failed", "no_target", "filtered"] {
            assert_eq!(EventStatus::parse(s).unwrap().as_str(), s);
        }
        assert_eq!(EventStatus::parse("done"), None);
    }

    #[test]
    fn pinned_receivers_get_their_version_and_others_the_main_payload() {
        let main = raw(r#"{"v":1}"#);
        let versions = raw(r#"{"v2":{"v":2}}"#);
        assert_eq!(
            select_payload(&main, Some(&versions), Some("v2")).get(),
            r#"{"v":2}"#
        );
        assert_eq!(
            select_payload(&main, Some(&versions), Some("v3")).get(),
            r#"{"v":1}"#
        );
        assert_eq!(
            select_payload(&main, Some(&versions), None).get(),
            r#"{"v":1}"#
        );
        assert_eq!(select_payload(&main, None, Some("v2")).get(), r#"{"v":1}"#);
        let escaped = raw(r#"{"v\"2":{"v":3}}"#);
        assert_eq!(
            select_payload(&main, Some(&escaped), Some("v\"2")).get(),
            r#"{"v":3}"#
        );
    }
}
