//! RFC 2047 encoded words (`=?charset?B|Q?text?=`) in header text.
//!
//! - `B` is decoded with the lenient base64 decoder, `Q` as quoted-printable with `_` for
//!   space.
//! - Any charset encoding_rs knows (see [`crate::charset`]); an RFC 2231 language suffix
//!   (`utf-8*en`) is ignored. Unknown charsets decode as UTF-8 if valid, else windows-1252.
//! - Whitespace between two adjacent encoded words is dropped (RFC 2047 §6.2), and the
//!   bytes of adjacent words in the same charset are joined *before* charset decoding, so
//!   a multi-byte character split across two words survives.
//! - Encoded words are recognised even when glued to other text (a common sender bug).
//! - A malformed word (no closing `?=`, bad encoding letter, whitespace inside) is left as
//!   text.
//! - Bytes outside encoded words decode as UTF-8 when valid, else windows-1252.

use std::borrow::Cow;

use nom::branch::alt;
use nom::bytes::complete::{tag, take_till1, take_until};
use nom::character::complete::{char, one_of};
use nom::combinator::{value, verify};
use nom::sequence::{delimited, separated_pair, terminated};
use nom::{IResult, Parser};

use crate::charset;
use crate::transfer::{decode_base64, decode_qp_into};

/// Longest encoded word recognised, `=?` to `?=` (RFC 2047 says 75; real senders write
/// longer ones). Bounding it keeps decoding linear on text full of unterminated `=?`.
pub const MAX_WORD_LEN: usize = 1024;

/// One parsed encoded word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedWord<'a> {
    /// The charset label, without any `*language` suffix.
    pub charset: &'a [u8],
    /// The RFC 2231 language tag, if present.
    pub language: Option<&'a [u8]>,
    /// `true` for `B` (base64), `false` for `Q`.
    pub base64: bool,
    /// The encoded text between the third `?` and the closing `?=`.
    pub text: &'a [u8],
    /// Length of the whole word in the input, `=?` to `?=`.
    pub len: usize,
}

impl EncodedWord<'_> {
    /// Appends the word's decoded octets (still in its charset) to `out`.
    pub fn decode_bytes(&self, out: &mut Vec<u8>) {
        if self.base64 {
            decode_base64(self.text, out);
        } else {
            decode_qp_into(self.text, true, out);
        }
    }
}

/// Parses an encoded word at the start of `input` (which must begin with `=?`).
///
/// The grammar, `"=?" charset ["*" language] "?" ("B" / "Q") "?" text "?="`, is a nom
/// parser; the text ends at the first `?=` within [`MAX_WORD_LEN`] and may hold no
/// whitespace, the label no whitespace or `=`.
pub fn parse_word(input: &[u8]) -> Option<EncodedWord<'_>> {
    let (rest, (label, base64)) = word_head(input).ok()?;
    let window = &rest[..rest.len().min(MAX_WORD_LEN)];
    let (_, text) = word_text(window).ok()?;
    let (charset, language) = match memchr::memchr(b'*', label) {
        Some(star) => (&label[..star], Some(&label[star + 1..])),
        None => (label, None),
    };
    Some(EncodedWord {
        charset,
        language,
        base64,
        text,
        len: 2 + label.len() + 1 + 2 + text.len() + 2,
    })
}

/// `=?label?B?` or `=?label?Q?`: the label and whether the encoding is base64.
fn word_head(input: &[u8]) -> IResult<&[u8], (&[u8], bool)> {
    let label = take_till1(|b: u8| b == b'?' || b == b'=' || b.is_ascii_whitespace());
    let encoding = alt((value(true, one_of("Bb")), value(false, one_of("Qq"))));
    delimited(
        tag("=?"),
        separated_pair(label, char('?'), encoding),
        char('?'),
    )
    .parse(input)
}

/// The encoded text up to the first `?=`, which must follow; no whitespace inside.
fn word_text(window: &[u8]) -> IResult<&[u8], &[u8]> {
    verify(terminated(take_until("?="), tag("?=")), |text: &[u8]| {
        !text.iter().any(u8::is_ascii_whitespace)
    })
    .parse(window)
}

