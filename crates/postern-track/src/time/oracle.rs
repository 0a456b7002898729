//! The hand-written [`Timestamp::parse`] that the nom grammar replaced, kept unchanged
//! (test-only) as the oracle of the differential tests in `time.rs`.

use super::{Day, MS_PER_DAY, Timestamp, digits};

/// The old `Timestamp::parse`.
pub(super) fn parse(s: &[u8]) -> Option<Timestamp> {
    let s = s.strip_suffix(b"Z").unwrap_or(s);
    if s.len() < 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let date = Day::from_ymd(digits(&s[0..4])?, digits(&s[5..7])?, digits(&s[8..10])?)?;
    let mut ms = date.days_since_epoch() * MS_PER_DAY;
    let rest = &s[10..];
    if !rest.is_empty() {
        ms += parse_time_of_day(rest)?;
    }
    Timestamp::from_unix_ms(ms)
}

fn parse_time_of_day(rest: &[u8]) -> Option<i64> {
    if rest.len() < 6 || !matches!(rest[0], b'T' | b't' | b' ') || rest[3] != b':' {
        return None;
    }
    let (h, mi) = (digits(&rest[1..3])?, digits(&rest[4..6])?);
    let (mut sec, mut milli) = (0, 0);
    let tail = &rest[6..];
    if !tail.is_empty() {
        if tail.len() < 3 || tail[0] != b':' {
            return None;
        }
        sec = digits(&tail[1..3])?;
        let frac = &tail[3..];
        if !frac.is_empty() {
            let f = frac.strip_prefix(b".")?;
            if f.is_empty() || f.len() > 3 {
                return None;
            }
            milli = digits(f)? * 10u32.pow(3 - f.len() as u32);
        }
    }
    (h < 24 && mi < 60 && sec < 60).then(|| {
        i64::from(h) * 3_600_000 + i64::from(mi) * 60_000 + i64::from(sec) * 1000 + i64::from(milli)
    })
}
