//! # postern-gateway
//!
//! The reference SMTP gateway that composes the five postern crates, in the manner of the
//! Exchange 5.5 Internet Mail Service: SMTP in ([`inbound`]), a durable queue
//! (postern-queue), address-space routing (postern-route), delivery out through SMTP or
//! into Maildir folders ([`delivery`], [`outbound`], [`maildir`]), and message tracking on
//! every hop (postern-track). The crates stay pure; this crate owns every socket, file
//! and timer.
//!
//! `postern serve` runs it: [`Gateway::start`] with a [`Config`], [`Gateway::reload`]
//! on SIGHUP, then [`Gateway::shutdown`] on SIGINT/SIGTERM.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod archive;
pub mod auth;
pub mod auth_guard;
pub mod bodies;
pub mod clock;
pub mod compaction;
pub mod config;
pub mod context;
pub mod delivery;
pub mod effective;
pub mod gateway;
pub mod inbound;
pub mod maildir;
pub mod notify;
pub mod outbound;
pub mod pickup;
pub mod policy;
pub mod protolog;
pub mod restrict;
pub mod retention;
pub mod status;
pub mod tls;

pub use config::{Config, ConfigError};
pub use context::Context;
pub use gateway::{Gateway, ReloadError, ReloadReport, StartError};
