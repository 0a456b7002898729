//! RFC 5322 dates (`Thu, 22 Aug 2002 07:36:16 -0400 (EDT)`) into chrono, tolerantly.
//!
//! Accepted besides the standard form: a missing or misspelled day of week; two- and
//! three-digit years (RFC 5322 §4.3: `< 50` is 20xx, else 19xx; three digits add 1900);
//! missing seconds; a leap second (clamped to :59); comments anywhere; the obsolete
//! zone names `UT`, `GMT`, `EST`/`EDT`, `CST`/`CDT`, `MST`/`MDT`, `PST`/`PDT` (and `UTC`,
//! `Z`); `±hh:mm` and `±hh` zones; the ctime order (`Thu Aug 22 12:36:23 2002`).
//! Unknown alphabetic zones and military letters mean `-0000` (RFC 5322: their meaning is
//! unreliable), i.e. UTC. Returns `None` for anything that does not name a real instant.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};

const MONTHS: [&[u8; 3]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

/// Parses a raw Date header value.
pub fn parse(raw: &[u8]) -> Option<DateTime<FixedOffset>> {
    let mut numbers: [(u32, usize); 2] = [(0, 0); 2]; // value and digit count
    let mut n_numbers = 0;
    let mut month = None;
    let mut time = None;
    let mut zone = None;
    for tok in tokens(raw) {
        if tok.contains(&b':') && tok[0].is_ascii_digit() && time.is_none() {
            time = Some(parse_time(tok)?);
        } else if (tok[0] == b'+' || tok[0] == b'-') && tok.len() > 1 {
            if time.is_some() && zone.is_none() {
                zone = parse_numeric_zone(&tok[1..]).map(|z| if tok[0] == b'-' { -z } else { z });
            }
        } else if tok.iter().all(u8::is_ascii_digit) {
            if n_numbers < 2 && tok.len() <= 4 {
                numbers[n_numbers] = (std::str::from_utf8(tok).ok()?.parse().ok()?, tok.len());
                n_numbers += 1;
            }
        } else if tok.iter().all(u8::is_ascii_alphabetic) {
            let lower = tok.to_ascii_lowercase();
            if month.is_none() && lower.len() >= 3 {
                if let Some(m) = MONTHS.iter().position(|m| lower.starts_with(*m)) {
                    month = Some(m as u32 + 1);
                    continue;
                }
            }
            if time.is_some() && zone.is_none() {
                zone = Some(named_zone(&lower));
            }
        }
    }
    if n_numbers < 2 {
        return None;
    }
    let ((day, _), (year_raw, year_len)) = if numbers[0].0 > 31 {
        (numbers[1], numbers[0])
    } else {
        (numbers[0], numbers[1])
    };
    let year = match year_len {
        1 | 2 if year_raw < 50 => year_raw + 2000,
        1 | 2 => year_raw + 1900,
        3 => year_raw + 1900,
        _ => year_raw,
    };
    let (h, m, s) = time.unwrap_or((0, 0, 0));
    let naive =
        NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month?, day)?.and_hms_opt(h, m, s)?;
    let offset = FixedOffset::east_opt(zone.unwrap_or(0))?;
    offset.from_local_datetime(&naive).single()
}

/// Splits on whitespace and commas, dropping comments.
fn tokens(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut i = 0;
    std::iter::from_fn(move || {
        loop {
            while i < raw.len() && (raw[i].is_ascii_whitespace() || raw[i] == b',') {
                i += 1;
            }
            if i >= raw.len() {
                return None;
            }
            if raw[i] == b'(' {
                let mut depth = 0usize;
                while i < raw.len() {
                    match raw[i] {
                        b'(' => depth += 1,
                        b')' => depth -= 1,
                        b'\\' => i += 1,
                        _ => {}
                    }
                    i += 1;
                    if depth == 0 {
                        break;
                    }
                }
                continue;
            }
            let start = i;
            while i < raw.len() && !raw[i].is_ascii_whitespace() && raw[i] != b',' && raw[i] != b'('
            {
                i += 1;
            }
            return Some(&raw[start..i]);
        }
    })
}

