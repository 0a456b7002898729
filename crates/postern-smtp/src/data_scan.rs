//! The DATA decoder's fast path: how far a run of clean CRLF lines goes, 64 octets at a
//! time.
//!
//! Each 64-octet window becomes three bit masks (where the CRs, the LFs and the dots
//! are), and the framing rules become a few operations on those masks: every CR is
//! followed by an LF and every LF follows a CR (`(cr << 1) ^ lf`), and no LF is followed
//! by a `.` (`(lf << 1) & dot`); the line limit is the distance from one LF to the next.
//! The masks come from AVX2 compares when the CPU has AVX2 (detected once at run time),
//! from SSE2 otherwise (always present on x86_64), and from a plain loop on other
//! targets. The three give the same masks (proptests below), so the scan is the same.

/// Where the CRs, LFs and dots of a 64-octet window are: bit `i` for octet `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Masks {
    cr: u64,
    lf: u64,
    dot: u64,
}

/// The masks of `w` octet by octet: the portable path, and the reference of the SIMD ones.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
fn masks_scalar(w: &[u8; 64]) -> Masks {
    let mut m = Masks {
        cr: 0,
        lf: 0,
        dot: 0,
    };
    for (i, &c) in w.iter().enumerate() {
        m.cr |= u64::from(c == b'\r') << i;
        m.lf |= u64::from(c == b'\n') << i;
        m.dot |= u64::from(c == b'.') << i;
    }
    m
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{BLOCK, Masks, Run};
    use core::arch::x86_64::*;

    /// The masks of `w` with SSE2 (part of the x86_64 baseline): four 16-octet loads.
    #[inline(always)]
    pub(super) fn masks_sse2(w: &[u8; 64]) -> Masks {
        #[allow(unsafe_code)]
        // SAFETY: each load reads 16 octets at offset 0, 16, 32 or 48 of the 64-octet
        // array (`loadu` needs no alignment); SSE2 is enabled on every x86_64 target.
        unsafe {
            let (cr, lf, dot) = (
                _mm_set1_epi8(b'\r' as i8),
                _mm_set1_epi8(b'\n' as i8),
                _mm_set1_epi8(b'.' as i8),
            );
            let mut m = Masks {
                cr: 0,
                lf: 0,
                dot: 0,
            };
            for k in 0..4 {
                let v = _mm_loadu_si128(w.as_ptr().add(16 * k).cast::<__m128i>());
                let bits = |c| u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, c)) as u16);
                m.cr |= bits(cr) << (16 * k);
                m.lf |= bits(lf) << (16 * k);
                m.dot |= bits(dot) << (16 * k);
            }
            m
        }
    }

    /// The masks of `w` with AVX2: two 32-octet loads. With `COPY`, the two registers
    /// are also stored to `dst` (the window's 64 octets, copied without a second load).
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2. Only called from [`clean_run_avx2`], whose callers
    /// check that at run time; inlined there, where AVX2 is enabled. With `COPY`, `dst`
    /// must be valid for writing 64 octets.
    #[inline(always)]
    #[allow(unsafe_code)]
    unsafe fn masks_avx2<const COPY: bool>(w: &[u8; 64], dst: *mut u8) -> Masks {
        // SAFETY: the two loads read 32 octets at offset 0 and 32 of the 64-octet array
        // (`loadu` needs no alignment); the caller guarantees AVX2, and with `COPY` that
        // `dst .. dst + 64` may be written (`storeu` needs no alignment either).
        unsafe {
            let (cr, lf, dot) = (
                _mm256_set1_epi8(b'\r' as i8),
                _mm256_set1_epi8(b'\n' as i8),
                _mm256_set1_epi8(b'.' as i8),
            );
            let lo = _mm256_loadu_si256(w.as_ptr().cast::<__m256i>());
            let hi = _mm256_loadu_si256(w.as_ptr().add(32).cast::<__m256i>());
            if COPY {
                _mm256_storeu_si256(dst.cast::<__m256i>(), lo);
                _mm256_storeu_si256(dst.add(32).cast::<__m256i>(), hi);
            }
            let bits = |c| {
                let l = _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, c)) as u32;
                let h = _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, c)) as u32;
                u64::from(l) | (u64::from(h) << 32)
            };
            Masks {
                cr: bits(cr),
                lf: bits(lf),
                dot: bits(dot),
            }
        }
    }

    /// [`super::block_scalar`] with SSE2: eight 16-octet steps, each comparing the
    /// octets and the octets one before them (a second, overlapping load), with the
    /// rule breaks and the LFs gathered in two registers and tested once.
    #[inline(always)]
    pub(super) fn block_sse2(w: &[u8; BLOCK + 1]) -> bool {
        #[allow(unsafe_code)]
        // SAFETY: every load reads 16 octets at offset 16k (k < 8) or 16k + 1 of the
        // 129-octet array (`loadu` needs no alignment); SSE2 is enabled on every x86_64
        // target.
        unsafe {
            let (cr, lf, dot) = (
                _mm_set1_epi8(b'\r' as i8),
                _mm_set1_epi8(b'\n' as i8),
                _mm_set1_epi8(b'.' as i8),
            );
            let (mut bad, mut lfs) = (_mm_setzero_si128(), _mm_setzero_si128());
            for k in 0..BLOCK / 16 {
                let prev = _mm_loadu_si128(w.as_ptr().add(16 * k).cast::<__m128i>());
                let cur = _mm_loadu_si128(w.as_ptr().add(16 * k + 1).cast::<__m128i>());
                let is_lf = _mm_cmpeq_epi8(cur, lf);
                let pair = _mm_xor_si128(_mm_cmpeq_epi8(prev, cr), is_lf);
                let stuffed = _mm_and_si128(_mm_cmpeq_epi8(prev, lf), _mm_cmpeq_epi8(cur, dot));
                bad = _mm_or_si128(bad, _mm_or_si128(pair, stuffed));
                lfs = _mm_or_si128(lfs, is_lf);
            }
            _mm_movemask_epi8(bad) == 0 && _mm_movemask_epi8(lfs) != 0
        }
    }

    /// [`super::block_scalar`] with AVX2: four 32-octet steps, as [`block_sse2`]. With
    /// `COPY`, each step's block octets (the register already loaded) are also stored to
    /// `dst`: the block's 128 octets, whether or not it passes.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2; inlined into [`clean_run_avx2`]. With `COPY`, `dst`
    /// must be valid for writing 128 octets.
    #[inline(always)]
    #[allow(unsafe_code)]
    unsafe fn block_avx2<const COPY: bool>(w: &[u8; BLOCK + 1], dst: *mut u8) -> bool {
        // SAFETY: every load reads 32 octets at offset 32k (k < 4) or 32k + 1 of the
        // 129-octet array (`loadu` needs no alignment); the caller guarantees AVX2, and
        // with `COPY` that `dst .. dst + 128` may be written (each store writes 32 octets
        // at offset 32k, k < 4; `storeu` needs no alignment).
        unsafe {
            let (cr, lf, dot) = (
                _mm256_set1_epi8(b'\r' as i8),
                _mm256_set1_epi8(b'\n' as i8),
                _mm256_set1_epi8(b'.' as i8),
            );
            let (mut bad, mut lfs) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            for k in 0..BLOCK / 32 {
                let prev = _mm256_loadu_si256(w.as_ptr().add(32 * k).cast::<__m256i>());
                let cur = _mm256_loadu_si256(w.as_ptr().add(32 * k + 1).cast::<__m256i>());
                if COPY {
                    _mm256_storeu_si256(dst.add(32 * k).cast::<__m256i>(), cur);
                }
                let is_lf = _mm256_cmpeq_epi8(cur, lf);
                let pair = _mm256_xor_si256(_mm256_cmpeq_epi8(prev, cr), is_lf);
                let stuffed =
                    _mm256_and_si256(_mm256_cmpeq_epi8(prev, lf), _mm256_cmpeq_epi8(cur, dot));
                bad = _mm256_or_si256(bad, _mm256_or_si256(pair, stuffed));
                lfs = _mm256_or_si256(lfs, is_lf);
            }
            _mm256_testz_si256(bad, bad) == 1 && _mm256_testz_si256(lfs, lfs) == 0
        }
    }

    /// [`super::clean_run_impl`] with AVX2 masks and blocks.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2; with `COPY`, `dst` must be valid for writing
    /// `hay.len() - from` octets.
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    pub(super) unsafe fn clean_run_avx2<const COPY: bool>(
        hay: &[u8],
        from: usize,
        max_line: usize,
        dst: *mut u8,
    ) -> Run {
        // SAFETY: this function only runs on a CPU with AVX2 (its own contract); `run_with`
        // hands each window and block the place of its first octet in `dst`, which the
        // caller made valid for every octet of `hay[from..]`.
        super::run_with(
            hay,
            from,
            max_line,
            |w, d| unsafe { masks_avx2::<COPY>(w, d) },
            |w, d| unsafe { block_avx2::<COPY>(w, d) },
            dst,
        )
    }

    /// True when the CPU has AVX2. The standard library caches the CPUID answer after
    /// the first call, so this costs a load and a test.
    #[inline(always)]
    pub(super) fn has_avx2() -> bool {
        std::is_x86_feature_detected!("avx2")
    }

    #[cfg(test)]
    pub(super) fn masks_avx2_checked(w: &[u8; 64]) -> Option<Masks> {
        #[allow(unsafe_code)]
        // SAFETY: called only after the run-time check.
        has_avx2().then(|| unsafe { masks_avx2_outlined(w) })
    }

    #[cfg(test)]
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    unsafe fn masks_avx2_outlined(w: &[u8; 64]) -> Masks {
        // SAFETY: AVX2 is enabled here, and callers check the CPU has it.
        unsafe { masks_avx2::<false>(w, std::ptr::null_mut()) }
    }

    #[cfg(test)]
    pub(super) fn block_avx2_checked(w: &[u8; BLOCK + 1]) -> Option<bool> {
        #[allow(unsafe_code)]
        // SAFETY: called only after the run-time check.
        has_avx2().then(|| unsafe { block_avx2_outlined(w) })
    }

    #[cfg(test)]
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    unsafe fn block_avx2_outlined(w: &[u8; BLOCK + 1]) -> bool {
        // SAFETY: AVX2 is enabled here, and callers check the CPU has it.
        unsafe { block_avx2::<false>(w, std::ptr::null_mut()) }
    }
}

