//! One attempt: one message to the due recipients of one destination.
//!
//! Each recipient is routed (postern-route, keyed by the Message-ID so equal-cost
//! choices are stable across retries), recipients with the same candidate list travel
//! together, and each group tries its candidates in order. A connector marked down, or
//! whose hosts all fail to connect or greet, is skipped and the group rerouted to the
//! next candidate in the same attempt (tracked as `Rerouted`): mail never waits on a dead
//! route while another one is open (the IMS bug of seed 003). The outcomes go back to the
//! queue, always, and what the queue decided is tracked.
//!
//! An attempt takes one snapshot of the settings ([`Context::live`]) when it starts and
//! uses it throughout, notices included: a reload meanwhile applies to the next attempt.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use postern_message::Message;
use postern_queue::{
    AttemptResult, Delivery, DeliveryRecipient, FailReason, FailureClass, Outcome, RecipientState,
    Timestamp,
};
use postern_route::{ConnectorConfig, Dequeue, DomainSettings, RouteRequest};
use postern_track::EventKind;
use tracing::Instrument as _;

use super::Shared;
use super::etrn::HELD_REPLY;
use crate::context::{Context, Live};
use crate::maildir::{self, LocalDelivery};
use crate::outbound::{self, SmtpJob, SmtpResult, all};
use crate::restrict::RouteRefusal;

/// The reply recorded for a Maildir delivery.
const MAILDIR_REPLY: &str = "250 2.0.0 delivered to Maildir";

/// Recipients that share a candidate list.
#[derive(Debug)]
struct Group {
    connectors: Vec<String>,
    recipients: Vec<DeliveryRecipient>,
}

/// What every step of the attempt needs to know about the message.
struct Msg<'a> {
    /// The settings this attempt runs under.
    live: &'a Live,
    delivery: &'a Delivery,
    body: Bytes,
    queue_id: String,
    message_id: String,
    settings: DomainSettings,
    /// The envelope, when it carries RFC 3461 parameters to pass on.
    dsn: Option<postern_queue::Envelope>,
    /// Recipients whose notices a DSN-capable next hop took over.
    dsn_passed: std::sync::Mutex<Vec<usize>>,
}

/// True when an ETRN for the delivery's destination came after its message arrived.
async fn etrn_released(ctx: &Context, delivery: &Delivery) -> bool {
    if ctx.etrn.message_released(delivery.id) {
        return true;
    }
    let msg = ctx.queue.message(delivery.id).await.ok().flatten();
    msg.is_some_and(|m| ctx.etrn.released(&delivery.destination, m.envelope.arrival))
}

/// What the attempt learned that its report and notices need.
struct Learned<'a> {
    /// The Message-ID, or empty when the message was not read.
    message_id: &'a str,
    /// The message, when it was read.
    body: Option<&'a Bytes>,
    /// Recipients whose notices a DSN-capable next hop took over.
    dsn_passed: Vec<usize>,
    /// The envelope may carry RFC 3461 parameters (assumed when not read).
    dsn: bool,
    /// When the message arrived, when it was read (for the queue-age metric).
    arrival: Option<Timestamp>,
}

impl Learned<'_> {
    /// An attempt that ended before the message was read.
    fn nothing() -> Self {
        Learned {
            message_id: "",
            body: None,
            dsn_passed: Vec::new(),
            dsn: true,
            arrival: None,
        }
    }
}

/// Runs one delivery and reports it. Never returns without reporting, except when the
/// spool itself fails (then the delivery is attempted again after a restart). Its log
/// lines carry the span `delivery` with the queue id and the destination.
pub async fn run(shared: Arc<Shared>, delivery: Delivery) {
    let span = tracing::info_span!(
        "delivery",
        queue_id = %delivery.id,
        destination = %delivery.destination,
        recipients = delivery.recipients.len(),
    );
    attempt(shared, delivery, Instant::now())
        .instrument(span)
        .await;
}

