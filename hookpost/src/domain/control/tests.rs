//! The rules of delivery control at chosen instants (no clock runs).

use super::*;
use chrono::TimeZone;

fn t(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_800_000_000_000 + ms).unwrap()
}

fn policy() -> ControlPolicy {
    ControlPolicy {
        ceiling: 8,
        ..ControlPolicy::default()
    }
}

const LEASE: Duration = Duration::from_secs(40);

fn failed() -> Signal {
    Signal::default()
}

fn delivered() -> Signal {
    Signal {
        delivered: true,
        ..Signal::default()
    }
}

fn overloaded(retry_after: Option<u64>) -> Signal {
    Signal {
        overloaded: true,
        retry_after: retry_after.map(Duration::from_secs),
        ..Signal::default()
    }
}

fn rate(text: &str) -> Limits {
    Limits {
        rate: Some(RateLimit::parse(text).unwrap()),
        ..Limits::default()
    }
}

fn goes(a: Admission) -> bool {
    matches!(a, Admission::Go { .. })
}

#[test]
fn only_limits_or_a_reaction_to_the_receiver_gate_an_endpoint() {
    let mut c = Control::default();
    assert!(!c.gated(&Limits::default()));
    assert!(c.gated(&rate("5/s")));
    c.after_attempt(overloaded(None), &Limits::default(), &policy(), LEASE, t(0));
    assert!(c.gated(&Limits::default()), "a cut concurrency gates");
}

#[test]
fn max_in_flight_admits_up_to_the_cap_then_holds_without_an_attempt() {
    let limits = Limits {
        max_in_flight: Some(2),
        ..Limits::default()
    };
    let mut c = Control::default();
    assert!(goes(c.admit(&limits, 0, t(0), LEASE)));
    assert!(goes(c.admit(&limits, 1, t(0), LEASE)));
    assert_eq!(
        c.admit(&limits, 2, t(0), LEASE),
        Admission::Wait {
            until: t(0) + span(IN_FLIGHT_RECHECK),
            hold: Hold::InFlight
        }
    );
}

