//! Endpoints: destinations an account keeps, each subscribed to some event
//! types, with its own settings, custom headers and limits. What a caller may set
//! is checked here, field by field, so that every refusal names its field.

use super::control::{Control, Limits};
use super::duration::HumanDuration;
use super::settings::WebhookSettings;
use super::validate::{self, FieldError};
use super::webhook_url::WebhookUrl;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

/// Most event-type patterns one endpoint subscribes to.
pub const MAX_PATTERNS: usize = 100;
/// Most custom headers on one endpoint.
pub const MAX_HEADERS: usize = 20;
/// Longest custom header value.
pub const MAX_HEADER_VALUE: usize = 4096;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 512;
/// Largest `max_in_flight`.
pub const MAX_IN_FLIGHT: u32 = 10_000;
/// Shortest `disable_after`.
pub const MIN_DISABLE_AFTER: Duration = Duration::from_secs(1);
/// Longest `disable_after`.
pub const MAX_DISABLE_AFTER: Duration = Duration::from_secs(365 * 24 * 3600);

/// Headers hookpost itself writes or that describe the connection: a custom
/// header may not replace them.
const RESERVED_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "content-type",
    "x-phaxio-signature",
];
/// Prefixes of the signature schemes' headers (`webhook-id`, `telnyx-timestamp`…).
const RESERVED_PREFIXES: &[&str] = &["webhook-", "telnyx-"];

/// Whether an endpoint receives new deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointState {
    /// Takes the events it subscribes to.
    Enabled,
    /// Takes nothing new until enabled again.
    Disabled,
}

impl EndpointState {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointState::Enabled => "enabled",
            EndpointState::Disabled => "disabled",
        }
    }

    /// Reads a name written by [`EndpointState::as_str`].
    pub fn parse(name: &str) -> Option<EndpointState> {
        [EndpointState::Enabled, EndpointState::Disabled]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// One entry of a subscription: an exact type, a prefix (`fax.*`) or every type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTypePattern {
    /// `fax.delivered`.
    Exact(String),
    /// `fax.*`, kept as `fax.`: every type that starts so.
    Prefix(String),
    /// `*`.
    All,
}

impl EventTypePattern {
    /// Reads `fax.delivered`, `fax.*` or `*`; anything else (`""`, `fax.**`,
    /// `*.sent`, `fa*x`) is refused.
    pub fn parse(text: &str) -> Result<EventTypePattern, String> {
        const RULE: &str =
            "must be an event type (fax.delivered), a prefix ending in .* (fax.*) or *";
        if text == "*" {
            return Ok(EventTypePattern::All);
        }
        let (name, prefix) = match text.strip_suffix(".*") {
            Some(stem) => (stem, true),
            None => (text, false),
        };
        if name.contains('*') || validate::event_type(name).is_err() {
            return Err(RULE.into());
        }
        Ok(if prefix {
            EventTypePattern::Prefix(format!("{name}."))
        } else {
            EventTypePattern::Exact(name.to_string())
        })
    }

    /// Whether events of `event_type` match.
    pub fn matches(&self, event_type: &str) -> bool {
        match self {
            EventTypePattern::Exact(name) => name == event_type,
            EventTypePattern::Prefix(stem) => event_type.starts_with(stem.as_str()),
            EventTypePattern::All => true,
        }
    }
}

impl std::fmt::Display for EventTypePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventTypePattern::Exact(name) => f.write_str(name),
            EventTypePattern::Prefix(stem) => write!(f, "{stem}*"),
            EventTypePattern::All => f.write_str("*"),
        }
    }
}

impl Serialize for EventTypePattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventTypePattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        EventTypePattern::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Whether an event type is taken by a list of patterns: an empty list takes all.
pub fn subscribed(patterns: &[EventTypePattern], event_type: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| p.matches(event_type))
}

/// A sending rate: so many deliveries per second, minute or hour (`50/s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Deliveries per period.
    pub count: u32,
    /// The period.
    pub per: Duration,
}

