//! The last hour of the gateway in numbers, for the console's live charts: one
//! [`Sample`] of the status every [`INTERVAL`], [`CAPACITY`] of them kept in a ring
//! (`GET /api/v1/status/history`). The counters are kept as totals since start; a
//! reader gets a rate from two samples (their difference over their time apart), so a
//! sample missed or taken late never makes a rate wrong.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::context::Context;

/// Time between two samples: 10 seconds.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// Samples kept: one hour of them at [`INTERVAL`].
pub const CAPACITY: usize = 360;

/// The gateway at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// When it was taken, ms since the Unix epoch.
    pub time_ms: u64,
    /// Messages queued.
    pub queue_messages: u64,
    /// Of which held.
    pub queue_held: u64,
    /// Recipients waiting for their first attempt.
    pub recipients_pending: u64,
    /// Recipients waiting for a retry.
    pub recipients_deferred: u64,
    /// Inbound sessions open.
    pub sessions_open: i64,
    /// Messages accepted since start.
    pub accepted_total: u64,
    /// Recipients delivered since start.
    pub delivered_total: u64,
    /// Recipient deferrals since start.
    pub deferred_total: u64,
    /// Recipients failed since start.
    pub failed_total: u64,
}

impl Sample {
    /// The gateway now (the status document's numbers; blocks on the spool's stats).
    pub async fn take(ctx: &Context) -> Sample {
        let s = super::views::status(ctx).await;
        Sample {
            time_ms: s.time_ms,
            queue_messages: s.queue.messages,
            queue_held: s.queue.held_messages,
            recipients_pending: s.queue.pending,
            recipients_deferred: s.queue.deferred,
            sessions_open: s.counters.sessions_open,
            accepted_total: s.counters.messages_accepted_total,
            delivered_total: s.counters.recipients_delivered_total,
            deferred_total: s.counters.recipients_deferred_total,
            failed_total: s.counters.recipients_failed_total,
        }
    }
}

/// `GET /api/v1/status/history`: the ring, oldest first, and the gateway now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Milliseconds between two samples ([`INTERVAL`]).
    pub interval_ms: u64,
    /// Most samples kept ([`CAPACITY`]).
    pub capacity: usize,
    /// The samples, oldest first (the first taken when the admin API started).
    pub samples: Vec<Sample>,
    /// A sample taken for this answer (not kept).
    pub current: Sample,
}

/// The ring of samples.
#[derive(Debug)]
pub struct Ring {
    samples: Mutex<VecDeque<Sample>>,
    capacity: usize,
}

impl Ring {
    /// An empty ring that keeps at most `capacity` samples (at least one).
    pub fn new(capacity: usize) -> Ring {
        let capacity = capacity.max(1);
        Ring {
            samples: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
        }
    }

    /// Adds `s`, dropping the oldest sample when the ring is full.
    pub fn push(&self, s: Sample) {
        let mut g = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        if g.len() == self.capacity {
            g.pop_front();
        }
        g.push_back(s);
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        let g = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        g.iter().cloned().collect()
    }

    /// The answer to `GET /api/v1/status/history`.
    pub fn history(&self, current: Sample) -> History {
        History {
            interval_ms: INTERVAL.as_millis() as u64,
            capacity: self.capacity,
            samples: self.samples(),
            current,
        }
    }
}

/// Takes a sample now and then every [`INTERVAL`] until the gateway shuts down.
pub async fn run(ctx: Arc<Context>, ring: Arc<Ring>) {
    let mut tick = tokio::time::interval(INTERVAL);
    // A gateway stalled for a while samples once when it comes back, not in a burst.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = ctx.shutdown.clone();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            // Shutting down, or nobody left to say so: either way the gateway stops.
            r = shutdown.changed() => if r.is_err() || *shutdown.borrow() { return },
        }
        ring.push(Sample::take(&ctx).await);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: u64) -> Sample {
        Sample {
            time_ms: t,
            queue_messages: 0,
            queue_held: 0,
            recipients_pending: 0,
            recipients_deferred: 0,
            sessions_open: 0,
            accepted_total: t,
            delivered_total: 0,
            deferred_total: 0,
            failed_total: 0,
        }
    }

    #[test]
    fn ring_keeps_the_newest_capacity_samples_oldest_first() {
        let r = Ring::new(3);
        assert!(r.samples().is_empty());
        for t in 1..=5 {
            r.push(sample(t));
        }
        let times: Vec<u64> = r.samples().iter().map(|s| s.time_ms).collect();
        assert_eq!(times, [3, 4, 5]);
        let h = r.history(sample(6));
        assert_eq!(
            (h.capacity, h.interval_ms, h.current.time_ms),
            (3, 10_000, 6)
        );
    }

    #[test]
    fn an_hour_of_samples() {
        assert_eq!(INTERVAL.as_secs() * CAPACITY as u64, 3600);
        assert_eq!(Ring::new(0).capacity, 1);
    }
}
