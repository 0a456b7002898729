//! # postern-gateway
//!
//! The reference SMTP gateway that composes the five postern crates, in the manner of the
//! Exchange 5.5 Internet Mail Service: SMTP in ([`inbound`]), a durable queue
//! (postern-queue), address-space routing (postern-route), delivery out through SMTP or
//! into Maildir folders ([`delivery`], [`outbound`], [`maildir`]), and message tracking on
//! every hop (postern-track). The crates stay pure; this crate owns every socket, file
//! and timer.
//!
//! `postern serve` runs it: [`Gateway::start`] with a [`Config`] ([`Gateway::start_on`]
//! when sessions also run on further single-thread runtimes, `[server] scheduler =
//! "per_thread"`), [`Gateway::reload`] on SIGHUP, then [`Gateway::shutdown`] on
//! SIGINT/SIGTERM.
//!
//! ## Quick start
//!
//! A gateway embedded in a program: one listener on a free port of 127.0.0.1, a data
//! directory, and one connector that delivers mail for `localhost` into Maildir folders.
//! `examples/postern.toml` at the repository root documents every other setting.
//!
//! ```
//! use std::time::Duration;
//!
//! use postern_gateway::{Config, Gateway};
//! use tokio::io::AsyncReadExt as _;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("postern-gateway-doc-{}", std::process::id()));
//! let config = Config::from_toml_str(&format!(
//!     r#"
//! [server]
//! hostname = "gw.example"
//! data_dir = "{}"
//!
//! [connections]
//! listen = ["127.0.0.1:0"]
//!
//! [[connector]]
//! name = "local"
//! kind = "maildir"
//!   [[connector.address_space]]
//!   pattern = "localhost"
//! "#,
//!     dir.display()
//! ))?;
//! let gateway = Gateway::start(config).await?;
//!
//! // It answers SMTP on the port the system picked.
//! let mut client = tokio::net::TcpStream::connect(gateway.local_addrs()[0]).await?;
//! let mut greeting = [0u8; 64];
//! let n = client.read(&mut greeting).await?;
//! assert!(greeting[..n].starts_with(b"220 gw.example"));
//! drop(client);
//!
//! // Sessions get the grace period to finish; the queue is closed cleanly.
//! gateway.shutdown(Duration::from_secs(1)).await;
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod admin_requests;
pub mod api;
pub mod archive;
mod ascii;
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
mod lazy_timer;
pub mod listeners;
pub mod log_writer;
pub mod logging;
pub mod maildir;
pub mod metrics;
pub mod notify;
pub mod outbound;
pub mod pickup;
pub mod policy;
pub mod protolog;
pub mod restrict;
pub mod retention;
pub mod status;
pub mod storage;
pub mod storage_settings;
pub mod tls;

pub use config::{Config, ConfigError};
pub use context::Context;
pub use gateway::{Gateway, ReloadError, ReloadReport, StartError};