/// Starts per window of `window` ms, at most, over the times given.
fn busiest_window(starts: &[i64], window: i64) -> usize {
    starts
        .iter()
        .map(|a| {
            starts
                .iter()
                .filter(|b| **b >= *a && **b <= *a + window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn a_rate_limit_books_each_held_delivery_its_own_start_and_never_exceeds_the_limit_plus_one() {
    let limits = rate("5/s");
    let mut c = Control::default();
    // 20 deliveries claimed at once; each held one comes back when it was told.
    let mut due: Vec<i64> = vec![0; 20];
    let mut starts = Vec::new();
    let mut rounds = 0;
    while !due.is_empty() {
        rounds += 1;
        assert!(rounds < 100, "deliveries keep being put back");
        due.sort_unstable();
        let now = due.remove(0);
        match c.admit(&limits, 0, t(now), LEASE) {
            Admission::Go { .. } => starts.push(now),
            Admission::Wait { until, hold } => {
                assert_eq!(hold, Hold::Rate);
                due.push((until - t(0)).num_milliseconds() + 3);
            }
        }
    }
    assert_eq!(starts.len(), 20);
    assert!(
        rounds <= 40,
        "each delivery is put back about once ({rounds} rounds)"
    );
    assert!(busiest_window(&starts, 1000) <= 6, "{starts:?}");
    assert!(
        *starts.last().unwrap() >= 3_600,
        "20 at 5/s take almost 4 s: {starts:?}"
    );
}

#[test]
fn overload_halves_the_allowed_concurrency_down_to_one_and_successes_grow_it_back() {
    let limits = Limits::default();
    let mut c = Control::default();
    for expected in [4, 2, 1, 1] {
        c.after_attempt(overloaded(None), &limits, &policy(), LEASE, t(0));
        assert_eq!(c.allowed_in_flight, Some(expected));
    }
    for _ in 0..6 {
        c.after_attempt(delivered(), &limits, &policy(), LEASE, t(1));
    }
    assert_eq!(c.allowed_in_flight, Some(7));
    c.after_attempt(delivered(), &limits, &policy(), LEASE, t(2));
    assert_eq!(c.allowed_in_flight, None, "back at the ceiling: no cut");
    assert!(!c.gated(&limits));
}

#[test]
fn retry_after_pauses_every_delivery_until_then() {
    let limits = Limits::default();
    let mut c = Control::default();
    let changes = c.after_attempt(overloaded(Some(2)), &limits, &policy(), LEASE, t(0));
    assert!(
        changes.is_empty(),
        "a pause asks nothing of the store: {changes:?}"
    );
    assert_eq!(c.paused_until, Some(t(2000)));
    assert_eq!(
        c.admit(&limits, 0, t(1999), LEASE),
        Admission::Wait {
            until: t(2000),
            hold: Hold::Paused
        }
    );
    assert!(goes(c.admit(&limits, 0, t(2000), LEASE)));
    assert_eq!(c.paused_until, None);
}

#[test]
fn a_run_of_failures_opens_the_breaker_and_probes_back_off_to_the_longest_wait() {
    let limits = Limits::default();
    let p = policy();
    let mut c = Control::default();
    for i in 0..9 {
        assert!(c
            .after_attempt(failed(), &limits, &p, LEASE, t(i))
            .is_empty());
    }
    let opened = c.after_attempt(failed(), &limits, &p, LEASE, t(9));
    assert_eq!(opened, [Change::BreakerOpened(t(30_009))]);
    let wait = c.admit(&limits, 0, t(10_000), LEASE);
    assert_eq!(
        wait,
        Admission::Wait {
            until: t(30_009),
            hold: Hold::Breaker
        }
    );
    let mut now = 30_009;
    let mut waits = Vec::new();
    for _ in 0..8 {
        assert_eq!(
            c.admit(&limits, 0, t(now), LEASE),
            Admission::Go { probe: true }
        );
        assert!(
            !goes(c.admit(&limits, 0, t(now + 1), LEASE)),
            "a second probe went while one was under way"
        );
        let before = c.breaker;
        c.after_attempt(failed(), &limits, &p, LEASE, t(now + 50));
        assert_eq!(
            c.breaker, before,
            "a failure that was not the probe moved the breaker"
        );
        let probe_failed = Signal {
            probe: true,
            ..failed()
        };
        c.after_attempt(probe_failed, &limits, &p, LEASE, t(now + 100));
        let next = c.breaker.unwrap().probe_at;
        waits.push((next - t(now + 100)).num_seconds());
        now = (next - t(0)).num_milliseconds();
    }
    assert_eq!(waits, [60, 120, 240, 480, 600, 600, 600, 600]);
    assert!(goes(c.admit(&limits, 0, t(now), LEASE)));
    let closed = c.after_attempt(delivered(), &limits, &p, LEASE, t(now + 50));
    assert_eq!(closed, [Change::BreakerClosed]);
    assert_eq!((c.breaker, c.failure_streak), (None, 0));
}

#[test]
fn gone_disables_at_once_and_failing_for_disable_after_disables_too() {
    let limits = Limits::default();
    let mut c = Control::default();
    let gone = Signal {
        gone: true,
        ..Signal::default()
    };
    let changes = c.after_attempt(gone, &limits, &policy(), LEASE, t(0));
    assert!(changes.contains(&Change::Disabled(DisableReason::Gone)));

    let day = Duration::from_secs(86_400);
    let mut c = Control::default();
    assert!(c
        .after_attempt(failed(), &limits, &policy(), day, t(0))
        .is_empty());
    c.after_attempt(delivered(), &limits, &policy(), day, t(1000));
    let later = 1000 + 86_400_000;
    assert!(
        c.after_attempt(failed(), &limits, &policy(), day, t(later))
            .is_empty(),
        "the success restarted the clock"
    );
    let changes = c.after_attempt(failed(), &limits, &policy(), day, t(later * 2));
    assert!(changes.contains(&Change::Disabled(DisableReason::Failing)));
}

#[test]
fn the_state_reads_back_from_its_stored_form() {
    let mut c = Control::default();
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        "{}",
        "the stored default"
    );
    for _ in 0..10 {
        c.after_attempt(
            overloaded(Some(5)),
            &Limits::default(),
            &policy(),
            LEASE,
            t(0),
        );
    }
    let text = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<Control>(&text).unwrap(), c);
}

#[test]
fn a_changed_rate_starts_its_clock_and_bookings_anew() {
    let mut c = Control::default();
    let slow = rate("1/s");
    for _ in 0..10 {
        c.admit(&slow, 0, t(0), LEASE);
    }
    assert!(
        c.rate_booked.unwrap() >= t(9_000),
        "ten at 1/s are booked 9 s ahead"
    );
    assert!(
        goes(c.admit(&rate("100/s"), 0, t(10), LEASE)),
        "the new limit is not behind the old bookings"
    );
    assert_eq!(c.rate_interval_ms, Some(10));
    let enabled = c.enabled();
    assert_eq!(
        (enabled.rate_next, enabled.rate_booked),
        (c.rate_next, None)
    );
}
