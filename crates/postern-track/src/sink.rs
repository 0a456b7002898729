//! The storage seam of tracking: [`EventSink`] (where events go) and [`EventSearch`]
//! (where searches and traces read them), so a gateway is written once for the local
//! daily files ([`Writer`], [`Reader`]) and a shared database (the PostgreSQL backend in
//! its own crate, one search over every node of a cluster).
//!
//! Results say which **node** recorded each event ([`NodeEvent::node`]): the daily
//! files hold one machine's events and say `None`; a shared backend names the node.
//!
//! ```
//! use postern_track::{DailyFiles, Event, EventKind, EventSearch, EventSink, Filter, Writer, WriterConfig};
//!
//! let dir = std::env::temp_dir().join(format!("postern-track-sink-{}", std::process::id()));
//! let sink: Box<dyn EventSink> = Box::new(Writer::open(WriterConfig::new(&dir))?);
//! sink.record(Event::new(sink.now(), EventKind::Received).message_id("<m@x>"))?;
//! sink.flush()?;
//! let search: Box<dyn EventSearch> = Box::new(DailyFiles::new(&dir));
//! let found = search.search(&Filter::new().message_id("m@x"))?;
//! assert_eq!(found.events.len(), 1);
//! assert_eq!(found.events[0].node, None, "the daily files are one node's");
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), postern_track::TrackError>(())
//! ```

use std::fmt;

use crate::query::{Reader, SearchResult, Trace};
use crate::scan::ScanStats;
use crate::writer::{Writer, WriterStats};
use crate::{Event, Filter, Text, Timestamp, TrackError};

/// Where tracking events go. Object-safe: hold it as `Arc<dyn EventSink>`.
pub trait EventSink: Send + Sync + fmt::Debug {
    /// The sink's name as configured (`local`, `postgres`).
    fn backend(&self) -> &'static str;

    /// The current time by the sink's clock, for stamping events.
    fn now(&self) -> Timestamp;

    /// Hands `event` over for writing. **Never blocks** on a disk or a database: an
    /// implementation queues it (a bounded channel to a writer or batching task) and,
    /// when the queue is full, drops it and counts it ([`TrackError::QueueFull`]).
    fn record(&self, event: Event) -> Result<(), TrackError>;

    /// Waits until every event recorded before the call is written (committed).
    /// Blocks: call it off an async runtime's worker threads, at shutdown or in tests.
    fn flush(&self) -> Result<(), TrackError>;

    /// The counters so far.
    fn stats(&self) -> WriterStats;
}

/// One event found, and the node that recorded it (`None`: this machine's daily files,
/// which do not name one).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeEvent {
    /// The node's name, as configured on it (`[storage] node`).
    pub node: Option<Text>,
    /// The event.
    pub event: Event,
}

/// The answer to [`EventSearch::search`].
#[derive(Debug, Clone, Default)]
pub struct NodeSearch {
    /// Matching events in time order.
    pub events: Vec<NodeEvent>,
    /// Whether the search stopped at its result limit (there may be more).
    pub truncated: bool,
    /// What was read and skipped (the daily files; zero for a database).
    pub stats: ScanStats,
}

/// The answer to [`EventSearch::trace`]: the life of one message across every node.
#[derive(Debug, Clone, Default)]
pub struct NodeTrace {
    /// The events, in time order.
    pub events: Vec<NodeEvent>,
    /// The queue ids involved, in the order they were found.
    pub queue_ids: Vec<Text>,
    /// The message-ids involved (the message's own first).
    pub message_ids: Vec<Text>,
    /// Whether a trace bound cut it short.
    pub truncated: bool,
    /// What was read and skipped (the daily files; zero for a database).
    pub stats: ScanStats,
}

/// Where searches and traces read events. Calls block (file reads, a database query):
/// an async caller runs them off its worker threads (`spawn_blocking`). Object-safe.
pub trait EventSearch: Send + Sync + fmt::Debug {
    /// The backend's name as configured (`local`, `postgres`).
    fn backend(&self) -> &'static str;

    /// The events matching `filter`, in time order.
    fn search(&self, filter: &Filter) -> Result<NodeSearch, TrackError>;

    /// The life of the message with `message_id` (see [`Reader::trace`]).
    fn trace(&self, message_id: &Text) -> Result<NodeTrace, TrackError>;
}

