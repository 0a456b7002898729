//! SMTP replies: enhanced status codes, formatting with continuation lines, and a
//! streaming parser for replies that arrive in any chunking.

use std::collections::VecDeque;
use std::fmt;

use crate::limits::Limits;

/// An enhanced mail system status code (RFC 3463), `class.subject.detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// The subject, 0..=999.
    pub subject: u16,
    /// The detail, 0..=999.
    pub detail: u16,
}

impl EnhancedCode {
    /// Builds a code; used in `const` tables of replies.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        EnhancedCode {
            class,
            subject,
            detail,
        }
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// A complete reply: a three-digit code, an optional enhanced code, and text lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reply {
    /// The reply code, 200..=599.
    pub code: u16,
    /// The enhanced status code, when the server sent (or will send) one.
    pub enhanced: Option<EnhancedCode>,
    /// The text lines, without code, enhanced code or CRLF. At least one (maybe empty).
    pub lines: Vec<String>,
}

impl Reply {
    /// A reply whose text may hold several lines separated by `\n`.
    pub fn new(code: u16, enhanced: Option<EnhancedCode>, text: &str) -> Reply {
        let lines = text
            .split('\n')
            .map(|l| l.trim_end_matches('\r').to_owned())
            .collect();
        Reply {
            code,
            enhanced,
            lines,
        }
    }

    /// Appends the reply to `out`: `code-` continuation lines, `code ` on the last, the
    /// enhanced code on every line, text lines longer than the 512-octet reply limit
    /// wrapped at spaces.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut pieces: Vec<&str> = Vec::with_capacity(self.lines.len());
        for line in &self.lines {
            wrap_line(line, TEXT_WIDTH, &mut pieces);
        }
        if pieces.is_empty() {
            pieces.push("");
        }
        let last = pieces.len() - 1;
        for (i, piece) in pieces.iter().enumerate() {
            self.write_prefix(if i == last { b' ' } else { b'-' }, out);
            out.extend_from_slice(piece.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    /// Writes `250-` or `250 `, then the enhanced code and a space if there is one.
    fn write_prefix(&self, sep: u8, out: &mut Vec<u8>) {
        let code = self.code.min(999);
        out.extend_from_slice(&[
            b'0' + (code / 100) as u8,
            b'0' + (code / 10 % 10) as u8,
            b'0' + (code % 10) as u8,
            sep,
        ]);
        if let Some(e) = self.enhanced {
            use std::io::Write as _;
            let _ = write!(out, "{e} ");
        }
    }

    /// The text lines joined with `\n`.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }
    /// 3xx.
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }
    /// 4xx.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
    /// 5xx.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }
}

impl fmt::Display for Reply {
    /// One line per text line, as on the wire but without CRLF, joined with `\n`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        self.write_to(&mut out);
        let text = String::from_utf8_lossy(&out);
        f.write_str(text.trim_end_matches("\r\n").replace("\r\n", "\n").as_str())
    }
}

/// Longest text per reply line: 512 octets minus code, separator, an enhanced code of up
/// to 11 octets with its space, and the CRLF.
const TEXT_WIDTH: usize = 512 - 4 - 12 - 2;

/// Splits `line` into pieces of at most `width` octets, at spaces where possible and at
/// character boundaries otherwise.
fn wrap_line<'a>(mut line: &'a str, width: usize, out: &mut Vec<&'a str>) {
    while line.len() > width {
        let mut cut = width;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        let at = line[..cut].rfind(' ').filter(|&i| i > 0).unwrap_or(cut);
        out.push(&line[..at]);
        line = line[at..].strip_prefix(' ').unwrap_or(&line[at..]);
    }
    out.push(line);
}

impl std::str::FromStr for Reply {
    type Err = ReplyError;

