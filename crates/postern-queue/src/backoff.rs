//! Per-destination backoff: a destination that cannot be reached is left alone for a
//! while, so its messages wait instead of each burning an attempt.
//!
//! # When it applies
//!
//! Only failures of the destination itself back it off, as Postfix's and Exim's host
//! retry data do: it cannot be connected to, the connection is lost or times out, the
//! greeting (or EHLO) is refused with 4xx or 5xx, or the domain requires TLS and the
//! host cannot do it ([`FailureClass::Connection`], [`FailureClass::Session`]). The wait
//! is `initial` after the first such failure, doubling (`factor`) with each further one,
//! up to `max`. One answer from the destination clears it — a delivery, or a 4xx to the
//! transaction (it is up) — as do an administrator's retry and ETRN. A 5xx leaves it
//! as it is (it may come from before any connection: no route, a size limit).
//!
//! A destination that answers is not down: a 4xx reply to MAIL FROM, RCPT TO or the end
//! of the data ([`FailureClass::Data`], [`FailureClass::Recipient`]) is the message's or
//! the recipient's own deferral. It backs nobody off; the recipient simply follows its
//! retry schedule ([`crate::policy`]). A greylisting host (451 to the first attempt of
//! each new sender/recipient pair) therefore costs exactly one retry interval.

use std::collections::HashMap;
use std::time::Duration;

use crate::envelope::{FailReason, RecipientState};
use crate::time::{Timestamp, millis};

/// Which step of a delivery attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureClass {
    /// The destination could not be reached: connect refused or timed out, the
    /// connection lost or timed out mid-session, no next hop or every route down.
    /// Backs off the destination.
    Connection,
    /// The destination refused the session: 4xx/5xx greeting or EHLO, TLS required and
    /// unavailable or failing. Backs off the destination.
    Session,
    /// 4xx to one RCPT TO: that recipient's own deferral (its retry schedule). No backoff.
    Recipient,
    /// 4xx to MAIL FROM or after the data (DATA, end of data, BDAT LAST): the message's
    /// own deferral (its recipients' retry schedule). No backoff.
    Data,
    /// 5xx to the message or a recipient. Recorded by the caller as a failure; never
    /// makes anyone wait.
    Permanent,
}

impl FailureClass {
    /// True for failures of the destination itself ([`FailureClass::Connection`],
    /// [`FailureClass::Session`]): they back the destination off and, in the queue, do
    /// not use up the recipient's retries.
    pub fn is_destination(self) -> bool {
        matches!(self, FailureClass::Connection | FailureClass::Session)
    }
}

/// How long a failing destination waits: `initial`, doubling (`factor`) up to `max`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BackoffPolicy {
    /// The wait after the first failure. Default 1 min.
    pub initial: Duration,
    /// Growth per consecutive failure. Default 2.
    pub factor: f64,
    /// The longest wait. Default 1 h.
    pub max: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            initial: Duration::from_secs(60),
            factor: 2.0,
            max: Duration::from_secs(3600),
        }
    }
}

impl BackoffPolicy {
    /// The wait after `failures` consecutive failures (≥ 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = i32::try_from(failures.saturating_sub(1)).unwrap_or(i32::MAX);
        let ms = millis(self.initial) as f64 * self.factor.max(1.0).powi(exp);
        let cap = millis(self.max);
        Duration::from_millis(if ms.is_finite() && ms < cap as f64 {
            ms as u64
        } else {
            cap
        })
    }
}

/// The backoff of one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackoffEntry {
    /// Consecutive destination-level failures since the last success.
    pub failures: u32,
    /// When the latest of them happened.
    pub last_failure: Timestamp,
    /// Not before this instant.
    pub until: Timestamp,
    /// The class of the latest failure.
    pub class: FailureClass,
}

/// The backoff table: sans-IO, every call takes `now`.
#[derive(Debug, Default)]
pub struct Backoff {
    policy: BackoffPolicy,
    dests: HashMap<String, BackoffEntry>,
}

impl Backoff {
    /// An empty table with `policy`.
    pub fn new(policy: BackoffPolicy) -> Backoff {
        Backoff {
            policy,
            dests: HashMap::new(),
        }
    }

