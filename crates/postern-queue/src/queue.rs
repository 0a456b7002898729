//! The queue: the spool, the scheduler, the retry policy and the backoff table composed.
//!
//! [`Queue`] is what a gateway embeds. SMTP sessions call [`Queue::enqueue`] from any
//! thread (each call is durable on return, fsyncs are shared); the delivery loop asks
//! [`Queue::due`] for work and hands each attempt's outcome to [`Queue::report`], which
//! applies the retry policy and time-outs and persists the per-recipient state. Delay
//! notices go by age alone: a timer asks [`Queue::take_delay_notices`], which records
//! (durably) that each was taken. Every call takes `now`.
//!
//! The backoff table is soft state: it lives in memory and starts empty after a restart.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use rustc_hash::FxHashMap;

use crate::backoff::{Backoff, BackoffPolicy, FailureClass, behind_destination};
use crate::control::{self, Command};
use crate::envelope::{Envelope, FailReason, MessageState, RecipientState};
use crate::id::QueueId;
use crate::lifetime::{DelayNotices, Lifetimes};
use crate::policy::{GiveUpReason, RetryDecision, RetryInput, RetryPolicy, mix64};
use crate::scheduler::{Scheduler, Target};
use crate::spool::{
    Pending, Recovered, Spool, SpoolError, SpoolOptions, SpooledMessage, write_atomic,
};
use crate::summary::{Summary, summarize};
use crate::time::Timestamp;

const HOLDS_FILE: &str = "holds";

/// Everything a queue is configured with.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct QueueConfig {
    /// When to retry deferred recipients (default: the IMS schedule).
    pub retry: RetryPolicy,
    /// The schedule for urgent messages, when it differs from `retry` (the IMS retry
    /// intervals "based on the priority level"). Default: none, `retry` applies.
    pub retry_urgent: Option<RetryPolicy>,
    /// The schedule for non-urgent messages, when it differs from `retry`. Default: none.
    pub retry_non_urgent: Option<RetryPolicy>,
    /// Per-priority time-outs.
    pub lifetimes: Lifetimes,
    /// When delay notices are due.
    pub delay_notices: DelayNotices,
    /// How failing destinations are backed off.
    pub backoff: BackoffPolicy,
    /// Spool settings.
    pub spool: SpoolOptions,
}

impl QueueConfig {
    /// The retry schedule for messages of `priority`.
    pub fn retry_for(&self, priority: crate::lifetime::Priority) -> &RetryPolicy {
        use crate::lifetime::Priority;
        let special = match priority {
            Priority::Urgent => self.retry_urgent.as_ref(),
            Priority::NonUrgent => self.retry_non_urgent.as_ref(),
            Priority::Normal => None,
        };
        special.unwrap_or(&self.retry)
    }
}

/// One recipient of a [`Delivery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecipient {
    /// Its index in the envelope (pass it back to [`Queue::report`]).
    pub index: usize,
    /// Its address.
    pub address: String,
}

/// An attempt to make: one message to one destination, for the recipients ready now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The message.
    pub id: QueueId,
    /// The destination.
    pub destination: String,
    /// The reverse-path.
    pub sender: String,
    /// The recipients to try.
    pub recipients: Vec<DeliveryRecipient>,
}

/// What happened to one recipient in an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted; the reply.
    Delivered(String),
    /// Temporarily failed at the step `class`; the reply.
    Deferred {
        /// Which step failed.
        class: FailureClass,
        /// The reply (or a description of the connection failure).
        reply: String,
    },
    /// Permanently refused; the reply.
    Failed(String),
}

/// A recipient that just became failed: a failure notice is due unless the sender is null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecipient {
    /// Its envelope index.
    pub index: usize,
    /// Its address.
    pub address: String,
    /// Why.
    pub reason: FailReason,
    /// The last reply.
    pub reply: String,
}

/// What [`Queue::report`] decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttemptResult {
    /// Every recipient is final: the message left the spool.
    pub completed: bool,
    /// Recipients that failed with this report.
    pub failed: Vec<FailedRecipient>,
    /// Always false: delay notices no longer ride on attempts; they are due by age alone
    /// and taken with [`Queue::take_delay_notices`]. Kept for callers that read it.
    pub delay_notice: bool,
    /// The decision is made but its record is not yet on disk (the spool could not write:
    /// a full disk); the error. The spool keeps the record and writes it with its next
    /// flush that succeeds, so the caller must treat the outcome as final all the same and
    /// never attempt the delivery again.
    pub unrecorded: Option<String>,
}

#[derive(Debug)]
struct Msg {
    env: Envelope,
    state: MessageState,
    size: u64,
}

#[derive(Debug, Default)]
struct State {
    sched: Scheduler,
    backoff: Backoff,
    msgs: FxHashMap<QueueId, Msg>,
}

/// A queue over a spool directory.
#[derive(Debug)]
pub struct Queue {
    spool: Spool,
    config: QueueConfig,
    state: Mutex<State>,
}

