//! The time type every scheduling call takes.
//!
//! The crate never reads a clock: callers pass `now` as a [`Timestamp`], milliseconds since
//! the Unix epoch (UTC). A plain integer keeps schedules exact, comparable and cheap to
//! store on disk; [`Timestamp::from_system_time`] converts from the wall clock.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time: milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The epoch itself.
    pub const ZERO: Timestamp = Timestamp(0);
    /// The latest representable instant (used as "never").
    pub const MAX: Timestamp = Timestamp(u64::MAX);

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// From a wall-clock time; times before the epoch become the epoch.
    pub fn from_system_time(t: SystemTime) -> Timestamp {
        let ms = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        Timestamp(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    /// From milliseconds since the Unix epoch (the form the tracking log and most
    /// databases use).
    pub const fn from_unix_ms(ms: u64) -> Timestamp {
        Timestamp(ms)
    }

    /// Milliseconds since the Unix epoch; the same as [`as_millis`](Self::as_millis).
    pub const fn unix_ms(self) -> u64 {
        self.0
    }

    /// As a wall-clock time ([`Timestamp::MAX`], "never", saturates at the farthest
    /// instant `SystemTime` holds).
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH
            .checked_add(Duration::from_millis(self.0))
            .unwrap_or_else(|| UNIX_EPOCH + Duration::from_secs(i64::MAX as u64 / 1_000))
    }

    /// The current wall-clock time. Only for callers that own the clock (the gateway,
    /// the CLI); nothing inside this crate's scheduling code calls it.
    pub fn now() -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }

    /// Time elapsed since `earlier`, zero when `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// Milliseconds of a duration, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(millis(d)))
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(millis(d)))
    }
}

impl From<SystemTime> for Timestamp {
    /// As [`Timestamp::from_system_time`].
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
        write!(f, "{}", self.0)
    }
}

/// Formats a duration the way the policy parser reads it (`1h30m`, `90s`, `250ms`).
pub fn format_duration(d: Duration) -> String {
    let mut ms = millis(d);
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("w", 604_800_000u64),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn system_time_and_unix_ms_round_trip() {
        let t = Timestamp::from_unix_ms(1_764_921_600_123);
        assert_eq!(t.unix_ms(), 1_764_921_600_123);
        let wall: std::time::SystemTime = t.into();
        assert_eq!(Timestamp::from(wall), t);
        // "Never" converts without panicking and stays the latest instant.
        assert!(Timestamp::MAX.to_system_time() > t.to_system_time());
    }
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Timestamp::MAX + Duration::from_secs(1), Timestamp::MAX);
        assert_eq!(Timestamp(5) - Duration::from_secs(1), Timestamp(0));
        assert_eq!(
            Timestamp(9000).since(Timestamp(1000)),
            Duration::from_secs(8)
        );
        assert_eq!(Timestamp(1000).since(Timestamp(9000)), Duration::ZERO);
    }

    #[test]
    fn formats_compound_durations() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(1250)), "1s250ms");
        assert_eq!(format_duration(Duration::from_secs(8 * 86400)), "1w1d");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
