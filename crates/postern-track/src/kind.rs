//! Event kinds, their readable names, and the Exchange event numbers they correspond to.
//!
//! The numbers are Exchange Server 5.5's message-tracking event numbers (the 1010–1018 block
//! is what the Internet Mail Service logged; 9, 29 and 50 are MTA and gateway events with
//! the same meaning). Exchange 2007 replaced numbers with names in its `event-id` column;
//! [`EventKind::exchange2007_name`] gives the nearest one so an admin used to either can
//! read our logs. Where Exchange had no such event (it did not track refused connections,
//! for instance) the number is absent and the log shows `-`.
//!
//! Exchange 5.5 logged no event of its own when a recipient failed or a message timed
//! out (only the report, 1017). Its successor's SMTP service continued the same 10xx
//! block and logged both as 1030 "SMTP: NDR all" (a non-delivery); that number is given
//! to [`Failed`](EventKind::Failed) and [`Expired`](EventKind::Expired), which share it
//! (the `event` column tells them apart, and `--event 1030` finds both). No Exchange
//! version numbered a temporary failure, so [`Deferred`](EventKind::Deferred) has none.
//!
//! | kind | name | Exchange 5.5 | Exchange 2007 | Postfix analogue |
//! | --- | --- | --- | --- | --- |
//! | [`ConnectionRejected`](EventKind::ConnectionRejected) | `connection-rejected` | – | – | `NOQUEUE: reject: CONNECT` |
//! | [`CommandRejected`](EventKind::CommandRejected) | `command-rejected` | – | – | `NOQUEUE: reject: RCPT` |
//! | [`Received`](EventKind::Received) | `received` | 1012 SMTP received inbound | RECEIVE | `qmgr: from=<…>` |
//! | [`Routed`](EventKind::Routed) | `routed` | – | – | `trivial-rewrite` |
//! | [`Queued`](EventKind::Queued) | `queued` | 1010 SMTP queued outbound | – | `qmgr` active |
//! | [`Sent`](EventKind::Sent) | `sent` | 1011 SMTP transferred outbound | SEND | `status=sent` |
//! | [`Deferred`](EventKind::Deferred) | `deferred` | – | DEFER | `status=deferred` |
//! | [`Rerouted`](EventKind::Rerouted) | `rerouted` | 1014 SMTP message rerouted | – | – |
//! | [`Delivered`](EventKind::Delivered) | `delivered` | 9 message delivered | DELIVER | `status=sent (delivered to …)` |
//! | [`Failed`](EventKind::Failed) | `failed` | 1030 SMTP NDR all (Exchange 2000) | FAIL | `status=bounced` |
//! | [`Expired`](EventKind::Expired) | `expired` | 1030 SMTP NDR all (Exchange 2000) | FAIL | `status=expired` |
//! | [`DsnGenerated`](EventKind::DsnGenerated) | `dsn-generated` | 1017 SMTP report generated | DSN | `sender non-delivery notification` |
//! | [`DsnAbsorbed`](EventKind::DsnAbsorbed) | `dsn-absorbed` | 1018 SMTP report absorbed | – | – |
//! | [`Archived`](EventKind::Archived) | `archived` | – | – | `always_bcc` |
//! | [`PostmasterCopy`](EventKind::PostmasterCopy) | `postmaster-copy` | – | – | `notify_classes` |
//! | [`DeletedByAdmin`](EventKind::DeletedByAdmin) | `deleted` | 50 gateway deleted message | – | `postsuper -d` |
//! | [`Dropped`](EventKind::Dropped) | `dropped` | – | – | `header_checks DISCARD` |
//!
//! Other Exchange 5.5 numbers, for reference when reading old logs: 1013 SMTP transferred
//! inbound, 1015 SMTP report transferred in, 1016 SMTP report transferred out, 28 message
//! redirected, 29 message rerouted (MTA), 33 report absorption and 34 report generation
//! (MTA), 43 unroutable report discarded.

use std::fmt;
use std::str::FromStr;

/// Exchange 2000's "SMTP: NDR all": the message was not delivered (failed or timed out).
const NDR_ALL: u16 = 1030;

