//! Message priority, per-priority time-outs and the delay-notice schedule.
//!
//! Exchange's IMS times a message out per priority (urgent, normal, non-urgent); after the
//! time-out each undelivered recipient fails and a failure notice is due. Notifications
//! themselves (null reverse-path) get their own, shorter lifetime and never trigger delay
//! notices, so a bounce cannot bounce.

use std::time::Duration;

use crate::time::Timestamp;

/// A message's priority, as far as time-outs are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Priority {
    /// Urgent: shortest time-out.
    Urgent,
    /// Normal (the default).
    #[default]
    Normal,
    /// Non-urgent: longest time-out.
    NonUrgent,
}

impl Priority {
    /// From an SMTP `MT-PRIORITY` value (RFC 6710, -9..=9): positive is urgent, negative
    /// non-urgent, zero normal.
    pub fn from_mt_priority(value: i8) -> Priority {
        match value {
            1.. => Priority::Urgent,
            0 => Priority::Normal,
            _ => Priority::NonUrgent,
        }
    }

    /// From one header field, if it is a priority header this crate understands:
    /// `Priority: urgent|normal|non-urgent` (RFC 2156), `Importance: high|normal|low`,
    /// `X-Priority: 1..5` (1–2 urgent, 3 normal, 4–5 non-urgent; trailing text ignored).
    pub fn from_header(name: &str, value: &str) -> Option<Priority> {
        let v = value.trim().to_ascii_lowercase();
        if name.eq_ignore_ascii_case("priority") {
            match v.as_str() {
                "urgent" => Some(Priority::Urgent),
                "normal" => Some(Priority::Normal),
                "non-urgent" => Some(Priority::NonUrgent),
                _ => None,
            }
        } else if name.eq_ignore_ascii_case("importance") {
            match v.as_str() {
                "high" => Some(Priority::Urgent),
                "normal" => Some(Priority::Normal),
                "low" => Some(Priority::NonUrgent),
                _ => None,
            }
        } else if name.eq_ignore_ascii_case("x-priority") {
            match v.bytes().next() {
                Some(b'1' | b'2') => Some(Priority::Urgent),
                Some(b'3') => Some(Priority::Normal),
                Some(b'4' | b'5') => Some(Priority::NonUrgent),
                _ => None,
            }
        } else {
            None
        }
    }

    /// Detects the priority: `MT-PRIORITY` wins, then `Priority`, `Importance`,
    /// `X-Priority` in that order; otherwise normal.
    pub fn detect<'a>(
        mt_priority: Option<i8>,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Priority {
        if let Some(v) = mt_priority {
            return Priority::from_mt_priority(v);
        }
        let mut found: [Option<Priority>; 3] = [None; 3];
        for (name, value) in headers {
            let rank = ["priority", "importance", "x-priority"]
                .iter()
                .position(|h| name.eq_ignore_ascii_case(h));
            if let Some(rank) = rank.filter(|&r| found[r].is_none()) {
                found[rank] = Priority::from_header(name, value);
            }
        }
        found.into_iter().flatten().next().unwrap_or_default()
    }

    /// The on-disk code (0 urgent, 1 normal, 2 non-urgent).
    pub fn code(self) -> u8 {
        match self {
            Priority::Urgent => 0,
            Priority::Normal => 1,
            Priority::NonUrgent => 2,
        }
    }

    /// The inverse of [`Priority::code`].
    pub fn from_code(code: u8) -> Option<Priority> {
        [Priority::Urgent, Priority::Normal, Priority::NonUrgent]
            .get(usize::from(code))
            .copied()
    }

    /// A short name: `urgent`, `normal`, `non-urgent`.
    pub fn name(self) -> &'static str {
        ["urgent", "normal", "non-urgent"][usize::from(self.code())]
    }
}

/// Per-priority message time-outs, counted from arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lifetimes {
    /// Urgent messages. Default 24 h (the IMS default).
    pub urgent: Duration,
    /// Normal messages. Default 48 h.
    pub normal: Duration,
    /// Non-urgent messages. Default 72 h.
    pub non_urgent: Duration,
    /// Notifications (null reverse-path), whatever their priority, unless the priority's own
    /// time-out is shorter. Default 12 h.
    pub notification: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            urgent: Duration::from_secs(24 * 3600),
            normal: Duration::from_secs(48 * 3600),
            non_urgent: Duration::from_secs(72 * 3600),
            notification: Duration::from_secs(12 * 3600),
        }
    }
}

impl Lifetimes {
    /// The time-out for a message of `priority`; `null_sender` marks a notification.
    pub fn lifetime(&self, priority: Priority, null_sender: bool) -> Duration {
        let base = match priority {
            Priority::Urgent => self.urgent,
            Priority::Normal => self.normal,
            Priority::NonUrgent => self.non_urgent,
        };
        if null_sender {
            base.min(self.notification)
        } else {
            base
        }
    }

    /// When a message that arrived at `arrival` expires.
    pub fn expires(&self, arrival: Timestamp, priority: Priority, null_sender: bool) -> Timestamp {
        arrival + self.lifetime(priority, null_sender)
    }
}

