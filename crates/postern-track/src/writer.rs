//! The writer: a cheap, cloneable handle that hands events to one background thread, which
//! appends them to the daily UTC file `YYYYMMDD.log`.
//!
//! The SMTP path never waits on the disk: [`Writer::record`] puts the event in a bounded
//! queue and returns. When the queue is full, [`Overflow`] decides: drop the event (the
//! default; the count is kept and a `#Dropped: N` line marks the gap in the log) or wait.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::clock::{Clock, SystemClock};
use crate::line::{format_line, header};
use crate::retention::{self, Retention};
use crate::{Day, Event, Timestamp, TrackError};

/// What [`Writer::record`] does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Drop the event, count it, and return [`TrackError::QueueFull`]; the log gets a
    /// `#Dropped: N events` line where the gap is. Never blocks the caller.
    #[default]
    Drop,
    /// Wait for room: no event is lost, but a stalled disk stalls the caller.
    Block,
}

/// When written lines reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// Each batch is written to the OS at once (survives a crash of the process, not of
    /// the machine). The default: tracking is a record, not the mail itself.
    #[default]
    OsBuffered,
    /// `fdatasync` after every batch: survives power loss, costs a disk flush per batch.
    SyncEveryBatch,
    /// `fdatasync` at most once per interval (and when idle after writing).
    SyncInterval(Duration),
}

/// Writer settings. `WriterConfig::new(dir)` gives the documented defaults.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WriterConfig {
    /// The directory of the daily files (created if missing).
    pub dir: PathBuf,
    /// Events the queue holds before [`Overflow`] applies. Default 16 384.
    pub queue_capacity: usize,
    /// What to do when the queue is full. Default [`Overflow::Drop`].
    pub overflow: Overflow,
    /// When data reaches the disk. Default [`Durability::OsBuffered`].
    pub durability: Durability,
    /// What to keep. Default: 7 days, no size limit.
    pub retention: Retention,
    /// Each text value is cut to this many bytes before it is written. Default 4096.
    pub max_value_len: usize,
    /// The recipient list is cut to this many entries. Default 1000.
    pub max_recipients: usize,
    /// How long the thread, woken by an event after the queue ran empty, waits for more
    /// before it writes: a busy gateway then wakes it and writes once per interval
    /// instead of once per event (each wake-up is a system call on both sides). An
    /// event reaches the file at most this much later. Default 5 ms; zero writes at once.
    pub linger: Duration,
}

impl WriterConfig {
    /// Defaults, writing into `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> WriterConfig {
        WriterConfig {
            dir: dir.into(),
            queue_capacity: 16_384,
            overflow: Overflow::Drop,
            durability: Durability::OsBuffered,
            retention: Retention::default(),
            max_value_len: 4096,
            max_recipients: 1000,
            linger: Duration::from_millis(5),
        }
    }
}

/// Counters of a writer since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Events written to a file.
    pub written: u64,
    /// Events dropped because the queue was full.
    pub dropped: u64,
    /// Events whose values were cut to the configured limits.
    pub truncated: u64,
    /// Failed writes (the events of a failed batch are lost; the error is reported by
    /// the next [`Writer::flush`]).
    pub write_errors: u64,
}

#[derive(Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    truncated: AtomicU64,
    write_errors: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> WriterStats {
        WriterStats {
            written: self.written.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            truncated: self.truncated.load(Ordering::Relaxed),
            write_errors: self.write_errors.load(Ordering::Relaxed),
        }
    }
}

enum Msg {
    Event(Box<Event>),
    Flush(SyncSender<Result<(), TrackError>>),
    Close(SyncSender<Result<(), TrackError>>),
}

