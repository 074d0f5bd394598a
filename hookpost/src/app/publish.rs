//! Publishing: validate, resolve the destinations, store durably, and hand each
//! delivery to the local worker if it has a free slot.

use super::lookups::TypeRules;
use super::{App, AppError};
use crate::delivery::worker::Reservation;
use crate::domain::attachment::{self, Base64File, NewAttachment};
use crate::domain::delivery::NewDelivery;
pub use crate::domain::event::Shape;
use crate::domain::event::{EventStatus, NewEvent};
use crate::domain::settings::WebhookSettings;
use crate::domain::target::{resolve_destinations, Level, LevelEndpoints, Levels, Target};
use crate::domain::validate::{self, FieldError};
use crate::metrics::Metrics;
use crate::storage::{Account, Published};
use chrono::{SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

/// One event as a publisher sends it. Webhook settings (`webhook_url`, `format`,
/// `timeout`…) may sit beside the event fields; they override the profile's and
/// the account's for this event.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PublishRequest {
    /// e.g. `fax.delivered` (required: checked after unknown fields, so that a
    /// misspelt `eventType` is named rather than a missing `event_type`).
    #[serde(default)]
    #[schema(value_type = String, required = true, example = "fax.delivered", pattern = r"^[A-Za-z0-9._-]{1,128}$")]
    pub event_type: Option<String>,
    /// A JSON object, kept byte for byte (required, like `event_type`).
    #[serde(default)]
    #[schema(value_type = Object, required = true)]
    pub payload: Option<Box<RawValue>>,
    /// RFC 3339; defaults to now.
    #[serde(default)]
    #[schema(format = DateTime)]
    pub occurred_at: Option<String>,
    /// Profile whose settings apply.
    #[serde(default)]
    #[schema(pattern = r"^[^/\u0000-\u001f\u007f-\u009f]{1,128}$")]
    pub profile_id: Option<String>,
    /// De-duplication key.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Same-key deliveries to one destination go in publish order, one at a time.
    #[serde(default)]
    pub ordering_key: Option<String>,
    /// Payloads per version.
    #[serde(default)]
    #[schema(value_type = Option<std::collections::HashMap<String, Object>>)]
    pub payloads: Option<Box<RawValue>>,
    /// Files, their contents in base64.
    #[serde(default)]
    pub attachments: Option<Vec<Base64File>>,
    /// Files read from a multipart publish's file parts.
    #[serde(skip)]
    #[schema(ignore)]
    pub files: Vec<NewAttachment>,
    /// Every other field: read as webhook settings, which refuse unknown names.
    #[serde(flatten)]
    #[schema(ignore)]
    pub settings: serde_json::Map<String, serde_json::Value>,
}

/// What happened to one published event.
#[derive(Debug)]
pub enum Outcome {
    /// Stored.
    Accepted {
        /// The new event's id.
        id: String,
        /// `pending`, `no_target` or `filtered`.
        status: EventStatus,
        /// The level its destinations came from; `None` for `no_target`.
        level: Option<Level>,
        /// Where its deliveries go, in order.
        targets: Vec<Target>,
    },
    /// Same idempotency key inside the window: nothing new was stored; the
    /// answer is the first event's, as it stands now.
    Duplicate {
        /// The first event's id.
        id: String,
        /// Its status now.
        status: EventStatus,
        /// Where its deliveries go, in order.
        targets: Vec<Target>,
    },
}

/// Where an event goes and in which state it starts, as resolved from the
/// settings and endpoints of today.
pub struct Resolution {
    /// `pending`, `no_target` or `filtered`.
    pub status: EventStatus,
    /// One per destination that takes it, due at `now`.
    pub deliveries: Vec<NewDelivery>,
}

