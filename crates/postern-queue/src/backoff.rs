//! Per-destination backoff.
//!
//! When a destination (a domain or a host) fails, the whole destination is backed off, so
//! new messages for it wait instead of each burning an attempt; one success clears it.
//! Failure classes are kept apart, so a recipient-level 4xx never holds up a whole domain
//! and a permanent failure never feeds the connection backoff.

use std::collections::HashMap;
use std::time::Duration;

use crate::time::{Timestamp, millis};

/// Which step of a delivery attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    /// TCP/TLS connection failed or was lost before the greeting. Backs off the destination.
    Connection,
    /// 4xx at the greeting, EHLO or MAIL FROM. Backs off the destination.
    Session,
    /// 4xx on one RCPT TO. Backs off that recipient at that destination only.
    Recipient,
    /// 4xx after DATA (or BDAT LAST). Backs off the destination, counted on its own.
    Data,
    /// 5xx. Recorded, but never makes anyone wait: the recipient simply fails.
    Permanent,
}

impl FailureClass {
    const DEST_CLASSES: [FailureClass; 3] = [
        FailureClass::Connection,
        FailureClass::Session,
        FailureClass::Data,
    ];

    fn slot(self) -> usize {
        match self {
            FailureClass::Connection => 0,
            FailureClass::Session => 1,
            FailureClass::Data => 2,
            FailureClass::Recipient | FailureClass::Permanent => 3,
        }
    }
}

/// How long a failing destination waits: `initial`, doubling (`factor`) up to `max`.
#[derive(Debug, Clone, PartialEq)]
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

/// The backoff of one failure class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BackoffEntry {
    /// Consecutive failures since the last success.
    pub failures: u32,
    /// Not before this instant.
    pub until: Timestamp,
}

#[derive(Debug, Default)]
struct DestState {
    classes: [Option<BackoffEntry>; 3],
    permanent_failures: u32,
    recipients: HashMap<String, BackoffEntry>,
}

/// The backoff table: sans-IO, every call takes `now`.
#[derive(Debug, Default)]
pub struct Backoff {
    policy: BackoffPolicy,
    dests: HashMap<String, DestState>,
}

impl Backoff {
    /// An empty table with `policy`.
    pub fn new(policy: BackoffPolicy) -> Backoff {
        Backoff {
            policy,
            dests: HashMap::new(),
        }
    }

    /// Records a failure of `class` at `destination` (and `recipient` for
    /// [`FailureClass::Recipient`]). Returns the instant the destination (or recipient) may be
    /// tried again, or `None` for [`FailureClass::Permanent`]. Until a success, the returned
    /// instants never decrease.
    pub fn record_failure(
        &mut self,
        destination: &str,
        class: FailureClass,
        recipient: Option<&str>,
        now: Timestamp,
    ) -> Option<Timestamp> {
        let policy = &self.policy;
        let dest = self
            .dests
            .entry(destination.to_ascii_lowercase())
            .or_default();
        let entry = match (class, recipient) {
            (FailureClass::Permanent, _) => {
                dest.permanent_failures = dest.permanent_failures.saturating_add(1);
                return None;
            }
            (FailureClass::Recipient, Some(r)) => {
                dest.recipients.entry(r.to_ascii_lowercase()).or_default()
            }
            (FailureClass::Recipient, None) => return None,
            (c, _) => dest.classes[c.slot()].get_or_insert_with(BackoffEntry::default),
        };
        entry.failures = entry.failures.saturating_add(1);
        entry.until = entry.until.max(now + policy.delay(entry.failures));
        Some(entry.until)
    }

    /// A successful delivery to `destination` clears its destination-level backoff; a
    /// recipient accepted there clears that recipient's entry too.
    pub fn record_success(&mut self, destination: &str, recipient: Option<&str>) {
        let key = destination.to_ascii_lowercase();
        if let Some(dest) = self.dests.get_mut(&key) {
            dest.classes = [None; 3];
            dest.permanent_failures = 0;
            if let Some(r) = recipient {
                dest.recipients.remove(&r.to_ascii_lowercase());
            }
            if dest.recipients.is_empty() {
                self.dests.remove(&key);
            }
        }
    }

    /// Clears everything for `destination` (an administrator's "retry now", ETRN).
    pub fn clear(&mut self, destination: &str) {
        self.dests.remove(&destination.to_ascii_lowercase());
    }

