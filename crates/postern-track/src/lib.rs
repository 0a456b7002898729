//! # postern-track
//!
//! Message tracking on every hop: typed [`Event`]s (with Exchange's event numbers beside
//! readable names), an append-only daily log written off the SMTP path by a [`Writer`],
//! and fast [`Reader::search`] and [`Reader::trace`] over it.
//!
//! ## The log
//!
//! One file per UTC day, `YYYYMMDD.log` (as Exchange 5.5 named its tracking logs), each
//! starting with W3C-style directives and a `#Fields:` line naming the tab-separated
//! columns ([`FIELDS`]). One event per line; values are escaped (see [`text`]) so a tab,
//! line feed or stray byte in a subject or a reply never breaks a line; `-` marks an
//! absent value. The files are plain text: `grep`, `awk` and spreadsheets read them.
//!
//! ```
//! use postern_track::{Event, EventKind, Filter, Reader, Writer, WriterConfig};
//!
//! let dir = std::env::temp_dir().join(format!("postern-track-lib-{}", std::process::id()));
//! let writer = Writer::open(WriterConfig::new(&dir))?;
//! let now = writer.now();
//! writer.record(Event::new(now, EventKind::Received).queue_id("Q1").message_id("<m1@example.org>"))?;
//! writer.record(Event::new(now, EventKind::Sent).queue_id("Q1").message_id("<m1@example.org>"))?;
//! writer.flush()?;
//!
//! let found = Reader::new(&dir).search(&Filter::new().message_id("m1@example.org"))?;
//! assert_eq!(found.events.len(), 2);
//! # writer.shutdown()?;
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), postern_track::TrackError>(())
//! ```
//!
//! A runnable program in the repository's `examples/tracking.rs` records a message's life
//! across midnight (two daily files), then searches by recipient and kind and traces the
//! message to the bounce it caused (`cargo run --example tracking`).
//! ## Features
//!
//! Default features: none, and the crate has no optional features: it depends on `memchr`,
//! `nom` and `thiserror` only.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod clock;
mod error;
mod event;
mod grammar;
mod index;
mod kind;
mod line;
mod query;
pub mod retention;
mod scan;
mod sink;
pub mod text;
mod time;
mod writer;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::TrackError;
pub use event::Event;
pub use index::REBUILD_TAIL;
pub use kind::{EventKind, UnknownKind};
pub use line::{FIELDS, LineView, ParseError, format_line, parse_line};
pub use query::{Filter, IndexMode, ReadLimits, Reader, SearchResult, Trace};
pub use retention::{Retention, RetentionReport};
pub use scan::ScanStats;
pub use sink::{DailyFiles, EventSearch, EventSink, NodeEvent, NodeSearch, NodeTrace};
pub use text::Text;
pub use time::{Day, Timestamp};
pub use writer::{Durability, Overflow, Writer, WriterConfig, WriterStats};
