//! A delivery under way: an event claimed by one node under a lease, the
//! outcome of one attempt, and the state that outcome leaves the event in.

use super::attempt::LegRecord;
use super::event::{EventStatus, NewEvent};
use super::target::Target;
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

/// An event claimed for delivery by one node, under a lease.
#[derive(Debug, Clone)]
pub struct ClaimedEvent {
    /// Event id.
    pub id: String,
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
    /// Attempts already made; this delivery is attempt `attempts_made + 1`.
    pub attempts_made: u32,
    /// Retries left before the event fails.
    pub retries_left: u32,
}

/// The state an attempt leaves its event in.
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
    /// Attempt number (from 1).
    pub attempt: u32,
    /// Primary, then failover if it was tried.
    pub legs: Vec<LegRecord>,
    /// Where the event goes next.
    pub next: NextState,
}

impl NewEvent {
    /// A freshly published pending event as claimed for its first attempt: no
    /// attempt made, every retry of its schedule left. `None` when it is not
    /// pending (nothing to deliver).
    pub fn into_first_claim(self) -> Option<ClaimedEvent> {
        let target = self
            .target
            .filter(|_| self.status == EventStatus::Pending)?;
        Some(ClaimedEvent {
            id: self.id,
            account_id: self.account_id,
            event_type: self.event_type,
            payload: self.payload,
            payloads: self.payloads,
            occurred_at: self.occurred_at,
            attempts_made: 0,
            retries_left: target.retry_schedule.retries(),
            target,
        })
    }
}
