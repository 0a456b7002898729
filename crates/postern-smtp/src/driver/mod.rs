//! Ready-made tokio drivers for the two sans-IO sessions (feature `tokio`).
//!
//! The sessions in [`server`](crate::server) and [`client`](crate::client) never touch a
//! socket; every embedder then writes the same loop around them: write the pending output,
//! read with the session's timeout, feed the bytes, handle the events. This module is that
//! loop, once, for any tokio stream (`TcpStream`, a TLS stream, a `DuplexStream` in tests):
//!
//! * [`serve`] runs a server session to its end, asking a [`Handler`] for each decision;
//! * [`send`] delivers one message with a client session and returns each recipient's
//!   result.
//!
//! The sessions stay the core: use them directly for what the drivers leave out (STARTTLS
//! on the client side, several messages on one client connection, custom buffering).
//!
//! "Just send a message":
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use postern_smtp::client::{ClientConfig, Envelope, TlsPolicy};
//! use postern_smtp::driver;
//!
//! let stream = tokio::net::TcpStream::connect("127.0.0.1:2525").await?;
//! let mut config = ClientConfig::new("client.example");
//! config.tls = TlsPolicy::Off;
//! let envelope = Envelope::new("a@example.org", ["b@example.net"]);
//! let body = b"Subject: hi\r\n\r\nHello.\r\n";
//! let report = driver::send(stream, config, envelope, body).await?;
//! assert!(report.delivered());
//! # Ok(()) }
//! ```

mod client;
mod server;

pub use client::{DriveError, SendReport, send};
pub use server::{Handler, Served, Verdict, serve};

/// Size of each read from the peer.
const READ_BUFFER: usize = 16 * 1024;
