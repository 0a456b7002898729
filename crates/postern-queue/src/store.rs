//! The storage seam: [`QueueStore`], what a gateway needs from wherever its queue lives.
//!
//! A gateway holds an `Arc<dyn QueueStore>` and is written once for every backend: the
//! local spool ([`LocalStore`], a [`Queue`] over a directory: one machine) or a shared
//! database (the PostgreSQL backend in its own crate: a cluster of gateways).
//!
//! Every method returns a boxed future ([`StoreFuture`]) so that a network backend can
//! wait for its database without blocking a thread, and so the trait stays object-safe
//! without an async-trait dependency. The local backend's blocking calls (fsync, file
//! reads) run on whatever the embedder hands it ([`Offload`]; the gateway passes
//! `tokio::task::spawn_blocking`), or inline when it hands nothing.
//!
//! What each backend promises:
//!
//! * [`QueueStore::enqueue`] returns only once the message is durable (the spool's fsync,
//!   the database's commit): the caller may answer `250` then and not before.
//! * [`QueueStore::due`] hands out attempts. On a shared backend that is a **lease**: the
//!   other nodes do not get the same recipients until it is reported or expires (a node
//!   that dies mid-delivery has its work taken over after the lease). Every delivery
//!   handed out comes back through [`QueueStore::report`], with no outcomes when it was
//!   not attempted.
//! * [`QueueStore::next_wakeup`] says when this store next has work;
//!   [`QueueStore::wait_wakeup`] resolves when *another* node changed the queue (new mail,
//!   a retry request), so the delivery loop looks again. The local store has no other
//!   node: its `wait_wakeup` never resolves.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;

use crate::backoff::BackoffEntry;
use crate::control::Command;
use crate::envelope::Envelope;
use crate::id::QueueId;
use crate::queue::{AttemptResult, Delivery, Outcome, Queue};
use crate::scheduler::Target;
use crate::spool::{SpoolError, SpooledMessage};
use crate::summary::Summary;
use crate::time::Timestamp;

/// What a [`QueueStore`] method returns: a boxed, sendable future of a result.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A queue operation that failed, by cause, whatever the backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The local spool failed (a file operation, a full disk, a damaged record, …).
    #[error("spool: {0}")]
    Spool(SpoolError),
    /// The backend cannot be reached or refuses work now (a database down, a connection
    /// lost mid-transaction). Nothing was half written: the caller answers `451` and the
    /// client tries again.
    #[error("{backend} queue unavailable: {reason}")]
    Unavailable {
        /// The backend (`local`, `postgres`, …).
        backend: &'static str,
        /// Why, for the log.
        reason: String,
    },
    /// No such message (delivered, deleted, or never there).
    #[error("no message {0} in the queue")]
    NotFound(QueueId),
    /// The delivery's lease ran out and another node may have taken the message over; the
    /// outcomes were not recorded (the other node's attempt counts).
    #[error("the lease on {0} expired before its outcome was reported")]
    LeaseLost(QueueId),
    /// The backend is not compiled into this program, or not configured.
    #[error("queue backend {0:?} is not available in this build")]
    NotAvailable(String),
    /// Any other backend failure (a query refused, stored data not understood).
    #[error("{backend} queue: {reason}")]
    Backend {
        /// The backend (`local`, `postgres`, …).
        backend: &'static str,
        /// What failed.
        reason: String,
    },
}

impl StoreError {
    /// Whether trying again later may succeed (the backend is down or busy), as opposed
    /// to a request that can never succeed (no such message).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Unavailable { .. } => true,
            StoreError::Spool(e) => !matches!(e, SpoolError::NotFound(_)),
            _ => false,
        }
    }
}

impl From<SpoolError> for StoreError {
    fn from(e: SpoolError) -> StoreError {
        match e {
            SpoolError::NotFound(id) => StoreError::NotFound(id),
            other => StoreError::Spool(other),
        }
    }
}

/// Where a queue lives and what every gateway node needs of it. See [the module
/// docs](self) for what each backend promises. Object-safe: hold it as
/// `Arc<dyn QueueStore>`.
pub trait QueueStore: Send + Sync + fmt::Debug {
    /// The backend's name as configured (`local`, `postgres`).
    fn backend(&self) -> &'static str;

