//! Dotted runs — a domain name's labels and dots, a local part's atoms and dots — found
//! 16 octets at a time with SSE2 on x86_64, and with the class table elsewhere.
//!
//! A dotted run is the longest run of octets of the class (dots included) from a given
//! index; it is well-formed when it is not empty, neither starts nor ends with a dot and
//! holds no two dots together. That is exactly what the atom-by-atom walk of a
//! dot-string (or label-by-label walk of a domain) accepts, and where it stops. The SSE2
//! path builds a bit mask of the class octets and one of the dots per 16 octets, so the
//! run's end is one `trailing_zeros` and the `..` test one shift and AND; the table walk
//! stays for other targets and as the proptests' reference.

use crate::class;

/// Which class of dotted run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A domain name: letters, digits, `-`, `_`, dots, and octets beyond ASCII.
    Name,
    /// A dot-string: `atext`, dots, and octets beyond ASCII.
    DotString,
}

/// The end of the dotted run of `kind` at `b[i..]`, and whether it is well-formed.
#[inline(always)]
pub(crate) fn run(b: &[u8], i: usize, kind: Kind) -> (usize, bool) {
    #[cfg(target_arch = "x86_64")]
    {
        if b.len() >= 16 {
            return match kind {
                Kind::Name => x86::run(b, i, x86::name_masks),
                Kind::DotString => x86::run(b, i, x86::dot_string_masks),
            };
        }
    }
    run_table(b, i, kind)
}

/// [`run`] with the class table, octet by octet (four at a time while it can).
#[inline(always)]
fn run_table(b: &[u8], i: usize, kind: Kind) -> (usize, bool) {
    let c = match kind {
        Kind::Name => class::NAME,
        Kind::DotString => class::ATEXT,
    };
    let dot_in_class = kind == Kind::Name;
    let mut end = i;
    loop {
        end = class::scan(b, end, c);
        if dot_in_class || b.get(end) != Some(&b'.') {
            break;
        }
        end += 1;
    }
    let run = &b[i..end];
    let ok =
        !matches!(run.first(), None | Some(b'.')) && run.last() != Some(&b'.') && !has_dot_dot(run);
    (end, ok)
}

