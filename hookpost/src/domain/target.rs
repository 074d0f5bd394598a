//! Target resolution: where one event goes, decided once when it is published.
//!
//! The URL pair comes whole from the most specific level that has a `webhook_url`
//! (request → profile → account); every other setting is taken field by field from
//! the most specific level that sets it, then the server defaults.

use super::duration::HumanDuration;
use super::retry::RetrySchedule;
use super::settings::{Format, SignatureScheme, WebhookSettings};
use super::webhook_url::WebhookUrl;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Per-request timeout when no level sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The level a target's URLs came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The publish request named the URLs.
    Request,
    /// The profile named by `profile_id`.
    Profile,
    /// The account's defaults.
    Account,
}

/// A resolved target: everything a worker needs to deliver, frozen at publish time
/// so later settings changes do not alter events already accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// Tried first in every attempt.
    pub primary: WebhookUrl,
    /// Tried at once when the primary fails, under the same attempt number.
    pub failover: Option<WebhookUrl>,
    /// Where the URLs came from.
    pub level: Level,
    /// Body encoding.
    pub format: Format,
    /// Signature schemes attached to every request.
    pub signatures: Vec<SignatureScheme>,
    /// Whether inflight events are delivered to this target.
    pub inflight: bool,
    /// Payload version the receiver is pinned to.
    pub version: Option<String>,
    /// Delays between attempts.
    pub retry_schedule: RetrySchedule,
    /// Deadline for one request.
    pub timeout: HumanDuration,
}

/// The settings of each level, most specific first; a level that does not apply is
/// `None`.
pub struct Levels<'a> {
    /// From the publish request.
    pub request: &'a WebhookSettings,
    /// From the profile named by `profile_id`, if any.
    pub profile: Option<&'a WebhookSettings>,
    /// The account's defaults.
    pub account: &'a WebhookSettings,
}

impl Levels<'_> {
    fn in_order(&self) -> impl Iterator<Item = (Level, &WebhookSettings)> {
        [
            Some((Level::Request, self.request)),
            self.profile.map(|p| (Level::Profile, p)),
            Some((Level::Account, self.account)),
        ]
        .into_iter()
        .flatten()
    }

    /// The most specific value of one field.
    fn pick<T: Clone>(&self, field: impl Fn(&WebhookSettings) -> Option<T>) -> Option<T> {
        self.in_order().find_map(|(_, s)| field(s))
    }
}

/// How long a claim on an event of this target lasts: long enough for one whole
/// attempt (primary and failover, each up to the timeout), plus `margin` before
/// another node may take it over.
pub fn lease_for(target: &Target, margin: Duration) -> Duration {
    target.timeout.0 * 2 + margin
}

/// Resolves the target of an event, or `None` when no level has a `webhook_url`
/// (the event is then stored as `no_target`).
pub fn resolve_target(levels: &Levels<'_>) -> Option<Target> {
    let (level, urls) = levels.in_order().find(|(_, s)| s.webhook_url.is_some())?;
    Some(Target {
        primary: urls.webhook_url.clone()?,
        failover: urls.webhook_failover_url.clone(),
        level,
        format: levels.pick(|s| s.format).unwrap_or_default(),
        signatures: levels
            .pick(|s| s.signatures.clone())
            .unwrap_or_else(SignatureScheme::defaults),
        inflight: levels.pick(|s| s.inflight).unwrap_or(false),
        version: levels.pick(|s| s.version.clone()),
        retry_schedule: levels
            .pick(|s| s.retry_schedule.clone())
            .unwrap_or_default(),
        timeout: levels
            .pick(|s| s.timeout)
            .unwrap_or(HumanDuration(DEFAULT_TIMEOUT)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: &str) -> WebhookSettings {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn request_urls_win_and_come_as_a_pair() {
        let request = settings(r#"{"webhook_url":"https://req.example/"}"#);
        let profile = settings(
            r#"{"webhook_url":"https://p.example/","webhook_failover_url":"https://pf.example/"}"#,
        );
        let account = WebhookSettings::default();
        let t = resolve_target(&Levels {
            request: &request,
            profile: Some(&profile),
            account: &account,
        })
        .unwrap();
        assert_eq!(t.level, Level::Request);
        assert_eq!(t.primary.masked(), "https://req.example/");
        assert_eq!(
            t.failover, None,
            "a request URL without failover has no failover"
        );
    }

    #[test]
    fn profile_then_account_then_nothing() {
        let none = WebhookSettings::default();
        let profile = settings(r#"{"webhook_url":"https://p.example/"}"#);
        let account = settings(r#"{"webhook_url":"https://a.example/"}"#);
        let t = resolve_target(&Levels {
            request: &none,
            profile: Some(&profile),
            account: &account,
        })
        .unwrap();
        assert_eq!(t.level, Level::Profile);
        let t = resolve_target(&Levels {
            request: &none,
            profile: None,
            account: &account,
        })
        .unwrap();
        assert_eq!(t.level, Level::Account);
        assert!(resolve_target(&Levels {
            request: &none,
            profile: Some(&none),
            account: &none
        })
        .is_none());
    }

    #[test]
    fn other_settings_are_picked_field_by_field() {
        let request = settings(r#"{"timeout":"2s"}"#);
        let profile = settings(r#"{"webhook_url":"https://p.example/","version":"v2"}"#);
        let account = settings(
            r#"{"webhook_url":"https://a.example/","version":"v1","inflight":true,"signatures":["standard"]}"#,
        );
        let t = resolve_target(&Levels {
            request: &request,
            profile: Some(&profile),
            account: &account,
        })
        .unwrap();
        assert_eq!(t.timeout.0, Duration::from_secs(2));
        assert_eq!(t.version.as_deref(), Some("v2"));
        assert!(t.inflight);
        assert_eq!(t.signatures, vec![SignatureScheme::Standard]);
        assert_eq!(t.retry_schedule, RetrySchedule::default());
        assert_eq!(t.format, Format::Json);
    }

    #[test]
    fn defaults_apply_when_no_level_sets_a_field() {
        let none = WebhookSettings::default();
        let account = settings(r#"{"webhook_url":"https://a.example/"}"#);
        let t = resolve_target(&Levels {
            request: &none,
            profile: None,
            account: &account,
        })
        .unwrap();
        assert_eq!(t.signatures, SignatureScheme::defaults());
        assert_eq!(t.timeout.0, DEFAULT_TIMEOUT);
        assert!(!t.inflight);
    }
}
