//! What the event log holds and answers: an event with its state and attempts,
//! the filters of a listing, and what a publish, a manual retry or a new
//! resolution did.

use super::attempt::LegRecord;
use super::event::EventStatus;
use super::target::Target;
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use std::time::Duration;

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
    /// Resolved target.
    pub target: Option<Target>,
    /// Where it stands.
    pub status: EventStatus,
    /// Attempts made so far.
    pub attempts_made: u32,
    /// Whether a node holds it right now (an attempt is being made).
    pub in_flight: bool,
    /// When the next attempt is due, while pending and not in flight.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The attempt log (filled by `EventLog::event`, empty in lists).
    pub attempts: Vec<LegRecord>,
    /// What could not be decoded of the stored row, if anything.
    pub unreadable: Option<String>,
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
    /// Only events accepted at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Events strictly older than this id (the previous page's last id).
    pub before_id: Option<String>,
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

/// A new resolution of an event's target, for `EventLog::retarget_event`.
#[derive(Debug, Clone)]
pub struct Retarget {
    /// The event.
    pub id: String,
    /// The state it must still be in.
    pub expected: EventStatus,
    /// Its new state: `pending`, `no_target` or `filtered`.
    pub status: EventStatus,
    /// Where it goes now.
    pub target: Option<Target>,
    /// The claim length for one attempt of that target.
    pub lease: Duration,
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