    /// Stores a message durably (committed before this resolves) and makes it due at
    /// `now` for every destination of its recipients.
    fn enqueue<'a>(
        &'a self,
        envelope: &'a Envelope,
        body: Bytes,
        now: Timestamp,
    ) -> StoreFuture<'a, QueueId>;

    /// Up to `max` attempts due at `now`; on a shared backend each is leased to this node
    /// until reported or until the lease expires.
    fn due(&self, now: Timestamp, max: usize) -> StoreFuture<'_, Vec<Delivery>>;

    /// Applies an attempt's outcomes (`(envelope index, outcome)` pairs): retry policy,
    /// time-outs, backoff; persists the new state and ends the lease.
    fn report<'a>(
        &'a self,
        delivery: &'a Delivery,
        outcomes: &'a [(usize, Outcome)],
        now: Timestamp,
    ) -> StoreFuture<'a, AttemptResult>;

    /// Takes the delay notices due at `now` (each taken once, durably); returns those
    /// messages and when the next notice is due.
    fn take_delay_notices(
        &self,
        now: Timestamp,
    ) -> StoreFuture<'_, (Vec<SpooledMessage>, Option<Timestamp>)>;

    /// The earliest time anything is due; `None` when nothing is (empty, or all held).
    fn next_wakeup(&self) -> StoreFuture<'_, Option<Timestamp>>;

    /// Resolves when another node changed the queue (new mail, a retry, a release), so
    /// the delivery loop should look again. Never resolves on a single-node store.
    fn wait_wakeup(&self) -> StoreFuture<'_, ()>;

    /// Holds a message, a destination or everything; returns how many were affected.
    fn hold<'a>(&'a self, target: &'a Target) -> StoreFuture<'a, usize>;

    /// Releases a hold (`Target::All` releases every hold).
    fn release<'a>(&'a self, target: &'a Target) -> StoreFuture<'a, usize>;

    /// Makes matching mail due now (for a destination, like ETRN: its backoff is cleared
    /// too); returns the number of jobs made due.
    fn retry<'a>(&'a self, target: &'a Target, now: Timestamp) -> StoreFuture<'a, usize>;

    /// Deletes a message without notice.
    fn delete(&self, id: QueueId) -> StoreFuture<'_, ()>;

    /// Applies an administrative command; returns a one-line answer.
    fn apply<'a>(&'a self, cmd: &'a Command, now: Timestamp) -> StoreFuture<'a, String>;

    /// Answers the requests `postern queue` left for this store (the local spool's
    /// `control/` directory); returns how many. A shared backend whose commands act on
    /// the database directly answers none.
    fn poll_control(&self, now: Timestamp) -> StoreFuture<'_, usize>;

    /// All queued messages, in arrival (queue id) order.
    fn messages(&self) -> StoreFuture<'_, Vec<SpooledMessage>>;

    /// One queued message.
    fn message(&self, id: QueueId) -> StoreFuture<'_, Option<SpooledMessage>>;

    /// The number of queued messages.
    fn len(&self) -> StoreFuture<'_, usize>;

    /// Whether nothing is queued (provided: [`QueueStore::len`] is zero).
    fn is_empty(&self) -> StoreFuture<'_, bool> {
        Box::pin(async move { Ok(self.len().await? == 0) })
    }

    /// A message's body (cheap to clone and to pass on).
    fn body(&self, id: QueueId) -> StoreFuture<'_, Bytes>;

    /// The qshape-like summary as of `now`.
    fn summary(&self, now: Timestamp) -> StoreFuture<'_, Summary>;

    /// The destinations backed off at `now`, sorted by name.
    fn backoff_entries(&self, now: Timestamp) -> StoreFuture<'_, Vec<(String, BackoffEntry)>>;

    /// Clears the backoff of `destination`; true when it was backed off.
    fn clear_backoff<'a>(&'a self, destination: &'a str, now: Timestamp) -> StoreFuture<'a, bool>;

    /// Whether everything is held, and the held destinations.
    fn holds(&self) -> StoreFuture<'_, (bool, Vec<String>)>;

    /// A setting every node of the store shares (the gateway keeps its transfer mode
    /// here under `transfer_mode`); `None` when never set.
    fn setting<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>>;

    /// Sets a shared setting (see [`QueueStore::setting`]).
    fn set_setting<'a>(&'a self, key: &'a str, value: &'a str) -> StoreFuture<'a, ()>;

    /// The local queue underneath, for what only a spool has (compaction, spool
    /// statistics, the published backoff file); `None` for a shared backend.
    fn local(&self) -> Option<&Queue> {
        None
    }
}

