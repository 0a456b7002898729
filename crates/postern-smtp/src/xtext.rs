//! xtext (RFC 3461 §4): `+XX` hex escapes for ENVID, ORCPT and AUTH= values.

use std::borrow::Cow;

/// An xtext value as it appears on the wire, still encoded. Decode with [`XText::decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct XText<'a>(pub &'a str);

impl<'a> XText<'a> {
    /// The decoded value; borrows when there was nothing to decode. Invalid escapes are
    /// rejected by the parser, so this cannot fail on a parsed value.
    ///
    /// ```
    /// use postern_smtp::XText;
    /// assert_eq!(&*XText("a+2Bb").decode(), b"a+b");
    /// ```
    pub fn decode(&self) -> Cow<'a, [u8]> {
        let raw = self.0.as_bytes();
        if memchr::memchr(b'+', raw).is_none() {
            return Cow::Borrowed(raw);
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            // A value built by hand may hold a broken escape: keep it literally rather
            // than fail, since the parser never produces one.
            match (raw[i], hex(raw.get(i + 1)), hex(raw.get(i + 2))) {
                (b'+', Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                }
                (b, _, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        Cow::Owned(out)
    }
}

/// The value of one hex digit (either case).
#[inline(always)]
pub(crate) fn hex(b: Option<&u8>) -> Option<u8> {
    match *b? {
        b @ b'0'..=b'9' => Some(b - b'0'),
        b @ b'A'..=b'F' => Some(b - b'A' + 10),
        b @ b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// True when `value` is valid xtext: printable ASCII other than `+` and `=`, `+XX` hex
/// escapes, and (under SMTPUTF8) UTF-8 beyond ASCII. Lower-case hex digits are tolerated.
#[cfg(test)]
pub(crate) fn is_valid(value: &str) -> bool {
    crate::grammar::whole(crate::grammar::xtext, value.as_bytes()).is_some()
}

/// Encodes `value` as xtext: `+`, `=`, and octets outside `!`..=`~` become `+XX`.
///
/// ```
/// assert_eq!(postern_smtp::encode_xtext(b"a+b c"), "a+2Bb+20c");
/// ```
pub fn encode_xtext(value: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for &b in value {
        if (0x21..=0x7e).contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push('+');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decode_borrows_without_escapes() {
        assert!(matches!(XText("abc").decode(), Cow::Borrowed(b"abc")));
        assert_eq!(&*XText("a+3Db+2B").decode(), b"a=b+");
        assert_eq!(&*XText("+e9").decode(), &[0xe9]);
    }

    #[test]
    fn decode_keeps_broken_escapes_literally() {
        assert_eq!(&*XText("a+G1").decode(), b"a+G1");
        assert_eq!(&*XText("a+4").decode(), b"a+4");
    }

    #[test]
    fn validation() {
        assert!(is_valid("user+40example.com"));
        assert!(is_valid("<>"));
        assert!(is_valid("üser"));
        assert!(!is_valid(""));
        assert!(!is_valid("a+4"));
        assert!(!is_valid("a+ZZ"));
        assert!(!is_valid("a=b"));
        assert!(!is_valid("a b"));
        assert!(!is_valid("a\x7f"));
    }

    #[test]
    fn encodes_specials() {
        assert_eq!(encode_xtext(b"a=b+c d\xff"), "a+3Db+2Bc+20d+FF");
        assert_eq!(encode_xtext(b""), "");
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(v in proptest::collection::vec(any::<u8>(), 1..64)) {
            let e = encode_xtext(&v);
            prop_assert!(is_valid(&e));
            prop_assert_eq!(&*XText(&e).decode(), &v[..]);
        }
    }
}
