//! What the gateway reads from and adds to an arriving message: the hop count, the
//! fields tracking and the queue want, and the `Received:` trace field.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use postern_message::Message;
use postern_queue::Priority;

/// Longest line of a generated header field, before folding (RFC 5322 §2.1.1).
const FOLD_WIDTH: usize = 78;

/// What the header block of an arriving message says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderInfo {
    /// `Received:` fields in the header block: the hops so far.
    pub received: usize,
    /// The first id in `Message-ID`, without angle brackets.
    pub message_id: Option<String>,
    /// The decoded `Subject`.
    pub subject: Option<String>,
    /// Whether a `Date` field is present.
    pub has_date: bool,
    /// The priority, from `MT-PRIORITY` or the priority headers.
    pub priority: Priority,
}

/// Reads the top-level header block of `body` (the MIME tree is not parsed).
///
/// Every `Received:` field of the block counts, not only a leading run: a looping
/// message cannot hide hops behind another field. The message parser keeps at most
/// 1000 fields and 256 KiB of header block, which bounds the work.
pub fn inspect(body: &[u8], mt_priority: Option<i8>) -> HeaderInfo {
    let mut limits = postern_message::Limits::default();
    // Header block only: the top-level part stays a leaf.
    limits.max_depth = 0;
    limits.max_parts = 1;
    let msg = Message::parse_with(body, &limits);
    let headers = msg.headers();
    let values: Vec<(&str, String)> = headers
        .iter()
        .filter(|h| h.is("priority") || h.is("importance") || h.is("x-priority"))
        .map(|h| (h.name(), h.value().into_owned()))
        .collect();
    HeaderInfo {
        received: headers.iter().filter(|h| h.is("received")).count(),
        message_id: msg.message_id().map(|m| m.into_owned()),
        subject: msg.subject().map(|s| s.into_owned()),
        has_date: msg.header("date").is_some(),
        priority: Priority::detect(mt_priority, values.iter().map(|(n, v)| (*n, v.as_str()))),
    }
}

/// What a `Received:` field says about one hop.
#[derive(Debug, Clone)]
pub struct Trace<'a> {
    /// The client's HELO/EHLO argument.
    pub helo: &'a str,
    /// The client's address (no reverse DNS is looked up).
    pub ip: IpAddr,
    /// This gateway's host name.
    pub hostname: &'a str,
    /// `SMTP`, `ESMTP`, `ESMTPS`, `ESMTPA` or `ESMTPSA` (RFC 3848).
    pub protocol: &'a str,
    /// The session's id (the queue id is not known before the message is stored).
    pub id: &'a str,
    /// The recipient, named only when there is exactly one (more would disclose Bcc).
    pub recipient: Option<&'a str>,
    /// When the message arrived.
    pub date: DateTime<Utc>,
}

/// The RFC 3848 `with` keyword.
pub fn protocol(esmtp: bool, tls: bool, authenticated: bool) -> &'static str {
    match (esmtp, tls, authenticated) {
        (false, _, _) => "SMTP",
        (true, false, false) => "ESMTP",
        (true, true, false) => "ESMTPS",
        (true, false, true) => "ESMTPA",
        (true, true, true) => "ESMTPSA",
    }
}

/// The `Received:` field for `t`, CRLF-terminated and folded at word boundaries so
/// that lines stay within 78 columns where the words allow.
///
/// Built in one buffer (it is made for every message): the words are written straight
/// into the field, and only text that needs a `?` is copied first.
pub fn received_header(t: &Trace<'_>) -> String {
    let mut ip = String::with_capacity(48);
    match t.ip.to_canonical() {
        IpAddr::V4(a) => {
            // By hand: `Display` for an address goes through the formatter per octet.
            ip.push_str("([");
            ip.push_str(crate::ascii::Ipv4Text::new(a).as_str());
            ip.push_str("])");
        }
        IpAddr::V6(a) => {
            let _ = write!(ip, "([IPv6:{a}])");
        }
    }
    let mut f = Folder::new("Received:");
    f.word("from");
    f.word(&printable(t.helo));
    f.word(&ip);
    f.word("by");
    f.word(&printable(t.hostname));
    f.word("(postern)");
    f.word("with");
    f.word(t.protocol);
    f.word("id");
    match t.recipient {
        Some(r) => {
            f.word(&printable(t.id));
            f.word("for");
            f.word_of(&["<", &printable(r), ">;"]);
        }
        None => f.word_of(&[&printable(t.id), ";"]),
    }
    for w in t.date.to_rfc2822().split(' ') {
        f.word(w);
    }
    f.finish()
}

/// A header field written a word at a time: `name: value` with the words joined by
/// spaces, folded before a word that would pass `FOLD_WIDTH` (78) columns, CRLF at the
/// end.
struct Folder {
    out: String,
    col: usize,
    name_len: usize,
}

impl Folder {
    fn new(name: &str) -> Folder {
        // Room for a typical trace field, so that it is not grown word by word.
        let mut out = String::with_capacity(192);
        out.push_str(name);
        Folder {
            col: out.len(),
            name_len: name.len(),
            out,
        }
    }

    fn word(&mut self, w: &str) {
        self.word_of(&[w]);
    }

