//! The gateway's metrics in the OpenMetrics/Prometheus text format, through the
//! `prometheus-client` crate.
//!
//! Two kinds live here. The counters `postern status` also shows (accepted, delivered,
//! deferred, failed, notices, sessions) are kept once, in [`crate::status::Stats`], and
//! copied into each exposition, as are the queue and spool gauges, read from the queue at
//! scrape time. What only the metrics need — rejections by reason and the latency
//! histograms — is kept in [`Metrics`], which lives in the [`Context`].
//!
//! [`render`] builds the whole text; whoever serves HTTP calls it.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::context::Context;

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

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

    /// Records one delivery attempt to `destination` that delivered: how long the
    /// attempt took, and how long the message had been queued.
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

/// The metrics text of `ctx` (OpenMetrics text, which Prometheus reads; names start
/// with `postern_`). Reads the queue's summary, so call it off the async threads when
/// the queue is large.
pub fn render(ctx: &Context) -> String {
    let mut r = Registry::with_prefix("postern");
    register_stats(&mut r, ctx);
    register_queue(&mut r, ctx);
    let m = &ctx.metrics;
    r.register(
        "connections",
        "Inbound TCP connections since start, refused ones included",
        m.connections.clone(),
    );
    r.register(
        "rejected",
        "Connections, commands and messages refused since start, by reason",
        m.rejected.clone(),
    );
    r.register(
        "ndrs",
        "Non-delivery reports queued since start",
        ConstCounter::new(m.ndrs.load(Ordering::Relaxed)),
    );
    r.register(
        "accept_latency_seconds",
        "Time from the end of DATA to the 250 that accepted the message",
        m.accept_latency.clone(),
    );
    r.register(
        "delivery_latency_seconds",
        "Time a delivery attempt that delivered took, by destination",
        m.delivery_latency.clone(),
    );
    r.register(
        "queue_age_at_delivery_seconds",
        "Time a message had been queued when a recipient of it was delivered",
        m.queue_age.clone(),
    );
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut text, &r);
    text
}

/// The counters [`crate::status::Stats`] keeps (also in `status.json`).
fn register_stats(r: &mut Registry, ctx: &Context) {
    let s = &ctx.stats;
    let c = |a: &AtomicU64| ConstCounter::new(a.load(Ordering::Relaxed));
    r.register(
        "sessions_open",
        "Inbound SMTP sessions open now",
        ConstGauge::new(s.sessions.load(Ordering::Relaxed)),
    );
    r.register(
        "sessions",
        "Inbound SMTP sessions since start",
        c(&s.sessions_total),
    );
    r.register(
        "messages_accepted",
        "Messages accepted since start",
        c(&s.accepted),
    );
    r.register(
        "recipients_delivered",
        "Recipients delivered since start",
        c(&s.delivered),
    );
    r.register(
        "recipients_deferred",
        "Recipient deferrals since start",
        c(&s.deferred),
    );
    r.register(
        "recipients_failed",
        "Recipients failed since start",
        c(&s.failed),
    );
    r.register(
        "notices",
        "Delivery status notifications generated since start",
        c(&s.notices),
    );
}

/// The queue and spool gauges, read now.
fn register_queue(r: &mut Registry, ctx: &Context) {
    let s = ctx.queue.summary(ctx.now());
    let spool = ctx.queue.spool().stats();
    let g = |v: u64| ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
    r.register("queue_messages", "Messages in the queue", g(s.messages));
    r.register(
        "queue_held_messages",
        "Messages in the queue held by an administrator",
        g(s.held_messages),
    );
    r.register(
        "queue_recipients_deferred",
        "Recipients waiting for a retry",
        g(s.states.deferred),
    );
    r.register(
        "queue_oldest_seconds",
        "Age of the oldest queued message",
        g(s.oldest.as_secs()),
    );
    r.register(
        "spool_bytes",
        "Bytes of the spool's segment files",
        g(spool.bytes),
    );
    r.register(
        "spool_live_bytes",
        "Bytes of the spool the queued messages need",
        g(spool.live_bytes),
    );
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
