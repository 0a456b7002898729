//! What a queued recipient is waiting for, and when it is really tried next.
//!
//! A recipient's stored `next_attempt` is its own retry schedule. Its destination may be
//! backed off beyond that ([`crate::backoff`]), and the backoff table is soft state in
//! the gateway's memory. [`next_attempt`] combines the two: the later of the recipient's
//! schedule and its destination's backoff, and which one it waits for.
//!
//! Before either, a recipient may wait for something no clock ends: an administrator's
//! hold ([`WaitsFor::Held`]), or a reason only the gateway knows ([`WaitsFor::Gateway`]:
//! its connector is down, its domain is held for ETRN, the transfer mode holds outbound
//! mail). [`explain`] puts it all together, in that order.
//!
//! So that `postern queue list/show` (which read the spool, gateway running or not) can
//! tell the same, a running gateway publishes its backoff table and its notes in the
//! spool directory ([`write_published`], file [`PUBLISHED_FILE`], rewritten within a
//! second of a change; soft state, not fsynced) and the views read them back
//! ([`read_published`]). Backoff entries whose time has passed mean nothing and are
//! ignored; a gateway starting afresh rewrites the file with its own state.

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

/// What a recipient is waiting for.
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
    /// An administrator's hold (the message, its destination, or everything).
    Held,
    /// A reason the running gateway published ([`Note`]).
    Gateway {
        /// What kind: `connector-down`, `hold-for-etrn`, `transfer-mode`, …
        kind: String,
        /// Said for people.
        text: String,
    },
}

impl fmt::Display for WaitsFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitsFor::Schedule => f.write_str("retry schedule"),
            WaitsFor::DestinationBackoff { failures } => {
                write!(f, "destination backoff after {failures} failure(s)")
            }
            WaitsFor::Held => f.write_str("held by an administrator"),
            WaitsFor::Gateway { text, .. } => f.write_str(text),
        }
    }
}

impl WaitsFor {
    /// A short machine name: `schedule`, `destination-backoff`, `held`, or the kind of
    /// a gateway's note.
    pub fn name(&self) -> &str {
        match self {
            WaitsFor::Schedule => "schedule",
            WaitsFor::DestinationBackoff { .. } => "destination-backoff",
            WaitsFor::Held => "held",
            WaitsFor::Gateway { kind, .. } => kind,
        }
    }

    /// True when no clock ends the wait (a hold or a gateway's reason): the time shown
    /// is only when the queue looks at it next.
    pub fn is_hold(&self) -> bool {
        matches!(self, WaitsFor::Held | WaitsFor::Gateway { .. })
    }
}

/// Something the running gateway says holds up a destination's mail (or all mail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The destination, or `None` for all of them.
    pub destination: Option<String>,
    /// A short machine name (one word): `connector-down`, `hold-for-etrn`, `transfer-mode`.
    pub kind: String,
    /// Said for people (one line).
    pub text: String,
}

/// What a running gateway published: its destination backoff and its notes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Published {
    /// The backoff table.
    pub backoff: Vec<(String, BackoffEntry)>,
    /// The notes.
    pub notes: Vec<Note>,
}

impl Published {
    /// The backoff of `destination`, if any.
    pub fn backoff_of(&self, destination: &str) -> Option<&BackoffEntry> {
        self.backoff
            .iter()
            .find(|(d, _)| d.eq_ignore_ascii_case(destination))
            .map(|(_, e)| e)
    }

    /// The first note that applies to `destination` (notes for all come first).
    pub fn note_for(&self, destination: &str) -> Option<&Note> {
        self.notes
            .iter()
            .find(|n| n.destination.is_none())
            .or_else(|| {
                self.notes.iter().find(|n| {
                    n.destination
                        .as_deref()
                        .is_some_and(|d| d.eq_ignore_ascii_case(destination))
                })
            })
    }
}

