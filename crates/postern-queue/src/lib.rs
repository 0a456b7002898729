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
//! | [`summary`], [`control`] | qshape-like summary; requests from `postern queue` |
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
//!     let reply = "451 4.4.1 no answer".to_string();
//!     let outcomes: Vec<_> = delivery.recipients.iter()
//!         .map(|r| (r.index, Outcome::Deferred { class: FailureClass::Connection, reply: reply.clone() }))
//!         .collect();
//!     queue.report(&delivery, &outcomes, now)?;
//! }
//! // IMS default: the next attempt is one hour later.
//! assert_eq!(queue.next_wakeup(), Some(Timestamp(now.0 + 3_600_000)));
//! assert!(queue.message(id).is_some());
//! # drop(queue);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backoff;
pub mod control;
pub mod envelope;
pub mod id;
pub mod lifetime;
pub mod policy;
pub mod queue;
pub mod record;
pub mod scheduler;
pub mod spool;
pub mod summary;
pub mod time;

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
pub use summary::Summary;
pub use time::Timestamp;
