//! Charset decoding: MIME charset labels to `str`, through encoding_rs.
//!
//! Labels are looked up with the WHATWG rules encoding_rs implements, so `iso-8859-1`,
//! `latin1` and `us-ascii` decode as windows-1252 (what senders that say Latin-1 really
//! mean). Unknown labels fall back to [`decode_lenient`]: UTF-8 when the bytes are valid
//! UTF-8, else windows-1252. Decoding never fails: unmappable bytes become U+FFFD.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// Looks up a MIME charset label (case-insensitive, surrounding whitespace and quotes
/// ignored). Returns `None` for labels encoding_rs does not know.
pub fn lookup(label: &[u8]) -> Option<&'static Encoding> {
    let label = trim_label(label);
    // The labels most mail carries, without encoding_rs's general label lookup (the same
    // answers: WHATWG maps US-ASCII and ISO-8859-1 to windows-1252).
    if label.eq_ignore_ascii_case(b"utf-8") {
        return Some(UTF_8);
    }
    if label.eq_ignore_ascii_case(b"us-ascii") || label.eq_ignore_ascii_case(b"iso-8859-1") {
        return Some(WINDOWS_1252);
    }
    if let Some(enc) = Encoding::for_label_no_replacement(label) {
        return Some(enc);
    }
    // Common non-WHATWG spellings seen in real mail.
    let lower = label.to_ascii_lowercase();
    let alias: &[u8] = match lower.as_slice() {
        b"utf8" => b"utf-8",
        b"latin-1" | b"iso8859-1" | b"iso_8859_1" | b"8859-1" | b"ansi_x3.4-1968" => {
            b"windows-1252"
        }
        b"cp-1252" | b"win-1252" => b"windows-1252",
        b"ks_c_5601" | b"ks_c_5601-1989" => b"euc-kr",
        _ if lower.starts_with(b"iso8859-") => {
            return Encoding::for_label(&[b"iso-8859-", &lower[8..]].concat());
        }
        _ => return None,
    };
    Encoding::for_label(alias)
}

fn trim_label(label: &[u8]) -> &[u8] {
    let label = label.trim_ascii();
    let label = label.strip_prefix(b"\"").unwrap_or(label);
    label.strip_suffix(b"\"").unwrap_or(label)
}

/// Decodes `bytes` in the charset named by `label`; unknown labels fall back to
/// [`decode_lenient`]. Borrows when the bytes are ASCII or valid UTF-8 in a UTF-8
/// compatible charset.
pub fn decode<'a>(label: &[u8], bytes: &'a [u8]) -> Cow<'a, str> {
    match lookup(label) {
        Some(enc) => decode_with(enc, bytes),
        None => decode_lenient(bytes),
    }
}

/// Decodes with a known encoding, without BOM sniffing (a MIME label is authoritative).
pub fn decode_with<'a>(enc: &'static Encoding, bytes: &'a [u8]) -> Cow<'a, str> {
    if enc == UTF_8 {
        // `from_utf8` is much faster than the lossy path on the (usual) valid input.
        return match std::str::from_utf8(bytes) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(bytes),
        };
    }
    if enc.is_ascii_compatible() && bytes.is_ascii() {
        // ASCII is the same in every ASCII-compatible charset: no copy needed.
        return Cow::Borrowed(std::str::from_utf8(bytes).unwrap_or_default());
    }
    if enc == WINDOWS_1252 {
        return Cow::Owned(decode_windows_1252(bytes));
    }
    enc.decode_without_bom_handling(bytes).0
}

/// What windows-1252 bytes 0x80–0x9F stand for (WHATWG: the five unassigned ones map to
/// the C1 control of the same number, as in encoding_rs). 0xA0–0xFF are U+00A0–U+00FF.
const WINDOWS_1252_80: [char; 32] = [
    '\u{20ac}', '\u{81}', '\u{201a}', '\u{192}', '\u{201e}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{2c6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8d}', '\u{17d}', '\u{8f}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{2dc}', '\u{2122}', '\u{161}', '\u{203a}', '\u{153}', '\u{9d}', '\u{17e}', '\u{178}',
];

/// Decodes windows-1252 (every byte maps to a character): the same text as encoding_rs
/// gives, but ASCII runs are found eight bytes at a time and copied whole. encoding_rs
/// copies ASCII byte by byte whenever the source and destination buffers are not aligned
/// alike, which on the message bench was most of the charset decoding time.
pub(crate) fn decode_windows_1252(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 2);
    let mut i = 0;
    while i < bytes.len() {
        let run = ascii_run(&bytes[i..]);
        out.extend_from_slice(&bytes[i..i + run]);
        i += run;
        while let Some(&b) = bytes.get(i).filter(|&&b| b >= 0x80) {
            if b >= 0xa0 {
                out.extend_from_slice(&[0xc0 | (b >> 6), 0x80 | (b & 0x3f)]);
            } else {
                let c = WINDOWS_1252_80[usize::from(b - 0x80)];
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            }
            i += 1;
        }
    }
    // Valid by construction; the check keeps the crate free of `unsafe`.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The length of the run of ASCII bytes at the start of `s`, eight bytes at a time.
