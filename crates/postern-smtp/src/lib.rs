//! # postern-smtp
//!
//! A sans-IO SMTP protocol library: it parses and formats the wire, and runs the server and
//! client state machines, but never touches a socket or a clock. Bytes go in, events and
//! bytes to send come out; the embedding application owns the I/O (as quinn-proto and
//! rustls do).
//!
//! * [`Command`] — every RFC 5321 command plus STARTTLS, AUTH and ETRN; parsed zero-copy
//!   from a line ([`Command::parse`]) or from the front of a receive buffer
//!   ([`Command::parse_next`], which finds the line end itself), formatted back with
//!   [`Command::write_to`].
//! * [`Reply`] and [`ReplyParser`] — single and multi-line replies, enhanced status codes,
//!   [`Capabilities`] from an EHLO reply.
//! * [`DataDecoder`] / [`DataEncoder`] — the DATA framing (dot-stuffing, `CRLF.CRLF` only,
//!   bare-LF policy against SMTP smuggling) and BDAT chunks.
//! * [`server::ServerSession`] and [`client::ClientSession`] — the two state machines.
//!
//! * `driver` (feature `tokio`) — the read/write/timeout loop around both sessions, for
//!   any tokio stream: `driver::serve` with a handler of async decisions, `driver::send`
//!   for one message.
//!
//! * `codec` (feature `codec`) — `tokio-util` codecs for the command phase, for
//!   embedders who use `Framed`: command lines out as `Bytes`, replies in and out.
//!
//! Every limit is a named field of [`Limits`] with a documented default.
//!
//! ## Quick start
//!
//! The two sessions talk to each other here with no socket at all: each one's output is
//! the other's input. An application does the same with a stream in between.
//!
//! ```
//! use postern_smtp::client::{ClientConfig, ClientEvent, ClientSession, Envelope};
//! use postern_smtp::server::{Event, ServerConfig, ServerSession};
//!
//! // The server offers no STARTTLS (ServerConfig::starttls is off by default), so the
//! // client's default, opportunistic TLS carries on in plain text.
//! let mut server = ServerSession::new(ServerConfig::new("mx.example.org"));
//! let mut client = ClientSession::new(ClientConfig::new("client.example"));
//! server.greet();
//!
//! let mut received = Vec::new(); // What the server application keeps.
//! let mut results = None; // What the client application learns.
//! for _round in 0..20 {
//!     // The server: content arrives as events; every decision is accepted here.
//!     while let Some(event) = server.poll_event() {
//!         if let Event::DataChunk(chunk) = &event {
//!             received.extend_from_slice(chunk);
//!         }
//!         if server.pending_decision().is_some() {
//!             server.accept()?;
//!         }
//!     }
//!     let out = server.pending_output().to_vec();
//!     server.consume_output(out.len());
//!     client.receive(&out);
//!     // The client: send one message when ready, then quit.
//!     while let Some(event) = client.poll_event() {
//!         match event {
//!             ClientEvent::Ready => {
//!                 client.send(Envelope::new("jo@example.org", ["ann@example.net"]))?
//!             }
//!             ClientEvent::SendBody => {
//!                 client.write_body(b"Subject: hi\r\n\r\nHello.\r\n")?;
//!                 client.finish_body()?;
//!             }
//!             ClientEvent::Delivered { recipients, .. } => {
//!                 results = Some(recipients);
//!                 client.quit();
//!             }
//!             _ => {}
//!         }
//!     }
//!     let out = client.pending_output().to_vec();
//!     client.consume_output(out.len());
//!     server.receive(&out);
//!     if client.is_closed() {
//!         break;
//!     }
//! }
//! assert_eq!(received, b"Subject: hi\r\n\r\nHello.\r\n");
//! assert!(results.unwrap()[0].status.is_accepted());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Runnable programs in the repository's `examples/`: `smtp_server.rs` (a tokio server with
//! STARTTLS, PIPELINING and CHUNKING on [`server::ServerSession`]), `send_pipelined.rs`
//! (several messages and recipients with [`client::ClientSession`], per-recipient
//! results), `smtp_sink.rs` and `send_mail.rs` (the `driver` functions).
//!
//! ## Features
//!
//! Default features: none — the sans-IO core needs only `base64`, `memchr`, `nom` and `thiserror`.
//! Feature `tokio` adds the `driver` module (the read/write/timeout loop for both
//! sessions); feature `codec` adds the `codec` module (`tokio-util` codecs for the command
//! phase, with `bytes`). The postern gateway enables neither (it drives the sessions
//! itself).

// `unsafe` is denied crate-wide; the blocks that need it are each allowed where they
// stand, with a `// SAFETY:` comment, and are all listed here:
// - `line_text::as_text`: an ASCII line as `&str` without a second check;
// - `line_text::sub_at_ascii`: a local part, domain or trimmed line cut at ends that
//   sit at ASCII octets, without the char-boundary checks;
// - `line_text::ascii_text`: the line `first_line` found ASCII as `&str`, and
//   `line_text::x86::masks`: its SSE2 loads of 16 octets of a receive buffer;
// - `data_scan`: SSE2/AVX2 loads of 64-octet windows and 128-octet blocks
//   (`x86::masks_sse2`, `x86::masks_avx2`, `x86::block_sse2`, `x86::block_avx2`) and
//   the calls of the AVX2 code after run-time detection (`clean_run_impl`,
//   `x86::clean_run_avx2`, test-only `x86::masks_avx2_checked`/`block_avx2_checked`);
//   for `DataDecoder::decode_into`, the copy of the scanned windows and blocks into a
//   `Vec`'s reserved spare capacity (AVX2 stores in `x86::masks_avx2`/`block_avx2`,
//   `copy_nonoverlapping` in `clean_run_impl` on the other paths) and the `set_len`
//   that then admits the clean run (`clean_run_into`, `clean_run`'s call without copy);
// - `dotted`: the SSE2 loads of 16 octets of a line (`x86::masks!`).
// Every other module stays safe.
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod class;
pub mod client;
#[cfg(feature = "codec")]
pub mod codec;
mod command;
mod data;
mod data_scan;
mod dotted;
#[cfg(feature = "tokio")]
pub mod driver;
mod ehlo;
mod error;
mod grammar;
mod limits;
mod line_text;
mod param_values;
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
