//! Domains with `dequeue = "hold-for-etrn"`: their mail waits until their server asks
//! for it with ETRN (RFC 1985), as the IMS "dequeue" setting did.
//!
//! # How ETRN releases held mail
//!
//! The queue has no "held until ETRN" state, so the gate is built from what it has:
//!
//! 1. When a delivery for a hold-for-etrn domain comes due, it is not attempted: every
//!    recipient is reported `Deferred` (class `Session`, reply `451 4.4.0 … held for
//!    ETRN`). The queue schedules the next look by the retry policy and backs the
//!    destination off, so held mail costs nothing meanwhile. The gate remembers the
//!    retry time the queue chose for that (message, destination).
//! 2. ETRN in the inbound side calls `queue.retry(Target::Destination(d))`: the
//!    destination's backoff is cleared and its deferred recipients become due *now*,
//!    earlier than the time remembered in 1 — and the delivery loop is woken.
//! 3. When the delivery comes due again, the gate compares: a recipient due before the
//!    remembered time was released by ETRN, so the delivery is attempted for real. A
//!    delivery that merely reached its remembered time is held again (step 1).
//!
//! Held mail still ages: it expires under the normal time-outs, as queued mail did in
//! the IMS. The memory in step 1 is not persisted: after a restart, an ETRN received
//! before the first re-hold of a message is missed (the client's next ETRN releases it;
//! RFC 1985 clients send one per connection).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use postern_queue::{Delivery, Queue, QueueId, RecipientState, Timestamp};

/// The reply recorded for held recipients.
pub const HELD_REPLY: &str = "451 4.4.0 held for ETRN (dequeue = hold-for-etrn)";

/// Remembers when held deliveries were next due, to recognise an ETRN release.
#[derive(Debug, Default)]
pub struct EtrnGate {
    parked: Mutex<HashMap<(QueueId, String), Timestamp>>,
}

/// The earliest next attempt of the delivery's deferred recipients, per the queue.
fn next_attempt(queue: &Queue, d: &Delivery) -> Option<Timestamp> {
    let msg = queue.message(d.id)?;
    d.recipients
        .iter()
        .filter_map(|r| match msg.state.recipients.get(r.index) {
            Some(RecipientState::Deferred { next_attempt, .. }) => Some(*next_attempt),
            _ => None,
        })
        .min()
}

impl EtrnGate {
    /// A gate that remembers nothing yet.
    pub fn new() -> EtrnGate {
        EtrnGate::default()
    }

    /// True when an ETRN released this held delivery since it was parked (and forgets it).
    pub fn released(&self, queue: &Queue, d: &Delivery) -> bool {
        let key = (d.id, d.destination.clone());
        let mut parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(&until) = parked.get(&key) else {
            return false;
        };
        let released = next_attempt(queue, d).is_some_and(|t| t < until);
        if released {
            parked.remove(&key);
        }
        released
    }

    /// Remembers when the queue will next hand out a delivery just held (call after its
    /// deferral was reported). Forgets messages that have left the queue.
    pub fn park(&self, queue: &Queue, d: &Delivery) {
        let mut parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
        parked.retain(|(id, _), _| queue.message(*id).is_some());
        if let Some(t) = next_attempt(queue, d) {
            parked.insert((d.id, d.destination.clone()), t);
        }
    }
}