impl App {
    /// Publishes events atomically: all are stored, or none (a bad field anywhere
    /// refuses the whole batch, naming the item).
    pub async fn publish(
        &self,
        account: &Account,
        requests: Vec<PublishRequest>,
        shape: Shape,
    ) -> Result<Vec<Outcome>, AppError> {
        let mut events = Vec::with_capacity(requests.len());
        for (i, request) in requests.into_iter().enumerate() {
            let event = self.prepare(account, request).await;
            events.push(event.map_err(|e| match e {
                AppError::Field(f) if shape == Shape::Batch => {
                    AppError::Field(f.within(&format!("events[{i}]")))
                }
                other => other,
            })?);
        }
        self.store_events(events).await
    }

    /// Stores prepared events in one commit and hands their deliveries to the
    /// local worker.
    pub(super) async fn store_events(
        &self,
        mut events: Vec<NewEvent>,
    ) -> Result<Vec<Outcome>, AppError> {
        let mut slots: Vec<_> = events.iter_mut().map(|e| self.pre_claim(e)).collect();
        let stored = self
            .store
            .publish(events.clone(), self.config.idempotency_window)
            .await?;
        let mut outcomes = Vec::with_capacity(events.len());
        for ((event, published), slot) in events.into_iter().zip(stored).zip(slots.drain(..)) {
            outcomes.push(match published {
                Published::Duplicate { original_id } => {
                    Metrics::inc(&self.metrics.events_duplicate);
                    self.first_answer(&event.account_id, original_id).await?
                }
                Published::Created => {
                    Metrics::inc(&self.metrics.events_accepted);
                    let outcome = Outcome::Accepted {
                        id: event.id.clone(),
                        status: event.status,
                        level: event.deliveries.first().map(|d| d.target.level),
                        targets: event.deliveries.iter().map(|d| d.target.clone()).collect(),
                    };
                    self.hand_off(&event, slot);
                    outcome
                }
            });
        }
        Ok(outcomes)
    }

    /// The answer a duplicate gets: the first event's id, status and
    /// deliveries (the key's event may be gone, deleted by hand meanwhile:
    /// its id alone, then).
    async fn first_answer(&self, account_id: &str, id: String) -> Result<Outcome, AppError> {
        let first = self.store.event(account_id, &id).await?;
        let (status, targets) = match first {
            Some(e) => (
                e.status,
                e.deliveries.into_iter().filter_map(|d| d.target).collect(),
            ),
            None => (EventStatus::NoTarget, Vec::new()),
        };
        Ok(Outcome::Duplicate {
            id,
            status,
            targets,
        })
    }

    /// Claims an event's deliveries for this node before it is stored, as far as
    /// the local worker has free slots: they are then made without a trip to
    /// the queue.
    fn pre_claim(&self, event: &mut NewEvent) -> Vec<Reservation> {
        let Some(deliverer) = self.deliverer.as_ref() else {
            return Vec::new();
        };
        let mut reservations = Vec::new();
        // An ordered delivery may have to wait behind its lane: the store decides,
        // and the scheduler claims it when it is due. A delivery whose endpoint's
        // control must admit it is claimed by the scheduler too, which reads the
        // endpoint's state afresh.
        let free = |d: &&mut NewDelivery| d.lane.is_none() && !d.target.gated;
        for delivery in event.deliveries.iter_mut().filter(free) {
            let Some(reservation) = deliverer.reserve() else {
                break;
            };
            delivery.claimed_by = Some(reservation.node().to_string());
            delivery.due_at = event.created_at
                + chrono::Duration::from_std(delivery.lease).unwrap_or(chrono::Duration::MAX);
            reservations.push(reservation);
        }
        reservations
    }

    /// Gives a stored event's pre-claimed deliveries to the local worker, and
    /// wakes the scheduler for the others.
    fn hand_off(&self, event: &NewEvent, reservations: Vec<Reservation>) {
        let claimed = reservations.len();
        for (reservation, delivery) in reservations.into_iter().zip(event.first_claims()) {
            reservation.start(delivery);
        }
        if claimed < event.deliveries.len() {
            self.wake_worker();
        }
    }

