//! Dropping repeated deliveries. Delivery is at least once: when a receiver's
//! 2xx is lost or late, the sender tries again with the same event id
//! (`webhook-id`), and the receiver should do the work only once.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// Drops repeated deliveries: remembers event ids for `ttl`.
///
/// Memory grows with the number of distinct ids seen within `ttl`; older ids
/// are forgotten as calls go by. A process that restarts forgets everything, so
/// work that must happen exactly once also needs a unique key in the
/// receiver's own database.
#[derive(Debug)]
pub struct Deduplicator {
    /// How long an id is remembered after it was first seen, in seconds.
    ttl: i64,
    /// Each remembered id and when it was first seen (Unix seconds). This map
    /// decides; `order` only serves forgetting.
    seen: HashMap<String, i64>,
    /// Ids in the order they were remembered, oldest first, to forget them
    /// without scanning the whole map.
    order: VecDeque<(i64, String)>,
}

impl Deduplicator {
    /// Remembers each id for `ttl` (whole seconds count) after it is first seen.
    /// Choose at least the sender's whole retry window.
    pub fn new(ttl: Duration) -> Self {
        Deduplicator {
            ttl: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// `true` the first time `id` is seen (handle the event), `false` for a
    /// repeat within the ttl (skip it, but still answer 2xx). `now` is Unix
    /// seconds; an id seen again after its ttl counts as new.
    pub fn first_time(&mut self, id: &str, now: i64) -> bool {
        self.forget_expired(now);
        if let Some(&first) = self.seen.get(id) {
            if !self.expired(first, now) {
                return false;
            }
        }
        self.seen.insert(id.to_string(), now);
        self.order.push_back((now, id.to_string()));
        true
    }

    fn expired(&self, first_seen: i64, now: i64) -> bool {
        now.saturating_sub(first_seen) >= self.ttl
    }

    /// Forgets ids whose ttl has passed. If `now` ever goes backwards, entries
    /// are only kept longer than needed, never forgotten early.
    fn forget_expired(&mut self, now: i64) {
        while let Some((first_seen, _)) = self.order.front() {
            if !self.expired(*first_seen, now) {
                break;
            }
            let (first_seen, id) = self.order.pop_front().expect("front exists");
            // The id may have been seen anew since; only its latest entry counts.
            if self.seen.get(&id) == Some(&first_seen) {
                self.seen.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;

    #[test]
    fn a_repeat_within_the_ttl_is_not_the_first_time() {
        let mut d = Deduplicator::new(Duration::from_secs(HOUR as u64));
        assert!(d.first_time("evt_1", 0));
        assert!(!d.first_time("evt_1", 1));
        assert!(!d.first_time("evt_1", HOUR - 1));
        assert!(d.first_time("evt_2", HOUR - 1));
    }

    #[test]
    fn an_id_is_forgotten_after_its_ttl_and_counts_as_new_again() {
        let mut d = Deduplicator::new(Duration::from_secs(HOUR as u64));
        assert!(d.first_time("evt_1", 0));
        assert!(d.first_time("evt_1", HOUR));
        assert!(!d.first_time("evt_1", HOUR + 10));
        assert_eq!(d.seen.len(), 1);
    }

    #[test]
    fn expired_ids_are_dropped_from_memory() {
        let mut d = Deduplicator::new(Duration::from_secs(10));
        for i in 0..100 {
            assert!(d.first_time(&format!("evt_{i}"), i));
        }
        assert!(d.seen.len() <= 10 && d.order.len() <= 10);
    }

    #[test]
    fn a_clock_going_backwards_never_forgets_early() {
        let mut d = Deduplicator::new(Duration::from_secs(HOUR as u64));
        assert!(d.first_time("late", 1000));
        assert!(d.first_time("early", 10));
        assert!(!d.first_time("late", 1000 + HOUR - 1));
        assert!(!d.first_time("early", 10 + HOUR - 1));
        assert!(d.first_time("early", 10 + HOUR));
    }

    #[test]
    fn extreme_times_and_ttls_do_not_overflow() {
        let mut d = Deduplicator::new(Duration::MAX);
        assert!(d.first_time("a", i64::MIN));
        assert!(!d.first_time("a", i64::MIN + 1000));
        assert!(d.first_time("b", i64::MAX));
        assert!(!d.first_time("b", i64::MAX));
        let mut d = Deduplicator::new(Duration::ZERO);
        assert!(d.first_time("a", 0));
        assert!(d.first_time("a", 0));
    }
}
