//! The log line: one event per line, tab-separated columns in the order of [`FIELDS`],
//! each value escaped (see [`crate::text`]), `-` for an absent value.
//!
//! Lines starting with `#` are directives (`#Software:`, `#Version:`, `#Date:`,
//! `#Fields:`, `#Dropped:`), as in W3C extended logs and Exchange's tracking logs.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::grammar;
use crate::text::{escape_into, unescape};
use crate::{Event, EventKind, Text, Timestamp};

/// The column names, in order, as written in the `#Fields:` header.
pub const FIELDS: [&str; 20] = [
    "date-time",
    "event-id",
    "event",
    "queue-id",
    "message-id",
    "sender",
    "recipients",
    "size",
    "priority",
    "subject",
    "connector",
    "remote-host",
    "remote-ip",
    "tls",
    "attempt",
    "dsn-status",
    "reply",
    "next-retry",
    "reason",
    "related-queue-id",
];

/// Column positions used by the scanners and the index.
pub(crate) mod col {
    pub const TIME: usize = 0;
    pub const EVENT: usize = 2;
    pub const QUEUE_ID: usize = 3;
    pub const MESSAGE_ID: usize = 4;
    pub const SENDER: usize = 5;
    pub const RECIPIENTS: usize = 6;
    pub const RELATED: usize = 19;
}

/// What was wrong with a log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The line has fewer columns than [`FIELDS`].
    #[error("expected {expected} tab-separated columns, found {found}")]
    Columns {
        /// Columns required.
        expected: usize,
        /// Columns present.
        found: usize,
    },
    /// A column's value is malformed.
    #[error("bad value in column `{column}`")]
    BadValue {
        /// The column name (from [`FIELDS`]).
        column: &'static str,
    },
    /// The `event` column names no known kind.
    #[error("unknown event kind")]
    UnknownKind,
    /// A required column is `-`.
    #[error("column `{column}` must not be empty")]
    Missing {
        /// The column name.
        column: &'static str,
    },
}

/// Appends `event` as one line, with its terminating `\n`.
pub fn format_line(event: &Event, out: &mut Vec<u8>) {
    event.time.write_to(out);
    out.push(b'\t');
    match event.kind.exchange_number() {
        Some(n) => push_u64(out, u64::from(n)),
        None => out.push(b'-'),
    }
    out.push(b'\t');
    out.extend_from_slice(event.kind.name().as_bytes());
    out.push(b'\t');
    opt_text(out, &event.queue_id);
    opt_text(out, &event.message_id);
    opt_text(out, &event.sender);
    if event.recipients.is_empty() {
        out.push(b'-');
    }
    for (i, r) in event.recipients.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        escape_into(r.as_bytes(), true, out);
    }
    out.push(b'\t');
    opt_num(out, event.size);
    opt_text(out, &event.priority);
    opt_text(out, &event.subject);
    opt_text(out, &event.connector);
    opt_text(out, &event.remote_host);
    match event.remote_ip {
        // By hand: `Display` for an IPv4 address goes through the formatter per octet.
        Some(IpAddr::V4(ip)) => {
            for (i, octet) in ip.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_u64(out, u64::from(octet));
            }
        }
        Some(ip) => {
            use std::io::Write;
            let _ = write!(out, "{ip}");
        }
        None => out.push(b'-'),
    }
    out.push(b'\t');
    opt_text(out, &event.tls);
    opt_num(out, event.attempt.map(u64::from));
    opt_text(out, &event.dsn_status);
    opt_text(out, &event.reply);
    match event.next_retry {
        Some(t) => t.write_to(out),
        None => out.push(b'-'),
    }
    out.push(b'\t');
    opt_text(out, &event.reason);
    match &event.related_queue_id {
        Some(t) => escape_into(t.as_bytes(), false, out),
        None => out.push(b'-'),
    }
    out.push(b'\n');
}

fn opt_text(out: &mut Vec<u8>, v: &Option<Text>) {
    match v {
        Some(t) => escape_into(t.as_bytes(), false, out),
        None => out.push(b'-'),
    }
    out.push(b'\t');
}

fn opt_num(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(n) => push_u64(out, n),
        None => out.push(b'-'),
    }
    out.push(b'\t');
}

fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// A line split into its raw (still escaped) columns, without decoding anything: what the
/// scanners use to test a filter before paying for a full parse.
#[derive(Debug, Clone, Copy)]
pub struct LineView<'a> {
    cols: [&'a [u8]; FIELDS.len()],
}