    async fn prepare(
        &self,
        account: &Account,
        request: PublishRequest,
    ) -> Result<NewEvent, AppError> {
        // Unknown fields first: they are the likeliest cause of a missing one.
        let overrides = request_settings(request.settings)?;
        let attachments = files(request.attachments, request.files, &self.config)?;
        let event_type = required(request.event_type, "event_type")?;
        let payload = required(request.payload, "payload")?;
        validate::event_type(&event_type)?;
        validate::json_object("payload", &payload)?;
        if let Some(p) = &request.payloads {
            validate::versioned_payloads(p)?;
        }
        if let Some(key) = &request.idempotency_key {
            validate::idempotency_key(key)?;
        }
        if let Some(key) = &request.ordering_key {
            validate::ordering_key(key)?;
        }
        if let Some(at) = &request.occurred_at {
            validate::timestamp("occurred_at", at)?;
        }
        let rules = self.type_rules(account, &event_type).await?;
        rules.check(&payload, request.payloads.as_deref())?;
        self.check_settings(&overrides)?;
        let profile = match &request.profile_id {
            Some(id) => Some(self.profile_settings(account, id).await?),
            None => None,
        };
        let created_at = Utc::now();
        let scope = request.profile_id.as_deref().zip(profile.as_ref());
        let resolved = self
            .resolve(account, &overrides, scope, &event_type, &rules, created_at)
            .await?;
        let key = request.ordering_key.as_deref();
        let deliveries = resolved
            .deliveries
            .into_iter()
            .map(|d| d.ordered(&account.id, key))
            .collect();
        Ok(NewEvent {
            id: uuid::Uuid::now_v7().to_string(),
            account_id: account.id.clone(),
            profile_id: request.profile_id,
            event_type,
            payload,
            payloads: request.payloads,
            occurred_at: request
                .occurred_at
                .unwrap_or_else(|| created_at.to_rfc3339_opts(SecondsFormat::Micros, true)),
            created_at,
            idempotency_key: request.idempotency_key,
            ordering_key: request.ordering_key,
            status: resolved.status,
            deliveries,
            attachments,
        })
    }

    /// Resolves an event's destinations from the request's, the profile's and
    /// the account's settings and endpoints, and the state it starts in.
    pub async fn resolve(
        &self,
        account: &Account,
        request: &WebhookSettings,
        profile: Option<(&str, &WebhookSettings)>,
        event_type: &str,
        rules: &TypeRules,
        now: chrono::DateTime<Utc>,
    ) -> Result<Resolution, AppError> {
        let bound = match profile {
            Some((id, _)) => self.level_endpoints(account, Some(id)).await?,
            None => Default::default(),
        };
        let unbound = self.level_endpoints(account, None).await?;
        let destinations = resolve_destinations(
            &Levels {
                request,
                profile: profile.map(|(_, settings)| settings),
                account: &account.settings,
            },
            &LevelEndpoints {
                profile: &bound,
                account: &unbound,
            },
            event_type,
            rules.category,
        );
        let status = match (&destinations.level, destinations.targets.is_empty()) {
            (None, _) => EventStatus::NoTarget,
            (Some(_), true) => EventStatus::Filtered,
            (Some(_), false) => EventStatus::Pending,
        };
        let deliveries = destinations
            .targets
            .into_iter()
            .map(|target| NewDelivery::new(target, self.config.lease_margin, now))
            .collect();
        Ok(Resolution { status, deliveries })
    }
}

/// The files of a publish: those in base64 first, then the file parts,
/// within the limits of one event.
fn files(
    base64: Option<Vec<Base64File>>,
    parts: Vec<NewAttachment>,
    config: &crate::config::ServeConfig,
) -> Result<Vec<NewAttachment>, FieldError> {
    let mut files = Vec::with_capacity(parts.len());
    for (i, file) in base64.into_iter().flatten().enumerate() {
        files.push(file.decode(&format!("attachments[{i}]"))?);
    }
    files.extend(parts);
    attachment::check_sizes(&files, config.max_attachment_bytes)?;
    Ok(files)
}

/// A required field of a publish request.
fn required<T>(value: Option<T>, field: &str) -> Result<T, FieldError> {
    value.ok_or_else(|| FieldError::new(field, "is required"))
}

