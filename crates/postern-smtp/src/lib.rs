//! # postern-smtp
//!
//! A sans-IO SMTP protocol library: it parses and formats the wire, and runs the server and
//! client state machines, but never touches a socket or a clock. Bytes go in, events and
//! bytes to send come out; the embedding application owns the I/O (as quinn-proto and
//! rustls do).
//!
//! * [`Command`] — every RFC 5321 command plus STARTTLS, AUTH and ETRN; parsed zero-copy
//!   from a line, formatted back with [`Command::write_to`].
//! * [`Reply`] and [`ReplyParser`] — single and multi-line replies, enhanced status codes,
//!   [`Capabilities`] from an EHLO reply.
//! * [`DataDecoder`] / [`DataEncoder`] — the DATA framing (dot-stuffing, `CRLF.CRLF` only,
//!   bare-LF policy against SMTP smuggling) and BDAT chunks.
//! * [`server::ServerSession`] and [`client::ClientSession`] — the two state machines.
//!
//! * [`driver`] (feature `tokio`) — the read/write/timeout loop around both sessions, for
//!   any tokio stream: `driver::serve` with a handler of async decisions, `driver::send`
//!   for one message.
//!
//! Every limit is a named field of [`Limits`] with a documented default.
//!
//! ## Features
//!
//! Default features: none — the sans-IO core needs only `base64`, `memchr` and `thiserror`.
//! Feature `tokio` adds [`driver`]. The postern gateway does not enable it (it drives the
//! sessions itself).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
mod command;
mod data;
#[cfg(feature = "tokio")]
pub mod driver;
mod ehlo;
mod error;
mod limits;
mod params;
mod path;
mod reply;
pub mod server;
mod xtext;

pub use command::{AuthInitial, Command};
pub use data::{
    BareLinePolicy, DataDecoder, DataEncoder, DataError, DataStatus, DataStep, write_bdat,
};
pub use ehlo::Capabilities;
pub use error::CommandError;
pub use limits::Limits;
pub use params::{Body, MAX_ENVID, MailParams, Notify, Orcpt, Param, RcptParams, Ret};
pub use path::{
    Domain, ForwardPath, Mailbox, OwnedForwardPath, OwnedMailbox, OwnedReversePath, ReversePath,
};
pub use reply::{EnhancedCode, Reply, ReplyError, ReplyParser};
pub use xtext::{XText, encode_xtext};
