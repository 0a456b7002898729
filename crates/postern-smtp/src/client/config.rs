//! Client settings: identity, TLS and AUTH policy, extensions to use, time-outs.

use std::time::Duration;

use crate::limits::Limits;

/// When the client upgrades the connection with STARTTLS (RFC 3207).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TlsPolicy {
    /// Never send STARTTLS.
    Off,
    /// Send STARTTLS when the server offers it; carry on in plain text when it does not, or
    /// when it refuses the command.
    #[default]
    Opportunistic,
    /// Send STARTTLS; when it is not offered or is refused, fail the session before any
    /// mail is sent.
    Required,
}

/// A user name and password for AUTH PLAIN or AUTH LOGIN (RFC 4954).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The authentication identity.
    pub username: String,
    /// The password.
    pub password: String,
}

impl Credentials {
    /// Credentials from a user name and a password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl std::fmt::Debug for Credentials {
    /// Never prints the password (configs end up in logs).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How long the client waits for each reply (RFC 5321 §4.5.3.2).
///
/// The session never reads a clock: [`ClientSession::timeout`](super::ClientSession::timeout)
/// says which of these applies in the current state, and the application calls
/// [`ClientSession::on_timeout`](super::ClientSession::on_timeout) when it elapses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Waiting for the 220 greeting. Default 5 minutes (§4.5.3.2.1).
    pub greeting: Duration,
    /// Waiting for the reply to EHLO, HELO, STARTTLS, AUTH, RSET or QUIT, and for the
    /// application's TLS handshake. RFC 5321 names no figure; default 5 minutes.
    pub command: Duration,
    /// Waiting for the reply to MAIL. Default 5 minutes (§4.5.3.2.2).
    pub mail: Duration,
    /// Waiting for the reply to RCPT. Default 5 minutes (§4.5.3.2.3).
    pub rcpt: Duration,
    /// Waiting for the 354 to DATA. Default 2 minutes (§4.5.3.2.4).
    pub data_init: Duration,
    /// While the message body is being sent, per block (and per non-final BDAT reply).
    /// Default 3 minutes (§4.5.3.2.5).
    pub data_block: Duration,
    /// Waiting for the reply to the final `.` or `BDAT … LAST`. Default 10 minutes
    /// (§4.5.3.2.6).
    pub data_end: Duration,
    /// Idle between messages; when it elapses the session sends QUIT. Default 5 minutes,
    /// the time servers commonly wait for the next command (§4.5.3.2.7).
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        const MIN: u64 = 60;
        Timeouts {
            greeting: Duration::from_secs(5 * MIN),
            command: Duration::from_secs(5 * MIN),
            mail: Duration::from_secs(5 * MIN),
            rcpt: Duration::from_secs(5 * MIN),
            data_init: Duration::from_secs(2 * MIN),
            data_block: Duration::from_secs(3 * MIN),
            data_end: Duration::from_secs(10 * MIN),
            idle: Duration::from_secs(5 * MIN),
        }
    }
}

/// Settings of a [`ClientSession`](super::ClientSession).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The name sent with EHLO/HELO: a domain, or an address literal such as `[192.0.2.1]`.
    pub helo_name: String,
    /// STARTTLS policy. Default [`TlsPolicy::Opportunistic`]. A policy, where the server
    /// has a plain `bool` ([`ServerConfig::starttls`](crate::server::ServerConfig::starttls)):
    /// the client decides whether plain text is acceptable, the server only offers TLS.
    pub tls: TlsPolicy,
    /// The transport is already TLS (SMTPS on port 465): no STARTTLS, and AUTH is allowed.
    /// Default false.
    pub implicit_tls: bool,
    /// Authenticate with these after EHLO (and after TLS). Default none.
    pub credentials: Option<Credentials>,
    /// Allow AUTH over a connection that is not TLS. Default false: with credentials and
    /// no TLS the session fails rather than send the password in clear.
    pub allow_plaintext_auth: bool,
    /// Pipeline MAIL, RCPT and DATA when the server offers PIPELINING. Default true.
    pub pipelining: bool,
    /// Send bodies with BDAT when the server offers CHUNKING. Default true. BINARYMIME
    /// bodies need it.
    pub chunking: bool,
    /// Reply parser limits and the BDAT chunk size.
    pub limits: Limits,
    /// Reply time-outs.
    pub timeouts: Timeouts,
}

impl ClientConfig {
    /// Defaults, greeting the server as `helo_name`.
    pub fn new(helo_name: impl Into<String>) -> Self {
        ClientConfig {
            helo_name: helo_name.into(),
            tls: TlsPolicy::default(),
            implicit_tls: false,
            credentials: None,
            allow_plaintext_auth: false,
            pipelining: true,
            chunking: true,
            limits: Limits::default(),
            timeouts: Timeouts::default(),
        }
    }
}
