//! A bounded cache whose entries expire at a given instant (the DNS TTL). Time is passed
//! in, so tests drive it without sleeping.

use std::time::Instant;

use rustc_hash::FxHashMap;

/// Entries expire at their own instant; when full, expired entries go first, then the one
/// closest to expiry.
#[derive(Debug)]
pub(crate) struct TtlCache<V> {
    map: FxHashMap<Box<str>, (Instant, V)>,
    capacity: usize,
}

impl<V: Clone> TtlCache<V> {
    pub(crate) fn new(capacity: usize) -> TtlCache<V> {
        TtlCache {
            map: FxHashMap::default(),
            capacity,
        }
    }

    /// The live value for `key` at `now`.
    pub(crate) fn get(&mut self, key: &str, now: Instant) -> Option<V> {
        match self.map.get(key) {
            Some((until, v)) if *until > now => Some(v.clone()),
            Some(_) => {
                self.map.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores `value` until `until`; values already expired at `now` are not stored.
    pub(crate) fn insert(&mut self, key: &str, value: V, until: Instant, now: Instant) {
        if self.capacity == 0 || until <= now {
            return;
        }
        if self.map.len() >= self.capacity && !self.map.contains_key(key) {
            self.map.retain(|_, (u, _)| *u > now);
            if self.map.len() >= self.capacity {
                let soonest = self
                    .map
                    .iter()
                    .min_by_key(|(_, (u, _))| *u)
                    .map(|(k, _)| k.clone());
                if let Some(k) = soonest {
                    self.map.remove(&k);
                }
            }
        }
        self.map.insert(key.into(), (until, value));
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn expires_and_evicts() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut c = TtlCache::new(2);
        c.insert("a", 1, t0 + 10 * s, t0);
        c.insert("b", 2, t0 + 5 * s, t0);
        c.insert("dead", 0, t0, t0);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("a", t0 + 9 * s), Some(1));
        assert_eq!(c.get("a", t0 + 10 * s), None, "expired at its instant");
        c.insert("a", 1, t0 + 10 * s, t0);
        // Full: the entry closest to expiry (b) makes room.
        c.insert("c", 3, t0 + 20 * s, t0);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("b", t0), None);
        assert_eq!(c.get("c", t0), Some(3));
        let mut off = TtlCache::new(0);
        off.insert("a", 1, t0 + s, t0);
        assert_eq!(off.get("a", t0), None);
    }
}