    /// Parses one reply as a server writes it, with [`ReplyParser`]'s rules and default
    /// limits: `"550 5.1.1 no such user"`, or several lines joined by CRLF (or LF). The
    /// final line break is optional; anything after the reply is an error.
    ///
    /// ```
    /// use postern_smtp::Reply;
    /// let r: Reply = "550 5.1.1 no such user".parse().unwrap();
    /// assert_eq!((r.code, r.text()), (550, "no such user".to_owned()));
    /// assert_eq!(r.enhanced.unwrap().to_string(), "5.1.1");
    /// assert!("hello".parse::<Reply>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Reply, ReplyError> {
        let mut parser = ReplyParser::new(&Limits::default());
        parser.feed(s.as_bytes());
        if !s.ends_with('\n') {
            parser.feed(b"\r\n");
        }
        let reply = parser.next_reply().ok_or(ReplyError::Malformed)??;
        if parser.next_reply().is_some() || parser.buffered() > 0 {
            return Err(ReplyError::Malformed);
        }
        Ok(reply)
    }
}

/// Why a reply could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// A line does not start with three digits and a space or hyphen.
    #[error("malformed reply line")]
    Malformed,
    /// The lines of one multi-line reply carry different codes.
    #[error("inconsistent codes in a multi-line reply")]
    InconsistentCode,
    /// A line exceeds [`Limits::max_reply_line`].
    #[error("reply line too long (limit {limit} octets)")]
    LineTooLong {
        /// The limit.
        limit: usize,
    },
    /// A reply has more than [`Limits::max_reply_lines`] lines.
    #[error("too many lines in one reply (limit {limit})")]
    TooManyLines {
        /// The limit.
        limit: usize,
    },
}

/// Reassembles replies from bytes that arrive in any chunking.
///
/// Feed bytes with [`ReplyParser::feed`], then call [`ReplyParser::next_reply`] until it
/// returns `None`. After an error the parser skips to the next line, so a client can
/// report it and close.
///
/// Lines may end with CRLF or, leniently, a bare LF. A line is `code SP text`,
/// `code - text` (more lines follow) or a bare `code`. An enhanced status code (RFC 3463)
/// at the start of the text is moved to [`Reply::enhanced`] when its class matches the
/// reply code, and stripped from every line that carries the same code.
///
/// Memory: the reply being assembled holds at most [`Limits::max_reply_lines`] lines of
/// at most [`Limits::max_reply_line`] octets; a longer line is dropped as it arrives
/// (reported as [`ReplyError::LineTooLong`]). Complete replies wait in a queue until
/// drained, so drain after every `feed`.
///
/// ```
/// use postern_smtp::{Limits, ReplyParser};
/// let mut p = ReplyParser::new(&Limits::default());
/// p.feed(b"250-mx.example.org\r\n250-SIZE 1000\r\n25");
/// assert!(p.next_reply().is_none());
/// p.feed(b"0 2.0.0 OK\r\n");
/// let reply = p.next_reply().unwrap().unwrap();
/// assert_eq!(reply.code, 250);
/// assert_eq!(reply.enhanced.unwrap().to_string(), "2.0.0");
/// assert_eq!(reply.lines, ["mx.example.org", "SIZE 1000", "OK"]);
/// ```
#[derive(Debug, Clone)]
pub struct ReplyParser {
    /// Longest line, counting its line ending.
    max_line: usize,
    /// Most lines in one reply.
    max_lines: usize,
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// The rest of the current line is dropped (it was too long).
    skip_line: bool,
    /// Lines are dropped up to the last line of the current reply (it had too many).
    skip_reply: bool,
    /// The reply being assembled: its code and text lines.
    code: u16,
    lines: Vec<String>,
    /// Octets of the lines in `lines`, with their line endings.
    pending: usize,
    /// Complete replies and errors, oldest first.
    ready: VecDeque<Result<Reply, ReplyError>>,
}

impl ReplyParser {
    /// A parser enforcing `limits.max_reply_line` and `limits.max_reply_lines`.
    pub fn new(limits: &Limits) -> Self {
        ReplyParser {
            max_line: limits.max_reply_line,
            max_lines: limits.max_reply_lines,
            partial: Vec::new(),
            skip_line: false,
            skip_reply: false,
            code: 0,
            lines: Vec::new(),
            pending: 0,
            ready: VecDeque::new(),
        }
    }

