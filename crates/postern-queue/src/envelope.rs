//! The envelope a message is queued with, and per-recipient delivery state.

use std::time::Duration;

use crate::lifetime::Priority;
use crate::time::Timestamp;

/// One envelope recipient and the destination it is delivered through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeRecipient {
    /// The address as given in `RCPT TO` (without angle brackets).
    pub address: String,
    /// The destination the recipient is scheduled and backed off under: by default the
    /// lower-cased domain; a router may put a smart host or relay name here.
    pub destination: String,
    /// The RFC 3461 `NOTIFY` parameter, if given.
    pub notify: Option<Notify>,
    /// The RFC 3461 `ORCPT` parameter (`type;address`, decoded), if given.
    pub orcpt: Option<String>,
}

/// The RFC 3461 `NOTIFY` parameter: when the sender wants a notice about a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notify {
    /// `NOTIFY=NEVER`: no notice at all.
    pub never: bool,
    /// `SUCCESS`: a notice on delivery.
    pub success: bool,
    /// `FAILURE`: a notice on failure.
    pub failure: bool,
    /// `DELAY`: delay notices.
    pub delay: bool,
}

impl Notify {
    /// The stored form: bit 0 never, 1 success, 2 failure, 3 delay; bit 7 set marks
    /// "given" so the empty byte means "not given".
    pub fn to_bits(self) -> u8 {
        0x80 | u8::from(self.never)
            | u8::from(self.success) << 1
            | u8::from(self.failure) << 2
            | u8::from(self.delay) << 3
    }

    /// The inverse of [`Notify::to_bits`] (`None` for "not given").
    pub fn from_bits(b: u8) -> Option<Notify> {
        (b & 0x80 != 0).then_some(Notify {
            never: b & 1 != 0,
            success: b & 2 != 0,
            failure: b & 4 != 0,
            delay: b & 8 != 0,
        })
    }
}

impl EnvelopeRecipient {
    /// A recipient whose destination is its lower-cased domain (the part after the last
    /// `@`; the whole address when there is none).
    pub fn new(address: impl Into<String>) -> EnvelopeRecipient {
        let address = address.into();
        let destination = address
            .rsplit_once('@')
            .map_or(address.as_str(), |(_, d)| d)
            .to_ascii_lowercase();
        EnvelopeRecipient {
            address,
            destination,
            notify: None,
            orcpt: None,
        }
    }

    /// Whether this recipient carries any RFC 3461 parameter.
    pub fn has_dsn(&self) -> bool {
        self.notify.is_some() || self.orcpt.is_some()
    }
}

/// What the queue stores with each message: plain strings, no other postern crate's types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse-path (`MAIL FROM`), empty for the null sender (a notification).
    pub sender: String,
    /// The recipients, in `RCPT TO` order.
    pub recipients: Vec<EnvelopeRecipient>,
    /// The priority (time-out class).
    pub priority: Priority,
    /// When the message arrived (also encoded in its queue id).
    pub arrival: Timestamp,
    /// The RFC 3461 `ENVID` parameter, if given.
    pub envid: Option<String>,
    /// The RFC 3461 `RET` parameter: `Some(true)` for FULL, `Some(false)` for HDRS.
    pub ret_full: Option<bool>,
}

impl Envelope {
    /// An envelope of normal priority; recipients routed to their domains.
    pub fn new<I, S>(sender: impl Into<String>, recipients: I, arrival: Timestamp) -> Envelope
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Envelope {
            sender: sender.into(),
            recipients: recipients.into_iter().map(EnvelopeRecipient::new).collect(),
            priority: Priority::Normal,
            arrival,
            envid: None,
            ret_full: None,
        }
    }

    /// Whether the envelope carries any RFC 3461 parameter (stored in the longer
    /// enqueue record only then).
    pub fn has_dsn(&self) -> bool {
        self.envid.is_some()
            || self.ret_full.is_some()
            || self.recipients.iter().any(EnvelopeRecipient::has_dsn)
    }

    /// True for a notification (null reverse-path).
    pub fn is_notification(&self) -> bool {
        self.sender.is_empty()
    }
}

/// Why a recipient failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailReason {
    /// The remote side refused permanently (5xx).
    Rejected,
    /// The message time-out passed.
    Expired,
    /// The retry policy gave up (retry count or rules exhausted).
    RetriesExhausted,
    /// An administrator deleted or bounced it.
    Administrative,
}

impl FailReason {
    pub(crate) fn code(self) -> u8 {
        match self {
            FailReason::Rejected => 0,
            FailReason::Expired => 1,
            FailReason::RetriesExhausted => 2,
            FailReason::Administrative => 3,
        }
    }

