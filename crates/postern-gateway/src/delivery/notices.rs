//! After the queue decided an attempt: failure, delay and success notices (RFC 3464),
//! honouring each recipient's `NOTIFY` (RFC 3461), queued like any other mail with the
//! null sender, and tracked (`dsn-generated`, or `dsn-absorbed` for a notice about a
//! notice).

use std::sync::atomic::{AtomicU64, Ordering};

use postern_message::dsn::Action;
use postern_queue::{
    AttemptResult, Delivery, Envelope, FailReason, Notify, Outcome, SpooledMessage,
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
    delayed: Vec<Reported>,
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
    let (d, outcomes, result) = (attempted.delivery, attempted.outcomes, attempted.result);
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
    if result.delay_notice {
        for dr in &d.recipients {
            let Some(r) = env.recipients.get(dr.index) else {
                continue;
            };
            let still_waiting = !result.failed.iter().any(|f| f.index == dr.index)
                && outcomes
                    .iter()
                    .any(|(i, o)| *i == dr.index && matches!(o, Outcome::Deferred { .. }));
            if still_waiting && wants(r.notify, |n| n.delay, true) {
                let reply = outcomes
                    .iter()
                    .find_map(|(i, o)| match o {
                        Outcome::Deferred { reply, .. } if *i == dr.index => Some(reply.as_str()),
                        _ => None,
                    })
                    .unwrap_or("451 4.4.7 Delivery delayed");
                due.delayed.push(reported(
                    &r.address,
                    r.orcpt.as_ref(),
                    Action::Delayed,
                    reply,
                    remote_of(reply),
                ));
            }
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
    for list in [due.failed, due.delayed, due.success] {
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
        Decision::Send(n) => {
            let envelope = Envelope::new("", n.recipients.iter().map(String::as_str), now);
            match ctx.queue.enqueue(&envelope, &n.body, now) {
                Ok(id) => {
                    ctx.stats.notices.fetch_add(1, Ordering::Relaxed);
                    ctx.track(EventKind::DsnGenerated, |e| {
                        let e = e
                            .queue_id(id.to_string())
                            .related_queue_id(qid.as_str())
                            .message_id(n.message_id.as_str())
                            .sender("")
                            .size(n.body.len() as u64);
                        n.recipients.iter().fold(e, |e, r| e.recipient(r.as_str()))
                    });
                    ctx.wake.notify_one();
                }
                Err(e) => eprintln!("postern: cannot queue a notice about {qid}: {e}"),
            }
        }
    }
}
