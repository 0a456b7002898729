//! Content-Transfer-Encoding decoders: base64 (lenient), quoted-printable (robust),
//! 7bit/8bit/binary (identity) and x-uuencode.
//!
//! The decoders are total: they never fail, and they never write more bytes than they
//! read. Their leniency follows what Python's `email` package (and most mail readers) do,
//! so that the same bytes decode the same way:
//!
//! - base64: characters outside the alphabet (line breaks, spaces, garbage) are skipped;
//!   a complete pad (`==` after two characters of a quantum, `=` after three) ends the
//!   data; a missing pad is tolerated (the partial quantum's bytes are kept); a single
//!   dangling character at the end is dropped.
//! - quoted-printable: `=XX` (either case) decodes; `=` followed by optional spaces/tabs and
//!   a line break is a soft break; `==` is one `=` (plain text mislabelled as QP, like
//!   `=====` rules, and doubly encoded text then keep their line breaks — Python's
//!   decoder does the same); any other `=` is kept literally, as is everything else (line
//!   breaks are not normalised, trailing whitespace is kept).

use std::borrow::Cow;

/// A part's Content-Transfer-Encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TransferEncoding {
    /// `7bit` (also the default when the header is absent).
    #[default]
    SevenBit,
    /// `8bit`.
    EightBit,
    /// `binary`.
    Binary,
    /// `quoted-printable`.
    QuotedPrintable,
    /// `base64`.
    Base64,
    /// `x-uuencode` (also `uuencode`, `x-uue`, `uue`).
    UuEncode,
    /// Anything else; decoded as identity.
    Unknown,
}

impl TransferEncoding {
    /// Parses a Content-Transfer-Encoding header value (case-insensitive, surrounding
    /// whitespace and a trailing comment ignored).
    pub fn parse(value: &[u8]) -> Self {
        let value = value.trim_ascii();
        let end = value
            .iter()
            .position(|&b| b == b'(' || b == b';' || b.is_ascii_whitespace());
        let token = &value[..end.unwrap_or(value.len())];
        let eq = |s: &str| token.eq_ignore_ascii_case(s.as_bytes());
        if eq("7bit") || token.is_empty() {
            Self::SevenBit
        } else if eq("8bit") {
            Self::EightBit
        } else if eq("binary") {
            Self::Binary
        } else if eq("quoted-printable") {
            Self::QuotedPrintable
        } else if eq("base64") {
            Self::Base64
        } else if eq("x-uuencode") || eq("uuencode") || eq("x-uue") || eq("uue") {
            Self::UuEncode
        } else {
            Self::Unknown
        }
    }

    /// The canonical lower-case name (`"unknown"` for [`TransferEncoding::Unknown`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SevenBit => "7bit",
            Self::EightBit => "8bit",
            Self::Binary => "binary",
            Self::QuotedPrintable => "quoted-printable",
            Self::Base64 => "base64",
            Self::UuEncode => "x-uuencode",
            Self::Unknown => "unknown",
        }
    }

    /// Decodes `body`; identity encodings borrow.
    pub fn decode(self, body: &[u8]) -> Cow<'_, [u8]> {
        match self {
            Self::Base64 => {
                let mut out = Vec::with_capacity(body.len() / 4 * 3 + 3);
                decode_base64(body, &mut out);
                Cow::Owned(out)
            }
            Self::QuotedPrintable => decode_qp(body),
            Self::UuEncode => decode_uu_body(body),
            _ => Cow::Borrowed(body),
        }
    }
}

const INVALID: u8 = 0xff;
const PAD: u8 = 0xfe;

static B64: [u8; 256] = {
    let mut t = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t[b'=' as usize] = PAD;
    t
};

/// Decodes lenient base64 (see the module docs), appending to `out`.
pub fn decode_base64(input: &[u8], out: &mut Vec<u8>) {
    // Write into a pre-sized buffer (no per-byte capacity checks), then cut to size.
    let start = out.len();
    out.resize(start + input.len() / 4 * 3 + 3, 0);
    let written = decode_base64_into(input, &mut out[start..]);
    out.truncate(start + written);
}

