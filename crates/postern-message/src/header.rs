//! Header fields: the raw bytes of each field, and its decoded value on demand.
//!
//! The header block is split the way Python's `email` package and most readers do:
//! - a field starts with a name of printable ASCII (no space, no `:`) followed by `:`;
//!   spaces or tabs between the name and the colon are accepted (RFC 5322 obsolete syntax);
//! - a line starting with a space or tab continues the previous field (a whitespace-only
//!   line is a continuation, not the end of the header block);
//! - an empty line ends the block; so does any line that is not a field (it is then the
//!   first line of the body);
//! - a leading `From ` line (mbox envelope) and any `From ` line inside the block are
//!   skipped, as is a line starting with `:` (no name) and its continuations;
//! - lines end with LF or CRLF (any number of CRs before the LF: `\r\r\n` from a broken
//!   line-ending conversion is one line break, so such a blank line still ends the block).
//!
//! Values keep their raw bytes (8-bit and UTF-8 included). [`Header::value`] unfolds
//! (drops the line breaks, keeps the whitespace after them), decodes RFC 2047 words, and
//! decodes raw 8-bit bytes as UTF-8 when valid, else windows-1252.

use std::borrow::Cow;

use crate::address::{self, AddressList};
use crate::date;
use crate::encoded_word;
use crate::lexical;
use crate::limits::Limits;
use crate::msgid;

/// One header field, borrowing from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    name: &'a [u8],
    /// `name` as text (empty when it is not UTF-8), found once when the field is made.
    name_text: &'a str,
    raw: &'a [u8],
}

impl<'a> Header<'a> {
    /// Makes a header from a name and a raw value (used by tests and tools).
    pub fn new(name: &'a [u8], raw: &'a [u8]) -> Self {
        Header {
            name,
            name_text: std::str::from_utf8(name).unwrap_or(""),
            raw,
        }
    }

    /// The field name as written (printable ASCII).
    pub fn name(&self) -> &'a str {
        self.name_text
    }

    /// Whether the name matches `name`, ignoring ASCII case.
    #[inline]
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }

    /// The raw value: the bytes after the colon (leading blanks skipped) up to the end of
    /// the last continuation line, line breaks included, final line break excluded.
    pub fn raw_value(&self) -> &'a [u8] {
        self.raw
    }

    /// The value unfolded (line breaks removed) and trimmed, still as raw bytes.
    pub fn unfolded(&self) -> Cow<'a, [u8]> {
        unfold(self.raw)
    }

    /// The decoded value: unfolded, trimmed, RFC 2047 words decoded, 8-bit bytes decoded
    /// as UTF-8 when valid else windows-1252.
    pub fn value(&self) -> Cow<'a, str> {
        let trimmed = self.raw.trim_ascii();
        // One scan for the usual value: no folding and no `=` (so no encoded word).
        if lexical::find3(b'\n', b'\r', b'=', trimmed).is_none() {
            return crate::charset::decode_lenient(trimmed);
        }
        match unfold(self.raw) {
            Cow::Borrowed(b) => encoded_word::decode(b),
            // The unfolded copy becomes the value itself when there is nothing to decode.
            Cow::Owned(b) => Cow::Owned(encoded_word::decode_owned(b)),
        }
    }

    /// The value parsed as an RFC 5322 address list (From, To, Cc, …).
    pub fn addresses(&self) -> AddressList<'a> {
        address::parse_list(self.raw)
    }

    /// The value parsed as an RFC 5322 date (Date, Resent-Date).
    pub fn date(&self) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        date::parse(self.raw)
    }

    /// The message ids in the value (Message-ID, References, In-Reply-To), without `<>`.
    pub fn message_ids(&self) -> Vec<Cow<'a, str>> {
        msgid::parse_list(self.raw)
    }
}

/// Removes line breaks (keeping the whitespace that follows them) and trims the ends.
pub fn unfold(raw: &[u8]) -> Cow<'_, [u8]> {
    let raw = raw.trim_ascii();
    if lexical::find2(b'\n', b'\r', raw).is_none() {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = lexical::find2(b'\n', b'\r', rest) {
        out.extend_from_slice(&rest[..i]);
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    Cow::Owned(out)
}

/// Where a header block ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockEnd {
    /// Offset of the first body byte.
    pub body_start: usize,
    /// Whether the block was cut by [`Limits::max_header_block`] or had fields dropped by
    /// [`Limits::max_headers`].
    pub limited: bool,
}

