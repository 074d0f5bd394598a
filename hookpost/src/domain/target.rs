//! Target resolution: where one event goes, decided once when it is published.
//!
//! The destinations come from the first level that has any (request → profile →
//! account): its `webhook_url` settings (the URL pair comes whole from one level)
//! and its subscribed endpoints. Every other setting is taken field by field from
//! the most specific level that sets it (request → endpoint → profile →
//! account), then the server defaults.

use super::duration::HumanDuration;
use super::endpoint::Endpoint;
use super::event::Category;
use super::retry::RetrySchedule;
use super::settings::{FormFields, Format, SignatureScheme, Success, WebhookSettings};
use super::webhook_url::WebhookUrl;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Per-request timeout when no level sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The level a target's URLs came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The endpoint it goes to; `None` for the level's `webhook_url` settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
    /// The endpoint's custom headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// Body encoding.
    pub format: Format,
    /// For forms: the envelope's fields or the payload's (absent in targets
    /// stored before it existed: the envelope's).
    #[serde(default, skip_serializing_if = "is_envelope")]
    pub form_fields: FormFields,
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
    /// Which answers count as delivered (absent in targets stored before it
    /// existed: any 2xx).
    #[serde(default, skip_serializing_if = "is_any_2xx")]
    pub success: Success,
    /// Whether its endpoint's delivery control must admit each attempt, as the
    /// endpoint stood at publish (not stored: a claim reads it afresh).
    #[serde(skip)]
    pub gated: bool,
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

/// The endpoints that may take an event: those bound to its profile and those
/// of the account (bound to no profile).
#[derive(Default)]
pub struct LevelEndpoints<'a> {
    /// Bound to the profile named by `profile_id`.
    pub profile: &'a [Endpoint],
    /// Bound to no profile.
    pub account: &'a [Endpoint],
}

/// Where an event goes: the level its destinations came from and one target per
/// destination that takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Destinations {
    /// The first level with any destination; `None`: no level has one.
    pub level: Option<Level>,
    /// One per delivery; empty when the level's destinations all declined
    /// (subscription or inflight rule).
    pub targets: Vec<Target>,
}

impl Levels<'_> {
    /// The levels that may name URLs, most specific first.
    fn url_levels(&self) -> impl Iterator<Item = (Level, &WebhookSettings)> {
        [
            Some((Level::Request, self.request)),
            self.profile.map(|p| (Level::Profile, p)),
            Some((Level::Account, self.account)),
        ]
        .into_iter()
        .flatten()
    }

    /// A target for `urls`, every other setting picked field by field: request,
    /// then the endpoint's own, then profile, then account, then the defaults.
    fn target(
        &self,
        level: Level,
        urls: (WebhookUrl, Option<WebhookUrl>),
        endpoint: Option<&Endpoint>,
    ) -> Target {
        let own = endpoint.map(|e| &e.spec.settings);
        let order = [Some(self.request), own, self.profile, Some(self.account)];
        fn first<T>(
            order: &[Option<&WebhookSettings>; 4],
            field: impl Fn(&WebhookSettings) -> Option<T>,
        ) -> Option<T> {
            order.iter().flatten().find_map(|s| field(s))
        }
        Target {
            primary: urls.0,
            failover: urls.1,
            level,
            endpoint_id: endpoint.map(|e| e.id.clone()),
            headers: endpoint.map_or_else(Vec::new, |e| e.spec.headers.0.clone()),
            format: first(&order, |s| s.format).unwrap_or_default(),
            form_fields: first(&order, |s| s.form_fields).unwrap_or_default(),
            signatures: first(&order, |s| s.signatures.clone())
                .unwrap_or_else(SignatureScheme::defaults),
            inflight: first(&order, |s| s.inflight).unwrap_or(false),
            version: first(&order, |s| s.version.clone()),
            retry_schedule: first(&order, |s| s.retry_schedule.clone()).unwrap_or_default(),
            timeout: first(&order, |s| s.timeout).unwrap_or(HumanDuration(DEFAULT_TIMEOUT)),
            success: first(&order, |s| s.success).unwrap_or_default(),
            gated: endpoint.is_some_and(Endpoint::gated),
        }
    }
}

