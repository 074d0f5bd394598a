//! Endpoint services: create, change, enable/disable and delete endpoints (each
//! change checked like account settings, stored, then this node's cached
//! endpoint lists dropped), send a test event to one endpoint, and start a
//! replay of past events to one.

use super::publish::Outcome;
use super::{App, AppError};
use crate::domain::delivery::NewDelivery;
use crate::domain::duration::HumanDuration;
use crate::domain::endpoint::{
    CustomHeaders, Endpoint, EndpointSpec, EndpointState, EventTypePattern, RateLimit,
};
use crate::domain::event::{EventStatus, NewEvent};
use crate::domain::job::{Job, JobKind, ReplayParams};
use crate::domain::settings::WebhookSettings;
use crate::domain::target::endpoint_target;
use crate::domain::validate::{self, FieldError};
use crate::domain::webhook_url::WebhookUrl;
use crate::storage::Account;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// Event type of a test event when the caller names none.
pub const TEST_EVENT_TYPE: &str = "hookpost.test";
/// Events a job (replay, bulk retry) looks at per second when the caller does
/// not say.
pub const DEFAULT_JOB_RATE: u32 = 100;
/// Most events a job looks at per second.
pub const MAX_JOB_RATE: u32 = 10_000;

/// The fields of a create (`POST`, `url` required) or a change (`PATCH`: the
/// fields given replace the stored ones; `null` clears an optional one).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointFields {
    /// Where deliveries go (required to create one).
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = WebhookUrl)]
    url: Option<WebhookUrl>,
    /// Tried at once, under the same attempt number, when `url` fails.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<WebhookUrl>)]
    failover_url: Option<Option<WebhookUrl>>,
    /// The profile whose events it takes; absent or `null`: the account's.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = r"^[^/\u0000-\u001f\u007f-\u009f]{1,128}$")]
    profile_id: Option<Option<String>>,
    /// What it subscribes to; empty: every type.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Vec<EventTypePattern>)]
    event_types: Option<Vec<EventTypePattern>>,
    /// For people.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
    /// Sent with every delivery.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = CustomHeaders)]
    headers: Option<CustomHeaders>,
    /// Its own webhook settings (`format`, `signatures`…).
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = crate::domain::settings::Settings<String>)]
    settings: Option<WebhookSettings>,
    /// Most deliveries in flight at once.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    max_in_flight: Option<Option<u32>>,
    /// Most deliveries started per period.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<RateLimit>)]
    rate_limit: Option<Option<RateLimit>>,
    /// How long it may fail with no success before it is disabled.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<HumanDuration>)]
    disable_after: Option<Option<HumanDuration>>,
}

/// A field that, when given, must not be `null`.
fn given<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)?
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("must not be null"))
}

/// A field that may be given as `null` (to clear it): `Some(None)`.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl EndpointFields {
    /// The spec these fields make over `base` (a create has none).
    fn apply(self, base: Option<EndpointSpec>) -> Result<EndpointSpec, FieldError> {
        let url = match (self.url, &base) {
            (Some(url), _) => url,
            (None, Some(base)) => base.url.clone(),
            (None, None) => return Err(FieldError::new("url", "is required")),
        };
        let base = base.unwrap_or(EndpointSpec {
            url: url.clone(),
            failover_url: None,
            profile_id: None,
            event_types: Vec::new(),
            description: None,
            headers: CustomHeaders::default(),
            settings: WebhookSettings::default(),
            max_in_flight: None,
            rate_limit: None,
            disable_after: None,
        });
        let spec = EndpointSpec {
            url,
            failover_url: self.failover_url.unwrap_or(base.failover_url),
            profile_id: self.profile_id.unwrap_or(base.profile_id),
            event_types: self.event_types.unwrap_or(base.event_types),
            description: self.description.unwrap_or(base.description),
            headers: self.headers.unwrap_or(base.headers),
            settings: self.settings.unwrap_or(base.settings),
            max_in_flight: self.max_in_flight.unwrap_or(base.max_in_flight),
            rate_limit: self.rate_limit.unwrap_or(base.rate_limit),
            disable_after: self.disable_after.unwrap_or(base.disable_after),
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// A test event: its type, and a payload (else the type's example).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// The test event's type (default `hookpost.test`).
    #[serde(default)]
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,128}$")]
    event_type: Option<String>,
    /// Its payload (default: the type's registered `example`, else `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    payload: Option<Box<RawValue>>,
}

