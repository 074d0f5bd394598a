//! Delivery control of one endpoint: its limits (`max_in_flight`,
//! `rate_limit`), the concurrency it adapts to (halved by a 429, 503 or
//! timeout, grown back by successes), a pause a receiver asked for with
//! `Retry-After`, its circuit breaker and when it disables itself.
//!
//! The state lives with the endpoint in the store, so every node sees the same;
//! the store reads it, asks the rules here and writes it back in the same
//! transaction as the admission or attempt it decides. Everything here is pure
//! and takes the time as an argument, so the rules are tested without a clock.

use super::endpoint::RateLimit;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a delivery waits for a free place under `max_in_flight` before it
/// looks again (a finishing delivery wakes the oldest waiting one sooner).
pub const IN_FLIGHT_RECHECK: Duration = Duration::from_secs(5);

/// The server-wide rules of delivery control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlPolicy {
    /// Failed attempts in a row that open the breaker.
    pub breaker_after: u32,
    /// Wait before the first probe of an open breaker; doubled after each
    /// failed probe.
    pub first_probe: Duration,
    /// Longest wait between probes.
    pub longest_probe: Duration,
    /// How long an endpoint may fail with no success before it is disabled,
    /// unless it sets its own `disable_after`.
    pub disable_after: Duration,
    /// The concurrency an endpoint without `max_in_flight` is halved from.
    pub ceiling: u32,
    /// The operator account that operational events are published into, if any.
    pub operator_account: Option<String>,
}

impl Default for ControlPolicy {
    /// The spec's defaults: 10 failures open the breaker, probes from 30 s to
    /// 10 min, disabled after 5 days without a success.
    fn default() -> Self {
        ControlPolicy {
            breaker_after: 10,
            first_probe: Duration::from_secs(30),
            longest_probe: Duration::from_secs(600),
            disable_after: Duration::from_secs(5 * 24 * 3600),
            ceiling: 64,
            operator_account: None,
        }
    }
}

/// The limits an endpoint's owner set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Most deliveries in flight at once, across every node.
    pub max_in_flight: Option<u32>,
    /// Most deliveries started per period, across every node.
    pub rate: Option<RateLimit>,
}

/// An open circuit breaker: deliveries wait while one probe at a time tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breaker {
    /// When it opened.
    pub opened_at: DateTime<Utc>,
    /// When the next probe may start.
    pub probe_at: DateTime<Utc>,
    /// The wait after the next failed probe is twice this.
    #[serde(with = "millis")]
    pub interval: Duration,
    /// A probe is under way until then (its lease).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probing_until: Option<DateTime<Utc>>,
}

/// The control state of one endpoint, as stored (JSON) and shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// Failed attempts since the last success.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failure_streak: u32,
    /// The first failure since the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    /// No delivery starts before this (a receiver's `Retry-After`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<DateTime<Utc>>,
    /// The concurrency allowed after a cut; `None`: no cut in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_in_flight: Option<u32>,
    /// The breaker, while open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker: Option<Breaker>,
    /// When the next delivery may start under the rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_next: Option<DateTime<Utc>>,
    /// How far ahead held deliveries have been given start times under the rate
    /// limit, so that they come due one after another rather than all at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_booked: Option<DateTime<Utc>>,
    /// The interval (ms) the rate clock runs at: a changed limit starts it anew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_interval_ms: Option<u64>,
    /// Why it was disabled, while it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<DisableReason>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Why a delivery waits without an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// The receiver asked for a pause (`Retry-After`).
    Paused,
    /// The breaker is open and a probe is under way or not yet due.
    Breaker,
    /// As many deliveries are in flight as the endpoint allows.
    InFlight,
    /// The rate limit is spent until then.
    Rate,
}

impl Hold {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Hold::Paused => "retry_after",
            Hold::Breaker => "breaker_open",
            Hold::InFlight => "max_in_flight",
            Hold::Rate => "rate_limit",
        }
    }
}

/// What delivery control says about one claimed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send it now (as the breaker's probe, if `probe`).
    Go {
        /// Whether it is the open breaker's probe.
        probe: bool,
    },
    /// Put it back, due at `until`, with its attempt count unchanged.
    Wait {
        /// When to look again.
        until: DateTime<Utc>,
        /// Why.
        hold: Hold,
    },
}

/// What an attempt told about its endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signal {
    /// A receiver took it.
    pub delivered: bool,
    /// A 429, 503 or timeout: the receiver is overloaded.
    pub overloaded: bool,
    /// A `410 Gone`: the receiver says the endpoint no longer exists.
    pub gone: bool,
    /// The pause a 429 or 503 asked for.
    pub retry_after: Option<Duration>,
    /// Whether the attempt was the open breaker's probe (only its outcome
    /// moves the breaker; another attempt under way when it opened does not).
    pub probe: bool,
}

/// Why an endpoint was disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisableReason {
    /// It answered `410 Gone`.
    Gone,
    /// No success for its `disable_after`.
    Failing,
    /// Its owner disabled it.
    Manual,
}

impl DisableReason {
    /// The name in operational events and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            DisableReason::Gone => "gone",
            DisableReason::Failing => "failing",
            DisableReason::Manual => "manual",
        }
    }
}

/// A change an attempt made to its endpoint that the store acts on beyond
/// writing the state back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The breaker opened: deliveries wait for the first probe.
    BreakerOpened(DateTime<Utc>),
    /// A probe succeeded: the deliveries the breaker held are due now.
    BreakerClosed,
    /// The endpoint is disabled: its pending deliveries are parked.
    Disabled(DisableReason),
}

