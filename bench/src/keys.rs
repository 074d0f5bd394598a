//! Ordering keys spread over a closed loop's publishers so that publish order
//! is known: each key belongs to one publisher, which publishes its events one
//! request after another, so a key's events are published in the order of
//! their numbers. Relies on [`crate::load::closed_loop`] giving worker `w` the
//! jobs `w`, `w + workers`, … in turn.

/// The ordering keys of one phase, and how its events map onto them.
#[derive(Debug, Clone, Copy)]
pub struct Keys {
    /// The phase, in every key's name: phases never share a key.
    phase: &'static str,
    /// Distinct keys.
    keys: usize,
    /// Publishers (closed-loop workers): at most one per key and per job.
    publishers: usize,
    /// Events per publish request (job).
    per_job: usize,
}

impl Keys {
    /// `keys` keys for a phase of `events` events, `per_job` to a request, on at
    /// most `concurrency` publishers.
    pub fn new(
        phase: &'static str,
        keys: usize,
        concurrency: usize,
        events: usize,
        per_job: usize,
    ) -> Keys {
        let jobs = events.div_ceil(per_job);
        let publishers = concurrency.min(keys).min(jobs).max(1);
        Keys {
            phase,
            keys: keys.max(1),
            publishers,
            per_job: per_job.max(1),
        }
    }

    /// Publishers the phase must run on for the order to hold.
    pub fn publishers(&self) -> usize {
        self.publishers
    }

    /// The ordering key of event `seq` and its number among that key's events.
    /// Publisher `p` owns keys `p`, `p + publishers`, … and takes them in turn
    /// over its own events (job by job, in order within a job).
    pub fn of(&self, seq: usize) -> (String, usize) {
        let job = seq / self.per_job;
        let publisher = job % self.publishers;
        let own = (job / self.publishers) * self.per_job + seq % self.per_job;
        let owned = (self.keys - publisher).div_ceil(self.publishers);
        let key = publisher + self.publishers * (own % owned);
        (format!("{}-{key}", self.phase), own / owned)
    }
}

#[cfg(test)]
mod tests {
    use super::Keys;
    use std::collections::HashMap;

    /// Every key in range is used, and each key's numbers run 0, 1, 2, … in
    /// the order its publisher publishes them.
    fn check(keys: usize, concurrency: usize, events: usize, per_job: usize) {
        let k = Keys::new("t", keys, concurrency, events, per_job);
        let workers = k.publishers();
        let jobs = events.div_ceil(per_job);
        let mut next: HashMap<String, (usize, usize)> = HashMap::new();
        for w in 0..workers {
            for job in (w..jobs).step_by(workers) {
                for seq in job * per_job..((job + 1) * per_job).min(events) {
                    let (key, n) = k.of(seq);
                    let (owner, expected) = next.entry(key).or_insert((w, 0));
                    assert_eq!((*owner, *expected), (w, n), "event {seq}");
                    *expected += 1;
                }
            }
        }
        assert_eq!(next.len(), keys.min(events));
    }

    /// Single and batch shapes, keys fewer and more than publishers.
    #[test]
    fn each_key_has_one_publisher_in_order() {
        check(1000, 64, 20_000, 1);
        check(1000, 64, 20_000, 100);
        check(10, 64, 1000, 1);
        check(7, 3, 1000, 100);
        check(1000, 64, 50, 1);
    }
}