impl RateLimit {
    /// Reads `N/s`, `N/m` or `N/h` with N from 1 to 1,000,000.
    pub fn parse(text: &str) -> Result<RateLimit, String> {
        const RULE: &str = "must be N/s, N/m or N/h with N from 1 to 1000000 (e.g. 50/s)";
        let (count, unit) = text.split_once('/').ok_or(RULE)?;
        let count: u32 = count.parse().map_err(|_| RULE)?;
        let per = match unit {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(RULE.into()),
        };
        if !(1..=1_000_000).contains(&count) {
            return Err(RULE.into());
        }
        Ok(RateLimit { count, per })
    }
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "m",
            _ => "h",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

impl Serialize for RateLimit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RateLimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        RateLimit::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Custom headers sent with every delivery to an endpoint, in the order given.
/// Read from a JSON object without merging repeated names, so that a repeat can
/// be refused rather than silently dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomHeaders(pub Vec<(String, String)>);

impl CustomHeaders {
    /// Checks names and values: HTTP tokens, no header hookpost writes itself,
    /// no hop-by-hop header, no CR/LF, no name twice (in any case).
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.0.len() > MAX_HEADERS {
            return Err(FieldError::new(
                "headers",
                format!("at most {MAX_HEADERS} headers"),
            ));
        }
        let mut seen: Vec<String> = Vec::with_capacity(self.0.len());
        for (name, value) in &self.0 {
            let field = format!("headers.{name}");
            let lower = name.to_ascii_lowercase();
            if !is_token(name) {
                return Err(FieldError::new(field, "is not a valid header name"));
            }
            if RESERVED_HEADERS.contains(&lower.as_str())
                || RESERVED_PREFIXES.iter().any(|p| lower.starts_with(p))
            {
                return Err(FieldError::new(
                    field,
                    "is set by hookpost or by the connection and cannot be replaced",
                ));
            }
            if value.len() > MAX_HEADER_VALUE
                || value
                    .chars()
                    .any(|c| matches!(c, '\r' | '\n' | '\0') || (c.is_control() && c != '\t'))
            {
                return Err(FieldError::new(
                    field,
                    format!("must be at most {MAX_HEADER_VALUE} bytes without control characters (CR, LF)"),
                ));
            }
            if seen.contains(&lower) {
                return Err(FieldError::new(field, "is given twice"));
            }
            seen.push(lower);
        }
        Ok(())
    }
}

/// RFC 9110 `token`: the characters a header name may hold.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl Serialize for CustomHeaders {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for CustomHeaders {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = CustomHeaders;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of header names to string values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = m.next_entry::<String, String>()? {
                    pairs.push(pair);
                }
                Ok(CustomHeaders(pairs))
            }
        }
        d.deserialize_map(Pairs)
    }
}

/// What a caller sets on an endpoint (everything but its id, owner and state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointSpec {
    /// Tried first in every attempt.
    pub url: WebhookUrl,
    /// Tried at once when the primary fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_url: Option<WebhookUrl>,
    /// The profile whose events it takes; `None`: the account's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    /// What it subscribes to; empty: every type.
    #[serde(default)]
    pub event_types: Vec<EventTypePattern>,
    /// For people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Sent with every delivery.
    #[serde(default)]
    pub headers: CustomHeaders,
    /// Its own settings (format, signatures, …), between the request's and the
    /// profile's in the order settings are picked.
    #[serde(default)]
    pub settings: WebhookSettings,
    /// Most deliveries in flight at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<u32>,
    /// Most deliveries started per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// How long it may fail with no success before it is disabled; `None`: the
    /// server's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_after: Option<HumanDuration>,
}