/// Runs a blocking job somewhere else (a thread pool): the gateway passes one that calls
/// `tokio::task::spawn_blocking`. The job must be run exactly once.
pub type Offload = Arc<dyn Fn(Box<dyn FnOnce() + Send + 'static>) + Send + Sync>;

/// The local backend: a [`Queue`] over a spool directory, for one machine.
///
/// Its calls that touch the disk (enqueue, report, holds, retry, delete, delay notices,
/// control requests, bodies) run through the [`Offload`] given to
/// [`LocalStore::with_offload`], so an async caller's threads never wait on an fsync;
/// without one they run inline when the future is first polled. Calls that only read
/// memory always run inline.
///
/// By default a report returns once its record is durable. With
/// [`LocalStore::with_lazy_completions`] the removal of a message whose every recipient
/// was just delivered is not waited for (as an MTA's unlink of a delivered queue file is
/// not fsynced): the report answers from memory, and the record reaches the disk with the
/// next group commit, or by a flush at most the given delay later. A crash in between
/// delivers the message once more; it never loses one.
#[derive(Clone)]
pub struct LocalStore {
    queue: Arc<Queue>,
    offload: Option<Offload>,
    settings: Arc<Mutex<HashMap<String, String>>>,
    lazy_completions: Option<Duration>,
    flush_scheduled: Arc<AtomicBool>,
    committer: Option<Arc<Committer>>,
}

/// The thread that leads group commits for async enqueues; stopped and joined when the
/// last clone of its store goes, so the spool (and its lock) is released with the store.
struct Committer {
    spool: crate::spool::Spool,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.spool.stop_committers();
        let thread = self.thread.get_mut().ok().and_then(Option::take);
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

/// Bodies up to this size are encoded into their spool record on the caller's thread
/// (an async enqueue); larger ones go through the offload, so a runtime thread never
/// copies and checksums megabytes.
const INLINE_ENQUEUE_MAX: usize = 1 << 20;

impl fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalStore")
            .field("queue", &self.queue)
            .field("offload", &self.offload.is_some())
            .field("lazy_completions", &self.lazy_completions)
            .field("committer", &self.committer.is_some())
            .finish_non_exhaustive()
    }
}

impl LocalStore {
    /// A store over `queue` whose blocking calls run inline.
    pub fn new(queue: Queue) -> LocalStore {
        LocalStore {
            queue: Arc::new(queue),
            offload: None,
            settings: Arc::default(),
            lazy_completions: None,
            flush_scheduled: Arc::default(),
            committer: None,
        }
    }

    /// A committer thread of the store's own leads the group commits of async enqueues
    /// and wakes the waiting futures. Without it (the default), an enqueue with an
    /// offload appends its record on the caller's thread too (bodies up to 1 MiB), and
    /// the first one to find no leader running starts one on the offload, which writes
    /// and fsyncs batches until nothing is queued ([`crate::spool::Spool::claim_leader`]):
    /// either way an enqueue no longer holds an offload thread of its own while its fsync
    /// runs (futex calls per message in a relay benchmark 8.4 → 3.7). The thread's cost:
    /// every batch waits for that one thread to be scheduled. The gateway offers it as
    /// `[spool] commit_thread` (off by default); BENCHMARKS.md ("Relay, fourth round"
    /// and "Relay, fifth round") has the measurements both ways. Fails only if the
    /// thread cannot be started.
    pub fn with_committer(mut self) -> std::io::Result<LocalStore> {
        let spool = self.queue.spool().clone();
        let run = spool.clone();
        let thread = std::thread::Builder::new()
            .name("postern-spool-commit".into())
            .spawn(move || run.run_committer())?;
        self.committer = Some(Arc::new(Committer {
            spool,
            thread: Mutex::new(Some(thread)),
        }));
        Ok(self)
    }

    /// Reports that complete a message by delivering every recipient no longer wait for
    /// the removal's fsync; a flush runs at most `delay` later (through the offload, or
    /// at once inline without one). `Duration::ZERO` flushes as soon as the offload runs
    /// it. See the type's docs for what a crash then costs.
    pub fn with_lazy_completions(mut self, delay: Duration) -> LocalStore {
        self.lazy_completions = Some(delay);
        self
    }

    /// A store over `queue` whose blocking calls run through `offload`.
    pub fn with_offload(queue: Queue, offload: Offload) -> LocalStore {
        LocalStore {
            offload: Some(offload),
            ..LocalStore::new(queue)
        }
    }

    /// The queue underneath.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// Runs `job` on the queue through the offload (or inline), as a future.
    fn blocking<T, F>(&self, job: F) -> StoreFuture<'static, T>
    where
        T: Send + 'static,
        F: FnOnce(&Queue) -> Result<T, StoreError> + Send + 'static,
    {
        let queue = Arc::clone(&self.queue);
        match &self.offload {
            None => Box::pin(std::future::ready(job(&queue))),
            Some(offload) => {
                let slot = Arc::new(Mutex::new(Slot::Waiting(None)));
                let fill = Arc::clone(&slot);
                offload(Box::new(move || {
                    let result = job(&queue);
                    // Let go of the queue before the caller learns the result: a caller
                    // that then drops the store closes the spool (and its lock) at once.
                    drop(queue);
                    let mut g = fill.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Slot::Waiting(Some(w)) = std::mem::replace(&mut *g, Slot::Done(result)) {
                        w.wake();
                    }
                }));
                Box::pin(OneShot(slot))
            }
        }
    }

