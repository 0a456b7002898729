//! UTC timestamps in milliseconds, and the civil-date arithmetic behind the daily file names.
//!
//! The arithmetic is written by hand (days-from-civil and back) so the crate needs no date
//! library and never reads a clock: every value here is computed from the number it is
//! given. The timestamp text is read by a nom grammar ([`Timestamp::parse`]).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nom::IResult;

#[cfg(test)]
mod oracle;

const MS_PER_DAY: i64 = 86_400_000;

/// A point in time: milliseconds since 1970-01-01T00:00:00Z, in years 0000 to 9999.
///
/// The range is what the log's fixed `YYYY-MM-DDTHH:MM:SS.mmmZ` form can hold; the
/// constructors refuse anything outside it, so formatting never fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The earliest representable instant, 0000-01-01T00:00:00.000Z.
    pub const MIN: Timestamp = Timestamp(-62_167_219_200_000);
    /// The latest representable instant, 9999-12-31T23:59:59.999Z.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999);

    /// From milliseconds since the Unix epoch; `None` outside years 0000–9999.
    pub fn from_unix_ms(ms: i64) -> Option<Timestamp> {
        (Self::MIN.0..=Self::MAX.0)
            .contains(&ms)
            .then_some(Timestamp(ms))
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_ms(self) -> i64 {
        self.0
    }

    /// From a wall-clock time, clamped to years 0000–9999 (the log's range), so the
    /// conversion never fails. The queue's `Timestamp` converts to `SystemTime` too, so a
    /// next-retry time passes here as `Timestamp::from_system_time(next.into())`.
    pub fn from_system_time(t: SystemTime) -> Timestamp {
        let ms = match t.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
        };
        Timestamp(ms.clamp(Self::MIN.0, Self::MAX.0))
    }

    /// As a wall-clock time.
    pub fn to_system_time(self) -> SystemTime {
        let magnitude = Duration::from_millis(self.0.unsigned_abs());
        if self.0 >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        }
    }

    /// The UTC day this instant falls in.
    pub fn day(self) -> Day {
        Day(self.0.div_euclid(MS_PER_DAY))
    }

    /// Adds (or with a negative value subtracts) milliseconds, saturating at the range ends.
    pub fn saturating_add_ms(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms).clamp(Self::MIN.0, Self::MAX.0))
    }

    /// Parses `YYYY-MM-DD`, optionally followed by `T` (or a space) and `HH:MM`, `:SS`,
    /// `.fff` (1 to 3 digits), and an optional `Z`. Times are always UTC.
    ///
    /// The grammar, as nom parsers:
    ///
    /// ```text
    /// timestamp = date [ ("T" / "t" / SP) clock ] [ "Z" ]
    /// date      = 4DIGIT "-" 2DIGIT "-" 2DIGIT
    /// clock     = 2DIGIT ":" 2DIGIT [ ":" 2DIGIT [ "." 1*3DIGIT ] ]
    /// ```
    ///
    /// The parsers are nom-style functions chained with `?` (`opt` and `all_consuming`
    /// spelled out): as a tuple of nom combinators the same grammar cost four times the
    /// hand-written parser's instructions, on the path every scanned log line takes.
    pub fn parse(s: &[u8]) -> Option<Timestamp> {
        let (rest, (y, m, d)) = date(s).ok()?;
        let (rest, time) = match clock(rest) {
            Ok((rest, time)) => (rest, Some(time)),
            Err(_) => (rest, None),
        };
        let (rest, _) = opt_byte(b'Z', rest);
        if !rest.is_empty() {
            return None;
        }
        let day = Day::from_ymd(y, m, d)?;
        let ms_of_day = match time {
            Some(t) => t.ms()?,
            None => 0,
        };
        Timestamp::from_unix_ms(day.0 * MS_PER_DAY + ms_of_day)
    }

    /// Writes the log form, `YYYY-MM-DDTHH:MM:SS.mmmZ` (always 24 bytes).
    pub fn write_to(self, out: &mut Vec<u8>) {
        let (y, m, d) = self.day().ymd();
        let ms_of_day = self.0.rem_euclid(MS_PER_DAY);
        let (h, mi) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60);
        let (sec, milli) = (ms_of_day / 1000 % 60, ms_of_day % 1000);
        // Filled in place and appended once: every tracking line starts with one.
        let mut t = *b"0000-00-00T00:00:00.000Z";
        put_digits(&mut t[0..4], y as u64);
        put_digits(&mut t[5..7], u64::from(m));
        put_digits(&mut t[8..10], u64::from(d));
        put_digits(&mut t[11..13], h as u64);
        put_digits(&mut t[14..16], mi as u64);
        put_digits(&mut t[17..19], sec as u64);
        put_digits(&mut t[20..23], milli as u64);
        out.extend_from_slice(&t);
    }
}