/// True when `run` holds `..`. Eight octets at a time (overlapping by one, so a pair
/// across two words is seen): a word's dots are found with the exact zero-octet test
/// on `word ^ "........"`, and two dots in a row show as neighbouring marks.
#[inline(always)]
fn has_dot_dot(run: &[u8]) -> bool {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let pair_in = |w: &[u8]| {
        let x = u64::from_le_bytes(w.try_into().expect("eight octets")) ^ 0x2e2e_2e2e_2e2e_2e2e;
        // 0x80 in each octet of `x` that is zero (no false marks, unlike the short form).
        let dots = !(((x & LOW7) + LOW7) | x | LOW7);
        dots & (dots >> 8) != 0
    };
    let Some(last) = run.len().checked_sub(8) else {
        return run.windows(2).any(|p| p == b"..");
    };
    let mut i = 0;
    while i < last {
        if pair_in(&run[i..i + 8]) {
            return true;
        }
        i += 7;
    }
    // The last eight octets, overlapping the words before: no octet-wise tail loop.
    pair_in(&run[last..])
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::*;

    /// `lo <= c <= hi` in each octet of `v` (all ones or zero), for `lo <= hi < 0x80`:
    /// shifted so that the range starts at -128, then one signed compare.
    macro_rules! in_range {
        ($v:expr, $lo:expr, $hi:expr) => {
            _mm_cmplt_epi8(
                _mm_add_epi8($v, _mm_set1_epi8(0x80u8.wrapping_sub($lo) as i8)),
                _mm_set1_epi8((0x80u8 + ($hi - $lo) + 1) as i8),
            )
        };
    }

    /// Each octet of `v` equal to `c` (all ones or zero).
    macro_rules! eq {
        ($v:expr, $c:expr) => {
            _mm_cmpeq_epi8($v, _mm_set1_epi8($c as i8))
        };
    }

    /// The 16 octets of `b` from `at` (which must leave 16 in `b`) as the bits of the
    /// class octets and the bits of the dots. `ascii_class` gives the class's ASCII
    /// octets; octets beyond ASCII (high bit set) are in every class.
    macro_rules! masks {
        ($b:expr, $at:expr, |$v:ident| $ascii_class:expr) => {{
            let w: &[u8; 16] = $b[$at..$at + 16].try_into().expect("16 octets");
            #[allow(unsafe_code)]
            // SAFETY: `w` is 16 readable octets and `loadu` needs no alignment; the rest
            // is SSE2 arithmetic on registers (SSE2 is part of every x86_64 target).
            unsafe {
                let $v = _mm_loadu_si128(w.as_ptr().cast::<__m128i>());
                let class = (_mm_movemask_epi8($v) | _mm_movemask_epi8($ascii_class)) as u32;
                (class, _mm_movemask_epi8(eq!($v, b'.')) as u32)
            }
        }};
    }

    /// A domain name's octets: letters, digits, `-`, `.`, `_`.
    #[inline(always)]
    pub(super) fn name_masks(b: &[u8], at: usize) -> (u32, u32) {
        masks!(b, at, |v| {
            let lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
            _mm_or_si128(
                _mm_or_si128(in_range!(lower, b'a', b'z'), in_range!(v, b'0', b'9')),
                _mm_or_si128(in_range!(v, b'-', b'.'), eq!(v, b'_')),
            )
        })
    }

    /// A dot-string's octets: printable ASCII but the specials `"(),:;<>@[\]`.
    #[inline(always)]
    pub(super) fn dot_string_masks(b: &[u8], at: usize) -> (u32, u32) {
        masks!(b, at, |v| {
            let special = _mm_or_si128(
                _mm_or_si128(
                    _mm_or_si128(eq!(v, b'"'), in_range!(v, b'(', b')')),
                    _mm_or_si128(eq!(v, b','), in_range!(v, b':', b'<')),
                ),
                _mm_or_si128(
                    _mm_or_si128(eq!(v, b'>'), eq!(v, b'@')),
                    in_range!(v, b'[', b']'),
                ),
            );
            _mm_andnot_si128(special, in_range!(v, b'!', b'~'))
        })
    }

    /// [`super::run`] for `b` of at least 16 octets.
    #[inline(always)]
    pub(super) fn run(
        b: &[u8],
        i: usize,
        masks: impl Fn(&[u8], usize) -> (u32, u32),
    ) -> (usize, bool) {
        debug_assert!(b.len() >= 16 && i <= b.len());
        let mut at = i;
        // Bit 0: the octet before `at` was a dot of the run. It starts set, as if a dot
        // came before the run, so that a leading dot shows as a pair and an empty run
        // as a trailing dot: every fault of the run is a bit of `bad`.
        let mut prev_dot = 1u32;
        let mut bad = 0u32;
        loop {
            let (class, dots, width) = if at + 16 <= b.len() {
                let (c, d) = masks(b, at);
                (c, d, 16)
            } else {
                // Fewer than 16 left: the line's last 16 octets, shifted down so that bit
                // 0 is `at`; the bits past the end are clear, so the run stops there.
                let base = b.len() - 16;
                let (c, d) = masks(b, base);
                (c >> (at - base), d >> (at - base), b.len() - at)
            };
            let n = (!class).trailing_zeros() as usize;
            let n = n.min(width);
            let dots = dots & ((1u32 << n) - 1);
            // Bit k: octet k - 1 is a dot of the run.
            let after_dot = (dots << 1) | prev_dot;
            bad |= dots & after_dot;
            at += n;
            if n < 16 {
                // The run ends before octet n: a dot before it is a trailing dot.
                bad |= after_dot & (1u32 << n);
                break;
            }
            prev_dot = dots >> 15;
        }
        (at, bad == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The atom-by-atom walk that the dot-string scan had before, and the label-by-label
    /// walk of domains: the oracle of the run's end and well-formedness.
    fn walk(b: &[u8], start: usize, c: u8) -> Option<usize> {
        let mut i = start;
        loop {
            let atom = i;
            i = class::scan(b, i, c);
            if i == atom {
                return None;
            }
            if b.get(i) != Some(&b'.') {
                return Some(i);
            }
            i += 1;
        }
    }

    fn octet() -> impl Strategy<Value = u8> {
        prop_oneof![
            4 => prop_oneof![Just(b'.'), Just(b'a'), Just(b'Z'), Just(b'9'), Just(b'-')],
            2 => any::<u8>(),
            1 => prop_oneof![Just(b'_'), Just(b'@'), Just(b'>'), Just(b'+'), Just(b'~')],
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// On any octets (not only UTF-8), from any index, the SIMD run and the table
        /// run agree on the end and the verdict, and the atom walk (dot-string) or label
        /// walk (name) ends at the same octet exactly when the run is well-formed.
        #[test]
        fn simd_and_table_runs_agree_with_the_walk(
            b in prop::collection::vec(octet(), 0..70),
            i in 0usize..70,
        ) {
            let i = i.min(b.len());
            for (kind, c) in [(Kind::Name, class::LABEL), (Kind::DotString, class::ATEXT)] {
                let got = run(&b, i, kind);
                prop_assert_eq!(got, run_table(&b, i, kind), "{:?} {:?} {}", kind, b, i);
                let (end, ok) = got;
                let walked = walk(&b, i, c);
                prop_assert_eq!(walked, ok.then_some(end), "{:?} {:?} {}", kind, b, i);
            }
        }
    }

    /// Runs of every length up to 40 from several starts, with one or two dots at every
    /// place (leading, trailing, doubled, at and across the 16-octet steps), then `>` or
    /// the end of the line: the SIMD verdict (leading dot, trailing dot and empty run
    /// folded into one mask) equals the table's.
    #[test]
    fn dots_at_every_place_of_every_run() {
        for pad in [0usize, 1, 7, 15, 16, 17] {
            for len in 0..40 {
                for end in [&b">xxxxxxxxxxxxxxxx"[..], b""] {
                    for d1 in 0..=len {
                        for d2 in d1..=len {
                            let mut b = vec![b'<'; pad];
                            b.extend(std::iter::repeat_n(b'a', len));
                            for d in [d1, d2] {
                                if d < len {
                                    b[pad + d] = b'.';
                                }
                            }
                            b.extend_from_slice(end);
                            if b.len() < 16 {
                                continue;
                            }
                            for kind in [Kind::Name, Kind::DotString] {
                                assert_eq!(
                                    run(&b, pad, kind),
                                    run_table(&b, pad, kind),
                                    "{kind:?} {:?}",
                                    String::from_utf8_lossy(&b)
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn dot_pairs_are_found_anywhere() {
        for n in 0..24 {
            for at in 0..n {
                let mut v = vec![b'a'; n];
                v[at] = b'.';
                assert!(!has_dot_dot(&v), "{n} {at}");
                if at + 1 < n {
                    v[at + 1] = b'.';
                    assert!(has_dot_dot(&v), "{n} {at}");
                }
            }
        }
    }

    #[test]
    fn every_octet_is_classed_like_the_table() {
        for c in 0..=255u8 {
            for len in [1usize, 15, 16, 17, 33] {
                let mut b = vec![b'a'; len];
                b[len - 1] = c;
                let name_in = class::is(c, class::NAME);
                let atext_in = class::is(c, class::ATEXT) || c == b'.';
                for (kind, want) in [(Kind::Name, name_in), (Kind::DotString, atext_in)] {
                    let (end, _) = run(&b, 0, kind);
                    assert_eq!(end == len, want, "{kind:?} {c:#x} {len}");
                }
            }
        }
    }
}
