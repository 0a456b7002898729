//! The API's objects built from the running gateway's state.

use postern_queue::{RecipientState, SpooledMessage};
use postern_route::ConnectorState as _;

use super::model::{
    Backoff, Connector, Counters, DestinationRow, QueueQuery, QueueSummary, QueuedMessage,
    QueuedRecipient, Recent, RouteCandidate, RouteTest, SpoolSpace, Status,
};
use crate::context::Context;
use crate::status::RecentEvent;

/// Most destinations and backoff entries the status lists.
const STATUS_ROWS: usize = 50;

/// The status document; what the queue's backend cannot answer shows as empty.
pub async fn status(ctx: &Context) -> Status {
    let now = ctx.now();
    let s = ctx.queue.summary(now).await.unwrap_or_default();
    let spool = ctx
        .queue
        .local()
        .map(|q| q.spool().stats())
        .unwrap_or_default();
    let (all_held, held_destinations) = ctx.queue.holds().await.unwrap_or_default();
    let backoff = ctx.queue.backoff_entries(now).await.unwrap_or_default();
    let recent = |v: Vec<RecentEvent>| {
        v.into_iter()
            .map(|e| Recent {
                time_ms: e.time_ms,
                queue_id: e.queue_id,
                recipient: e.recipient,
                destination: e.destination,
                reply: e.reply,
            })
            .collect()
    };
    Status {
        time_ms: now.0,
        running: !ctx.is_shutting_down(),
        hostname: ctx.live().config.server.hostname.clone(),
        transfer_mode: ctx.transfer_mode().name().to_owned(),
        counters: counters(ctx),
        queue: QueueSummary {
            messages: s.messages,
            held_messages: s.held_messages,
            pending: s.states.pending,
            deferred: s.states.deferred,
            oldest_secs: s.oldest.as_secs(),
            destinations: s
                .destinations
                .iter()
                .take(STATUS_ROWS)
                .map(|d| DestinationRow {
                    destination: d.destination.clone(),
                    messages: d.messages,
                    recipients: d.recipients,
                    deferred: d.deferred,
                    oldest_secs: d.oldest.as_secs(),
                })
                .collect(),
            backoff: backoff
                .into_iter()
                .take(STATUS_ROWS)
                .map(|(destination, e)| Backoff {
                    destination,
                    failures: e.failures,
                    until_ms: e.until.0,
                })
                .collect(),
            all_held,
            held_destinations,
        },
        spool: SpoolSpace {
            segments: spool.segments as u64,
            bytes: spool.bytes,
            live_bytes: spool.live_bytes,
            dead_bytes: spool.dead_bytes(),
        },
        connectors: connectors(ctx),
        recent_delivered: recent(ctx.stats.recent_delivered()),
        recent_failed: recent(ctx.stats.recent_failed()),
    }
}

fn counters(ctx: &Context) -> Counters {
    use std::sync::atomic::Ordering::Relaxed;
    let s = &ctx.stats;
    Counters {
        sessions_open: s.sessions.load(Relaxed),
        sessions_total: s.sessions_total.load(Relaxed),
        messages_accepted_total: s.accepted.load(Relaxed),
        recipients_delivered_total: s.delivered.load(Relaxed),
        recipients_deferred_total: s.deferred.load(Relaxed),
        recipients_failed_total: s.failed.load(Relaxed),
        notices_total: s.notices.load(Relaxed),
    }
}

/// Every configured connector and whether it is up.
pub fn connectors(ctx: &Context) -> Vec<Connector> {
    let status = ctx
        .connectors
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let live = ctx.live();
    live.config
        .routing
        .connectors
        .iter()
        .map(|c| Connector {
            name: c.name.clone(),
            kind: c.kind.clone(),
            up: status.is_available(&c.name),
        })
        .collect()
}

/// How the live routing table routes `address` now.
pub fn route(ctx: &Context, address: &str) -> RouteTest {
    let status = ctx
        .connectors
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let live = ctx.live();
    let req = postern_route::RouteRequest::smtp(address);
    match live.config.routing.table.route(&req, &status) {
        Ok(r) => RouteTest {
            address: address.to_owned(),
            candidates: r
                .candidates
                .iter()
                .map(|c| RouteCandidate {
                    connector: c.connector.to_owned(),
                    address_type: c.address_type.to_owned(),
                    pattern: c.pattern.to_owned(),
                    cost: c.cost,
                    up: status.is_available(c.connector),
                })
                .collect(),
            unroutable: None,
        },
        Err(e) => RouteTest {
            address: address.to_owned(),
            candidates: Vec::new(),
            unroutable: Some(e.to_string()),
        },
    }
}

/// What is held besides single messages: everything, or these destinations.
pub type Holds = (bool, Vec<String>);

/// One queued message as the API shows it, given the queue's [`Holds`].
pub fn message(m: &SpooledMessage, holds: &Holds) -> QueuedMessage {
    let recipients: Vec<QueuedRecipient> = m
        .envelope
        .recipients
        .iter()
        .zip(&m.state.recipients)
        .map(|(r, s)| recipient(&r.address, &r.destination, s))
        .collect();
    let held = m.state.held
        || holds.0
        || recipients.iter().any(|r| {
            holds
                .1
                .iter()
                .any(|d| d.eq_ignore_ascii_case(&r.destination))
        });
    let state = if held {
        "held"
    } else if recipients.iter().any(|r| r.state == "deferred") {
        "deferred"
    } else if recipients.iter().any(|r| r.state == "pending") {
        "pending"
    } else {
        "done"
    };
    QueuedMessage {
        id: m.id.to_string(),
        sender: m.envelope.sender.clone(),
        size: m.size,
        arrival_ms: m.envelope.arrival.0,
        held,
        state: state.to_owned(),
        recipients,
    }
}

fn recipient(address: &str, destination: &str, s: &RecipientState) -> QueuedRecipient {
    let (state, attempts, next, last) = match s {
        RecipientState::Pending => ("pending", 0, None, None),
        RecipientState::Deferred {
            attempts,
            next_attempt,
            last_reply,
            ..
        } => (
            "deferred",
            *attempts,
            Some(next_attempt.0),
            Some(last_reply.clone()),
        ),
        RecipientState::Delivered { reply, .. } => ("delivered", 0, None, Some(reply.clone())),
        RecipientState::Failed { reason, .. } => ("failed", 0, None, Some(format!("{reason:?}"))),
        #[allow(unreachable_patterns)]
        _ => ("unknown", 0, None, None),
    };
    QueuedRecipient {
        address: address.to_owned(),
        destination: destination.to_owned(),
        state: state.to_owned(),
        attempts,
        next_attempt_ms: next,
        last_reply: last,
        waits_for: None,
    }
}

/// Whether `m` passes the filters of `q`.
pub fn matches(q: &QueueQuery, m: &QueuedMessage) -> bool {
    let has = |hay: &str, needle: &str| hay.to_lowercase().contains(&needle.to_lowercase());
    q.destination.as_deref().is_none_or(|d| {
        m.recipients
            .iter()
            .any(|r| r.destination.eq_ignore_ascii_case(d))
    }) && q.state.as_deref().is_none_or(|s| m.state == s)
        && q.sender.as_deref().is_none_or(|s| has(&m.sender, s))
        && q.recipient
            .as_deref()
            .is_none_or(|s| m.recipients.iter().any(|r| has(&r.address, s)))
}
