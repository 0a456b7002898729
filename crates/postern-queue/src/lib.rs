//! # postern-queue
//!
//! Retry policies, per-destination backoff and a durable spool (filled in by the queue work).

#![forbid(unsafe_code)]
#![warn(missing_docs)]