    /// Makes sure the spool is flushed within `delay`: one flush job at a time, which
    /// finds nothing to write when a group commit carried the records meanwhile.
    fn flush_later(&self, delay: Duration) {
        if self.flush_scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        // Weak: a sleeping flush must not keep a closed store's spool (and its lock) open;
        // whoever closed it synced it.
        let queue = Arc::downgrade(&self.queue);
        let flag = Arc::clone(&self.flush_scheduled);
        let job = move || {
            std::thread::sleep(delay);
            flag.store(false, Ordering::Release);
            // A failed flush keeps the records (issue 25); the next one retries them.
            if let Some(queue) = queue.upgrade() {
                let _ = queue.spool().sync();
            }
        };
        match &self.offload {
            Some(offload) => offload(Box::new(job)),
            None => {
                self.flush_scheduled.store(false, Ordering::Release);
                let _ = self.queue.spool().sync();
            }
        }
    }

    /// Runs a memory-only call inline, as a ready future.
    fn inline<T: Send + 'static>(&self, f: impl FnOnce(&Queue) -> T) -> StoreFuture<'static, T> {
        Box::pin(std::future::ready(Ok(f(&self.queue))))
    }
}

/// An async enqueue appended to the spool and waiting for its group commit. Once durable
/// the message is admitted to the queue; if the flush failed it is withdrawn. Dropped
/// before either (the caller gave up), it is finished off the caller's thread as the
/// blocking enqueue would be: admitted once durable, so it is delivered, never stranded.
struct Appended {
    queue: Arc<Queue>,
    offload: Option<Offload>,
    id: QueueId,
    env: Envelope,
    size: u64,
    now: Timestamp,
    pending: Option<crate::spool::Pending>,
}

impl Appended {
    fn poll(&self, cx: &mut Context<'_>) -> Poll<Result<(), SpoolError>> {
        match &self.pending {
            Some(p) => self.queue.spool().poll_durable(p, cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Admits or withdraws the message by the group commit's result.
    fn finish(&mut self, r: Result<(), SpoolError>) -> Result<QueueId, StoreError> {
        self.pending = None;
        settle(&self.queue, self.id, &self.env, self.size, self.now, r)
    }
}

/// Starts a group-commit leader on the offload unless one is running
/// ([`crate::spool::Spool::claim_leader`]). It holds the queue weakly between batches,
/// and wakes each batch's waiters only after letting go of it: a caller whose enqueue
/// resolves and then drops the store closes the spool (and its lock) at once.
fn lead_on_demand(queue: &Arc<Queue>, offload: &Offload) {
    if !queue.spool().claim_leader() {
        return;
    }
    let queue = Arc::downgrade(queue);
    offload(Box::new(move || {
        let mut woken = Vec::new();
        while let Some(q) = queue.upgrade() {
            let led = q.spool().lead_once(&mut woken);
            drop(q);
            woken.drain(..).for_each(Waker::wake);
            match led {
                None => return,
                Some(Err(_)) => std::thread::sleep(crate::spool::COMMITTER_RETRY),
                Some(Ok(())) => {}
            }
        }
    }));
}

fn settle(
    queue: &Queue,
    id: QueueId,
    env: &Envelope,
    size: u64,
    now: Timestamp,
    r: Result<(), SpoolError>,
) -> Result<QueueId, StoreError> {
    match r {
        Ok(()) => {
            queue.admit(id, env, size, now);
            Ok(id)
        }
        Err(e) => {
            // Refused with a 451: it must not be delivered as well.
            queue.spool().withdraw(id);
            Err(e.into())
        }
    }
}

impl Drop for Appended {
    fn drop(&mut self) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let (queue, id, env) = (Arc::clone(&self.queue), self.id, self.env.clone());
        let (size, now) = (self.size, self.now);
        let job = move || {
            let r = queue.spool().wait(pending);
            let _ = settle(&queue, id, &env, size, now, r);
        };
        match &self.offload {
            Some(offload) => offload(Box::new(job)),
            None => job(),
        }
    }
}

/// The result of an offloaded job: not yet (with the waker to call), or here.
enum Slot<T> {
    Waiting(Option<Waker>),
    Done(Result<T, StoreError>),
    Taken,
}

/// A future completed by the offloaded job. If the offload drops the job without running
/// it, the future never completes; the [`Offload`] contract forbids that.
struct OneShot<T>(Arc<Mutex<Slot<T>>>);

impl<T> Future for OneShot<T> {
    type Output = Result<T, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut g = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *g, Slot::Taken) {
            Slot::Done(r) => Poll::Ready(r),
            Slot::Waiting(_) => {
                *g = Slot::Waiting(Some(cx.waker().clone()));
                Poll::Pending
            }
            Slot::Taken => Poll::Ready(Err(StoreError::Backend {
                backend: "local",
                reason: "result polled twice".into(),
            })),
        }
    }
}