/// Marks a character outside the alphabet (or `=`) in the [`QUANTUM`] tables.
const NOT_DATA: u32 = 1 << 31;

/// Four tables, one per position in a quantum, giving each alphabet character's sextet
/// already shifted into place (or [`NOT_DATA`]): a quantum of four data characters
/// decodes with four lookups and three ORs.
static QUANTUM: [[u32; 256]; 4] = {
    let mut t = [[NOT_DATA; 256]; 4];
    let mut c = 0;
    while c < 256 {
        let v = B64[c];
        if v < 64 {
            let v = v as u32;
            t[0][c] = v << 18;
            t[1][c] = v << 12;
            t[2][c] = v << 6;
            t[3][c] = v;
        }
        c += 1;
    }
    t
};

/// Decodes into `buf` (at least `input.len() / 4 * 3 + 3` long); returns the length.
///
/// Whenever no quantum is in progress, runs of four data characters decode directly
/// through the [`QUANTUM`] tables; anything else (line breaks, garbage, a quantum split
/// across lines, padding) goes one character at a time through the lenient state
/// machine, which gives the same bytes as the table path for whole quanta.
fn decode_base64_into(input: &[u8], buf: &mut [u8]) -> usize {
    let mut st = B64State::default();
    let mut o = 0;
    let mut i = 0;
    while i < input.len() {
        if st.n == 0 {
            let from = i;
            // Two quanta per step (one 6-byte store), while both are data.
            let mut pairs = 0;
            for (q, dst) in input[i..].chunks_exact(8).zip(buf[o..].chunks_exact_mut(6)) {
                let w = QUANTUM[0][usize::from(q[0])]
                    | QUANTUM[1][usize::from(q[1])]
                    | QUANTUM[2][usize::from(q[2])]
                    | QUANTUM[3][usize::from(q[3])];
                let v = QUANTUM[0][usize::from(q[4])]
                    | QUANTUM[1][usize::from(q[5])]
                    | QUANTUM[2][usize::from(q[6])]
                    | QUANTUM[3][usize::from(q[7])];
                if (w | v) & NOT_DATA != 0 {
                    break;
                }
                let x = (u64::from(w) << 24) | u64::from(v);
                dst.copy_from_slice(&x.to_be_bytes()[2..]);
                pairs += 1;
            }
            i += 8 * pairs;
            o += 6 * pairs;
            // `chunks_exact` on both sides: no bounds checks inside the loop.
            let mut quanta = 0;
            for (q, dst) in input[i..].chunks_exact(4).zip(buf[o..].chunks_exact_mut(3)) {
                let w = QUANTUM[0][usize::from(q[0])]
                    | QUANTUM[1][usize::from(q[1])]
                    | QUANTUM[2][usize::from(q[2])]
                    | QUANTUM[3][usize::from(q[3])];
                if w & NOT_DATA != 0 {
                    break;
                }
                dst.copy_from_slice(&w.to_be_bytes()[1..]);
                quanta += 1;
            }
            i += 4 * quanta;
            o += 3 * quanta;
            // Line breaks and other characters outside the alphabet: the state machine
            // would skip them without a change of state.
            while input
                .get(i)
                .is_some_and(|&c| B64[usize::from(c)] == INVALID)
            {
                i += 1;
            }
            if i >= input.len() {
                break;
            }
            if i != from {
                continue; // progress: try the table path again
            }
        }
        match st.push(input[i]) {
            Step::Byte(b) => {
                buf[o] = b;
                o += 1;
            }
            Step::End => return o,
            Step::None => {}
        }
        i += 1;
    }
    o
}

/// The lenient decoder's state between characters.
#[derive(Default)]
struct B64State {
    acc: u32,
    /// Sextets in the current quantum.
    n: u32,
    /// Pad characters seen since the last data character.
    pads: u32,
}

enum Step {
    None,
    Byte(u8),
    End,
}