impl From<SystemTime> for Timestamp {
    /// As [`Timestamp::from_system_time`] (clamped to years 0000–9999).
    fn from(t: SystemTime) -> Timestamp {
        Timestamp::from_system_time(t)
    }
}

impl From<Timestamp> for SystemTime {
    /// As [`Timestamp::to_system_time`].
    fn from(t: Timestamp) -> SystemTime {
        t.to_system_time()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = Vec::with_capacity(24);
        self.write_to(&mut buf);
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

/// `THH:MM[:SS[.fff]]` (or with a space) as milliseconds into the day.
/// A time of day as read, before its ranges are checked.
struct Clock {
    hour: u32,
    minute: u32,
    second: u32,
    milli: u32,
}

impl Clock {
    /// Milliseconds into the day; `None` past 23:59:59.
    fn ms(&self) -> Option<i64> {
        (self.hour < 24 && self.minute < 60 && self.second < 60).then(|| {
            i64::from(self.hour) * 3_600_000
                + i64::from(self.minute) * 60_000
                + i64::from(self.second) * 1000
                + i64::from(self.milli)
        })
    }
}

/// Exactly `N` ASCII digits, and their value. (`map_opt(take_while_m_n(N, N, digit),
/// ..)` says the same at several times the instructions on the log scan's path.)
fn fixed_digits<const N: usize>(input: &[u8]) -> IResult<&[u8], u32> {
    match input.get(..N).and_then(digits) {
        Some(value) => Ok((&input[N..], value)),
        None => Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Digit,
        ))),
    }
}

/// The byte `want` (nom's `char`, for bytes, without its UTF-8 handling).
fn byte(want: u8, input: &[u8]) -> IResult<&[u8], u8> {
    match input.split_first() {
        Some((&b, rest)) if b == want => Ok((rest, b)),
        _ => Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Char,
        ))),
    }
}

/// `opt(byte(want))`: whether it was there.
fn opt_byte(want: u8, input: &[u8]) -> (&[u8], bool) {
    match byte(want, input) {
        Ok((rest, _)) => (rest, true),
        Err(_) => (input, false),
    }
}

/// `"." 1*3DIGIT`, as milliseconds (`.5` is 500). A fourth digit is left for the caller,
/// which then refuses it as trailing input.
fn fraction(input: &[u8]) -> IResult<&[u8], u32> {
    let (rest, _) = byte(b'.', input)?;
    let n = rest
        .iter()
        .take(3)
        .take_while(|b| b.is_ascii_digit())
        .count();
    match digits(&rest[..n]) {
        Some(f) => Ok((&rest[n..], f * [0, 100, 10, 1][n])),
        None => Err(nom::Err::Error(nom::error::Error::new(
            rest,
            nom::error::ErrorKind::Digit,
        ))),
    }
}

/// `4DIGIT "-" 2DIGIT "-" 2DIGIT`: year, month, day.
fn date(input: &[u8]) -> IResult<&[u8], (u32, u32, u32)> {
    let (input, year) = fixed_digits::<4>(input)?;
    let (input, _) = byte(b'-', input)?;
    let (input, month) = fixed_digits::<2>(input)?;
    let (input, _) = byte(b'-', input)?;
    let (input, day) = fixed_digits::<2>(input)?;
    Ok((input, (year, month, day)))
}