    /// Adds received bytes.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let lf = memchr::memchr(b'\n', bytes);
            let (piece, rest) = match lf {
                Some(i) => (&bytes[..i], &bytes[i + 1..]),
                None => (bytes, &[][..]),
            };
            bytes = rest;
            if self.skip_line {
                self.skip_line = lf.is_none();
                continue;
            }
            // With its LF the line must fit; without one yet, it must leave room for it.
            let len = self.partial.len() + piece.len() + 1;
            if len > self.max_line {
                self.partial.clear();
                self.skip_line = lf.is_none();
                self.fail(ReplyError::LineTooLong {
                    limit: self.max_line,
                });
                continue;
            }
            match lf {
                None => self.partial.extend_from_slice(piece),
                Some(_) if self.partial.is_empty() => self.line(piece),
                Some(_) => {
                    let mut line = std::mem::take(&mut self.partial);
                    line.extend_from_slice(piece);
                    self.line(&line);
                    line.clear();
                    self.partial = line;
                }
            }
        }
    }

    /// The next complete reply, if one has arrived.
    pub fn next_reply(&mut self) -> Option<Result<Reply, ReplyError>> {
        self.ready.pop_front()
    }

    /// Bytes buffered that do not yet form a complete reply.
    pub fn buffered(&self) -> usize {
        self.pending + self.partial.len()
    }

    /// Handles one complete line, without its LF.
    fn line(&mut self, raw: &[u8]) {
        let octets = raw.len() + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let parsed = parse_line(raw);
        if self.skip_reply {
            // Resynchronise after the last line of the oversized reply.
            self.skip_reply = matches!(parsed, Ok((_, true, _)));
            return;
        }
        let (code, more, text) = match parsed {
            Ok(line) => line,
            Err(e) => return self.fail(e),
        };
        if !self.lines.is_empty() && code != self.code {
            return self.fail(ReplyError::InconsistentCode);
        }
        if self.lines.len() == self.max_lines {
            self.fail(ReplyError::TooManyLines {
                limit: self.max_lines,
            });
            self.skip_reply = more;
            return;
        }
        self.code = code;
        self.lines.push(String::from_utf8_lossy(text).into_owned());
        self.pending += octets;
        if !more {
            let lines = std::mem::take(&mut self.lines);
            self.pending = 0;
            self.ready.push_back(Ok(reply_from_lines(code, lines)));
        }
    }

    /// Reports `error` and drops the reply being assembled.
    fn fail(&mut self, error: ReplyError) {
        self.lines.clear();
        self.pending = 0;
        self.ready.push_back(Err(error));
    }
}

/// Splits a reply line (without line ending) into code, "more lines follow", and text.
fn parse_line(raw: &[u8]) -> Result<(u16, bool, &[u8]), ReplyError> {
    let code = match raw {
        [a @ b'2'..=b'5', b @ b'0'..=b'9', c @ b'0'..=b'9', ..] => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return Err(ReplyError::Malformed),
    };
    match raw.get(3) {
        None => Ok((code, false, &[])),
        Some(b' ') => Ok((code, false, &raw[4..])),
        Some(b'-') => Ok((code, true, &raw[4..])),
        Some(_) => Err(ReplyError::Malformed),
    }
}

/// Builds a reply, moving an enhanced status code out of the text: the first one whose
/// class matches the reply code is taken, and removed from every line that starts with it.
fn reply_from_lines(code: u16, mut lines: Vec<String>) -> Reply {
    let class = (code / 100) as u8;
    let enhanced = lines
        .iter()
        .filter_map(|l| parse_enhanced(l))
        .map(|(e, _)| e)
        .find(|e| e.class == class);
    if let Some(e) = enhanced {
        for line in &mut lines {
            if let Some((found, len)) = parse_enhanced(line) {
                if found == e {
                    line.drain(..len);
                }
            }
        }
    }
    Reply {
        code,
        enhanced,
        lines,
    }
}

