//! One tracking log for the whole cluster: [`PgSink`] batches every node's events into
//! `postern_events` (with the node's name), and [`PgSearch`] searches and traces them,
//! saying which node recorded each event.
//!
//! Each row keeps the event in postern-track's own line format (`line`, what the daily
//! files hold) plus the searched values in indexed columns: message-id (without angle
//! brackets), queue id, related queue id, sender and recipients (ASCII lower-cased, as
//! the daily files' search compares them), time. A search narrows by the indexes, then
//! checks every candidate with [`Filter::matches`], so both backends answer alike.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc as std_mpsc};
use std::time::Duration;

use postern_track::{
    Event, EventSearch, EventSink, Filter, NodeEvent, NodeSearch, NodeTrace, ReadLimits, Text,
    Timestamp, TrackError, WriterStats, format_line, parse_line,
};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use crate::db::{Db, forget_if_lost};
use crate::error::PgError;
use crate::store::BACKEND;

/// How a [`PgSink`] batches.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PgSinkConfig {
    /// Events waiting to be written, at most (default 65 536); past it new events are
    /// dropped and counted, never waited for.
    pub capacity: usize,
    /// Events per `COPY` (default 1 000).
    pub batch: usize,
    /// How long an event may wait for its batch to fill (default 200 ms): a batch is
    /// written when full, when flushed, or when its oldest event has waited this long.
    pub linger: Duration,
}

impl Default for PgSinkConfig {
    fn default() -> PgSinkConfig {
        PgSinkConfig {
            capacity: 65_536,
            batch: 1_000,
            linger: Duration::from_millis(200),
        }
    }
}

fn backend_error(e: impl std::fmt::Display) -> TrackError {
    TrackError::Backend {
        backend: BACKEND,
        reason: e.to_string(),
    }
}

/// A text column's value: lossy UTF-8 without NULs (PostgreSQL's `text` holds neither).
fn column(v: &[u8]) -> String {
    String::from_utf8_lossy(v).replace('\0', "\u{fffd}")
}

/// A message-id as indexed: without its angle brackets (as the daily files' index).
fn message_id_key(v: &[u8]) -> String {
    let v = v
        .strip_prefix(b"<")
        .and_then(|v| v.strip_suffix(b">"))
        .unwrap_or(v);
    column(v)
}

/// An address as indexed: ASCII lower-cased (the search compares ignoring ASCII case).
fn address_key(v: &[u8]) -> String {
    column(&v.to_ascii_lowercase())
}

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    write_errors: AtomicU64,
}

enum Request {
    Event(Box<Event>),
    Flush(std_mpsc::Sender<Result<(), String>>),
}

/// Writes tracking events into PostgreSQL in batches, off the caller's path.
#[derive(Debug)]
pub struct PgSink {
    tx: mpsc::Sender<Request>,
    flush_tx: mpsc::UnboundedSender<Request>,
    counters: Arc<Counters>,
    timeout: Duration,
}

impl PgSink {
    /// Starts the batching task on the current tokio runtime.
    pub fn start(db: Arc<Db>, config: PgSinkConfig) -> PgSink {
        let (tx, rx) = mpsc::channel(config.capacity.max(1));
        let (flush_tx, flush_rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let timeout = db.timeout();
        tokio::spawn(batcher(db, config, rx, flush_rx, Arc::clone(&counters)));
        PgSink {
            tx,
            flush_tx,
            counters,
            timeout,
        }
    }
}

impl EventSink for PgSink {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn now(&self) -> Timestamp {
        Timestamp::from_system_time(std::time::SystemTime::now())
    }

    fn record(&self, event: Event) -> Result<(), TrackError> {
        match self.tx.try_send(Request::Event(Box::new(event))) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                Err(TrackError::QueueFull)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                Err(backend_error("the tracking writer stopped"))
            }
        }
    }

    fn flush(&self) -> Result<(), TrackError> {
        let (tx, rx) = std_mpsc::channel();
        self.flush_tx
            .send(Request::Flush(tx))
            .map_err(|_| backend_error("the tracking writer stopped"))?;
        match rx.recv_timeout(self.timeout * 3) {
            Ok(r) => r.map_err(backend_error),
            Err(_) => Err(backend_error("no answer from the tracking writer")),
        }
    }

    fn stats(&self) -> WriterStats {
        WriterStats {
            written: self.counters.written.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            write_errors: self.counters.write_errors.load(Ordering::Relaxed),
            ..WriterStats::default()
        }
    }
}