impl<'a> LineView<'a> {
    /// Splits `line` (without its `\n`; a trailing `\r` is not removed) into columns.
    /// Extra columns beyond [`FIELDS`] are ignored, so newer logs stay readable.
    pub fn split(line: &'a [u8]) -> Result<LineView<'a>, ParseError> {
        let cols = grammar::columns(line).map_err(|found| ParseError::Columns {
            expected: FIELDS.len(),
            found,
        })?;
        Ok(LineView { cols })
    }

    /// The raw (escaped) bytes of column `i` (see [`FIELDS`]).
    pub fn raw(&self, i: usize) -> &'a [u8] {
        self.cols[i]
    }

    /// Column `i` decoded; `None` when absent (`-`).
    pub fn text(&self, i: usize) -> Result<Option<Cow<'a, [u8]>>, ParseError> {
        let raw = self.cols[i];
        if raw == b"-" {
            return Ok(None);
        }
        unescape(raw)
            .map(Some)
            .map_err(|_| ParseError::BadValue { column: FIELDS[i] })
    }

    /// The event time.
    pub fn time(&self) -> Result<Timestamp, ParseError> {
        Timestamp::parse(self.cols[col::TIME]).ok_or(ParseError::BadValue {
            column: FIELDS[col::TIME],
        })
    }

    /// The event kind.
    pub fn kind(&self) -> Result<EventKind, ParseError> {
        EventKind::from_name(self.cols[col::EVENT]).ok_or(ParseError::UnknownKind)
    }

    /// Calls `f` with each decoded recipient until it returns `true`; returns whether one did.
    pub fn any_recipient(&self, mut f: impl FnMut(&[u8]) -> bool) -> Result<bool, ParseError> {
        let raw = self.cols[col::RECIPIENTS];
        if raw == b"-" {
            return Ok(false);
        }
        for item in grammar::list_items(raw) {
            let v = unescape(item).map_err(|_| ParseError::BadValue {
                column: "recipients",
            })?;
            if f(&v) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Decodes the whole event.
    pub fn event(&self) -> Result<Event, ParseError> {
        let mut ev = Event::new(self.time()?, self.kind()?);
        let t = |i| self.text(i).map(|v| v.map(|c| Text::from(c.into_owned())));
        ev.queue_id = t(3)?;
        ev.message_id = t(4)?;
        ev.sender = t(5)?;
        if self.cols[col::RECIPIENTS] != b"-" {
            for item in grammar::list_items(self.cols[col::RECIPIENTS]) {
                let v = unescape(item).map_err(|_| ParseError::BadValue {
                    column: "recipients",
                })?;
                ev.recipients.push(Text::from(v.into_owned()));
            }
        }
        ev.size = self.number(7)?;
        ev.priority = t(8)?;
        ev.subject = t(9)?;
        ev.connector = t(10)?;
        ev.remote_host = t(11)?;
        ev.remote_ip = self.parsed(12, |s| std::str::from_utf8(s).ok()?.parse::<IpAddr>().ok())?;
        ev.tls = t(13)?;
        ev.attempt = self
            .number(14)?
            .map(u32::try_from)
            .transpose()
            .map_err(|_| ParseError::BadValue { column: FIELDS[14] })?;
        ev.dsn_status = t(15)?;
        ev.reply = t(16)?;
        ev.next_retry = self.parsed(17, Timestamp::parse)?;
        ev.reason = t(18)?;
        ev.related_queue_id = t(19)?;
        Ok(ev)
    }

    fn number(&self, i: usize) -> Result<Option<u64>, ParseError> {
        self.parsed(i, grammar::count)
    }

    fn parsed<T>(
        &self,
        i: usize,
        f: impl FnOnce(&[u8]) -> Option<T>,
    ) -> Result<Option<T>, ParseError> {
        match self.cols[i] {
            b"-" => Ok(None),
            raw => f(raw)
                .map(Some)
                .ok_or(ParseError::BadValue { column: FIELDS[i] }),
        }
    }
}

/// Parses one line (without its `\n`) into an [`Event`].
pub fn parse_line(line: &[u8]) -> Result<Event, ParseError> {
    LineView::split(line)?.event()
}

/// The header written at the top of each new daily file.
pub(crate) fn header(now: Timestamp, out: &mut Vec<u8>) {
    out.extend_from_slice(b"#Software: postern-track ");
    out.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
    out.extend_from_slice(b"\n#Version: 1.0\n#Date: ");
    now.write_to(out);
    out.extend_from_slice(b"\n#Fields: ");
    out.extend_from_slice(FIELDS.join("\t").as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s.as_bytes()).unwrap()
    }

    /// The hand-written splitters the nom grammar replaced, kept as the oracle of the
    /// differential property tests below.
    mod by_hand {
        use super::super::*;

        pub fn split(line: &[u8]) -> Result<LineView<'_>, ParseError> {
            let mut cols: [&[u8]; FIELDS.len()] = [&[]; FIELDS.len()];
            let mut rest = line;
            for (i, slot) in cols.iter_mut().enumerate() {
                match memchr::memchr(b'\t', rest) {
                    Some(p) => {
                        *slot = &rest[..p];
                        rest = &rest[p + 1..];
                    }
                    None if i == FIELDS.len() - 1 => {
                        *slot = rest;
                        rest = &[];
                    }
                    None => {
                        return Err(ParseError::Columns {
                            expected: FIELDS.len(),
                            found: i + 1,
                        });
                    }
                }
            }
            let _ = rest;
            Ok(LineView { cols })
        }

        pub fn split_list(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
            let mut rest = Some(raw);
            std::iter::from_fn(move || {
                let s = rest?;
                let mut i = 0;
                while i < s.len() {
                    match s[i] {
                        b'\\' => i += 2,
                        b',' => {
                            rest = Some(&s[i + 1..]);
                            return Some(&s[..i]);
                        }
                        _ => i += 1,
                    }
                }
                rest = None;
                Some(s)
            })
        }

        pub fn number(s: &[u8]) -> Option<u64> {
            if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(s).ok()?.parse().ok()
        }

        fn list(v: &LineView<'_>) -> Result<Vec<Text>, ParseError> {
            let raw = v.raw(col::RECIPIENTS);
            if raw == b"-" {
                return Ok(Vec::new());
            }
            split_list(raw)
                .map(|item| {
                    unescape(item)
                        .map(|c| Text::from(c.into_owned()))
                        .map_err(|_| ParseError::BadValue {
                            column: "recipients",
                        })
                })
                .collect()
        }

        fn num(v: &LineView<'_>, i: usize) -> Result<Option<u64>, ParseError> {
            match v.raw(i) {
                b"-" => Ok(None),
                raw => number(raw)
                    .map(Some)
                    .ok_or(ParseError::BadValue { column: FIELDS[i] }),
            }
        }

        /// The old `parse_line`: the old split and list and number parsers, and the
        /// column decoders that did not change.
        pub fn parse_line(line: &[u8]) -> Result<Event, ParseError> {
            let v = split(line)?;
            let mut ev = Event::new(v.time()?, v.kind()?);
            let t = |i| v.text(i).map(|c| c.map(|c| Text::from(c.into_owned())));
            ev.queue_id = t(3)?;
            ev.message_id = t(4)?;
            ev.sender = t(5)?;
            ev.recipients = list(&v)?;
            ev.size = num(&v, 7)?;
            ev.priority = t(8)?;
            ev.subject = t(9)?;
            ev.connector = t(10)?;
            ev.remote_host = t(11)?;
            ev.remote_ip = v.parsed(12, |s| std::str::from_utf8(s).ok()?.parse::<IpAddr>().ok())?;
            ev.tls = t(13)?;
            ev.attempt = num(&v, 14)?
                .map(u32::try_from)
                .transpose()
                .map_err(|_| ParseError::BadValue { column: FIELDS[14] })?;
            ev.dsn_status = t(15)?;
            ev.reply = t(16)?;
            ev.next_retry = v.parsed(17, Timestamp::parse)?;
            ev.reason = t(18)?;
            ev.related_queue_id = t(19)?;
            Ok(ev)
        }
    }

    /// Pieces of the line grammar, so near-lines abound.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"-".to_vec()),
            Just(b",".to_vec()),
            Just(b"\\".to_vec()),
            Just(b"\\,".to_vec()),
            Just(b"\\e".to_vec()),
            Just(b"\\x4".to_vec()),
            Just(b"\\x41".to_vec()),
            Just(b"0".to_vec()),
            Just(b"42".to_vec()),
            Just(b"4294967296".to_vec()),
            Just(b"18446744073709551615".to_vec()),
            Just(b"18446744073709551616".to_vec()),
            Just(b"000000000000000000001".to_vec()),
            Just(b"2026-11-23T10:00:00.000Z".to_vec()),
            Just(b"sent".to_vec()),
            Just(b"1012".to_vec()),
            Just(b"192.0.2.1".to_vec()),
            Just(b"::1".to_vec()),
            Just(b"a@b".to_vec()),
            Just("\u{e9}".as_bytes().to_vec()),
            proptest::collection::vec(any::<u8>(), 0..3),
        ]
    }

    /// A column of pieces (tabs only where the pieces' random bytes put them).
    fn column() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => Just(b"-".to_vec()),
            1 => proptest::collection::vec(piece(), 0..4).prop_map(|p| p.concat()),
        ]
    }

    /// 15 to 23 columns, the first three usually valid so the parse gets deep.
    fn line_like() -> impl Strategy<Value = Vec<u8>> {
        let head = prop_oneof![
            3 => Just(b"2026-11-23T10:00:00.000Z\t-\tsent".to_vec()),
            1 => (column(), column(), column()).prop_map(|(a, b, c)| [a, b, c].join(&b'\t')),
        ];
        (head, proptest::collection::vec(column(), 12..20)).prop_map(|(h, cols)| {
            let mut line = h;
            for c in cols {
                line.push(b'\t');
                line.extend_from_slice(&c);
            }
            line
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn nom_line_agrees_with_the_hand_written_one(line in line_like()) {
            prop_assert_eq!(parse_line(&line), by_hand::parse_line(&line));
            let (new, old) = (LineView::split(&line), by_hand::split(&line));
            match (&new, &old) {
                (Ok(n), Ok(o)) => prop_assert_eq!(n.cols, o.cols),
                _ => prop_assert_eq!(new.err(), old.err()),
            }
        }

        #[test]
        fn nom_line_agrees_on_any_bytes(line in proptest::collection::vec(any::<u8>(), 0..120)) {
            prop_assert_eq!(parse_line(&line), by_hand::parse_line(&line));
        }

        #[test]
        fn nom_list_and_count_agree(raw in proptest::collection::vec(piece(), 0..6).prop_map(|p| p.concat())) {
            let new: Vec<&[u8]> = grammar::list_items(&raw).collect();
            let old: Vec<&[u8]> = by_hand::split_list(&raw).collect();
            prop_assert_eq!(new, old);
            prop_assert_eq!(grammar::count(&raw), by_hand::number(&raw));
        }
    }

    #[test]
    fn column_count_errors_name_the_columns_found() {
        for tabs in 0..FIELDS.len() {
            let line = vec![b'\t'; tabs];
            assert_eq!(
                LineView::split(&line).err(),
                (tabs < FIELDS.len() - 1).then_some(ParseError::Columns {
                    expected: FIELDS.len(),
                    found: tabs + 1,
                })
            );
        }
    }

    #[test]
    fn minimal_line() {
        let ev = Event::new(t("2026-11-23T10:00:00Z"), EventKind::ConnectionRejected);
        let mut out = Vec::new();
        format_line(&ev, &mut out);
        assert_eq!(
            out,
            b"2026-11-23T10:00:00.000Z\t-\tconnection-rejected\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\n"
        );
        assert_eq!(parse_line(&out[..out.len() - 1]).unwrap(), ev);
    }

    #[test]
    fn numbers_written() {
        let ev = Event::new(t("2026-11-23T10:00:00Z"), EventKind::Received)
            .size(42)
            .attempt(3);
        let mut out = Vec::new();
        format_line(&ev, &mut out);
        let s = String::from_utf8(out).unwrap();
        assert!(
            s.starts_with("2026-11-23T10:00:00.000Z\t1012\treceived\t"),
            "{s}"
        );
        assert!(s.contains("\t42\t"));
    }

    #[test]
    fn recipients_with_commas_and_empties() {
        let ev = Event::new(t("2026-11-23T10:00:00Z"), EventKind::Sent)
            .recipient("\"a,b\"@x")
            .recipient("")
            .recipient("-")
            .recipient("c@d");
        let mut out = Vec::new();
        format_line(&ev, &mut out);
        assert_eq!(parse_line(out.strip_suffix(b"\n").unwrap()).unwrap(), ev);
    }

    #[test]
    fn malformed_lines() {
        assert!(matches!(parse_line(b""), Err(ParseError::Columns { .. })));
        assert!(matches!(
            parse_line(b"2026-11-23T10:00:00.000Z\t-\tsent"),
            Err(ParseError::Columns { found: 3, .. })
        ));
        let good =
            "2026-11-23T10:00:00.000Z\t-\tsent\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-";
        assert!(parse_line(good.as_bytes()).is_ok());
        let bad_kind = good.replace("sent", "zapped");
        assert_eq!(
            parse_line(bad_kind.as_bytes()),
            Err(ParseError::UnknownKind)
        );
        let bad_time = good.replace("10:00", "25:00");
        assert_eq!(
            parse_line(bad_time.as_bytes()),
            Err(ParseError::BadValue {
                column: "date-time"
            })
        );
        let bad_size = good.replacen("\t-\t-\t-\t-\t-", "\t-\t-\t-\t-\tx", 1);
        assert!(parse_line(bad_size.as_bytes()).is_err());
        let extra = format!("{good}\tfuture-column");
        assert!(parse_line(extra.as_bytes()).is_ok());
    }

    #[test]
    fn attempt_overflow_is_an_error() {
        let mut out = Vec::new();
        format_line(
            &Event::new(t("2026-11-23T10:00:00Z"), EventKind::Deferred).attempt(1),
            &mut out,
        );
        let s = String::from_utf8(out)
            .unwrap()
            .replace("\t1\t", "\t99999999999\t");
        assert!(parse_line(s.trim_end().as_bytes()).is_err());
    }
}
