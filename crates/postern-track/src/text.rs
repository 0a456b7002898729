//! [`Text`], the byte-string value type of event fields, and the escaping that keeps every
//! value on one log line.
//!
//! Escapes (a backslash followed by one character):
//!
//! | written | means |
//! | --- | --- |
//! | `\\` | a backslash |
//! | `\t` `\n` `\r` | tab, line feed, carriage return |
//! | `\xHH` | the byte `HH`: other control bytes, DEL, and bytes that are not valid UTF-8 |
//! | `\,` | a comma (escaped only inside a list, where a bare comma separates items) |
//! | `\-` | a hyphen (escaped only when it is the whole value, since `-` alone means absent) |
//! | `\e` | nothing (written only as the whole value, for a present but empty value) |
//!
//! Valid UTF-8 other than controls is written as it is, so a log stays readable in any
//! editor, and a tab or line feed in a value can never split a field or a line.

use std::borrow::Cow;
use std::fmt;

use nom::branch::alt;
use nom::bytes::complete::{tag, take};
use nom::sequence::preceded;
use nom::{IResult, Parser};

/// A field value: bytes, usually UTF-8, kept exactly as recorded (a remote server's reply
/// may carry any bytes).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(Vec<u8>);

impl Text {
    /// The value's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The value as a string, with invalid UTF-8 replaced by U+FFFD.
    pub fn to_str_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// The value's length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the value has no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// ASCII case-insensitive comparison (addresses are matched this way).
    pub fn eq_ignore_ascii_case(&self, other: &[u8]) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }

    /// Shortens the value to at most `max` bytes (it may cut a UTF-8 sequence; the cut
    /// bytes are then escaped as `\xHH` when written).
    pub fn truncate(&mut self, max: usize) {
        self.0.truncate(max);
    }

    /// Consumes the value, giving its bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(s.as_bytes().to_vec())
    }
}
impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(s.into_bytes())
    }
}
impl From<&[u8]> for Text {
    fn from(b: &[u8]) -> Text {
        Text(b.to_vec())
    }
}
impl From<Vec<u8>> for Text {
    fn from(b: Vec<u8>) -> Text {
        Text(b)
    }
}
impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}
impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// Shows the escaped form: printable, one line, no terminal control bytes.
impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = Vec::with_capacity(self.0.len());
        escape_into(&self.0, false, &mut buf);
        f.write_str(&String::from_utf8_lossy(&buf))
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Appends the escaped form of `value` (see the module docs). `in_list` also escapes commas.
pub(crate) fn escape_into(value: &[u8], in_list: bool, out: &mut Vec<u8>) {
    if value.is_empty() {
        out.extend_from_slice(b"\\e");
        return;
    }
    if value == b"-" {
        out.extend_from_slice(b"\\-");
        return;
    }
    // Most values (addresses, ids, host names, replies) are printable ASCII with
    // nothing to escape: one scan, one copy, no UTF-8 chunking.
    if stands_for_itself(value, in_list) {
        out.extend_from_slice(value);
        return;
    }
    escape_chunks(value, in_list, out);
}

/// True when every octet of `value` is written as it is: printable ASCII other than the
/// backslash, and other than the comma in a list. Each block of 32 is folded without an
/// early exit, which the compiler turns into vector compares; the octet-at-a-time
/// `all` this replaced was about 2% of a relayed message's instructions.
fn stands_for_itself(value: &[u8], in_list: bool) -> bool {
    // Outside a list the comma is plain: test the backslash twice instead.
    let comma = if in_list { b',' } else { b'\\' };
    value.chunks(32).all(|block| {
        block.iter().fold(true, |plain, &b| {
            plain & (0x20..0x7f).contains(&b) & (b != b'\\') & (b != comma)
        })
    })
}

/// The general path of [`escape_into`]: valid UTF-8 runs escaped, other bytes as hex.
fn escape_chunks(value: &[u8], in_list: bool, out: &mut Vec<u8>) {
    for chunk in value.utf8_chunks() {
        escape_valid(chunk.valid().as_bytes(), in_list, out);
        for &b in chunk.invalid() {
            push_hex(b, out);
        }
    }
}

fn escape_valid(s: &[u8], in_list: bool, out: &mut Vec<u8>) {
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        let esc: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b',' if in_list => b"\\,",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&s[start..i]);
        if esc.is_empty() {
            push_hex(b, out);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
}