    pub(crate) fn from_code(c: u8) -> Option<FailReason> {
        [
            FailReason::Rejected,
            FailReason::Expired,
            FailReason::RetriesExhausted,
            FailReason::Administrative,
        ]
        .get(usize::from(c))
        .copied()
    }

    /// A short name.
    pub fn name(self) -> &'static str {
        ["rejected", "expired", "retries-exhausted", "administrative"][usize::from(self.code())]
    }
}

/// Where one recipient stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RecipientState {
    /// Not tried yet.
    #[default]
    Pending,
    /// Tried and temporarily failed; waiting for `next_attempt`.
    Deferred {
        /// Failed attempts so far.
        attempts: u32,
        /// When the first failure happened (Exim cutoffs count from here).
        first_failure: Timestamp,
        /// The nominal interval last used (geometric rules grow from it).
        last_gap: Duration,
        /// The next attempt.
        next_attempt: Timestamp,
        /// The last reply text (e.g. `451 4.3.0 try later`).
        last_reply: String,
    },
    /// Delivered (final).
    Delivered {
        /// When.
        at: Timestamp,
        /// The accepting reply.
        reply: String,
    },
    /// Failed (final): a failure notice is due unless the sender is null.
    Failed {
        /// When.
        at: Timestamp,
        /// Why.
        reason: FailReason,
        /// The last reply.
        reply: String,
    },
}

impl RecipientState {
    /// Delivered or failed.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            RecipientState::Delivered { .. } | RecipientState::Failed { .. }
        )
    }

    /// Failed attempts recorded.
    pub fn attempts(&self) -> u32 {
        match self {
            RecipientState::Deferred { attempts, .. } => *attempts,
            _ => 0,
        }
    }

    /// A rank that only grows as a recipient progresses: pending 0, deferred 1 + attempts,
    /// final `u64::MAX`. "State never goes backwards" means this never decreases.
    pub fn progress(&self) -> u64 {
        match self {
            RecipientState::Pending => 0,
            RecipientState::Deferred { attempts, .. } => 1 + u64::from(*attempts),
            RecipientState::Delivered { .. } | RecipientState::Failed { .. } => u64::MAX,
        }
    }

    /// A short name: `pending`, `deferred`, `delivered`, `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            RecipientState::Pending => "pending",
            RecipientState::Deferred { .. } => "deferred",
            RecipientState::Delivered { .. } => "delivered",
            RecipientState::Failed { .. } => "failed",
        }
    }
}

/// The mutable part of a queued message, rewritten atomically on every change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageState {
    /// Grows by one with every persisted change; recovery keeps the highest.
    pub version: u64,
    /// Held by an administrator: not scheduled until released.
    pub held: bool,
    /// Delay notices sent so far.
    pub delay_notices_sent: u32,
    /// One state per envelope recipient, in envelope order.
    pub recipients: Vec<RecipientState>,
}

impl MessageState {
    /// The initial state: every recipient pending.
    pub fn new(recipients: usize) -> MessageState {
        MessageState {
            version: 0,
            held: false,
            delay_notices_sent: 0,
            recipients: vec![RecipientState::Pending; recipients],
        }
    }

    /// True when every recipient is delivered or failed: the message may be removed.
    pub fn is_complete(&self) -> bool {
        self.recipients.iter().all(RecipientState::is_final)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_default_to_domain() {
        let e = Envelope::new("a@x", ["B@Example.ORG", "local"], Timestamp(1));
        assert_eq!(e.recipients[0].destination, "example.org");
        assert_eq!(e.recipients[0].address, "B@Example.ORG");
        assert_eq!(e.recipients[1].destination, "local");
        assert!(!e.is_notification());
        assert!(Envelope::new("", ["a@b"], Timestamp(1)).is_notification());
    }

    #[test]
    fn progress_only_grows() {
        let d = |attempts| RecipientState::Deferred {
            attempts,
            first_failure: Timestamp(0),
            last_gap: Duration::ZERO,
            next_attempt: Timestamp(0),
            last_reply: String::new(),
        };
        assert!(RecipientState::Pending.progress() < d(1).progress());
        assert!(d(1).progress() < d(2).progress());
        let done = RecipientState::Delivered {
            at: Timestamp(0),
            reply: String::new(),
        };
        assert!(d(100).progress() < done.progress());
        assert!(done.is_final() && !d(1).is_final());
        let mut m = MessageState::new(2);
        assert!(!m.is_complete());
        m.recipients = vec![done.clone(), done];
        assert!(m.is_complete());
    }
}