/// [`run`] inside its span; `started` is when the attempt began (delivery latency).
async fn attempt(shared: Arc<Shared>, delivery: Delivery, started: Instant) {
    let ctx = &shared.ctx;
    let live = ctx.live();
    let settings = live.config.routing.domains.lookup(&delivery.destination);
    if settings.dequeue == Dequeue::HoldForEtrn && !etrn_released(ctx, &delivery).await {
        let outcomes = all(&delivery.recipients, |_| Outcome::Deferred {
            class: FailureClass::Session,
            reply: HELD_REPLY.to_owned(),
        });
        report(
            &shared,
            &live,
            &delivery,
            outcomes,
            Learned::nothing(),
            started,
        )
        .await;
        return;
    }
    let fetched = match read_body(ctx, &delivery).await {
        Ok(b) => b,
        Err(reply) => {
            // Our own spool, not the destination: the message's retry schedule.
            let outcomes = all(&delivery.recipients, |_| Outcome::Deferred {
                class: FailureClass::Data,
                reply: reply.clone(),
            });
            report(
                &shared,
                &live,
                &delivery,
                outcomes,
                Learned::nothing(),
                started,
            )
            .await;
            return;
        }
    };
    let facts = Facts::of(ctx, &delivery, &fetched).await;
    let msg = Msg {
        live: &live,
        delivery: &delivery,
        queue_id: delivery.id.to_string(),
        message_id: facts.message_id.unwrap_or_else(|| delivery.id.to_string()),
        body: fetched.into_body(),
        settings,
        dsn: facts.dsn,
        dsn_passed: std::sync::Mutex::default(),
    };
    let arrival = facts.arrival;
    let (mut outcomes, groups) = route(&shared, &msg);
    for group in groups {
        outcomes.extend(deliver_group(&shared, &msg, group).await);
    }
    let passed = std::mem::take(&mut *msg.dsn_passed.lock().unwrap_or_else(|p| p.into_inner()));
    let learned = Learned {
        message_id: &msg.message_id,
        body: Some(&msg.body),
        dsn_passed: passed,
        dsn: msg.dsn.is_some(),
        arrival,
    };
    report(&shared, &live, &delivery, outcomes, learned, started).await;
}

/// A message queued this recently (by its id's arrival time) may be handed out before
/// its session has put the body in the cache, see [`read_body`].
const FRESH_MS: u64 = 1_000;

/// How many times [`read_body`] lets other tasks run before it reads a fresh message
/// back from the spool.
const FRESH_YIELDS: usize = 3;

/// The message: from the body cache, or else read from the queue (no copy either way).
///
/// The queue admits a message when its group commit is durable, and the session that
/// received it puts the body in the cache only when it next runs; a delivery loop already
/// awake can take the message in between. In a 1 KB relay run that was about one message
/// in three, each read back from the spool on a blocking thread. The session is then
/// already woken, so for a fresh message the attempt first yields a few times.
async fn read_body(ctx: &Arc<Context>, d: &Delivery) -> Result<Fetched, String> {
    let fresh = ctx.now().0.saturating_sub(d.id.millis) < FRESH_MS;
    let yields = if fresh { FRESH_YIELDS } else { 0 };
    for tried in 0..=yields {
        if let Some(accepted) = ctx.bodies.get(d.id) {
            return Ok(Fetched::Cached(accepted));
        }
        if tried < yields {
            tokio::task::yield_now().await;
        }
    }
    ctx.queue
        .body(d.id)
        .await
        .map(Fetched::Spooled)
        .map_err(|e| format!("451 4.3.0 cannot read the spooled message: {e}"))
}

/// A message as an attempt found it.
enum Fetched {
    /// In the body cache, with what its session knew of it.
    Cached(crate::bodies::Accepted),
    /// Read back from the spool: the body alone.
    Spooled(Bytes),
}

impl Fetched {
    fn into_body(self) -> Bytes {
        match self {
            Fetched::Cached(a) => a.body,
            Fetched::Spooled(body) => body,
        }
    }
}

/// What an attempt needs to know of its message besides the body.
struct Facts {
    /// The Message-ID in angle brackets, when the message has one.
    message_id: Option<String>,
    /// The envelope, when it carries RFC 3461 parameters to pass on.
    dsn: Option<postern_queue::Envelope>,
    /// When the message arrived, when known (for the queue-age metric).
    arrival: Option<Timestamp>,
}

impl Facts {
    /// From the session's record in the body cache; otherwise the header block is parsed
    /// (only it: the body may be large) and the envelope read from the queue.
    async fn of(ctx: &Context, delivery: &Delivery, fetched: &Fetched) -> Facts {
        let bracketed = |id: &str| format!("<{id}>");
        let body = match fetched {
            Fetched::Cached(a) => {
                let dsn = if a.dsn {
                    envelope_of(ctx, delivery).await
                } else {
                    None
                };
                return Facts {
                    message_id: a.message_id.as_deref().map(bracketed),
                    dsn,
                    arrival: Some(a.arrival),
                };
            }
            Fetched::Spooled(body) => body,
        };
        let head_end = memchr::memmem::find(body, b"\r\n\r\n").map_or(body.len(), |i| i + 4);
        let message_id = Message::parse(&body[..head_end])
            .message_id()
            .map(|id| bracketed(&id));
        let envelope = envelope_of(ctx, delivery).await;
        Facts {
            message_id,
            arrival: envelope.as_ref().map(|e| e.arrival),
            dsn: envelope.filter(postern_queue::Envelope::has_dsn),
        }
    }
}