/// The separator and `HH:MM[:SS[.f{1,3}]]`.
fn clock(input: &[u8]) -> IResult<&[u8], Clock> {
    let input = match input.split_first() {
        Some((b'T' | b't' | b' ', rest)) => rest,
        _ => {
            return Err(nom::Err::Error(nom::error::Error::new(
                input,
                nom::error::ErrorKind::OneOf,
            )));
        }
    };
    let (input, hour) = fixed_digits::<2>(input)?;
    let (input, _) = byte(b':', input)?;
    let (input, minute) = fixed_digits::<2>(input)?;
    let mut time = Clock {
        hour,
        minute,
        second: 0,
        milli: 0,
    };
    // `opt(preceded(":", (2DIGIT, opt(fraction))))`
    let Ok((after_colon, _)) = byte(b':', input) else {
        return Ok((input, time));
    };
    let Ok((input, second)) = fixed_digits::<2>(after_colon) else {
        return Ok((input, time));
    };
    time.second = second;
    let input = match fraction(input) {
        Ok((rest, milli)) => {
            time.milli = milli;
            rest
        }
        Err(_) => input,
    };
    Ok((input, time))
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |n, &b| n * 10 + u32::from(b - b'0')))
}

/// Writes the last `field.len()` decimal digits of `n` into `field`, zero-padded.
fn put_digits(field: &mut [u8], mut n: u64) {
    for d in field.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// A UTC calendar day, counted from 1970-01-01 (day 0). Names the daily log files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(i64);

impl Day {
    /// The day `year-month-day`, or `None` if that date does not exist (or is outside 0–9999).
    pub fn from_ymd(year: u32, month: u32, day: u32) -> Option<Day> {
        if year > 9999 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month)
        {
            return None;
        }
        Some(Day(days_from_civil(i64::from(year), month, day)))
    }

    /// Days since 1970-01-01.
    pub fn days_since_epoch(self) -> i64 {
        self.0
    }

    /// From days since 1970-01-01.
    pub fn from_days_since_epoch(days: i64) -> Day {
        Day(days)
    }

    /// (year, month, day).
    pub fn ymd(self) -> (u32, u32, u32) {
        civil_from_days(self.0)
    }

    /// The first instant of the day (00:00:00.000Z).
    pub fn start(self) -> Timestamp {
        Timestamp((self.0 * MS_PER_DAY).clamp(Timestamp::MIN.0, Timestamp::MAX.0))
    }

    /// The day `n` days later (earlier when negative).
    pub fn add_days(self, n: i64) -> Day {
        Day(self.0 + n)
    }

    /// The log file name for the day, `YYYYMMDD.log`.
    pub fn file_name(self) -> String {
        let (y, m, d) = self.ymd();
        format!("{y:04}{m:02}{d:02}.log")
    }

    /// Parses a log file name `YYYYMMDD.log` (exactly eight digits).
    pub fn from_file_name(name: &str) -> Option<Day> {
        let stem = name.strip_suffix(".log")?.as_bytes();
        if stem.len() != 8 {
            return None;
        }
        Day::from_ymd(
            digits(&stem[0..4])?,
            digits(&stem[4..6])?,
            digits(&stem[6..8])?,
        )
    }
}

fn is_leap(y: u32) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date. Counts in 400-year eras, with the
/// year starting in March so the leap day is the last day of the shifted year.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (u32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as u32, m, d)
}

#[cfg(test)]
mod tests {

