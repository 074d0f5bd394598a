//! Webhook settings, the same shape on the account, on each profile and on a publish
//! request. Every field is optional: a level that leaves a field unset defers to the
//! next, less specific level (see [`crate::domain::target`]).

use super::duration::HumanDuration;
use super::retry::RetrySchedule;
use super::webhook_url::WebhookUrl;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Longest per-request timeout a setting may ask for.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(120);

/// How a delivery's body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `application/json`, the envelope of the spec.
    #[default]
    Json,
    /// `multipart/form-data`, the fax-provider style.
    Form,
}

/// Which fields a `form` delivery has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FormFields {
    /// `event_type`, `id`, `occurred_at`, `attempt`, `delivered_to` and
    /// `payload` (the payload as a JSON string).
    #[default]
    Envelope,
    /// `event_type`, then each top-level key of the payload as its own field
    /// (objects and arrays as JSON strings), so a publisher can reproduce a
    /// fax provider's exact form.
    Payload,
}

/// A signature scheme whose headers a delivery carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignatureScheme {
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    Standard,
    /// Telnyx: `telnyx-timestamp`, `telnyx-signature-ed25519`.
    Telnyx,
    /// Phaxio: `X-Phaxio-Signature`, HMAC-SHA1 with the callback token.
    Phaxio,
}

impl SignatureScheme {
    /// The schemes used when no level chooses: both that verify with public tools.
    pub fn defaults() -> Vec<SignatureScheme> {
        vec![SignatureScheme::Standard, SignatureScheme::Telnyx]
    }
}

/// Which answers count as delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Success {
    /// Any 2xx (the default).
    #[default]
    Any2xx,
    /// Only `200`: a fax provider's delivery-update document says its receivers
    /// "must return an HTTP 200, otherwise we will reattempt delivery at the
    /// failover webhook URL", so a `204` fails over.
    Only200,
}

impl Success {
    /// Whether a receiver's 2xx `status` counts as delivered.
    pub fn accepts(self, status: u16) -> bool {
        match self {
            Success::Any2xx => (200..=299).contains(&status),
            Success::Only200 => status == 200,
        }
    }
}

impl Serialize for Success {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Success::Any2xx => s.serialize_str("2xx"),
            Success::Only200 => s.serialize_u16(200),
        }
    }
}

impl<'de> Deserialize<'de> for Success {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) if s == "2xx" => Ok(Success::Any2xx),
            serde_json::Value::Number(n) if n.as_u64() == Some(200) => Ok(Success::Only200),
            _ => Err(serde::de::Error::custom(
                "must be \"2xx\" (any 2xx is success) or 200 (only 200 is)",
            )),
        }
    }
}

/// Webhook settings at one level, generic over how URLs are represented so that the
/// stored form (`Settings<WebhookUrl>`) and the shown form (`Settings<String>`, with
/// passwords masked) are one definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, bound(deserialize = "U: Deserialize<'de>"))]
pub struct Settings<U> {
    /// Primary destination.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = WebhookUrl, nullable = false)]
    pub webhook_url: Option<U>,
    /// Tried at once, under the same attempt number, when the primary fails.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = WebhookUrl, nullable = false)]
    pub webhook_failover_url: Option<U>,
    /// Body encoding.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false)]
    pub format: Option<Format>,
    /// For `format: form`: the envelope's fields or the payload's.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false)]
    pub form_fields: Option<FormFields>,
    /// Signature schemes to attach.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false)]
    pub signatures: Option<Vec<SignatureScheme>>,
    /// Whether inflight (progress) events are delivered.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false)]
    pub inflight: Option<bool>,
    /// Payload version the receiver is pinned to.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false, pattern = r"^[!-~]{1,64}$")]
    pub version: Option<String>,
    /// Delays between attempts.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false)]
    pub retry_schedule: Option<RetrySchedule>,
    /// Deadline for one request.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false)]
    pub timeout: Option<HumanDuration>,
    /// Which answers count as delivered.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false)]
    pub success: Option<Success>,
}

/// A settings field that is given must have a value: `null` is refused rather
/// than read as "not set", so a client's mistake is named, not ignored (leave the
/// field out to inherit the next level's value).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(d)? {
        Some(value) => Ok(Some(value)),
        None => Err(serde::de::Error::custom(
            "must not be null: leave the field out to inherit it from the next level",
        )),
    }
}

/// Settings as stored and used for delivery.
pub type WebhookSettings = Settings<WebhookUrl>;