fn push_hex(b: u8, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(&[
        b'\\',
        b'x',
        HEX[usize::from(b >> 4)],
        HEX[usize::from(b & 15)],
    ]);
}

/// A malformed escape sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadEscape;

/// Undoes [`escape_into`]; borrows when the field has no escapes (the common case).
///
/// The grammar, from nom parsers: `value = *( 1*plain / "\\" escape )`, where `escape` is one
/// of `\\ t n r , - e` or `x` and two hex digits, upper or lower case.
pub(crate) fn unescape(field: &[u8]) -> Result<Cow<'_, [u8]>, BadEscape> {
    let Some(first) = memchr::memchr(b'\\', field) else {
        return Ok(Cow::Borrowed(field));
    };
    // `all_consuming(fold(0.., alt((plain_run, preceded(tag("\\"), escape))), ..))` says
    // the same; chained by hand from those parsers it costs a quarter fewer instructions.
    let mut out = Vec::with_capacity(field.len());
    out.extend_from_slice(&field[..first]);
    let mut rest = &field[first..];
    while !rest.is_empty() {
        if let Ok((after, run)) = plain_run(rest) {
            out.extend_from_slice(run);
            rest = after;
            continue;
        }
        // Not a plain run, so `rest` starts with a backslash.
        let (after, byte) = escape(&rest[1..]).map_err(|_| BadEscape)?;
        out.extend(byte);
        rest = after;
    }
    Ok(Cow::Owned(out))
}

/// `1*plain`: a non-empty run of bytes other than `\\`, its end found with memchr
/// (`take_while1` tests byte by byte: +25% instructions per escaped value).
fn plain_run(input: &[u8]) -> IResult<&[u8], &[u8]> {
    match memchr::memchr(b'\\', input).unwrap_or(input.len()) {
        0 => Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::TakeWhile1,
        ))),
        end => Ok((&input[end..], &input[..end])),
    }
}