/// An enhanced status code at the start of `text`, followed by a space or the end, and
/// how many octets to strip for it (the code and one space).
fn parse_enhanced(text: &str) -> Option<(EnhancedCode, usize)> {
    let b = text.as_bytes();
    let class = match b.first()? {
        c @ (b'2' | b'4' | b'5') => c - b'0',
        _ => return None,
    };
    if b.get(1) != Some(&b'.') {
        return None;
    }
    let (subject, i) = number(b, 2)?;
    if b.get(i) != Some(&b'.') {
        return None;
    }
    let (detail, end) = number(b, i + 1)?;
    let strip = match b.get(end) {
        None => end,
        Some(b' ') => end + 1,
        Some(_) => return None,
    };
    Some((EnhancedCode::new(class, subject, detail), strip))
}

/// One to three digits at `b[at..]`: the value and the index after them.
fn number(b: &[u8], at: usize) -> Option<(u16, usize)> {
    let digits = b[at.min(b.len())..]
        .iter()
        .take(4)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if !(1..=3).contains(&digits) {
        return None;
    }
    let value = b[at..at + digits]
        .iter()
        .fold(0u16, |v, c| v * 10 + u16::from(c - b'0'));
    Some((value, at + digits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_multiline_with_enhanced_codes() {
        let r = Reply::new(250, Some(EnhancedCode::new(2, 1, 0)), "first\nsecond");
        let mut out = Vec::new();
        r.write_to(&mut out);
        assert_eq!(out, b"250-2.1.0 first\r\n250 2.1.0 second\r\n");
        assert_eq!(r.to_string(), "250-2.1.0 first\n250 2.1.0 second");
    }

    #[test]
    fn wraps_long_text_at_spaces_within_512_octets() {
        let text = "word ".repeat(300);
        let r = Reply::new(550, Some(EnhancedCode::new(5, 7, 1)), text.trim_end());
        let mut out = Vec::new();
        r.write_to(&mut out);
        let s = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = s.split_terminator("\r\n").collect();
        assert!(lines.len() > 2);
        for (i, l) in lines.iter().enumerate() {
            assert!(l.len() + 2 <= 512, "line {i} is {} octets", l.len());
            let sep = if i + 1 == lines.len() { " " } else { "-" };
            assert!(l.starts_with(&format!("550{sep}5.7.1 word")), "{l}");
        }
        let words: usize = lines.iter().map(|l| l[10..].split(' ').count()).sum();
        assert_eq!(words, 300);
    }

    #[test]
    fn wraps_unbroken_text_on_char_boundaries() {
        let text = "é".repeat(400);
        let r = Reply::new(250, None, &text);
        let mut out = Vec::new();
        r.write_to(&mut out);
        let s = String::from_utf8(out).expect("still UTF-8");
        assert_eq!(s.matches('é').count(), 400);
    }

    fn parse_all(limits: &Limits, input: &[u8], cuts: &[usize]) -> Vec<Result<Reply, ReplyError>> {
        let mut p = ReplyParser::new(limits);
        let mut out = Vec::new();
        let mut start = 0;
        for end in cuts
            .iter()
            .map(|&c| c.min(input.len()))
            .chain([input.len()])
        {
            if end < start {
                continue;
            }
            p.feed(&input[start..end]);
            assert!(p.buffered() <= limits.max_reply_line * (limits.max_reply_lines + 1));
            while let Some(r) = p.next_reply() {
                out.push(r);
            }
            start = end;
        }
        out
    }

    fn parse(input: &[u8]) -> Vec<Result<Reply, ReplyError>> {
        parse_all(&Limits::default(), input, &[])
    }

    fn small(line: usize, lines: usize) -> Limits {
        Limits {
            max_reply_line: line,
            max_reply_lines: lines,
            ..Limits::default()
        }
    }

    fn ok(code: u16, enhanced: Option<EnhancedCode>, lines: &[&str]) -> Result<Reply, ReplyError> {
        Ok(Reply {
            code,
            enhanced,
            lines: lines.iter().map(|l| l.to_string()).collect(),
        })
    }

    #[test]
    fn parses_single_and_multi_line_replies() {
        let input = b"220 mx.example.org ESMTP\r\n250-first\r\n250-\r\n250 last\r\n";
        assert_eq!(
            parse(input),
            [
                ok(220, None, &["mx.example.org ESMTP"]),
                ok(250, None, &["first", "", "last"]),
            ]
        );
    }

    #[test]
    fn accepts_lf_only_empty_text_and_no_text() {
        assert_eq!(
            parse(b"250 \n354\r\n221 bye\n"),
            [
                ok(250, None, &[""]),
                ok(354, None, &[""]),
                ok(221, None, &["bye"])
            ]
        );
    }

    #[test]
    fn extracts_enhanced_codes_from_every_line() {
        let e = Some(EnhancedCode::new(5, 7, 1));
        assert_eq!(
            parse(b"550-5.7.1 first\r\n550-second\r\n550 5.7.1 third\r\n"),
            [ok(550, e, &["first", "second", "third"])]
        );
        // A different code on a later line stays in the text.
        assert_eq!(
            parse(b"550-5.7.1 a\r\n550 5.1.1 b\r\n"),
            [ok(550, e, &["a", "5.1.1 b"])]
        );
        // The class must match the reply code, and the code must be followed by a space.
        assert_eq!(parse(b"250 5.0.0 odd\r\n"), [ok(250, None, &["5.0.0 odd"])]);
        assert_eq!(parse(b"250 2.0.0x\r\n"), [ok(250, None, &["2.0.0x"])]);
        assert_eq!(
            parse(b"250 2.0.1000 x\r\n"),
            [ok(250, None, &["2.0.1000 x"])]
        );
        assert_eq!(
            parse(b"250 2.0.0\r\n"),
            [ok(250, Some(EnhancedCode::new(2, 0, 0)), &[""])]
        );
        assert_eq!(
            parse(b"452 4.5.3 Too many\r\n"),
            [ok(452, Some(EnhancedCode::new(4, 5, 3)), &["Too many"])]
        );
    }

    #[test]
    fn same_result_byte_by_byte() {
        let input = b"250-mx\r\n250-2.0.0 a\r\n250 2.0.0 b\n354 go\r\n";
        let cuts: Vec<usize> = (1..input.len()).collect();
        assert_eq!(parse_all(&Limits::default(), input, &cuts), parse(input));
    }

    #[test]
    fn too_long_line_then_resync() {
        let l = small(20, 10);
        let mut input = b"250-ok\r\n250 ".to_vec();
        input.extend_from_slice(&[b'x'; 500]);
        input.extend_from_slice(b"\r\n250 fine\r\n");
        let expected = [
            Err(ReplyError::LineTooLong { limit: 20 }),
            ok(250, None, &["fine"]),
        ];
        assert_eq!(parse_all(&l, &input, &[]), expected);
        assert_eq!(parse_all(&l, &input, &[10, 30, 31, 300, 512]), expected);
        // A line of exactly the limit, CRLF included, is fine.
        let exact = b"250 0123456789abcd\r\n";
        assert_eq!(exact.len(), 20);
        assert_eq!(
            parse_all(&l, exact, &[5]),
            [ok(250, None, &["0123456789abcd"])]
        );
    }

    #[test]
    fn partial_line_never_exceeds_the_limit() {
        let l = small(64, 4);
        let mut p = ReplyParser::new(&l);
        for _ in 0..1000 {
            p.feed(&[b'9'; 100]);
            assert!(p.buffered() < 64);
        }
        assert_eq!(
            p.next_reply(),
            Some(Err(ReplyError::LineTooLong { limit: 64 }))
        );
        assert_eq!(p.next_reply(), None);
    }

    #[test]
    fn too_many_lines_then_resync_after_the_reply() {
        let l = small(100, 3);
        let input = b"250-a\r\n250-b\r\n250-c\r\n250-d\r\n250-e\r\n250 f\r\n221 bye\r\n";
        assert_eq!(
            parse_all(&l, input, &[]),
            [
                Err(ReplyError::TooManyLines { limit: 3 }),
                ok(221, None, &["bye"])
            ]
        );
        let just = b"250-a\r\n250-b\r\n250 c\r\n";
        assert_eq!(parse_all(&l, just, &[]), [ok(250, None, &["a", "b", "c"])]);
    }

    #[test]
    fn malformed_and_inconsistent_lines() {
        assert_eq!(
            parse(b"hello\r\n250 ok\r\n"),
            [Err(ReplyError::Malformed), ok(250, None, &["ok"])]
        );
        assert_eq!(parse(b"25\r\n")[0], Err(ReplyError::Malformed));
        assert_eq!(parse(b"250x\r\n")[0], Err(ReplyError::Malformed));
        assert_eq!(parse(b"650 no\r\n")[0], Err(ReplyError::Malformed));
        assert_eq!(
            parse(b"250-a\r\n251 b\r\n250 ok\r\n"),
            [Err(ReplyError::InconsistentCode), ok(250, None, &["ok"])]
        );
    }

    #[test]
    fn buffered_counts_incomplete_replies() {
        let mut p = ReplyParser::new(&Limits::default());
        p.feed(b"250-a\r\n250 b");
        assert_eq!(p.buffered(), 12);
        assert!(p.next_reply().is_none());
        p.feed(b"\r\n");
        assert_eq!(p.buffered(), 0);
        assert!(p.next_reply().is_some());
    }

    fn text_line() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[A-Za-z][A-Za-z0-9 .,:<>@=-]{0,40}"]
    }

    fn reply() -> impl Strategy<Value = Reply> {
        (
            200u16..600,
            any::<bool>(),
            0u16..1000,
            0u16..1000,
            prop::collection::vec(text_line(), 1..5),
        )
            .prop_map(|(code, with, subject, detail, lines)| Reply {
                code,
                // Enhanced codes exist for classes 2, 4 and 5 only.
                enhanced: (with && code / 100 != 3)
                    .then(|| EnhancedCode::new((code / 100) as u8, subject, detail)),
                lines,
            })
    }

    proptest! {
        #[test]
        fn formatted_replies_parse_back_in_any_chunking(
            replies in prop::collection::vec(reply(), 1..5),
            cuts in prop::collection::vec(0usize..1000, 0..10),
        ) {
            let mut wire = Vec::new();
            for r in &replies {
                r.write_to(&mut wire);
            }
            let mut cuts = cuts;
            cuts.sort_unstable();
            let expected: Vec<_> = replies.into_iter().map(Ok).collect();
            prop_assert_eq!(&parse_all(&Limits::default(), &wire, &cuts), &expected);
        }

        #[test]
        fn any_bytes_parse_the_same_in_any_chunking(
            input in prop::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'-'), Just(b' '), Just(b'2'),
                            b'0'..=b'9', any::<u8>()], 0..400),
            cuts in prop::collection::vec(0usize..400, 0..10),
            line in 0usize..40,
            lines in 0usize..5,
        ) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let l = small(line, lines);
            prop_assert_eq!(parse_all(&l, &input, &cuts), parse_all(&l, &input, &[]));
        }
    }
}

#[cfg(test)]
mod from_str_tests {
    use super::*;

    #[test]
    fn parses_one_reply_whole() {
        let r: Reply = "250-mx.example\r\n250 2.0.0 OK\r\n".parse().unwrap();
        assert_eq!(r.code, 250);
        assert_eq!(r.lines, ["mx.example", "OK"]);
        let r: Reply = "421".parse().unwrap();
        assert_eq!((r.code, r.enhanced), (421, None));
        let round: Reply = r.to_string().parse().unwrap();
        assert_eq!(round.code, 421);
    }

    #[test]
    fn refuses_what_is_not_exactly_one_reply() {
        for bad in [
            "",
            "hello",
            "250-unfinished",
            "250 a\r\n251 b",
            "250 a\r\nrest",
        ] {
            assert!(bad.parse::<Reply>().is_err(), "{bad:?}");
        }
    }
}