impl B64State {
    fn push(&mut self, c: u8) -> Step {
        let v = B64[c as usize];
        if v == PAD {
            if self.n >= 2 {
                self.pads += 1;
                if self.n + self.pads >= 4 {
                    return Step::End; // complete pad: the data ends here
                }
            }
            return Step::None;
        }
        if v == INVALID {
            return Step::None;
        }
        self.pads = 0;
        self.acc = (self.acc << 6) | u32::from(v);
        self.n += 1;
        let byte = match self.n {
            2 => (self.acc >> 4) as u8,
            3 => (self.acc >> 2) as u8,
            4 => self.acc as u8,
            _ => return Step::None,
        };
        if self.n == 4 {
            self.n = 0;
            self.acc = 0;
        }
        Step::Byte(byte)
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes quoted-printable (see the module docs). Borrows when there is no `=`.
pub fn decode_qp(input: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'=', input).is_none() {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    decode_qp_into(input, false, &mut out);
    Cow::Owned(out)
}

/// Decodes quoted-printable into `out`; with `header`, `_` means space (RFC 2047 `Q`).
pub fn decode_qp_into(input: &[u8], header: bool, out: &mut Vec<u8>) {
    let mut rest = input;
    loop {
        // Escapes and soft line breaks come every few dozen bytes: the short searches.
        let next = if header {
            crate::lexical::find2(b'=', b'_', rest)
        } else {
            crate::lexical::find1(b'=', rest)
        };
        let Some(at) = next else {
            out.extend_from_slice(rest);
            return;
        };
        out.extend_from_slice(&rest[..at]);
        if rest[at] == b'_' {
            out.push(b' ');
            rest = &rest[at + 1..];
            continue;
        }
        let after = &rest[at + 1..];
        match after {
            [h, l, ..] if hex(*h).is_some() && hex(*l).is_some() => {
                out.push((hex(*h).unwrap_or(0) << 4) | hex(*l).unwrap_or(0));
                rest = &after[2..];
            }
            [b'=', ..] => {
                out.push(b'=');
                rest = &after[1..];
            }
            _ => {
                // Soft line break: `=`, optional transport padding, then CRLF/LF (or the end).
                let ws = after
                    .iter()
                    .take_while(|&&b| b == b' ' || b == b'\t')
                    .count();
                let tail = &after[ws..];
                if let Some(t) = tail
                    .strip_prefix(b"\r\n")
                    .or_else(|| tail.strip_prefix(b"\n"))
                {
                    rest = t;
                } else if tail.is_empty() {
                    return;
                } else {
                    out.push(b'=');
                    rest = after;
                }
            }
        }
    }
}

/// Decodes an `x-uuencode` body: the first `begin` block when there is one, else the
/// whole body as block lines.
fn decode_uu_body(body: &[u8]) -> Cow<'_, [u8]> {
    use crate::uuencode::{self, Format, Strictness};
    let mut out = Vec::with_capacity(body.len() / 4 * 3);
    let (lines, format) = match uuencode::find_blocks(body).next() {
        Some(block) => (block.body, block.format),
        None => (body, Format::Classic),
    };
    // Lenient decoding reports no errors; whatever decoded is the result.
    let _ = uuencode::decode(lines, format, Strictness::Lenient, &mut out);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use proptest::prelude::*;

    fn b64(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        decode_base64(s, &mut out);
        out
    }

    #[test]
    fn base64_lenient() {
        assert_eq!(b64(b"aGVsbG8="), b"hello");
        assert_eq!(b64(b"aGVs\r\nbG8"), b"hello");
        assert_eq!(b64(b"aG!V*sb G8=\n"), b"hello");
        assert_eq!(b64(b"QQ==QUJD"), b"A");
        assert_eq!(b64(b"QUJDR"), b"ABC");
        assert_eq!(b64(b""), b"");
        assert_eq!(b64(b"===="), b"");
    }

    #[test]
    fn qp_robust() {
        let d = |s: &[u8]| decode_qp(s).into_owned();
        assert_eq!(d(b"caf=E9 =3d =3D"), b"caf\xe9 = =");
        assert_eq!(d(b"soft=\r\nbreak=\nx"), b"softbreakx");
        assert_eq!(d(b"pad=  \r\nded"), b"padded");
        assert_eq!(d(b"bad =ZZ =4 end="), b"bad =ZZ =4 end");
        assert_eq!(d(b"====\n=====\nx"), b"==\n==x");
        assert_eq!(d(b"a==\n3D"), b"a=\n3D");
        assert_eq!(d(b"trailing  \r\n"), b"trailing  \r\n");
        assert!(matches!(decode_qp(b"plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn qp_header_underscore() {
        let mut out = Vec::new();
        decode_qp_into(b"a_b=5Fc", true, &mut out);
        assert_eq!(out, b"a b_c");
    }

    #[test]
    fn parse_names() {
        assert_eq!(
            TransferEncoding::parse(b" Base64 "),
            TransferEncoding::Base64
        );
        assert_eq!(
            TransferEncoding::parse(b"QUOTED-PRINTABLE"),
            TransferEncoding::QuotedPrintable
        );
        assert_eq!(
            TransferEncoding::parse(b"x-uuencode"),
            TransferEncoding::UuEncode
        );
        assert_eq!(
            TransferEncoding::parse(b"7bit (comment)"),
            TransferEncoding::SevenBit
        );
        assert_eq!(TransferEncoding::parse(b"gzip"), TransferEncoding::Unknown);
    }

    /// A reference quoted-printable encoder for the round-trip property (test-only).
    fn qp_encode(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut col = 0;
        for &b in data {
            if col > 70 {
                out.extend_from_slice(b"=\r\n");
                col = 0;
            }
            if (b' '..=b'~').contains(&b) && b != b'=' {
                out.push(b);
                col += 1;
            } else {
                out.extend_from_slice(format!("={b:02X}").as_bytes());
                col += 3;
            }
        }
        out
    }

    /// The lenient state machine alone, one character at a time: the oracle for the
    /// table fast path of [`decode_base64_into`].
    fn b64_by_state_machine(input: &[u8]) -> Vec<u8> {
        let mut st = B64State::default();
        let mut out = Vec::new();
        for &c in input {
            match st.push(c) {
                Step::Byte(b) => out.push(b),
                Step::End => break,
                Step::None => {}
            }
        }
        out
    }

    /// Base64 text with the lenient decoder's trouble mixed in: pads, line breaks,
    /// garbage, quanta split across lines.
    fn base64_like() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            4 => proptest::collection::vec(
                proptest::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".to_vec()),
                0..12,
            ),
            1 => Just(b"\r\n".to_vec()),
            1 => Just(b"=".to_vec()),
            1 => Just(b"==".to_vec()),
            1 => proptest::collection::vec(any::<u8>(), 0..3),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|ps| ps.concat())
    }

    proptest! {
        #[test]
        fn base64_fast_path_agrees_with_the_state_machine(input in base64_like()) {
            prop_assert_eq!(b64(&input), b64_by_state_machine(&input));
        }

        #[test]
        fn base64_round_trips(data in proptest::collection::vec(any::<u8>(), 0..400), wrap in 4usize..80) {
            let enc = base64::engine::general_purpose::STANDARD.encode(&data);
            let wrapped: Vec<u8> = enc.as_bytes().chunks(wrap).flat_map(|c| c.iter().copied().chain(*b"\r\n")).collect();
            prop_assert_eq!(b64(&wrapped), data.clone());
            let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&data);
            prop_assert_eq!(b64(unpadded.as_bytes()), data);
        }

        #[test]
        fn base64_matches_crate_on_valid_input(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let enc = base64::engine::general_purpose::STANDARD.encode(&data);
            let ours = b64(enc.as_bytes());
            let theirs = base64::engine::general_purpose::STANDARD.decode(&enc).unwrap();
            prop_assert_eq!(ours, theirs);
        }

        #[test]
        fn qp_round_trips(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            prop_assert_eq!(decode_qp(&qp_encode(&data)).into_owned(), data);
        }

        #[test]
        fn decoders_never_grow(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert!(b64(&data).len() <= data.len());
            prop_assert!(decode_qp(&data).len() <= data.len());
        }
    }
}
