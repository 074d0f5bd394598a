//! "Latest state wins": events about one resource can arrive out of order (a
//! retried `fax.queued` after `fax.delivered`), so a receiver applies an event
//! only if it is newer than the last one it applied for that resource.

use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// The longest part of a rejected value quoted in a [`TimestampError`].
const QUOTED: usize = 64;

/// An `occurred_at` that is not an RFC 3339 date and time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not an RFC 3339 timestamp: {detail}")]
pub struct TimestampError {
    /// The value, cut to its first 64 characters.
    pub value: String,
    /// What the parser found wrong.
    pub detail: String,
}

/// "Latest state wins" for out-of-order events: per resource id, the greatest
/// `occurred_at` (RFC 3339) seen.
///
/// Timestamps compare as instants (`10:00:00+01:00` is before `09:30:00Z`),
/// to the nanosecond. Memory grows with the number of resources: one entry each.
#[derive(Debug, Default)]
pub struct LatestState {
    /// Per resource id, the greatest `occurred_at` seen so far.
    latest: HashMap<String, DateTime<Utc>>,
}

impl LatestState {
    /// Nothing seen yet.
    pub fn new() -> Self {
        LatestState::default()
    }

    /// `true` if `occurred_at` is later than every timestamp seen before for
    /// `resource_id` (or the first one): apply the event, it is now the latest.
    /// `false` for an older one or an equal one (a repeat, or a tie that the
    /// first arrival already won): ignore it. A malformed timestamp changes
    /// nothing.
    pub fn is_newer(
        &mut self,
        resource_id: &str,
        occurred_at: &str,
    ) -> Result<bool, TimestampError> {
        let at = DateTime::parse_from_rfc3339(occurred_at)
            .map_err(|e| TimestampError {
                value: occurred_at.chars().take(QUOTED).collect(),
                detail: e.to_string(),
            })?
            .with_timezone(&Utc);
        match self.latest.get_mut(resource_id) {
            Some(latest) if at <= *latest => Ok(false),
            Some(latest) => {
                *latest = at;
                Ok(true)
            }
            None => {
                self.latest.insert(resource_id.to_string(), at);
                Ok(true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_event_of_a_resource_is_newer() {
        let mut s = LatestState::new();
        assert_eq!(s.is_newer("fax_1", "2026-01-07T10:00:00Z"), Ok(true));
    }

    #[test]
    fn an_older_event_arriving_late_is_not_newer() {
        let mut s = LatestState::new();
        assert_eq!(s.is_newer("fax_1", "2026-01-07T10:01:43Z"), Ok(true));
        assert_eq!(s.is_newer("fax_1", "2026-01-07T10:00:05Z"), Ok(false));
        assert_eq!(s.is_newer("fax_1", "2026-01-07T10:02:00Z"), Ok(true));
        assert_eq!(s.is_newer("fax_1", "2026-01-07T10:01:43Z"), Ok(false));
    }

    #[test]
    fn an_equal_timestamp_is_not_newer() {
        let mut s = LatestState::new();
        assert_eq!(s.is_newer("r", "2026-01-07T10:00:00Z"), Ok(true));
        assert_eq!(s.is_newer("r", "2026-01-07T11:00:00+01:00"), Ok(false));
    }

    #[test]
    fn offsets_and_fractions_compare_as_instants() {
        let mut s = LatestState::new();
        assert_eq!(s.is_newer("r", "2026-01-07T10:00:00+01:00"), Ok(true));
        assert_eq!(s.is_newer("r", "2026-01-07T09:30:00Z"), Ok(true));
        assert_eq!(s.is_newer("r", "2026-01-07T09:30:00.000001Z"), Ok(true));
        assert_eq!(s.is_newer("r", "2026-01-07T09:30:00.0000005Z"), Ok(false));
    }

    #[test]
    fn each_resource_keeps_its_own_latest() {
        let mut s = LatestState::new();
        assert_eq!(s.is_newer("a", "2026-01-07T10:00:00Z"), Ok(true));
        assert_eq!(s.is_newer("b", "2026-01-07T09:00:00Z"), Ok(true));
        assert_eq!(s.is_newer("a", "2026-01-07T09:30:00Z"), Ok(false));
    }

    #[test]
    fn a_malformed_timestamp_is_an_error_and_changes_nothing() {
        let mut s = LatestState::new();
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-01-07 10:00",
            "1700000000",
        ] {
            let e = s.is_newer("r", bad).unwrap_err();
            assert_eq!(e.value, bad);
        }
        let huge = "9".repeat(100_000);
        assert_eq!(s.is_newer("r", &huge).unwrap_err().value.len(), QUOTED);
        assert_eq!(s.is_newer("r", "2026-01-07T10:00:00Z"), Ok(true));
    }
}