/// What happened to a message (or a connection) at one hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EventKind {
    /// A connection was refused before any command (policy, blocklist, load).
    ConnectionRejected,
    /// A command was refused (e.g. `RCPT TO` to an unknown user); no queue id exists yet.
    CommandRejected,
    /// A message was accepted from a client or a peer and given a queue id.
    Received,
    /// A routing decision was taken for the message (connector, next hop).
    Routed,
    /// The message was queued for outbound delivery.
    Queued,
    /// The message was transferred to the next hop, which accepted it.
    Sent,
    /// A delivery attempt failed temporarily; a retry is scheduled.
    Deferred,
    /// The message was moved to another connector or route (failover).
    Rerouted,
    /// The message was delivered locally (mailbox, pickup, local agent).
    Delivered,
    /// Delivery failed permanently.
    Failed,
    /// The message outlived its queue lifetime and was given up on.
    Expired,
    /// A delivery status notification (NDR or success DSN) was generated.
    DsnGenerated,
    /// A notification that would have been generated was suppressed (never NDR an NDR).
    DsnAbsorbed,
    /// A copy of the message was archived.
    Archived,
    /// A copy (usually of an NDR) was sent to the postmaster.
    PostmasterCopy,
    /// An administrator deleted the message from the queue.
    DeletedByAdmin,
    /// The message was deliberately not sent to a recipient, by a policy (an automatic
    /// reply the domain does not let out, say), without a non-delivery report; the
    /// reason column says which policy.
    Dropped,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 17] = [
        EventKind::ConnectionRejected,
        EventKind::CommandRejected,
        EventKind::Received,
        EventKind::Routed,
        EventKind::Queued,
        EventKind::Sent,
        EventKind::Deferred,
        EventKind::Rerouted,
        EventKind::Delivered,
        EventKind::Failed,
        EventKind::Expired,
        EventKind::DsnGenerated,
        EventKind::DsnAbsorbed,
        EventKind::Archived,
        EventKind::PostmasterCopy,
        EventKind::DeletedByAdmin,
        EventKind::Dropped,
    ];

    /// The readable name written in the log's `event` column.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::ConnectionRejected => "connection-rejected",
            EventKind::CommandRejected => "command-rejected",
            EventKind::Received => "received",
            EventKind::Routed => "routed",
            EventKind::Queued => "queued",
            EventKind::Sent => "sent",
            EventKind::Deferred => "deferred",
            EventKind::Rerouted => "rerouted",
            EventKind::Delivered => "delivered",
            EventKind::Failed => "failed",
            EventKind::Expired => "expired",
            EventKind::DsnGenerated => "dsn-generated",
            EventKind::DsnAbsorbed => "dsn-absorbed",
            EventKind::Archived => "archived",
            EventKind::PostmasterCopy => "postmaster-copy",
            EventKind::DeletedByAdmin => "deleted",
            EventKind::Dropped => "dropped",
        }
    }

    /// The Exchange 5.5 event number, where Exchange had an equivalent event.
    pub fn exchange_number(self) -> Option<u16> {
        match self {
            EventKind::Received => Some(1012),
            EventKind::Queued => Some(1010),
            EventKind::Sent => Some(1011),
            EventKind::Rerouted => Some(1014),
            EventKind::Delivered => Some(9),
            EventKind::DsnGenerated => Some(1017),
            EventKind::DsnAbsorbed => Some(1018),
            EventKind::DeletedByAdmin => Some(50),
            EventKind::Failed | EventKind::Expired => Some(NDR_ALL),
            _ => None,
        }
    }

    /// Every kind logged with Exchange event number `n` (1030 is both `failed` and
    /// `expired`; most numbers are one kind, unknown ones none).
    pub fn with_exchange_number(n: u16) -> impl Iterator<Item = EventKind> {
        Self::ALL
            .into_iter()
            .filter(move |k| k.exchange_number() == Some(n))
    }

    /// The nearest Exchange 2007 message-tracking event id, where one exists.
    pub fn exchange2007_name(self) -> Option<&'static str> {
        match self {
            EventKind::Received => Some("RECEIVE"),
            EventKind::Sent => Some("SEND"),
            EventKind::Deferred => Some("DEFER"),
            EventKind::Delivered => Some("DELIVER"),
            EventKind::Failed | EventKind::Expired => Some("FAIL"),
            EventKind::DsnGenerated => Some("DSN"),
            _ => None,
        }
    }

    /// Looks a kind up by its name (ASCII case-insensitive), or its Exchange number or
    /// Exchange 2007 name when that maps to exactly one kind (for 1030 and FAIL, which
    /// mean `failed` or `expired`, see [`EventKind::with_exchange_number`]).
    pub fn lookup(s: &str) -> Option<EventKind> {
        let s = s.trim();
        if let Ok(n) = s.parse::<u16>() {
            let mut hits = Self::with_exchange_number(n);
            let first = hits.next()?;
            return hits.next().is_none().then_some(first);
        }
        Self::from_name(s.as_bytes()).or_else(|| {
            let mut hits = Self::ALL.into_iter().filter(|k| {
                k.exchange2007_name()
                    .is_some_and(|n| n.eq_ignore_ascii_case(s))
            });
            let first = hits.next()?;
            hits.next().is_none().then_some(first)
        })
    }

    /// The kind whose log name is exactly `name` (ASCII case-insensitive).
    pub fn from_name(name: &[u8]) -> Option<EventKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().as_bytes().eq_ignore_ascii_case(name))
    }

    /// Whether events of this kind concern a message (rather than a refused connection or
    /// command, which have no queue id).
    pub fn has_message(self) -> bool {
        !matches!(
            self,
            EventKind::ConnectionRejected | EventKind::CommandRejected
        )
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing an unknown event kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event kind {0:?} (expected a name such as `sent`, or an Exchange event number)")]
pub struct UnknownKind(pub String);

impl FromStr for EventKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<EventKind, UnknownKind> {
        EventKind::lookup(s).ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_are_unique_and_round_trip() {
        let mut names = std::collections::HashSet::new();
        let mut numbers = std::collections::HashSet::new();
        for k in EventKind::ALL {
            assert!(names.insert(k.name()));
            if let Some(n) = k.exchange_number() {
                assert!(EventKind::with_exchange_number(n).any(|j| j == k));
                if numbers.insert(n) && n != NDR_ALL {
                    assert_eq!(EventKind::lookup(&n.to_string()), Some(k));
                } else {
                    // Only failed and expired share a number.
                    assert!(matches!(k, EventKind::Failed | EventKind::Expired), "{k}");
                }
            }
            assert_eq!(k.name().parse::<EventKind>(), Ok(k));
            assert_eq!(
                EventKind::from_name(k.name().to_uppercase().as_bytes()),
                Some(k)
            );
        }
    }

    #[test]
    fn issue_numbers() {
        assert_eq!(EventKind::Received.exchange_number(), Some(1012));
        assert_eq!(EventKind::Queued.exchange_number(), Some(1010));
        assert_eq!(EventKind::Sent.exchange_number(), Some(1011));
        assert_eq!(EventKind::Rerouted.exchange_number(), Some(1014));
        assert_eq!(EventKind::DsnGenerated.exchange_number(), Some(1017));
        assert_eq!(EventKind::DsnAbsorbed.exchange_number(), Some(1018));
        assert_eq!(EventKind::Delivered.exchange_number(), Some(9));
        assert_eq!(EventKind::Failed.exchange_number(), Some(1030));
        assert_eq!(EventKind::Expired.exchange_number(), Some(1030));
        assert_eq!(EventKind::Deferred.exchange_number(), None);
        assert_eq!(EventKind::lookup("1030"), None, "ambiguous, as FAIL");
        let both: Vec<EventKind> = EventKind::with_exchange_number(1030).collect();
        assert_eq!(both, [EventKind::Failed, EventKind::Expired]);
    }

    #[test]
    fn exchange2007_lookup() {
        assert_eq!(EventKind::lookup("send"), Some(EventKind::Sent));
        assert_eq!(EventKind::lookup("DEFER"), Some(EventKind::Deferred));
        // FAIL is ambiguous between failed and expired.
        assert_eq!(EventKind::lookup("FAIL"), None);
        assert_eq!(EventKind::lookup("1234"), None);
        assert!("nope".parse::<EventKind>().is_err());
    }
}