/// What [`clean_run`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    /// The end of the clean lines: just after the LF of the last of them (`from` when
    /// there are none). Every line before it ends in CRLF, holds no other CR or LF, is
    /// within the line limit, and none but the first starts with `.`.
    pub end: usize,
    /// How far the octets were looked at: the first octet that breaks a rule, or where
    /// the windows ran out or a line grew too long. The line-by-line path should take
    /// over at least up to here before the windows are tried again.
    pub stop: usize,
}

/// The longest run of clean lines from `from`, which must be a line start: `hay[from - 1]`
/// is the LF of a CRLF (a `.` at `from` ends the run at once).
/// `max_line` is the line limit counting the CRLF, at least 64 (so that two LFs in one
/// window are always close enough). Only whole 64-octet windows are looked at; what is
/// left at the end of `hay` is for the caller's line-by-line path.
#[inline(always)]
pub(crate) fn clean_run(hay: &[u8], from: usize, max_line: usize) -> Run {
    #[allow(unsafe_code)]
    // SAFETY: without `COPY` nothing is written through the (null) `dst`.
    unsafe {
        clean_run_impl::<false>(hay, from, max_line, std::ptr::null_mut())
    }
}

/// [`clean_run`], also appending the clean lines `hay[from..end]` to `out` in the same
/// pass: each window and block is stored from the registers the scan loaded it into
/// (AVX2), or copied while it is in cache (SSE2, other targets), instead of a second pass
/// over the run afterwards. `out` grows by at most `hay.len() - from` octets (reserved
/// before the scan; a no-op when the caller reserved enough).
pub(crate) fn clean_run_into(hay: &[u8], from: usize, max_line: usize, out: &mut Vec<u8>) -> Run {
    out.reserve(hay.len() - from);
    let len = out.len();
    let dst = out.spare_capacity_mut().as_mut_ptr().cast::<u8>();
    #[allow(unsafe_code)]
    // SAFETY: `dst` is the start of `out`'s spare capacity, reserved just above for the
    // `hay.len() - from` octets `clean_run_impl` may write.
    let run = unsafe { clean_run_impl::<true>(hay, from, max_line, dst) };
    // Every window and block `run_with` read from `from` on was stored, in order, at its
    // place, and the run ends within the last of them: `hay[from..run.end]` is in place.
    debug_assert!(run.end >= from && run.end <= hay.len());
    #[allow(unsafe_code)]
    // SAFETY: the `run.end - from` octets after `len` were written by the scan (every
    // octet of `hay[from..run.end]` lies in a window or block it read and stored), and
    // are within the capacity reserved above.
    unsafe {
        out.set_len(len + (run.end - from));
    }
    debug_assert_eq!(&out[len..], &hay[from..run.end]);
    run
}