fn is_envelope(f: &FormFields) -> bool {
    *f == FormFields::Envelope
}

fn is_any_2xx(s: &Success) -> bool {
    *s == Success::Any2xx
}

/// How long a claim on an event of this target lasts: long enough for one whole
/// attempt (primary and failover, each up to the timeout), plus `margin` before
/// another node may take it over.
pub fn lease_for(target: &Target, margin: Duration) -> Duration {
    target.timeout.0 * 2 + margin
}

/// Resolves the target of the level's `webhook_url` settings, or `None` when no
/// level has one (the request's URLs, then the profile's, then the account's).
pub fn resolve_target(levels: &Levels<'_>) -> Option<Target> {
    let (level, urls) = levels.url_levels().find(|(_, s)| s.webhook_url.is_some())?;
    let pair = (urls.webhook_url.clone()?, urls.webhook_failover_url.clone());
    Some(levels.target(level, pair, None))
}

/// The target of one endpoint alone (a test event, a replay): its URLs, its
/// level (the profile's when bound to one), settings picked as at publish
/// from the endpoint's own, its profile's (if given) and the account's.
pub fn endpoint_target(
    endpoint: &Endpoint,
    profile: Option<&WebhookSettings>,
    account: &WebhookSettings,
) -> Target {
    let level = match endpoint.spec.profile_id {
        Some(_) => Level::Profile,
        None => Level::Account,
    };
    let levels = Levels {
        request: &WebhookSettings::default(),
        profile,
        account,
    };
    let pair = (
        endpoint.spec.url.clone(),
        endpoint.spec.failover_url.clone(),
    );
    levels.target(level, pair, Some(endpoint))
}

