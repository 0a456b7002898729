//! What a queued recipient is waiting for, and when it is really tried next.
//!
//! A recipient's stored `next_attempt` is its own retry schedule. Its destination may be
//! backed off beyond that ([`crate::backoff`]), and the backoff table is soft state in
//! the gateway's memory. [`next_attempt`] combines the two: the later of the recipient's
//! schedule and its destination's backoff, and which one it waits for.
//!
//! So that `postern queue list/show` (which read the spool, gateway running or not) can
//! tell the same, a running gateway publishes its backoff table in the spool directory
//! ([`write_published`], file [`PUBLISHED_FILE`], rewritten within a second of a change;
//! soft state, not fsynced) and the views read it back ([`read_published`]). Entries
//! whose time has passed mean nothing and are ignored; a gateway starting afresh
//! rewrites the file with its own (empty) table.

use std::fmt;
use std::io;
use std::path::Path;

use crate::backoff::{BackoffEntry, FailureClass};
use crate::envelope::RecipientState;
use crate::time::Timestamp;

/// The file in the spool directory that holds the published backoff table.
pub const PUBLISHED_FILE: &str = "backoff";

/// Most lines [`read_published`] takes from the file (bounds memory on a bad file).
pub const MAX_PUBLISHED_LINES: usize = 100_000;

/// Which clock a recipient is waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitsFor {
    /// Its own retry schedule (or, never tried, nothing: it is due).
    Schedule,
    /// Its destination's backoff, after `failures` destination-level failures in a row.
    DestinationBackoff {
        /// Consecutive failures of the destination.
        failures: u32,
    },
}

impl fmt::Display for WaitsFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitsFor::Schedule => f.write_str("retry schedule"),
            WaitsFor::DestinationBackoff { failures } => {
                write!(f, "destination backoff after {failures} failure(s)")
            }
        }
    }
}

impl WaitsFor {
    /// A short machine name: `schedule`, `destination-backoff`.
    pub fn name(&self) -> &'static str {
        match self {
            WaitsFor::Schedule => "schedule",
            WaitsFor::DestinationBackoff { .. } => "destination-backoff",
        }
    }
}

/// When an unfinished recipient is next tried, and why not sooner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextAttempt {
    /// The real next attempt (may be at or before `now`: due).
    pub at: Timestamp,
    /// What decides it.
    pub waits_for: WaitsFor,
}

/// The real next attempt of a recipient in `state` whose destination has the backoff
/// `backoff` (if any) at `now`: the later of its schedule and the backoff. `None` for
/// a delivered or failed recipient.
pub fn next_attempt(
    state: &RecipientState,
    backoff: Option<&BackoffEntry>,
    now: Timestamp,
) -> Option<NextAttempt> {
    let own = match state {
        RecipientState::Pending => now,
        RecipientState::Deferred { next_attempt, .. } => *next_attempt,
        _ => return None,
    };
    // At a tie the backoff is the reason: a destination failure sets the recipient's
    // own next attempt to the end of the backoff.
    Some(match backoff.filter(|b| b.until >= own && b.until > now) {
        Some(b) => NextAttempt {
            at: b.until,
            waits_for: WaitsFor::DestinationBackoff {
                failures: b.failures,
            },
        },
        None => NextAttempt {
            at: own,
            waits_for: WaitsFor::Schedule,
        },
    })
}

/// A failure class's name in the published file.
fn class_name(c: FailureClass) -> &'static str {
    match c {
        FailureClass::Connection => "connection",
        FailureClass::Session => "session",
        FailureClass::Recipient => "recipient",
        FailureClass::Data => "data",
        FailureClass::Permanent => "permanent",
    }
}

fn class_of(name: &str) -> Option<FailureClass> {
    Some(match name {
        "connection" => FailureClass::Connection,
        "session" => FailureClass::Session,
        "recipient" => FailureClass::Recipient,
        "data" => FailureClass::Data,
        "permanent" => FailureClass::Permanent,
        _ => return None,
    })
}

/// The published file's text for `entries`: one line each,
/// `DESTINATION FAILURES LAST_FAILURE_MS UNTIL_MS CLASS`.
pub fn published_text(entries: &[(String, BackoffEntry)]) -> String {
    let mut s = String::from("# destination backoff of the running gateway (soft state)\n");
    for (d, e) in entries {
        s.push_str(&format!(
            "{d} {} {} {} {}\n",
            e.failures,
            e.last_failure.0,
            e.until.0,
            class_name(e.class)
        ));
    }
    s
}