/// [`clean_run`]; with `COPY`, every window and block `hay[at..at + n]` the scan reads
/// is also written to `dst + (at - from)`.
///
/// # Safety
///
/// With `COPY`, `dst` must be valid for writing `hay.len() - from` octets.
#[inline(always)]
#[allow(unsafe_code)]
unsafe fn clean_run_impl<const COPY: bool>(
    hay: &[u8],
    from: usize,
    max_line: usize,
    dst: *mut u8,
) -> Run {
    debug_assert!(from >= 1 && hay[from - 1] == b'\n' && max_line >= 64);
    #[cfg(target_arch = "x86_64")]
    if x86::has_avx2() {
        // SAFETY: the CPU has AVX2 (checked at run time just above); `dst` as the caller
        // promised.
        return unsafe { x86::clean_run_avx2::<COPY>(hay, from, max_line, dst) };
    }
    // SAFETY: `dst` as the caller promised.
    unsafe { clean_run_portable::<COPY>(hay, from, max_line, dst) }
}

/// [`clean_run_impl`] without AVX2: SSE2 masks and blocks on x86_64, the octet-by-octet
/// ones elsewhere; with `COPY`, each window or block is copied to its place in `dst`
/// right after the scan read it (in cache).
///
/// # Safety
///
/// With `COPY`, `dst` must be valid for writing `hay.len() - from` octets.
#[inline(always)]
#[allow(unsafe_code)]
unsafe fn clean_run_portable<const COPY: bool>(
    hay: &[u8],
    from: usize,
    max_line: usize,
    dst: *mut u8,
) -> Run {
    // SAFETY (both closures): `run_with` passes `d = dst + (at - from)` for a window or
    // block `hay[at..at + n]` it read (`at >= from`, `at + n <= hay.len()`), so with
    // `COPY` the caller's contract makes `d .. d + n` writable; `hay` and `dst` do not
    // overlap (a shared borrow and another allocation's spare capacity).
    let copied_masks = |w: &[u8; 64], d: *mut u8, m: Masks| {
        if COPY {
            unsafe { std::ptr::copy_nonoverlapping(w.as_ptr(), d, 64) }
        }
        m
    };
    let copied_block = |w: &[u8; BLOCK + 1], d: *mut u8, ok: bool| {
        if COPY {
            unsafe { std::ptr::copy_nonoverlapping(w[1..].as_ptr(), d, BLOCK) }
        }
        ok
    };
    #[cfg(target_arch = "x86_64")]
    let (masks, block) = (x86::masks_sse2, x86::block_sse2);
    #[cfg(not(target_arch = "x86_64"))]
    let (masks, block) = (masks_scalar, block_scalar);
    run_with(
        hay,
        from,
        max_line,
        |w, d| copied_masks(w, d, masks(w)),
        |w, d| copied_block(w, d, block(w)),
        dst,
    )
}

