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
///
/// Every `forget` bumps a generation, and `put` only stores what was read in the
/// current generation: a read that raced with an invalidation (a key rotated
/// while its account was being loaded) cannot put the stale value back.
pub struct TtlCache<K, V> {
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K, V> {
    entries: HashMap<K, (V, Instant)>,
    generation: u64,
}

impl<K, V> Default for TtlCache<K, V> {
    fn default() -> Self {
        TtlCache {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                generation: 0,
            }),
        }
    }
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    /// The live entry for `key`, if any, and the generation to pass to `put`
    /// after loading it otherwise.
    pub fn get(&self, key: &K) -> (Option<V>, u64) {
        let inner = self.inner.lock().expect("cache poisoned");
        let live = inner
            .entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(v, _)| v.clone());
        (live, inner.generation)
    }

    /// Stores `value`, read during `generation`, unless something was forgotten since.
    pub fn put(&self, key: K, value: V, generation: u64) {
        let mut inner = self.inner.lock().expect("cache poisoned");
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= MAX_ENTRIES {
            inner.entries.retain(|_, (_, at)| at.elapsed() < TTL);
            if inner.entries.len() >= MAX_ENTRIES {
                inner.entries.clear();
            }
        }
        inner.entries.insert(key, (value, Instant::now()));
    }

    /// Drops every entry `doomed` picks.
    pub fn forget(&self, doomed: impl Fn(&K, &V) -> bool) {
        let mut inner = self.inner.lock().expect("cache poisoned");
        inner.generation += 1;
        inner.entries.retain(|k, (v, _)| !doomed(k, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_returned_until_forgotten() {
        let cache: TtlCache<&str, u32> = TtlCache::default();
        let (missing, generation) = cache.get(&"a");
        assert_eq!(missing, None);
        cache.put("a", 1, generation);
        cache.put("b", 2, generation);
        assert_eq!(cache.get(&"a").0, Some(1));
        cache.forget(|k, _| *k == "a");
        assert_eq!((cache.get(&"a").0, cache.get(&"b").0), (None, Some(2)));
    }

    #[test]
    fn a_value_read_before_an_invalidation_is_not_stored() {
        let cache: TtlCache<&str, u32> = TtlCache::default();
        let (_, generation) = cache.get(&"key");
        cache.forget(|_, _| true);
        cache.put("key", 1, generation);
        assert_eq!(cache.get(&"key").0, None);
    }

    #[test]
    fn entries_expire() {
        let cache: TtlCache<u8, u8> = TtlCache::default();
        cache
            .inner
            .lock()
            .unwrap()
            .entries
            .insert(1, (1, Instant::now() - TTL));
        assert_eq!(cache.get(&1).0, None);
    }
}