/// A replay: events published in `[since, until)`, of the given types (else
/// those the endpoint subscribes to), at most `rate` looked at per second.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Events published at or after this time (RFC 3339; required).
    #[serde(default)]
    #[schema(value_type = String, format = DateTime, required = true)]
    since: Option<String>,
    /// Events published before this time (default: now).
    #[serde(default)]
    #[schema(format = DateTime)]
    until: Option<String>,
    /// Only these types (default: those the endpoint subscribes to).
    #[serde(default)]
    event_types: Vec<EventTypePattern>,
    /// Most events looked at per second (default 100).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10000)]
    rate: Option<u32>,
}

impl App {
    /// Creates an endpoint, enabled.
    pub async fn create_endpoint(
        &self,
        account: &Account,
        fields: EndpointFields,
    ) -> Result<Endpoint, AppError> {
        let spec = fields.apply(None)?;
        self.check_endpoint(account, &spec).await?;
        let max = self.config.max_endpoints;
        if self.store.count_endpoints(&account.id).await? >= max {
            return Err(FieldError::new(
                "url",
                format!("this account has {max} endpoints, the most this server allows (--max-endpoints)"),
            )
            .into());
        }
        let now = Utc::now();
        let endpoint = Endpoint {
            id: format!("ep_{}", uuid::Uuid::now_v7().simple()),
            account_id: account.id.clone(),
            spec,
            state: EndpointState::Enabled,
            created_at: now,
            updated_at: now,
            control: Default::default(),
        };
        self.store.create_endpoint(&endpoint).await?;
        self.caches.forget_endpoints(&account.id);
        Ok(endpoint)
    }

    /// Changes the fields given; `None` if there is no such endpoint.
    pub async fn update_endpoint(
        &self,
        account: &Account,
        id: &str,
        fields: EndpointFields,
    ) -> Result<Option<Endpoint>, AppError> {
        let Some(mut endpoint) = self.store.endpoint(&account.id, id).await? else {
            return Ok(None);
        };
        endpoint.spec = fields.apply(Some(endpoint.spec))?;
        self.check_endpoint(account, &endpoint.spec).await?;
        endpoint.updated_at = Utc::now();
        let updated = self.store.update_endpoint(&endpoint).await?;
        self.caches.forget_endpoints(&account.id);
        Ok(updated.then_some(endpoint))
    }

    /// Enables or disables an endpoint; the endpoint after, `None` if there is none.
    pub async fn set_endpoint_state(
        &self,
        account: &Account,
        id: &str,
        state: EndpointState,
    ) -> Result<Option<Endpoint>, AppError> {
        if !self
            .store
            .set_endpoint_state(&account.id, id, state, &self.config.control_policy())
            .await?
        {
            return Ok(None);
        }
        self.caches.forget_endpoints(&account.id);
        Ok(self.store.endpoint(&account.id, id).await?)
    }

    /// Deletes an endpoint, stopping its pending deliveries; how many stopped,
    /// `None` if there was none.
    pub async fn delete_endpoint(
        &self,
        account: &Account,
        id: &str,
    ) -> Result<Option<u64>, AppError> {
        let stopped = self.store.delete_endpoint(&account.id, id).await?;
        self.caches.forget_endpoints(&account.id);
        Ok(stopped)
    }

    /// URLs reachable under the server's policy (and a relay for `mailto:`),
    /// settings valid, the profile known.
    async fn check_endpoint(&self, account: &Account, spec: &EndpointSpec) -> Result<(), AppError> {
        for (field, url) in spec.urls() {
            self.check_url(url)
                .map_err(|message| FieldError::new(field, message))?;
        }
        self.check_settings(&spec.settings)
            .map_err(|e| e.within("settings"))?;
        if let Some(profile) = &spec.profile_id {
            self.profile_settings(account, profile).await?;
        }
        Ok(())
    }

    /// The settings of the profile an endpoint is bound to, if it still exists.
    async fn endpoint_profile_settings(
        &self,
        account: &Account,
        endpoint: &Endpoint,
    ) -> Result<Option<WebhookSettings>, AppError> {
        Ok(match &endpoint.spec.profile_id {
            Some(id) => self.profile_settings(account, id).await.ok(),
            None => None,
        })
    }