/// The octets of a block proven at once by [`run_with`]'s fast loop.
const BLOCK: usize = 128;

/// The shortest line limit (counting the CRLF) for the fast loop: when each block holds
/// an LF and the line before a block began at most one block earlier, two LFs are at most
/// `2 * BLOCK - 1` apart.
const MIN_BLOCK_LINE: usize = 2 * BLOCK - 1;

/// `w` is the octet before a block and the block: true when no octet of the block breaks
/// a rule (a CR followed by no LF, an LF after no CR, a `.` after an LF) and the block
/// holds an LF. Octet by octet: the portable path and the reference of the SIMD ones.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
fn block_scalar(w: &[u8; BLOCK + 1]) -> bool {
    let (mut bad, mut lf) = (false, false);
    for (&prev, &cur) in w.iter().zip(&w[1..]) {
        bad |= (prev == b'\r') != (cur == b'\n') || (prev == b'\n' && cur == b'.');
        lf |= cur == b'\n';
    }
    !bad && lf
}

/// [`clean_run`] with the masks from `masks` and the block test `block`. Each is handed,
/// beside the window or block `hay[at..]`, the place `dst + (at - from)` where a copying
/// scan stores it (a dangling pointer, never written, when the scan does not copy).
///
/// Two loops take turns. The fast one proves whole blocks of [`BLOCK`] octets with
/// `block` (no rule broken, an LF in each), which also keeps every line under the limit
/// when that is at least [`MIN_BLOCK_LINE`] and the line before the block began at most
/// one block earlier. Where a block fails, or those conditions do not hold, the exact
/// loop goes over 64-octet windows with their masks, finding the first broken rule and
/// measuring each line, for one block's worth of windows before the fast loop is tried
/// again.
#[inline(always)]
fn run_with(
    hay: &[u8],
    from: usize,
    max_line: usize,
    masks: impl Fn(&[u8; 64], *mut u8) -> Masks,
    block: impl Fn(&[u8; BLOCK + 1], *mut u8) -> bool,
    dst: *mut u8,
) -> Run {
    // The octet before `from` is an LF: it carries into the first window.
    let (mut cr_carry, mut lf_carry) = (0u64, 1u64);
    let mut last_lf = from - 1;
    let mut base = from;
    let fast = max_line >= MIN_BLOCK_LINE;
    loop {
        if fast && base - last_lf <= BLOCK {
            let start = base;
            while let Some(w) = hay.get(base - 1..base + BLOCK) {
                let at = dst.wrapping_add(base - from);
                if !block(w.try_into().expect("a block and the octet before"), at) {
                    break;
                }
                base += BLOCK;
            }
            if base > start {
                // The last block proven holds an LF; the exact loop goes on after it.
                let last_block = &hay[base - BLOCK..base];
                last_lf = base - BLOCK + memchr::memrchr(b'\n', last_block).unwrap_or(0);
                cr_carry = u64::from(hay[base - 1] == b'\r');
                lf_carry = u64::from(hay[base - 1] == b'\n');
            }
        }
        let windows_end = if fast { base + BLOCK } else { usize::MAX };
        while base < windows_end {
            let Some(w) = hay.get(base..base + 64) else {
                return Run {
                    end: last_lf + 1,
                    stop: base,
                };
            };
            let m = masks(
                w.try_into().expect("64 octets"),
                dst.wrapping_add(base - from),
            );
            // Bit i of `bad`: octet i follows a CR but is no LF, or is an LF after no CR,
            // or is a `.` starting a line.
            let bad = (((m.cr << 1) | cr_carry) ^ m.lf) | (((m.lf << 1) | lf_carry) & m.dot);
            // The LFs before the first bad octet end clean lines.
            let lf = if bad == 0 {
                m.lf
            } else {
                m.lf & ((1u64 << bad.trailing_zeros()) - 1)
            };
            if lf != 0 {
                // Within the window LFs are under 64 apart; only the first line is long.
                let first = base + lf.trailing_zeros() as usize;
                if first - last_lf > max_line {
                    return Run {
                        end: last_lf + 1,
                        stop: base,
                    };
                }
                last_lf = base + 63 - lf.leading_zeros() as usize;
            }
            if bad != 0 {
                return Run {
                    end: last_lf + 1,
                    stop: base + bad.trailing_zeros() as usize,
                };
            }
            cr_carry = m.cr >> 63;
            lf_carry = m.lf >> 63;
            base += 64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The same question answered octet by octet, as the line-by-line path would: the
    /// reference for every mask source.
    fn reference(hay: &[u8], from: usize, max_line: usize) -> usize {
        let windows_end = from + (hay.len() - from) / 64 * 64;
        let mut end = from;
        let mut line_start = from;
        let mut i = from;
        while i < windows_end {
            let (prev, c) = (hay[i - 1], hay[i]);
            let pair_bad = (prev == b'\r') != (c == b'\n') || (prev == b'\n' && c == b'.');
            if pair_bad {
                break;
            }
            if c == b'\n' {
                if i + 1 - line_start > max_line {
                    break;
                }
                end = i + 1;
                line_start = i + 1;
            }
            i += 1;
        }
        end
    }

    fn octets() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            6 => "[a-z ]{1,90}".prop_map(String::into_bytes),
            6 => Just(b"\r\n".to_vec()),
            1 => Just(b"\n".to_vec()),
            1 => Just(b"\r".to_vec()),
            1 => Just(b".".to_vec()),
            1 => any::<u8>().prop_map(|b| vec![b]),
            // Long clean stretches, for the block loop.
            2 => (1usize..30).prop_map(|n| b"abcdefghij klmnopqrstuvwxyz 0123456789 abcdefghij\r\n".repeat(n)),
        ];
        prop::collection::vec(piece, 0..80).prop_map(|v| [b"\r\n".to_vec(), v.concat()].concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// SSE2 and AVX2 masks equal the octet-by-octet masks on any window.
        #[test]
        fn simd_masks_match_the_scalar_ones(w in prop::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), any::<u8>()], 64)) {
            let w: [u8; 64] = w.try_into().unwrap();
            let want = masks_scalar(&w);
            #[cfg(target_arch = "x86_64")]
            {
                prop_assert_eq!(x86::masks_sse2(&w), want);
                if let Some(m) = x86::masks_avx2_checked(&w) {
                    prop_assert_eq!(m, want);
                }
            }
            prop_assert_eq!(masks_scalar(&w), want);
        }

        /// SSE2 and AVX2 block tests equal the octet-by-octet one on any block.
        #[test]
        fn simd_blocks_match_the_scalar_one(
            w in prop::collection::vec(prop_oneof![
                8 => Just(b'a'), 2 => Just(b'\r'), 1 => Just(b'\n'), 1 => Just(b'.'),
                1 => any::<u8>()], BLOCK + 1),
            crlf_at in prop::collection::vec(0usize..BLOCK, 0..3),
        ) {
            let mut w: [u8; BLOCK + 1] = w.try_into().unwrap();
            // Mostly-clean blocks too: CRLFs planted in a block of letters.
            if !crlf_at.is_empty() {
                w = [b'a'; BLOCK + 1];
                for &i in &crlf_at {
                    w[i] = b'\r';
                    w[i + 1] = b'\n';
                }
            }
            let want = block_scalar(&w);
            #[cfg(target_arch = "x86_64")]
            {
                prop_assert_eq!(x86::block_sse2(&w), want);
                if let Some(b) = x86::block_avx2_checked(&w) {
                    prop_assert_eq!(b, want);
                }
            }
            prop_assert_eq!(block_scalar(&w), want);
        }

        /// The window scan (with the CPU's masks and with the scalar masks) stops at the
        /// same line end as the octet-by-octet reference, from any line start and at any
        /// line limit, and its `stop` is never before that end.
        #[test]
        fn clean_run_matches_the_reference(
            hay in octets(),
            start in 0usize..2000,
            max_line in prop_oneof![64usize..300, Just(1000usize)],
        ) {
            let starts: Vec<usize> = (1..=hay.len()).filter(|&i| hay[i - 1] == b'\n').collect();
            let from = starts[start % starts.len()];
            let want = reference(&hay, from, max_line);
            let got = clean_run(&hay, from, max_line);
            prop_assert_eq!(got.end, want);
            prop_assert!(got.stop >= got.end);
            prop_assert_eq!(run_with(&hay, from, max_line, |w, _| masks_scalar(w), |w, _| block_scalar(w), std::ptr::null_mut()), got);
            // The copying scan finds the same run and appends exactly its octets.
            let mut out = b"kept".to_vec();
            prop_assert_eq!(clean_run_into(&hay, from, max_line, &mut out), got);
            prop_assert_eq!(&out[..4], b"kept");
            prop_assert_eq!(&out[4..], &hay[from..got.end]);
            // The portable path (SSE2 on x86_64), copying and not, whatever this CPU has.
            let mut out = Vec::with_capacity(hay.len() - from);
            #[allow(unsafe_code)]
            // SAFETY: `out` has room for the `hay.len() - from` octets the scan may write;
            // only the `run.end - from` it proved are admitted, as `clean_run_into` does.
            let portable = unsafe {
                prop_assert_eq!(
                    clean_run_portable::<false>(&hay, from, max_line, std::ptr::null_mut()),
                    got
                );
                let run = clean_run_portable::<true>(&hay, from, max_line, out.as_mut_ptr());
                out.set_len(run.end - from);
                run
            };
            prop_assert_eq!(portable, got);
            prop_assert_eq!(&out[..], &hay[from..got.end]);
        }
    }

    #[test]
    fn clean_lines_run_to_the_last_whole_window() {
        let line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQR\r\n";
        // 32 lines of 66 octets: 33 windows exactly.
        let hay: Vec<u8> = [&b"\r\n"[..], &line.repeat(32)].concat();
        let r = clean_run(&hay, 2, 1000);
        assert_eq!(r.end, 2 + 32 * line.len());
        assert_eq!(r.stop, 2 + 32 * line.len());
        // One octet short of the last window: the last line is left to the caller.
        let r = clean_run(&hay[..hay.len() - 1], 2, 1000);
        assert_eq!(r.end, 2 + 31 * line.len());
        // One line too long for a limit of 65 octets.
        assert_eq!(clean_run(&hay, 2, 65).end, 2);
        // A dot-stuffed line, a bare LF, a bare CR each stop the run at the line before.
        for (at, c) in [
            (2 + 3 * 66, b'.'),
            (2 + 3 * 66 + 5, b'\n'),
            (2 + 3 * 66 + 7, b'\r'),
        ] {
            let mut h = hay.clone();
            h[at] = c;
            let r = clean_run(&h, 2, 1000);
            assert_eq!(r.end, 2 + 3 * 66, "{}", c);
            assert!(r.stop <= at + 1, "{}", c);
        }
    }
}
