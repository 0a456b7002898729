//! # postern-queue
//!
//! Where mail waits between attempts: retry policies, per-priority time-outs, per-destination
//! backoff, per-recipient state, a durable spool with group commit, and a scheduler.
//!
//! Sans-IO where it can be: every scheduling call takes `now` as a [`Timestamp`]
//! (milliseconds since the Unix epoch); the crate never reads a clock. The [`Spool`] is the
//! one place it touches the disk (format: `FORMAT.md` beside this crate).
//!
//! | module | what |
//! | --- | --- |
//! | [`policy`] | retry schedules: IMS default (60 min × 1.5, 8 retries), interval lists, Exim rules, jitter |
//! | [`lifetime`] | priority detection, per-priority time-outs, notification lifetime, delay notices |
//! | [`backoff`] | per-destination backoff with failure classes kept apart |
//! | [`envelope`] | the stored envelope and per-recipient state |
//! | [`spool`], [`record`] | the durable log: group commit, recovery, quarantine, compaction |
//! | [`scheduler`] | due jobs in time order, holds, retry now |
//! | [`queue`] | all of the above composed: what a gateway embeds |
//! | [`store`] | the storage seam: [`QueueStore`], implemented by [`LocalStore`] over a [`Queue`] |
//! | [`body`] | a message body streamed from its spool record, checksum checked at the end |
//! | [`summary`], [`control`] | qshape-like summary; requests from `postern queue` |
//! | [`wait`] | a recipient's real next attempt (schedule or backoff); the published backoff table |
//!
//! # Retry schedule or destination backoff: which applies when
//!
//! A temporary failure is reported with its [`FailureClass`], and the class decides:
//!
//! * **The destination failed** — cannot connect, connection lost or timed out, greeting
//!   or EHLO refused (4xx or 5xx), TLS required and unavailable or failing
//!   ([`FailureClass::Connection`], [`FailureClass::Session`]). The destination is
//!   backed off ([`backoff`]: `initial`, doubling up to `max`), and every message for it
//!   waits until the backoff ends, new ones included. Waiting does **not** use up a
//!   recipient's retries: its attempt count stays, and it fails only at its priority's
//!   time-out ([`lifetime`]).
//! * **The destination answered with a 4xx** to MAIL FROM, RCPT TO or the end of the
//!   data ([`FailureClass::Data`], [`FailureClass::Recipient`]) — greylisting, a full
//!   mailbox, a busy server. That is the message's or the recipient's own deferral: it
//!   counts as an attempt and the recipient follows its retry schedule ([`policy`]).
//!   Nobody is backed off; other recipients and messages for the destination go as
//!   usual, and the answer clears any backoff the destination had.
//!
//! A recipient's real next attempt is the later of its own `next_attempt` and the end of
//! its destination's backoff ([`Queue::backoff_entries`], [`wait`]).
//!
//! A gateway's delivery loop, in short:
//!
//! ```
//! use postern_queue::{Envelope, FailureClass, Outcome, Queue, QueueConfig, Timestamp};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("postern-queue-doc-{}", std::process::id()));
//! let now = Timestamp(1_700_000_000_000);
//! let (queue, recovered) = Queue::open(&dir, QueueConfig::default(), now)?;
//! assert!(recovered.quarantined.is_empty());
//! // An SMTP session: durable before it returns, so the session may answer 250.
//! let id = queue.enqueue(&Envelope::new("a@example.org", ["b@example.com"], now), b"...", now)?;
//! // The delivery loop: attempt what is due, report the outcome.
//! for delivery in queue.due(now, 100) {
//!     // The next hop answered, but greylists: a 4xx to RCPT TO.
//!     let reply = "451 4.7.1 greylisted, try again later".to_string();
//!     let outcomes: Vec<_> = delivery.recipients.iter()
//!         .map(|r| (r.index, Outcome::Deferred { class: FailureClass::Recipient, reply: reply.clone() }))
//!         .collect();
//!     queue.report(&delivery, &outcomes, now)?;
//! }
//! // The recipient's own retry schedule, the IMS default: one hour later. A destination
//! // that answers is not backed off.
//! assert_eq!(queue.next_wakeup(), Some(Timestamp(now.0 + 3_600_000)));
//! assert!(queue.backoff_entries(now).is_empty());
//! assert!(queue.message(id).is_some());
//! # drop(queue);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```
//!
//! A runnable program in the repository's `examples/durable_queue.rs` sets its own retry
//! policy, defers a recipient twice and reopens the queue between attempts, as after a
//! restart (`cargo run --example durable_queue`).
//! ## Features
//!
//! Default features: none, and the crate has no optional features: it depends on `thiserror`,
//! `nom` and `bytes` only. Its calls block (file I/O, fsync): see [Blocking calls](#blocking-calls).
//!
//! # Blocking calls
//!
//! Everything that writes the spool waits for its bytes to be on disk (fsync, shared with
//! concurrent writers by group commit) before it returns: [`Queue::enqueue`],
//! [`Queue::report`], [`Queue::hold`], [`Queue::release`], [`Queue::retry`],
//! [`Queue::delete`], [`Queue::apply`], [`Queue::poll_control`],
//! [`Queue::take_delay_notices`], [`Queue::compact`] and [`Queue::open`] (recovery reads
//! the whole spool). [`Queue::body`] and [`Queue::body_reader`] read a file. These calls
//! can take milliseconds and more on a busy disk, so an async caller runs them off the
//! runtime's worker threads, e.g. with `tokio::task::spawn_blocking` (the postern gateway
//! does). The calls that only look at memory ([`Queue::due`], [`Queue::next_wakeup`],
//! [`Queue::message`], [`Queue::messages`], [`Queue::summary`]) are cheap but take the
//! queue's lock, which a blocking call may hold for the length of an fsync.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backoff;
pub mod body;
pub mod control;
pub mod envelope;
pub mod id;
pub mod lifetime;
pub mod policy;
pub mod queue;
pub mod record;
pub mod scheduler;
mod segment_file;
pub mod spool;
pub mod store;
pub mod summary;
pub mod time;
pub mod wait;

pub use backoff::{Backoff, BackoffPolicy, FailureClass};
pub use control::Command;
pub use envelope::{Envelope, EnvelopeRecipient, FailReason, MessageState, Notify, RecipientState};
pub use id::QueueId;
pub use lifetime::{DelayNotices, Lifetimes, Priority};
pub use policy::{RetryDecision, RetryInput, RetryPolicy, RetrySchedule};
pub use queue::{
    AttemptResult, Delivery, DeliveryRecipient, FailedRecipient, Outcome, Queue, QueueConfig,
};
pub use scheduler::{Job, Scheduler, Target};
pub use spool::{Pending, Recovered, Spool, SpoolError, SpoolOptions, SpoolStats, SpooledMessage};
pub use store::{LocalStore, Offload, QueueStore, StoreError, StoreFuture};
pub use summary::Summary;
pub use time::Timestamp;
pub use wait::{NextAttempt, WaitsFor};