/// Collects events into batches and writes each with one `COPY`. A batch that cannot be
/// written (the database is away) is kept and tried again before anything newer, while
/// the bounded channel in front drops what does not fit.
async fn batcher(
    db: Arc<Db>,
    config: PgSinkConfig,
    mut rx: mpsc::Receiver<Request>,
    mut flush_rx: mpsc::UnboundedReceiver<Request>,
    counters: Arc<Counters>,
) {
    let mut batch: Vec<Event> = Vec::new();
    let mut last_error: Option<String> = None;
    // When the oldest event of the batch must be written: one COPY (and one commit) per
    // `linger` at most, not one per event that happens to arrive alone.
    let mut due = tokio::time::Instant::now();
    loop {
        let was_empty = batch.is_empty();
        let flush = tokio::select! {
            r = rx.recv(), if batch.len() < config.batch => match r {
                Some(Request::Event(e)) => { batch.push(*e); None }
                Some(Request::Flush(f)) => Some(f),
                None => return,
            },
            f = flush_rx.recv() => match f {
                Some(Request::Flush(f)) => Some(f),
                _ => None,
            },
            _ = tokio::time::sleep_until(due), if !batch.is_empty() => None,
        };
        if was_empty && !batch.is_empty() {
            due = tokio::time::Instant::now() + config.linger;
        }
        // Everything already handed over goes into this write.
        while batch.len() < config.batch || flush.is_some() {
            match rx.try_recv() {
                Ok(Request::Event(e)) => batch.push(*e),
                Ok(Request::Flush(_)) | Err(_) => break,
            }
        }
        let full = batch.len() >= config.batch;
        let waited = tokio::time::Instant::now() >= due;
        if !batch.is_empty() && (full || flush.is_some() || waited) {
            match write(&db, &batch).await {
                Ok(()) => {
                    counters
                        .written
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    batch.clear();
                    last_error = None;
                }
                Err(e) => {
                    counters.write_errors.fetch_add(1, Ordering::Relaxed);
                    last_error = Some(e.to_string());
                    tokio::time::sleep(config.linger).await;
                    due = tokio::time::Instant::now();
                }
            }
        }
        if let Some(f) = flush {
            let _ = f.send(match &last_error {
                Some(e) if !batch.is_empty() => Err(format!("events not written yet: {e}")),
                _ => Ok(()),
            });
        }
    }
}

/// Writes one batch with `COPY … FROM STDIN (FORMAT binary)`, committed without waiting
/// for the WAL flush (`synchronous_commit = off`): a database crash may lose the last
/// fraction of a second of events, as a crash of one machine may lose its tracking
/// writer's buffer, while the mail itself is committed synchronously.
async fn write(db: &Db, batch: &[Event]) -> Result<(), PgError> {
    let node = db.node().to_owned();
    let mut conn = db.conn().await?;
    let client = conn.as_mut().expect("Db::conn connects");
    let r = db
        .timed(async {
            let tx = client.transaction().await?;
            tx.batch_execute("SET LOCAL synchronous_commit = off")
                .await?;
            let sink = tx
                .copy_in(
                    "COPY postern_events (time, node, kind, message_id, queue_id,
                         related_queue_id, sender, recipients, line)
                     FROM STDIN (FORMAT binary)",
                )
                .await?;
            let types = [
                Type::INT8,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT_ARRAY,
                Type::BYTEA,
            ];
            let writer = BinaryCopyInWriter::new(sink, &types);
            let mut writer = std::pin::pin!(writer);
            let mut line = Vec::new();
            for ev in batch {
                line.clear();
                format_line(ev, &mut line);
                let line_bytes = line.strip_suffix(b"\n").unwrap_or(&line);
                let time = ev.time.unix_ms();
                let kind = ev.kind.name();
                let mid = ev.message_id.as_ref().map(|v| message_id_key(v.as_bytes()));
                let qid = ev.queue_id.as_ref().map(|v| column(v.as_bytes()));
                let rel = ev.related_queue_id.as_ref().map(|v| column(v.as_bytes()));
                let sender = ev.sender.as_ref().map(|v| address_key(v.as_bytes()));
                let rcpts: Vec<String> = ev
                    .recipients
                    .iter()
                    .map(|r| address_key(r.as_bytes()))
                    .collect();
                writer
                    .as_mut()
                    .write(&[
                        &time,
                        &node,
                        &kind,
                        &mid,
                        &qid,
                        &rel,
                        &sender,
                        &rcpts,
                        &line_bytes,
                    ])
                    .await?;
            }
            writer.finish().await?;
            tx.commit().await?;
            Ok(())
        })
        .await;
    forget_if_lost(&mut conn, &r);
    r
}

