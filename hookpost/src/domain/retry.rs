//! The retry schedule: *when* the next attempt happens once an attempt has failed.
//! Deciding *whether* an attempt failed is [`crate::domain::attempt`]'s job; both
//! are pure so they are tested without a network or a clock.

use super::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Most retries a schedule may list.
pub const MAX_STEPS: usize = 50;
/// Longest single step.
pub const MAX_STEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// Delays before each retry, in order: step *i* is waited after the *i*-th failed
/// attempt. A schedule of *n* steps allows *n + 1* attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct RetrySchedule(pub Vec<HumanDuration>);

impl Default for RetrySchedule {
    /// 5m, 10m, 20m, 30m, then 6h twelve times: 16 retries, 17 attempts, as the
    /// fax-provider seed documents.
    fn default() -> Self {
        let minutes = [5, 10, 20, 30].map(|m| Duration::from_secs(m * 60));
        let hours = [Duration::from_secs(6 * 3600); 12];
        RetrySchedule(
            minutes
                .into_iter()
                .chain(hours)
                .map(HumanDuration)
                .collect(),
        )
    }
}

/// What happens to an event after an attempt in which every URL failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again after `delay`; `retries_left` is what remains after that retry.
    RetryIn {
        /// Wait before the next attempt.
        delay: Duration,
        /// Retries still allowed after the scheduled one.
        retries_left: u32,
    },
    /// The schedule is spent: the event is `failed`.
    GiveUp,
}

impl RetrySchedule {
    /// Number of retries the schedule allows.
    pub fn retries(&self) -> u32 {
        self.0.len() as u32
    }

    /// Its longest step (zero for an empty schedule): the most a receiver's
    /// `Retry-After` may make anything wait.
    pub fn longest(&self) -> Duration {
        self.0.iter().map(|d| d.0).max().unwrap_or(Duration::ZERO)
    }

    /// The longest an event may spend retrying under this schedule: every
    /// step with its most jitter. Retention must keep events at least this long.
    pub fn span(&self) -> Duration {
        let steps: Duration = self.0.iter().map(|d| d.0).sum();
        steps + steps.mul_f64(JITTER)
    }

    /// Checks the bounds that keep a schedule sane.
    pub fn validate(&self) -> Result<(), String> {
        const MIN_STEP: Duration = Duration::from_millis(1);
        if self.0.len() > MAX_STEPS {
            return Err(format!("has more than {MAX_STEPS} steps"));
        }
        if let Some(i) = self.0.iter().position(|d| d.0 < MIN_STEP) {
            return Err(format!(
                "step {i} is shorter than {}, the smallest unit",
                HumanDuration(MIN_STEP)
            ));
        }
        if self.0.iter().any(|d| d.0 > MAX_STEP) {
            return Err(format!(
                "has a step longer than {}",
                HumanDuration(MAX_STEP)
            ));
        }
        Ok(())
    }

    /// The next step after a failed attempt, given how many retries were left.
    /// Steps are consumed from the front, so `retries_left == retries()` means the
    /// first failure.
    ///
    /// A receiver's `Retry-After` (`hint`) may push the retry later than the step,
    /// but never past the schedule's longest step: a header asking for a month
    /// costs one step, not the rest of the schedule. `jitter` in `[0, 1)` adds up
    /// to [`JITTER`] of the delay, so a recovering receiver is not hit by every
    /// retry at once; it never makes a retry earlier than its step.
    pub fn after_failure(
        &self,
        retries_left: u32,
        hint: Option<Duration>,
        jitter: f64,
    ) -> AfterFailure {
        if retries_left == 0 {
            return AfterFailure::GiveUp;
        }
        let used = self.retries().saturating_sub(retries_left) as usize;
        let step = self
            .0
            .get(used)
            .or(self.0.last())
            .map_or(Duration::ZERO, |d| d.0);
        let delay = step.max(hint.unwrap_or(Duration::ZERO).min(self.longest()));
        let delay = delay + delay.mul_f64(JITTER * jitter.clamp(0.0, 1.0));
        AfterFailure::RetryIn {
            delay,
            retries_left: retries_left - 1,
        }
    }
}

/// The most jitter adds to a retry delay, as a fraction of it.
pub const JITTER: f64 = 0.1;

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(ms: &[u64]) -> RetrySchedule {
        RetrySchedule(
            ms.iter()
                .map(|m| HumanDuration(Duration::from_millis(*m)))
                .collect(),
        )
    }

    #[test]
    fn default_schedule_is_sixteen_retries() {
        let s = RetrySchedule::default();
        assert_eq!(s.retries(), 16);
        assert_eq!(s.0[0].0, Duration::from_secs(300));
        assert_eq!(s.0[3].0, Duration::from_secs(1800));
        assert_eq!(s.0[15].0, Duration::from_secs(6 * 3600));
    }

    #[test]
    fn steps_are_taken_in_order_then_the_event_gives_up() {
        let s = schedule(&[10, 20, 30]);
        let mut left = s.retries();
        let mut delays = vec![];
        while let AfterFailure::RetryIn {
            delay,
            retries_left,
        } = s.after_failure(left, None, 0.0)
        {
            delays.push(delay.as_millis());
            left = retries_left;
        }
        assert_eq!(delays, vec![10, 20, 30]);
    }

    #[test]
    fn an_empty_schedule_gives_up_at_once() {
        assert_eq!(
            schedule(&[]).after_failure(0, None, 0.0),
            AfterFailure::GiveUp
        );
    }

    fn first_delay(s: &RetrySchedule, hint: Option<u64>, jitter: f64) -> u128 {
        match s.after_failure(s.retries(), hint.map(Duration::from_millis), jitter) {
            AfterFailure::RetryIn { delay, .. } => delay.as_millis(),
            AfterFailure::GiveUp => panic!("gave up"),
        }
    }

    #[test]
    fn retry_after_pushes_the_retry_back_but_costs_at_most_the_longest_step() {
        let s = schedule(&[100, 1000]);
        assert_eq!(first_delay(&s, None, 0.0), 100);
        assert_eq!(
            first_delay(&s, Some(50), 0.0),
            100,
            "a shorter hint never brings a retry forward"
        );
        assert_eq!(first_delay(&s, Some(400), 0.0), 400);
        assert_eq!(
            first_delay(&s, Some(30 * 24 * 3600 * 1000), 0.0),
            1000,
            "a month is capped"
        );
    }

    #[test]
    fn jitter_only_ever_adds_up_to_a_tenth() {
        let s = schedule(&[1000]);
        assert_eq!(first_delay(&s, None, 0.0), 1000);
        assert_eq!(first_delay(&s, None, 0.5), 1050);
        assert_eq!(first_delay(&s, None, 0.999), 1099);
        assert_eq!(
            first_delay(&s, None, 7.0),
            1100,
            "out-of-range jitter is clamped"
        );
    }

    #[test]
    fn bounds_are_enforced() {
        assert!(schedule(&[1; MAX_STEPS + 1]).validate().is_err());
        assert!(RetrySchedule(vec![HumanDuration(MAX_STEP * 2)])
            .validate()
            .is_err());
        assert!(RetrySchedule::default().validate().is_ok());
    }
}
