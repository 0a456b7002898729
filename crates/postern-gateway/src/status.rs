//! The live view of a gateway (the IMS Queues tab): counters, the sessions open now,
//! and the most recent deliveries and failures. The admin API serves it
//! (`GET /api/v1/status`, which `postern status` asks) and the counters go to
//! Prometheus when `[status] metrics_listen` is set.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// How many recent deliveries and failures are kept.
pub const RECENT: usize = 20;

/// One recent outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentEvent {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The queue id.
    pub queue_id: String,
    /// The recipient.
    pub recipient: String,
    /// The destination (domain).
    pub destination: String,
    /// The reply.
    pub reply: String,
}

/// Counters and recent events, updated by the sessions and the delivery loop.
#[derive(Debug, Default)]
pub struct Stats {
    /// Inbound sessions open now.
    pub sessions: AtomicI64,
    /// Inbound sessions since start.
    pub sessions_total: AtomicU64,
    /// Messages accepted (250 to DATA) since start.
    pub accepted: AtomicU64,
    /// Recipients delivered since start.
    pub delivered: AtomicU64,
    /// Recipients deferred since start.
    pub deferred: AtomicU64,
    /// Recipients failed since start.
    pub failed: AtomicU64,
    /// Notices generated since start.
    pub notices: AtomicU64,
    recent_delivered: Mutex<VecDeque<RecentEvent>>,
    recent_failed: Mutex<VecDeque<RecentEvent>>,
}

fn push(list: &Mutex<VecDeque<RecentEvent>>, e: RecentEvent) {
    let mut g = list
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if g.len() == RECENT {
        g.pop_front();
    }
    g.push_back(e);
}

/// `s` as a JSON string literal.
pub(crate) fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

impl Stats {
    /// Counts a delivered recipient.
    pub fn delivered(&self, e: RecentEvent) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        push(&self.recent_delivered, e);
    }

    /// Counts a failed recipient.
    pub fn failed(&self, e: RecentEvent) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        push(&self.recent_failed, e);
    }

    /// The recent deliveries, oldest first.
    pub fn recent_delivered(&self) -> Vec<RecentEvent> {
        self.recent_delivered
            .lock()
            .map(|g| g.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The recent failures, oldest first.
    pub fn recent_failed(&self) -> Vec<RecentEvent> {
        self.recent_failed
            .lock()
            .map(|g| g.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn counters(&self) -> [(&'static str, &'static str, i64); 7] {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed) as i64;
        [
            (
                "sessions_open",
                "Inbound SMTP sessions open now",
                self.sessions.load(Ordering::Relaxed),
            ),
            (
                "sessions_total",
                "Inbound SMTP sessions since start",
                g(&self.sessions_total),
            ),
            (
                "messages_accepted_total",
                "Messages accepted since start",
                g(&self.accepted),
            ),
            (
                "recipients_delivered_total",
                "Recipients delivered since start",
                g(&self.delivered),
            ),
            (
                "recipients_deferred_total",
                "Recipient deferrals since start",
                g(&self.deferred),
            ),
            (
                "recipients_failed_total",
                "Recipients failed since start",
                g(&self.failed),
            ),
            (
                "notices_total",
                "Delivery status notifications generated since start",
                g(&self.notices),
            ),
        ]
    }

    /// The counters in the Prometheus text format, with `extra` gauges appended.
    pub fn prometheus(&self, extra: &[(&str, &str, i64)]) -> String {
        let mut o = String::new();
        for (name, help, v) in self.counters().iter().copied().chain(extra.iter().copied()) {
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            let _ = writeln!(
                o,
                "# HELP postern_{name} {help}\n# TYPE postern_{name} {kind}\npostern_{name} {v}"
            );
        }
        o
    }

    /// The counters and recent events as JSON members (without the braces).
    pub fn json_members(&self) -> String {
        let mut o = String::new();
        for (name, _, v) in self.counters() {
            let _ = write!(o, "\"{name}\":{v},");
        }
        let list = |v: Vec<RecentEvent>| {
            let items: Vec<String> = v
                .iter()
                .map(|e| {
                    format!(
                        "{{\"time_ms\":{},\"queue_id\":{},\"recipient\":{},\"destination\":{},\"reply\":{}}}",
                        e.time_ms,
                        json_str(&e.queue_id),
                        json_str(&e.recipient),
                        json_str(&e.destination),
                        json_str(&e.reply)
                    )
                })
                .collect();
            format!("[{}]", items.join(","))
        };
        let _ = write!(
            o,
            "\"recent_delivered\":{},\"recent_failed\":{}",
            list(self.recent_delivered()),
            list(self.recent_failed())
        );
        o
    }
}

/// The spool's space as a JSON member: `"spool":{"segments":…,"bytes":…,"live_bytes":…,
/// "dead_bytes":…}` (bytes of its segment files; live: what the queued messages need).
pub fn spool_json(s: &postern_queue::SpoolStats) -> String {
    format!(
        "\"spool\":{{\"segments\":{},\"bytes\":{},\"live_bytes\":{},\"dead_bytes\":{}}}",
        s.segments,
        s.bytes,
        s.live_bytes,
        s.dead_bytes()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: usize) -> RecentEvent {
        RecentEvent {
            time_ms: n as u64,
            queue_id: format!("Q{n}"),
            recipient: "a\"b@x".into(),
            destination: "c".into(),
            reply: "250 ok".into(),
        }
    }

    #[test]
    fn keeps_the_latest_and_formats() {
        let s = Stats::default();
        for n in 0..RECENT + 5 {
            s.delivered(ev(n));
        }
        let r = s.recent_delivered();
        assert_eq!(r.len(), RECENT);
        assert_eq!(r[0].queue_id, "Q5");
        assert_eq!(s.delivered.load(Ordering::Relaxed), (RECENT + 5) as u64);
        let p = s.prometheus(&[("queue_messages", "Messages in the queue", 3)]);
        assert!(p.contains("# TYPE postern_recipients_delivered_total counter\npostern_recipients_delivered_total 25\n"));
        assert!(p.contains("# TYPE postern_queue_messages gauge\npostern_queue_messages 3\n"));
        let j = format!("{{{}}}", s.json_members());
        assert!(j.contains("\"recipient\":\"a\\\"b@x\""), "{j}");
        let st = postern_queue::SpoolStats {
            segments: 2,
            bytes: 1000,
            live_bytes: 400,
            ..Default::default()
        };
        assert_eq!(
            spool_json(&st),
            "\"spool\":{\"segments\":2,\"bytes\":1000,\"live_bytes\":400,\"dead_bytes\":600}"
        );
    }
}
