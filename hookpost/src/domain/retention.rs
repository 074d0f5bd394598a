//! Retention: how long finished events are kept. The server has one default
//! (`--retention`); an account may override it per kind of outcome, so a
//! platform can keep failures longer than successes. Pending events are never
//! expired, whatever their age: retention forgets history, never work.

use super::duration::HumanDuration;
use super::event::EventStatus;
use super::retry::RetrySchedule;
use super::validate::FieldError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The outcomes retention tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `delivered` events.
    Delivered,
    /// `failed` events.
    Failed,
    /// Events that were never sent: `no_target` and `filtered`.
    Other,
}

impl Outcome {
    /// Every outcome, in the order a purge visits them.
    pub const ALL: [Outcome; 3] = [Outcome::Delivered, Outcome::Failed, Outcome::Other];

    /// The event states of this outcome (pending is in none).
    pub fn statuses(self) -> &'static [EventStatus] {
        match self {
            Outcome::Delivered => &[EventStatus::Delivered],
            Outcome::Failed => &[EventStatus::Failed],
            Outcome::Other => &[EventStatus::NoTarget, EventStatus::Filtered],
        }
    }
}

/// An account's own retention times; an unset one is the server's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionOverride {
    /// How long `delivered` events are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<HumanDuration>,
    /// How long `failed` events are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<HumanDuration>,
    /// How long `no_target` and `filtered` events are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<HumanDuration>,
}

/// The retention times in effect for one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Retention {
    /// For `delivered` events.
    pub delivered: HumanDuration,
    /// For `failed` events.
    pub failed: HumanDuration,
    /// For `no_target` and `filtered` events.
    pub other: HumanDuration,
}

impl RetentionOverride {
    /// The times in effect over the server's `default`.
    pub fn over(&self, default: Duration) -> Retention {
        let pick = |own: Option<HumanDuration>| own.unwrap_or(HumanDuration(default));
        Retention {
            delivered: pick(self.delivered),
            failed: pick(self.failed),
            other: pick(self.other),
        }
    }

    /// Refuses a time shorter than `floor` (the longest retry schedule the
    /// account uses: a shorter retention would forget an event while it may
    /// still be retried), naming the field.
    pub fn check(&self, floor: Duration) -> Result<(), FieldError> {
        let fields = [
            ("delivered", self.delivered),
            ("failed", self.failed),
            ("other", self.other),
        ];
        for (field, value) in fields {
            if let Some(value) = value {
                check_floor(value.0, floor).map_err(|m| FieldError::new(field, m))?;
            }
        }
        Ok(())
    }
}

impl Retention {
    /// The time of one outcome.
    pub fn of(&self, outcome: Outcome) -> Duration {
        match outcome {
            Outcome::Delivered => self.delivered.0,
            Outcome::Failed => self.failed.0,
            Outcome::Other => self.other.0,
        }
    }

    /// The shortest of the three: how often a purge needs to look.
    pub fn shortest(&self) -> Duration {
        Outcome::ALL
            .map(|o| self.of(o))
            .into_iter()
            .min()
            .unwrap_or_default()
    }

    /// Events of `outcome` published before this time are past retention at `now`.
    pub fn cutoff(&self, outcome: Outcome, now: DateTime<Utc>) -> DateTime<Utc> {
        let kept = chrono::Duration::from_std(self.of(outcome)).unwrap_or(chrono::Duration::MAX);
        now.checked_sub_signed(kept)
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// Why a retention of `kept` cannot go with retries spanning up to `floor`.
pub fn check_floor(kept: Duration, floor: Duration) -> Result<(), String> {
    if kept.is_zero() {
        return Err("must be longer than zero".into());
    }
    if kept < floor {
        return Err(format!(
            "{} is shorter than the longest retry schedule in use ({}): an event could be forgotten while it may still be retried; keep events at least that long, or shorten the schedule",
            HumanDuration(kept),
            HumanDuration(round_up_to_seconds(floor))
        ));
    }
    Ok(())
}

/// The longest time any of `schedules` may keep an event retrying (see
/// [`RetrySchedule::span`]).
pub fn floor(schedules: &[RetrySchedule]) -> Duration {
    schedules
        .iter()
        .map(RetrySchedule::span)
        .max()
        .unwrap_or_default()
}

fn round_up_to_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> HumanDuration {
        HumanDuration(Duration::from_secs(n))
    }

    #[test]
    fn an_unset_time_is_the_servers_default() {
        let own = RetentionOverride {
            failed: Some(secs(90)),
            ..Default::default()
        };
        let r = own.over(Duration::from_secs(30));
        assert_eq!(r.of(Outcome::Delivered), Duration::from_secs(30));
        assert_eq!(r.of(Outcome::Failed), Duration::from_secs(90));
        assert_eq!(r.of(Outcome::Other), Duration::from_secs(30));
        assert_eq!(r.shortest(), Duration::from_secs(30));
    }

    #[test]
    fn the_cutoff_is_now_minus_the_time_kept() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let r = RetentionOverride::default().over(Duration::from_secs(3600));
        assert_eq!(
            r.cutoff(Outcome::Failed, now).to_rfc3339(),
            "2026-12-02T11:00:00+00:00"
        );
        let forever = RetentionOverride::default().over(Duration::MAX);
        assert_eq!(
            forever.cutoff(Outcome::Failed, now),
            DateTime::<Utc>::MIN_UTC
        );
    }

    #[test]
    fn a_time_shorter_than_the_retries_is_refused_by_name() {
        let schedule = RetrySchedule(vec![secs(60), secs(60)]);
        let floor = floor(&[schedule]);
        assert!(floor >= Duration::from_secs(120));
        let own = RetentionOverride {
            failed: Some(secs(100)),
            ..Default::default()
        };
        let refused = own.check(floor).unwrap_err();
        assert_eq!(refused.field, "failed");
        assert!(
            refused.message.contains("retry schedule"),
            "{}",
            refused.message
        );
        let own = RetentionOverride {
            failed: Some(secs(3600)),
            ..Default::default()
        };
        assert!(own.check(floor).is_ok());
        assert!(check_floor(Duration::ZERO, Duration::ZERO).is_err());
    }

    #[test]
    fn every_outcome_but_pending_expires() {
        let covered: Vec<EventStatus> = Outcome::ALL
            .iter()
            .flat_map(|o| o.statuses().iter().copied())
            .collect();
        assert_eq!(covered.len(), 4);
        assert!(!covered.contains(&EventStatus::Pending));
    }
}