    /// Records a failure of `class` at `destination`. For a destination-level class
    /// ([`FailureClass::is_destination`]) returns the instant the destination may be
    /// tried again (until a success these never decrease); for the others records
    /// nothing and returns `None`.
    pub fn record_failure(
        &mut self,
        destination: &str,
        class: FailureClass,
        now: Timestamp,
    ) -> Option<Timestamp> {
        if !class.is_destination() {
            return None;
        }
        let policy = &self.policy;
        let entry = self
            .dests
            .entry(destination.to_ascii_lowercase())
            .or_insert(BackoffEntry {
                failures: 0,
                last_failure: now,
                until: now,
                class,
            });
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        entry.class = class;
        entry.until = entry.until.max(now + policy.delay(entry.failures));
        Some(entry.until)
    }

    /// The destination answered (took the mail, or deferred it with a 4xx to the
    /// transaction): its backoff is cleared.
    pub fn record_success(&mut self, destination: &str) {
        if !self.dests.is_empty() {
            self.dests.remove(&destination.to_ascii_lowercase());
        }
    }

    /// Clears the backoff of `destination` (an administrator's "retry now", ETRN).
    pub fn clear(&mut self, destination: &str) {
        self.record_success(destination);
    }

    /// When `destination` may next be tried; `None` means now.
    pub fn ready_at(&self, destination: &str, now: Timestamp) -> Option<Timestamp> {
        self.entry(destination)
            .map(|e| e.until)
            .filter(|&t| t > now)
    }

    /// The entry of `destination`, if it failed since its last success.
    pub fn entry(&self, destination: &str) -> Option<&BackoffEntry> {
        if self.dests.is_empty() {
            return None;
        }
        if destination.bytes().any(|b| b.is_ascii_uppercase()) {
            self.dests.get(&destination.to_ascii_lowercase())
        } else {
            self.dests.get(destination)
        }
    }