/// Resolves every destination of an event of `event_type`: the first level
/// with any (the request's URLs: exactly one, no fan-out; the profile's
/// `webhook_url` plus its endpoints; the account's `webhook_url` plus its
/// unbound endpoints), then, within it, the settings destination and every
/// enabled endpoint subscribed to the type. An inflight event only goes to
/// targets that take inflight events.
pub fn resolve_destinations(
    levels: &Levels<'_>,
    endpoints: &LevelEndpoints<'_>,
    event_type: &str,
    category: Category,
) -> Destinations {
    let candidates = [
        (Level::Request, Some(levels.request), &[][..]),
        (Level::Profile, levels.profile, endpoints.profile),
        (Level::Account, Some(levels.account), endpoints.account),
    ];
    let chosen = candidates.into_iter().find_map(|(level, settings, bound)| {
        let settings = settings?;
        (settings.webhook_url.is_some() || !bound.is_empty()).then_some((level, settings, bound))
    });
    let Some((level, settings, bound)) = chosen else {
        return Destinations {
            level: None,
            targets: Vec::new(),
        };
    };
    let own = settings.webhook_url.clone().map(|url| {
        let pair = (url, settings.webhook_failover_url.clone());
        levels.target(level, pair, None)
    });
    let subscribed = bound.iter().filter(|e| e.takes(event_type)).map(|e| {
        let pair = (e.spec.url.clone(), e.spec.failover_url.clone());
        levels.target(level, pair, Some(e))
    });
    let targets = own
        .into_iter()
        .chain(subscribed)
        .filter(|t| category != Category::Inflight || t.inflight)
        .collect();
    Destinations {
        level: Some(level),
        targets,
    }
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

    fn endpoint(id: &str, url: &str, types: &[&str], own: &str) -> Endpoint {
        use crate::domain::endpoint::{EndpointSpec, EndpointState};
        let spec: EndpointSpec = serde_json::from_value(serde_json::json!({
            "url": url, "event_types": types, "settings": serde_json::from_str::<serde_json::Value>(own).unwrap(),
        }))
        .unwrap();
        Endpoint {
            id: id.into(),
            account_id: "a".into(),
            spec,
            state: EndpointState::Enabled,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            control: Default::default(),
        }
    }

    fn ids(d: &Destinations) -> Vec<Option<&str>> {
        d.targets.iter().map(|t| t.endpoint_id.as_deref()).collect()
    }

    #[test]
    fn the_first_level_with_a_destination_fans_out_to_its_subscribed_endpoints() {
        let none = WebhookSettings::default();
        let account = settings(r#"{"webhook_url":"https://a.example/","timeout":"4s"}"#);
        let unbound = [
            endpoint("ep_fax", "https://fax.example/", &["fax.*"], "{}"),
            endpoint(
                "ep_failed",
                "https://pager.example/",
                &["fax.failed"],
                r#"{"timeout":"1s"}"#,
            ),
            endpoint("ep_all", "https://all.example/", &[], "{}"),
        ];
        let levels = Levels {
            request: &none,
            profile: None,
            account: &account,
        };
        let on = LevelEndpoints {
            profile: &[],
            account: &unbound,
        };
        let d = resolve_destinations(&levels, &on, "fax.delivered", Category::Postflight);
        assert_eq!(d.level, Some(Level::Account));
        assert_eq!(ids(&d), [None, Some("ep_fax"), Some("ep_all")]);
        let d = resolve_destinations(&levels, &on, "fax.failed", Category::Postflight);
        assert_eq!(
            ids(&d),
            [None, Some("ep_fax"), Some("ep_failed"), Some("ep_all")]
        );
        let pager = &d.targets[2];
        assert_eq!(
            pager.timeout.0,
            Duration::from_secs(1),
            "the endpoint's own setting wins"
        );
        assert_eq!(
            d.targets[1].timeout.0,
            Duration::from_secs(4),
            "then the account's"
        );
        assert_eq!(pager.primary.masked(), "https://pager.example/");
    }

    #[test]
    fn a_profile_with_endpoints_hides_the_account_and_a_request_url_hides_both() {
        let none = WebhookSettings::default();
        let account = settings(r#"{"webhook_url":"https://a.example/"}"#);
        let bound = [endpoint(
            "ep_p",
            "https://p.example/",
            &["fax.failed"],
            "{}",
        )];
        let unbound = [endpoint("ep_a", "https://ea.example/", &[], "{}")];
        let on = LevelEndpoints {
            profile: &bound,
            account: &unbound,
        };
        let levels = Levels {
            request: &none,
            profile: Some(&none),
            account: &account,
        };
        let d = resolve_destinations(&levels, &on, "fax.failed", Category::Postflight);
        assert_eq!(
            (d.level, ids(&d)),
            (Some(Level::Profile), vec![Some("ep_p")])
        );
        let d = resolve_destinations(&levels, &on, "fax.sent", Category::Postflight);
        assert_eq!(d.level, Some(Level::Profile));
        assert!(
            d.targets.is_empty(),
            "the profile had destinations, none took it: filtered"
        );
        let request = settings(r#"{"webhook_url":"https://r.example/"}"#);
        let levels = Levels {
            request: &request,
            profile: Some(&none),
            account: &account,
        };
        let d = resolve_destinations(&levels, &on, "fax.failed", Category::Postflight);
        assert_eq!((d.level, ids(&d)), (Some(Level::Request), vec![None]));
        let levels = Levels {
            request: &none,
            profile: None,
            account: &none,
        };
        let nowhere = resolve_destinations(
            &levels,
            &LevelEndpoints::default(),
            "x",
            Category::Postflight,
        );
        assert_eq!(nowhere.level, None);
    }

    #[test]
    fn inflight_events_reach_only_destinations_that_take_them() {
        let none = WebhookSettings::default();
        let account = settings(r#"{"webhook_url":"https://a.example/"}"#);
        let unbound = [endpoint(
            "ep_live",
            "https://live.example/",
            &[],
            r#"{"inflight":true}"#,
        )];
        let levels = Levels {
            request: &none,
            profile: None,
            account: &account,
        };
        let on = LevelEndpoints {
            profile: &[],
            account: &unbound,
        };
        let d = resolve_destinations(&levels, &on, "fax.page", Category::Inflight);
        assert_eq!(ids(&d), [Some("ep_live")]);
    }
}
