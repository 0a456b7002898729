//! The delivery loop: takes what the queue says is due, runs each attempt as a task
//! within the outbound limits, and sleeps until new mail, a control request, the queue's
//! next due time or the poll interval.
//!
//! Every [`Delivery`] the queue hands out goes back through `QueueStore::report`: attempted
//! ones with their outcomes, ones still waiting for a slot at shutdown with none (so they
//! are scheduled again). A delivery cut short by the gateway's grace period is never
//! reported; the spool still holds it and it is attempted again after a restart
//! (at-least-once, never lost).
//!
//! | module | what |
//! | --- | --- |
//! | [`limits`] | global and per-destination concurrency |
//! | [`attempt`] | one delivery: route, fail over, deliver, report, track |
//! | [`down`] | connectors marked down and their probes |
//! | [`etrn`] | domains held until they ask with ETRN |
//! | [`notices`] | failure, success and (timed) delay notices |
//! | [`etrn_out`] | outbound ETRN: asking a provider for our held mail |
//! | [`tries`] | attempts per message and connector, for `max_attempts` |
//! | [`control`] | `postern queue` requests, with the gateway's share of a retry |

pub mod attempt;
pub mod control;
pub mod down;
pub mod etrn;
pub mod etrn_out;
pub mod limits;
pub mod notices;
pub mod tries;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use postern_queue::Delivery;
use tokio::task::JoinSet;

use crate::context::Context;
use crate::outbound::pool::{Pool, close_all};
use down::DownConnectors;
use limits::Limits;

/// What the delivery tasks share besides the context.
#[derive(Debug)]
pub struct Shared {
    /// The gateway's shared state.
    pub ctx: Arc<Context>,
    /// Idle outbound connections.
    pub pool: Pool,
    /// Connectors marked down.
    pub down: DownConnectors,
    /// Attempts per message and connector.
    pub tries: tries::Tries,
}

impl Shared {
    /// The shared delivery state for `ctx`, sized by its configuration (settings a
    /// reload leaves alone: the pool and the probes are made once).
    pub fn new(ctx: Arc<Context>) -> Shared {
        let live = ctx.live();
        let c = &live.config.connections;
        Shared {
            pool: Pool::new(
                c.max_outbound_connections,
                c.idle_connection_time,
                c.messages_per_connection,
            ),
            down: DownConnectors::new(&live.config.retry.queue.retry)
                .expiring_after(live.config.retry.down_expiry),
            tries: tries::Tries::new(),
            ctx,
        }
    }
}