/// Searches and traces the events of every node.
///
/// Its calls block, as [`EventSearch`] says: each runs its queries on the runtime of
/// `handle` from a helper thread, so it may be called from any thread (off the
/// runtime's workers, as the seam asks).
#[derive(Debug, Clone)]
pub struct PgSearch {
    db: Arc<Db>,
    handle: Handle,
    limits: ReadLimits,
}

/// One row found: the node and the event.
type Found = (i64, NodeEvent);

impl PgSearch {
    /// A search over `db`, its queries run on the runtime of `handle`, with the daily
    /// files' default limits.
    pub fn new(db: Arc<Db>, handle: Handle) -> PgSearch {
        PgSearch {
            db,
            handle,
            limits: ReadLimits::default(),
        }
    }

    /// The same search with other limits (results, trace size and rounds).
    pub fn limits(mut self, limits: ReadLimits) -> PgSearch {
        self.limits = limits;
        self
    }

    /// Runs `f` to completion on the search's runtime, from a helper thread (never
    /// blocking a runtime worker with `block_on`).
    fn block_on<T: Send>(
        &self,
        f: impl Future<Output = Result<T, PgError>> + Send,
    ) -> Result<T, TrackError> {
        std::thread::scope(|s| {
            s.spawn(|| self.handle.block_on(f))
                .join()
                .unwrap_or_else(|_| Err(PgError::Database("search thread panicked".into())))
        })
        .map_err(backend_error)
    }

