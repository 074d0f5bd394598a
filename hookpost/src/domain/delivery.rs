//! Deliveries: one event on its way to one destination. A delivery has its own
//! status, attempt count, schedule and lease, so one slow or failing destination
//! never holds back another of the same event. Here: a delivery about to be
//! stored, one claimed by a node, the outcome of one attempt, the state that
//! outcome leaves it in, and how an event's status sums up its deliveries.

use super::attempt::LegRecord;
use super::event::{EventStatus, NewEvent};
use super::target::Target;
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use std::time::Duration;

/// A delivery to store with a new event (or added to a stored one).
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// Where it goes.
    pub target: Target,
    /// How long a claim of one attempt lasts (see [`super::target::lease_for`]).
    pub lease: Duration,
    /// The node that will deliver it straight away, if one took it at publish.
    pub claimed_by: Option<String>,
    /// When it is due (its lease expiry when claimed at publish).
    pub due_at: DateTime<Utc>,
    /// Its ordering lane ([`lane`]), when its event has an ordering key.
    pub lane: Option<String>,
}

/// The ordering lane of a delivery: deliveries of one account to one
/// destination (an endpoint, or a settings URL) with one ordering key. A lane
/// has at most one delivery under way; the others wait, in publish order.
pub fn lane(account_id: &str, target: &Target, key: &str) -> String {
    let destination = match &target.endpoint_id {
        Some(endpoint) => endpoint.clone(),
        None => target.primary.masked(),
    };
    format!("{account_id} {destination} {key}")
}

impl NewDelivery {
    /// A delivery to `target` due at `due_at`, unclaimed, with the lease of its
    /// target (`margin` beyond one whole attempt).
    pub fn new(target: Target, margin: Duration, due_at: DateTime<Utc>) -> NewDelivery {
        NewDelivery {
            lease: super::target::lease_for(&target, margin),
            target,
            claimed_by: None,
            due_at,
            lane: None,
        }
    }

    /// The same delivery in its event's ordering lane, if the event has a key.
    pub fn ordered(self, account_id: &str, key: Option<&str>) -> NewDelivery {
        NewDelivery {
            lane: key.map(|k| lane(account_id, &self.target, k)),
            ..self
        }
    }
}

/// A delivery claimed by one node, under a lease: the event and where it goes.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    /// Event id.
    pub id: String,
    /// The delivery's number within its event (from 0).
    pub seq: u32,
    /// Owner.
    pub account_id: String,
    /// e.g. `fax.delivered`.
    pub event_type: String,
    /// As published.
    pub payload: Box<RawValue>,
    /// Per-version payloads.
    pub payloads: Option<Box<RawValue>>,
    /// As published.
    pub occurred_at: String,
    /// Where it goes.
    pub target: Target,
    /// Attempts already made; this one is attempt `attempts_made + 1`.
    pub attempts_made: u32,
    /// Retries left before the delivery fails.
    pub retries_left: u32,
    /// Its ordering lane, if any: the next delivery of the lane waits for this one.
    pub lane: Option<String>,
}

/// The state an attempt leaves its delivery in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextState {
    /// A receiver took it.
    Delivered,
    /// Try again at this time, with this many retries left after that one.
    RetryAt(DateTime<Utc>, u32),
    /// The schedule is spent.
    Failed,
}

/// The outcome of one attempt, to be written in one transaction.
#[derive(Debug, Clone)]
pub struct AttemptReport {
    /// The event.
    pub event_id: String,
    /// The delivery within it.
    pub seq: u32,
    /// The endpoint it went to, if any (its health is updated).
    pub endpoint_id: Option<String>,
    /// Its ordering lane: a final outcome lets the lane's next delivery go.
    pub lane: Option<String>,
    /// Attempt number (from 1).
    pub attempt: u32,
    /// Primary, then failover if it was tried.
    pub legs: Vec<LegRecord>,
    /// Where the delivery goes next.
    pub next: NextState,
}

/// Why a delivery stopped without being delivered.
pub mod reason {
    /// Its retry schedule is spent.
    pub const ATTEMPTS_EXHAUSTED: &str = "attempts_exhausted";
    /// Its endpoint was deleted while it was pending.
    pub const ENDPOINT_DELETED: &str = "endpoint_deleted";
    /// Its stored row could not be decoded.
    pub const UNREADABLE: &str = "unreadable";
}

/// A delivery as stored, for reading.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    /// Its number within the event (from 0).
    pub seq: u32,
    /// Where it goes (`None` if the stored target does not decode).
    pub target: Option<Target>,
    /// `pending`, `delivered` or `failed`.
    pub status: EventStatus,
    /// Why it failed, when it did ([`reason`]).
    pub reason: Option<String>,
    /// Attempts made so far.
    pub attempts_made: u32,
    /// Whether a node holds it right now (an attempt is being made).
    pub in_flight: bool,
    /// When the next attempt is due, while pending and not in flight.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl DeliveryRecord {
    /// The endpoint it goes to; `None` for the level's settings URL.
    pub fn endpoint_id(&self) -> Option<&str> {
        self.target.as_ref()?.endpoint_id.as_deref()
    }
}

/// An event's status from its deliveries' (the spec's rule): `pending` while any
/// is, then `failed` if any failed, else `delivered`. `None` without deliveries
/// (the event keeps `no_target` or `filtered`).
pub fn summary(statuses: impl IntoIterator<Item = EventStatus>) -> Option<EventStatus> {
    let mut result = None;
    for status in statuses {
        result = Some(match (result, status) {
            (_, EventStatus::Pending) | (Some(EventStatus::Pending), _) => EventStatus::Pending,
            (_, EventStatus::Failed) | (Some(EventStatus::Failed), _) => EventStatus::Failed,
            _ => EventStatus::Delivered,
        });
    }
    result
}

impl NewEvent {
    /// The deliveries of a freshly published event that a node claimed at
    /// publish, as claimed for their first attempt: no attempt made, every
    /// retry of the schedule left.
    pub fn first_claims(&self) -> impl Iterator<Item = ClaimedDelivery> + '_ {
        self.deliveries
            .iter()
            .enumerate()
            .filter(|(_, d)| d.claimed_by.is_some() && self.status == EventStatus::Pending)
            .map(|(seq, d)| ClaimedDelivery {
                id: self.id.clone(),
                seq: seq as u32,
                account_id: self.account_id.clone(),
                event_type: self.event_type.clone(),
                payload: self.payload.clone(),
                payloads: self.payloads.clone(),
                occurred_at: self.occurred_at.clone(),
                attempts_made: 0,
                retries_left: d.target.retry_schedule.retries(),
                target: d.target.clone(),
                lane: d.lane.clone(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventStatus::*;

    #[test]
    fn an_event_is_pending_while_any_delivery_is_then_failed_if_any_failed() {
        assert_eq!(summary([Delivered, Pending, Failed]), Some(Pending));
        assert_eq!(summary([Delivered, Failed, Delivered]), Some(Failed));
        assert_eq!(summary([Delivered, Delivered]), Some(Delivered));
        assert_eq!(summary([Failed]), Some(Failed));
        assert_eq!(summary([]), None);
    }
}
