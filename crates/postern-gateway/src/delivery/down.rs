//! Which connectors are down, and when to probe them again.
//!
//! A smart-host connector whose every host failed to connect or greet is marked down in
//! `ctx.connectors` (so `postern route test` and the router see it) and skipped by later
//! deliveries, which go to the next candidate at once. It is not skipped forever: once
//! the retry policy's first interval has passed since it went down, the next delivery
//! tries it again (a probe); success marks it up. And the mark expires by time
//! (`[retry] down_expiry`): the delivery loop lifts it even when no queued message is left
//! to probe the connector (issue 25), so new mail goes to it again. A DNS (MX) connector is never marked
//! down: its hosts differ per domain, so one unreachable domain says nothing about the
//! others. Its recipients still fail over to the next candidate in the same attempt.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use postern_queue::{RetryDecision, RetryInput, RetryPolicy, Timestamp};
use postern_route::ConnectorState;

use crate::context::Context;

/// When each connector this loop marked down went down.
#[derive(Debug)]
pub struct DownConnectors {
    since: Mutex<HashMap<String, Instant>>,
    probe_after: Duration,
    /// After this a mark is lifted by [`DownConnectors::expire`].
    expiry: Duration,
    /// The reply of the failure that marked each connector down: what a recipient skipped
    /// meanwhile is told (its notice then quotes the real error, issue 22).
    why: Mutex<HashMap<String, String>>,
}

/// The first retry interval of the policy: how long a down connector is left alone.
fn first_interval(policy: &RetryPolicy) -> Duration {
    let input = RetryInput {
        failures: 1,
        first_failure: Timestamp(0),
        last_gap: Duration::ZERO,
        expires: Timestamp(u64::MAX),
        seed: 0,
    };
    match policy.next_attempt(&input, Timestamp(0)) {
        RetryDecision::RetryAt { gap, .. } => gap,
        _ => Duration::ZERO,
    }
}

impl DownConnectors {
    /// Down marks probed again after the first retry interval of `policy`.
    pub fn new(policy: &RetryPolicy) -> DownConnectors {
        DownConnectors {
            since: Mutex::new(HashMap::new()),
            probe_after: first_interval(policy),
            expiry: crate::config::DEFAULT_DOWN_EXPIRY,
            why: Mutex::new(HashMap::new()),
        }
    }

    /// The same, with marks lifted after `expiry` (`[retry] down_expiry`).
    pub fn expiring_after(mut self, expiry: Duration) -> DownConnectors {
        self.expiry = expiry;
        self
    }

    /// How long after a connector went down it is tried again: the first retry
    /// interval, or the expiry of the mark when that comes first.
    fn retry_after(&self) -> Duration {
        self.probe_after.min(self.expiry)
    }

    /// Lifts the marks older than the expiry; returns the connectors marked up again.
    /// The delivery loop calls it every round, so a mark goes even when nothing is
    /// queued for its connector.
    pub fn expire(&self, ctx: &Context) -> Vec<String> {
        let old: Vec<String> = {
            let since = self.since.lock().unwrap_or_else(PoisonError::into_inner);
            since
                .iter()
                .filter(|(_, t)| t.elapsed() >= self.expiry)
                .map(|(n, _)| n.clone())
                .collect()
        };
        old.into_iter().filter(|n| self.clear(ctx, n)).collect()
    }

    /// Whether to try `connector` now: it is up, or it is due for a probe.
    pub fn should_try(&self, ctx: &Context, connector: &str) -> bool {
        let up = ctx
            .connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_available(connector);
        if up {
            return true;
        }
        // Down by someone else's hand (no time recorded): leave it alone.
        let since = self.since.lock().unwrap_or_else(PoisonError::into_inner);
        since
            .get(connector)
            .is_some_and(|t| t.elapsed() >= self.retry_after())
    }

    /// Records that every host of `connector` failed.
    pub fn mark_down(&self, ctx: &Context, connector: &str) {
        self.since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(connector.to_owned(), Instant::now());
        ctx.connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .set_down(connector, true);
    }

    /// Records that `connector` delivered (or at least connected).
    pub fn mark_up(&self, ctx: &Context, connector: &str) {
        self.clear(ctx, connector);
    }

    /// Lifts this loop's down mark of `connector` (delivery, or an administrator's
    /// retry); true when it was marked down.
    pub fn clear(&self, ctx: &Context, connector: &str) -> bool {
        let was = self
            .since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(connector);
        if was.is_some() {
            ctx.connectors
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .set_down(connector, false);
        }
        was.is_some()
    }

    /// The connectors this loop marked down: name, how long ago, and how long until the
    /// next probe (zero: the next delivery probes it). Sorted by name.
    pub fn list(&self) -> Vec<(String, Duration, Duration)> {
        let since = self.since.lock().unwrap_or_else(PoisonError::into_inner);
        let mut v: Vec<_> = since
            .iter()
            .map(|(n, t)| {
                let ago = t.elapsed();
                (n.clone(), ago, self.retry_after().saturating_sub(ago))
            })
            .collect();
        v.sort();
        v
    }
}

impl DownConnectors {
    /// Remembers `reply` as the reason `connector` went down.
    pub fn note_failure(&self, connector: &str, reply: &str) {
        self.why
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(connector.to_owned(), reply.to_owned());
    }

    /// The reply for a recipient skipped because `connector` is down: the failure that
    /// marked it down, when known, so notices quote the real error (connection refused,
    /// time-out) rather than only "is down".
    pub fn skip_reply(&self, connector: &str) -> String {
        let why = self
            .why
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(connector)
            .cloned();
        match why {
            Some(w) => format!("{w} (connector {connector} is down since then)"),
            None => format!("451 4.4.4 connector {connector} is down"),
        }
    }
}
