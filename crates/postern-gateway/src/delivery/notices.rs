//! After the queue decided an attempt: failure and success notices (RFC 3464); and, on a
//! timer of their own, delay notices when a message reaches an age in `[retry]
//! delay_notices` (one notice per age, sent at that age whether or not an attempt is
//! under way, as Postfix's `delay_warning_time`). Each honours the recipient's `NOTIFY`
//! (RFC 3461), is queued like any other mail with the null sender, and is tracked
//! (`dsn-generated`, or `dsn-absorbed` for a notice about a notice).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use postern_message::dsn::Action;
use postern_queue::{
    AttemptResult, Delivery, Envelope, FailReason, Notify, Outcome, RecipientState, SpooledMessage,
    Timestamp,
};
use postern_track::EventKind;

use crate::config::Config;
use crate::context::Context;
use crate::notify::{Decision, Original, Reported, notice};

/// Numbers notices made by this process (their Message-IDs must differ).
static SEQ: AtomicU64 = AtomicU64::new(0);

/// What the attempt means for notices, per recipient kind.
#[derive(Debug, Default)]
struct Due {
    failed: Vec<Reported>,
    success: Vec<Reported>,
}

fn wants(notify: Option<Notify>, pick: impl Fn(Notify) -> bool, default: bool) -> bool {
    match notify {
        Some(n) if n.never => false,
        Some(n) => pick(n),
        None => default,
    }
}

fn reported(
    address: &str,
    orcpt: Option<&String>,
    action: Action,
    reply: &str,
    remote: Option<&str>,
) -> Reported {
    Reported {
        address: address.to_owned(),
        orcpt: orcpt.cloned(),
        action,
        reply: reply.to_owned(),
        remote_host: remote.map(str::to_owned),
    }
}

/// The host named in a reply the gateway annotated (`… (from HOST)`), if any.
fn remote_of(reply: &str) -> Option<&str> {
    reply
        .rsplit_once("(from ")
        .and_then(|(_, h)| h.strip_suffix(')'))
}

/// What an attempt came to, as the notices need it.
#[derive(Debug)]
pub struct Attempted<'a> {
    /// The delivery attempted.
    pub delivery: &'a Delivery,
    /// Its outcomes, by envelope index.
    pub outcomes: &'a [(usize, Outcome)],
    /// What the queue decided on them.
    pub result: &'a AttemptResult,
}

fn collect(
    before: &SpooledMessage,
    attempted: &Attempted<'_>,
    success_action: &dyn Fn(usize) -> Option<bool>,
) -> Due {
    let (outcomes, result) = (attempted.outcomes, attempted.result);
    let mut due = Due::default();
    let env = &before.envelope;
    for f in &result.failed {
        let Some(r) = env.recipients.get(f.index) else {
            continue;
        };
        if wants(r.notify, |n| n.failure, true) {
            let reply = if f.reason == FailReason::Expired && !f.reply.starts_with('5') {
                format!("554 5.4.7 Delivery time expired; last reply: {}", f.reply)
            } else {
                f.reply.clone()
            };
            due.failed.push(reported(
                &f.address,
                r.orcpt.as_ref(),
                Action::Failed,
                &reply,
                remote_of(&f.reply),
            ));
        }
    }
    for (index, outcome) in outcomes {
        let Some(r) = env.recipients.get(*index) else {
            continue;
        };
        if let Outcome::Delivered(reply) = outcome
            && r.notify.is_some_and(|n| n.success && !n.never)
        {
            // Handed to another MTA that does not report: "relayed"; to one that does:
            // its notice, not ours.
            let action = match success_action(*index) {
                None => continue,
                Some(true) => Action::Relayed,
                Some(false) => Action::Delivered,
            };
            due.success.push(reported(
                &r.address,
                r.orcpt.as_ref(),
                action,
                reply,
                remote_of(reply),
            ));
        }
    }
    due
}

/// Queues the notices an attempt calls for, under the attempt's `config`. `before` is
/// the message as it was before the report (it may have left the spool since); `body`
/// its content. Blocking (spool writes): call it off the async executor.
pub fn send(
    ctx: &Context,
    config: &Config,
    before: &SpooledMessage,
    body: &[u8],
    attempted: &Attempted<'_>,
    success_action: &dyn Fn(usize) -> Option<bool>,
) {
    let due = collect(before, attempted, success_action);
    for list in [due.failed, due.success] {
        if !list.is_empty() {
            one(ctx, config, before, body, &list);
        }
    }
}