/// Runs the delivery loop until the gateway shuts down, then waits for the deliveries
/// under way. The outbound limits and the poll interval are read once, here: a reload
/// carries them over unchanged (they need a restart). `control` is the receiver of queue
/// commands from the admin API ([`crate::admin_requests::Requests::take_control`]),
/// taken by the caller before it starts the API, so that no command finds the loop
/// "not running" while this task has yet to be first polled.
pub async fn run(
    ctx: Arc<Context>,
    mut control: Option<tokio::sync::mpsc::Receiver<crate::admin_requests::ControlRequest>>,
) {
    let shared = Arc::new(Shared::new(Arc::clone(&ctx)));
    // Delay notices go by age, on their own timer (issue 22 item 3).
    let delay_timer = tokio::spawn(notices::timer(Arc::clone(&ctx)));
    let (limits, poll) = {
        let live = ctx.live();
        let c = &live.config.connections;
        let limits = Limits::new(
            c.max_outbound_connections,
            c.max_connections_per_destination,
        );
        (limits, live.config.retry.poll_interval)
    };
    let etrn = tokio::spawn(etrn_out::run(Arc::clone(&ctx)));
    let mut tasks = JoinSet::new();
    // Deliveries taken from the queue that wait for a slot (per-destination limit).
    // Bounded: the loop takes no more than the free global slots minus these.
    let mut waiting: VecDeque<Delivery> = VecDeque::new();
    // Deliveries the transfer mode holds (mail to the Internet in mode "inbound", to
    // the organisation in "outbound"); given back when the mode lets them go.
    let mut parked: Vec<Delivery> = Vec::new();
    let mut shutdown = ctx.shutdown.clone();
    // One timer for every turn's sleep: a new one each turn was a timer-wheel insertion
    // and removal a turn, and a turn comes about once a relayed message.
    let mut timer = crate::lazy_timer::LazyTimer::new();
    // Queue commands from the admin API (`postern queue …`) arrive on `control`.
    while !ctx.is_shutting_down() {
        if let Some(rx) = control.as_mut() {
            poll_control(&shared, rx).await;
        }
        close_all(shared.pool.expired());
        for name in shared.down.expire(&ctx) {
            tracing::info!(connector = %name, "connector {name}: down mark expired, trying it again");
        }
        while tasks.try_join_next().is_some() {}
        // Transfer mode "none": mail queues up until the mode changes; "inbound" and
        // "outbound" park the direction they hold.
        let outbound = ctx.transfer_mode() != crate::config::TransferMode::None;
        let room = limits.available().saturating_sub(waiting.len());
        let writable = spool_writable(&ctx).await;
        if room > 0 && outbound && writable {
            match ctx.queue.due(ctx.now(), room).await {
                Ok(due) => waiting.extend(due),
                Err(e) => tracing::error!("queue: cannot take due mail: {e}"),
            }
        }
        park(&ctx, &mut waiting, &mut parked).await;
        // Deliveries already taken wait too while the mode holds all mail ("none").
        if outbound {
            dispatch(&shared, &limits, &mut waiting, &mut tasks);
        }
        let room = outbound && limits.available() > waiting.len();
        let wait = if writable {
            sleep_time(&ctx, poll, room).await
        } else {
            // Nothing is taken from the queue until the spool writes again, so mail
            // already due must not shorten the wait: that spun this loop, a failing
            // flush after another, for as long as the disk stayed full.
            SPOOL_RETRY
        };
        if let Some(deadline) = tokio::time::Instant::now().checked_add(wait) {
            timer.arm(deadline);
        }
        tokio::select! {
            () = ctx.wake.notified() => {}
            () = limits.freed.notified() => {}
            // Another node of a shared queue queued mail or asked for a retry.
            r = ctx.queue.wait_wakeup() => if let Err(e) = r {
                tracing::warn!("queue: waiting for other nodes: {e}");
                tokio::time::sleep(SPOOL_RETRY).await;
            },
            // It may fire early (set for an earlier turn's wait): the loop just looks again.
            () = timer.fired() => {}
            r = shutdown.changed() => if r.is_err() { break },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            Some(req) = async { control.as_mut()?.recv().await } => answer_control(&shared, req).await,
        }
    }
    give_back(&ctx, waiting).await;
    give_back(&ctx, parked.into()).await;
    let _ = etrn.await;
    while tasks.join_next().await.is_some() {}
    // Outcomes not yet on disk (removals of delivered mail wait for the next flush; a
    // full disk): one more flush before the gateway stops, so a restart does not
    // deliver them again.
    let store = Arc::clone(&ctx.queue);
    let _ = tokio::task::spawn_blocking(move || store.local().map(|q| q.spool().sync())).await;
    if !spool_writable(&ctx).await {
        tracing::error!("spool still cannot write; unrecorded outcomes are lost at exit");
    }
    close_all(shared.pool.drain());
    let _ = delay_timer.await;
}

