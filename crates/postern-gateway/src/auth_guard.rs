//! Limits on password guessing: failed AUTH attempts are counted per session, per client
//! address and per user name, each failure is answered after a growing delay, a session
//! is closed after a few, and a client address with too many failures in a window gets no
//! more password checks until the window passes (Postfix's `smtpd_hard_error_limit` and
//! anvil, and Exim's rate limits, are the models).
//!
//! What is never done: refusing a correct password because of the *user name's* failures.
//! Guessing spread over many addresses makes every further failure for that name slower,
//! but the real user, from an address of their own, still logs in (no lock-out by
//! strangers). Memory is bounded: at most [`AuthLimits::max_tracked`] addresses and as
//! many names are remembered, the stalest dropped first.
//!
//! The guard reads no clock: every call takes `now`, so the tests run on simulated time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The settings of [`AuthGuard`] (`[security] auth_*` in the configuration). They are
/// passed to every call, so a reload changes them without forgetting the counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthLimits {
    /// Failed AUTH attempts after which the session is closed with `421 4.7.0`.
    /// Default 3. 0 turns the limit off.
    pub max_failures_per_session: u32,
    /// Failed AUTH attempts from one client address within [`window`](Self::window)
    /// after which AUTH from it is refused with `454 4.7.0` without checking the
    /// password. Default 10. 0 turns the limit off.
    pub max_failures_per_client: u32,
    /// Failed AUTH attempts for one user name within the window after which each further
    /// failure for that name waits [`max_delay`](Self::max_delay). A correct password is
    /// never refused for it. Default 20. 0 turns the limit off.
    pub max_failures_per_user: u32,
    /// How long a failure counts. Default 15 minutes.
    pub window: Duration,
    /// Delay before answering the first failure of a session; each further one doubles
    /// it. Default 1 s.
    pub delay: Duration,
    /// The longest delay. Default 8 s.
    pub max_delay: Duration,
    /// Client addresses and user names remembered, each. Default 10,000.
    pub max_tracked: usize,
}

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            max_failures_per_session: 3,
            max_failures_per_client: 10,
            max_failures_per_user: 20,
            window: Duration::from_secs(15 * 60),
            delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            max_tracked: 10_000,
        }
    }
}

/// What to do before checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Check it.
    Check,
    /// The client address has failed too often lately: answer `454 4.7.0` unchecked.
    ClientBlocked,
}

/// What to do after a failed check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Penalty {
    /// Wait this long before answering `535`.
    pub delay: Duration,
    /// Then close the session with `421 4.7.0` (the per-session limit is reached).
    pub disconnect: bool,
}

/// Failures within the window, and when the newest was.
#[derive(Debug, Clone, Copy)]
struct Counter {
    failures: u32,
    first: Instant,
    last: Instant,
}

impl Counter {
    /// The count at `now`: a counter whose window has passed starts again.
    fn current(&self, now: Instant, window: Duration) -> u32 {
        if now.saturating_duration_since(self.first) >= window {
            0
        } else {
            self.failures
        }
    }
}

/// Failure counters shared by every session of a gateway.
#[derive(Debug, Default)]
pub struct AuthGuard {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    clients: HashMap<IpAddr, Counter>,
    users: HashMap<String, Counter>,
    /// Failures recorded since start, for status and metrics.
    total_failures: u64,
    /// AUTH attempts refused unchecked since start.
    total_blocked: u64,
}

/// Counts since start, for status and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthGuardStats {
    /// Failed password checks.
    pub failures: u64,
    /// Attempts refused without a check because the client address was blocked.
    pub blocked: u64,
}

impl AuthGuard {
    /// A guard with nothing counted.
    pub fn new() -> AuthGuard {
        AuthGuard::default()
    }

    /// Whether to check a password from `client` at all.
    pub fn admit(&self, limits: &AuthLimits, client: IpAddr, now: Instant) -> Admission {
        let max = limits.max_failures_per_client;
        let mut state = self.lock();
        let blocked = max > 0
            && state
                .clients
                .get(&client)
                .is_some_and(|c| c.current(now, limits.window) >= max);
        if blocked {
            state.total_blocked += 1;
            Admission::ClientBlocked
        } else {
            Admission::Check
        }
    }

    /// Records a failed check of `username` from `client`, the session's
    /// `session_failures`-th (counting this one), and says how to answer.
    pub fn failed(
        &self,
        l: &AuthLimits,
        client: IpAddr,
        username: &str,
        session_failures: u32,
        now: Instant,
    ) -> Penalty {
        let mut state = self.lock();
        state.total_failures += 1;
        bump(&mut state.clients, client, now, l);
        let user_failures = bump(&mut state.users, username.to_lowercase(), now, l);
        let user_flooded = l.max_failures_per_user > 0 && user_failures > l.max_failures_per_user;
        let delay = if user_flooded {
            l.max_delay
        } else {
            growing_delay(l.delay, l.max_delay, session_failures)
        };
        Penalty {
            delay,
            disconnect: l.max_failures_per_session > 0
                && session_failures >= l.max_failures_per_session,
        }
    }