    /// Publishes a test event whose only delivery goes to endpoint `id`
    /// (whatever its subscription and state); `None` if there is no such endpoint.
    pub async fn test_endpoint(
        &self,
        account: &Account,
        id: &str,
        request: TestRequest,
    ) -> Result<Option<Outcome>, AppError> {
        let Some(endpoint) = self.store.endpoint(&account.id, id).await? else {
            return Ok(None);
        };
        let event_type = request
            .event_type
            .unwrap_or_else(|| TEST_EVENT_TYPE.to_string());
        validate::event_type(&event_type)?;
        let rules = self.type_rules(account, &event_type).await?;
        let payload = match request.payload {
            Some(given) => given,
            None => self.example_payload(account, &event_type).await?,
        };
        validate::json_object("payload", &payload)?;
        rules.check(&payload, None)?;
        let profile = self.endpoint_profile_settings(account, &endpoint).await?;
        let target = endpoint_target(&endpoint, profile.as_ref(), &account.settings);
        let created_at = Utc::now();
        let event = NewEvent {
            id: uuid::Uuid::now_v7().to_string(),
            account_id: account.id.clone(),
            profile_id: endpoint.spec.profile_id.clone(),
            event_type,
            payload,
            payloads: None,
            occurred_at: created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            created_at,
            idempotency_key: None,
            ordering_key: None,
            status: EventStatus::Pending,
            attachments: Vec::new(),
            deliveries: vec![NewDelivery::new(
                target,
                self.config.lease_margin,
                created_at,
            )],
        };
        Ok(self.store_events(vec![event]).await?.pop())
    }

    /// The registered example of a type, or `{}`.
    async fn example_payload(
        &self,
        account: &Account,
        name: &str,
    ) -> Result<Box<RawValue>, AppError> {
        let example = self
            .store
            .event_type(&account.id, name)
            .await?
            .and_then(|t| t.example)
            .unwrap_or_else(|| serde_json::json!({}));
        Ok(RawValue::from_string(example.to_string()).expect("a JSON value prints as JSON"))
    }

    /// Starts a replay of past events to endpoint `id`; `None` if there is no
    /// such endpoint.
    pub async fn start_replay(
        &self,
        account: &Account,
        id: &str,
        request: ReplayRequest,
    ) -> Result<Option<Job>, AppError> {
        let now = Utc::now();
        let since = request
            .since
            .as_deref()
            .ok_or_else(|| FieldError::new("since", "is required"))
            .and_then(|t| time_field("since", t))?;
        let until = match request.until.as_deref() {
            Some(t) => time_field("until", t)?,
            None => now,
        };
        if since >= until {
            return Err(FieldError::new("until", "must be after since").into());
        }
        let rate = super::retry::job_rate(request.rate)?;
        if self.store.endpoint(&account.id, id).await?.is_none() {
            return Ok(None);
        }
        let job = Job::started(
            &account.id,
            JobKind::Replay(ReplayParams {
                endpoint_id: id.to_string(),
                since,
                until,
                event_types: request.event_types,
                rate,
            }),
            now,
        );
        self.store.create_job(&job).await?;
        Ok(Some(job))
    }
}

/// An RFC 3339 time field.
pub(super) fn time_field(field: &str, text: &str) -> Result<DateTime<Utc>, FieldError> {
    validate::timestamp(field, text)?;
    Ok(DateTime::parse_from_rfc3339(text)
        .map_err(|e| FieldError::new(field, e.to_string()))?
        .with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: &str) -> EndpointFields {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_create_needs_a_url_and_a_change_keeps_what_it_does_not_name() {
        assert_eq!(fields("{}").apply(None).unwrap_err().field, "url");
        let created = fields(r#"{"url":"https://a.example/","failover_url":"https://b.example/","description":"pager","event_types":["fax.*"]}"#)
            .apply(None)
            .unwrap();
        let changed = fields(r#"{"failover_url":null,"event_types":["fax.failed"]}"#)
            .apply(Some(created.clone()))
            .unwrap();
        assert_eq!(changed.url, created.url);
        assert_eq!(changed.failover_url, None, "null clears");
        assert_eq!(
            changed.description.as_deref(),
            Some("pager"),
            "absent keeps"
        );
        assert_eq!(changed.event_types[0].to_string(), "fax.failed");
    }

    #[test]
    fn a_null_where_a_value_is_needed_is_refused() {
        assert!(serde_json::from_str::<EndpointFields>(r#"{"url":null}"#).is_err());
        assert!(serde_json::from_str::<EndpointFields>(r#"{"event_types":null}"#).is_err());
        assert!(serde_json::from_str::<EndpointFields>(r#"{"colour":"red"}"#).is_err());
    }
}