/// `hh:mm[:ss]`, with a leap second clamped.
fn parse_time(tok: &[u8]) -> Option<(u32, u32, u32)> {
    let mut it = tok.split(|&b| b == b':').map(|p| -> Option<u32> {
        if p.is_empty() || p.len() > 2 || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(p).ok()?.parse().ok()
    });
    let h = it.next()??;
    let m = it.next()??;
    let s = match it.next() {
        Some(s) => s?,
        None => 0,
    };
    if it.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some((h, m, s.min(59)))
}

/// `hhmm`, `hh:mm` or `hh` after the sign, in seconds.
fn parse_numeric_zone(z: &[u8]) -> Option<i32> {
    let d: Vec<u8> = z.iter().copied().filter(|&b| b != b':').collect();
    if !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let (h, m) = match d.len() {
        1 | 2 => (std::str::from_utf8(&d).ok()?.parse::<i32>().ok()?, 0),
        4 => (
            std::str::from_utf8(&d[..2]).ok()?.parse::<i32>().ok()?,
            std::str::from_utf8(&d[2..]).ok()?.parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    (h < 24 && m < 60).then_some(h * 3600 + m * 60)
}

fn named_zone(lower: &[u8]) -> i32 {
    let hours = match lower {
        b"edt" => -4,
        b"est" | b"cdt" => -5,
        b"cst" | b"mdt" => -6,
        b"mst" | b"pdt" => -7,
        b"pst" => -8,
        _ => 0, // UT, GMT, UTC, Z, military letters, unknown: -0000
    };
    hours * 3600
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<String> {
        parse(s.as_bytes()).map(|d| d.to_rfc3339())
    }

    #[test]
    fn standard() {
        assert_eq!(
            p("Thu, 22 Aug 2002 07:36:16 -0400 (EDT)").unwrap(),
            "2002-08-22T07:36:16-04:00"
        );
        assert_eq!(
            p("1 Jan 2020 00:00 +0000").unwrap(),
            "2020-01-01T00:00:00+00:00"
        );
        assert_eq!(
            p("Mon, 2 Sep 2002 11:36:21 +0100").unwrap(),
            "2002-09-02T11:36:21+01:00"
        );
    }

    #[test]
    fn obsolete_forms() {
        assert_eq!(
            p("Thu, 22 Aug 02 07:36:16 EDT").unwrap(),
            "2002-08-22T07:36:16-04:00"
        );
        assert_eq!(
            p("22 Aug 99 07:36:16 PST").unwrap(),
            "1999-08-22T07:36:16-08:00"
        );
        assert_eq!(
            p("22 Aug 102 07:36:16 GMT").unwrap(),
            "2002-08-22T07:36:16+00:00"
        );
        assert_eq!(
            p("22 August 2002 07:36:16 X").unwrap(),
            "2002-08-22T07:36:16+00:00"
        );
        assert_eq!(
            p("Thu Aug 22 12:36:23 2002").unwrap(),
            "2002-08-22T12:36:23+00:00"
        );
        assert_eq!(
            p("Sat, 31 Dec 2016 23:59:60 +0000").unwrap(),
            "2016-12-31T23:59:59+00:00"
        );
        assert_eq!(
            p("22 Aug 2002 07:36:16 +05:30").unwrap(),
            "2002-08-22T07:36:16+05:30"
        );
    }

    #[test]
    fn year_digits_decide_the_century() {
        // Fuzz regression: a three-digit year first, then the same date re-rendered.
        let d = parse(b"Thu Aug 202 2:36:23 02 \x10ST").unwrap();
        assert_eq!(parse(d.to_rfc2822().as_bytes()), Some(d));
        assert_eq!(
            p("1 Jan 0202 00:00 +0000").unwrap(),
            "0202-01-01T00:00:00+00:00"
        );
        assert_eq!(
            p("1 Jan 202 00:00 +0000").unwrap(),
            "2102-01-01T00:00:00+00:00"
        );
    }

    #[test]
    fn invalid() {
        assert_eq!(p(""), None);
        assert_eq!(p("yesterday"), None);
        assert_eq!(p("31 Feb 2002 00:00:00 +0000"), None);
        assert_eq!(p("1 Jan 2002 25:00:00 +0000"), None);
        assert_eq!(
            p("1 Jan 2002 10:00:00 +9999").unwrap(),
            "2002-01-01T10:00:00+00:00"
        );
        assert_eq!(p("((((("), None);
    }
}
