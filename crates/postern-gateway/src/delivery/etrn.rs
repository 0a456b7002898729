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

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use postern_queue::Timestamp;

/// The reply recorded for held recipients.
pub const HELD_REPLY: &str = "451 4.4.0 held for ETRN (dequeue = hold-for-etrn)";

/// The time of the latest ETRN per destination.
#[derive(Debug, Default)]
pub struct EtrnGate {
    latest: Mutex<HashMap<String, Timestamp>>,
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
        let latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        latest.get(destination).is_some_and(|&t| t >= arrival)
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
    }
}