/// Writes the published backoff table into the spool directory `dir` (temporary file,
/// then rename: readers see the old or the new table, never half of one).
pub fn write_published(dir: &Path, text: &str) -> io::Result<()> {
    let path = dir.join(PUBLISHED_FILE);
    let tmp = dir.join(format!(".{PUBLISHED_FILE}.tmp.{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)
}

/// Parses the published table; lines that do not parse are skipped.
pub fn parse_published(text: &str) -> Vec<(String, BackoffEntry)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .take(MAX_PUBLISHED_LINES)
        .filter_map(|l| {
            let mut it = l.split_ascii_whitespace();
            let d = it.next()?;
            let failures = it.next()?.parse().ok()?;
            let last = it.next()?.parse().ok()?;
            let until = it.next()?.parse().ok()?;
            let class = class_of(it.next()?)?;
            it.next().is_none().then(|| {
                (
                    d.to_ascii_lowercase(),
                    BackoffEntry {
                        failures,
                        last_failure: Timestamp(last),
                        until: Timestamp(until),
                        class,
                    },
                )
            })
        })
        .collect()
}

/// The backoff table the running gateway published in the spool directory `dir`;
/// empty when there is none.
pub fn read_published(dir: &Path) -> Vec<(String, BackoffEntry)> {
    std::fs::read_to_string(dir.join(PUBLISHED_FILE))
        .map(|t| parse_published(&t))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn entry(failures: u32, until: u64) -> BackoffEntry {
        BackoffEntry {
            failures,
            last_failure: Timestamp(until - 1000),
            until: Timestamp(until),
            class: FailureClass::Connection,
        }
    }

    fn deferred(next: u64) -> RecipientState {
        RecipientState::Deferred {
            attempts: 1,
            first_failure: Timestamp(0),
            last_gap: Duration::from_secs(1),
            next_attempt: Timestamp(next),
            last_reply: "451".into(),
        }
    }

    #[test]
    fn the_later_of_schedule_and_backoff() {
        let now = Timestamp(1000);
        let b = entry(2, 5000);
        // Schedule later than the backoff: the schedule.
        let n = next_attempt(&deferred(9000), Some(&b), now).unwrap();
        assert_eq!((n.at, n.waits_for), (Timestamp(9000), WaitsFor::Schedule));
        // Equal (set by the destination's failure): the backoff.
        let n = next_attempt(&deferred(5000), Some(&b), now).unwrap();
        assert_eq!(n.waits_for, WaitsFor::DestinationBackoff { failures: 2 });
        // Backoff later than the schedule: the backoff.
        let n = next_attempt(&deferred(2000), Some(&b), now).unwrap();
        assert_eq!(n.at, Timestamp(5000));
        assert_eq!(n.waits_for, WaitsFor::DestinationBackoff { failures: 2 });
        assert_eq!(
            n.waits_for.to_string(),
            "destination backoff after 2 failure(s)"
        );
        // A new recipient behind a backoff.
        let n = next_attempt(&RecipientState::Pending, Some(&b), now).unwrap();
        assert_eq!(n.at, Timestamp(5000));
        // A backoff already over.
        let n = next_attempt(&RecipientState::Pending, Some(&b), Timestamp(6000)).unwrap();
        assert_eq!((n.at, n.waits_for), (Timestamp(6000), WaitsFor::Schedule));
        let done = RecipientState::Delivered {
            at: now,
            reply: "250".into(),
        };
        assert_eq!(next_attempt(&done, Some(&b), now), None);
    }

    #[test]
    fn published_round_trip_and_bad_lines() {
        let entries = vec![
            ("a.example".to_string(), entry(1, 61_000)),
            (
                "b.example".to_string(),
                BackoffEntry {
                    class: FailureClass::Session,
                    ..entry(3, 99_000)
                },
            ),
        ];
        let text = published_text(&entries);
        assert_eq!(parse_published(&text), entries);
        let junk = format!("{text}x\nc 1 2\nd 1 2 3 nope\ne 1 2 3 session extra\n\u{0}\n");
        assert_eq!(parse_published(&junk), entries);
        let dir = std::env::temp_dir().join(format!("postern-wait-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(read_published(&dir).is_empty());
        write_published(&dir, &text).unwrap();
        assert_eq!(read_published(&dir), entries);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