impl EventSink for Writer {
    fn backend(&self) -> &'static str {
        "local"
    }

    fn now(&self) -> Timestamp {
        Writer::now(self)
    }

    fn record(&self, event: Event) -> Result<(), TrackError> {
        Writer::record(self, event)
    }

    fn flush(&self) -> Result<(), TrackError> {
        Writer::flush(self)
    }

    fn stats(&self) -> WriterStats {
        Writer::stats(self)
    }
}

/// The local search backend: one machine's daily files, through a [`Reader`].
#[derive(Debug, Clone)]
pub struct DailyFiles(pub Reader);

impl DailyFiles {
    /// A search of the daily files in `dir`, with the reader's defaults.
    pub fn new(dir: impl Into<std::path::PathBuf>) -> DailyFiles {
        DailyFiles(Reader::new(dir))
    }
}

fn local(events: Vec<Event>) -> Vec<NodeEvent> {
    events
        .into_iter()
        .map(|event| NodeEvent { node: None, event })
        .collect()
}

impl From<SearchResult> for NodeSearch {
    fn from(r: SearchResult) -> NodeSearch {
        NodeSearch {
            events: local(r.events),
            truncated: r.truncated,
            stats: r.stats,
        }
    }
}

impl From<Trace> for NodeTrace {
    fn from(t: Trace) -> NodeTrace {
        NodeTrace {
            events: local(t.events),
            queue_ids: t.queue_ids,
            message_ids: t.message_ids,
            truncated: t.truncated,
            stats: t.stats,
        }
    }
}

impl EventSearch for DailyFiles {
    fn backend(&self) -> &'static str {
        "local"
    }

    fn search(&self, filter: &Filter) -> Result<NodeSearch, TrackError> {
        Ok(self.0.search(filter)?.into())
    }

    fn trace(&self, message_id: &Text) -> Result<NodeTrace, TrackError> {
        Ok(self.0.trace(message_id.clone())?.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventKind, WriterConfig};
    use std::sync::Arc;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("postern-sink-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// Events recorded through the sink trait come back through the search trait, with
    /// no node named, and a trace follows the bounce to its own queue id.
    #[test]
    fn daily_files_through_both_seams() {
        let dir = tmp("both");
        let writer = Writer::open(WriterConfig::new(&dir)).unwrap();
        let sink: Arc<dyn EventSink> = Arc::new(writer.clone());
        assert_eq!(sink.backend(), "local");
        let t = sink.now();
        for (kind, q) in [(EventKind::Received, "Q1"), (EventKind::Deferred, "Q1")] {
            let e = Event::new(t, kind)
                .queue_id(q)
                .message_id("<m1@x>")
                .sender("a@x");
            sink.record(e).unwrap();
        }
        let bounce = Event::new(t, EventKind::DsnGenerated)
            .queue_id("Q2")
            .message_id("<dsn@x>")
            .related_queue_id("Q1");
        sink.record(bounce).unwrap();
        sink.flush().unwrap();
        assert_eq!(sink.stats().written, 3);
        let search: Arc<dyn EventSearch> = Arc::new(DailyFiles::new(&dir));
        let found = search.search(&Filter::new().message_id("m1@x")).unwrap();
        let kinds: Vec<_> = found.events.iter().map(|e| e.event.kind).collect();
        assert_eq!(kinds, [EventKind::Received, EventKind::Deferred]);
        assert!(found.events.iter().all(|e| e.node.is_none()));
        assert!(!found.truncated);
        let tr = search.trace(&Text::from("<m1@x>")).unwrap();
        assert_eq!(tr.events.len(), 3, "{:?}", tr.events);
        assert_eq!(tr.queue_ids, [Text::from("Q1"), Text::from("Q2")]);
        assert!(tr.events.iter().all(|e| e.node.is_none()));
        // After shutdown the sink refuses at once instead of blocking.
        writer.shutdown().unwrap();
        let late = Event::new(t, EventKind::Sent);
        assert!(matches!(sink.record(late), Err(TrackError::Closed)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn backend_errors_name_the_backend() {
        let e = TrackError::Backend {
            backend: "postgres",
            reason: "connection refused".into(),
        };
        assert_eq!(e.to_string(), "postgres tracking: connection refused");
    }
}