/// When the unfinished recipients of `env` at `dest` are next due.
fn dest_due(env: &Envelope, state: &MessageState, dest: &str, now: Timestamp) -> Option<Timestamp> {
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

fn destinations(env: &Envelope) -> Vec<&str> {
    let mut d: Vec<&str> = env
        .recipients
        .iter()
        .map(|r| r.destination.as_str())
        .collect();
    d.sort_unstable();
    d.dedup();
    d
}

fn schedule_message(sched: &mut Scheduler, id: QueueId, msg: &Msg, now: Timestamp) {
    if msg.state.held {
        sched.hold(&Target::Message(id));
    }
    for dest in destinations(&msg.env) {
        if let Some(at) = dest_due(&msg.env, &msg.state, dest, now) {
            sched.schedule(id, dest, at);
        }
    }
}

impl Queue {
    /// Opens the spool at `dir` (recovering it) and rebuilds the schedule.
    pub fn open(
        dir: impl AsRef<Path>,
        config: QueueConfig,
        now: Timestamp,
    ) -> Result<(Queue, Recovered), SpoolError> {
        let (spool, recovered) = Spool::open(dir, config.spool.clone())?;
        let mut st = State {
            backoff: Backoff::new(config.backoff.clone()),
            ..State::default()
        };
        for target in read_holds(spool.dir()) {
            st.sched.hold(&target);
        }
        let mut done = Vec::new();
        for m in &recovered.messages {
            let msg = Msg {
                env: m.envelope.clone(),
                state: m.state.clone(),
                size: m.size,
            };
            if msg.state.is_complete() {
                done.push(m.id);
                continue;
            }
            schedule_message(&mut st.sched, m.id, &msg, now);
            st.msgs.insert(m.id, msg);
        }
        for id in done {
            spool.remove(id)?;
        }
        Ok((
            Queue {
                spool,
                config,
                state: Mutex::new(st),
            },
            recovered,
        ))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The spool underneath.
    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// Stores a message durably and schedules it for every destination at `now`.
    ///
    /// Blocks until the record is on disk (fsync): async callers run it off the runtime
    /// (`spawn_blocking`), see [the crate docs](crate#blocking-calls).
    pub fn enqueue(
        &self,
        envelope: &Envelope,
        body: &[u8],
        now: Timestamp,
    ) -> Result<QueueId, SpoolError> {
        self.enqueue_shared(envelope, Bytes::copy_from_slice(body), now)
    }

    /// [`Queue::enqueue`] for a body already in shared memory, which the spool writes from
    /// there instead of copying it ([`Spool::enqueue_shared`]).
    pub fn enqueue_shared(
        &self,
        envelope: &Envelope,
        body: Bytes,
        now: Timestamp,
    ) -> Result<QueueId, SpoolError> {
        let size = body.len() as u64;
        let id = self.spool.enqueue_shared(envelope, body, now)?;
        self.admit(id, envelope, size, now);
        Ok(id)
    }

    /// Schedules a message whose enqueue record is durable, for an async caller that
    /// appended it with [`Spool::enqueue_begin`] and waited with [`Spool::poll_durable`]
    /// (`size`: its body's length). A message must not be admitted before then: it could
    /// be delivered and still be refused. [`Queue::enqueue`] does both steps itself.
    pub fn admit(&self, id: QueueId, envelope: &Envelope, size: u64, now: Timestamp) {
        let msg = Msg {
            env: envelope.clone(),
            state: MessageState::new(envelope.recipients.len()),
            size,
        };
        let mut g = self.lock();
        schedule_message(&mut g.sched, id, &msg, now);
        g.msgs.insert(id, msg);
    }

    /// Up to `max` attempts due at `now`. Destinations (and recipients) under backoff are
    /// re-timed to the end of their backoff instead, without burning an attempt. Every
    /// delivery handed out must come back through [`Queue::report`] (with no outcomes if it
    /// was not attempted) to be scheduled again.
    pub fn due(&self, now: Timestamp, max: usize) -> Vec<Delivery> {
        let mut g = self.lock();
        let st = &mut *g;
        let mut out = Vec::new();
        while out.len() < max {
            let jobs = st.sched.pop_due(now, max - out.len());
            if jobs.is_empty() {
                break;
            }
            for job in jobs {
                let Some(msg) = st.msgs.get(&job.id) else {
                    continue;
                };
                let dest: &str = &job.destination;
                if let Some(t) = st.backoff.ready_at(dest, now) {
                    st.sched.schedule(job.id, dest, t);
                    continue;
                }
                let mut recipients = Vec::new();
                let mut later: Option<Timestamp> = None;
                for (index, (r, s)) in msg
                    .env
                    .recipients
                    .iter()
                    .zip(&msg.state.recipients)
                    .enumerate()
                {
                    let ready = match s {
                        _ if r.destination != dest => continue,
                        RecipientState::Pending => now,
                        RecipientState::Deferred { next_attempt, .. } => *next_attempt,
                        _ => continue,
                    };
                    if ready <= now {
                        recipients.push(DeliveryRecipient {
                            index,
                            address: r.address.clone(),
                        });
                    } else {
                        later = later.min(Some(ready)).or(Some(ready));
                    }
                }
                if recipients.is_empty() {
                    if let Some(t) = later {
                        st.sched.schedule(job.id, dest, t);
                    }
                    continue;
                }
                out.push(Delivery {
                    id: job.id,
                    destination: dest.to_owned(),
                    sender: msg.env.sender.clone(),
                    recipients,
                });
            }
        }
        out
    }

    /// Applies the outcomes of an attempt (`(envelope index, outcome)` pairs), persists the
    /// new state durably, and re-schedules or completes the message.
    ///
    /// Blocks until the new state is on disk (fsync): async callers run it off the runtime
    /// (`spawn_blocking`), see [the crate docs](crate#blocking-calls).
    pub fn report(
        &self,
        delivery: &Delivery,
        outcomes: &[(usize, Outcome)],
        now: Timestamp,
    ) -> Result<AttemptResult, SpoolError> {
        let (mut result, pending) = self.report_begin(delivery, outcomes, now)?;
        if let Some(pending) = pending
            && let Err(e) = self.spool.wait(pending)
        {
            // The decision stands in memory, and the spool keeps the record (issue 25).
            result.unrecorded = Some(e.to_string());
        }
        Ok(result)
    }

    /// [`Queue::report`] without waiting for the disk: the decision is made and its record
    /// appended (memory only, no I/O), and the [`Pending`] to pass to [`Spool::wait`] is
    /// returned (`None` when the message was no longer queued: nothing was written).
    /// Until that wait returns, a crash may lose the record: the message is then attempted
    /// again after the restart (a delivered one is delivered twice, never lost). A caller
    /// that accepts that for some outcomes, as an MTA does for the removal of a delivered
    /// message, skips the wait and lets a later flush ([`Spool::sync`], or the next
    /// enqueue's group commit) carry the record.
    pub fn report_begin(
        &self,
        delivery: &Delivery,
        outcomes: &[(usize, Outcome)],
        now: Timestamp,
    ) -> Result<(AttemptResult, Option<Pending>), SpoolError> {
        let mut g = self.lock();
        let st = &mut *g;
        let id = delivery.id;
        let Some(msg) = st.msgs.get_mut(&id) else {
            return Ok((AttemptResult::default(), None));
        };
        let mut result = AttemptResult::default();
        let env = &msg.env;
        let expires =
            self.config
                .lifetimes
                .expires(env.arrival, env.priority, env.is_notification());
        // Destination-level failures back the destination off once per attempt; its
        // recipients wait for the end of the backoff without using up retries.
        let mut dest_until: Option<Option<Timestamp>> = None;
        for (index, outcome) in outcomes {
            let Some(cur) = msg.state.recipients.get(*index).filter(|s| !s.is_final()) else {
                continue;
            };
            let r = &env.recipients[*index];
            let next = match outcome {
                Outcome::Delivered(reply) => {
                    st.backoff.record_success(&r.destination);
                    RecipientState::Delivered {
                        at: now,
                        reply: reply.clone(),
                    }
                }
                // Neutral for the backoff: a 5xx may come from before any connection
                // (no route, a size limit), saying nothing about the destination.
                Outcome::Failed(reply) => RecipientState::Failed {
                    at: now,
                    reason: FailReason::Rejected,
                    reply: reply.clone(),
                },
                Outcome::Deferred { class, reply } if class.is_destination() => {
                    let until = *dest_until.get_or_insert_with(|| {
                        st.backoff.record_failure(&r.destination, *class, now)
                    });
                    behind_destination(cur, until.unwrap_or(now), expires, now, reply)
                }
                Outcome::Deferred { reply, .. } => {
                    // The destination answered: it is not down.
                    st.backoff.record_success(&r.destination);
                    let (failures, first_failure, last_gap) = match cur {
                        RecipientState::Deferred {
                            attempts,
                            first_failure,
                            last_gap,
                            ..
                        } => (attempts.saturating_add(1), *first_failure, *last_gap),
                        _ => (1, now, Duration::ZERO),
                    };
                    let seed = mix64(id.millis ^ (u64::from(id.seq) << 40) ^ *index as u64);
                    let input = RetryInput {
                        failures,
                        first_failure,
                        last_gap,
                        expires,
                        seed,
                    };
                    match self
                        .config
                        .retry_for(env.priority)
                        .next_attempt(&input, now)
                    {
                        RetryDecision::RetryAt { at, gap } => RecipientState::Deferred {
                            attempts: failures,
                            first_failure,
                            last_gap: gap,
                            next_attempt: at,
                            last_reply: reply.clone(),
                        },
                        RetryDecision::GiveUp(why) => {
                            let reason = match why {
                                GiveUpReason::Expired => FailReason::Expired,
                                _ => FailReason::RetriesExhausted,
                            };
                            RecipientState::Failed {
                                at: now,
                                reason,
                                reply: reply.clone(),
                            }
                        }
                    }
                }
            };
            if let RecipientState::Failed { reason, reply, .. } = &next {
                result.failed.push(FailedRecipient {
                    index: *index,
                    address: r.address.clone(),
                    reason: *reason,
                    reply: reply.clone(),
                });
            }
            msg.state.recipients[*index] = next;
        }
        result.completed = msg.state.is_complete();
        let pending = if result.completed {
            st.msgs.remove(&id);
            st.sched.remove_message(id);
            self.spool.remove_begin(id)?
        } else {
            if let Some(at) = dest_due(&msg.env, &msg.state, &delivery.destination, now) {
                st.sched.schedule(id, &delivery.destination, at);
            }
            self.spool.update_begin(id, &mut msg.state)?
        };
        Ok((result, Some(pending)))
    }

    /// Takes the delay notices due at `now`: every queued message (not a notification)
    /// that reached the age of its next notice. Each one's notice count is advanced past
    /// every age reached and persisted before this returns, so a notice is never taken
    /// twice, across restarts too (at most once: a crash before the caller queued the
    /// notice loses it). Returns those messages as they stand, and when the next notice
    /// of a message still queued is due (`None`: none is). Scans every queued message:
    /// call it on a timer, not per delivery.
    pub fn take_delay_notices(
        &self,
        now: Timestamp,
    ) -> Result<(Vec<SpooledMessage>, Option<Timestamp>), SpoolError> {
        let notices = &self.config.delay_notices;
        let mut g = self.lock();
        let mut due = Vec::new();
        let mut next: Option<Timestamp> = None;
        let mut last: Option<Pending> = None;
        for (id, m) in g.msgs.iter_mut() {
            let at = notices.next_due(
                m.env.arrival,
                m.state.delay_notices_sent,
                m.env.is_notification(),
            );
            match at {
                Some(t) if t <= now && !m.state.is_complete() => {
                    m.state.delay_notices_sent = notices.reached(m.env.arrival, now);
                    last = Some(self.spool.update_begin(*id, &mut m.state)?);
                    due.push(SpooledMessage {
                        id: *id,
                        envelope: m.env.clone(),
                        state: m.state.clone(),
                        size: m.size,
                    });
                    let after = notices.next_due(m.env.arrival, m.state.delay_notices_sent, false);
                    next = earliest(next, after);
                }
                Some(t) => next = earliest(next, Some(t)),
                None => {}
            }
        }
        drop(g);
        if let Some(p) = last {
            self.spool.wait(p)?;
        }
        due.sort_by_key(|m| m.id);
        Ok((due, next))
    }

    /// The earliest time anything is due (for the delivery loop's timer); `None` when the
    /// queue is empty or everything is held.
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        self.lock().sched.next_due()
    }

    /// Holds a message (persisted in its state), a destination or everything (persisted in
    /// the spool's `holds` file). Returns the number of messages or holds affected.
    pub fn hold(&self, target: &Target) -> Result<usize, SpoolError> {
        self.set_hold(target, true)
    }

    /// Releases a hold; `Target::All` releases every hold, individual ones included.
    pub fn release(&self, target: &Target) -> Result<usize, SpoolError> {
        self.set_hold(target, false)
    }

    fn set_hold(&self, target: &Target, hold: bool) -> Result<usize, SpoolError> {
        let mut g = self.lock();
        let st = &mut *g;
        let ids: Vec<QueueId> = match target {
            Target::Message(id) if st.msgs.contains_key(id) => vec![*id],
            Target::Message(id) => return Err(SpoolError::NotFound(*id)),
            Target::All if !hold => st
                .msgs
                .iter()
                .filter(|(_, m)| m.state.held)
                .map(|(id, _)| *id)
                .collect(),
            _ => Vec::new(),
        };
        if hold {
            st.sched.hold(target);
        } else {
            st.sched.release(target);
        }
        let mut last: Option<Pending> = None;
        for id in &ids {
            if let Some(m) = st.msgs.get_mut(id) {
                m.state.held = hold;
                last = Some(self.spool.update_begin(*id, &mut m.state)?);
            }
        }
        let holds = holds_text(&st.sched);
        drop(g);
        if let Some(p) = last {
            self.spool.wait(p)?;
        }
        if !matches!(target, Target::Message(_)) {
            write_atomic(&self.spool.dir().join(HOLDS_FILE), holds.as_bytes())?;
        }
        Ok(ids
            .len()
            .max(usize::from(!matches!(target, Target::Message(_)))))
    }

    /// Makes matching messages due now: one message, one destination (like ETRN: its
    /// backoff is cleared too), or everything. Deferred recipients get `next_attempt = now`,
    /// persisted, so the request survives a restart. Returns the number of jobs made due.
    pub fn retry(&self, target: &Target, now: Timestamp) -> Result<usize, SpoolError> {
        let mut g = self.lock();
        let st = &mut *g;
        match target {
            Target::Destination(d) => st.backoff.clear(d),
            Target::All => st.backoff = Backoff::new(self.config.backoff.clone()),
            Target::Message(id) if !st.msgs.contains_key(id) => {
                return Err(SpoolError::NotFound(*id));
            }
            Target::Message(_) => {}
        }
        let mut last: Option<Pending> = None;
        for (id, m) in st.msgs.iter_mut() {
            if matches!(target, Target::Message(t) if t != id) {
                continue;
            }
            let mut changed = false;
            for (r, s) in m.env.recipients.iter().zip(m.state.recipients.iter_mut()) {
                if matches!(target, Target::Destination(d) if *d != r.destination) {
                    continue;
                }
                if let RecipientState::Deferred { next_attempt, .. } = s
                    && *next_attempt > now
                {
                    *next_attempt = now;
                    changed = true;
                }
            }
            if changed {
                last = Some(self.spool.update_begin(*id, &mut m.state)?);
            }
        }
        let n = st.sched.retry_now(target, now);
        drop(g);
        if let Some(p) = last {
            self.spool.wait(p)?;
        }
        Ok(n)
    }

    /// Deletes a message without notice.
    pub fn delete(&self, id: QueueId) -> Result<(), SpoolError> {
        let pending = {
            let mut g = self.lock();
            if g.msgs.remove(&id).is_none() {
                return Err(SpoolError::NotFound(id));
            }
            g.sched.remove_message(id);
            self.spool.remove_begin(id)?
        };
        self.spool.wait(pending)
    }

    /// Applies an administrative command; returns a one-line answer.
    pub fn apply(&self, cmd: &Command, now: Timestamp) -> Result<String, SpoolError> {
        Ok(match cmd {
            Command::Hold(t) => format!("held {t} ({} affected)", self.hold(t)?),
            Command::Release(t) => format!("released {t} ({} affected)", self.release(t)?),
            Command::Retry(t) => format!("retry {t}: {} jobs due now", self.retry(t, now)?),
            Command::Delete(Target::Message(id)) => {
                self.delete(*id)?;
                format!("deleted {id}")
            }
            Command::Delete(t) => format!("not deleted: {t} is not one message"),
            Command::Etrn(c) => {
                format!("no ETRN sent for connector {c}: only a running gateway sends it")
            }
        })
    }

    /// Applies the requests `postern queue` left in `control/` (see [`crate::control`]).
    /// The gateway calls this whenever its scheduler wakes, at least once a second.
    /// Returns the number of requests answered.
    pub fn poll_control(&self, now: Timestamp) -> Result<usize, SpoolError> {
        let requests = control::pending_requests(self.spool.dir())?;
        for req in &requests {
            let answer = match control::read_request(req) {
                Ok(cmd) => match self.apply(&cmd, now) {
                    Ok(a) => format!("ok: {a}"),
                    Err(e) => format!("error: {e}"),
                },
                Err(e) => format!("error: {e}"),
            };
            control::answer(req, &answer)?;
        }
        Ok(requests.len())
    }

    /// All queued messages, in arrival order.
    pub fn messages(&self) -> Vec<SpooledMessage> {
        let g = self.lock();
        let mut v: Vec<SpooledMessage> = g
            .msgs
            .iter()
            .map(|(id, m)| SpooledMessage {
                id: *id,
                envelope: m.env.clone(),
                state: m.state.clone(),
                size: m.size,
            })
            .collect();
        v.sort_by_key(|m| m.id);
        v
    }

    /// One queued message.
    pub fn message(&self, id: QueueId) -> Option<SpooledMessage> {
        let g = self.lock();
        g.msgs.get(&id).map(|m| SpooledMessage {
            id,
            envelope: m.env.clone(),
            state: m.state.clone(),
            size: m.size,
        })
    }

    /// A message's body, as read from its spool record (handed out without another
    /// copy: cloning a [`bytes::Bytes`] shares the buffer).
    pub fn body(&self, id: QueueId) -> Result<bytes::Bytes, SpoolError> {
        Ok(bytes::Bytes::from(self.spool.read(id)?.1))
    }

    /// A message's body as a reader, for callers that pass it on (to a socket, a file, a
    /// parser) with `std::io::copy` instead of holding it: it reads the spool a buffer at
    /// a time, and a compaction that moves or deletes the record meanwhile does not
    /// disturb it. A damaged record ends in an `InvalidData` error instead of the end of
    /// the body ([`crate::body`]). Blocks on file I/O, see
    /// [the crate docs](crate#blocking-calls).
    pub fn body_reader(&self, id: QueueId) -> Result<crate::body::BodyReader, SpoolError> {
        let size = self
            .lock()
            .msgs
            .get(&id)
            .map(|m| m.size)
            .ok_or(SpoolError::NotFound(id))?;
        let (file, path, off, len) = self.spool.enqueue_record(id)?;
        crate::body::BodyReader::new(file, path.clone(), off, len, size).map_err(|source| {
            SpoolError::Io {
                op: "read",
                path,
                source,
            }
        })
    }

    /// The qshape-like summary as of `now`.
    pub fn summary(&self, now: Timestamp) -> Summary {
        let g = self.lock();
        summarize(g.msgs.values().map(|m| (&m.env, &m.state)), now)
    }

    /// Number of queued messages.
    pub fn len(&self) -> usize {
        self.lock().msgs.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reclaims spool space (see [`Spool::compact`]); call it when idle, e.g. once a minute.
    pub fn compact(&self, max_copy: u64) -> Result<usize, SpoolError> {
        self.spool.compact(max_copy)
    }

    /// The destinations backed off at `now` (see [`crate::backoff`]), sorted by name:
    /// what the queue views show as "waits for the destination".
    pub fn backoff_entries(&self, now: Timestamp) -> Vec<(String, crate::backoff::BackoffEntry)> {
        self.lock().backoff.active(now)
    }

    /// Clears the backoff of `destination` (an administrator retrying one of its
    /// messages); true when it was backed off.
    pub fn clear_backoff(&self, destination: &str, now: Timestamp) -> bool {
        let mut g = self.lock();
        let was = g.backoff.ready_at(destination, now).is_some();
        g.backoff.clear(destination);
        was
    }

    /// The destination holds and whether everything is held.
    pub fn holds(&self) -> (bool, Vec<String>) {
        let g = self.lock();
        (g.sched.all_held(), g.sched.held_destinations())
    }
}

/// The earlier of two optional times (`None` is "never").
fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        _ => a.or(b),
    }
}

