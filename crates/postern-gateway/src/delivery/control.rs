//! Queue commands from the admin API (`postern queue …`), applied by the
//! running gateway with what only it knows besides the queue.
//!
//! The queue applies each command itself (`Queue::apply`); the gateway adds:
//!
//! * **retry** — "like ETRN": besides making the mail due now and clearing the
//!   destination's backoff (the queue), it lifts the down mark of the connectors the
//!   destination routes to (all of them for `--all`, those of the message's recipients
//!   for one queue id; a queue id also clears its destinations' backoff), releases mail held for ETRN (`dequeue = "hold-for-etrn"`), wakes
//!   the delivery loop, and says what it did in its answer.
//! * **delete** — tracked as `deleted` (`DeletedByAdmin`), so the message's history
//!   does not just end after `received`.
//! * **etrn CONNECTOR** — sends the connector's outbound ETRN now
//!   ([`super::etrn_out`]) and answers with the replies.

use postern_queue::control::Command;
use postern_queue::{QueueId, Target, Timestamp};
use postern_route::{Dequeue, RouteRequest};
use postern_track::EventKind;

use super::Shared;
use crate::storage::block_on;

/// Applies one command; the answer line starts with `ok:` or `error:`. Runs on a
/// blocking thread of the runtime (the caller's `spawn_blocking`): it waits for the
/// queue's backend here.
pub fn apply(shared: &Shared, cmd: &Command, now: Timestamp) -> String {
    let ctx = &shared.ctx;
    let before = match cmd {
        Command::Delete(Target::Message(id)) => block_on(ctx.queue.message(*id)).ok().flatten(),
        _ => None,
    };
    if let Command::Etrn(name) = cmd {
        // A blocking thread of the runtime (see `poll`'s caller): it may wait here.
        let live = ctx.live();
        return tokio::runtime::Handle::current()
            .block_on(super::etrn_out::send_named(&live, name));
    }
    let notes = match cmd {
        Command::Retry(t) => retry_notes(shared, t, now),
        _ => Vec::new(),
    };
    match block_on(ctx.queue.apply(cmd, now)) {
        Ok(answer) => {
            if let (Command::Delete(Target::Message(id)), Some(m)) = (cmd, before) {
                track_delete(shared, *id, &m);
            }
            let mut out = format!("ok: {answer}");
            for n in notes {
                out.push_str("; ");
                out.push_str(&n);
            }
            out
        }
        Err(e) => format!("error: {e}"),
    }
}

/// Does the gateway's share of a retry; says what it did.
fn retry_notes(shared: &Shared, target: &Target, now: Timestamp) -> Vec<String> {
    let ctx = &shared.ctx;
    let live = ctx.live();
    let mut notes = Vec::new();
    // The destinations (and one of their recipients, to route) the retry is about.
    let dests: Vec<(String, String)> = match target {
        Target::Destination(d) => vec![(d.clone(), format!("postmaster@{d}"))],
        Target::Message(id) => {
            block_on(ctx.queue.message(*id))
                .ok()
                .flatten()
                .map_or_else(Vec::new, |m| {
                    m.envelope
                        .recipients
                        .iter()
                        .map(|r| (r.destination.clone(), r.address.clone()))
                        .collect()
                })
        }
        Target::All => Vec::new(),
    };
    let mut backed_off: Vec<String> = block_on(ctx.queue.backoff_entries(now))
        .unwrap_or_default()
        .into_iter()
        .map(|(d, _)| d)
        .filter(|d| matches!(target, Target::All) || dests.iter().any(|(x, _)| x == d))
        .collect();
    // The queue clears a destination's backoff on a retry of it (or of everything); one
    // message retried now must not wait behind its destinations' backoff either.
    if matches!(target, Target::Message(_)) {
        backed_off.retain(|d| block_on(ctx.queue.clear_backoff(d, now)).unwrap_or(false));
    }
    if !backed_off.is_empty() {
        notes.push(format!("backoff cleared for {}", backed_off.join(", ")));
    }
    let mut up: Vec<String> = Vec::new();
    match target {
        Target::All => {
            for (name, _, _) in shared.down.list() {
                if shared.down.clear(ctx, &name) {
                    up.push(name);
                }
            }
        }
        _ => {
            for (_, address) in &dests {
                let req = RouteRequest::smtp(address);
                let Ok(route) = live.config.routing.table.route(&req, &()) else {
                    continue;
                };
                for name in route.connectors() {
                    if shared.down.clear(ctx, name) && !up.iter().any(|u| u == name) {
                        up.push(name.to_owned());
                    }
                }
            }
        }
    }
    if !up.is_empty() {
        notes.push(format!("connector {} marked up", up.join(", ")));
    }
    let held = |d: &str| live.config.routing.domains.lookup(d).dequeue == Dequeue::HoldForEtrn;
    match target {
        Target::All => ctx.etrn.release_all(now),
        Target::Destination(d) => ctx.etrn.release(d, now),
        Target::Message(id) => ctx.etrn.release_message(*id),
    }
    let mut released: Vec<&str> = dests
        .iter()
        .map(|(d, _)| d.as_str())
        .filter(|d| held(d))
        .collect();
    released.dedup();
    if matches!(target, Target::All) {
        notes.push("mail held for ETRN released".into());
    } else if !released.is_empty() {
        notes.push(format!(
            "mail held for ETRN released for {}",
            released.join(", ")
        ));
    }
    notes
}

/// Tracks an administrator's delete.
fn track_delete(shared: &Shared, id: QueueId, m: &postern_queue::SpooledMessage) {
    let ctx = &shared.ctx;
    shared.tries.forget(id);
    ctx.etrn.forget_message(id);
    ctx.bodies.remove(id);
    ctx.track(EventKind::DeletedByAdmin, |e| {
        let mut e = e
            .queue_id(id.to_string())
            .sender(m.envelope.sender.as_str())
            .reason("deleted by `postern queue delete`");
        for (r, s) in m.envelope.recipients.iter().zip(&m.state.recipients) {
            if !s.is_final() {
                e = e.recipient(r.address.as_str());
            }
        }
        e
    });
}
