//! Deliveries: one event on its way to one destination. A delivery has its own
//! status, attempt count, schedule and lease, so one slow or failing destination
//! never holds back another of the same event. Here: a delivery about to be
//! stored, one claimed by a node, the outcome of one attempt, the state that
//! outcome leaves it in, and how an event's status sums up its deliveries.

use super::attachment::Attachment;
use super::attempt::{FailureKind, LegRecord};
use super::control::Signal;
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
    /// The event's files (their bytes are read chunk by chunk when sent).
    pub attachments: Vec<Attachment>,
    /// Where it goes.
    pub target: Target,
    /// Attempts already made; this one is attempt `attempts_made + 1`.
    pub attempts_made: u32,
    /// Retries left before the delivery fails.
    pub retries_left: u32,
    /// Its ordering lane, if any: the next delivery of the lane waits for this one.
    pub lane: Option<String>,
    /// Whether its endpoint's delivery control must admit it before it is sent
    /// ([`super::control::Control::gated`]).
    pub gated: bool,
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
    /// The event's owner.
    pub account_id: String,
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
    /// What the attempt told about the endpoint.
    pub signal: Signal,
    /// Whether delivery control admitted it (it holds a place to give back).
    pub admitted: bool,
}

impl Signal {
    /// What an attempt's legs say about the receiver; `retry_after` is the
    /// longest `Retry-After` among them, which counts only beside a 429 or 503.
    /// Whether it was a probe is the worker's to say.
    pub fn of(legs: &[LegRecord], retry_after: Option<Duration>) -> Signal {
        let statuses = || legs.iter().filter_map(|l| l.http_status);
        let asked_to_wait = statuses().any(|s| s == 429 || s == 503);
        let timed_out = legs.iter().any(|l| l.error == Some(FailureKind::Timeout));
        Signal {
            delivered: legs.last().is_some_and(LegRecord::succeeded),
            overloaded: asked_to_wait || timed_out,
            gone: statuses().any(|s| s == 410),
            retry_after: retry_after.filter(|_| asked_to_wait),
            probe: false,
        }
    }
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

/// Where one delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or in one).
    Pending,
    /// Parked while its endpoint is disabled; pending again when it is enabled.
    Paused,
    /// A receiver took it.
    Delivered,
    /// Given up ([`reason`] says why).
    Failed,
}

impl DeliveryStatus {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Paused => "paused",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Reads a name written by [`DeliveryStatus::as_str`].
    pub fn parse(name: &str) -> Option<DeliveryStatus> {
        [Self::Pending, Self::Paused, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// A delivery as stored, for reading.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    /// Its number within the event (from 0).
    pub seq: u32,
    /// Where it goes (`None` if the stored target does not decode).
    pub target: Option<Target>,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Why it failed, when it did ([`reason`]).
    pub reason: Option<String>,
    /// Attempts made so far.
    pub attempts_made: u32,
    /// Whether a node holds it right now (an attempt is being made).
    pub in_flight: bool,
    /// When the next attempt is due, while pending and not in flight.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why it waits without an attempt, if delivery control holds it
    /// ([`super::control::Hold::as_str`]).
    pub held: Option<String>,
}

impl DeliveryRecord {
    /// The endpoint it goes to; `None` for the level's settings URL.
    pub fn endpoint_id(&self) -> Option<&str> {
        self.target.as_ref()?.endpoint_id.as_deref()
    }
}

/// An event's status from its deliveries' (the spec's rule): `pending` while any
/// is (a paused delivery will go on), then `failed` if any failed, else
/// `delivered`. `None` without deliveries (the event keeps `no_target` or
/// `filtered`).
pub fn summary(statuses: impl IntoIterator<Item = DeliveryStatus>) -> Option<EventStatus> {
    let mut result = None;
    for status in statuses {
        let status = match status {
            DeliveryStatus::Pending | DeliveryStatus::Paused => EventStatus::Pending,
            DeliveryStatus::Delivered => EventStatus::Delivered,
            DeliveryStatus::Failed => EventStatus::Failed,
        };
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
                attachments: self.attachments.iter().map(|f| f.meta.clone()).collect(),
                attempts_made: 0,
                retries_left: d.target.retry_schedule.retries(),
                target: d.target.clone(),
                lane: d.lane.clone(),
                gated: false,
            })
    }
}

/// The pending deliveries across every account, for `/metrics`: how many may
/// be claimed now, how many have a later due time, how many wait behind their
/// ordering lane's head (no due time until it finishes), and how long the
/// oldest due one has waited. A delivery being attempted counts as scheduled
/// (its due time is its lease's end); a parked one (endpoint disabled) is not
/// pending and not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Due now: claimable.
    pub due: u64,
    /// Due later: a retry, a held or a claimed delivery.
    pub scheduled: u64,
    /// Behind the head of its ordering lane.
    pub waiting: u64,
    /// How long the oldest due delivery has been due; zero when none is.
    pub oldest_due_age: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeliveryStatus::*;

    #[test]
    fn an_event_is_pending_while_any_delivery_is_then_failed_if_any_failed() {
        let pending = Some(EventStatus::Pending);
        assert_eq!(summary([Delivered, Pending, Failed]), pending);
        assert_eq!(summary([Delivered, Paused, Failed]), pending);
        assert_eq!(
            summary([Delivered, Failed, Delivered]),
            Some(EventStatus::Failed)
        );
        assert_eq!(
            summary([Delivered, Delivered]),
            Some(EventStatus::Delivered)
        );
        assert_eq!(summary([Failed]), Some(EventStatus::Failed));
        assert_eq!(summary([]), None);
    }
}
