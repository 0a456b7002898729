//! The minimum data rate while a message arrives (`limits.min_data_rate` bytes per
//! second over `limits.min_data_rate_window`): a client trickling data to hold a
//! connection slot open is cut off with `451 4.4.2`, as Exchange's and Postfix's
//! minimum-rate checks do.

use std::time::Duration;

use tokio::time::Instant;

/// Bytes received in the current window of a message transfer.
#[derive(Debug, Clone)]
pub struct RateMeter {
    min_rate: u64,
    window: Duration,
    /// Start of the current window; `None` when no message is arriving.
    start: Option<Instant>,
    bytes: u64,
}

impl RateMeter {
    /// A meter requiring `min_rate` bytes per second over `window`; 0 turns it off.
    pub fn new(min_rate: u64, window: Duration) -> RateMeter {
        RateMeter {
            min_rate,
            window,
            start: None,
            bytes: 0,
        }
    }

    /// A message starts arriving.
    pub fn start(&mut self, now: Instant) {
        if self.min_rate > 0 && !self.window.is_zero() {
            self.start = Some(now);
            self.bytes = 0;
        }
    }

    /// The message is complete or abandoned.
    pub fn stop(&mut self) {
        self.start = None;
    }

    /// `n` bytes arrived.
    pub fn record(&mut self, n: usize) {
        if self.start.is_some() {
            self.bytes = self.bytes.saturating_add(n as u64);
        }
    }

    /// When the current window ends (`None` when not measuring).
    pub fn deadline(&self) -> Option<Instant> {
        self.start.map(|s| s + self.window)
    }

    /// At or after the window's end: whether the window held enough bytes; the next
    /// window starts at `now`. Before it: true.
    pub fn check(&mut self, now: Instant) -> bool {
        match self.deadline() {
            Some(end) if now >= end => {
                let ok = self.bytes >= self.required();
                self.start = Some(now);
                self.bytes = 0;
                ok
            }
            _ => true,
        }
    }

    fn required(&self) -> u64 {
        let ms = u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX);
        self.min_rate.saturating_mul(ms) / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(100, Duration::from_secs(2));
        assert_eq!(m.deadline(), None);
        m.record(5);
        m.start(t0);
        assert_eq!(m.deadline(), Some(t0 + Duration::from_secs(2)));
        m.record(150);
        assert!(m.check(t0 + Duration::from_secs(1)), "window not over yet");
        m.record(50);
        assert!(
            m.check(t0 + Duration::from_secs(2)),
            "200 bytes in 2 s is enough"
        );
        m.record(199);
        assert!(
            !m.check(t0 + Duration::from_secs(4)),
            "199 bytes in 2 s is not"
        );
        m.stop();
        assert!(m.check(t0 + Duration::from_secs(100)));
    }

    #[test]
    fn zero_rate_is_off() {
        let mut m = RateMeter::new(0, Duration::from_secs(1));
        m.start(Instant::now());
        assert_eq!(m.deadline(), None);
    }
}
