//! A command line's octets as text: an ASCII check first, full UTF-8 validation only
//! when a non-ASCII octet is present; and tokens of that text.
//!
//! Nearly every command line is ASCII. `std::str::from_utf8` walks a short line octet by
//! octet until it reaches an aligned word, which cost ~60 of the ~700 instructions of a
//! whole `EHLO` parse; the word-at-a-time check below costs about a dozen. Turning the
//! checked octets into `&str` needs the crate's one `unsafe` block (measured in
//! BENCHMARKS.md, "Parsers and group commit, third round").

/// The line as text, or `None` when it is not UTF-8.
#[inline(always)]
pub(crate) fn as_text(line: &[u8]) -> Option<&str> {
    if is_ascii(line) {
        #[allow(unsafe_code)]
        // SAFETY: every octet is below 0x80 (checked just above), and a sequence of
        // ASCII octets is valid UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(line) });
    }
    std::str::from_utf8(line).ok()
}

/// True when no octet has its high bit set: eight octets per step, and the last eight
/// once more (overlapping) instead of a loop over the tail.
#[inline(always)]
fn is_ascii(b: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let Some(tail) = b.len().checked_sub(8) else {
        return b.iter().fold(0, |acc, &c| acc | c) < 0x80;
    };
    let word = |w: &[u8]| u64::from_ne_bytes(w.try_into().expect("eight octets"));
    let all = b
        .chunks_exact(8)
        .fold(word(&b[tail..]), |acc, w| acc | word(w));
    all & HIGH == 0
}

/// `&s[start..end]`, panicking where indexing would. Two `split_at`s keep the two
/// char-boundary checks inline; the range index is an out-of-line call (~20
/// instructions per token, and a path has two).
#[inline(always)]
pub(crate) fn sub(s: &str, start: usize, end: usize) -> &str {
    s.split_at(end).0.split_at(start).1
}

/// `&s[start..end]` where both ends are known to be char boundaries: each is the
/// length of `s` or the index of an ASCII octet (the octet a class scan stopped at, or
/// one past an ASCII delimiter such as `<`, `@` or `"`), so the boundary checks of
/// [`sub`] are spared; the range is still bounds-checked. Used where a path's local
/// part and domain are cut out (BENCHMARKS.md, "postern-smtp parsers, fifth round").
#[inline(always)]
pub(crate) fn sub_at_ascii(s: &str, start: usize, end: usize) -> &str {
    debug_assert!(s.is_char_boundary(start) && s.is_char_boundary(end));
    let octets = &s.as_bytes()[start..end];
    #[allow(unsafe_code)]
    // SAFETY: `s` is UTF-8 and `start` and `end` are char boundaries of it (the
    // caller's contract, checked in debug builds above), so the octets between them are
    // whole UTF-8 sequences.
    unsafe {
        std::str::from_utf8_unchecked(octets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The fast path agrees with the standard library on any octets, and on lines
        /// whose only non-ASCII octet sits anywhere (first word, middle, overlapping tail).
        #[test]
        fn agrees_with_from_utf8(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            prop_assert_eq!(as_text(&b), std::str::from_utf8(&b).ok());
        }

        #[test]
        fn one_high_octet_anywhere_is_seen(len in 1usize..40, at in 0usize..40, c in 0x80u8..=0xff) {
            let mut b = vec![b'a'; len];
            b[at % len] = c;
            prop_assert!(!is_ascii(&b));
            prop_assert_eq!(as_text(&b), std::str::from_utf8(&b).ok());
        }
    }

    #[test]
    fn ascii_and_utf8_lines() {
        assert_eq!(as_text(b""), Some(""));
        assert_eq!(as_text(b"EHLO x"), Some("EHLO x"));
        assert_eq!(
            as_text(b"EHLO mail.example.org"),
            Some("EHLO mail.example.org")
        );
        assert_eq!(
            as_text("EHLO b\u{fc}cher.example".as_bytes()),
            Some("EHLO b\u{fc}cher.example")
        );
        assert_eq!(as_text(b"EHLO \xff\xfe.example"), None);
        assert_eq!(as_text(b"EHLO example.or\xc3"), None);
    }
}
