//! Attempts per minute, by outcome, with their latency: what the console plots
//! for an endpoint (from the stored attempt log) and for a node (kept in
//! memory as attempts finish). One shape serves both, so both plots read alike.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// One finished request (a leg of an attempt), as the series counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptPoint {
    /// When it started.
    pub at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: u64,
    /// Whether the receiver took it.
    pub ok: bool,
}

/// The requests of one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bucket {
    /// Requests the receiver took.
    pub ok: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Their summed duration, for the mean.
    pub total_ms: u64,
    /// The slowest of them.
    pub max_ms: u64,
}

impl Bucket {
    /// Requests of the minute.
    pub fn count(&self) -> u64 {
        self.ok + self.failed
    }

    /// Their mean duration, when there were any.
    pub fn mean_ms(&self) -> Option<u64> {
        self.total_ms.checked_div(self.count())
    }

    fn add(&mut self, point: &AttemptPoint) {
        match point.ok {
            true => self.ok += 1,
            false => self.failed += 1,
        }
        self.total_ms = self.total_ms.saturating_add(point.duration_ms);
        self.max_ms = self.max_ms.max(point.duration_ms);
    }
}

/// The last `minutes` whole minutes up to now, oldest first; the last bucket
/// is the current, unfinished minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteSeries {
    /// The start of the first bucket.
    pub start: DateTime<Utc>,
    /// One per minute.
    pub buckets: Vec<Bucket>,
}

fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at)
}

impl MinuteSeries {
    /// An empty series of `minutes` buckets ending with the minute of `now`.
    pub fn empty(now: DateTime<Utc>, minutes: usize) -> MinuteSeries {
        let minutes = minutes.max(1);
        MinuteSeries {
            start: minute_of(now) - TimeDelta::minutes(minutes as i64 - 1),
            buckets: vec![Bucket::default(); minutes],
        }
    }

    /// The series of `points`; points outside its minutes are left out.
    pub fn of(points: &[AttemptPoint], now: DateTime<Utc>, minutes: usize) -> MinuteSeries {
        let mut series = MinuteSeries::empty(now, minutes);
        for point in points {
            series.add(point);
        }
        series
    }

    /// Counts one point, if it falls within the series.
    pub fn add(&mut self, point: &AttemptPoint) {
        let offset = (minute_of(point.at) - self.start).num_minutes();
        if let Some(bucket) = usize::try_from(offset)
            .ok()
            .and_then(|i| self.buckets.get_mut(i))
        {
            bucket.add(point);
        }
    }

    /// Moves the series forward so that its last bucket is the minute of
    /// `now`, dropping the minutes that fall off its start.
    pub fn advance_to(&mut self, now: DateTime<Utc>) {
        let len = self.buckets.len();
        let last = self.start + TimeDelta::minutes(len as i64 - 1);
        let steps = (minute_of(now) - last).num_minutes();
        if steps <= 0 {
            return;
        }
        let steps = (steps as usize).min(len);
        self.buckets.drain(..steps);
        self.buckets.resize(len, Bucket::default());
        self.start = minute_of(now) - TimeDelta::minutes(len as i64 - 1);
    }

    /// The requests of every minute together.
    pub fn total(&self) -> Bucket {
        self.buckets.iter().fold(Bucket::default(), |mut sum, b| {
            sum.ok += b.ok;
            sum.failed += b.failed;
            sum.total_ms = sum.total_ms.saturating_add(b.total_ms);
            sum.max_ms = sum.max_ms.max(b.max_ms);
            sum
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: u32, second: u32) -> DateTime<Utc> {
        format!("2026-12-03T10:{minute:02}:{second:02}Z")
            .parse()
            .unwrap()
    }

    fn point(minute: u32, ok: bool, duration_ms: u64) -> AttemptPoint {
        AttemptPoint {
            at: at(minute, 30),
            duration_ms,
            ok,
        }
    }

    #[test]
    fn points_fall_in_their_minute_and_old_ones_are_left_out() {
        let points = [
            point(50, true, 10),
            point(58, true, 20),
            point(58, false, 40),
            point(59, true, 5),
        ];
        let series = MinuteSeries::of(&points, at(59, 59), 3);
        assert_eq!(series.start, at(57, 0));
        let counts: Vec<_> = series.buckets.iter().map(|b| (b.ok, b.failed)).collect();
        assert_eq!(counts, [(0, 0), (1, 1), (1, 0)]);
        assert_eq!(series.buckets[1].mean_ms(), Some(30));
        assert_eq!(series.buckets[1].max_ms, 40);
        assert_eq!(series.buckets[0].mean_ms(), None);
        assert_eq!(series.total().count(), 3);
    }

    #[test]
    fn advancing_drops_the_minutes_that_fall_off() {
        let mut series = MinuteSeries::of(&[point(58, true, 1), point(59, false, 1)], at(59, 0), 3);
        series.advance_to(at(59, 50));
        assert_eq!(series.total().count(), 2, "the same minute moves nothing");
        series.advance_to(at(1, 0) + TimeDelta::hours(1));
        assert_eq!(series.start, at(59, 0));
        let counts: Vec<_> = series.buckets.iter().map(|b| (b.ok, b.failed)).collect();
        assert_eq!(counts, [(0, 1), (0, 0), (0, 0)]);
        series.advance_to(at(0, 0) + TimeDelta::hours(5));
        assert_eq!(series.total().count(), 0, "far ahead, everything fell off");
    }
}