    /// Counts since start.
    pub fn stats(&self) -> AuthGuardStats {
        let state = self.lock();
        AuthGuardStats {
            failures: state.total_failures,
            blocked: state.total_blocked,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves counters, not broken invariants.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `base` doubled for each failure after the first, at most `max`.
fn growing_delay(base: Duration, max: Duration, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    base.saturating_mul(1 << doublings).min(max)
}

/// Adds a failure for `key` and returns its count in the current window. Keeps the map
/// within `max_tracked` entries: expired counters go first, then the stalest.
fn bump<K: std::hash::Hash + Eq + Clone>(
    map: &mut HashMap<K, Counter>,
    key: K,
    now: Instant,
    limits: &AuthLimits,
) -> u32 {
    if !map.contains_key(&key) && map.len() >= limits.max_tracked.max(1) {
        map.retain(|_, c| c.current(now, limits.window) > 0);
        if map.len() >= limits.max_tracked.max(1)
            && let Some(stalest) = map
                .iter()
                .min_by_key(|(_, c)| c.last)
                .map(|(k, _)| k.clone())
        {
            map.remove(&stalest);
        }
    }
    let counter = map.entry(key).or_insert(Counter {
        failures: 0,
        first: now,
        last: now,
    });
    if counter.current(now, limits.window) == 0 {
        *counter = Counter {
            failures: 0,
            first: now,
            last: now,
        };
    }
    counter.failures = counter.failures.saturating_add(1);
    counter.last = now;
    counter.failures
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn delays_grow_and_the_session_closes_at_its_limit() {
        let (guard, l) = (AuthGuard::new(), AuthLimits::default());
        let t = Instant::now();
        let answers: Vec<Penalty> = (1..=3)
            .map(|n| guard.failed(&l, ip(1), "jo", n, t))
            .collect();
        let delays: Vec<u64> = answers.iter().map(|p| p.delay.as_secs()).collect();
        assert_eq!(delays, [1, 2, 4]);
        assert_eq!(
            answers.iter().map(|p| p.disconnect).collect::<Vec<_>>(),
            [false, false, true]
        );
        assert_eq!(
            growing_delay(Duration::from_secs(1), Duration::from_secs(8), 30).as_secs(),
            8
        );
    }

    #[test]
    fn a_client_that_keeps_failing_is_blocked_for_the_window_only() {
        let (guard, l) = (AuthGuard::new(), AuthLimits::default());
        let t = Instant::now();
        for n in 0..10 {
            assert_eq!(guard.admit(&l, ip(1), t), Admission::Check, "attempt {n}");
            guard.failed(&l, ip(1), &format!("user{n}"), 1, t);
        }
        assert_eq!(guard.admit(&l, ip(1), t), Admission::ClientBlocked);
        // Another address is not affected.
        assert_eq!(guard.admit(&l, ip(2), t), Admission::Check);
        // The window passes: checks again.
        let later = t + Duration::from_secs(15 * 60);
        assert_eq!(guard.admit(&l, ip(1), later), Admission::Check);
        assert_eq!(
            guard.stats(),
            AuthGuardStats {
                failures: 10,
                blocked: 1
            }
        );
    }

    #[test]
    fn guessing_one_name_from_many_addresses_slows_but_never_locks_out() {
        let (guard, l) = (AuthGuard::new(), AuthLimits::default());
        let t = Instant::now();
        for n in 0..20u8 {
            let p = guard.failed(&l, ip(n), "Boss", 1, t);
            assert_eq!(p.delay, Duration::from_secs(1), "within the per-user limit");
        }
        // The 21st failure for the name (any case) waits the longest delay…
        assert_eq!(
            guard.failed(&l, ip(100), "boss", 1, t).delay,
            Duration::from_secs(8)
        );
        // …but the real user's own address is still admitted to a password check.
        assert_eq!(guard.admit(&l, ip(200), t), Admission::Check);
    }

    #[test]
    fn memory_stays_within_max_tracked() {
        let limits = AuthLimits {
            max_tracked: 4,
            ..AuthLimits::default()
        };
        let (guard, l) = (AuthGuard::new(), limits);
        let t = Instant::now();
        for n in 0..50u8 {
            guard.failed(
                &l,
                ip(n),
                &format!("u{n}"),
                1,
                t + Duration::from_millis(u64::from(n)),
            );
        }
        let state = guard.lock();
        assert!(state.clients.len() <= 4 && state.users.len() <= 4);
        // The newest survive.
        assert!(state.clients.contains_key(&ip(49)));
    }

    #[test]
    fn zero_turns_each_limit_off() {
        let limits = AuthLimits {
            max_failures_per_session: 0,
            max_failures_per_client: 0,
            max_failures_per_user: 0,
            ..AuthLimits::default()
        };
        let (guard, l) = (AuthGuard::new(), limits);
        let t = Instant::now();
        for n in 1..=100 {
            assert!(!guard.failed(&l, ip(1), "jo", n, t).disconnect);
        }
        assert_eq!(guard.admit(&l, ip(1), t), Admission::Check);
    }
}