impl<U> Default for Settings<U> {
    fn default() -> Self {
        Settings {
            webhook_url: None,
            webhook_failover_url: None,
            format: None,
            form_fields: None,
            signatures: None,
            inflight: None,
            version: None,
            retry_schedule: None,
            timeout: None,
            success: None,
        }
    }
}

impl WebhookSettings {
    /// Checks the rules serde cannot express; the error names the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.webhook_failover_url.is_some() && self.webhook_url.is_none() {
            return Err((
                "webhook_failover_url",
                "needs webhook_url at the same level: the two URLs are used as a pair".into(),
            ));
        }
        if let Some(t) = self.timeout {
            if t.0 < Duration::from_millis(1) || t.0 > MAX_TIMEOUT {
                return Err((
                    "timeout",
                    format!("must be between 1ms and {}", HumanDuration(MAX_TIMEOUT)),
                ));
            }
        }
        if let Some(v) = &self.version {
            super::validate::version("version", v).map_err(|e| ("version", e.message))?;
        }
        if let Some(s) = &self.signatures {
            let mut seen = s.clone();
            seen.sort_by_key(|x| *x as u8);
            seen.dedup();
            if seen.len() != s.len() {
                return Err(("signatures", "lists a scheme twice".into()));
            }
        }
        if let Some(r) = &self.retry_schedule {
            r.validate().map_err(|m| ("retry_schedule", m))?;
        }
        Ok(())
    }

    /// The URLs this level names, with the field each came from.
    pub fn urls(&self) -> impl Iterator<Item = (&'static str, &WebhookUrl)> {
        [
            ("webhook_url", self.webhook_url.as_ref()),
            ("webhook_failover_url", self.webhook_failover_url.as_ref()),
        ]
        .into_iter()
        .filter_map(|(f, u)| u.map(|u| (f, u)))
    }

    /// The same settings with passwords masked, for API answers.
    pub fn masked(&self) -> Settings<String> {
        Settings {
            webhook_url: self.webhook_url.as_ref().map(WebhookUrl::masked),
            webhook_failover_url: self.webhook_failover_url.as_ref().map(WebhookUrl::masked),
            format: self.format,
            form_fields: self.form_fields,
            signatures: self.signatures.clone(),
            inflight: self.inflight,
            version: self.version.clone(),
            retry_schedule: self.retry_schedule.clone(),
            timeout: self.timeout,
            success: self.success,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<WebhookSettings, String> {
        serde_json::from_str::<WebhookSettings>(json).map_err(|e| e.to_string())
    }

    #[test]
    fn failover_without_primary_is_refused() {
        let s = parse(r#"{"webhook_failover_url":"https://b.example/"}"#).unwrap();
        assert_eq!(s.validate().unwrap_err().0, "webhook_failover_url");
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        assert!(parse(r#"{"webhook_ur":"https://a.example/"}"#)
            .unwrap_err()
            .contains("webhook_ur"));
        assert!(parse(r#"{"format":"xml"}"#).is_err());
        assert!(parse(r#"{"signatures":["rsa"]}"#).is_err());
        let s = parse(r#"{"timeout":"10m"}"#).unwrap();
        assert_eq!(s.validate().unwrap_err().0, "timeout");
        let s = parse(r#"{"version":"v1\r\nx: y"}"#).unwrap();
        assert_eq!(s.validate().unwrap_err().0, "version");
        let s = parse(r#"{"signatures":["telnyx","telnyx"]}"#).unwrap();
        assert_eq!(s.validate().unwrap_err().0, "signatures");
    }

    #[test]
    fn success_is_any_2xx_or_only_200() {
        let s = parse(r#"{"success": 200}"#).unwrap();
        assert_eq!(s.success, Some(Success::Only200));
        assert!(!Success::Only200.accepts(204) && Success::Only200.accepts(200));
        assert!(Success::Any2xx.accepts(204));
        assert_eq!(
            parse(r#"{"success": "2xx"}"#).unwrap().success,
            Some(Success::Any2xx)
        );
        for bad in [
            r#"{"success": 204}"#,
            r#"{"success": "200"}"#,
            r#"{"success": true}"#,
        ] {
            assert!(parse(bad).unwrap_err().contains("2xx"), "{bad}");
        }
        assert_eq!(serde_json::to_string(&Success::Only200).unwrap(), "200");
    }

    #[test]
    fn masked_settings_hide_passwords() {
        let s = parse(r#"{"webhook_url":"https://u:pw@a.example/x"}"#).unwrap();
        let shown = serde_json::to_string(&s.masked()).unwrap();
        assert!(shown.contains("u:***@a.example") && !shown.contains("pw@"));
    }
}
