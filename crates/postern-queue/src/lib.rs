//! # postern-queue
//!
//! Where mail waits between attempts: retry policies, per-priority time-outs, per-destination
//! backoff, per-recipient state, a durable spool with group commit, and a scheduler.
//!
//! Sans-IO where it can be: every scheduling call takes `now` as a [`Timestamp`]
//! (milliseconds since the Unix epoch); the crate never reads a clock. The [`Spool`] is the
//! one place it touches the disk.

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
pub use envelope::{Envelope, EnvelopeRecipient, FailReason, MessageState, RecipientState};
pub use id::QueueId;
pub use lifetime::{DelayNotices, Lifetimes, Priority};
pub use policy::{RetryDecision, RetryInput, RetryPolicy, RetrySchedule};
pub use queue::{
    AttemptResult, Delivery, DeliveryRecipient, FailedRecipient, Outcome, Queue, QueueConfig,
};
pub use scheduler::{Job, Scheduler, Target};
pub use spool::{Pending, Recovered, Spool, SpoolError, SpoolOptions, SpooledMessage};
pub use summary::Summary;
pub use time::Timestamp;
