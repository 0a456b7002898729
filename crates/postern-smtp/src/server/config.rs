//! What a server session offers and enforces: [`ServerConfig`] and [`Timeouts`].

use std::time::Duration;

use crate::data::BareLinePolicy;
use crate::limits::Limits;

/// How long the server waits for the client in each state (RFC 5321 §4.5.3.2).
///
/// The session reads no clock: [`ServerSession::timeout`](super::ServerSession::timeout)
/// says which of these applies now, the application runs the timer, and calls
/// [`ServerSession::on_timeout`](super::ServerSession::on_timeout) when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Before the greeting has been queued (the application may hold it back, as a
    /// pre-greeting test does). Default 5 minutes.
    pub greeting: Duration,
    /// Waiting for the next command, or for the next line of an AUTH exchange.
    /// Default 5 minutes (RFC 5321 §4.5.3.2.7).
    pub command: Duration,
    /// Waiting for the next block of message content, in DATA or inside a BDAT chunk.
    /// Default 3 minutes (RFC 5321 §4.5.3.2.5).
    pub data_block: Duration,
    /// After the end of the message, while the application decides (the client waits this
    /// long for the final reply). Default 10 minutes (RFC 5321 §4.5.3.2.6).
    pub data_termination: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            greeting: Duration::from_secs(5 * 60),
            command: Duration::from_secs(5 * 60),
            data_block: Duration::from_secs(3 * 60),
            data_termination: Duration::from_secs(10 * 60),
        }
    }
}

/// Settings of a [`ServerSession`](super::ServerSession). Build one with
/// [`ServerConfig::new`] and change the fields you need.
///
/// `PIPELINING`, `8BITMIME` and `ENHANCEDSTATUSCODES` are always announced; the other
/// extensions follow the fields below.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The name the server gives in its greeting, EHLO reply and closing replies.
    pub hostname: String,
    /// Text of the greeting after the host name. Default `"ESMTP postern"`.
    pub banner: String,
    /// Every size and count limit. `max_message_size` is announced as `SIZE`.
    pub limits: Limits,
    /// Per-state timeouts; see [`Timeouts`].
    pub timeouts: Timeouts,
    /// What a bare LF or CR inside DATA does. Default [`BareLinePolicy::Reject`].
    pub bare_line_policy: BareLinePolicy,
    /// Announce and accept `STARTTLS` (RFC 3207). The application must then run the TLS
    /// handshake when it sees [`Event::StartTls`](super::Event::StartTls). Default false.
    ///
    /// A `bool`, like the other announced extensions, where the client has
    /// [`ClientConfig::tls`](crate::client::ClientConfig::tls), a
    /// [`TlsPolicy`](crate::client::TlsPolicy): a server can only offer STARTTLS; refusing
    /// mail from clients that do not use it is the application's decision (it asks
    /// [`ServerSession::is_tls`](super::ServerSession::is_tls)).
    pub starttls: bool,
    /// Announce `AUTH PLAIN LOGIN` (RFC 4954); the session runs the exchanges and hands
    /// the credentials over in [`Event::Auth`](super::Event::Auth). Default false.
    pub auth: bool,
    /// Offer AUTH on a connection without TLS too (passwords then cross the network in
    /// the clear). Default false: AUTH is offered only after STARTTLS, or when the
    /// application said the connection is already TLS with
    /// [`ServerSession::new_tls`](super::ServerSession::new_tls).
    pub auth_without_tls: bool,
    /// Announce and accept `ETRN` (RFC 1985). Default false.
    pub etrn: bool,
    /// Announce `CHUNKING` (RFC 3030) and accept `BDAT`. Default true.
    pub chunking: bool,
    /// Announce `BINARYMIME` (RFC 3030) and accept `BODY=BINARYMIME` (with BDAT only).
    /// Needs `chunking`. Default false.
    pub binary_mime: bool,
    /// Announce `SMTPUTF8` (RFC 6531) and accept UTF-8 addresses with it. Default true.
    pub smtputf8: bool,
    /// Announce `DSN` (RFC 3461) and accept its parameters. Default true.
    pub dsn: bool,
    /// Hand VRFY and EXPN to the application as decisions. Default false: the session
    /// answers `252 2.5.2` to VRFY and `502 5.5.1` to EXPN itself (it still reports them
    /// as events).
    pub decide_vrfy_expn: bool,
}

impl ServerConfig {
    /// A configuration with every default and the given host name.
    pub fn new(hostname: impl Into<String>) -> Self {
        ServerConfig {
            hostname: hostname.into(),
            banner: "ESMTP postern".to_owned(),
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            bare_line_policy: BareLinePolicy::default(),
            starttls: false,
            auth: false,
            auth_without_tls: false,
            etrn: false,
            chunking: true,
            binary_mime: false,
            smtputf8: true,
            dsn: true,
            decide_vrfy_expn: false,
        }
    }
}