/// Finds the two-byte sequence `ab` (a memchr loop: cheaper than building a memmem
/// searcher for every short header value).
fn find_pair(hay: &[u8], a: u8, b: u8) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = crate::lexical::find1(a, &hay[from..]) {
        let at = from + i;
        if hay.get(at + 1) == Some(&b) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Decodes all encoded words in `input` (see the module docs). Borrows when there are
/// none and the text is valid UTF-8.
pub fn decode(input: &[u8]) -> Cow<'_, str> {
    if find_pair(input, b'=', b'?').is_none() {
        return charset::decode_lenient(input);
    }
    let mut out = String::with_capacity(input.len());
    let mut pending: Vec<u8> = Vec::new();
    let mut pending_charset: &[u8] = b"";
    let mut pos = 0; // start of text not yet emitted
    let mut after_word = false;
    let mut search = 0;
    while let Some(rel) = find_pair(&input[search..], b'=', b'?') {
        let at = search + rel;
        let Some(word) = parse_word(&input[at..]) else {
            search = at + 2;
            continue;
        };
        let between = &input[pos..at];
        let joinable = after_word && between.iter().all(|b| b.is_ascii_whitespace());
        if !joinable || !word.charset.eq_ignore_ascii_case(pending_charset) {
            flush(&mut out, &mut pending, pending_charset);
        }
        if !joinable {
            out.push_str(&charset::decode_lenient(between));
        }
        pending_charset = word.charset;
        word.decode_bytes(&mut pending);
        pos = at + word.len;
        search = pos;
        after_word = true;
    }
    flush(&mut out, &mut pending, pending_charset);
    out.push_str(&charset::decode_lenient(&input[pos..]));
    Cow::Owned(out)
}

/// [`decode`] for bytes already owned: reuses the buffer when there are no encoded
/// words and the bytes are valid UTF-8.
pub fn decode_owned(input: Vec<u8>) -> String {
    if find_pair(&input, b'=', b'?').is_none() {
        return match String::from_utf8(input) {
            Ok(s) => s,
            Err(e) => charset::decode_lenient(e.as_bytes()).into_owned(),
        };
    }
    decode(&input).into_owned()
}

