//! What a server session reports to the application, and what the application decides.

use crate::data::DataError;
use crate::params::{MailParams, RcptParams};
use crate::path::{Domain, ForwardPath, ReversePath};

/// Something the client did, returned by
/// [`ServerSession::poll_event`](super::ServerSession::poll_event).
///
/// Events borrow from the session's input buffer (commands and message content are never
/// copied), so drop an event before calling another method of the session; copy what you
/// keep.
///
/// Variants marked **decision** leave a decision pending: the session processes no further
/// input until the application calls [`accept`](super::ServerSession::accept) or
/// [`reply`](super::ServerSession::reply) — now or later, after an asynchronous lookup.
/// The others are reports: the session has already replied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// `HELO`; the session replied `250` and any transaction was abandoned.
    Helo {
        /// The name the client gave.
        domain: Domain<'a>,
    },
    /// `EHLO`; the session replied with its capabilities and any transaction was
    /// abandoned.
    Ehlo {
        /// The name the client gave.
        domain: Domain<'a>,
    },
    /// **Decision**: `MAIL FROM` passed the protocol checks (sequence, SIZE, SMTPUTF8).
    /// Accepting replies `250 2.1.0 Ok` and opens a transaction.
    Mail {
        /// The sender.
        from: ReversePath<'a>,
        /// Its ESMTP parameters.
        params: MailParams<'a>,
    },
    /// **Decision**: `RCPT TO` passed the protocol checks (sequence, recipient limit,
    /// SMTPUTF8). Accepting replies `250 2.1.5 Ok` and adds the recipient.
    Rcpt {
        /// The recipient.
        to: ForwardPath<'a>,
        /// Its ESMTP parameters.
        params: RcptParams<'a>,
    },
    /// **Decision**: the client wants to send the message (`DATA`, or the first `BDAT`
    /// chunk) and at least one recipient was accepted. Accepting replies `354` to DATA;
    /// for BDAT it lets the chunk in.
    DataStart,
    /// Message content, in order: dot-stuffing removed for DATA, verbatim for BDAT.
    /// Keep it until [`Event::MessageEnd`]; discard it on [`Event::MessageRejected`],
    /// [`Event::Reset`], or when the session closes first.
    DataChunk(&'a [u8]),
    /// **Decision**: the message is complete (`CRLF.CRLF`, or the `BDAT LAST` chunk).
    /// Accepting replies `250 2.0.0 Ok: queued`; answer only once the message is safe.
    /// The transaction is over either way.
    MessageEnd {
        /// Content octets received.
        size: u64,
    },
    /// The message was refused while it arrived (too large, bare LF/CR, over-long line);
    /// the session has replied. Discard the content received so far.
    MessageRejected {
        /// Why.
        error: DataError,
    },
    /// `RSET`; the session replied `250`. Discard any transaction in progress.
    Reset,
    /// `STARTTLS`; the session queued `220 2.0.0 Ready to start TLS` and discarded any
    /// input that followed the command. Send the pending output, run the TLS handshake,
    /// then call [`tls_established`](super::ServerSession::tls_established) (or close the
    /// connection if it fails). Until then the session ignores input.
    StartTls,
    /// **Decision**: the client completed a PLAIN or LOGIN exchange. Accepting replies
    /// `235 2.7.0 Authentication successful`; to refuse, reply for example
    /// `535 5.7.8 Authentication credentials invalid`.
    Auth {
        /// The mechanism used.
        mechanism: AuthMechanism,
        /// The authorization identity (PLAIN only; empty when not given).
        authzid: &'a str,
        /// The authentication identity.
        username: &'a str,
        /// The password.
        password: &'a str,
    },
    /// **Decision**: `ETRN`. Accepting replies `250 2.0.0 Queuing started`.
    Etrn {
        /// The argument: `domain`, `@domain` or `#queue`.
        node: &'a str,
    },
    /// `VRFY`. A **decision** (accepting replies `252 2.5.2`) when
    /// [`ServerConfig::decide_vrfy_expn`](super::ServerConfig::decide_vrfy_expn) is set;
    /// otherwise the session has replied `252`.
    Vrfy {
        /// The argument, verbatim.
        arg: &'a str,
    },
    /// `EXPN`. A **decision** (accepting replies `502 5.5.1`) when
    /// [`ServerConfig::decide_vrfy_expn`](super::ServerConfig::decide_vrfy_expn) is set;
    /// otherwise the session has replied `502`.
    Expn {
        /// The argument, verbatim.
        arg: &'a str,
    },
    /// `QUIT`; the session replied `221` and is closed. Any message in progress is void.
    Quit,
    /// The session closed itself; its last reply is in the pending output. Any message in
    /// progress is void.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

/// A SASL mechanism the session runs itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMechanism {
    /// `PLAIN` (RFC 4616).
    Plain,
    /// `LOGIN` (the de-facto mechanism of draft-murchison-sasl-login).
    Login,
}

impl AuthMechanism {
    /// The mechanism's name as announced.
    pub fn name(self) -> &'static str {
        match self {
            AuthMechanism::Plain => "PLAIN",
            AuthMechanism::Login => "LOGIN",
        }
    }
}

/// Why the session closed on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client broke the RFC 2920 pipelining rules: it talked before the greeting, or
    /// sent message content before the `354`. Replied `554 5.5.0`.
    SyncViolation,
    /// The client made more than [`Limits::max_errors`](crate::Limits) errors. Replied
    /// `421 4.7.0`.
    TooManyErrors,
    /// The application reported a timeout with
    /// [`on_timeout`](super::ServerSession::on_timeout). Replied `421 4.4.2`.
    Timeout,
    /// More unprocessed input arrived than [`Limits::max_buffered_input`](crate::Limits)
    /// allows. Replied `421 4.7.0`.
    InputOverflow,
}

/// Which decision the session is waiting for; see
/// [`pending_decision`](super::ServerSession::pending_decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Decision {
    /// After [`Event::Mail`].
    Mail,
    /// After [`Event::Rcpt`].
    Rcpt,
    /// After [`Event::DataStart`].
    DataStart,
    /// After [`Event::MessageEnd`].
    MessageEnd,
    /// After [`Event::Auth`].
    Auth,
    /// After [`Event::Etrn`].
    Etrn,
    /// After [`Event::Vrfy`], when the application decides VRFY.
    Vrfy,
    /// After [`Event::Expn`], when the application decides EXPN.
    Expn,
}

/// Why a decision call was refused. The session is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecisionError {
    /// No decision is pending (nothing asked, already decided, or the session closed).
    #[error("no decision is pending")]
    NothingPending,
    /// The reply code does not fit the decision: outside 200..=599, or a 3xx where only
    /// 2xx accepts (or a 2xx to DATA, which only `354` accepts).
    #[error("reply code {code} does not fit the pending decision")]
    UnsuitableReply {
        /// The code given.
        code: u16,
    },
}