/// Parses the header block of `input[start..end]`, appending fields to `out`.
/// `is_boundary` is asked about every line starting with `--`: a MIME boundary of an
/// enclosing multipart ends the block (and the part) there.
pub(crate) fn parse_block<'a>(
    input: &'a [u8],
    start: usize,
    end: usize,
    limits: &Limits,
    is_boundary: impl Fn(usize) -> bool,
    out: &mut Vec<Header<'a>>,
) -> BlockEnd {
    let first = out.len();
    let block_end = split_block(input, start, end, limits, is_boundary, out);
    // The names as text: one UTF-8 check of the whole block is cheaper than one per name
    // (names are ASCII, so they fall on character boundaries of a valid block).
    let block = &input[start..block_end.body_start];
    let text = std::str::from_utf8(block).ok();
    let base = block.as_ptr() as usize;
    for h in &mut out[first..] {
        let at = (h.name.as_ptr() as usize).wrapping_sub(base);
        h.name_text = match text.and_then(|t| t.get(at..at + h.name.len())) {
            Some(name) => name,
            None => std::str::from_utf8(h.name).unwrap_or(""),
        };
    }
    block_end
}

/// [`parse_block`] without the names' text.
fn split_block<'a>(
    input: &'a [u8],
    start: usize,
    end: usize,
    limits: &Limits,
    is_boundary: impl Fn(usize) -> bool,
    out: &mut Vec<Header<'a>>,
) -> BlockEnd {
    let first = out.len();
    let mut pos = start;
    // The field being continued: its index in `out` and the offset where its value starts.
    let mut current: Option<(usize, usize)> = None;
    let mut limited = false;
    while pos < end {
        if pos - start > limits.max_header_block {
            return BlockEnd {
                body_start: pos,
                limited: true,
            };
        }
        let eol = line_feed(&input[pos..end]).map_or(end, |i| pos + i);
        let next = (eol + 1).min(end);
        let line = &input[pos..eol];
        // CRs before the LF are line break (a doubled `\r\r\n` included).
        let line = &line[..line.len() - line.iter().rev().take_while(|&&c| c == b'\r').count()];
        if line.starts_with(b"--") && is_boundary(pos) {
            return BlockEnd {
                body_start: pos,
                limited,
            };
        }
        match line.first() {
            None => {
                return BlockEnd {
                    body_start: next,
                    limited,
                };
            }
            Some(b' ' | b'\t') => {
                if let Some((i, value_start)) = current {
                    out[i].raw = &input[value_start..pos + line.len()];
                }
            }
            Some(_) if line.starts_with(b"From ") => current = None,
            Some(_) => match field_name(line) {
                Some((name, value_at)) if !name.is_empty() => {
                    if out.len() - first >= limits.max_headers {
                        limited = true;
                        current = None;
                    } else {
                        let blanks = line[value_at..]
                            .iter()
                            .take_while(|&&b| b == b' ' || b == b'\t')
                            .count();
                        let v = pos + value_at + blanks;
                        let line_end = pos + line.len();
                        out.push(Header {
                            name,
                            name_text: "",
                            raw: &input[v..line_end],
                        });
                        current = Some((out.len() - 1, v));
                    }
                }
                Some(_) => current = None,
                None => {
                    return BlockEnd {
                        body_start: pos,
                        limited,
                    };
                }
            },
        }
        pos = next;
    }
    BlockEnd {
        body_start: end,
        limited,
    }
}

/// The offset of the first LF in `hay` (header lines are short: [`lexical::find1`]).
fn line_feed(hay: &[u8]) -> Option<usize> {
    lexical::find1(b'\n', hay)
}

/// Whether `b` may appear in a field name: printable ASCII other than `:`.
fn is_name_byte(b: u8) -> bool {
    (b'!'..=b'~').contains(&b) && b != b':'
}

