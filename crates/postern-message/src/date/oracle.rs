//! The hand-written date parser the nom one replaced, kept as the oracle of the
//! differential property tests in `date.rs`.

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
