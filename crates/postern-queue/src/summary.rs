//! A per-state and per-destination summary of the queue, shaped like Postfix's `qshape`.

use std::collections::HashMap;
use std::time::Duration;

use crate::envelope::{Envelope, MessageState, RecipientState};
use crate::time::Timestamp;

/// Upper bounds of the age buckets, in minutes: 0–5, 5–10, 10–20, … 640–1280, 1280+.
pub const AGE_BUCKETS_MINUTES: [u64; 9] = [5, 10, 20, 40, 80, 160, 320, 640, 1280];
/// Number of age buckets (the last one is open-ended).
pub const AGE_BUCKETS: usize = AGE_BUCKETS_MINUTES.len() + 1;

/// Counts of recipients by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateCounts {
    /// Not tried yet.
    pub pending: u64,
    /// Waiting for a retry.
    pub deferred: u64,
    /// Delivered (still in the queue because a sibling recipient is not final).
    pub delivered: u64,
    /// Failed (likewise).
    pub failed: u64,
}

/// One destination's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationSummary {
    /// The destination.
    pub destination: String,
    /// Messages with at least one unfinished recipient here.
    pub messages: u64,
    /// Unfinished recipients here.
    pub recipients: u64,
    /// Of which deferred at least once.
    pub deferred: u64,
    /// Age of the oldest such message.
    pub oldest: Duration,
    /// Unfinished recipients by message age, see [`AGE_BUCKETS_MINUTES`].
    pub buckets: [u64; AGE_BUCKETS],
}

/// The whole queue at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// Messages queued.
    pub messages: u64,
    /// Messages held individually.
    pub held_messages: u64,
    /// Recipients by state.
    pub states: StateCounts,
    /// Age of the oldest message.
    pub oldest: Duration,
    /// Unfinished recipients by message age, over all destinations.
    pub buckets: [u64; AGE_BUCKETS],
    /// Per destination, most unfinished recipients first.
    pub destinations: Vec<DestinationSummary>,
}

/// The age bucket for `age`.
pub fn bucket(age: Duration) -> usize {
    let min = age.as_secs() / 60;
    AGE_BUCKETS_MINUTES
        .iter()
        .position(|&b| min < b)
        .unwrap_or(AGE_BUCKETS - 1)
}

/// Summarises messages as of `now`.
pub fn summarize<'a>(
    messages: impl IntoIterator<Item = (&'a Envelope, &'a MessageState)>,
    now: Timestamp,
) -> Summary {
    let mut s = Summary::default();
    let mut dests: HashMap<&'a str, (DestinationSummary, u64)> = HashMap::new();
    let mut seq = 0u64;
    for (env, state) in messages {
        seq += 1;
        s.messages += 1;
        s.held_messages += u64::from(state.held);
        let age = now.since(env.arrival);
        s.oldest = s.oldest.max(age);
        let b = bucket(age);
        for (r, st) in env.recipients.iter().zip(&state.recipients) {
            match st {
                RecipientState::Pending => s.states.pending += 1,
                RecipientState::Deferred { .. } => s.states.deferred += 1,
                RecipientState::Delivered { .. } => s.states.delivered += 1,
                RecipientState::Failed { .. } => s.states.failed += 1,
            }
            if st.is_final() {
                continue;
            }
            s.buckets[b] += 1;
            let (d, last) = dests.entry(r.destination.as_str()).or_insert_with(|| {
                let d = DestinationSummary {
                    destination: r.destination.clone(),
                    messages: 0,
                    recipients: 0,
                    deferred: 0,
                    oldest: Duration::ZERO,
                    buckets: [0; AGE_BUCKETS],
                };
                (d, 0)
            });
            if *last != seq {
                *last = seq;
                d.messages += 1;
            }
            d.recipients += 1;
            d.deferred += u64::from(matches!(st, RecipientState::Deferred { .. }));
            d.oldest = d.oldest.max(age);
            d.buckets[b] += 1;
        }
    }
    s.destinations = dests.into_values().map(|(d, _)| d).collect();
    s.destinations.sort_by(|a, b| {
        b.recipients
            .cmp(&a.recipients)
            .then_with(|| a.destination.cmp(&b.destination))
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_state_destination_and_age() {
        let now = Timestamp(100 * 60_000);
        let e1 = Envelope::new("a@x", ["p@one", "q@one", "r@two"], Timestamp(99 * 60_000));
        let e2 = Envelope::new("a@x", ["s@two"], Timestamp(0));
        let mut s1 = MessageState::new(3);
        s1.recipients[1] = RecipientState::Delivered {
            at: now,
            reply: String::new(),
        };
        s1.recipients[2] = RecipientState::Deferred {
            attempts: 1,
            first_failure: now,
            last_gap: Duration::ZERO,
            next_attempt: now,
            last_reply: String::new(),
        };
        let mut s2 = MessageState::new(1);
        s2.held = true;
        let sum = summarize([(&e1, &s1), (&e2, &s2)], now);
        assert_eq!(sum.messages, 2);
        assert_eq!(sum.held_messages, 1);
        assert_eq!(
            sum.states,
            StateCounts {
                pending: 2,
                deferred: 1,
                delivered: 1,
                failed: 0
            }
        );
        assert_eq!(sum.oldest, Duration::from_secs(6000));
        assert_eq!(sum.destinations.len(), 2);
        let two = &sum.destinations[0];
        assert_eq!(
            (
                two.destination.as_str(),
                two.messages,
                two.recipients,
                two.deferred
            ),
            ("two", 2, 2, 1)
        );
        assert_eq!(two.buckets[0], 1);
        assert_eq!(two.buckets[5], 1, "100 minutes is in the 80-160 bucket");
        assert_eq!(sum.destinations[1].recipients, 1);
        assert_eq!(bucket(Duration::from_secs(10 * 86400)), AGE_BUCKETS - 1);
    }
}