/// The queued envelope of `delivery`'s message (a copy), if it is still queued.
async fn envelope_of(ctx: &Context, delivery: &Delivery) -> Option<postern_queue::Envelope> {
    (ctx.queue.message(delivery.id).await)
        .ok()
        .flatten()
        .map(|m| m.envelope)
}

/// Routes every recipient: unroutable ones get their outcome now, the others are grouped
/// by candidate list. Connectors this message was already tried on `max_attempts` times
/// are left out ([`super::tries`]); when that leaves none, the counts start over.
fn route(shared: &Shared, msg: &Msg<'_>) -> (Vec<(usize, Outcome)>, Vec<Group>) {
    let ctx = &shared.ctx;
    let mut outcomes = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    let counts = shared.tries.of(msg.delivery.id);
    let table = &msg.live.config.routing.table;
    let mut start_over = false;
    for r in &msg.delivery.recipients {
        let req = RouteRequest::smtp(&r.address).message_id(&msg.message_id);
        // Delivery restrictions steer routing: connectors that refuse the sender are
        // skipped; refused by all that could take it, the recipient fails. Connectors
        // tried `max_attempts` times are left out too, until none is left.
        let sender = &msg.delivery.sender;
        let restrictions = &msg.live.restrictions;
        let routed = match restrictions.route(table, &req, sender, &counts) {
            Err(RouteRefusal::Restricted(refused)) => {
                outcomes.push((r.index, Outcome::Failed(refused.reply_text())));
                continue;
            }
            Err(RouteRefusal::Unroutable(postern_route::Unroutable::AllUnavailable))
                if !counts.is_empty() =>
            {
                start_over = true;
                match restrictions.route(table, &req, sender, &()) {
                    Ok(route) => Ok(route),
                    Err(RouteRefusal::Unroutable(e)) => Err(e),
                    Err(RouteRefusal::Restricted(refused)) => {
                        outcomes.push((r.index, Outcome::Failed(refused.reply_text())));
                        continue;
                    }
                }
            }
            Err(RouteRefusal::Unroutable(e)) => Err(e),
            Ok(route) if !counts.is_empty() => {
                track_max_attempts(ctx, msg, r, &counts, route.first().connector);
                Ok(route)
            }
            Ok(route) => Ok(route),
        };
        match routed {
            Err(e) => {
                let reply = format!(
                    "{} {} {}: {e}",
                    e.reply_code(),
                    e.enhanced_code(),
                    r.address
                );
                outcomes.push((r.index, unroutable(e.is_permanent(), reply)));
            }
            Ok(route) => {
                let names: Vec<String> = route.connectors().map(str::to_owned).collect();
                ctx.track(EventKind::Routed, |e| {
                    ids(e, msg)
                        .recipient(r.address.as_str())
                        .connector(route.first().connector)
                        .reason(format!("candidates: {}", names.join(", ")))
                });
                match groups.iter_mut().find(|g| g.connectors == names) {
                    Some(g) => g.recipients.push(r.clone()),
                    None => groups.push(Group {
                        connectors: names,
                        recipients: vec![r.clone()],
                    }),
                }
            }
        }
    }
    if start_over {
        shared.tries.forget(msg.delivery.id);
    }
    (outcomes, groups)
}

/// Tracks a `Rerouted` event when the best candidate was left out for `max_attempts`.
fn track_max_attempts(
    ctx: &Context,
    msg: &Msg<'_>,
    r: &DeliveryRecipient,
    counts: &super::tries::Counts,
    chosen: &str,
) {
    use postern_route::ConnectorState as _;
    let req = RouteRequest::smtp(&r.address).message_id(&msg.message_id);
    let Ok(fresh) = msg.live.config.routing.table.route(&req, &()) else {
        return;
    };
    let best = fresh.first().connector;
    if best == chosen {
        return;
    }
    let n = counts.attempts(best);
    ctx.track(EventKind::Rerouted, |e| {
        ids(e, msg)
            .recipient(r.address.as_str())
            .connector(chosen)
            .reason(format!(
                "rerouted from {best} to {chosen}: tried {n} times on {best} (max_attempts)"
            ))
    });
}

