//! # postern-pg
//!
//! The PostgreSQL backend of postern: several gateways ("nodes") share one queue and one
//! tracking log in one database, so any node delivers what any node accepted, a node that
//! dies has its work taken over, and one search covers the whole cluster.
//!
//! | module | what |
//! | --- | --- |
//! | [`db`] | connection settings, a small reconnecting pool, embedded schema migrations |
//! | [`queue`] | [`PgQueue`]: the shared queue, leases, `LISTEN/NOTIFY` wake-ups |
//! | [`lease`] | the leases a node holds, renewed while it lives |
//! | [`outcome`] | an attempt's outcomes applied with postern-queue's policies |
//! | [`track`] | [`PgSink`] (batched event writes) and [`PgSearch`] (search and trace) |
//! | [`pooled`] | a pooled connection and the statements prepared on it |
//! | [`listen`] | the `LISTEN` connection behind [`PgQueue::wait_wakeup`] |
//!
//! It is an adapter above the library crates: it depends on postern-queue and
//! postern-track, never the other way round, and only it links a database driver
//! (tokio-postgres, without TLS). The design is in this crate's `README.md`.
//!
//! ## Features
//!
//! None. Depends on postern-queue, postern-track, tokio-postgres, tokio, bytes, thiserror.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod codec;
pub mod db;
mod error;
pub mod lease;
pub mod listen;
pub mod outcome;
pub mod pooled;
pub mod queue;
mod statements;
pub mod store;
pub mod track;

pub use db::{Db, PgSettings, SCHEMA_VERSION};
pub use error::PgError;
pub use queue::{CHANNEL, LeaseLost, PgQueue, PgQueueConfig};
pub use track::{PgSearch, PgSink, PgSinkConfig};
