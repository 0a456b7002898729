//! Byte classes for the hand-written scanners: one table lookup per byte. Every octet
//! beyond ASCII counts as text in each class, since SMTPUTF8 (RFC 6531) extends atext,
//! qtext and sub-domains with UTF-8, and the line was checked to be UTF-8 beforehand.

/// `atext` of RFC 5322: a dot-string's characters.
pub const ATEXT: u8 = 1;
/// Letters, digits, `-` and `_`: the characters of a domain label. `_` is not in
/// RFC 5321's grammar but real hosts use it (Windows machine names), and it is harmless.
pub const LABEL: u8 = 2;
/// `qtextSMTP`: what a quoted string holds without escaping.
pub const QTEXT: u8 = 4;
/// `dcontent`: the content of a general address literal.
pub const DCONTENT: u8 = 8;
/// Letters, digits and `-`: esmtp-keyword and Ldh-str.
pub const KEYWORD: u8 = 16;
/// Printable and not space: an esmtp-value, an argument word.
pub const VALUE: u8 = 32;
/// A domain name's characters: label characters and the dot.
pub const NAME: u8 = 128;

static TABLE: [u8; 256] = build();

const fn build() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0usize;
    while i < 256 {
        let b = i as u8;
        let alnum = b.is_ascii_alphanumeric();
        let mut c = 0;
        if b >= 0x80 {
            c = ATEXT | LABEL | QTEXT | DCONTENT | VALUE | XCHAR | NAME;
        } else {
            if alnum
                || matches!(b, b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'/')
                || matches!(b, b'=' | b'?' | b'^'..=b'`' | b'{'..=b'~')
            {
                c |= ATEXT;
            }
            if alnum || b == b'-' || b == b'_' {
                c |= LABEL | NAME;
            }
            if b == b'.' {
                c |= NAME;
            }
            if matches!(b, 32..=33 | 35..=91 | 93..=126) {
                c |= QTEXT;
            }
            if matches!(b, 33..=90 | 94..=126) {
                c |= DCONTENT;
            }
            if alnum || b == b'-' {
                c |= KEYWORD;
            }
            if matches!(b, 33..=126) {
                c |= VALUE;
            }
            if matches!(b, 33..=126) && b != b'+' && b != b'=' {
                c |= XCHAR;
            }
        }
        t[i] = c;
        i += 1;
    }
    t
}

/// `xchar` of RFC 3461: printable ASCII but `+` and `=` (which escapes handle).
pub const XCHAR: u8 = 64;

/// True when `b` is in class `c`.
#[inline(always)]
pub fn is(b: u8, c: u8) -> bool {
    TABLE[b as usize] & c != 0
}

/// The index of the first octet at or after `i` that is not in class `c` (or the
/// length). Four octets per step while it can: fewer branches on the hot path, and
/// `chunks_exact` spares the bounds checks.
#[inline(always)]
pub fn scan(b: &[u8], i: usize, c: u8) -> usize {
    let rest = &b[i..];
    let mut n = 0;
    for w in rest.chunks_exact(4) {
        let all = TABLE[w[0] as usize]
            & TABLE[w[1] as usize]
            & TABLE[w[2] as usize]
            & TABLE[w[3] as usize];
        if all & c == 0 {
            break;
        }
        n += 4;
    }
    while let Some(&x) = rest.get(n) {
        if !is(x, c) {
            break;
        }
        n += 1;
    }
    i + n
}
