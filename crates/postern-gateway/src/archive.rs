//! The archive (seed 002, KB Q258557): a copy of every message, or of those from listed
//! senders, in either direction, as an `.eml` file with its envelope, in dated folders —
//! in the gateway itself, without the second server the KB article needed.
//!
//! A file is `ROOT/YYYY-MM-DD/<queue id>-<direction>[-<n>].eml`: envelope lines
//! (`X-Postern-Direction`, `X-Postern-Queue-Id`, `X-Envelope-From`, one `X-Envelope-To` per
//! recipient, `X-Postern-Archived`), then the message exactly as it was accepted
//! (inbound) or sent (outbound, after conversion). Written to a temporary name, fsynced,
//! renamed, and the directory fsynced: a file is whole or absent.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use postern_route::Glob;

use crate::config::{ArchiveDirection, ArchiveSection};

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Accepted from a client.
    Inbound,
    /// Delivered out.
    Outbound,
}

impl Direction {
    /// `inbound` or `outbound`, as the tracking event's reason says it.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// The archive writer.
#[derive(Debug, Clone)]
pub struct Archive {
    dir: PathBuf,
    senders: Vec<Glob>,
    recipients: Vec<Glob>,
    direction: ArchiveDirection,
}

/// One message to archive.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Which way.
    pub direction: Direction,
    /// The queue id.
    pub queue_id: &'a str,
    /// The envelope sender (empty for the null sender).
    pub sender: &'a str,
    /// The envelope recipients.
    pub recipients: &'a [String],
    /// The message octets.
    pub body: &'a [u8],
    /// Milliseconds since the Unix epoch.
    pub now_ms: u64,
}

/// Characters allowed in an envelope line as is; others become `?` so a line never breaks.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

impl Archive {
    /// The archive `[archive]` describes, or `None` when it is off.
    pub fn from_config(section: &ArchiveSection) -> Option<Archive> {
        section.enabled.then(|| Archive {
            dir: section.dir.clone(),
            senders: section.senders.iter().map(|p| Glob::new(p)).collect(),
            recipients: section.recipients.iter().map(|p| Glob::new(p)).collect(),
            direction: section.direction,
        })
    }

    /// Whether a message from `sender` to `recipients` going `direction` is archived:
    /// the direction fits, and the sender matches `[archive] senders` or a recipient
    /// matches `[archive] recipients` (every message when both lists are empty).
    pub fn wants_message(&self, direction: Direction, sender: &str, recipients: &[&str]) -> bool {
        self.wants(direction, sender)
            || (self.wants_direction(direction)
                && recipients
                    .iter()
                    .any(|r| self.recipients.iter().any(|g| g.matches(r))))
    }

    fn wants_direction(&self, direction: Direction) -> bool {
        matches!(
            (self.direction, direction),
            (ArchiveDirection::Both, _)
                | (ArchiveDirection::Inbound, Direction::Inbound)
                | (ArchiveDirection::Outbound, Direction::Outbound)
        )
    }

    /// Whether a message from `sender` going `direction` is archived by its sender
    /// alone (see [`Archive::wants_message`] for recipients).
    pub fn wants(&self, direction: Direction, sender: &str) -> bool {
        let everything = self.senders.is_empty() && self.recipients.is_empty();
        self.wants_direction(direction)
            && (everything || self.senders.iter().any(|g| g.matches(sender)))
    }

    /// Writes `record` durably; returns the file's path. Blocking: call it off the async
    /// executor.
    pub fn write(&self, record: &Record<'_>) -> io::Result<PathBuf> {
        let when = DateTime::<Utc>::from_timestamp_millis(record.now_ms as i64).unwrap_or_default();
        let day = self.dir.join(when.format("%Y-%m-%d").to_string());
        fs::create_dir_all(&day)?;
        let mut head = format!(
            "X-Postern-Direction: {}\r\nX-Postern-Queue-Id: {}\r\nX-Envelope-From: <{}>\r\n",
            record.direction.name(),
            clean(record.queue_id),
            clean(record.sender)
        );
        for r in record.recipients {
            head.push_str(&format!("X-Envelope-To: <{}>\r\n", clean(r)));
        }
        head.push_str(&format!("X-Postern-Archived: {}\r\n", when.to_rfc2822()));
        let base = format!(
            "{}-{}",
            clean(record.queue_id).replace(['/', '\\', '.'], "_"),
            record.direction.name()
        );
        let tmp = day.join(format!(".{base}.{}.tmp", std::process::id()));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(head.as_bytes())?;
            f.write_all(record.body)?;
            f.sync_all()?;
        }
        let path = free_name(&day, &base);
        fs::rename(&tmp, &path)?;
        sync_dir(&day)?;
        Ok(path)
    }
}

