//! What only the metrics count, updated by the sessions and the delivery loop:
//! rejections by reason, connections, NDRs, and the latency histograms. A leaf module
//! (the [`crate::context::Context`] holds one; [`crate::metrics::render`] reads it).

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Most destinations that get a delivery-latency series of their own; the ones seen
/// after them share the series `destination="other"` (a label per domain ever mailed
/// would grow without bound).
pub const MAX_DESTINATION_SERIES: usize = 200;

/// The reasons [`Metrics::rejected`] counts, each with a series from the start (at 0),
/// so that a rate over them works before the first refusal: refused at connect by
/// `[connections]` rules, by the connection limits or by the transfer mode; a recipient
/// refused (relay, unknown), by a delivery restriction, or by recipient verification;
/// MAIL before a required AUTH; a message refused as a mail loop; a message the queue
/// could not store.
pub const REJECT_REASONS: [&str; 10] = [
    "connection_rule",
    "max_connections",
    "max_connections_per_ip",
    "transfer_mode",
    "recipient",
    "restriction",
    "recipient_verification",
    "auth_required",
    "loop",
    "queue_error",
];

/// The label `destination="other"` falls back to.
const OTHER: &str = "other";

type Labels = Vec<(String, String)>;
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// Latency buckets, seconds: 1 ms to about 9 hours, by powers of 4.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 4.0, 13))
}

/// Queue-age buckets, seconds: 10 ms to about 7 days, by powers of 4.
fn age_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 4.0, 15))
}

fn reason_label(reason: &str) -> Labels {
    vec![("reason".to_owned(), reason.to_owned())]
}

/// What the metrics alone count: rejections by reason and the latency histograms.
/// Cheap to update from any task (atomics inside).
#[derive(Debug)]
pub struct Metrics {
    rejected: Family<Labels, Counter>,
    connections: Counter,
    accept_latency: Histogram,
    delivery_latency: HistogramFamily,
    queue_age: Histogram,
    ndrs: AtomicU64,
    destinations: Mutex<HashSet<String>>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let rejected = Family::<Labels, Counter>::default();
        for reason in REJECT_REASONS {
            let _ = rejected.get_or_create(&reason_label(reason));
        }
        Metrics {
            rejected,
            connections: Counter::default(),
            accept_latency: latency_histogram(),
            delivery_latency: Family::new_with_constructor(latency_histogram),
            queue_age: age_histogram(),
            ndrs: AtomicU64::new(0),
            destinations: Mutex::new(HashSet::new()),
        }
    }
}

impl Metrics {
    /// Counts a refusal: a connection refused at connect, a command or a message
    /// refused. `reason` is one of [`REJECT_REASONS`].
    pub fn rejected(&self, reason: &str) {
        debug_assert!(REJECT_REASONS.contains(&reason), "{reason}");
        self.rejected.get_or_create(&reason_label(reason)).inc();
    }

    /// Counts an inbound TCP connection, refused or not.
    pub fn connection(&self) {
        self.connections.inc();
    }

    /// Records the time from the end of DATA to the `250` that accepted the message.
    pub fn accepted_after(&self, latency: Duration) {
        self.accept_latency.observe(latency.as_secs_f64());
    }

    /// Records one delivery attempt to `destination` that delivered to at least one
    /// recipient: how long the attempt took, and how long the message had been queued.
    pub fn delivered(&self, destination: &str, latency: Duration, queued: Duration) {
        let dest = self.destination_label(destination);
        self.delivery_latency
            .get_or_create(&vec![("destination".to_owned(), dest)])
            .observe(latency.as_secs_f64());
        self.queue_age.observe(queued.as_secs_f64());
    }

    /// Counts a non-delivery report queued.
    pub fn ndr(&self) {
        self.ndrs.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds these metrics to `r` (they share their values with `self`).
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "connections",
            "Inbound TCP connections since start, refused ones included",
            self.connections.clone(),
        );
        r.register(
            "rejected",
            "Connections, commands and messages refused since start, by reason",
            self.rejected.clone(),
        );
        r.register(
            "ndrs",
            "Non-delivery reports queued since start",
            ConstCounter::new(self.ndrs.load(Ordering::Relaxed)),
        );
        r.register(
            "accept_latency_seconds",
            "Time from the end of DATA to the 250 that accepted the message",
            self.accept_latency.clone(),
        );
        r.register(
            "delivery_latency_seconds",
            "Time a delivery attempt that delivered (to one recipient or more) took, by destination",
            self.delivery_latency.clone(),
        );
        r.register(
            "queue_age_at_delivery_seconds",
            "Time a message had been queued when an attempt delivered it (to one recipient or more)",
            self.queue_age.clone(),
        );
    }

    /// `destination`, lower-cased, while fewer than [`MAX_DESTINATION_SERIES`] have been
    /// seen; `other` after that.
    fn destination_label(&self, destination: &str) -> String {
        let d = destination.to_ascii_lowercase();
        let mut seen = self
            .destinations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.contains(&d) {
            return d;
        }
        if seen.len() < MAX_DESTINATION_SERIES {
            seen.insert(d.clone());
            return d;
        }
        OTHER.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_beyond_the_cap_share_one_series() {
        let m = Metrics::default();
        for n in 0..MAX_DESTINATION_SERIES {
            assert_eq!(
                m.destination_label(&format!("D{n}.test")),
                format!("d{n}.test")
            );
        }
        assert_eq!(m.destination_label("new.test"), OTHER);
        assert_eq!(m.destination_label("D0.test"), "d0.test");
    }
}
