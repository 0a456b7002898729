//! Why a message cannot be sent, and why a session failed. Each maps to the reply a
//! gateway would record in a delivery status notification.

use crate::reply::{EnhancedCode, Reply, ReplyError};

/// Why [`ClientSession::send`](super::ClientSession::send) (or `write_body`/`finish_body`)
/// refused. Requirement errors are found before anything is written, so the session stays
/// usable for the next message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The session is not ready for a message (still greeting, mid-transaction, closed).
    #[error("session not ready for a message")]
    NotReady,
    /// The envelope has no recipients.
    #[error("envelope has no recipients")]
    NoRecipients,
    /// An address cannot be written safely as an SMTP path.
    #[error("invalid address {0:?}")]
    InvalidAddress(String),
    /// `BODY=8BITMIME` but the server does not offer 8BITMIME.
    #[error("message needs 8BITMIME, not offered by the server")]
    EightBitMimeNotOffered,
    /// `BODY=BINARYMIME` but the server does not offer BINARYMIME and CHUNKING, or
    /// chunking is disabled in the config.
    #[error("message needs BINARYMIME over BDAT, not available")]
    BinaryMimeNotOffered,
    /// Non-ASCII addresses or the SMTPUTF8 flag, but the server does not offer SMTPUTF8.
    #[error("message needs SMTPUTF8, not offered by the server")]
    SmtpUtf8NotOffered,
    /// The declared size exceeds the server's SIZE.
    #[error("message of {size} octets exceeds the server's limit of {max}")]
    TooLarge {
        /// The envelope's size.
        size: u64,
        /// The server's SIZE.
        max: u64,
    },
    /// REQUIRETLS asked for, but the connection is not TLS or the server does not offer it.
    #[error("message needs REQUIRETLS, not available on this connection")]
    RequireTlsUnavailable,
    /// A parameter value is out of its range (`MT-PRIORITY` outside -9..=9).
    #[error("bad value for parameter {0}")]
    BadParameter(&'static str),
    /// `write_body`/`finish_body` called when no body is expected (none was asked for
    /// with [`ClientEvent::SendBody`](super::ClientEvent::SendBody), or the message was
    /// refused meanwhile).
    #[error("no message body expected now")]
    NotSendingBody,
}

impl SendError {
    /// The reply and enhanced code describing the error (RFC 3463, RFC 6531, RFC 8689).
    pub fn reply(&self) -> Reply {
        let (code, e, text) = match self {
            SendError::NotReady => (451, (4, 3, 0), "client session not ready"),
            SendError::NoRecipients => (554, (5, 5, 1), "no recipients"),
            SendError::InvalidAddress(_) => (553, (5, 1, 3), "invalid address syntax"),
            SendError::EightBitMimeNotOffered => {
                (554, (5, 6, 3), "8BITMIME not supported by the server")
            }
            SendError::BinaryMimeNotOffered => {
                (554, (5, 6, 3), "BINARYMIME not supported by the server")
            }
            SendError::SmtpUtf8NotOffered => {
                (553, (5, 6, 7), "SMTPUTF8 not supported by the server")
            }
            SendError::TooLarge { .. } => (552, (5, 3, 4), "message too big for the server"),
            SendError::RequireTlsUnavailable => (550, (5, 7, 30), "REQUIRETLS not available"),
            SendError::BadParameter(_) => (501, (5, 5, 4), "bad parameter value"),
            SendError::NotSendingBody => (503, (5, 5, 1), "no message body expected"),
        };
        Reply::new(code, Some(EnhancedCode::new(e.0, e.1, e.2)), text)
    }
}

/// Why a session failed. It is closed afterwards; a message in flight was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The greeting was not 220.
    #[error("server refused the session: {0}")]
    GreetingRefused(Reply),
    /// EHLO and HELO were refused.
    #[error("server refused EHLO/HELO: {0}")]
    HeloRefused(Reply),
    /// [`TlsPolicy::Required`](super::TlsPolicy::Required) and the server does not offer
    /// STARTTLS.
    #[error("TLS required but STARTTLS not offered")]
    TlsNotOffered,
    /// [`TlsPolicy::Required`](super::TlsPolicy::Required) and STARTTLS was refused.
    #[error("STARTTLS refused: {0}")]
    StartTlsRefused(Reply),
    /// Credentials are configured, but the server offers neither AUTH PLAIN nor LOGIN.
    #[error("no supported AUTH mechanism offered")]
    AuthUnavailable,
    /// Credentials are configured, but the connection is not TLS and plain-text AUTH is
    /// not allowed by the config.
    #[error("AUTH refused on a connection without TLS")]
    AuthNeedsTls,
    /// The server refused the credentials.
    #[error("authentication failed: {0}")]
    AuthFailed(Reply),
    /// `421`: the server is closing the connection.
    #[error("server closing the connection: {0}")]
    ServiceClosing(Reply),
    /// A reply that makes no sense in the current state.
    #[error("unexpected reply: {0}")]
    UnexpectedReply(Reply),
    /// Bytes that are not an SMTP reply (or exceed the reply limits).
    #[error("malformed reply: {0}")]
    MalformedReply(ReplyError),
    /// The application reported a time-out.
    #[error("timed out waiting for the server")]
    Timeout,
    /// The application reported that the server closed the connection.
    #[error("connection closed by the server")]
    ConnectionClosed,
    /// The configured HELO name is not a domain or address literal.
    #[error("invalid HELO name {0:?}")]
    InvalidHeloName(String),
}

impl SessionError {
    /// The server's reply when there is one, otherwise a reply describing the failure.
    pub fn reply(&self) -> Reply {
        let (code, e, text) = match self {
            SessionError::GreetingRefused(r)
            | SessionError::HeloRefused(r)
            | SessionError::StartTlsRefused(r)
            | SessionError::AuthFailed(r)
            | SessionError::ServiceClosing(r)
            | SessionError::UnexpectedReply(r) => return r.clone(),
            SessionError::TlsNotOffered => (530, (5, 7, 10), "STARTTLS not offered"),
            SessionError::AuthUnavailable => (530, (5, 7, 8), "no usable AUTH mechanism"),
            SessionError::AuthNeedsTls => (530, (5, 7, 11), "AUTH needs TLS"),
            SessionError::MalformedReply(_) => (451, (4, 5, 0), "malformed reply from server"),
            SessionError::Timeout => (451, (4, 4, 2), "timed out"),
            SessionError::ConnectionClosed => (451, (4, 4, 2), "connection closed"),
            SessionError::InvalidHeloName(_) => (451, (4, 3, 5), "invalid HELO name"),
        };
        Reply::new(code, Some(EnhancedCode::new(e.0, e.1, e.2)), text)
    }
}
