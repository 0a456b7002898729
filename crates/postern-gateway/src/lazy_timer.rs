//! A timer kept across many waits, each with its own deadline: registered with the
//! runtime once and moved only when a wait's deadline comes sooner than it, or after it
//! fired. A fresh `tokio::time::timeout` for every read costs a registration and a
//! removal on the runtime's timer wheel each time; a session or a connection reads
//! several times a message, and its deadlines only move later as it makes progress, so
//! this timer is rarely moved at all. It may fire before a wait's deadline (one set for
//! an earlier wait); the wait then checks the clock and goes on.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// Far enough ahead that any wait's deadline comes sooner and sets the timer.
const UNSET: Duration = Duration::from_secs(365 * 24 * 3600);

/// See the module documentation.
pub(crate) struct LazyTimer(Pin<Box<Sleep>>);

impl LazyTimer {
    /// A timer not yet set for any wait.
    pub(crate) fn new() -> LazyTimer {
        LazyTimer(Box::pin(tokio::time::sleep_until(Instant::now() + UNSET)))
    }

    /// Makes the timer fire at `deadline` or before it. A later deadline than the one
    /// set leaves the timer alone: firing early costs one check of the clock.
    pub(crate) fn arm(&mut self, deadline: Instant) {
        if self.0.is_elapsed() || deadline < self.0.deadline() {
            self.0.as_mut().reset(deadline);
        }
    }

    /// The timer, to wait on after [`arm`](Self::arm).
    pub(crate) fn fired(&mut self) -> Pin<&mut Sleep> {
        self.0.as_mut()
    }

    /// `f`'s output, or `None` once `d` has passed (`Duration::MAX`: no time-out).
    pub(crate) async fn within<F: Future>(&mut self, d: Duration, f: F) -> Option<F::Output> {
        let Some(deadline) = Instant::now().checked_add(d) else {
            return Some(f.await);
        };
        let mut f = std::pin::pin!(f);
        loop {
            self.arm(deadline);
            tokio::select! {
                out = f.as_mut() => return Some(out),
                () = self.fired() => if Instant::now() >= deadline {
                    return None;
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: Duration = Duration::from_millis(150);

    #[tokio::test]
    async fn times_out_at_the_deadline_and_passes_what_comes_first() {
        let mut t = LazyTimer::new();
        let started = Instant::now();
        assert_eq!(t.within(SHORT, std::future::pending::<()>()).await, None);
        let waited = started.elapsed();
        assert!(waited >= SHORT && waited < 20 * SHORT, "{waited:?}");
        assert_eq!(t.within(SHORT, async { 7 }).await, Some(7));
        assert_eq!(t.within(Duration::MAX, async { 8 }).await, Some(8));
    }

    /// A wait with a later deadline outlives a timer set for an earlier one.
    #[tokio::test]
    async fn an_early_fire_is_not_a_time_out() {
        let mut t = LazyTimer::new();
        assert_eq!(t.within(SHORT, async { 1 }).await, Some(1)); // set for SHORT from now
        let late = async {
            tokio::time::sleep(2 * SHORT).await;
            2
        };
        assert_eq!(t.within(4 * SHORT, late).await, Some(2));
    }

    /// A wait with a sooner deadline than the one set is not held to the later one.
    #[tokio::test]
    async fn a_sooner_deadline_moves_the_timer() {
        let mut t = LazyTimer::new();
        assert_eq!(
            t.within(Duration::from_secs(60), async { 1 }).await,
            Some(1)
        );
        let started = Instant::now();
        assert_eq!(t.within(SHORT, std::future::pending::<()>()).await, None);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
}
