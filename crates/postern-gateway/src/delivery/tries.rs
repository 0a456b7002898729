//! How often each queued message has been tried on each connector: the counts the
//! router's `max_attempts` is checked against (postern-route's `ConnectorState`).
//!
//! # What counts
//!
//! Every attempt on a connector that did not settle all of its recipients counts once
//! for the message: no host reachable (the group then fails over in the same attempt),
//! the connection lost, and any temporary reply — 4xx to MAIL, RCPT or the end of the
//! data included. A connector skipped because it is marked down was not tried and does
//! not count. Once a message has been tried `max_attempts` times on a connector, the
//! router leaves that connector out for it and the next attempt goes to the next
//! candidate (the IMS behaviour of seed 003: mail never waits forever on one route).
//! When every candidate has used up its attempts the counts of the message start over,
//! so it keeps being retried by its schedule until it fails by that or its time-out.
//!
//! The counts live in memory: a restart starts them afresh. A message's counts go when
//! it leaves the queue.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use postern_queue::QueueId;
use postern_route::ConnectorState;

/// The attempts per message and connector.
#[derive(Debug, Default)]
pub struct Tries {
    counts: Mutex<HashMap<QueueId, Counts>>,
}

/// One message's attempts per connector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(HashMap<String, u32>);

impl Counts {
    /// True when the message has not failed on any connector (yet, or since a reset).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl ConnectorState for Counts {
    fn attempts(&self, connector: &str) -> u32 {
        self.0.get(connector).copied().unwrap_or(0)
    }
}

impl Tries {
    /// No message tried yet.
    pub fn new() -> Tries {
        Tries::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<QueueId, Counts>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The counts of message `id`.
    pub fn of(&self, id: QueueId) -> Counts {
        self.lock().get(&id).cloned().unwrap_or_default()
    }

    /// Counts one failed attempt of `id` on `connector`; returns the new count.
    pub fn count(&self, id: QueueId, connector: &str) -> u32 {
        let mut g = self.lock();
        let n = g
            .entry(id)
            .or_default()
            .0
            .entry(connector.to_owned())
            .or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    /// Forgets message `id` (it left the queue, or its candidates start over).
    pub fn forget(&self, id: QueueId) {
        self.lock().remove(&id);
    }

    /// Messages with counts (for tests and the status view).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no message has counts.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_message_and_connector() {
        let t = Tries::new();
        let (a, b) = (QueueId { millis: 1, seq: 0 }, QueueId { millis: 2, seq: 0 });
        assert_eq!(t.count(a, "A"), 1);
        assert_eq!(t.count(a, "A"), 2);
        assert_eq!(t.count(b, "A"), 1);
        assert_eq!(t.of(a).attempts("A"), 2);
        assert_eq!(t.of(a).attempts("B"), 0);
        t.forget(a);
        assert!(t.of(a).is_empty());
        assert_eq!(t.len(), 1);
    }
}