fn unroutable(permanent: bool, reply: String) -> Outcome {
    if permanent {
        Outcome::Failed(reply)
    } else {
        Outcome::Deferred {
            class: FailureClass::Connection,
            reply,
        }
    }
}

fn ids(e: postern_track::Event, msg: &Msg<'_>) -> postern_track::Event {
    e.queue_id(msg.queue_id.as_str())
        .message_id(msg.message_id.as_str())
        .sender(msg.delivery.sender.as_str())
}

/// Tries the group's connectors in order until one takes the recipients.
async fn deliver_group(shared: &Shared, msg: &Msg<'_>, group: Group) -> Vec<(usize, Outcome)> {
    let ctx = &shared.ctx;
    let mut failed: Option<(String, String)> = None;
    for name in &group.connectors {
        if let Some((from, why)) = &failed {
            ctx.track(EventKind::Rerouted, |e| {
                let mut e = ids(e, msg)
                    .connector(name.as_str())
                    .reason(format!("rerouted from {from} to {name}: {why}"));
                for r in &group.recipients {
                    e = e.recipient(r.address.as_str());
                }
                e
            });
        }
        if !shared.down.should_try(ctx, name) {
            failed = Some((name.clone(), shared.down.skip_reply(name)));
            continue;
        }
        let Some(conn) = msg.live.config.routing.connector(name) else {
            failed = Some((
                name.clone(),
                format!("451 4.3.5 connector {name} has no settings"),
            ));
            continue;
        };
        // Delivery restrictions again: a reroute may pick a connector the sender was not
        // checked against at RCPT time. Refused now, the sender gets a failure notice.
        if let Err(refused) = msg.live.restrictions.check(&msg.delivery.sender, name) {
            let reply = refused.reply_text();
            return all(&group.recipients, |_| Outcome::Failed(reply.clone()));
        }
        match via_connector(shared, msg, conn, &group.recipients).await {
            SmtpResult::Done(outcomes) => {
                shared.down.mark_up(ctx, name);
                // A temporary reply counts as an attempt on this connector too.
                if outcomes
                    .iter()
                    .any(|(_, o)| matches!(o, Outcome::Deferred { .. }))
                {
                    shared.tries.count(msg.delivery.id, name);
                }
                return outcomes;
            }
            SmtpResult::Unreachable(reply) => {
                shared.tries.count(msg.delivery.id, name);
                if matches!(conn.next_hop, postern_route::NextHopPolicy::SmartHosts(_)) {
                    shared.down.mark_down(ctx, name);
                    shared.down.note_failure(name, &reply);
                }
                failed = Some((name.clone(), reply));
            }
        }
    }
    let reply = failed.map_or_else(
        || "451 4.4.4 no connector available".to_owned(),
        |(_, why)| why,
    );
    all(&group.recipients, |_| Outcome::Deferred {
        class: FailureClass::Connection,
        reply: reply.clone(),
    })
}

/// Delivers the group's recipients through one connector.
async fn via_connector(
    shared: &Shared,
    msg: &Msg<'_>,
    conn: &ConnectorConfig,
    recipients: &[DeliveryRecipient],
) -> SmtpResult {
    if conn.kind == "maildir" {
        let mut out = Vec::with_capacity(recipients.len());
        for r in recipients {
            out.push((r.index, local(&shared.ctx, msg, &conn.name, r).await));
        }
        return SmtpResult::Done(out);
    }
    let job = SmtpJob {
        live: msg.live,
        connector: conn,
        destination: &msg.delivery.destination,
        settings: &msg.settings,
        sender: &msg.delivery.sender,
        recipients,
        body: &msg.body,
        ids: (&msg.queue_id, &msg.message_id),
        dsn: msg.dsn.as_ref(),
        dsn_passed: &msg.dsn_passed,
    };
    outbound::deliver(&shared.ctx, &shared.pool, &job).await
}