    /// The events matching `filter`, in time order, at most `limit` + 1 of them.
    pub async fn search_async(&self, filter: &Filter, limit: usize) -> Result<Vec<Found>, PgError> {
        let mid = filter
            .message_id
            .as_ref()
            .map(|v| message_id_key(v.as_bytes()));
        let qid = filter.queue_id.as_ref().map(|v| column(v.as_bytes()));
        let sender = filter.sender.as_ref().map(|v| address_key(v.as_bytes()));
        let rcpt = filter.recipient.as_ref().map(|v| address_key(v.as_bytes()));
        let kinds: Vec<&str> = filter.kinds.iter().map(|k| k.name()).collect();
        let since = filter.since.map(Timestamp::unix_ms);
        let until = filter.until.map(Timestamp::unix_ms);
        let limit = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "SELECT seq, node, line FROM postern_events
                 WHERE ($1::text IS NULL OR message_id = $1)
                   AND ($2::text IS NULL OR queue_id = $2)
                   AND ($3::text IS NULL OR sender = $3)
                   AND ($4::text IS NULL OR recipients @> ARRAY[$4::text])
                   AND (cardinality($5::text[]) = 0 OR kind = ANY($5))
                   AND ($6::bigint IS NULL OR time >= $6)
                   AND ($7::bigint IS NULL OR time < $7)
                 ORDER BY time, seq
                 LIMIT $8",
                &[&mid, &qid, &sender, &rcpt, &kinds, &since, &until, &limit],
            )
            .await?;
        let mut out = Vec::new();
        for r in rows {
            let found = decode(&r)?;
            if filter.matches(&found.1.event) {
                out.push(found);
            }
        }
        Ok(out)
    }

    /// Events carrying any of the message-ids or queue ids (as queue id or related
    /// queue id).
    async fn by_keys(&self, mids: &[String], qids: &[String]) -> Result<Vec<Found>, PgError> {
        let rows = self
            .query(
                "SELECT seq, node, line FROM postern_events WHERE message_id = ANY($1)
                 UNION SELECT seq, node, line FROM postern_events WHERE queue_id = ANY($2)
                 UNION SELECT seq, node, line FROM postern_events
                       WHERE related_queue_id = ANY($2)",
                &[&mids, &qids],
            )
            .await?;
        rows.iter().map(decode).collect()
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, PgError> {
        let mut conn = self.db.conn().await?;
        let client = conn.as_mut().expect("Db::conn connects");
        let r = self
            .db
            .timed(async { Ok(client.query(sql, params).await?) })
            .await;
        forget_if_lost(&mut conn, &r);
        r
    }

    /// The life of a message across every node (see `postern_track::Reader::trace`):
    /// its events, those of every queue id they carry, of notifications pointing at
    /// those, and so on, in time order.
    pub async fn trace_async(&self, message_id: &Text) -> Result<NodeTrace, PgError> {
        let mut tr = NodeTrace::default();
        let first = message_id_key(message_id.as_bytes());
        let mut seen_mid: HashSet<String> = HashSet::from([first.clone()]);
        let mut seen_qid: HashSet<String> = HashSet::new();
        let (mut mids, mut qids) = (vec![first.clone()], Vec::new());
        tr.message_ids.push(Text::from(first));
        let mut events: Vec<Found> = Vec::new();
        let mut seen_seq: HashSet<i64> = HashSet::new();
        let mut rounds = 0;
        while !mids.is_empty() || !qids.is_empty() {
            if rounds == self.limits.max_trace_rounds
                || events.len() >= self.limits.max_trace_events
            {
                tr.truncated = true;
                break;
            }
            rounds += 1;
            let found = self
                .by_keys(&std::mem::take(&mut mids), &std::mem::take(&mut qids))
                .await?;
            for (seq, ne) in found {
                if !seen_seq.insert(seq) {
                    continue;
                }
                let ev = &ne.event;
                for q in [&ev.queue_id, &ev.related_queue_id].into_iter().flatten() {
                    let k = column(q.as_bytes());
                    if seen_qid.insert(k.clone()) {
                        tr.queue_ids.push(q.clone());
                        qids.push(k);
                    }
                }
                if let Some(m) = &ev.message_id {
                    let k = message_id_key(m.as_bytes());
                    if seen_mid.insert(k.clone()) {
                        tr.message_ids.push(Text::from(k.clone()));
                        mids.push(k);
                    }
                }
                events.push((seq, ne));
            }
        }
        events.sort_by_key(|(seq, ne)| (ne.event.time, *seq));
        events.truncate(self.limits.max_trace_events.max(1));
        tr.events = events.into_iter().map(|(_, ne)| ne).collect();
        Ok(tr)
    }
}

/// A row back to its node and event.
fn decode(r: &tokio_postgres::Row) -> Result<Found, PgError> {
    let seq: i64 = r.get(0);
    let node: String = r.get(1);
    let line: &[u8] = r.get(2);
    let event = parse_line(line).map_err(|e| PgError::Corrupt {
        id: format!("event {seq}"),
        what: e.to_string(),
    })?;
    Ok((
        seq,
        NodeEvent {
            node: Some(Text::from(node)),
            event,
        },
    ))
}

impl EventSearch for PgSearch {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn search(&self, filter: &Filter) -> Result<NodeSearch, TrackError> {
        let max = self.limits.max_results;
        let mut found = self.block_on(self.search_async(filter, max))?;
        let truncated = found.len() > max;
        found.truncate(max);
        Ok(NodeSearch {
            events: found.into_iter().map(|(_, ne)| ne).collect(),
            truncated,
            ..NodeSearch::default()
        })
    }

    fn trace(&self, message_id: &Text) -> Result<NodeTrace, TrackError> {
        self.block_on(self.trace_async(message_id))
    }
}