/// The length of the run of name bytes ([`is_name_byte`]) at the start of `line`.
///
/// Eight bytes at a time: in each byte of the word, the high bit of `bad` is set when
/// that byte is not a name byte. Every sum below stays within its byte (each operand is
/// at most 0x7f), so no carry crosses into the next byte.
fn name_len(line: &[u8]) -> usize {
    const LO: u64 = u64::from_ne_bytes([0x01; 8]);
    const HI: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut i = 0;
    while let Some(word) = line.get(i..i + 8) {
        let x = u64::from_le_bytes(word.try_into().unwrap_or_default());
        let low7 = x & !HI;
        let at_least_21 = (low7 + 0x5f * LO) & HI;
        let is_7f = (low7 + LO) & HI;
        let not_colon = ((low7 ^ (b':' as u64 * LO)) + 0x7f * LO) & HI;
        let bad = (x & HI) | (at_least_21 ^ HI) | is_7f | (not_colon ^ HI);
        if bad != 0 {
            return i + (bad.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + line[i..]
        .iter()
        .position(|&b| !is_name_byte(b))
        .unwrap_or(line.len() - i)
}

/// Splits `Name:` off a line: the name and the offset just after the colon, or `None`
/// when the line is not a field.
fn field_name(line: &[u8]) -> Option<(&[u8], usize)> {
    let name_len = name_len(line);
    let name = &line[..name_len];
    let mut i = name_len;
    while i < line.len() && matches!(line[i], b' ' | b'\t') {
        i += 1;
    }
    (line.get(i) == Some(&b':')).then_some((name, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The word-at-a-time name scan stops where a byte-by-byte scan does, on any
        /// bytes (names, colons, blanks, controls, DEL, 8-bit) and at any length.
        #[test]
        fn name_len_matches_bytewise(
            line in proptest::collection::vec(
                prop_oneof![
                    4 => b'!'..=b'~',
                    1 => Just(b':'),
                    1 => Just(b' '),
                    1 => any::<u8>(),
                ],
                0..40,
            )
        ) {
            let bytewise = line.iter().position(|&b| !is_name_byte(b)).unwrap_or(line.len());
            prop_assert_eq!(name_len(&line), bytewise);
        }

        /// The line-feed search finds the first LF, as a byte-by-byte search does.
        #[test]
        fn line_feed_matches_bytewise(
            hay in proptest::collection::vec(
                prop_oneof![8 => any::<u8>(), 1 => Just(b'\n')],
                0..100,
            )
        ) {
            prop_assert_eq!(line_feed(&hay), hay.iter().position(|&b| b == b'\n'));
        }
    }

    #[test]
    fn name_scan_edges() {
        // Every byte value, alone and after eight name bytes (the word path, then the
        // byte path at the tail).
        for b in 0..=255u8 {
            let want = usize::from(is_name_byte(b));
            assert_eq!(name_len(&[b]), want, "{b:#x}");
            let mut long = b"Received".to_vec();
            long.push(b);
            long.extend_from_slice(b"abcdefgh");
            let want = if is_name_byte(b) { long.len() } else { 8 };
            assert_eq!(name_len(&long), want, "{b:#x}");
        }
        assert_eq!(name_len(b"X-Very-Long-Header-Name: v"), 23);
    }

    fn parse(input: &[u8]) -> (Vec<Header<'_>>, usize) {
        let mut out = Vec::new();
        let end = parse_block(
            input,
            0,
            input.len(),
            &Limits::default(),
            |_| false,
            &mut out,
        );
        (out, end.body_start)
    }

    #[test]
    fn simple_block() {
        let m = b"From: a@b\r\nSubject: hi\r\n there\r\n\r\nbody";
        let (h, body) = parse(m);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].name(), "From");
        assert_eq!(h[1].raw_value(), b"hi\r\n there");
        assert_eq!(h[1].value(), "hi there");
        assert_eq!(&m[body..], b"body");
    }

    #[test]
    fn lf_only_and_obsolete_space_before_colon() {
        let (h, _) = parse(b"Subject : x\nX-A:y\n\n");
        assert_eq!(h[0].name(), "Subject");
        assert_eq!(h[0].value(), "x");
        assert_eq!(h[1].value(), "y");
    }

    #[test]
    fn non_header_line_starts_body() {
        let m = b"A: 1\nthis is body\nB: 2\n";
        let (h, body) = parse(m);
        assert_eq!(h.len(), 1);
        assert_eq!(&m[body..], b"this is body\nB: 2\n");
    }

    #[test]
    fn whitespace_line_is_continuation() {
        let (h, body) = parse(b"A: 1\n  \nB: 2\n\nx");
        assert_eq!(h.len(), 2);
        assert_eq!(body, 14);
    }

    #[test]
    fn mbox_from_and_nameless_lines_skipped() {
        let (h, _) = parse(b"From someone Mon Jan 1\nA: 1\n: junk\n more junk\nB: 2\n\n");
        let names: Vec<_> = h.iter().map(|h| h.name()).collect();
        assert_eq!(names, ["A", "B"]);
    }

    #[test]
    fn eight_bit_values() {
        let (h, _) = parse("Subject: Grüße\n\n".as_bytes());
        assert_eq!(h[0].value(), "Grüße");
        let (h, _) = parse(b"Subject: Gr\xfc\xdfe\n\n");
        assert_eq!(h[0].value(), "Grüße");
    }

    #[test]
    fn encoded_words_in_value() {
        let (h, _) = parse(b"Subject: =?utf-8?q?a?=\r\n =?utf-8?q?b?=\r\n\r\n");
        assert_eq!(h[0].value(), "ab");
    }

    #[test]
    fn header_count_limit() {
        let limits = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        let mut out = Vec::new();
        let m = b"A: 1\nB: 2\nC: 3\n\nbody";
        let end = parse_block(m, 0, m.len(), &limits, |_| false, &mut out);
        assert_eq!(out.len(), 2);
        assert!(end.limited);
        assert_eq!(&m[end.body_start..], b"body");
    }

    #[test]
    fn header_block_size_limit() {
        let limits = Limits {
            max_header_block: 8,
            ..Limits::default()
        };
        let mut out = Vec::new();
        let m = b"A: 1\nB: 2\nC: 3\n\nbody";
        let end = parse_block(m, 0, m.len(), &limits, |_| false, &mut out);
        assert_eq!(out.len(), 2);
        assert!(end.limited);
        assert_eq!(&m[end.body_start..], b"C: 3\n\nbody");
    }

    #[test]
    fn no_blank_line() {
        let (h, body) = parse(b"A: 1\r\nB: 2");
        assert_eq!(h.len(), 2);
        assert_eq!(body, 10);
    }
}