/// One recipient into its Maildir.
async fn local(
    ctx: &Arc<Context>,
    msg: &Msg<'_>,
    connector: &str,
    r: &DeliveryRecipient,
) -> Outcome {
    let config = &msg.live.config;
    let allowed = &config.maildir.recipients;
    let address = r.address.to_lowercase();
    if !allowed.is_empty() && !allowed.contains(&address) {
        return Outcome::Failed(format!("550 5.1.1 {address}: no such local mailbox"));
    }
    let (root, hostname) = (config.maildir.root.clone(), config.server.hostname.clone());
    let (body, sender) = (msg.body.clone(), msg.delivery.sender.clone());
    let rcpt = r.address.clone();
    let written = tokio::task::spawn_blocking(move || {
        let d = LocalDelivery {
            root: &root,
            hostname: &hostname,
            sender: &sender,
            recipient: &rcpt,
        };
        maildir::deliver(&d, &body)
    })
    .await;
    match written {
        Ok(Ok(_)) => {
            let reply = MAILDIR_REPLY;
            ctx.track(EventKind::Delivered, |e| {
                ids(e, msg)
                    .recipient(r.address.as_str())
                    .connector(connector)
                    .reply(reply)
            });
            Outcome::Delivered(reply.to_owned())
        }
        Ok(Err(e)) => maildir_error(&e.to_string()),
        Err(e) => maildir_error(&e.to_string()),
    }
}

fn maildir_error(why: &str) -> Outcome {
    Outcome::Deferred {
        class: FailureClass::Data,
        reply: format!("451 4.3.0 cannot write to the Maildir: {why}"),
    }
}

/// Reports the outcomes to the queue (durable when it answers), tracks what the
/// queue decided (failures and expiries, deferrals with the next retry), and queues the
/// notices it calls for under the attempt's settings `live`. `learned.body` is the
/// message when already read (the message may leave the spool with this report, so a
/// notice needs it from before).
async fn report(
    shared: &Arc<Shared>,
    live: &Arc<Live>,
    d: &Delivery,
    outcomes: Vec<(usize, Outcome)>,
    learned: Learned<'_>,
    started: Instant,
) {
    let Learned {
        message_id: mid,
        body,
        dsn_passed,
        dsn,
        arrival,
    } = learned;
    let ctx = &shared.ctx;
    // A copy of the envelope only when a notice might be due: failures are rare,
    // deliveries the common case.
    let may_fail = outcomes
        .iter()
        .any(|(_, o)| !matches!(o, Outcome::Delivered(_)));
    let before = if may_fail || dsn {
        ctx.queue.message(d.id).await.ok().flatten()
    } else {
        None
    };
    let result = match ctx.queue.report(d, &outcomes, ctx.now()).await {
        Ok(r) => {
            if let Some(e) = &r.unrecorded {
                // The outcome stands; the spool keeps its record and writes it once it
                // can (issue 25): nothing is delivered again meanwhile.
                tracing::warn!("outcome not yet on disk, kept: {e}");
            }
            r
        }
        Err(e) => {
            tracing::error!("cannot record the outcome: {e}");
            return;
        }
    };
    if result.completed {
        ctx.bodies.remove(d.id);
        shared.tries.forget(d.id);
        ctx.etrn.forget_message(d.id);
    }
    // The message may have left the spool with this report: keep what a notice needs.
    let keep = match before.filter(|_| needs_notice(&result, &outcomes, dsn)) {
        Some(b) => {
            let body = match body {
                Some(body) => body.clone(),
                None => ctx.queue.body(d.id).await.unwrap_or_default(),
            };
            Some((b, body))
        }
        None => None,
    };
    // The new states of deferred recipients (their next retry), for the tracking log.
    let deferred = outcomes
        .iter()
        .any(|(_, o)| matches!(o, Outcome::Deferred { .. }));
    let state = if deferred {
        ctx.queue
            .message(d.id)
            .await
            .ok()
            .flatten()
            .map(|m| m.state)
    } else {
        None
    };
    // Tracked before any notice, so the log reads in the order things happened.
    track_decisions(&shared.ctx, d, &outcomes, &result, mid, state);
    observe(&shared.ctx, d, &outcomes, started, arrival);
    let Some((before, body)) = keep else { return };
    let ctx = Arc::clone(&shared.ctx);
    let live = Arc::clone(live);
    let delivery = d.clone();
    let _ = tokio::task::spawn_blocking(move || {
        // Success notices: "delivered" for Maildir, "relayed" for a server that does
        // not do DSN, none where a DSN server took the duty over.
        let success_action = |i: usize| {
            if dsn_passed.contains(&i) {
                return None;
            }
            let relayed = outcomes.iter().any(|(j, o)| {
                *j == i && matches!(o, Outcome::Delivered(r) if !r.contains(MAILDIR_REPLY))
            });
            Some(relayed)
        };
        let attempted = super::notices::Attempted {
            delivery: &delivery,
            outcomes: &outcomes,
            result: &result,
        };
        super::notices::send(
            &ctx,
            &live.config,
            &before,
            &body,
            &attempted,
            &success_action,
        );
    })
    .await;
}

