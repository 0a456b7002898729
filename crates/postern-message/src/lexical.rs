//! nom primitives shared by the header grammars (addresses, dates, parameters).
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

#[cfg(test)]
mod tests {
    use super::*;

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