/// Moves the waiting deliveries the transfer mode holds to `parked`, and gives the
/// parked ones it no longer holds back to the queue (due at once).
async fn park(ctx: &Arc<Context>, waiting: &mut VecDeque<Delivery>, parked: &mut Vec<Delivery>) {
    let mode = ctx.transfer_mode();
    if mode == crate::config::TransferMode::Both && parked.is_empty() {
        return;
    }
    let live = ctx.live();
    let moves = |d: &Delivery| {
        let rcpts = d.recipients.iter().map(|r| r.address.as_str());
        crate::policy::transfer::may_deliver(mode, &live.config, rcpts)
    };
    let (free, held): (Vec<_>, Vec<_>) = std::mem::take(parked).into_iter().partition(moves);
    *parked = held;
    let (go, hold): (VecDeque<_>, VecDeque<_>) =
        std::mem::take(waiting).into_iter().partition(moves);
    *waiting = go;
    parked.extend(hold);
    give_back(ctx, free.into()).await;
}

/// How often a spool that cannot write (a full disk) is tried again while idle.
const SPOOL_RETRY: Duration = Duration::from_secs(1);

/// True when the spool can write. After a failed write (a full disk) it tries to write
/// what the spool keeps (issue 25); while that fails no delivery starts, since its
/// outcome could not be recorded and a restart would deliver it again.
async fn spool_writable(ctx: &Arc<Context>) -> bool {
    // A shared backend reports its own failures call by call.
    let Some(local) = ctx.queue.local() else {
        return true;
    };
    if !local.spool().is_failing() {
        return true;
    }
    let c = Arc::clone(ctx);
    tokio::task::spawn_blocking(move || c.queue.local().is_none_or(|q| q.spool().sync().is_ok()))
        .await
        .unwrap_or(false)
}

/// Starts every waiting delivery that can get a slot; the others keep their place.
fn dispatch(
    shared: &Arc<Shared>,
    limits: &Arc<Limits>,
    waiting: &mut VecDeque<Delivery>,
    tasks: &mut JoinSet<()>,
) {
    let mut blocked = VecDeque::new();
    while let Some(d) = waiting.pop_front() {
        match limits.try_acquire(&d.destination) {
            Some(slot) => {
                let s = Arc::clone(shared);
                // Boxed for the reason the inbound sessions are (a ~7.7 KB future).
                tasks.spawn(Box::pin(async move {
                    attempt::run(s, d).await;
                    drop(slot);
                }));
            }
            None => blocked.push_back(d),
        }
    }
    *waiting = blocked;
}

/// How long to sleep: until the queue's next due time, at most the poll interval. With
/// no free slot the next due time does not matter (a freed slot wakes the loop).
async fn sleep_time(ctx: &Context, poll: Duration, room: bool) -> Duration {
    let next = if room {
        ctx.queue.next_wakeup().await.ok().flatten()
    } else {
        None
    };
    match next {
        Some(t) => Duration::from_millis(t.0.saturating_sub(ctx.now().0)).min(poll),
        None => poll,
    }
}

/// Applies the queue commands waiting from the admin API.
async fn poll_control(
    shared: &Arc<Shared>,
    rx: &mut tokio::sync::mpsc::Receiver<crate::api::requests::ControlRequest>,
) {
    while let Ok(req) = rx.try_recv() {
        answer_control(shared, req).await;
    }
}

/// Applies one queue command (spool I/O: off the runtime) and sends the answer back.
async fn answer_control(shared: &Arc<Shared>, req: crate::api::requests::ControlRequest) {
    let s = Arc::clone(shared);
    let cmd = req.command;
    let answer = tokio::task::spawn_blocking(move || control::apply(&s, &cmd, s.ctx.now()))
        .await
        .unwrap_or_else(|e| format!("error: {e}"));
    let _ = req.answer.send(answer);
    shared.ctx.wake.notify_one();
}

/// Reports deliveries that never started with no outcomes, so they are scheduled again.
async fn give_back(ctx: &Arc<Context>, waiting: VecDeque<Delivery>) {
    if waiting.is_empty() {
        return;
    }
    for d in &waiting {
        let _ = ctx.queue.report(d, &[], ctx.now()).await;
    }
}