/// A duration as a signed one (saturating), to add to a time.
pub fn span(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Control {
    /// The state of an endpoint just enabled: every reaction to its receiver
    /// forgotten, except when the next start under the rate limit may be (so
    /// enabling is no way round the limit). The bookings go: enabling makes
    /// every held delivery due, and they book afresh.
    pub fn enabled(&self) -> Control {
        Control {
            rate_next: self.rate_next,
            rate_interval_ms: self.rate_interval_ms,
            ..Control::default()
        }
    }

    /// Whether deliveries to the endpoint must be admitted one by one (see
    /// [`Control::admit`]); otherwise they go straight out.
    pub fn gated(&self, limits: &Limits) -> bool {
        limits.max_in_flight.is_some()
            || limits.rate.is_some()
            || self.allowed_in_flight.is_some()
            || self.paused_until.is_some()
            || self.breaker.is_some()
    }

    /// The most deliveries that may be in flight now, if any bound holds.
    pub fn in_flight_cap(&self, limits: &Limits) -> Option<u32> {
        match (limits.max_in_flight, self.allowed_in_flight) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Decides whether a claimed delivery goes now, with `in_flight` others
    /// admitted and not finished. A probe is under way for `lease` at most.
    /// A delivery that goes is counted against the rate; one that waits is given
    /// a time that does not collide with the others waiting for the rate.
    pub fn admit(
        &mut self,
        limits: &Limits,
        in_flight: u32,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Admission {
        if let Some(until) = self.paused_until {
            if until > now {
                return Admission::Wait {
                    until,
                    hold: Hold::Paused,
                };
            }
            self.paused_until = None;
        }
        let probe = match self.breaker {
            None => false,
            Some(b) => {
                let busy = b.probing_until.filter(|t| *t > now);
                if busy.is_some() || b.probe_at > now {
                    return Admission::Wait {
                        until: busy.unwrap_or(b.probe_at).max(b.probe_at),
                        hold: Hold::Breaker,
                    };
                }
                true
            }
        };
        if self
            .in_flight_cap(limits)
            .is_some_and(|cap| in_flight >= cap)
        {
            return Admission::Wait {
                until: now + span(IN_FLIGHT_RECHECK),
                hold: Hold::InFlight,
            };
        }
        if let Some(rate) = limits.rate {
            // A generic cell rate algorithm: one start per interval, each up to
            // half an interval early, so starts never drift apart.
            let every = rate.per / rate.count;
            if self.rate_interval_ms != Some(every.as_millis() as u64) {
                self.rate_interval_ms = Some(every.as_millis() as u64);
                (self.rate_next, self.rate_booked) = (None, None);
            }
            let interval = span(every);
            let next = self.rate_next.unwrap_or(now);
            if next - interval / 2 > now {
                let slot = self.rate_booked.unwrap_or(next).max(next);
                self.rate_booked = Some(slot + interval);
                return Admission::Wait {
                    until: slot,
                    hold: Hold::Rate,
                };
            }
            self.rate_next = Some(next.max(now) + interval);
        }
        if probe {
            if let Some(b) = &mut self.breaker {
                b.probing_until = Some(now + span(lease));
            }
        }
        Admission::Go { probe }
    }

    /// Takes in the outcome of one attempt. `disable_after` is the endpoint's
    /// own or the policy's.
    pub fn after_attempt(
        &mut self,
        signal: Signal,
        limits: &Limits,
        policy: &ControlPolicy,
        disable_after: Duration,
        now: DateTime<Utc>,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        if signal.delivered {
            self.failure_streak = 0;
            self.failing_since = None;
            let base = limits.max_in_flight.unwrap_or(policy.ceiling);
            self.allowed_in_flight = self.allowed_in_flight.map(|a| a + 1).filter(|a| *a < base);
            if self.breaker.take().is_some() {
                changes.push(Change::BreakerClosed);
            }
            return changes;
        }
        self.failure_streak = self.failure_streak.saturating_add(1);
        let since = *self.failing_since.get_or_insert(now);
        if signal.overloaded {
            let base = self
                .allowed_in_flight
                .or(limits.max_in_flight)
                .unwrap_or(policy.ceiling);
            self.allowed_in_flight = Some((base / 2).max(1));
            if let Some(wait) = signal.retry_after.filter(|d| !d.is_zero()) {
                let until = now + span(wait);
                // A pause needs no action of the store: every admission reads it.
                if self.paused_until.is_none_or(|t| t < until) {
                    self.paused_until = Some(until);
                }
            }
        }
        if signal.gone {
            changes.push(Change::Disabled(DisableReason::Gone));
        } else if now - since >= span(disable_after) {
            changes.push(Change::Disabled(DisableReason::Failing));
        }
        self.trip_breaker(signal.probe, policy, now, &mut changes);
        changes
    }

    /// Opens the breaker after a run of failures, or after a failed probe
    /// waits twice as long for the next one.
    fn trip_breaker(
        &mut self,
        probe: bool,
        policy: &ControlPolicy,
        now: DateTime<Utc>,
        changes: &mut Vec<Change>,
    ) {
        match &mut self.breaker {
            Some(b) if probe => {
                b.interval = (b.interval * 2).min(policy.longest_probe);
                b.probe_at = now + span(b.interval);
                b.probing_until = None;
            }
            Some(_) => {}
            None if self.failure_streak >= policy.breaker_after => {
                let probe_at = now + span(policy.first_probe);
                self.breaker = Some(Breaker {
                    opened_at: now,
                    probe_at,
                    interval: policy.first_probe,
                    probing_until: None,
                });
                changes.push(Change::BreakerOpened(probe_at));
            }
            None => {}
        }
    }
}

/// A [`Duration`] stored as whole milliseconds.
mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests;
