//! Outbound concurrency: at most `max_outbound_connections` deliveries at once in all,
//! and at most `max_connections_per_destination` to one destination. A delivery runs
//! while it holds a [`Slot`]; dropping the slot frees both counts and wakes the loop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// The two limits and the counts against them.
#[derive(Debug)]
pub struct Limits {
    global: Arc<Semaphore>,
    per_destination: Mutex<HashMap<String, usize>>,
    max_per_destination: usize,
    /// Notified whenever a slot is freed.
    pub freed: Notify,
}

/// The right to run one delivery to one destination.
#[derive(Debug)]
pub struct Slot {
    limits: Arc<Limits>,
    destination: String,
    _permit: OwnedSemaphorePermit,
}

impl Limits {
    /// Limits of `max_total` deliveries in all and `max_per_destination` per destination.
    pub fn new(max_total: usize, max_per_destination: usize) -> Arc<Limits> {
        Arc::new(Limits {
            global: Arc::new(Semaphore::new(max_total)),
            per_destination: Mutex::new(HashMap::new()),
            max_per_destination,
            freed: Notify::new(),
        })
    }

    /// Deliveries that could start now (free global slots).
    pub fn available(&self) -> usize {
        self.global.available_permits()
    }

    /// A slot for `destination`, if both limits allow one now.
    pub fn try_acquire(self: &Arc<Self>, destination: &str) -> Option<Slot> {
        let mut counts = self
            .per_destination
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let n = counts.get(destination).copied().unwrap_or(0);
        if n >= self.max_per_destination {
            return None;
        }
        let permit = Arc::clone(&self.global).try_acquire_owned().ok()?;
        counts.insert(destination.to_owned(), n + 1);
        Some(Slot {
            limits: Arc::clone(self),
            destination: destination.to_owned(),
            _permit: permit,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self
            .limits
            .per_destination
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.destination) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.destination);
            }
        }
        drop(counts);
        self.limits.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_limits_hold() {
        let l = Limits::new(3, 2);
        let a = l.try_acquire("a").unwrap();
        let _a2 = l.try_acquire("a").unwrap();
        assert!(l.try_acquire("a").is_none(), "per destination");
        let _b = l.try_acquire("b").unwrap();
        assert!(l.try_acquire("c").is_none(), "global");
        drop(a);
        assert!(l.try_acquire("c").is_some());
    }
}
