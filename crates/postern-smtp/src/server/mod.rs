//! The server side of an SMTP session, sans-IO.
//!
//! A [`ServerSession`] takes the bytes the client sent and hands back [`Event`]s and the
//! bytes to answer with; it never touches a socket or a clock. It enforces the protocol
//! (command sequence, RFC 2920 pipelining synchronization, limits, STARTTLS input
//! flushing, SMTP-smuggling-safe DATA framing, BDAT chunking) and leaves each policy
//! decision — MAIL, RCPT, the start and the end of a message, AUTH, ETRN — to the
//! application, which may answer at once or later.
//!
//! ```
//! use postern_smtp::server::{Event, ServerConfig, ServerSession};
//!
//! let mut session = ServerSession::new(ServerConfig::new("mx.example.org"));
//! session.greet();
//! session.receive(b"EHLO client.example\r\nMAIL FROM:<a@example.com>\r\n");
//! while let Some(event) = session.poll_event() {
//!     if let Event::Mail { from, .. } = &event {
//!         println!("sender {from:?}");
//!     }
//!     if session.pending_decision().is_some() {
//!         session.accept().unwrap();
//!     }
//! }
//! let out = String::from_utf8_lossy(session.pending_output()).into_owned();
//! assert!(out.starts_with("220 mx.example.org ESMTP"));
//! assert!(out.ends_with("250 2.1.0 Ok\r\n"));
//! let n = session.pending_output().len();
//! session.consume_output(n);
//! ```
//!
//! Message content comes out as [`Event::DataChunk`]s borrowed from the session's
//! buffer. An application that keeps the whole message can instead have DATA content
//! decoded straight from its read into its own buffer with
//! [`ServerSession::receive_content_into`], which saves copying each octet twice.

mod auth;
mod config;
mod event;
mod replies;
mod session;
#[cfg(test)]
mod tests;

pub use config::{ServerConfig, Timeouts};
pub use event::{AuthMechanism, CloseReason, Decision, DecisionError, Event};
pub use session::ServerSession;