struct Shared {
    tx: SyncSender<Msg>,
    overflow: Overflow,
    clock: Arc<dyn Clock>,
    counters: Arc<Counters>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// A handle to the tracking writer. Clone it freely: every clone feeds the same thread.
/// When the last clone is dropped the thread writes what is queued and stops; call
/// [`Writer::shutdown`] to wait for that and see any error.
///
/// ```
/// use postern_track::{Event, EventKind, Writer, WriterConfig};
///
/// let dir = std::env::temp_dir().join(format!("postern-track-doc-{}", std::process::id()));
/// let writer = Writer::open(WriterConfig::new(&dir))?;
/// writer.record(Event::new(writer.now(), EventKind::Received).queue_id("Q1"))?;
/// writer.shutdown()?;
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), postern_track::TrackError>(())
/// ```
#[derive(Clone)]
pub struct Writer(Arc<Shared>);

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Writer {
    /// Opens a writer on the system clock.
    pub fn open(config: WriterConfig) -> Result<Writer, TrackError> {
        Writer::with_clock(config, SystemClock)
    }

    /// Opens a writer reading time from `clock`. Creates the directory, applies retention
    /// once, and starts the writer thread.
    pub fn with_clock(config: WriterConfig, clock: impl Clock) -> Result<Writer, TrackError> {
        let clock: Arc<dyn Clock> = Arc::new(clock);
        std::fs::create_dir_all(&config.dir)
            .map_err(TrackError::io("create directory", &config.dir))?;
        retention::apply(&config.dir, &config.retention, clock.now().day())?;
        let (tx, rx) = mpsc::sync_channel(config.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let overflow = config.overflow;
        let mut worker = Worker::new(config, Arc::clone(&clock), Arc::clone(&counters));
        let thread = std::thread::Builder::new()
            .name("postern-track-writer".into())
            .spawn(move || worker.run(rx))
            .map_err(TrackError::io("spawn writer thread", PathBuf::new()))?;
        Ok(Writer(Arc::new(Shared {
            tx,
            overflow,
            clock,
            counters,
            thread: Mutex::new(Some(thread)),
        })))
    }

    /// The writer clock's current time, for stamping events.
    pub fn now(&self) -> Timestamp {
        self.0.clock.now()
    }

    /// Queues `event` for writing. Returns at once unless the queue is full and the
    /// policy is [`Overflow::Block`]. The event is filed under the UTC day of its `time`.
    pub fn record(&self, event: Event) -> Result<(), TrackError> {
        match self.0.tx.try_send(Msg::Event(Box::new(event))) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(_)) => Err(TrackError::Closed),
            Err(TrySendError::Full(msg)) => match self.0.overflow {
                Overflow::Drop => {
                    self.0.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    Err(TrackError::QueueFull)
                }
                Overflow::Block => self.0.tx.send(msg).map_err(|_| TrackError::Closed),
            },
        }
    }

    /// Waits until every event recorded before this call is written and synced to disk.
    /// Reports the first write error since the previous flush.
    pub fn flush(&self) -> Result<(), TrackError> {
        self.request(Msg::Flush)
    }

    /// Writes everything queued, syncs, and stops the thread (for every clone: later
    /// [`record`](Writer::record)s return [`TrackError::Closed`]). Returns the final counters.
    pub fn shutdown(&self) -> Result<WriterStats, TrackError> {
        let result = self.request(Msg::Close);
        let handle = self.0.thread.lock().map(|mut t| t.take()).unwrap_or(None);
        if let Some(h) = handle {
            h.join().map_err(|_| TrackError::Closed)?;
        }
        match result {
            Err(TrackError::Closed) | Ok(()) => Ok(self.stats()),
            Err(e) => Err(e),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> WriterStats {
        self.0.counters.snapshot()
    }

    fn request(
        &self,
        make: fn(SyncSender<Result<(), TrackError>>) -> Msg,
    ) -> Result<(), TrackError> {
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        self.0
            .tx
            .send(make(ack_tx))
            .map_err(|_| TrackError::Closed)?;
        ack_rx.recv().map_err(|_| TrackError::Closed)?
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last handle is going: let the thread finish what is queued before we return,
        // so a process that drops its writer and exits loses nothing.
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        if self.tx.send(Msg::Close(ack_tx)).is_ok() {
            let _ = ack_rx.recv();
        }
        if let Some(h) = self.thread.get_mut().ok().and_then(Option::take) {
            let _ = h.join();
        }
    }
}

/// Events taken off the queue per write, so one slow disk write carries many events.
const BATCH: usize = 1024;

/// The writer thread's state.
struct Worker {
    config: WriterConfig,
    clock: Arc<dyn Clock>,
    counters: Arc<Counters>,
    current: Option<(Day, File, PathBuf)>,
    newest_day: Option<Day>,
    buf: Vec<u8>,
    pending: u64,
    error: Option<TrackError>,
    dropped_logged: u64,
    unsynced_since: Option<Instant>,
}

impl Worker {
    fn new(config: WriterConfig, clock: Arc<dyn Clock>, counters: Arc<Counters>) -> Worker {
        Worker {
            config,
            clock,
            counters,
            current: None,
            newest_day: None,
            buf: Vec::with_capacity(256 * 1024),
            pending: 0,
            error: None,
            dropped_logged: 0,
            unsynced_since: None,
        }
    }

    fn run(&mut self, rx: Receiver<Msg>) {
        loop {
            let first = match rx.try_recv() {
                // A backlog: write it at once.
                Ok(m) => Some(m),
                Err(_) => self.wait_first(&rx),
            };
            let Some(first) = first else {
                self.write_out();
                self.sync();
                return;
            };
            let mut msg = Some(first);
            let mut taken = 0;
            while let Some(m) = msg.take() {
                match m {
                    Msg::Event(ev) => self.add(*ev),
                    Msg::Flush(ack) => {
                        let _ = ack.send(self.flush_now());
                    }
                    Msg::Close(ack) => {
                        let _ = ack.send(self.flush_now());
                        return;
                    }
                }
                taken += 1;
                if taken < BATCH {
                    msg = rx.try_recv().ok();
                }
            }
            self.write_out();
            self.sync_if_due(false);
        }
    }

    /// Waits for the next message with the queue empty (`None`: every handle is gone).
    /// An event then lingers for company (`WriterConfig::linger`); a flush or close
    /// request is answered at once.
    fn wait_first(&mut self, rx: &Receiver<Msg>) -> Option<Msg> {
        loop {
            let first = match self.wait_time() {
                None => rx.recv().ok(),
                Some(t) => match rx.recv_timeout(t) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => {
                        self.sync_if_due(true);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => None,
                },
            };
            if matches!(first, Some(Msg::Event(_))) && !self.config.linger.is_zero() {
                std::thread::sleep(self.config.linger);
            }
            return first;
        }
    }

    /// How long to wait for the next message before an interval sync is due.
    fn wait_time(&self) -> Option<Duration> {
        match (self.config.durability, self.unsynced_since) {
            (Durability::SyncInterval(d), Some(since)) => Some(d.saturating_sub(since.elapsed())),
            _ => None,
        }
    }

    fn add(&mut self, mut ev: Event) {
        let day = ev.time.day();
        if self.current.as_ref().is_none_or(|(d, _, _)| *d != day) {
            self.write_out();
            self.switch_to(day);
        }
        self.note_dropped();
        if ev.truncate(self.config.max_value_len, self.config.max_recipients) {
            self.counters.truncated.fetch_add(1, Ordering::Relaxed);
        }
        format_line(&ev, &mut self.buf);
        self.pending += 1;
    }

    /// Writes a `#Dropped:` line for events lost to a full queue since the last one.
    fn note_dropped(&mut self) {
        let dropped = self.counters.dropped.load(Ordering::Relaxed);
        if dropped > self.dropped_logged {
            let line = format!(
                "#Dropped: {} events (queue full)\n",
                dropped - self.dropped_logged
            );
            self.buf.extend_from_slice(line.as_bytes());
            self.dropped_logged = dropped;
        }
    }

    fn switch_to(&mut self, day: Day) {
        self.sync();
        self.current = None;
        if self.newest_day.is_none_or(|d| day > d) {
            self.newest_day = Some(day);
            let today = self.clock.now().day();
            if let Err(e) = retention::apply(&self.config.dir, &self.config.retention, today) {
                self.error.get_or_insert(e);
            }
        }
        let path = self.config.dir.join(day.file_name());
        match open_log(&path, self.clock.now()) {
            Ok(f) => self.current = Some((day, f, path)),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
    }

    fn write_out(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let result = match &mut self.current {
            Some((_, f, path)) => f
                .write_all(&self.buf)
                .map_err(TrackError::io("write", path.clone())),
            None => Err(TrackError::Closed),
        };
        match result {
            Ok(()) => {
                self.counters
                    .written
                    .fetch_add(self.pending, Ordering::Relaxed);
                self.unsynced_since.get_or_insert_with(Instant::now);
            }
            Err(e) => {
                self.counters
                    .write_errors
                    .fetch_add(self.pending, Ordering::Relaxed);
                if !matches!(e, TrackError::Closed) {
                    self.error.get_or_insert(e);
                }
            }
        }
        self.buf.clear();
        self.pending = 0;
    }

    fn sync_if_due(&mut self, idle: bool) {
        let due = match (self.config.durability, self.unsynced_since) {
            (_, None) | (Durability::OsBuffered, _) => false,
            (Durability::SyncEveryBatch, _) => true,
            (Durability::SyncInterval(d), Some(since)) => idle || since.elapsed() >= d,
        };
        if due {
            self.sync();
        }
    }

    fn sync(&mut self) {
        if self.unsynced_since.take().is_none() {
            return;
        }
        if let Some((_, f, path)) = &self.current {
            if let Err(e) = f.sync_data() {
                self.error
                    .get_or_insert(TrackError::io("sync", path.clone())(e));
            }
        }
    }

    fn flush_now(&mut self) -> Result<(), TrackError> {
        self.note_dropped_if_open();
        self.write_out();
        self.sync();
        self.error.take().map_or(Ok(()), Err)
    }

    fn note_dropped_if_open(&mut self) {
        if self.current.is_some() {
            self.note_dropped();
        }
    }
}

/// Opens a daily file for appending. A new file gets the header; a file whose last line
/// was torn by a crash gets a line feed first, so the next event starts on its own line.
fn open_log(path: &Path, now: Timestamp) -> Result<File, TrackError> {
    let mut f = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(TrackError::io("open", path))?;
    let len = f.metadata().map_err(TrackError::io("stat", path))?.len();
    let mut prefix = Vec::new();
    if len == 0 {
        header(now, &mut prefix);
    } else {
        let mut last = [0u8; 1];
        f.seek(SeekFrom::Start(len - 1))
            .map_err(TrackError::io("seek", path))?;
        f.read_exact(&mut last)
            .map_err(TrackError::io("read", path))?;
        if last[0] != b'\n' {
            prefix.push(b'\n');
        }
    }
    if !prefix.is_empty() {
        f.write_all(&prefix)
            .map_err(TrackError::io("write", path))?;
    }
    Ok(f)
}