    /// When `destination` (and `recipient` there) may next be tried; `None` means now.
    pub fn ready_at(
        &self,
        destination: &str,
        recipient: Option<&str>,
        now: Timestamp,
    ) -> Option<Timestamp> {
        let dest = self.lookup(destination)?;
        let mut until = dest.classes.iter().flatten().map(|e| e.until).max();
        if let Some(r) = recipient.filter(|_| !dest.recipients.is_empty()) {
            let r = dest
                .recipients
                .get(&r.to_ascii_lowercase())
                .map(|e| e.until);
            until = until.max(r);
        }
        until.filter(|&t| t > now)
    }

    /// The entry for one destination-level class, if any.
    pub fn entry(&self, destination: &str, class: FailureClass) -> Option<BackoffEntry> {
        let dest = self.lookup(destination)?;
        FailureClass::DEST_CLASSES
            .contains(&class)
            .then(|| dest.classes[class.slot()])
            .flatten()
    }

    /// Permanent failures seen at `destination` since its last success.
    pub fn permanent_failures(&self, destination: &str) -> u32 {
        self.lookup(destination).map_or(0, |d| d.permanent_failures)
    }

    fn lookup(&self, destination: &str) -> Option<&DestState> {
        if destination.bytes().any(|b| b.is_ascii_uppercase()) {
            self.dests.get(&destination.to_ascii_lowercase())
        } else {
            self.dests.get(destination)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIN: u64 = 60_000;

    #[test]
    fn destination_backoff_and_success_clears() {
        let mut b = Backoff::default();
        let t = Timestamp(0);
        assert_eq!(
            b.record_failure("Example.COM", FailureClass::Connection, None, t),
            Some(Timestamp(MIN))
        );
        assert_eq!(b.ready_at("example.com", None, t), Some(Timestamp(MIN)));
        assert_eq!(
            b.ready_at("example.com", Some("a@example.com"), Timestamp(MIN)),
            None
        );
        let t2 = Timestamp(MIN);
        assert_eq!(
            b.record_failure("example.com", FailureClass::Connection, None, t2),
            Some(Timestamp(3 * MIN))
        );
        assert_eq!(
            b.entry("example.com", FailureClass::Connection)
                .unwrap()
                .failures,
            2
        );
        b.record_success("example.com", None);
        assert_eq!(b.ready_at("example.com", None, t2), None);
    }

    #[test]
    fn classes_are_kept_apart() {
        let mut b = Backoff::default();
        let t = Timestamp(0);
        // A recipient 4xx holds only that recipient.
        b.record_failure("d", FailureClass::Recipient, Some("x@d"), t);
        assert_eq!(b.ready_at("d", None, t), None);
        assert_eq!(b.ready_at("d", Some("y@d"), t), None);
        assert_eq!(b.ready_at("d", Some("X@D"), t), Some(Timestamp(MIN)));
        // 5xx never makes anyone wait, and does not feed the connection class.
        assert_eq!(
            b.record_failure("d", FailureClass::Permanent, None, t),
            None
        );
        assert_eq!(b.permanent_failures("d"), 1);
        assert_eq!(b.entry("d", FailureClass::Connection), None);
        // Session and data failures count separately.
        b.record_failure("d", FailureClass::Session, None, t);
        b.record_failure("d", FailureClass::Data, None, t);
        b.record_failure("d", FailureClass::Data, None, t);
        assert_eq!(b.entry("d", FailureClass::Session).unwrap().failures, 1);
        assert_eq!(b.entry("d", FailureClass::Data).unwrap().failures, 2);
        // Success at the domain clears the domain classes but keeps x@d's own entry.
        b.record_success("d", None);
        assert_eq!(b.ready_at("d", None, t), None);
        assert_eq!(b.ready_at("d", Some("x@d"), t), Some(Timestamp(MIN)));
        b.record_success("d", Some("x@d"));
        assert_eq!(b.ready_at("d", Some("x@d"), t), None);
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
                b.record_failure("dom", class, Some("r@dom"), Timestamp(now));
                let until = b.ready_at("dom", Some("r@dom"), Timestamp(0));
                if let (Some(prev), Some(cur)) = (last, until) {
                    prop_assert!(cur >= prev);
                }
                if until.is_some() { last = until; }
                prop_assert!(b.ready_at("dom", None, Timestamp(now)).is_none_or(|t| t > Timestamp(now)));
            }
            b.record_success("dom", Some("r@dom"));
            prop_assert_eq!(b.ready_at("dom", Some("r@dom"), Timestamp(0)), None);
        }
    }
}
