//! What the client session tells the application.

use crate::reply::Reply;

use super::error::SessionError;

/// The outcome for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptStatus {
    /// Accepted (2xx to RCPT) and, in a `Delivered` event, delivered.
    Accepted(Reply),
    /// Refused for now (4xx): retry later.
    Temporary(Reply),
    /// Refused for good (5xx): bounce.
    Permanent(Reply),
}

impl RcptStatus {
    /// Classifies a reply: 2xx accepted, 4xx temporary, anything else permanent.
    pub(crate) fn from_reply(reply: Reply) -> RcptStatus {
        if reply.is_positive() {
            RcptStatus::Accepted(reply)
        } else if reply.is_transient() {
            RcptStatus::Temporary(reply)
        } else {
            RcptStatus::Permanent(reply)
        }
    }

    /// The reply behind the status.
    pub fn reply(&self) -> &Reply {
        match self {
            RcptStatus::Accepted(r) | RcptStatus::Temporary(r) | RcptStatus::Permanent(r) => r,
        }
    }

    /// True for [`RcptStatus::Accepted`].
    pub fn is_accepted(&self) -> bool {
        matches!(self, RcptStatus::Accepted(_))
    }
}

/// One recipient of the envelope and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientResult {
    /// The address as given in the envelope.
    pub address: String,
    /// What happened to it.
    pub status: RcptStatus,
}

/// Why a message was not delivered (the session stays usable).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// MAIL FROM was refused.
    Mail(Reply),
    /// No recipient was accepted, so no body was sent.
    NoRecipients,
    /// DATA was refused.
    Data(Reply),
    /// The body was refused: the reply to the final `.` or to a BDAT chunk.
    Message(Reply),
}

impl Rejection {
    /// The reply that refused the message, if there was one.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Rejection::Mail(r) | Rejection::Data(r) | Rejection::Message(r) => Some(r),
            Rejection::NoRecipients => None,
        }
    }
}

/// An event for the application, from [`ClientSession::poll_event`](super::ClientSession::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The server said 220 to STARTTLS. Write out any pending output, run the TLS
    /// handshake on the transport, then call
    /// [`ClientSession::tls_established`](super::ClientSession::tls_established).
    StartTls,
    /// The session is established (greeted, TLS and AUTH done as configured):
    /// [`ClientSession::send`](super::ClientSession::send) may be called. Events are
    /// queued: if a later one in the queue is `Failed` (the same read held a bad reply),
    /// `send` answers [`SendError::NotReady`](super::SendError::NotReady).
    Ready,
    /// Stream the message body now with `write_body` and end it with `finish_body`. Sent
    /// again when the session can take more after `write_body` accepted less than offered
    /// (BDAT without PIPELINING).
    SendBody,
    /// The server accepted the message (final 250) for the accepted recipients. The
    /// session is ready for the next message.
    Delivered {
        /// Every recipient in envelope order; refused ones are Temporary or Permanent.
        recipients: Vec<RecipientResult>,
        /// The reply to the end of data.
        reply: Reply,
    },
    /// The message was not delivered. `recipients` holds each recipient's final outcome:
    /// when the whole transaction failed (MAIL, DATA or the body), every recipient carries
    /// that reply. The session is ready for the next message.
    NotDelivered {
        /// Every recipient in envelope order.
        recipients: Vec<RecipientResult>,
        /// Why.
        reason: Rejection,
    },
    /// The session failed and is closed. A message in flight was not delivered.
    Failed(SessionError),
    /// The server answered QUIT; the session is closed.
    Closed,
}
