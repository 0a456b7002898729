//! The gateway's metrics in the OpenMetrics/Prometheus text format, through the
//! `prometheus-client` crate.
//!
//! Two kinds live here. The counters `postern status` also shows (accepted, delivered,
//! deferred, failed, notices, sessions) are kept once, in [`crate::status::Stats`], and
//! copied into each exposition, as are the queue and spool gauges, read from the queue at
//! scrape time. What only the metrics need — rejections by reason and the latency
//! histograms — is kept in [`Metrics`] ([`recorder`]), which lives in the [`Context`].
//!
//! [`render`] builds the whole text; whoever serves HTTP calls it.

pub mod recorder;

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

pub use self::recorder::{MAX_DESTINATION_SERIES, Metrics, REJECT_REASONS};
use crate::context::Context;

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The metrics text of `ctx` (OpenMetrics text, which Prometheus reads; names start
/// with `postern_`). Asks the queue's backend for its summary (an empty one if it
/// cannot answer).
pub async fn render(ctx: &Context) -> String {
    let summary = ctx.queue.summary(ctx.now()).await.unwrap_or_default();
    let mut r = Registry::with_prefix("postern");
    register_stats(&mut r, ctx);
    register_queue(&mut r, ctx, &summary);
    ctx.metrics.register(&mut r);
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
fn register_queue(r: &mut Registry, ctx: &Context, s: &postern_queue::Summary) {
    let spool = ctx
        .queue
        .local()
        .map(|q| q.spool().stats())
        .unwrap_or_default();
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