impl QueueStore for LocalStore {
    fn backend(&self) -> &'static str {
        "local"
    }

    fn enqueue<'a>(
        &'a self,
        envelope: &'a Envelope,
        body: Bytes,
        now: Timestamp,
    ) -> StoreFuture<'a, QueueId> {
        let env = envelope.clone();
        let on_demand = self.committer.is_none();
        if (on_demand && self.offload.is_none()) || body.len() > INLINE_ENQUEUE_MAX {
            return self.blocking(move |q| Ok(q.enqueue_shared(&env, body, now)?));
        }
        let queue = Arc::clone(&self.queue);
        let offload = self.offload.clone();
        let size = body.len() as u64;
        Box::pin(async move {
            let (id, pending) = queue.spool().enqueue_begin(&env, body, now)?;
            if let Some(offload) = offload.as_ref().filter(|_| on_demand) {
                lead_on_demand(&queue, offload);
            }
            let mut waiting = Appended {
                queue,
                offload,
                id,
                env,
                size,
                now,
                pending: Some(pending),
            };
            let r = std::future::poll_fn(|cx| waiting.poll(cx)).await;
            waiting.finish(r)
        })
    }

    fn due(&self, now: Timestamp, max: usize) -> StoreFuture<'_, Vec<Delivery>> {
        self.inline(|q| q.due(now, max))
    }

    fn report<'a>(
        &'a self,
        delivery: &'a Delivery,
        outcomes: &'a [(usize, Outcome)],
        now: Timestamp,
    ) -> StoreFuture<'a, AttemptResult> {
        let Some(delay) = self.lazy_completions else {
            let (delivery, outcomes) = (delivery.clone(), outcomes.to_vec());
            return self.blocking(move |q| Ok(q.report(&delivery, &outcomes, now)?));
        };
        // Memory only: the decision and its record, no I/O.
        let (result, pending) = match self.queue.report_begin(delivery, outcomes, now) {
            Ok(r) => r,
            Err(e) => return Box::pin(std::future::ready(Err(e.into()))),
        };
        let Some(pending) = pending else {
            return Box::pin(std::future::ready(Ok(result)));
        };
        let delivered = outcomes
            .iter()
            .all(|(_, o)| matches!(o, Outcome::Delivered(_)));
        if result.completed && delivered {
            // Losing this record costs a second delivery, never a message: no wait.
            self.flush_later(delay);
            return Box::pin(std::future::ready(Ok(result)));
        }
        self.blocking(move |q| {
            let mut result = result;
            if let Err(e) = q.spool().wait(pending) {
                // The decision stands in memory, and the spool keeps the record (issue 25).
                result.unrecorded = Some(e.to_string());
            }
            Ok(result)
        })
    }

    fn take_delay_notices(
        &self,
        now: Timestamp,
    ) -> StoreFuture<'_, (Vec<SpooledMessage>, Option<Timestamp>)> {
        self.blocking(move |q| Ok(q.take_delay_notices(now)?))
    }

    fn next_wakeup(&self) -> StoreFuture<'_, Option<Timestamp>> {
        self.inline(Queue::next_wakeup)
    }

    fn wait_wakeup(&self) -> StoreFuture<'_, ()> {
        Box::pin(std::future::pending())
    }

    fn hold<'a>(&'a self, target: &'a Target) -> StoreFuture<'a, usize> {
        let t = target.clone();
        self.blocking(move |q| Ok(q.hold(&t)?))
    }

    fn release<'a>(&'a self, target: &'a Target) -> StoreFuture<'a, usize> {
        let t = target.clone();
        self.blocking(move |q| Ok(q.release(&t)?))
    }

    fn retry<'a>(&'a self, target: &'a Target, now: Timestamp) -> StoreFuture<'a, usize> {
        let t = target.clone();
        self.blocking(move |q| Ok(q.retry(&t, now)?))
    }

    fn delete(&self, id: QueueId) -> StoreFuture<'_, ()> {
        self.blocking(move |q| Ok(q.delete(id)?))
    }

    fn apply<'a>(&'a self, cmd: &'a Command, now: Timestamp) -> StoreFuture<'a, String> {
        let cmd = cmd.clone();
        self.blocking(move |q| Ok(q.apply(&cmd, now)?))
    }

    fn poll_control(&self, now: Timestamp) -> StoreFuture<'_, usize> {
        self.blocking(move |q| Ok(q.poll_control(now)?))
    }

    fn messages(&self) -> StoreFuture<'_, Vec<SpooledMessage>> {
        self.inline(Queue::messages)
    }

    fn message(&self, id: QueueId) -> StoreFuture<'_, Option<SpooledMessage>> {
        self.inline(|q| q.message(id))
    }

    fn len(&self) -> StoreFuture<'_, usize> {
        self.inline(Queue::len)
    }

    fn body(&self, id: QueueId) -> StoreFuture<'_, Bytes> {
        self.blocking(move |q| Ok(q.body(id)?))
    }

    fn summary(&self, now: Timestamp) -> StoreFuture<'_, Summary> {
        self.inline(|q| q.summary(now))
    }

    fn backoff_entries(&self, now: Timestamp) -> StoreFuture<'_, Vec<(String, BackoffEntry)>> {
        self.inline(|q| q.backoff_entries(now))
    }

    fn clear_backoff<'a>(&'a self, destination: &'a str, now: Timestamp) -> StoreFuture<'a, bool> {
        self.inline(|q| q.clear_backoff(destination, now))
    }

    fn holds(&self) -> StoreFuture<'_, (bool, Vec<String>)> {
        self.inline(Queue::holds)
    }

    fn setting<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
        let g = self.settings.lock().unwrap_or_else(PoisonError::into_inner);
        Box::pin(std::future::ready(Ok(g.get(key).cloned())))
    }

    fn set_setting<'a>(&'a self, key: &'a str, value: &'a str) -> StoreFuture<'a, ()> {
        let mut g = self.settings.lock().unwrap_or_else(PoisonError::into_inner);
        g.insert(key.to_owned(), value.to_owned());
        Box::pin(std::future::ready(Ok(())))
    }

    fn local(&self) -> Option<&Queue> {
        Some(&self.queue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backoff::FailureClass;
    use crate::envelope::RecipientState;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;
    use std::thread::Thread;

    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    /// A minimal executor: polls `fut`, parking the thread until its waker is called.
    fn block_on<F: Future>(fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park();
        }
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("postern-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// An offload that runs each job on a thread of its own, and the count of jobs given.
    fn counting_offload() -> (Offload, Arc<AtomicUsize>) {
        let jobs = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&jobs);
        let offload: Offload = Arc::new(move |job| {
            counted.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(job);
        });
        (offload, jobs)
    }

    const T0: Timestamp = Timestamp(1_700_000_000_000);

    fn open(dir: &std::path::Path) -> Queue {
        Queue::open(dir, crate::QueueConfig::default(), T0)
            .unwrap()
            .0
    }

    /// The delivery loop through the trait object, its disk calls on other threads: what
    /// is enqueued is durable (a reopened spool has it), comes back as the same bytes,
    /// and its outcome completes it.
    #[test]
    fn offloaded_store_round_trip_survives_reopen() {
        let dir = tmp("offload");
        let (offload, jobs) = counting_offload();
        let store: Arc<dyn QueueStore> = Arc::new(LocalStore::with_offload(open(&dir), offload));
        assert_eq!(store.backend(), "local");
        let env = Envelope::new("s@x", ["a@one", "b@two"], T0);
        let body = Bytes::from_static(b"Subject: hi\r\n\r\nbody\r\n");
        let id = block_on(store.enqueue(&env, body.clone(), T0)).unwrap();
        assert!(
            jobs.load(Ordering::SeqCst) >= 1,
            "the fsync ran off this thread"
        );
        assert_eq!(block_on(store.body(id)).unwrap(), body);
        assert_eq!(block_on(store.len()).unwrap(), 1);
        drop(store);
        // Durable before enqueue resolved: a fresh open finds it.
        let store: Arc<dyn QueueStore> = Arc::new(LocalStore::new(open(&dir)));
        let mut due = block_on(store.due(T0, 10)).unwrap();
        due.sort_by(|a, b| a.destination.cmp(&b.destination));
        assert_eq!(due.len(), 2);
        let r =
            block_on(store.report(&due[0], &[(0, Outcome::Delivered("250".into()))], T0)).unwrap();
        assert!(!r.completed);
        let deferred = Outcome::Deferred {
            class: FailureClass::Connection,
            reply: "connection refused".into(),
        };
        block_on(store.report(&due[1], &[(1, deferred)], T0)).unwrap();
        let entries = block_on(store.backoff_entries(T0)).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].0, "two");
        assert!(
            block_on(store.due(T0, 10)).unwrap().is_empty(),
            "backed off"
        );
        // ETRN-style: the destination's mail is due now and its backoff is gone.
        let two = Target::Destination("two".into());
        assert_eq!(block_on(store.retry(&two, T0)).unwrap(), 1);
        assert!(!block_on(store.clear_backoff("two", T0)).unwrap());
        let m = block_on(store.message(id)).unwrap().unwrap();
        assert!(matches!(
            m.state.recipients[0],
            RecipientState::Delivered { .. }
        ));
        assert_eq!(block_on(store.summary(T0)).unwrap().messages, 1);
        let due = block_on(store.due(T0, 10)).unwrap();
        let r =
            block_on(store.report(&due[0], &[(1, Outcome::Failed("550 no".into()))], T0)).unwrap();
        assert!(r.completed);
        assert!(block_on(store.messages()).unwrap().is_empty());
        assert!(store.local().is_some_and(Queue::is_empty));
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Lazy completions: a delivered message's removal answers without running a job
    /// (no fsync waited for), is on disk once the delayed flush ran, and without that
    /// flush (a crash) the message comes back: delivered twice, never lost. A deferral
    /// still waits for its record.
    #[test]
    fn lazy_completions_answer_from_memory_and_flush_later() {
        let dir = tmp("lazy");
        let (offload, jobs) = counting_offload();
        let delay = Duration::from_millis(300);
        let lazy =
            |q| LocalStore::with_offload(q, Arc::clone(&offload)).with_lazy_completions(delay);
        let store = lazy(open(&dir));
        let env = Envelope::new("s@x", ["a@one"], T0);
        let body = Bytes::from_static(b"Subject: hi\r\n\r\nbody\r\n");
        let id = block_on(store.enqueue(&env, body.clone(), T0)).unwrap();
        let due = block_on(store.due(T0, 10)).unwrap();
        let before = jobs.load(Ordering::SeqCst);
        let delivered = [(0, Outcome::Delivered("250 ok".into()))];
        let r = block_on(store.report(&due[0], &delivered, T0)).unwrap();
        assert!(r.completed && r.unrecorded.is_none());
        assert_eq!(
            jobs.load(Ordering::SeqCst),
            before + 1,
            "only the delayed flush"
        );
        assert!(store.queue().is_empty());
        // A crash now (the removal still in memory): the message is back after a restart.
        let recovered = crate::Spool::inspect(&dir, &crate::SpoolOptions::default()).unwrap();
        assert!(
            recovered.messages.iter().any(|m| m.id == id),
            "not yet flushed: it would be delivered again"
        );
        // After the delay the flush wrote it: a fresh open no longer has the message.
        std::thread::sleep(delay * 3);
        drop(store);
        let store = lazy(open(&dir));
        assert!(store.queue().is_empty(), "the removal reached the disk");
        // A deferral waits for its fsync (a job on the offload) whatever the setting.
        let id = block_on(store.enqueue(&env, body, T0)).unwrap();
        let due = block_on(store.due(T0, 10)).unwrap();
        let before = jobs.load(Ordering::SeqCst);
        let deferred = [(
            0,
            Outcome::Deferred {
                class: FailureClass::Recipient,
                reply: "451 later".into(),
            },
        )];
        let r = block_on(store.report(&due[0], &deferred, T0)).unwrap();
        assert!(!r.completed);
        assert_eq!(
            jobs.load(Ordering::SeqCst),
            before + 1,
            "waited on the offload"
        );
        drop(store);
        let store = LocalStore::new(open(&dir));
        let m = store.queue().message(id).unwrap();
        assert!(matches!(
            m.state.recipients[0],
            RecipientState::Deferred { .. }
        ));
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// 8 threads × 40 async enqueues at once through `store`: 320 distinct ids, every
    /// one admitted.
    fn enqueue_from_many_threads(store: &LocalStore, env: &Envelope) {
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (store, env) = (store.clone(), env.clone());
                std::thread::spawn(move || {
                    (0..40)
                        .map(|i| {
                            let body = Bytes::from(format!("Subject: {t}-{i}\r\n\r\nx\r\n"));
                            block_on(store.enqueue(&env, body, T0)).unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut ids: Vec<QueueId> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 320);
    }

    /// A failed fsync refuses the enqueue it held (not admitted), the next one succeeds,
    /// and after a restart the spool has `queued` + 1 messages: the refused one is not
    /// delivered. Consumes the store (the reopen needs its lock).
    fn failed_flush_refuses_only_its_enqueue(store: LocalStore, dir: &std::path::Path) {
        let queued = store.queue().len();
        let env = Envelope::new("s@x", ["a@one"], T0);
        store.queue().spool().fail_next_syncs(1);
        let body = Bytes::from_static(b"Subject: lost\r\n\r\nx\r\n");
        let refused = block_on(store.enqueue(&env, body.clone(), T0));
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(store.queue().len(), queued, "not admitted");
        let id = block_on(store.enqueue(&env, body, T0)).unwrap();
        assert_eq!(store.queue().len(), queued + 1);
        drop(store);
        let reopened = open(dir);
        assert_eq!(
            reopened.len(),
            queued + 1,
            "the refused one is not delivered"
        );
        assert!(reopened.message(id).is_some());
    }

    /// Async enqueues through the committer thread: many at once from many threads, each
    /// durable when it resolves (a reopened spool has every one), none holding a thread
    /// of the offload; a failed flush refuses only the messages it held (withdrawn, never
    /// delivered) and the next enqueue succeeds.
    #[test]
    fn committer_enqueues_are_durable_and_failures_withdrawn() {
        let dir = tmp("committer");
        let (offload, jobs) = counting_offload();
        let store = LocalStore::with_offload(open(&dir), offload)
            .with_committer()
            .unwrap();
        enqueue_from_many_threads(&store, &Envelope::new("s@x", ["a@one"], T0));
        assert_eq!(
            jobs.load(Ordering::SeqCst),
            0,
            "no enqueue used the offload"
        );
        assert_eq!(store.queue().len(), 320, "every one admitted");
        failed_flush_refuses_only_its_enqueue(store, &dir);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Async enqueues without a committer thread: the first to find no commit under way
    /// starts a leader on the offload, which serves every enqueue queued meanwhile. Many
    /// at once from many threads, then one at a time (each must find the claim free
    /// again, or it would wait forever): every one durable when it resolves, at most one
    /// offload job per enqueue, and a failed flush refuses only what it held.
    #[test]
    fn leader_on_demand_enqueues_are_durable_and_failures_withdrawn() {
        // A lost wake-up would leave an enqueue waiting forever: a failure, not a hang.
        let (done, finished) = std::sync::mpsc::channel();
        let test = std::thread::spawn(move || {
            leader_on_demand_enqueues();
            let _ = done.send(());
        });
        if finished.recv_timeout(Duration::from_secs(60)).is_err() {
            panic!("an enqueue never resolved: no leader served it");
        }
        test.join().unwrap();
    }

    fn leader_on_demand_enqueues() {
        let dir = tmp("leader");
        let (offload, jobs) = counting_offload();
        let store = LocalStore::with_offload(open(&dir), offload);
        let env = Envelope::new("s@x", ["a@one"], T0);
        enqueue_from_many_threads(&store, &env);
        assert_eq!(store.queue().len(), 320, "every one admitted");
        let concurrent_jobs = jobs.load(Ordering::SeqCst);
        assert!(
            (1..=320).contains(&concurrent_jobs),
            "{concurrent_jobs} leader jobs"
        );
        for i in 0..20 {
            let body = Bytes::from(format!("Subject: one {i}\r\n\r\nx\r\n"));
            block_on(store.enqueue(&env, body, T0)).unwrap();
        }
        assert_eq!(store.queue().len(), 340);
        // Quiet again: no leader holds the claim.
        let spool = store.queue().spool().clone();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            if spool.claim_leader() {
                assert!(
                    spool.lead_once(&mut Vec::new()).is_none(),
                    "nothing was left queued"
                );
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "a leader kept the claim"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(spool);
        failed_flush_refuses_only_its_enqueue(store, &dir);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn holds_retry_delete_and_errors_by_cause() {
        let dir = tmp("admin");
        let store = LocalStore::new(open(&dir));
        let env = Envelope::new("s@x", ["r@d"], T0);
        let id = block_on(store.enqueue(&env, Bytes::from_static(b"x"), T0)).unwrap();
        let dest = Target::Destination("d".into());
        assert_eq!(block_on(store.hold(&dest)).unwrap(), 1);
        assert_eq!(
            block_on(store.holds()).unwrap(),
            (false, vec!["d".to_string()])
        );
        assert!(block_on(store.due(T0, 10)).unwrap().is_empty());
        assert_eq!(block_on(store.next_wakeup()).unwrap(), None, "held");
        block_on(store.release(&dest)).unwrap();
        assert_eq!(block_on(store.next_wakeup()).unwrap(), Some(T0));
        assert_eq!(block_on(store.retry(&dest, T0)).unwrap(), 1);
        let answer = block_on(store.apply(&Command::Hold(Target::All), T0)).unwrap();
        assert!(answer.starts_with("held all"), "{answer}");
        block_on(store.delete(id)).unwrap();
        // A missing message is NotFound whatever the call, and not worth retrying.
        let e = block_on(store.delete(id)).unwrap_err();
        assert!(matches!(e, StoreError::NotFound(x) if x == id), "{e}");
        assert!(!e.is_transient());
        let e = block_on(store.body(id)).unwrap_err();
        assert!(matches!(e, StoreError::NotFound(_)), "{e}");
        assert_eq!(block_on(store.poll_control(T0)).unwrap(), 0);
        assert_eq!(block_on(store.setting("transfer_mode")).unwrap(), None);
        block_on(store.set_setting("transfer_mode", "inbound")).unwrap();
        assert_eq!(
            block_on(store.setting("transfer_mode")).unwrap().as_deref(),
            Some("inbound")
        );
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// One node alone: nobody else wakes it.
    #[test]
    fn local_wait_wakeup_never_resolves() {
        let dir = tmp("wake");
        let store = LocalStore::new(open(&dir));
        let mut fut = store.wait_wakeup();
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        drop(fut);
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn spool_errors_keep_their_cause() {
        let e = StoreError::from(SpoolError::Locked("/x".into()));
        assert!(matches!(e, StoreError::Spool(SpoolError::Locked(_))));
        assert!(e.is_transient());
        assert!(e.to_string().contains("locked"), "{e}");
        let e = StoreError::Unavailable {
            backend: "postgres",
            reason: "connection refused".into(),
        };
        assert!(e.is_transient());
        assert_eq!(
            e.to_string(),
            "postgres queue unavailable: connection refused"
        );
    }
}
