//! Short-lived caches of what every publish looks up: the account behind an API
//! key, profiles and event-type rules. Reading them from the database on each
//! publish would cost more than storing the event. Entries live [`TTL`]; a change
//! made through this node drops its entries at once, and a change made on another
//! node (PostgreSQL) is seen here within `TTL`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a cached entry is trusted.
pub const TTL: Duration = Duration::from_secs(2);
/// Most entries per cache; past that, expired entries are dropped, then all.
const MAX_ENTRIES: usize = 100_000;

/// A map whose entries expire after [`TTL`].
pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K, V> Default for TtlCache<K, V> {
    fn default() -> Self {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    /// The live entry for `key`, if any.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().expect("cache poisoned");
        entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(v, _)| v.clone())
    }

    /// Stores `value` under `key`.
    pub fn put(&self, key: K, value: V) {
        let mut entries = self.entries.lock().expect("cache poisoned");
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, at)| at.elapsed() < TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (value, Instant::now()));
    }

    /// Drops every entry `doomed` picks.
    pub fn forget(&self, doomed: impl Fn(&K, &V) -> bool) {
        self.entries
            .lock()
            .expect("cache poisoned")
            .retain(|k, (v, _)| !doomed(k, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_returned_until_forgotten() {
        let cache: TtlCache<&str, u32> = TtlCache::default();
        assert_eq!(cache.get(&"a"), None);
        cache.put("a", 1);
        cache.put("b", 2);
        assert_eq!(cache.get(&"a"), Some(1));
        cache.forget(|k, _| *k == "a");
        assert_eq!((cache.get(&"a"), cache.get(&"b")), (None, Some(2)));
    }

    #[test]
    fn entries_expire() {
        let cache: TtlCache<u8, u8> = TtlCache::default();
        cache
            .entries
            .lock()
            .unwrap()
            .insert(1, (1, Instant::now() - TTL));
        assert_eq!(cache.get(&1), None);
    }
}