/// Whether an attempt may call for a notice: a failure, a due delay notice, or a
/// delivery of a message whose envelope has RFC 3461 parameters (success notices are
/// asked for per recipient with NOTIFY=SUCCESS; most mail has none, and then a delivery
/// costs no extra work).
fn needs_notice(result: &AttemptResult, outcomes: &[(usize, Outcome)], dsn: bool) -> bool {
    !result.failed.is_empty()
        || result.delay_notice
        || dsn
            && outcomes
                .iter()
                .any(|(_, o)| matches!(o, Outcome::Delivered(_)))
}

/// The enhanced status code in a reply (`451 4.4.1 …` → `4.4.1`), if it has one.
fn dsn_status(reply: &str) -> Option<&str> {
    let code = reply.split_whitespace().nth(1)?;
    let ok = code.split('.').count() == 3 && code.split('.').all(|p| p.parse::<u16>().is_ok());
    ok.then_some(code)
}

/// Feeds the delivery-latency and queue-age histograms, once per attempt that delivered
/// to at least one recipient.
fn observe(
    ctx: &Context,
    d: &Delivery,
    outcomes: &[(usize, Outcome)],
    started: Instant,
    arrival: Option<Timestamp>,
) {
    if !outcomes
        .iter()
        .any(|(_, o)| matches!(o, Outcome::Delivered(_)))
    {
        return;
    }
    let queued = arrival.map_or(Duration::ZERO, |a| {
        Duration::from_millis(ctx.now().0.saturating_sub(a.0))
    });
    ctx.metrics
        .delivered(&d.destination, started.elapsed(), queued);
}

fn track_decisions(
    ctx: &Context,
    d: &Delivery,
    outcomes: &[(usize, Outcome)],
    result: &AttemptResult,
    mid: &str,
    state: Option<postern_queue::MessageState>,
) {
    let qid = d.id.to_string();
    for (index, outcome) in outcomes {
        let Some(r) = d.recipients.iter().find(|r| r.index == *index) else {
            continue;
        };
        let base = |e: postern_track::Event| {
            let e = e
                .queue_id(qid.as_str())
                .sender(d.sender.as_str())
                .recipient(r.address.as_str());
            if mid.is_empty() { e } else { e.message_id(mid) }
        };
        let recent = |reply: &str| crate::status::RecentEvent {
            time_ms: ctx.now().0,
            queue_id: qid.clone(),
            recipient: r.address.clone(),
            destination: d.destination.clone(),
            reply: reply.to_owned(),
        };
        match outcome {
            Outcome::Delivered(reply) => {
                tracing::info!(recipient = %r.address, reply = %reply, "delivered");
                ctx.stats.delivered(recent(reply));
            }
            Outcome::Deferred { reply, .. } => {
                tracing::info!(recipient = %r.address, reply = %reply, "deferred");
                ctx.stats
                    .deferred
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Outcome::Failed(_) => {}
        }
        if let Some(f) = result.failed.iter().find(|f| f.index == *index) {
            tracing::warn!(
                recipient = %r.address,
                reply = %f.reply,
                reason = f.reason.name(),
                "failed"
            );
            ctx.stats.failed(recent(&f.reply));
            let kind = if f.reason == FailReason::Expired {
                EventKind::Expired
            } else {
                EventKind::Failed
            };
            ctx.track(kind, |e| {
                let e = base(e).reply(f.reply.as_str()).reason(f.reason.name());
                match dsn_status(&f.reply) {
                    Some(s) => e.dsn_status(s),
                    None => e,
                }
            });
        } else if let Outcome::Deferred { reply, .. } = outcome {
            let st = state.as_ref().and_then(|s| s.recipients.get(*index));
            ctx.track(EventKind::Deferred, |e| {
                let mut e = base(e).reply(reply.as_str());
                if let Some(RecipientState::Deferred {
                    next_attempt,
                    attempts,
                    ..
                }) = st
                {
                    e = e.attempt(*attempts);
                    if let Some(t) = postern_track::Timestamp::from_unix_ms(next_attempt.0 as i64) {
                        e = e.next_retry(t);
                    }
                }
                e
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::dsn_status;

    #[test]
    fn finds_enhanced_codes() {
        assert_eq!(dsn_status("552 5.3.4 too big"), Some("5.3.4"));
        assert_eq!(dsn_status("550 no such user"), None);
        assert_eq!(dsn_status(""), None);
    }
}