fn flush(out: &mut String, pending: &mut Vec<u8>, label: &[u8]) {
    if !pending.is_empty() {
        out.push_str(&charset::decode(label, pending));
        pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The hand-written `parse_word` the nom parser replaced, kept as the oracle of the
    /// differential property test below.
    fn parse_word_by_hand(input: &[u8]) -> Option<EncodedWord<'_>> {
        let rest = input.strip_prefix(b"=?")?;
        let q1 = memchr::memchr(b'?', rest)?;
        let label = &rest[..q1];
        if label.is_empty() || label.iter().any(|b| b.is_ascii_whitespace() || *b == b'=') {
            return None;
        }
        let rest = &rest[q1 + 1..];
        let base64 = match rest {
            [b'B' | b'b', b'?', ..] => true,
            [b'Q' | b'q', b'?', ..] => false,
            _ => return None,
        };
        let rest = &rest[2..];
        let window = &rest[..rest.len().min(MAX_WORD_LEN)];
        let end = find_pair(window, b'?', b'=')?;
        let text = &rest[..end];
        if text.iter().any(|b| b.is_ascii_whitespace()) {
            return None;
        }
        let (charset, language) = match memchr::memchr(b'*', label) {
            Some(star) => (&label[..star], Some(&label[star + 1..])),
            None => (label, None),
        };
        Some(EncodedWord {
            charset,
            language,
            base64,
            text,
            len: 2 + q1 + 1 + 2 + end + 2,
        })
    }

    /// Bytes made mostly of the grammar's own punctuation, so that near-words abound.
    fn word_like() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"=?".to_vec()),
            Just(b"?=".to_vec()),
            Just(b"?".to_vec()),
            Just(b"=".to_vec()),
            Just(b"*".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\t".to_vec()),
            Just(b"utf-8".to_vec()),
            Just(b"B".to_vec()),
            Just(b"q".to_vec()),
            Just(b"Zm9v".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..4),
        ];
        proptest::collection::vec(piece, 0..16)
            .prop_map(|ps| [b"=?".to_vec(), ps.concat()].concat())
    }

    proptest! {
        #[test]
        fn nom_parser_agrees_with_the_hand_written_one(input in word_like()) {
            prop_assert_eq!(parse_word(&input), parse_word_by_hand(&input));
        }

        #[test]
        fn nom_parser_agrees_past_the_length_limit(
            text in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'?'), Just(b'=')], 1000..1100)
        ) {
            let input = [b"=?utf-8?q?".as_slice(), &text, b"?="].concat();
            prop_assert_eq!(parse_word(&input), parse_word_by_hand(&input));
        }
    }

    #[test]
    fn b_and_q() {
        assert_eq!(decode(b"=?utf-8?B?w6k=?="), "é");
        assert_eq!(decode(b"=?ISO-8859-1?Q?caf=E9_au_lait?="), "café au lait");
        assert_eq!(decode(b"Re: =?iso-8859-1?q?=80?= x"), "Re: € x");
    }

    #[test]
    fn adjacent_words_join() {
        assert_eq!(
            decode(b"=?utf-8?q?a?= =?utf-8?q?b?=\r\n\t=?utf-8?q?c?="),
            "abc"
        );
        assert_eq!(decode(b"=?utf-8?q?a?= x =?utf-8?q?b?="), "a x b");
        // A UTF-8 character split across two words.
        assert_eq!(decode(b"=?utf-8?B?ww==?= =?utf-8?B?qQ==?="), "é");
        assert_eq!(decode(b"=?utf-8?Q?=C3?= =?utf-8?Q?=A9?="), "é");
    }

    #[test]
    fn different_charsets_adjacent() {
        assert_eq!(decode(b"=?iso-8859-1?q?=E9?= =?koi8-r?q?=F0?="), "éП");
    }

    #[test]
    fn language_suffix() {
        let w = parse_word(b"=?utf-8*en?q?hi?=").unwrap();
        assert_eq!(w.charset, b"utf-8");
        assert_eq!(w.language, Some(&b"en"[..]));
        assert_eq!(decode(b"=?US-ASCII*EN?Q?Keith_Moore?="), "Keith Moore");
    }

    #[test]
    fn malformed_left_as_text() {
        assert_eq!(decode(b"=?utf-8?x?abc?="), "=?utf-8?x?abc?=");
        assert_eq!(decode(b"=?utf-8?q?no end"), "=?utf-8?q?no end");
        assert_eq!(decode(b"=?utf-8?q?has space?="), "=?utf-8?q?has space?=");
        assert_eq!(decode(b"a =? b"), "a =? b");
    }

    #[test]
    fn unterminated_words_stay_linear() {
        let junk = b"=?a?q?x".repeat(40_000);
        assert_eq!(decode(&junk).len(), junk.len());
        let mut long = b"=?utf-8?q?".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_WORD_LEN));
        long.extend_from_slice(b"?=");
        assert_eq!(decode(&long).len(), long.len()); // too long: left as text
    }

    #[test]
    fn glued_words_decode() {
        assert_eq!(decode(b"x=?utf-8?q?y?=z"), "xyz");
    }

    #[test]
    fn plain_borrows() {
        assert!(matches!(decode(b"hello"), Cow::Borrowed("hello")));
        assert_eq!(decode(b"caf\xe9"), "café");
    }

    /// A test-only encoder: Q-encodes every byte.
    fn q_encode(s: &str) -> String {
        let mut out = String::from("=?utf-8?Q?");
        for b in s.bytes() {
            out.push_str(&format!("={b:02X}"));
        }
        out.push_str("?=");
        out
    }

    proptest! {
        #[test]
        fn q_round_trips(s in "\\PC{0,40}") {
            prop_assume!(!s.is_empty());
            let enc = q_encode(&s);
            prop_assert_eq!(decode(enc.as_bytes()), s);
        }

        #[test]
        fn split_words_round_trip(s in "\\PC{1,40}", split in 0usize..200) {
            // Split the octets anywhere (even mid-character) into two adjacent words.
            let bytes = s.as_bytes();
            let at = split % (bytes.len() + 1);
            let enc = |b: &[u8]| {
                let mut w = String::from("=?utf-8?B?");
                use base64::Engine as _;
                w.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
                w.push_str("?=");
                w
            };
            let header = format!("{} \r\n {}", enc(&bytes[..at]), enc(&bytes[at..]));
            prop_assert_eq!(decode(header.as_bytes()), s);
        }

        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&data);
        }
    }
}
