//! Domains with `dequeue = "hold-for-etrn"`: their mail waits until their server asks
//! for it with ETRN (RFC 1985), as the IMS "dequeue" setting did.
//!
//! # How ETRN releases held mail
//!
//! The queue has no "held until ETRN" state, so the gate is built from what it has:
//!
//! 1. When a delivery for a hold-for-etrn domain comes due, it is attempted only if an
//!    ETRN for its destination arrived after the message did. Otherwise every recipient
//!    is reported `Deferred` (class `Session`, reply `451 4.4.0 … held for ETRN`): the
//!    queue backs the destination off (`backoff_first`, doubling up to `backoff_max`)
//!    and schedules the next look for the end of it, without using up any retry, so
//!    held mail costs nothing meanwhile.
//! 2. ETRN ([`crate::context::Context::etrn`]) records its time for the destination in
//!    the gate and calls `queue.retry(Target::Destination(d))`: the destination's backoff
//!    is cleared, its deferred recipients become due now, and the delivery loop is woken.
//!    Step 1 then lets every message that arrived before the ETRN go; mail arriving
//!    later waits for the next ETRN.
//!
//! The gate keeps one time per destination that has sent ETRN, not per message, and
//! needs nothing from before a restart: held mail is recognised by the queue's own
//! arrival time, so the first ETRN after a restart releases everything queued. Held mail
//! still ages and expires under the normal time-outs, as queued mail did in the IMS.
//! A released message that is deferred again by its server keeps its release, and is
//! retried by the retry policy like any other mail.
//!
//! `postern queue retry` is "like ETRN" and releases held mail the same way: a
//! destination as an ETRN for it would, `--all` every destination, one queue id that
//! message alone ([`EtrnGate::release_all`], [`EtrnGate::release_message`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use postern_queue::{QueueId, Timestamp};

/// The reply recorded for held recipients.
pub const HELD_REPLY: &str = "451 4.4.0 held for ETRN (dequeue = hold-for-etrn)";

/// The time of the latest ETRN per destination, and the releases an administrator made
/// (`postern queue retry`, which is "like ETRN").
#[derive(Debug, Default)]
pub struct EtrnGate {
    latest: Mutex<HashMap<String, Timestamp>>,
    /// `postern queue retry --all`: everything that arrived by then may go.
    all: Mutex<Option<Timestamp>>,
    /// `postern queue retry ID`: these messages may go.
    messages: Mutex<HashSet<QueueId>>,
}

impl EtrnGate {
    /// A gate no ETRN has reached yet.
    pub fn new() -> EtrnGate {
        EtrnGate::default()
    }

    /// Records an ETRN for `destination` at `now`: mail that arrived by then may go.
    pub fn release(&self, destination: &str, now: Timestamp) {
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        let t = latest.entry(destination.to_owned()).or_insert(now);
        *t = (*t).max(now);
    }

    /// True when an ETRN for `destination` came at or after `arrival`.
    pub fn released(&self, destination: &str, arrival: Timestamp) -> bool {
        let all = *self.all.lock().unwrap_or_else(PoisonError::into_inner);
        if all.is_some_and(|t| t >= arrival) {
            return true;
        }
        let latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        latest.get(destination).is_some_and(|&t| t >= arrival)
    }

    /// Releases every destination's mail that arrived by `now` (an administrator's
    /// `postern queue retry --all`).
    pub fn release_all(&self, now: Timestamp) {
        let mut all = self.all.lock().unwrap_or_else(PoisonError::into_inner);
        *all = Some(all.map_or(now, |t| t.max(now)));
    }

    /// Releases one message (`postern queue retry ID`), until it leaves the queue.
    pub fn release_message(&self, id: QueueId) {
        self.messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id);
    }

    /// True when message `id` was released on its own.
    pub fn message_released(&self, id: QueueId) -> bool {
        self.messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&id)
    }

    /// Forgets a message that left the queue.
    pub fn forget_message(&self, id: QueueId) {
        let mut m = self.messages.lock().unwrap_or_else(PoisonError::into_inner);
        if !m.is_empty() {
            m.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_mail_that_arrived_before_the_latest_etrn() {
        let gate = EtrnGate::new();
        assert!(!gate.released("dialup.test", Timestamp(100)), "no ETRN yet");
        gate.release("dialup.test", Timestamp(200));
        assert!(gate.released("dialup.test", Timestamp(100)));
        assert!(gate.released("dialup.test", Timestamp(200)));
        assert!(
            !gate.released("dialup.test", Timestamp(201)),
            "arrived after the ETRN"
        );
        assert!(
            !gate.released("other.test", Timestamp(100)),
            "another destination"
        );
        gate.release("dialup.test", Timestamp(150));
        assert!(
            gate.released("dialup.test", Timestamp(200)),
            "an older time never wins"
        );
        gate.release_all(Timestamp(300));
        assert!(gate.released("other.test", Timestamp(300)));
        assert!(!gate.released("other.test", Timestamp(301)));
        let id = QueueId { millis: 7, seq: 0 };
        gate.release_message(id);
        assert!(gate.message_released(id));
        gate.forget_message(id);
        assert!(!gate.message_released(id));
    }
}