    #[test]
    fn system_time_round_trips_and_clamps() {
        let t = Timestamp::from_unix_ms(1_764_921_600_123).unwrap();
        let wall: std::time::SystemTime = t.into();
        assert_eq!(Timestamp::from(wall), t);
        let early = Timestamp::from_unix_ms(-1_500).unwrap();
        assert_eq!(Timestamp::from_system_time(early.to_system_time()), early);
        let far = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1 << 40);
        assert_eq!(Timestamp::from_system_time(far), Timestamp::MAX);
    }
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_dates() {
        assert_eq!(Day::from_ymd(1970, 1, 1).unwrap().days_since_epoch(), 0);
        assert_eq!(
            Day::from_ymd(2000, 3, 1).unwrap().days_since_epoch(),
            11_017
        );
        assert_eq!(
            Day::from_ymd(2026, 11, 23).unwrap().file_name(),
            "20261123.log"
        );
        assert_eq!(Day::from_ymd(2024, 2, 29).unwrap().ymd(), (2024, 2, 29));
        assert!(Day::from_ymd(2023, 2, 29).is_none());
        assert!(Day::from_ymd(1900, 2, 29).is_none());
        assert_eq!(Timestamp::MIN.to_string(), "0000-01-01T00:00:00.000Z");
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999Z");
        assert!(Timestamp::from_unix_ms(Timestamp::MAX.unix_ms() + 1).is_none());
    }

    #[test]
    fn parse_forms() {
        let t = Timestamp::parse(b"2026-11-23T12:34:56.789Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-23T12:34:56.789Z");
        assert_eq!(
            Timestamp::parse(b"2026-11-23").unwrap().to_string(),
            "2026-11-23T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::parse(b"2026-11-23 01:02").unwrap().to_string(),
            "2026-11-23T01:02:00.000Z"
        );
        assert_eq!(
            Timestamp::parse(b"2026-11-23T01:02:03.5")
                .unwrap()
                .to_string(),
            "2026-11-23T01:02:03.500Z"
        );
        for bad in [
            &b"2026-13-01"[..],
            b"2026-11-23T24:00",
            b"2026-11-23T1:00",
            b"20261123",
            b"",
            b"2026-11-23T01:02:03.",
            b"2026-11-23T01:02:03.1234",
            b"+026-11-23",
        ] {
            assert!(Timestamp::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn file_names() {
        let d = Day::from_file_name("19991231.log").unwrap();
        assert_eq!(d.ymd(), (1999, 12, 31));
        assert_eq!(d.add_days(1).file_name(), "20000101.log");
        for bad in [
            "1999123.log",
            "19991232.log",
            "19991231.idx",
            "1999123a.log",
        ] {
            assert!(Day::from_file_name(bad).is_none(), "{bad}");
        }
    }

    /// Timestamp-shaped bytes: the grammar's pieces shuffled, with stray bytes.
    fn timestamp_like() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"2026".to_vec()),
            Just(b"-".to_vec()),
            Just(b"11".to_vec()),
            Just(b"02-29".to_vec()),
            Just(b"T".to_vec()),
            Just(b"t".to_vec()),
            Just(b" ".to_vec()),
            Just(b":".to_vec()),
            Just(b"59".to_vec()),
            Just(b"24".to_vec()),
            Just(b".".to_vec()),
            Just(b"Z".to_vec()),
            proptest::collection::vec(b'0'..=b'9', 1..5),
            proptest::collection::vec(any::<u8>(), 0..2),
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|ps| ps.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn nom_parser_agrees_with_the_hand_written_one(raw in timestamp_like()) {
            prop_assert_eq!(Timestamp::parse(&raw), oracle::parse(&raw));
        }

        #[test]
        fn nom_parser_agrees_on_timestamps(
            ms in Timestamp::MIN.unix_ms()..=Timestamp::MAX.unix_ms(),
            cut in 0usize..25,
            sep in prop_oneof![Just(b'T'), Just(b' '), Just(b't'), Just(b'x')],
        ) {
            // Every prefix of a written timestamp, with each separator.
            let mut buf = Vec::new();
            Timestamp::from_unix_ms(ms).unwrap().write_to(&mut buf);
            buf[10] = sep;
            let raw = &buf[..cut.min(buf.len())];
            prop_assert_eq!(Timestamp::parse(raw), oracle::parse(raw));
        }

        #[test]
        fn nom_parser_agrees_on_any_bytes(raw in proptest::collection::vec(any::<u8>(), 0..30)) {
            prop_assert_eq!(Timestamp::parse(&raw), oracle::parse(&raw));
        }

        #[test]
        fn format_parse_round_trip(ms in Timestamp::MIN.unix_ms()..=Timestamp::MAX.unix_ms()) {
            let t = Timestamp::from_unix_ms(ms).unwrap();
            let mut buf = Vec::new();
            t.write_to(&mut buf);
            prop_assert_eq!(buf.len(), 24);
            prop_assert_eq!(Timestamp::parse(&buf), Some(t));
            let (y, m, d) = t.day().ymd();
            prop_assert_eq!(Day::from_ymd(y, m, d), Some(t.day()));
        }
    }
}