/// When "still waiting" delay notices go out: ages counted from arrival, one notice for
/// each (Postfix's `delay_warning_time`, as a list). The default `[4h]` sends one notice
/// when a message has waited 4 h; `[4h, 24h]` a second one at 24 h; `[]` none. A notice
/// whose age passed while an earlier one was still due (the gateway was down) is not
/// sent separately: one notice covers every age reached (see [`DelayNotices::reached`]).
///
/// The field keeps its old name `intervals` so configurations and callers built against
/// it still compile; its entries are ages, in any order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DelayNotices {
    /// The ages; empty disables delay notices.
    pub intervals: Vec<Duration>,
}

impl Default for DelayNotices {
    fn default() -> Self {
        DelayNotices {
            intervals: vec![Duration::from_secs(4 * 3600)],
        }
    }
}

impl DelayNotices {
    fn sorted(&self) -> Vec<Duration> {
        let mut v = self.intervals.clone();
        v.sort_unstable();
        v
    }

    /// When notice number `sent` (0-based count of notices already sent) is due, or `None`
    /// when every listed age has had its notice, notices are disabled, or the message is
    /// a notification itself.
    pub fn next_due(&self, arrival: Timestamp, sent: u32, null_sender: bool) -> Option<Timestamp> {
        if null_sender {
            return None;
        }
        let n = usize::try_from(sent).unwrap_or(usize::MAX);
        self.sorted().get(n).map(|age| arrival + *age)
    }

    /// How many of the ages a message that arrived at `arrival` has reached at `now`: the
    /// notice count to record once a notice is sent at `now`.
    pub fn reached(&self, arrival: Timestamp, now: Timestamp) -> u32 {
        let n = self
            .intervals
            .iter()
            .filter(|age| arrival + **age <= now)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_from_headers() {
        assert_eq!(Priority::from_mt_priority(4), Priority::Urgent);
        assert_eq!(Priority::from_mt_priority(-2), Priority::NonUrgent);
        assert_eq!(Priority::from_mt_priority(0), Priority::Normal);
        assert_eq!(
            Priority::from_header("X-Priority", "1 (Highest)"),
            Some(Priority::Urgent)
        );
        assert_eq!(
            Priority::from_header("x-priority", " 5"),
            Some(Priority::NonUrgent)
        );
        assert_eq!(
            Priority::from_header("Importance", "Low"),
            Some(Priority::NonUrgent)
        );
        assert_eq!(
            Priority::from_header("Priority", "non-urgent"),
            Some(Priority::NonUrgent)
        );
        assert_eq!(Priority::from_header("Subject", "urgent"), None);
        let hs = [("X-Priority", "5"), ("Importance", "high")];
        assert_eq!(
            Priority::detect(None, hs),
            Priority::Urgent,
            "Importance beats X-Priority"
        );
        assert_eq!(
            Priority::detect(Some(-1), hs),
            Priority::NonUrgent,
            "MT-PRIORITY wins"
        );
        assert_eq!(
            Priority::detect(None, [("Importance", "bogus")]),
            Priority::Normal
        );
        for p in [Priority::Urgent, Priority::Normal, Priority::NonUrgent] {
            assert_eq!(Priority::from_code(p.code()), Some(p));
        }
    }

    #[test]
    fn lifetimes_per_priority_and_notifications() {
        let l = Lifetimes::default();
        let t0 = Timestamp(1000);
        assert_eq!(
            l.expires(t0, Priority::Urgent, false),
            t0 + Duration::from_secs(86_400)
        );
        assert_eq!(
            l.expires(t0, Priority::Normal, false),
            t0 + Duration::from_secs(172_800)
        );
        assert_eq!(
            l.expires(t0, Priority::NonUrgent, false),
            t0 + Duration::from_secs(259_200)
        );
        assert_eq!(
            l.expires(t0, Priority::NonUrgent, true),
            t0 + Duration::from_secs(43_200)
        );
    }

    #[test]
    fn delay_notice_schedule() {
        let d = DelayNotices::default();
        let h = |n: u64| Some(Timestamp(n * 3_600_000));
        assert_eq!(d.next_due(Timestamp(0), 0, false), h(4));
        assert_eq!(
            d.next_due(Timestamp(0), 1, false),
            None,
            "one notice per age"
        );
        assert_eq!(d.next_due(Timestamp(0), 0, true), None);
        let two = DelayNotices {
            intervals: vec![
                Duration::from_secs(24 * 3600),
                Duration::from_secs(4 * 3600),
            ],
        };
        assert_eq!(two.next_due(Timestamp(0), 0, false), h(4), "in age order");
        assert_eq!(two.next_due(Timestamp(0), 1, false), h(24));
        assert_eq!(two.next_due(Timestamp(0), 2, false), None);
        assert_eq!(two.next_due(Timestamp(0), 7, false), None);
        assert_eq!(two.reached(Timestamp(0), Timestamp(3 * 3_600_000)), 0);
        assert_eq!(two.reached(Timestamp(0), Timestamp(4 * 3_600_000)), 1);
        assert_eq!(two.reached(Timestamp(0), Timestamp(30 * 3_600_000)), 2);
        assert_eq!(
            DelayNotices { intervals: vec![] }.next_due(Timestamp(0), 0, false),
            None
        );
    }
}