    /// Every destination still backed off at `now`, sorted by name.
    pub fn active(&self, now: Timestamp) -> Vec<(String, BackoffEntry)> {
        let mut v: Vec<(String, BackoffEntry)> = self
            .dests
            .iter()
            .filter(|(_, e)| e.until > now)
            .map(|(d, e)| (d.clone(), e.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// The new state of a recipient whose destination failed at `now` (a destination-level
/// class) and is backed off until `until`.
///
/// Waiting for a destination does not use up the recipient's retries: its attempt count
/// and the interval its schedule last used stay as they were, and it is next tried when
/// the backoff ends. It still ages: once `now` reaches `expires` (its priority's
/// time-out) it fails as expired, and it is never made to wait past `expires`.
///
/// Public so that another store of the queue (a shared database) applies the same rule.
///
/// ```
/// use std::time::Duration;
/// use postern_queue::backoff::behind_destination;
/// use postern_queue::{RecipientState, Timestamp};
///
/// let now = Timestamp(1_000);
/// let until = now + Duration::from_secs(60);
/// let expires = now + Duration::from_secs(3_600);
/// match behind_destination(&RecipientState::Pending, until, expires, now, "451 busy") {
///     RecipientState::Deferred { attempts, next_attempt, .. } => {
///         assert_eq!(attempts, 0, "waiting for the destination is not an attempt");
///         assert_eq!(next_attempt, until);
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
pub fn behind_destination(
    cur: &RecipientState,
    until: Timestamp,
    expires: Timestamp,
    now: Timestamp,
    reply: &str,
) -> RecipientState {
    if now >= expires {
        return RecipientState::Failed {
            at: now,
            reason: FailReason::Expired,
            reply: reply.to_owned(),
        };
    }
    let (attempts, first_failure, last_gap) = match cur {
        RecipientState::Deferred {
            attempts,
            first_failure,
            last_gap,
            ..
        } => (*attempts, *first_failure, *last_gap),
        _ => (0, now, Duration::ZERO),
    };
    RecipientState::Deferred {
        attempts,
        first_failure,
        last_gap,
        next_attempt: until.max(now + Duration::from_millis(1)).min(expires),
        last_reply: reply.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIN: u64 = 60_000;

    #[test]
    fn destination_backoff_doubles_and_success_clears() {
        let mut b = Backoff::default();
        let t = Timestamp(0);
        assert_eq!(
            b.record_failure("Example.COM", FailureClass::Connection, t),
            Some(Timestamp(MIN))
        );
        assert_eq!(b.ready_at("example.com", t), Some(Timestamp(MIN)));
        assert_eq!(b.ready_at("example.com", Timestamp(MIN)), None);
        let t2 = Timestamp(MIN);
        assert_eq!(
            b.record_failure("example.com", FailureClass::Session, t2),
            Some(Timestamp(3 * MIN))
        );
        let e = b.entry("EXAMPLE.com").unwrap();
        assert_eq!((e.failures, e.last_failure), (2, t2));
        assert_eq!(e.class, FailureClass::Session);
        assert_eq!(b.active(t2).len(), 1);
        b.record_success("example.com");
        assert_eq!(b.ready_at("example.com", t2), None);
        assert!(b.active(t2).is_empty());
    }

    #[test]
    fn replies_to_the_transaction_back_nobody_off() {
        let mut b = Backoff::default();
        let t = Timestamp(0);
        for class in [
            FailureClass::Recipient,
            FailureClass::Data,
            FailureClass::Permanent,
        ] {
            assert!(!class.is_destination());
            assert_eq!(b.record_failure("d", class, t), None);
        }
        assert_eq!(b.ready_at("d", t), None);
        assert!(b.entry("d").is_none());
    }

    #[test]
    fn waiting_for_the_destination_uses_no_retry() {
        let t = Timestamp(10 * MIN);
        let cur = RecipientState::Deferred {
            attempts: 3,
            first_failure: Timestamp(MIN),
            last_gap: Duration::from_secs(600),
            next_attempt: t,
            last_reply: "451 4.2.0 later".into(),
        };
        let next = behind_destination(&cur, t + Duration::from_secs(60), Timestamp::MAX, t, "x");
        assert_eq!(
            next,
            RecipientState::Deferred {
                attempts: 3,
                first_failure: Timestamp(MIN),
                last_gap: Duration::from_secs(600),
                next_attempt: Timestamp(11 * MIN),
                last_reply: "x".into(),
            }
        );
        let first = behind_destination(
            &RecipientState::Pending,
            Timestamp(20 * MIN),
            Timestamp(15 * MIN),
            t,
            "x",
        );
        assert!(
            matches!(first, RecipientState::Deferred { attempts: 0, next_attempt, first_failure, .. }
                if next_attempt == Timestamp(15 * MIN) && first_failure == t),
            "never past the time-out: {first:?}"
        );
        let expired = behind_destination(&cur, Timestamp::MAX, t, t, "x");
        assert!(matches!(
            expired,
            RecipientState::Failed {
                reason: FailReason::Expired,
                ..
            }
        ));
    }

    #[test]
    fn delay_caps() {
        let p = BackoffPolicy::default();
        assert_eq!(p.delay(1), Duration::from_secs(60));
        assert_eq!(p.delay(3), Duration::from_secs(240));
        assert_eq!(p.delay(40), Duration::from_secs(3600));
        assert_eq!(p.delay(u32::MAX), Duration::from_secs(3600));
    }

    proptest! {
        #[test]
        fn backoff_monotone_until_success(steps in proptest::collection::vec((0u64..10_000_000, 0u8..5), 1..60)) {
            let mut b = Backoff::default();
            let mut now = 0u64;
            let mut last: Option<Timestamp> = None;
            for (dt, class) in steps {
                now += dt;
                let class = [FailureClass::Connection, FailureClass::Session, FailureClass::Data,
                             FailureClass::Recipient, FailureClass::Permanent][usize::from(class)];
                let got = b.record_failure("dom", class, Timestamp(now));
                prop_assert_eq!(got.is_some(), class.is_destination());
                let until = b.entry("dom").map(|e| e.until);
                if let (Some(prev), Some(cur)) = (last, until) {
                    prop_assert!(cur >= prev);
                }
                if until.is_some() { last = until; }
                prop_assert!(b.ready_at("dom", Timestamp(now)).is_none_or(|t| t > Timestamp(now)));
            }
            b.record_success("dom");
            prop_assert_eq!(b.ready_at("dom", Timestamp(0)), None);
        }
    }
}