fn ascii_run(s: &[u8]) -> usize {
    const HI: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut i = 0;
    for word in s.chunks_exact(8) {
        let high = u64::from_le_bytes(word.try_into().unwrap_or_default()) & HI;
        if high != 0 {
            return i + (high.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + s[i..]
        .iter()
        .position(|&b| b >= 0x80)
        .unwrap_or(s.len() - i)
}

/// Like [`decode`] (with `None`: [`decode_lenient`]) for bytes already owned: reuses the
/// buffer when it is valid UTF-8 and the charset is UTF-8 or the bytes are ASCII.
pub fn decode_owned(label: Option<&[u8]>, bytes: Vec<u8>) -> String {
    let enc = label.and_then(lookup);
    let reusable = match enc {
        Some(e) => e == UTF_8 || (e.is_ascii_compatible() && bytes.is_ascii()),
        None => true,
    };
    if reusable {
        match String::from_utf8(bytes) {
            Ok(s) => return s,
            Err(e) => return decode_fallback(enc, e.as_bytes()),
        }
    }
    decode_fallback(enc, &bytes)
}

fn decode_fallback(enc: Option<&'static Encoding>, bytes: &[u8]) -> String {
    match enc {
        Some(e) => decode_with(e, bytes).into_owned(),
        None => decode_lenient(bytes).into_owned(),
    }
}

/// Decodes bytes of unknown charset (8-bit header text, unlabelled text): UTF-8 when valid,
/// else windows-1252 (every byte maps to a character, so nothing is lost silently).
pub fn decode_lenient(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(decode_windows_1252(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The windows-1252 decoder gives encoding_rs's text for any bytes (ASCII runs
        /// of every length and alignment, every high byte).
        #[test]
        fn windows_1252_matches_encoding_rs(
            bytes in proptest::collection::vec(
                prop_oneof![6 => 0u8..0x80, 1 => 0x80u8..=0xff],
                0..200,
            ),
            skip in 0usize..9,
        ) {
            let bytes = &bytes[skip.min(bytes.len())..];
            let want = WINDOWS_1252.decode_without_bom_handling(bytes).0;
            prop_assert_eq!(decode_windows_1252(bytes), want);
        }
    }

    #[test]
    fn windows_1252_every_byte() {
        for b in 0..=255u8 {
            let one = [b];
            let want = WINDOWS_1252.decode_without_bom_handling(&one).0;
            assert_eq!(decode_windows_1252(&one), want, "{b:#x}");
            let long = [&b"0123456789abcdef"[..], &[b], b"x"].concat();
            let want = WINDOWS_1252.decode_without_bom_handling(&long).0;
            assert_eq!(decode_windows_1252(&long), want, "{b:#x}");
        }
    }

    #[test]
    fn latin1_is_windows_1252() {
        assert_eq!(decode(b"ISO-8859-1", b"caf\xe9 \x80"), "café €");
        assert_eq!(decode(b"\"latin1\"", b"\xe9"), "é");
    }

    #[test]
    fn ascii_borrows() {
        assert!(matches!(
            decode(b"iso-8859-2", b"plain"),
            Cow::Borrowed("plain")
        ));
    }

    #[test]
    fn unknown_label_falls_back() {
        assert_eq!(decode(b"x-unknown", "é".as_bytes()), "é");
        assert_eq!(decode(b"x-unknown", b"\xe9"), "é");
    }

    #[test]
    fn other_charsets() {
        assert_eq!(decode(b"koi8-r", b"\xf0\xd2\xc9\xd7\xc5\xd4"), "Привет");
        assert_eq!(decode(b"utf8", "ü".as_bytes()), "ü");
        assert_eq!(decode(b"iso8859-15", b"\xa4"), "€");
        assert_eq!(decode(b"utf-8", b"a\xffb"), "a\u{fffd}b");
    }

    #[test]
    fn owned_decoding() {
        assert_eq!(decode_owned(Some(b"utf-8"), "é".as_bytes().to_vec()), "é");
        assert_eq!(decode_owned(Some(b"utf-8"), b"a\xff".to_vec()), "a\u{fffd}");
        assert_eq!(decode_owned(Some(b"latin1"), b"\xe9".to_vec()), "é");
        assert_eq!(decode_owned(None, b"\xe9".to_vec()), "é");
        assert_eq!(decode_owned(Some(b"koi8-r"), b"abc".to_vec()), "abc");
    }

    #[test]
    fn common_labels_match_encoding_rs() {
        for label in [
            &b"utf-8"[..],
            b"UTF-8",
            b"us-ascii",
            b"US-ASCII",
            b"iso-8859-1",
            b"ISO-8859-1",
        ] {
            assert_eq!(lookup(label), Encoding::for_label_no_replacement(label));
        }
    }

    #[test]
    fn replacement_labels_are_unknown() {
        assert!(lookup(b"iso-2022-kr").is_none());
    }
}