impl Record<'_> {
    /// The Message-ID in the header block of the message, as `<id>`, if it has one.
    pub fn message_id(&self) -> Option<String> {
        message_id_of(self.body)
    }
}

/// The Message-ID in the header block of `body`, as `<id>`, if it has one.
fn message_id_of(body: &[u8]) -> Option<String> {
    // Only the header block is parsed: the body may be large.
    let head_end = memchr::memmem::find(body, b"\r\n\r\n").map_or(body.len(), |i| i + 4);
    postern_message::Message::parse(&body[..head_end])
        .message_id()
        .map(|id| format!("<{id}>"))
}

/// `base.eml`, or `base-2.eml`, `base-3.eml`… if taken (a message archived twice, e.g.
/// one delivery per destination).
fn free_name(day: &Path, base: &str) -> PathBuf {
    let first = day.join(format!("{base}.eml"));
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| day.join(format!("{base}-{n}.eml")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    OpenOptions::new().read(true).open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(dir: &Path, senders: &[&str], direction: ArchiveDirection) -> ArchiveSection {
        ArchiveSection {
            enabled: true,
            dir: dir.to_owned(),
            senders: senders.iter().map(|s| s.to_string()).collect(),
            recipients: Vec::new(),
            direction,
        }
    }

    #[test]
    fn selects_by_sender_and_direction() {
        let dir = std::env::temp_dir();
        let a =
            Archive::from_config(&section(&dir, &["boss@*"], ArchiveDirection::Outbound)).unwrap();
        assert!(a.wants(Direction::Outbound, "Boss@Example.com"));
        assert!(!a.wants(Direction::Outbound, "clerk@example.com"));
        assert!(!a.wants(Direction::Inbound, "boss@example.com"));
        let all = Archive::from_config(&section(&dir, &[], ArchiveDirection::Both)).unwrap();
        assert!(all.wants(Direction::Inbound, ""));
        let mut by_rcpt = section(&dir, &["boss@*"], ArchiveDirection::Both);
        by_rcpt.recipients = vec!["legal@corp.test".into()];
        let r = Archive::from_config(&by_rcpt).unwrap();
        assert!(r.wants_message(Direction::Inbound, "x@y", &["a@b", "Legal@Corp.Test"]));
        assert!(r.wants_message(Direction::Inbound, "boss@y", &["a@b"]));
        assert!(!r.wants_message(Direction::Inbound, "x@y", &["a@b"]));
        by_rcpt.senders.clear();
        let r = Archive::from_config(&by_rcpt).unwrap();
        assert!(
            !r.wants(Direction::Inbound, "x@y"),
            "recipients only: not by sender"
        );
        assert!(r.wants_message(Direction::Outbound, "", &["legal@corp.test"]));
        let mut off = section(&dir, &[], ArchiveDirection::Both);
        off.enabled = false;
        assert!(Archive::from_config(&off).is_none());
    }

    #[test]
    fn writes_envelope_and_message_into_a_dated_folder() {
        let dir = std::env::temp_dir().join(format!("postern-archive-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let a = Archive::from_config(&section(&dir, &[], ArchiveDirection::Both)).unwrap();
        let rcpts = vec![
            "b@example.com".to_owned(),
            "c\r\nX: y@example.com".to_owned(),
        ];
        let rec = Record {
            direction: Direction::Outbound,
            queue_id: "0000018f00000001",
            sender: "a@example.org",
            recipients: &rcpts,
            body: b"Subject: hi\r\n\r\nbody\r\n",
            now_ms: 1_795_000_000_000,
        };
        let p1 = a.write(&rec).unwrap();
        let p2 = a.write(&rec).unwrap();
        assert_ne!(p1, p2);
        assert!(p1.parent().unwrap().ends_with("2026-11-18"), "{p1:?}");
        assert!(
            p2.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .ends_with("-outbound-2.eml")
        );
        let text = fs::read_to_string(&p1).unwrap();
        assert!(text.starts_with(
            "X-Postern-Direction: outbound\r\nX-Postern-Queue-Id: 0000018f00000001\r\n"
        ));
        assert!(text.contains(
            "X-Envelope-To: <b@example.com>\r\nX-Envelope-To: <c??X: y@example.com>\r\n"
        ));
        assert!(text.ends_with("Subject: hi\r\n\r\nbody\r\n"));
        let leftovers = fs::read_dir(p1.parent().unwrap())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(leftovers, 0);
        fs::remove_dir_all(&dir).unwrap();
    }
}
