//! Jobs a caller starts and watches: long work (a replay of past events to an
//! endpoint, a retry of every event a filter selects) done in small, rate-limited batches by whichever node claims it,
//! with its progress kept in the job so that a restart resumes where it stopped.

use super::endpoint::EventTypePattern;
use super::event::EventStatus;
use super::event_log::Removed;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Batches remain.
    Running,
    /// Every batch is done.
    Succeeded,
    /// It stopped on an error (named in its progress).
    Failed,
    /// Stopped by hand.
    Cancelled,
}

impl JobState {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Reads a name written by [`JobState::as_str`].
    pub fn parse(name: &str) -> Option<JobState> {
        [
            JobState::Running,
            JobState::Succeeded,
            JobState::Failed,
            JobState::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// What a job does, with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobKind {
    /// Past events sent to one endpoint.
    Replay(ReplayParams),
    /// Every event a filter selects, sent again.
    Retry(RetryParams),
    /// Every event whose payload holds a subject's value, deleted.
    Erase(EraseParams),
}

impl JobKind {
    /// The stored and shown name of the kind.
    pub fn name(&self) -> &'static str {
        match self {
            JobKind::Replay(_) => "replay",
            JobKind::Retry(_) => "retry",
            JobKind::Erase(_) => "erase",
        }
    }

    /// Most events one batch looks at (one batch a second).
    pub fn rate(&self) -> u32 {
        match self {
            JobKind::Replay(p) => p.rate,
            JobKind::Retry(p) => p.rate,
            JobKind::Erase(p) => p.rate,
        }
    }
}

/// A bulk retry: the events a filter selects, published before `until`, each
/// retried as `POST /v1/events/{id}/retry` would (oldest first, so that
/// same-key events are sent again in publish order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RetryParams {
    /// Only events in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub status: Option<EventStatus>,
    /// Only this event type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub event_type: Option<String>,
    /// Only this profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub profile_id: Option<String>,
    /// Only events with a delivery to this endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub endpoint_id: Option<String>,
    /// Only events published at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub since: Option<DateTime<Utc>>,
    /// Only events published before this time (the job's start by default,
    /// so events published meanwhile are not retried).
    pub until: DateTime<Utc>,
    /// Most events retried per second.
    pub rate: u32,
}

/// An erasure: every event published before `until` whose payload (or one of
/// its versions) holds the value at `path` (see [`crate::domain::subject`]),
/// deleted with its deliveries and attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EraseParams {
    /// Where in the payload, e.g. `payload.to[].phone_number`.
    pub path: String,
    /// The value's JSON text, sealed under the master key: an erasure
    /// request must not itself become a readable copy of what it erases.
    pub sealed_value: String,
    /// Only events published before this time (the job's start).
    pub until: DateTime<Utc>,
    /// Most events looked at per second.
    pub rate: u32,
}

/// A replay: events published in `[since, until)` whose type matches, each
/// given a delivery to `endpoint_id` unless it has one there already.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplayParams {
    /// The endpoint.
    pub endpoint_id: String,
    /// Events published at or after this time.
    pub since: DateTime<Utc>,
    /// Events published before this time.
    pub until: DateTime<Utc>,
    /// Only these types; empty: those the endpoint subscribes to.
    pub event_types: Vec<EventTypePattern>,
    /// Most events looked at per second.
    pub rate: u32,
}

/// An event a replay may send: its id, type and profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayCandidate {
    /// Event id.
    pub id: String,
    /// Its type.
    pub event_type: String,
    /// Its profile, if any.
    pub profile_id: Option<String>,
}

/// How far a job got.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobProgress {
    /// Events looked at.
    pub scanned: u64,
    /// Events the job applies to (a replay: of the types and profile asked).
    pub matched: u64,
    /// Matched events done (a replay: given a delivery; a retry: pending again).
    pub done: u64,
    /// Matched events left as they were (a replay: a delivery there already;
    /// a retry: a state that cannot be retried).
    pub skipped: u64,
    /// What an erasure deleted so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub removed: Option<Removed>,
    /// The last event looked at: the next batch starts after it.
    #[schema(required = true)]
    pub cursor: Option<String>,
    /// Why it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<String>,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// `job_…`.
    pub id: String,
    /// Owner.
    pub account_id: String,
    /// What it does.
    pub kind: JobKind,
    /// Where it stands.
    pub state: JobState,
    /// How far it got.
    pub progress: JobProgress,
    /// When it was started.
    pub created_at: DateTime<Utc>,
    /// When it last moved.
    pub updated_at: DateTime<Utc>,
}

impl Job {
    /// A new job of `account_id`, running from `now`, nothing done yet.
    pub fn started(account_id: &str, kind: JobKind, now: DateTime<Utc>) -> Job {
        Job {
            id: format!("job_{}", uuid::Uuid::now_v7().simple()),
            account_id: account_id.to_string(),
            kind,
            state: JobState::Running,
            progress: JobProgress::default(),
            created_at: now,
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_kinds_read_back() {
        for s in ["running", "succeeded", "failed", "cancelled"] {
            assert_eq!(JobState::parse(s).unwrap().as_str(), s);
        }
        let kind = JobKind::Replay(ReplayParams {
            endpoint_id: "ep_1".into(),
            since: Utc::now(),
            until: Utc::now(),
            event_types: vec![EventTypePattern::parse("fax.*").unwrap()],
            rate: 10,
        });
        let text = serde_json::to_string(&kind).unwrap();
        assert!(text.contains(r#""kind":"replay""#) && text.contains("fax.*"));
        assert_eq!(serde_json::from_str::<JobKind>(&text).unwrap(), kind);
    }
}
