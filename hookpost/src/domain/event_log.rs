//! What the event log holds and answers: an event with its state and attempts,
//! the filters of a listing, and what a publish, a manual retry or a new
//! resolution did.

use super::attachment::Attachment;
use super::attempt::LegRecord;
use super::delivery::{DeliveryRecord, NewDelivery};
use super::event::EventStatus;
use super::target::Target;
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

/// An event as stored, with its delivery state.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// UUIDv7.
    pub id: String,
    /// Profile named at publish.
    pub profile_id: Option<String>,
    /// e.g. `fax.delivered`.
    pub event_type: String,
    /// As published.
    pub payload: Box<RawValue>,
    /// Per-version payloads, as published.
    pub payloads: Option<Box<RawValue>>,
    /// As published.
    pub occurred_at: String,
    /// When accepted.
    pub created_at: DateTime<Utc>,
    /// Publisher's de-duplication key.
    pub idempotency_key: Option<String>,
    /// Same-key deliveries to one destination go in publish order.
    pub ordering_key: Option<String>,
    /// Where it stands: its deliveries summed up, or `no_target`/`filtered`.
    pub status: EventStatus,
    /// Descriptions of the files published with it.
    pub attachments: Vec<Attachment>,
    /// One per destination, in the order they were resolved.
    pub deliveries: Vec<DeliveryRecord>,
    /// The attempt log of every delivery (filled by `EventLog::event`, empty in
    /// lists).
    pub attempts: Vec<LegRecord>,
    /// What could not be decoded of the stored row, if anything.
    pub unreadable: Option<String>,
}

impl StoredEvent {
    /// Attempts made over all its deliveries.
    pub fn attempts_made(&self) -> u32 {
        self.deliveries.iter().map(|d| d.attempts_made).sum()
    }

    /// Whether a node is sending any of its deliveries right now.
    pub fn in_flight(&self) -> bool {
        self.deliveries.iter().any(|d| d.in_flight)
    }

    /// When its next attempt is due, if any delivery waits for one.
    pub fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.deliveries
            .iter()
            .filter_map(|d| d.next_attempt_at)
            .min()
    }

    /// The target of its level's `webhook_url` settings, if it has a delivery there.
    pub fn settings_target(&self) -> Option<&Target> {
        self.deliveries
            .iter()
            .filter_map(|d| d.target.as_ref())
            .find(|t| t.endpoint_id.is_none())
    }
}

/// Filters and page position for `EventLog::list_events`.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only events in this state.
    pub status: Option<EventStatus>,
    /// Only this event type.
    pub event_type: Option<String>,
    /// Only this profile.
    pub profile_id: Option<String>,
    /// Only events with a delivery to this endpoint.
    pub endpoint_id: Option<String>,
    /// Only events accepted at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// The previous page's last id: events strictly older than it (strictly
    /// newer when `oldest_first`).
    pub cursor: Option<String>,
    /// Oldest first (a bulk retry, so that same-key events keep their order)
    /// instead of newest first.
    pub oldest_first: bool,
    /// Page size.
    pub limit: u32,
}

/// What a publish did with one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// Stored as new.
    Created,
    /// An event with the same idempotency key exists inside the window.
    Duplicate {
        /// The first event's id.
        original_id: String,
    },
}

/// What a deletion took away: events with their deliveries and attempt legs.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
pub struct Removed {
    /// Events deleted.
    pub events: u64,
    /// Their deliveries.
    pub deliveries: u64,
    /// Their attempts (each leg of each attempt).
    pub attempts: u64,
}

impl std::ops::AddAssign for Removed {
    fn add_assign(&mut self, other: Removed) {
        self.events += other.events;
        self.deliveries += other.deliveries;
        self.attempts += other.attempts;
    }
}

/// What a manual retry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    /// The event is pending again (or still), due now.
    Scheduled,
    /// The event is pending and a node is sending it right now.
    InFlight,
    /// No such event in this account.
    NotFound,
    /// The event cannot be retried in its current state.
    NotRetryable(EventStatus),
}

/// A new resolution of an event's destinations, for `EventLog::retarget_event`.
#[derive(Debug, Clone)]
pub struct Retarget {
    /// The event.
    pub id: String,
    /// The state it must still be in.
    pub expected: EventStatus,
    /// Its new state: `pending`, `no_target` or `filtered`.
    pub status: EventStatus,
    /// Its deliveries, when pending.
    pub deliveries: Vec<NewDelivery>,
}

impl RetryOutcome {
    /// What a manual retry that changed nothing means, from the event's state
    /// (`None`: no such event). A retry changes a `failed` or `delivered` event
    /// (one more attempt) and a `pending` one no node holds (due now); a pending
    /// event a node holds is being sent already; any other state cannot be
    /// retried as it is (`no_target` and `filtered` are resolved again instead).
    pub fn unchanged(state: Option<(EventStatus, bool)>) -> RetryOutcome {
        match state {
            None => RetryOutcome::NotFound,
            Some((EventStatus::Pending, true)) => RetryOutcome::InFlight,
            Some((status, _)) => RetryOutcome::NotRetryable(status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_that_changed_nothing_says_why() {
        assert_eq!(RetryOutcome::unchanged(None), RetryOutcome::NotFound);
        assert_eq!(
            RetryOutcome::unchanged(Some((EventStatus::Pending, true))),
            RetryOutcome::InFlight
        );
        assert_eq!(
            RetryOutcome::unchanged(Some((EventStatus::NoTarget, false))),
            RetryOutcome::NotRetryable(EventStatus::NoTarget)
        );
    }
}