fn holds_text(sched: &Scheduler) -> String {
    let mut s = String::new();
    if sched.all_held() {
        s.push_str("all\n");
    }
    for d in sched.held_destinations() {
        s.push_str(&format!("destination {d}\n"));
    }
    s
}

/// The persisted destination and global holds (`holds` file; unreadable lines ignored).
pub fn read_holds(dir: &Path) -> Vec<Target> {
    std::fs::read_to_string(dir.join(HOLDS_FILE))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifetime::Priority;

    const H: u64 = 3_600_000;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("postern-queue-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn deferred(class: FailureClass) -> Outcome {
        Outcome::Deferred {
            class,
            reply: "451 later".into(),
        }
    }

    #[test]
    fn ims_schedule_through_the_queue_then_expiry() {
        let dir = tmp("ims");
        let t0 = Timestamp(1_000 * H);
        let (q, _) = Queue::open(&dir, QueueConfig::default(), t0).unwrap();
        let id = q
            .enqueue(&Envelope::new("s@x", ["r@dest"], t0), b"hi", t0)
            .unwrap();
        let mut now = t0;
        let mut times = Vec::new();
        let mut notices: Vec<u64> = Vec::new();
        loop {
            let d = q.due(now, 10);
            assert_eq!(d.len(), 1, "due at {now}");
            // a recipient-level 4xx: no destination backoff in the way of the schedule
            let res = q
                .report(&d[0], &[(0, deferred(FailureClass::Recipient))], now)
                .unwrap();
            assert!(!res.delay_notice, "notices go by age, not with attempts");
            let (due, _) = q.take_delay_notices(now).unwrap();
            if !due.is_empty() {
                notices.push(now.0 - t0.0);
            }
            if res.completed {
                assert_eq!(res.failed[0].reason, FailReason::Expired);
                break;
            }
            let next = q.next_wakeup().unwrap();
            assert!(q.due(Timestamp(next.0 - 1), 10).is_empty());
            times.push(next.0 - t0.0);
            now = next;
        }
        // first attempt at t0, then 1 h, 2.5 h, 4.75 h, 8.125 h, 13.1875 h, 20.78 h, 32.17 h,
        // then the expiry at 48 h (normal priority).
        let want: Vec<u64> = [1.0, 2.5, 4.75, 8.125, 13.1875, 20.78125, 32.171875]
            .iter()
            .map(|h| (h * H as f64).round() as u64)
            .chain([48 * H])
            .collect();
        assert_eq!(times, want);
        // One delay notice (the default age 4 h), taken at the first look after it.
        assert_eq!(notices, vec![want[2]]);
        assert!(!q.spool().contains(id));
        drop(q);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn per_recipient_completion_backoff_and_notices() {
        let dir = tmp("rcpt");
        let t0 = Timestamp(10 * H);
        let (q, _) = Queue::open(&dir, QueueConfig::default(), t0).unwrap();
        let env = Envelope::new("s@x", ["a@one", "b@two", "c@two"], t0);
        let id = q.enqueue(&env, b"body", t0).unwrap();
        let mut d = q.due(t0, 10);
        d.sort_by(|a, b| a.destination.cmp(&b.destination));
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].recipients.len(), 2);
        q.report(&d[0], &[(0, Outcome::Delivered("250 ok".into()))], t0)
            .unwrap();
        let r = q
            .report(
                &d[1],
                &[
                    (1, deferred(FailureClass::Connection)),
                    (2, deferred(FailureClass::Connection)),
                ],
                t0,
            )
            .unwrap();
        assert!(!r.completed && r.failed.is_empty());
        // A new message for the backed-off destination waits (no attempt burned).
        let id2 = q
            .enqueue(&Envelope::new("s@x", ["d@two"], t0), b"x", t0)
            .unwrap();
        assert!(q.due(t0, 10).is_empty());
        let m = q.message(id2).unwrap();
        assert_eq!(m.state.recipients[0], RecipientState::Pending);
        // Waiting for the destination used up no retry of the deferred ones.
        let st = q.message(id).unwrap().state;
        assert_eq!(st.recipients[1].attempts(), 0);
        // After the 1 min backoff both messages go (not the 1 h retry interval); the
        // destination answers a 4xx to the new one's RCPT: its own schedule, no backoff.
        let t1 = t0 + Duration::from_secs(60);
        let mut d = q.due(t1, 10);
        d.sort_by_key(|d| d.id);
        assert_eq!(d.iter().map(|d| d.id).collect::<Vec<_>>(), vec![id, id2]);
        q.report(&d[1], &[(0, deferred(FailureClass::Recipient))], t1)
            .unwrap();
        assert_eq!(q.backoff_entries(t1), vec![], "the destination answered");
        assert_eq!(q.message(id2).unwrap().state.recipients[0].attempts(), 1);
        q.report(
            &d[0],
            &[
                (1, Outcome::Delivered("250".into())),
                (2, Outcome::Failed("550 no".into())),
            ],
            t1,
        )
        .unwrap();
        let r = q.message(id2).unwrap();
        assert!(
            matches!(r.state.recipients[0], RecipientState::Deferred { next_attempt, .. } if next_attempt == t1 + Duration::from_secs(3600))
        );
        // An hour later the second message's recipient finishes.
        let t4 = t1 + Duration::from_secs(3600);
        let d = q.due(t4, 10);
        assert_eq!(d.len(), 1);
        q.report(&d[0], &[(0, Outcome::Delivered("250".into()))], t4)
            .unwrap();
        assert!(q.is_empty());
        assert!(!q.spool().contains(id));
        drop(q);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn destination_outage_fails_at_the_time_out_not_by_retries() {
        let dir = tmp("outage");
        let t0 = Timestamp(10 * H);
        let config = QueueConfig {
            retry: "ims(1m, 1.5, 1)".parse().unwrap(),
            ..QueueConfig::default()
        };
        let (q, _) = Queue::open(&dir, config, t0).unwrap();
        let id = q
            .enqueue(&Envelope::new("s@x", ["a@down"], t0), b"body", t0)
            .unwrap();
        let mut now = t0;
        let mut attempts = 0;
        let r = loop {
            let d = q.due(now, 10);
            if d.is_empty() {
                // Time-out reached while backed off: looked at when the backoff ends.
                assert!(now >= t0 + Duration::from_secs(48 * 3600), "due at {now}");
                now = q.next_wakeup().unwrap();
                continue;
            }
            let r = q
                .report(&d[0], &[(0, deferred(FailureClass::Connection))], now)
                .unwrap();
            attempts += 1;
            if r.completed {
                break r;
            }
            let e = &q.backoff_entries(now)[0];
            assert_eq!(e.1.failures, attempts);
            now = q.next_wakeup().unwrap();
            assert_eq!(now, e.1.until.min(t0 + Duration::from_secs(48 * 3600)));
        };
        // One retry allowed, yet it waited out the 2-day time-out of normal priority (and
        // at most one backoff longer).
        assert_eq!(r.failed[0].reason, FailReason::Expired);
        let timeout = t0 + Duration::from_secs(48 * 3600);
        assert!(now >= timeout && now <= timeout + Duration::from_secs(3600));
        assert!(attempts > 2);
        assert!(q.message(id).is_none());
        drop(q);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn each_priority_follows_its_own_schedule() {
        let dir = tmp("prio");
        let t0 = Timestamp(H);
        let config = QueueConfig {
            retry: "list(10m)".parse().unwrap(),
            retry_urgent: Some("list(1m)".parse().unwrap()),
            retry_non_urgent: Some("list(1h)".parse().unwrap()),
            ..QueueConfig::default()
        };
        let (q, _) = Queue::open(&dir, config, t0).unwrap();
        let mut ids = Vec::new();
        for p in [Priority::Urgent, Priority::Normal, Priority::NonUrgent] {
            let mut env = Envelope::new("s@x", ["r@d"], t0);
            env.priority = p;
            ids.push(q.enqueue(&env, b"x", t0).unwrap());
        }
        for d in q.due(t0, 10) {
            q.report(&d, &[(0, deferred(FailureClass::Recipient))], t0)
                .unwrap();
        }
        let next: Vec<u64> = ids
            .iter()
            .map(|id| match &q.message(*id).unwrap().state.recipients[0] {
                RecipientState::Deferred { next_attempt, .. } => next_attempt.0 - t0.0,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(next, vec![60_000, 600_000, 3_600_000]);
        drop(q);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn holds_retry_delete_and_recovery() {
        let dir = tmp("admin");
        let t0 = Timestamp(5 * H);
        let (q, _) = Queue::open(&dir, QueueConfig::default(), t0).unwrap();
        let a = q
            .enqueue(&Envelope::new("s@x", ["r@a"], t0), b"1", t0)
            .unwrap();
        let b = q
            .enqueue(&Envelope::new("s@x", ["r@b"], t0), b"2", t0)
            .unwrap();
        let c = q
            .enqueue(&Envelope::new("s@x", ["r@c"], t0), b"3", t0)
            .unwrap();
        q.hold(&Target::Message(a)).unwrap();
        q.hold(&Target::Destination("b".into())).unwrap();
        let d = q.due(t0, 10);
        assert_eq!(d.iter().map(|d| d.id).collect::<Vec<_>>(), vec![c]);
        q.report(&d[0], &[(0, deferred(FailureClass::Session))], t0)
            .unwrap();
        assert_eq!(q.retry(&Target::Destination("c".into()), t0).unwrap(), 1);
        assert!(
            matches!(q.message(c).unwrap().state.recipients[0], RecipientState::Deferred { next_attempt, .. } if next_attempt == t0)
        );
        assert_eq!(q.due(t0, 10).len(), 1, "ETRN clears backoff and retry time");
        q.delete(c).unwrap();
        drop(q);
        // Holds survive a restart.
        let (q, rec) = Queue::open(&dir, QueueConfig::default(), t0).unwrap();
        assert_eq!(rec.messages.len(), 2);
        assert!(q.due(t0, 10).is_empty());
        assert_eq!(q.holds(), (false, vec!["b".to_string()]));
        q.hold(&Target::All).unwrap();
        q.release(&Target::Destination("b".into())).unwrap();
        assert!(q.due(t0, 10).is_empty(), "hold all");
        q.release(&Target::All).unwrap();
        let mut ids: Vec<_> = q.due(t0, 10).into_iter().map(|d| d.id).collect();
        ids.sort();
        assert_eq!(ids, vec![a, b]);
        assert!(!q.message(a).unwrap().state.held);
        assert_eq!(q.summary(t0).messages, 2);
        // Control requests are applied by poll_control.
        let req = control::submit(&dir, &Command::Delete(Target::Message(b))).unwrap();
        assert_eq!(q.poll_control(t0).unwrap(), 1);
        assert!(
            control::wait_answer(&req, Duration::from_secs(1))
                .unwrap()
                .starts_with("ok: deleted")
        );
        assert!(q.message(b).is_none());
        drop(q);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Each age gives one notice, due by age alone (no attempt needed), and the count
    /// survives reopening the spool.
    #[test]
    fn delay_notices_once_per_age_and_durable() {
        let dir = tmp("delay-ages");
        let t0 = Timestamp(10 * H);
        let config = QueueConfig {
            delay_notices: DelayNotices {
                intervals: vec![Duration::from_secs(4 * 3600), Duration::from_secs(3600)],
            },
            ..QueueConfig::default()
        };
        let (q, _) = Queue::open(&dir, config.clone(), t0).unwrap();
        let id = q
            .enqueue(&Envelope::new("s@x", ["r@dest"], t0), b"hi", t0)
            .unwrap();
        q.enqueue(&Envelope::new("", ["r@dest"], t0), b"bounce", t0)
            .unwrap();
        let (due, next) = q.take_delay_notices(t0).unwrap();
        assert!(due.is_empty());
        assert_eq!(next, Some(Timestamp(t0.0 + H)), "the 1 h age comes first");
        let (due, next) = q.take_delay_notices(Timestamp(t0.0 + H)).unwrap();
        assert_eq!(due.iter().map(|m| m.id).collect::<Vec<_>>(), vec![id]);
        assert_eq!(due[0].state.delay_notices_sent, 1);
        assert_eq!(next, Some(Timestamp(t0.0 + 4 * H)));
        // Asked again at the same age, or later before the next one: nothing.
        assert!(
            q.take_delay_notices(Timestamp(t0.0 + 2 * H))
                .unwrap()
                .0
                .is_empty()
        );
        drop(q);
        let (q, _) = Queue::open(&dir, config, t0).unwrap();
        assert_eq!(q.message(id).unwrap().state.delay_notices_sent, 1);
        assert!(
            q.take_delay_notices(Timestamp(t0.0 + 2 * H))
                .unwrap()
                .0
                .is_empty()
        );
        let (due, next) = q.take_delay_notices(Timestamp(t0.0 + 5 * H)).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(next, None, "every age had its notice");
        assert!(
            q.take_delay_notices(Timestamp(t0.0 + 50 * H))
                .unwrap()
                .0
                .is_empty()
        );
        drop(q);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn notifications_expire_sooner_and_get_no_delay_notice() {
        let dir = tmp("notify");
        let t0 = Timestamp(0);
        let config = QueueConfig {
            retry: "list(1h)".parse().unwrap(),
            ..QueueConfig::default()
        };
        let (q, _) = Queue::open(&dir, config, t0).unwrap();
        q.enqueue(&Envelope::new("", ["r@d"], t0), b"bounce", t0)
            .unwrap();
        let mut now = t0;
        let mut attempts = 0;
        loop {
            let d = q.due(now, 1);
            let r = q
                .report(&d[0], &[(0, deferred(FailureClass::Recipient))], now)
                .unwrap();
            assert!(!r.delay_notice);
            assert!(q.take_delay_notices(now).unwrap().0.is_empty());
            attempts += 1;
            if r.completed {
                assert_eq!(r.failed[0].reason, FailReason::Expired);
                break;
            }
            now = q.next_wakeup().unwrap();
        }
        assert_eq!(now, Timestamp(12 * H));
        assert_eq!(attempts, 13);
        drop(q);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
