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

/// The first line of a receive buffer, as a line reader frames it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    /// The octets before the first LF, without one CR just before it.
    pub(crate) octets: &'a [u8],
    /// The same octets as text when they are all ASCII (`None`: not known, the caller
    /// validates them).
    pub(crate) ascii: Option<&'a str>,
    /// Octets up to and including the LF.
    pub(crate) used: usize,
}

/// The first line of `buf`, or `None` when `buf` holds no LF.
///
/// One pass finds the LF and checks the line is ASCII: on x86_64 each 16 octets give an
/// LF mask and a high-bit mask (SSE2 `movemask`), so the ASCII check costs one OR a step
/// instead of a second walk, and a 30–80 octet line costs a few steps instead of
/// memchr's set-up (BENCHMARKS.md, "postern-smtp parsers, sixth round").
#[inline(always)]
pub(crate) fn first_line(buf: &[u8]) -> Option<Line<'_>> {
    let (lf, ascii) = find_lf(buf)?;
    let line = &buf[..lf];
    let octets = match line.split_last() {
        Some((b'\r', octets)) => octets,
        _ => line,
    };
    Some(Line {
        octets,
        // Dropping the CR leaves ASCII octets ASCII.
        ascii: ascii.then(|| ascii_text(octets)),
        used: lf + 1,
    })
}

/// The index of the first LF of `buf`, and whether every octet before it is ASCII.
#[inline(always)]
fn find_lf(buf: &[u8]) -> Option<(usize, bool)> {
    #[cfg(target_arch = "x86_64")]
    {
        if buf.len() >= 16 {
            return x86::find_lf(buf);
        }
    }
    find_lf_octets(buf)
}

/// [`find_lf`] octet by octet: for short buffers, other targets, and the proptests'
/// reference.
#[inline(always)]
fn find_lf_octets(buf: &[u8]) -> Option<(usize, bool)> {
    let mut high = 0u8;
    for (i, &c) in buf.iter().enumerate() {
        if c == b'\n' {
            return Some((i, high < 0x80));
        }
        high |= c;
    }
    None
}

/// Octets already known to be ASCII, as text. Checked again in debug builds.
#[inline(always)]
fn ascii_text(line: &[u8]) -> &str {
    debug_assert!(line.is_ascii());
    #[allow(unsafe_code)]
    // SAFETY: the caller has seen every octet of `line` below 0x80 (`find_lf`'s
    // high-bit masks or OR; checked again in debug builds), and ASCII is valid UTF-8.
    unsafe {
        std::str::from_utf8_unchecked(line)
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::*;

    /// The LF mask and the high-bit mask of the 16 octets of `b` from `at` (which must
    /// leave 16 in `b`).
    #[inline(always)]
    fn masks(b: &[u8], at: usize) -> (u32, u32) {
        let w: &[u8; 16] = b[at..at + 16].try_into().expect("16 octets");
        #[allow(unsafe_code)]
        // SAFETY: `w` is 16 readable octets and `loadu` needs no alignment; the rest is
        // SSE2 arithmetic on registers (SSE2 is part of every x86_64 target).
        unsafe {
            let v = _mm_loadu_si128(w.as_ptr().cast::<__m128i>());
            let lf = _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8)));
            (lf as u32, _mm_movemask_epi8(v) as u32)
        }
    }

    /// [`super::find_lf`] for `b` of at least 16 octets: 16 octets a step, the last 16
    /// octets of `b` standing in for a shorter tail.
    #[inline(always)]
    pub(super) fn find_lf(b: &[u8]) -> Option<(usize, bool)> {
        debug_assert!(b.len() >= 16);
        let mut at = 0;
        let mut high = 0u32;
        loop {
            let (lf, hi) = if at + 16 <= b.len() {
                masks(b, at)
            } else {
                // Fewer than 16 left: the last 16 octets, shifted down so that bit 0 is
                // `at` (a shift by 16 when none is left clears both masks).
                let base = b.len() - 16;
                let (lf, hi) = masks(b, base);
                let lf = lf >> (at - base);
                if lf == 0 {
                    return None;
                }
                (lf, hi >> (at - base))
            };
            if lf != 0 {
                let n = lf.trailing_zeros();
                let before = (1u32 << n) - 1;
                return Some((at + n as usize, (high | (hi & before)) == 0));
            }
            high |= hi;
            at += 16;
        }
    }
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
/// part and domain are cut out (BENCHMARKS.md, "postern-smtp parsers, fifth round") and
/// where a command line's trailing blanks are cut off (sixth round).
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

    /// An octet mix where LFs, CRs and high octets are common.
    fn octet() -> impl Strategy<Value = u8> {
        prop_oneof![
            4 => Just(b'a'),
            1 => Just(b'\n'),
            1 => Just(b'\r'),
            1 => 0x80u8..=0xff,
            1 => any::<u8>(),
        ]
    }

    /// The reference: memchr for the LF, one CR dropped, a separate ASCII check.
    fn reference(b: &[u8]) -> Option<Line<'_>> {
        let lf = memchr::memchr(b'\n', b)?;
        let octets = b[..lf].strip_suffix(b"\r").unwrap_or(&b[..lf]);
        let ascii = octets
            .is_ascii()
            .then(|| std::str::from_utf8(octets).unwrap());
        Some(Line {
            octets,
            ascii,
            used: lf + 1,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// The one-pass finder agrees with memchr and a separate ASCII check, on any
        /// octets and from any start (so every alignment of the LF and of the tail).
        #[test]
        fn first_line_is_memchr_and_the_ascii_check(
            b in proptest::collection::vec(octet(), 0..90),
            from in 0usize..90,
        ) {
            let b = &b[from.min(b.len())..];
            let want = reference(b);
            prop_assert_eq!(first_line(b), want);
            prop_assert_eq!(find_lf(b), find_lf_octets(b));
        }
    }

    #[test]
    fn first_line_at_every_length_and_position() {
        for len in 0..80 {
            assert_eq!(first_line(&vec![b'a'; len]), None);
            for at in 0..len {
                let mut b = vec![b'a'; len];
                b[at] = b'\n';
                assert_eq!(find_lf(&b), Some((at, true)), "{len} {at}");
                for high in (0..len).filter(|&h| h != at) {
                    let mut h = b.clone();
                    h[high] = 0xe9;
                    assert_eq!(find_lf(&h), Some((at, high > at)), "{len} {at} {high}");
                }
                if at > 0 {
                    b[at - 1] = b'\r';
                    let line = first_line(&b).expect("a line");
                    assert_eq!((line.octets.len(), line.used), (at - 1, at + 1));
                }
            }
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