/// Reads the settings fields of a publish request, naming the field at fault.
fn request_settings(
    fields: serde_json::Map<String, serde_json::Value>,
) -> Result<WebhookSettings, FieldError> {
    if fields.is_empty() {
        return Ok(WebhookSettings::default());
    }
    crate::domain::fields::from_value(serde_json::Value::Object(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_fields_keep_their_raw_payload_and_settings_are_set_apart() {
        let r: PublishRequest = serde_json::from_str(
            r#"{"event_type":"fax.delivered","payload":{"a": 1.50},"webhook_url":"https://x.example/","timeout":"2s"}"#,
        )
        .unwrap();
        assert_eq!(r.payload.unwrap().get(), r#"{"a": 1.50}"#);
        let s = request_settings(r.settings).unwrap();
        assert_eq!(s.webhook_url.unwrap().masked(), "https://x.example/");
    }

    #[test]
    fn an_unknown_field_is_named() {
        let r: PublishRequest = serde_json::from_str(
            r#"{"event_type":"x","payload":{},"webhook_ur":"https://x.example/"}"#,
        )
        .unwrap();
        assert_eq!(
            request_settings(r.settings).unwrap_err().field,
            "webhook_ur"
        );
    }

    mod properties {
        use super::*;
        use crate::api::error::ApiError;
        use crate::api::parse::from_slice;
        use proptest::prelude::*;
        use serde_json::Value;

        const KEYS: &[&str] = &[
            "event_type",
            "payload",
            "occurred_at",
            "profile_id",
            "idempotency_key",
            "ordering_key",
            "payloads",
            "webhook_url",
            "webhook_failover_url",
            "format",
            "signatures",
            "inflight",
            "version",
            "retry_schedule",
            "timeout",
            "x",
        ];

        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(Value::from),
                ".{0,40}".prop_map(Value::from),
                prop_oneof![
                    Just("fax.delivered"),
                    Just("http://127.0.0.1/"),
                    Just("mailto:a@b.c"),
                    Just("5m"),
                    Just("json")
                ]
                .prop_map(Value::from),
            ];
            leaf.prop_recursive(6, 64, 8, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                    prop::collection::btree_map(
                        prop::sample::select(KEYS).prop_map(str::to_string),
                        inner,
                        0..8
                    )
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// Everything a publish checks without storage; it must answer, never panic.
        fn check(bytes: &[u8]) -> Result<(), ApiError> {
            let request: PublishRequest = from_slice(bytes)?;
            let settings = request_settings(request.settings)?;
            validate::event_type(&required(request.event_type, "event_type")?)?;
            validate::json_object("payload", &required(request.payload, "payload")?)?;
            if let Some(p) = &request.payloads {
                validate::versioned_payloads(p)?;
            }
            if let Some(at) = &request.occurred_at {
                validate::timestamp("occurred_at", at)?;
            }
            settings
                .validate()
                .map_err(|(field, message)| FieldError::new(field, message))?;
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1500))]

            #[test]
            fn arbitrary_bytes_get_an_answer(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
                let _ = check(&bytes);
            }

            #[test]
            fn arbitrary_json_is_accepted_or_refused_naming_a_field(value in json()) {
                match check(value.to_string().as_bytes()) {
                    Ok(()) | Err(ApiError::InvalidJson(_)) => {}
                    Err(ApiError::Field(f)) => prop_assert!(!f.field.is_empty() && !f.message.is_empty()),
                    Err(other) => prop_assert!(false, "unexpected refusal {other:?}"),
                }
            }

            #[test]
            fn any_field_of_a_valid_request_can_be_replaced(key in prop::sample::select(KEYS), value in json()) {
                let mut request = serde_json::json!({"event_type": "fax.delivered", "payload": {"a": 1}});
                request[key] = value;
                match check(request.to_string().as_bytes()) {
                    Ok(()) => {}
                    Err(ApiError::Field(f)) => prop_assert!(!f.field.is_empty()),
                    Err(other) => prop_assert!(false, "unexpected refusal {other:?}"),
                }
            }
        }
    }
}