impl EndpointSpec {
    /// Checks what serde cannot: the settings' own rules (without URLs: an
    /// endpoint's are `url` and `failover_url`), headers, the profile id, bounds.
    /// URL reachability is the caller's check (it needs the server's policy).
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.settings.webhook_url.is_some() || self.settings.webhook_failover_url.is_some() {
            return Err(FieldError::new(
                "settings.webhook_url",
                "an endpoint's URLs are its `url` and `failover_url` fields",
            ));
        }
        self.settings
            .validate()
            .map_err(|(field, message)| FieldError::new(format!("settings.{field}"), message))?;
        self.headers.validate()?;
        if let Some(id) = &self.profile_id {
            validate::profile_id(id)?;
        }
        if self.event_types.len() > MAX_PATTERNS {
            return Err(FieldError::new(
                "event_types",
                format!("at most {MAX_PATTERNS} patterns"),
            ));
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
        {
            return Err(FieldError::new(
                "description",
                format!("at most {MAX_DESCRIPTION} characters"),
            ));
        }
        if let Some(n) = self.max_in_flight {
            if !(1..=MAX_IN_FLIGHT).contains(&n) {
                return Err(FieldError::new(
                    "max_in_flight",
                    format!("must be between 1 and {MAX_IN_FLIGHT}"),
                ));
            }
        }
        if let Some(d) = self.disable_after {
            if !(MIN_DISABLE_AFTER..=MAX_DISABLE_AFTER).contains(&d.0) {
                return Err(FieldError::new(
                    "disable_after",
                    format!(
                        "must be between {} and {}",
                        HumanDuration(MIN_DISABLE_AFTER),
                        HumanDuration(MAX_DISABLE_AFTER)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The limits delivery control enforces.
    pub fn limits(&self) -> Limits {
        Limits {
            max_in_flight: self.max_in_flight,
            rate: self.rate_limit,
        }
    }

    /// The URLs it names, with the field each came from.
    pub fn urls(&self) -> impl Iterator<Item = (&'static str, &WebhookUrl)> {
        [
            ("url", Some(&self.url)),
            ("failover_url", self.failover_url.as_ref()),
        ]
        .into_iter()
        .filter_map(|(f, u)| u.map(|u| (f, u)))
    }
}

/// An endpoint as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// `ep_…`.
    pub id: String,
    /// Owner.
    pub account_id: String,
    /// What the caller set.
    pub spec: EndpointSpec,
    /// Whether it takes new deliveries.
    pub state: EndpointState,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Its delivery control: breaker, pause, adapted concurrency.
    pub control: Control,
}

impl Endpoint {
    /// Whether each delivery to it must be admitted by delivery control.
    pub fn gated(&self) -> bool {
        self.state != EndpointState::Enabled || self.control.gated(&self.spec.limits())
    }

    /// Whether a new event of `event_type` goes to this endpoint.
    pub fn takes(&self, event_type: &str) -> bool {
        self.state == EndpointState::Enabled && subscribed(&self.spec.event_types, event_type)
    }
}

/// An endpoint's recent deliveries, for `GET /v1/endpoints/{id}/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Deliveries last changed within the hour, by status.
    pub last_hour: DeliveryCounts,
    /// Deliveries last changed within the day, by status.
    pub last_day: DeliveryCounts,
    /// When a request to it last succeeded.
    pub last_success_at: Option<DateTime<Utc>>,
    /// When a request to it last failed.
    pub last_failure_at: Option<DateTime<Utc>>,
}

/// How many endpoints there are by state, across every account (`/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointTally {
    /// Taking deliveries.
    pub enabled: u64,
    /// Disabled, by hand or by delivery control.
    pub disabled: u64,
    /// Enabled, with the circuit breaker open.
    pub breaker_open: u64,
}

impl EndpointTally {
    /// Counts `n` endpoints in a stored `state`, their breaker open or not.
    pub fn add(&mut self, state: &str, breaker_open: bool, n: u64) {
        if state != EndpointState::Enabled.as_str() {
            self.disabled += n;
        } else {
            self.enabled += n;
            if breaker_open {
                self.breaker_open += n;
            }
        }
    }
}

/// Deliveries by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DeliveryCounts {
    /// Waiting or under way.
    pub pending: u64,
    /// Taken by the receiver.
    pub delivered: u64,
    /// Given up.
    pub failed: u64,
}

impl DeliveryCounts {
    /// Adds `n` deliveries in `status` (a stored name).
    pub fn add(&mut self, status: &str, n: u64) {
        match status {
            "pending" | "paused" => self.pending += n,
            "delivered" => self.delivered += n,
            _ => self.failed += n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_take_exact_names_prefixes_and_everything() {
        let exact = EventTypePattern::parse("fax.failed").unwrap();
        let prefix = EventTypePattern::parse("fax.*").unwrap();
        let all = EventTypePattern::parse("*").unwrap();
        assert!(exact.matches("fax.failed") && !exact.matches("fax.failed.x"));
        assert!(prefix.matches("fax.delivered") && !prefix.matches("faxes.sent"));
        assert!(
            !prefix.matches("fax"),
            "fax.* takes types under fax., not fax"
        );
        assert!(all.matches("anything"));
        assert_eq!(prefix.to_string(), "fax.*");
        assert!(
            subscribed(&[], "x"),
            "an empty subscription takes every type"
        );
        assert!(!subscribed(&[exact], "fax.sent"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in [
            "", "fax.**", "*.sent", "fa*x", ".*", "fax.*.*", "fax .x", "**",
        ] {
            assert!(EventTypePattern::parse(bad).is_err(), "{bad:?} was taken");
        }
    }

    #[test]
    fn rate_limits_read_and_print_back() {
        for text in ["50/s", "1000/m", "1/h"] {
            assert_eq!(RateLimit::parse(text).unwrap().to_string(), text);
        }
        for bad in ["0/s", "50", "50/d", "-1/s", "x/s", "2000000/s"] {
            assert!(RateLimit::parse(bad).is_err(), "{bad:?} was taken");
        }
    }

    fn headers(json: &str) -> Result<(), String> {
        let h: CustomHeaders = serde_json::from_str(json).map_err(|e| e.to_string())?;
        h.validate().map_err(|e| e.field)
    }

    #[test]
    fn custom_headers_are_checked() {
        assert_eq!(headers(r#"{"X-Env":"prod","X-Team":"fax"}"#), Ok(()));
        assert_eq!(
            headers(r#"{"X-Env":"a","x-env":"b"}"#),
            Err("headers.x-env".into())
        );
        for reserved in [
            "Connection",
            "Host",
            "Transfer-Encoding",
            "webhook-signature",
            "Telnyx-Timestamp",
            "Content-Type",
        ] {
            assert!(
                headers(&format!(r#"{{"{reserved}":"x"}}"#)).is_err(),
                "{reserved}"
            );
        }
        assert!(headers(r#"{"X-A":"a\r\nX-B: b"}"#).is_err());
        assert!(headers(r#"{"X A":"a"}"#).is_err());
        assert!(headers(r#"{"X-A":1}"#).is_err());
    }

    fn spec(json: &str) -> EndpointSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn an_endpoint_spec_names_its_bad_field() {
        let field = |json: &str| spec(json).validate().unwrap_err().field;
        assert_eq!(
            field(
                r#"{"url":"https://a.example/","settings":{"webhook_url":"https://b.example/"}}"#
            ),
            "settings.webhook_url"
        );
        assert_eq!(
            field(r#"{"url":"https://a.example/","settings":{"timeout":"1h"}}"#),
            "settings.timeout"
        );
        assert_eq!(
            field(r#"{"url":"https://a.example/","max_in_flight":0}"#),
            "max_in_flight"
        );
        assert_eq!(
            field(r#"{"url":"https://a.example/","profile_id":"a/b"}"#),
            "profile_id"
        );
        assert!(
            spec(r#"{"url":"https://a.example/","event_types":["fax.*"],"rate_limit":"5/s"}"#)
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn a_disabled_endpoint_takes_nothing() {
        let mut endpoint = Endpoint {
            id: "ep_1".into(),
            account_id: "a".into(),
            spec: spec(r#"{"url":"https://a.example/","event_types":["fax.*"]}"#),
            state: EndpointState::Enabled,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            control: Default::default(),
        };
        assert!(endpoint.takes("fax.delivered") && !endpoint.takes("message.sent"));
        endpoint.state = EndpointState::Disabled;
        assert!(!endpoint.takes("fax.delivered"));
    }
}
