//! nom primitives shared by the header grammars (addresses, dates, parameters), and
//! byte searches sized for short header text.
//!
//! RFC 5322 comments nest. A recursive nom parser would follow the nesting on the call
//! stack, so a header of a million `(` could overflow it; [`comment`] counts the depth
//! instead and is written as a nom parser so that it composes with the combinators.

use nom::IResult;
use nom::error::{Error, ErrorKind};

/// Whether `b` is ASCII whitespace (the folding and the blanks between words).
pub(crate) fn is_ws(b: u8) -> bool {
    b.is_ascii_whitespace()
}

/// Whether `\` escapes the next byte inside a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escapes {
    /// `\x` is a quoted pair (RFC 5322 `ccontent`).
    Honoured,
    /// `\` is an ordinary byte (the MIME parameter heads have always been read so).
    Ignored,
}

/// A comment at the start of the input: `(` … `)`, nested, to the matching `)` or, when
/// unclosed, to the end. Returns the text between the outer parentheses (escapes left
/// as they are).
pub(crate) fn comment(escapes: Escapes) -> impl Fn(&[u8]) -> IResult<&[u8], &[u8]> {
    move |input: &[u8]| {
        if input.first() != Some(&b'(') {
            return Err(nom::Err::Error(Error::new(input, ErrorKind::Char)));
        }
        let mut depth = 1usize;
        let mut i = 1;
        while i < input.len() {
            match input[i] {
                b'\\' if escapes == Escapes::Honoured => i += 1,
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok((&input[i + 1..], &input[1..i]));
                    }
                }
                _ => {}
            }
            i += 1;
        }
        Ok((&input[input.len()..], &input[1..]))
    }
}

// Byte searches for the short texts of header values (a parameter, a name, a line).
//
// `memchr::memchr` and its two- and three-byte forms choose their AVX2 searcher at run
// time on every call; on a haystack of tens of bytes that dispatch and set-up cost
// more instructions than the search (about 60 per call, measured with callgrind on the
// message bench). On x86-64 the SSE2 searchers of the same crate are always available
// and inline into the caller; elsewhere these are the plain memchr calls. Same answers
// (the property tests below compare them with memchr).

/// The offset of the first `a` in `hay` (short haystacks; see above).
#[inline]
pub(crate) fn find1(a: u8, hay: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(s) = memchr::arch::x86_64::sse2::memchr::One::new(a) {
        return s.find(hay);
    }
    memchr::memchr(a, hay)
}

/// The offset of the first `a` or `b` in `hay` (short haystacks; see above).
#[inline]
pub(crate) fn find2(a: u8, b: u8, hay: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(s) = memchr::arch::x86_64::sse2::memchr::Two::new(a, b) {
        return s.find(hay);
    }
    memchr::memchr2(a, b, hay)
}

/// The offset of the first `a`, `b` or `c` in `hay` (short haystacks; see above).
#[inline]
pub(crate) fn find3(a: u8, b: u8, c: u8, hay: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(s) = memchr::arch::x86_64::sse2::memchr::Three::new(a, b, c) {
        return s.find(hay);
    }
    memchr::memchr3(a, b, c, hay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hay() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![6 => any::<u8>(), 1 => Just(b';'), 1 => Just(b'"'), 1 => Just(b'\n')],
            0..120,
        )
    }

    proptest! {
        /// The short searches give memchr's answers, at every length and alignment.
        #[test]
        fn short_searches_match_memchr(h in hay(), skip in 0usize..17) {
            let h = &h[skip.min(h.len())..];
            prop_assert_eq!(find1(b';', h), memchr::memchr(b';', h));
            prop_assert_eq!(find2(b'"', b';', h), memchr::memchr2(b'"', b';', h));
            prop_assert_eq!(
                find3(b'"', b'\n', b';', h),
                memchr::memchr3(b'"', b'\n', b';', h)
            );
        }
    }

    #[test]
    fn short_searches_find_the_first() {
        assert_eq!(find1(b'x', b""), None);
        assert_eq!(find1(b'x', b"abx"), Some(2));
        let long = [b"a".repeat(40), b"x;x".to_vec()].concat();
        assert_eq!(find1(b'x', &long), Some(40));
        assert_eq!(find2(b';', b'x', &long), Some(40));
        assert_eq!(find3(b'q', b'r', b';', &long), Some(41));
        assert_eq!(find3(b'q', b'r', b's', &long), None);
    }

    #[test]
    fn comments_nest_and_escape() {
        let c = comment(Escapes::Honoured);
        assert_eq!(
            c(b"(a (b) \\) c) rest"),
            Ok((&b" rest"[..], &b"a (b) \\) c"[..]))
        );
        assert_eq!(c(b"(open"), Ok((&b""[..], &b"open"[..])));
        assert_eq!(c(b"(a\\"), Ok((&b""[..], &b"a\\"[..])));
        assert!(c(b"x(").is_err());
        let plain = comment(Escapes::Ignored);
        assert_eq!(plain(b"(a\\) b"), Ok((&b" b"[..], &b"a\\"[..])));
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let deep = b"(".repeat(1_000_000);
        assert_eq!(comment(Escapes::Honoured)(&deep).unwrap().0, b"");
    }
}