/// Why a recipient for `destination` in `state` waits, and when the queue looks at it
/// next: an administrator's hold (`held`), then a gateway's note, then the later of its
/// schedule and its destination's backoff ([`next_attempt`]).
pub fn explain(
    state: &RecipientState,
    destination: &str,
    held: bool,
    published: &Published,
    now: Timestamp,
) -> Option<NextAttempt> {
    let mut next = next_attempt(state, published.backoff_of(destination), now)?;
    if held {
        next.waits_for = WaitsFor::Held;
    } else if let Some(n) = published.note_for(destination) {
        next.waits_for = WaitsFor::Gateway {
            kind: n.kind.clone(),
            text: n.text.clone(),
        };
    }
    Some(next)
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

/// The published file's text: one line per backoff entry,
/// `backoff DESTINATION FAILURES LAST_FAILURE_MS UNTIL_MS CLASS`, and one per note,
/// `note DESTINATION|* KIND TEXT…`.
pub fn published_text(p: &Published) -> String {
    let mut s = String::from("# what the running gateway's queue waits for (soft state)\n");
    for (d, e) in &p.backoff {
        s.push_str(&format!(
            "backoff {d} {} {} {} {}\n",
            e.failures,
            e.last_failure.0,
            e.until.0,
            class_name(e.class)
        ));
    }
    for n in &p.notes {
        let text: String = n.text.chars().filter(|c| !c.is_control()).collect();
        s.push_str(&format!(
            "note {} {} {text}\n",
            n.destination.as_deref().unwrap_or("*"),
            n.kind
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

/// Parses the published state; lines that do not parse are skipped.
pub fn parse_published(text: &str) -> Published {
    let mut p = Published::default();
    for line in text.lines().take(MAX_PUBLISHED_LINES) {
        if let Some(rest) = line.strip_prefix("backoff ") {
            p.backoff.extend(parse_backoff(rest));
        } else if let Some(rest) = line.strip_prefix("note ") {
            p.notes.extend(parse_note(rest));
        }
    }
    p
}

fn parse_note(rest: &str) -> Option<Note> {
    let mut it = rest.splitn(3, ' ');
    let d = it.next().filter(|d| !d.is_empty())?;
    let kind = it.next().filter(|k| !k.is_empty())?;
    Some(Note {
        destination: (d != "*").then(|| d.to_ascii_lowercase()),
        kind: kind.to_owned(),
        text: it.next().unwrap_or_default().to_owned(),
    })
}

fn parse_backoff(rest: &str) -> Option<(String, BackoffEntry)> {
    let mut it = rest.split_ascii_whitespace();
    let d = it.next()?;
    let failures = it.next()?.parse().ok()?;
    let last = it.next()?.parse().ok()?;
    let until = it.next()?.parse().ok()?;
    let class = class_of(it.next()?)?;
    let entry = BackoffEntry {
        failures,
        last_failure: Timestamp(last),
        until: Timestamp(until),
        class,
    };
    it.next().is_none().then(|| (d.to_ascii_lowercase(), entry))
}

/// What the running gateway published in the spool directory `dir`; empty when there
/// is nothing.
pub fn read_published(dir: &Path) -> Published {
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
        let p = Published {
            backoff: entries,
            notes: vec![
                Note {
                    destination: None,
                    kind: "transfer-mode".into(),
                    text: "transfer mode inbound holds outbound mail".into(),
                },
                Note {
                    destination: Some("c.example".into()),
                    kind: "connector-down".into(),
                    text: "connector relay is down".into(),
                },
            ],
        };
        let text = published_text(&p);
        assert_eq!(parse_published(&text), p);
        let junk = format!(
            "{text}x\nbackoff c 1 2\nbackoff d 1 2 3 nope\nbackoff e 1 2 3 session extra\nnote \nnote d\n\u{0}\n"
        );
        assert_eq!(parse_published(&junk), p);
        let dir = std::env::temp_dir().join(format!("postern-wait-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(read_published(&dir), Published::default());
        write_published(&dir, &text).unwrap();
        assert_eq!(read_published(&dir), p);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn holds_and_notes_come_before_clocks() {
        let now = Timestamp(1000);
        let mut p = Published {
            backoff: vec![("d".into(), entry(1, 5000))],
            notes: vec![Note {
                destination: Some("e".into()),
                kind: "hold-for-etrn".into(),
                text: "held for ETRN".into(),
            }],
        };
        let st = deferred(2000);
        let n = explain(&st, "d", false, &p, now).unwrap();
        assert_eq!(n.waits_for, WaitsFor::DestinationBackoff { failures: 1 });
        let n = explain(&st, "d", true, &p, now).unwrap();
        assert_eq!((n.waits_for.name(), n.at), ("held", Timestamp(5000)));
        assert!(n.waits_for.is_hold());
        let n = explain(&st, "E", false, &p, now).unwrap();
        assert_eq!(n.waits_for.name(), "hold-for-etrn");
        assert_eq!(n.waits_for.to_string(), "held for ETRN");
        p.notes.push(Note {
            destination: None,
            kind: "transfer-mode".into(),
            text: "mode none".into(),
        });
        let n = explain(&st, "d", false, &p, now).unwrap();
        assert_eq!(n.waits_for.name(), "transfer-mode");
    }
}