fn one(ctx: &Context, config: &Config, before: &SpooledMessage, body: &[u8], list: &[Reported]) {
    let env = &before.envelope;
    let original = Original {
        sender: &env.sender,
        envid: env.envid.as_deref(),
        ret_full: env.ret_full,
        arrival_ms: env.arrival.0,
        body,
    };
    let now = ctx.now();
    let qid = before.id.to_string();
    match notice(
        config,
        &original,
        list,
        now.0,
        SEQ.fetch_add(1, Ordering::Relaxed),
    ) {
        Decision::Absorbed => {
            ctx.track(EventKind::DsnAbsorbed, |e| {
                let e = e.queue_id(qid.as_str()).sender("");
                list.iter().fold(e, |e, r| e.recipient(r.address.as_str()))
            });
        }
        Decision::Off => {}
        Decision::Send(mut n) => {
            let envelope = Envelope::new("", n.recipients.iter().map(String::as_str), now);
            // A blocking thread (see `send`): wait for the queue's backend here.
            let body = bytes::Bytes::from(std::mem::take(&mut n.body));
            match crate::storage::block_on(ctx.queue.enqueue(&envelope, body.clone(), now)) {
                Ok(id) => {
                    ctx.stats.notices.fetch_add(1, Ordering::Relaxed);
                    let ndr = list.iter().any(|r| r.action == Action::Failed);
                    if ndr {
                        ctx.metrics.ndr();
                    }
                    tracing::info!(
                        queue_id = %qid,
                        notice_id = %id,
                        recipients = n.recipients.len(),
                        kind = if ndr { "ndr" } else { "notice" },
                        "notice queued"
                    );
                    ctx.track(EventKind::DsnGenerated, |e| {
                        let e = e
                            .queue_id(id.to_string())
                            .related_queue_id(qid.as_str())
                            .message_id(n.message_id.as_str())
                            .sender("")
                            .size(body.len() as u64);
                        n.recipients.iter().fold(e, |e, r| e.recipient(r.as_str()))
                    });
                    ctx.wake.notify_one();
                }
                Err(e) => tracing::error!(queue_id = %qid, "cannot queue a notice: {e}"),
            }
        }
    }
}

/// The reply quoted for a recipient not yet attempted (held, or outbound transfer off).
const NOT_YET_TRIED: &str = "451 4.4.7 Delivery delayed: not yet attempted";

/// The recipients of `msg` still waiting that want a delay notice, with their last reply.
fn waiting(msg: &SpooledMessage) -> Vec<Reported> {
    let env = &msg.envelope;
    env.recipients
        .iter()
        .zip(&msg.state.recipients)
        .filter(|(r, _)| wants(r.notify, |n| n.delay, true))
        .filter_map(|(r, st)| {
            let reply = match st {
                RecipientState::Pending => NOT_YET_TRIED,
                RecipientState::Deferred { last_reply, .. } => last_reply.as_str(),
                _ => return None,
            };
            Some(reported(
                &r.address,
                r.orcpt.as_ref(),
                Action::Delayed,
                reply,
                remote_of(reply),
            ))
        })
        .collect()
}

/// Takes the delay notices due now from the queue and queues them. Blocking (waits for
/// the queue's backend: run it in `spawn_blocking`). Returns when the next one is due.
pub fn send_due_delays(ctx: &Context) -> Option<Timestamp> {
    let (due, next) = match crate::storage::block_on(ctx.queue.take_delay_notices(ctx.now())) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("delay notices: {e}");
            // Try again at the next look rather than never.
            return None;
        }
    };
    if due.is_empty() {
        return next;
    }
    let live = ctx.live();
    for msg in &due {
        let list = waiting(msg);
        if list.is_empty() {
            continue;
        }
        let body = ctx
            .bodies
            .get(msg.id)
            .map(|a| a.body)
            .or_else(|| crate::storage::block_on(ctx.queue.body(msg.id)).ok())
            .unwrap_or_default();
        one(ctx, &live.config, msg, &body, &list);
    }
    next
}

/// Longest the timer sleeps between looks at the queue (a message queued meanwhile
/// reaches its first age no sooner than the shortest age after it arrived, so sleeping
/// at most that long misses nothing; this bounds it further).
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Shortest sleep, so a clock that goes backwards cannot make the timer spin.
const MIN_SLEEP: Duration = Duration::from_millis(50);

/// The delay-notice timer: runs until the gateway shuts down, sending each notice when
/// its message reaches the age.
pub async fn timer(ctx: Arc<Context>) {
    let ages = ctx
        .live()
        .config
        .retry
        .queue
        .delay_notices
        .intervals
        .clone();
    let Some(shortest) = ages.iter().min().copied() else {
        return; // delay notices off
    };
    let mut shutdown = ctx.shutdown.clone();
    while !ctx.is_shutting_down() {
        let c = Arc::clone(&ctx);
        let next = tokio::task::spawn_blocking(move || send_due_delays(&c))
            .await
            .ok()
            .flatten();
        let until_next = next.map_or(MAX_SLEEP, |t| {
            Duration::from_millis(t.0.saturating_sub(ctx.now().0))
        });
        let wait = until_next.min(shortest).min(MAX_SLEEP).max(MIN_SLEEP);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            r = shutdown.changed() => if r.is_err() { break },
        }
    }
}