/// The part of an escape after its backslash.
fn escape(input: &[u8]) -> IResult<&[u8], Option<u8>> {
    let hex = preceded(tag(&b"x"[..]), take(2usize))
        .map_opt(|h: &[u8]| Some(Some(hex_val(h[0])? << 4 | hex_val(h[1])?)));
    let named = take(1usize).map_opt(|c: &[u8]| {
        Some(match c[0] {
            b'\\' => Some(b'\\'),
            b't' => Some(b'\t'),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b',' => Some(b','),
            b'-' => Some(b'-'),
            b'e' => None,
            _ => return None,
        })
    });
    alt((hex, named)).parse(input)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The hand-written `unescape` the nom parser replaced, kept as the oracle of the
    /// differential property tests below.
    fn unescape_by_hand(field: &[u8]) -> Result<Cow<'_, [u8]>, BadEscape> {
        let Some(first) = memchr::memchr(b'\\', field) else {
            return Ok(Cow::Borrowed(field));
        };
        let mut out = Vec::with_capacity(field.len());
        out.extend_from_slice(&field[..first]);
        let mut i = first;
        while i < field.len() {
            let Some(off) = memchr::memchr(b'\\', &field[i..]) else {
                out.extend_from_slice(&field[i..]);
                break;
            };
            out.extend_from_slice(&field[i..i + off]);
            i += off + 1;
            let c = *field.get(i).ok_or(BadEscape)?;
            i += 1;
            match c {
                b'\\' => out.push(b'\\'),
                b't' => out.push(b'\t'),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b',' => out.push(b','),
                b'-' => out.push(b'-'),
                b'e' => {}
                b'x' => {
                    let hex = field.get(i..i + 2).ok_or(BadEscape)?;
                    out.push(hex_val_by_hand(hex[0])? << 4 | hex_val_by_hand(hex[1])?);
                    i += 2;
                }
                _ => return Err(BadEscape),
            }
        }
        Ok(Cow::Owned(out))
    }

    fn hex_val_by_hand(b: u8) -> Result<u8, BadEscape> {
        match b {
            b'0'..=b'9' => Ok(b - b'0'),
            b'a'..=b'f' => Ok(b - b'a' + 10),
            b'A'..=b'F' => Ok(b - b'A' + 10),
            _ => Err(BadEscape),
        }
    }

    fn esc(v: &[u8], list: bool) -> Vec<u8> {
        let mut out = Vec::new();
        escape_into(v, list, &mut out);
        out
    }

    #[test]
    fn hostile_values_stay_on_one_field() {
        let v = b"a\tb\nc\rd\\e\x1b[31m\x7f,\xff\xc3";
        let e = esc(v, true);
        assert_eq!(e, b"a\\tb\\nc\\rd\\\\e\\x1B[31m\\x7F\\,\\xFF\\xC3".to_vec());
        assert!(!e.iter().any(|&b| b < 0x20 || b == 0x7f));
        assert_eq!(unescape(&e).unwrap().as_ref(), v);
    }

    #[test]
    fn utf8_passes_through() {
        assert_eq!(
            esc("grüße@例え.jp".as_bytes(), false),
            "grüße@例え.jp".as_bytes()
        );
        assert!(matches!(unescape(b"plain"), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn special_whole_values() {
        assert_eq!(esc(b"", false), b"\\e");
        assert_eq!(esc(b"-", false), b"\\-");
        assert_eq!(esc(b"--", false), b"--");
        assert_eq!(unescape(b"\\e").unwrap().as_ref(), b"");
        assert_eq!(unescape(b"\\-").unwrap().as_ref(), b"-");
    }

    #[test]
    fn bad_escapes_are_errors() {
        for bad in [&b"\\"[..], b"a\\q", b"\\x4", b"\\xZZ", b"\\x"] {
            assert_eq!(unescape(bad), Err(BadEscape), "{bad:?}");
        }
    }

    #[test]
    fn display_is_escaped() {
        assert_eq!(Text::from("a\nb\x1b").to_string(), "a\\nb\\x1B");
    }

    /// Text made of the escape grammar's own pieces, so near-escapes abound.
    fn escape_like() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"\\".to_vec()),
            Just(b"x".to_vec()),
            Just(b"e".to_vec()),
            Just(b"t".to_vec()),
            Just(b",".to_vec()),
            Just(b"-".to_vec()),
            Just(b"4".to_vec()),
            Just(b"aF".to_vec()),
            Just(b"zz".to_vec()),
            Just("\u{e9}".as_bytes().to_vec()),
            proptest::collection::vec(any::<u8>(), 0..3),
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|ps| ps.concat())
    }

    #[test]
    fn nom_unescape_still_borrows_plain_values() {
        assert!(matches!(unescape(b"no escapes here"), Ok(Cow::Borrowed(_))));
        assert_eq!(unescape(b"a\\x41\\x7a\\e").unwrap().as_ref(), b"aAz");
    }

    proptest! {
        #[test]
        fn plain_values_take_the_short_path_to_the_same_text(
            v in proptest::collection::vec(0x20u8..0x7f, 1..64),
            list in any::<bool>(),
        ) {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            escape_into(&v, list, &mut fast);
            if v != b"-" {
                escape_chunks(&v, list, &mut slow);
                prop_assert_eq!(fast, slow);
            }
        }

        #[test]
        fn blockwise_plain_check_matches_the_octet_rule(
            plain in proptest::collection::vec(0x20u8..0x7f, 0..100),
            odd in proptest::option::of((any::<proptest::sample::Index>(), any::<u8>())),
            list in any::<bool>(),
        ) {
            // Printable text with at most one octet of any kind put in anywhere: each
            // block position, and both answers, come up often.
            let mut v = plain;
            if let Some((at, b)) = odd {
                v.insert(at.index(v.len() + 1), b);
            }
            let rule = |b: u8| (0x20..0x7f).contains(&b) && b != b'\\' && !(list && b == b',');
            prop_assert_eq!(stands_for_itself(&v, list), v.iter().all(|&b| rule(b)));
        }

        #[test]
        fn escape_round_trip(v in proptest::collection::vec(any::<u8>(), 0..64), list in any::<bool>()) {
            let e = esc(&v, list);
            prop_assert!(!e.contains(&b'\t') && !e.contains(&b'\n') && !e.contains(&b'\r'));
            prop_assert!(std::str::from_utf8(&e).is_ok());
            if list { prop_assert!(memchr::memchr(b',', &e).is_none_or(|i| i > 0 && e[i - 1] == b'\\')); }
            let back = unescape(&e).unwrap();
            prop_assert_eq!(back.as_ref(), &v[..]);
        }

        #[test]
        fn nom_unescape_agrees_with_the_hand_written_one(v in escape_like()) {
            prop_assert_eq!(unescape(&v), unescape_by_hand(&v));
        }

        #[test]
        fn nom_unescape_agrees_on_any_bytes(v in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(unescape(&v), unescape_by_hand(&v));
        }
    }
}
