//! An attempt's outcomes applied to a message's state: the same decisions as
//! `postern_queue::Queue::report`, made with postern-queue's own policy types (retry
//! schedules, per-priority time-outs, the destination backoff's delays), on state read
//! from and written back to the database in one transaction.

use std::time::Duration;

use postern_queue::backoff::{BackoffEntry, behind_destination};
use postern_queue::policy::GiveUpReason;
use postern_queue::{
    AttemptResult, Envelope, FailReason, FailedRecipient, FailureClass, MessageState, Outcome,
    QueueConfig, QueueId, RecipientState, RetryDecision, RetryInput, Timestamp,
};

/// The destination's backoff as the attempt leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackoffChange {
    /// Nothing said about the destination.
    Unchanged,
    /// The destination answered: its backoff is cleared.
    Cleared,
    /// The destination failed: its new entry.
    Failed(BackoffEntry),
}

/// Applies `outcomes` (envelope index, outcome) of an attempt at `now` to `state`.
/// `backoff` is the destination's entry before the attempt. Returns what the report
/// decided and how the destination's backoff changes.
pub fn apply(
    config: &QueueConfig,
    id: QueueId,
    env: &Envelope,
    state: &mut MessageState,
    mut backoff: Option<BackoffEntry>,
    outcomes: &[(usize, Outcome)],
    now: Timestamp,
) -> (AttemptResult, BackoffChange) {
    let mut result = AttemptResult::default();
    let mut change = BackoffChange::Unchanged;
    let expires = config
        .lifetimes
        .expires(env.arrival, env.priority, env.is_notification());
    // A destination-level failure backs the destination off once per attempt.
    let mut dest_until: Option<Timestamp> = None;
    for (index, outcome) in outcomes {
        let Some(cur) = state.recipients.get(*index).filter(|s| !s.is_final()) else {
            continue;
        };
        let next = match outcome {
            Outcome::Delivered(reply) => {
                backoff = None;
                change = BackoffChange::Cleared;
                RecipientState::Delivered {
                    at: now,
                    reply: reply.clone(),
                }
            }
            // Neutral for the backoff, as on one node.
            Outcome::Failed(reply) => RecipientState::Failed {
                at: now,
                reason: FailReason::Rejected,
                reply: reply.clone(),
            },
            Outcome::Deferred { class, reply } if class.is_destination() => {
                let until = *dest_until.get_or_insert_with(|| {
                    let e = record_failure(config, backoff.take(), *class, now);
                    let until = e.until;
                    change = BackoffChange::Failed(e.clone());
                    backoff = Some(e);
                    until
                });
                behind_destination(cur, until, expires, now, reply)
            }
            Outcome::Deferred { reply, .. } => {
                backoff = None;
                change = BackoffChange::Cleared;
                retry_state(config, id, env, *index, cur, expires, now, reply)
            }
        };
        if let RecipientState::Failed { reason, reply, .. } = &next {
            result.failed.push(FailedRecipient {
                index: *index,
                address: env.recipients[*index].address.clone(),
                reason: *reason,
                reply: reply.clone(),
            });
        }
        state.recipients[*index] = next;
    }
    result.completed = state.is_complete();
    (result, change)
}

/// The destination's entry after one more failure: `BackoffPolicy::delay` of the new
/// failure count from now, never earlier than it already was (as `Backoff::record_failure`).
fn record_failure(
    config: &QueueConfig,
    prev: Option<BackoffEntry>,
    class: FailureClass,
    now: Timestamp,
) -> BackoffEntry {
    let (failures, until) = prev.map_or((0, now), |e| (e.failures, e.until));
    let failures = failures.saturating_add(1);
    BackoffEntry {
        failures,
        last_failure: now,
        until: until.max(now + config.backoff.delay(failures)),
        class,
    }
}

/// A recipient's attempts, first failure and last gap so far.
fn prior(cur: &RecipientState, now: Timestamp) -> (u32, Timestamp, Duration) {
    match cur {
        RecipientState::Deferred {
            attempts,
            first_failure,
            last_gap,
            ..
        } => (*attempts, *first_failure, *last_gap),
        _ => (0, now, Duration::ZERO),
    }
}

/// A recipient's own deferral: the next attempt by its priority's retry schedule.
#[allow(clippy::too_many_arguments)] // one recipient's whole context, read once
fn retry_state(
    config: &QueueConfig,
    id: QueueId,
    env: &Envelope,
    index: usize,
    cur: &RecipientState,
    expires: Timestamp,
    now: Timestamp,
    reply: &str,
) -> RecipientState {
    let (attempts, first_failure, last_gap) = prior(cur, now);
    let failures = attempts.saturating_add(1);
    // The jitter's seed: fixed per recipient (the policy mixes it itself).
    let seed = id.millis ^ (u64::from(id.seq) << 40) ^ index as u64;
    let input = RetryInput {
        failures,
        first_failure,
        last_gap,
        expires,
        seed,
    };
    match config.retry_for(env.priority).next_attempt(&input, now) {
        RetryDecision::RetryAt { at, gap } => RecipientState::Deferred {
            attempts: failures,
            first_failure,
            last_gap: gap,
            next_attempt: at,
            last_reply: reply.to_owned(),
        },
        RetryDecision::GiveUp(why) => RecipientState::Failed {
            at: now,
            reason: match why {
                GiveUpReason::Expired => FailReason::Expired,
                _ => FailReason::RetriesExhausted,
            },
            reply: reply.to_owned(),
        },
    }
}

/// When the unfinished recipients of `env` at `dest` are next due (`None`: none left).
pub fn dest_due(
    env: &Envelope,
    state: &MessageState,
    dest: &str,
    now: Timestamp,
) -> Option<Timestamp> {
    env.recipients
        .iter()
        .zip(&state.recipients)
        .filter(|(r, _)| r.destination == dest)
        .filter_map(|(_, st)| match st {
            RecipientState::Pending => Some(now),
            RecipientState::Deferred { next_attempt, .. } => Some(*next_attempt),
            _ => None,
        })
        .min()
}

/// The distinct destinations of an envelope, sorted.
pub fn destinations(env: &Envelope) -> Vec<String> {
    let mut d: Vec<String> = env
        .recipients
        .iter()
        .map(|r| r.destination.clone())
        .collect();
    d.sort_unstable();
    d.dedup();
    d
}