    /// One word written in pieces, so that it need not be put together first.
    fn word_of(&mut self, pieces: &[&str]) {
        let len: usize = pieces.iter().map(|p| p.len()).sum();
        if self.col + 1 + len > FOLD_WIDTH && self.col > 1 + self.name_len {
            self.out.push_str("\r\n\t");
            self.col = 1;
        } else {
            self.out.push(' ');
            self.col += 1;
        }
        for p in pieces {
            self.out.push_str(p);
        }
        self.col += len;
    }

    fn finish(mut self) -> String {
        self.out.push_str("\r\n");
        self.out
    }
}

/// The text with controls and blanks replaced by `?`, so that it cannot break the
/// header. The SMTP parser admits none of them in a domain or a path; this is a second
/// fence, so the text is borrowed as it is unless it has one.
fn printable(s: &str) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() || c.is_whitespace();
    // Visible ASCII, the usual host name or id, is settled without decoding characters.
    if s.bytes().all(|b| b.is_ascii_graphic()) || !s.contains(bad) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().map(|c| if bad(c) { '?' } else { c }).collect())
}

/// `Message-ID:` and `Date:` fields for a submission that lacks them (RFC 6409 §8.2,
/// §8.3: a submission server may add them; a relay must not touch the message).
pub fn submission_fields(
    info: &HeaderInfo,
    id: &str,
    hostname: &str,
    date: DateTime<Utc>,
) -> String {
    let mut out = String::new();
    if info.message_id.is_none() {
        let _ = write!(out, "Message-ID: <{id}@{}>\r\n", printable(hostname));
    }
    if !info.has_date {
        let _ = write!(out, "Date: {}\r\n", date.to_rfc2822());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn trace<'a>(helo: &'a str, rcpt: Option<&'a str>) -> Trace<'a> {
        Trace {
            helo,
            ip: "::ffff:192.0.2.7".parse().unwrap(),
            hostname: "mx.example.org",
            protocol: protocol(true, true, false),
            id: "18F00AB0001",
            recipient: rcpt,
            date: Utc.with_ymd_and_hms(2026, 11, 23, 13, 40, 16).unwrap(),
        }
    }

    #[test]
    fn received_field() {
        let h = received_header(&trace("client.example", Some("a@localhost")));
        assert_eq!(
            h,
            "Received: from client.example ([192.0.2.7]) by mx.example.org (postern) with\r\n\
             \tESMTPS id 18F00AB0001 for <a@localhost>; Mon, 23 Nov 2026 13:40:16 +0000\r\n"
        );
        let h = received_header(&trace("client.example", None));
        assert!(h.contains("id 18F00AB0001; Mon,"), "{h}");
        assert!(!h.contains("for <"), "{h}");
        for (ip, shown) in [
            ("10.0.255.99", "([10.0.255.99])"),
            ("0.9.10.100", "([0.9.10.100])"),
            ("2001:db8::1", "([IPv6:2001:db8::1])"),
        ] {
            let t = Trace {
                ip: ip.parse().unwrap(),
                ..trace("c.example", None)
            };
            let h = received_header(&t);
            assert!(h.contains(&format!("from c.example {shown} by")), "{h}");
        }
    }

    #[test]
    fn received_lines_are_short_and_safe() {
        let long = "a".repeat(60) + ".example";
        let h = received_header(&trace(
            &long,
            Some(&format!("{}@localhost", "b".repeat(60))),
        ));
        for line in h.split("\r\n") {
            // A single word may be longer; these are not.
            assert!(line.len() <= 78 || !line.trim().contains(' '), "{line:?}");
        }
        let h = received_header(&trace("evil\r\nX-Injected: 1", None));
        assert!(!h.contains("\r\nX-Injected"), "{h}");
        assert_eq!(h.matches("\r\n").count(), h.matches("\r\n\t").count() + 1);
    }

    #[test]
    fn protocols() {
        assert_eq!(protocol(false, true, true), "SMTP");
        assert_eq!(protocol(true, false, false), "ESMTP");
        assert_eq!(protocol(true, false, true), "ESMTPA");
        assert_eq!(protocol(true, true, true), "ESMTPSA");
    }

    #[test]
    fn inspects_headers() {
        let body = b"Received: a\r\nSubject: =?utf-8?q?h=C3=A9?=\r\nReceived: b\r\n\
                     Message-ID: <x@y>\r\nX-Priority: 1\r\n\r\nReceived: not a header\r\n";
        let i = inspect(body, None);
        assert_eq!(i.received, 2);
        assert_eq!(i.message_id.as_deref(), Some("x@y"));
        assert_eq!(i.subject.as_deref(), Some("hé"));
        assert!(!i.has_date);
        assert_eq!(i.priority, Priority::Urgent);
        assert_eq!(inspect(body, Some(-5)).priority, Priority::NonUrgent);
        assert_eq!(inspect(b"", None), HeaderInfo::default());
    }

    #[test]
    fn submission_fields_only_when_missing() {
        let date = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let i = inspect(b"Subject: x\r\n\r\n", None);
        let f = submission_fields(&i, "ID1", "h", date);
        assert_eq!(
            f,
            "Message-ID: <ID1@h>\r\nDate: Fri, 2 Jan 2026 03:04:05 +0000\r\n"
        );
        let i = inspect(b"Message-ID: <a@b>\r\nDate: x\r\n\r\n", None);
        assert_eq!(submission_fields(&i, "ID1", "h", date), "");
    }
}
