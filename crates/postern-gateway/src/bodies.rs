//! Bodies of messages just accepted, kept in memory for their first delivery.
//!
//! A relayed message is usually delivered milliseconds after the `250`, while its bytes
//! are still in the session's buffer. Without this cache the delivery reads them back
//! from the spool on a blocking thread — a file read and a thread hand-off per message,
//! which the relay profile (BENCHMARKS.md) showed among the costs at 1 KB. The spool
//! stays the only durable copy: the cache holds the same bytes, is bounded by
//! `[limits] body_cache_bytes`, forgets the oldest first, and a miss just reads the
//! spool as before.
//!
//! Bodies are [`Bytes`]: the session's buffer, the spool write, this cache and the
//! outbound send share one allocation; handing a body out clones a reference, never
//! the bytes.
//!
//! Each body comes with what the session learned of its message ([`Accepted`]): its
//! Message-ID, its arrival, whether its envelope carries DSN parameters. A delivery that
//! finds them here neither parses the header block again nor copies the envelope out
//! of the queue (with two smaller changes, 169 k → 163 k instructions a relayed 1 KB
//! message: BENCHMARKS.md, "Relay, eleventh round").

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use rustc_hash::FxHashMap;

use postern_queue::{QueueId, Timestamp};

/// A message as its session queued it: the body, and what a delivery needs to know of it.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The message as spooled.
    pub body: Bytes,
    /// Its Message-ID without angle brackets, as tracked when it was received; `None`
    /// when it has none.
    pub message_id: Option<Arc<str>>,
    /// When it was queued (the envelope's arrival).
    pub arrival: Timestamp,
    /// Its envelope carries RFC 3461 parameters (a delivery then reads the envelope from
    /// the queue to pass them on).
    pub dsn: bool,
}

/// Message bodies by queue id, at most a configured number of bytes in all.
#[derive(Debug, Default)]
pub struct BodyCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    bodies: FxHashMap<QueueId, Accepted>,
    /// Insertion order, for evicting the oldest; may name ids already removed.
    order: VecDeque<QueueId>,
    bytes: usize,
}

impl BodyCache {
    /// An empty cache.
    pub fn new() -> BodyCache {
        BodyCache::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `body` for `id` within `max_bytes` in all, evicting the oldest bodies to make
    /// room. A body larger than a quarter of `max_bytes` is not kept: one large message
    /// must not push out many small ones (its delivery reads the spool instead).
    pub fn insert(&self, id: QueueId, message: Accepted, max_bytes: usize) {
        let len = message.body.len();
        if len > max_bytes / 4 {
            return;
        }
        let mut g = self.lock();
        let inner = &mut *g;
        while inner.bytes + len > max_bytes {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            if let Some(m) = inner.bodies.remove(&old) {
                inner.bytes -= m.body.len();
            }
        }
        inner.bytes += len;
        if let Some(prev) = inner.bodies.insert(id, message) {
            inner.bytes -= prev.body.len();
        }
        inner.order.push_back(id);
        // Ids removed by `remove` stay in `order` until evicted; drop them before the
        // queue of names outgrows the bodies it names.
        if inner.order.len() > 2 * inner.bodies.len() + 64 {
            let bodies = &inner.bodies;
            inner.order.retain(|id| bodies.contains_key(id));
        }
    }

    /// The message `id`, if it is still here (references, no copy of its bytes).
    pub fn get(&self, id: QueueId) -> Option<Accepted> {
        self.lock().bodies.get(&id).cloned()
    }

    /// Forgets `id` (its message has left the queue).
    pub fn remove(&self, id: QueueId) {
        let mut g = self.lock();
        if let Some(m) = g.bodies.remove(&id) {
            g.bytes -= m.body.len();
        }
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> QueueId {
        format!("{n:018X}").parse().unwrap()
    }

    fn body(len: usize) -> Accepted {
        Accepted {
            body: Bytes::from(vec![b'x'; len]),
            message_id: Some("m@example.test".into()),
            arrival: Timestamp(7),
            dsn: false,
        }
    }

    #[test]
    fn keeps_within_the_limit_evicting_the_oldest() {
        let c = BodyCache::new();
        for n in 0..10 {
            c.insert(id(n), body(100), 400);
            assert!(c.bytes() <= 400);
        }
        assert_eq!(c.bytes(), 400);
        assert!(c.get(id(5)).is_none(), "evicted");
        assert_eq!(c.get(id(9)).unwrap().body.len(), 100);
        c.remove(id(9));
        assert!(c.get(id(9)).is_none());
        assert_eq!(c.bytes(), 300);
    }

    #[test]
    fn bodies_are_handed_out_without_a_copy() {
        let c = BodyCache::new();
        let kept = body(100);
        c.insert(id(1), kept.clone(), 400);
        let got = c.get(id(1)).unwrap();
        assert_eq!(got.body.as_ptr(), kept.body.as_ptr());
        assert_eq!(got.message_id.as_deref(), Some("m@example.test"));
        assert_eq!(got.arrival, Timestamp(7));
    }

    #[test]
    fn large_bodies_and_a_zero_limit_are_not_kept() {
        let c = BodyCache::new();
        c.insert(id(1), body(101), 400);
        assert!(c.get(id(1)).is_none());
        c.insert(id(2), body(1), 0);
        assert!(c.get(id(2)).is_none());
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn removed_ids_do_not_pile_up() {
        let c = BodyCache::new();
        for n in 0..10_000 {
            c.insert(id(n), body(10), 1 << 20);
            c.remove(id(n));
        }
        assert_eq!(c.bytes(), 0);
        assert!(c.lock().order.len() <= 64 + 1);
    }
}
