//! Where the log's lines go: stderr, a short delay's worth at a time.
//!
//! Written one by one, each line costs a `write(2)` on the thread that logged it: two a
//! relayed message at the default level, on the runtime thread that also serves the
//! sessions. [`BatchedStderr`] instead gathers the lines for [`LogBatch::delay`] and a
//! thread of its own writes them together, so a busy gateway makes one `write(2)` for
//! many messages and an idle one makes none.
//!
//! Some lines do not wait: those at warn or error, and those of one target the writer is
//! given (the gateway names its lifecycle lines: start-up, reload, shutting down,
//! stopped). They go out at once, after whatever was gathered before them, so lines
//! always come out in the order they were logged in. Tools that read the start-up line,
//! and an operator looking at a failure, see them without delay. When more than
//! [`LogBatch::max_bytes`] are gathered, the thread that logs writes them itself, so
//! memory stays bounded when stderr is slow.
//!
//! [`flush`] writes out what is gathered; `postern serve` calls it before it exits, and a
//! panic does (the hook [`crate::logging::init_batched`] installs).

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Default for [`LogBatch::delay`]: short enough that a line read by a person is not
/// late, long enough that a busy gateway writes many lines at a time.
pub const DEFAULT_BATCH_DELAY: Duration = Duration::from_millis(10);

/// Default for [`LogBatch::max_bytes`].
pub const DEFAULT_BATCH_BYTES: usize = 64 * 1024;

/// How log lines are gathered before they are written (`[log] batch_delay` and
/// `batch_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBatch {
    /// How long the first line of a batch waits for others. Zero: every line is written
    /// as it is logged, on the thread that logs it, and no thread is started.
    pub delay: Duration,
    /// Octets gathered at most; the line that reaches this is written at once, with
    /// everything before it.
    pub max_bytes: usize,
}

impl Default for LogBatch {
    fn default() -> LogBatch {
        LogBatch {
            delay: DEFAULT_BATCH_DELAY,
            max_bytes: DEFAULT_BATCH_BYTES,
        }
    }
}

/// The lines gathered and where they go, under one lock: whoever writes out holds it,
/// so no line can overtake another.
struct Pending {
    gathered: Vec<u8>,
    out: Box<dyn Write + Send>,
}

impl Pending {
    /// Writes out what is gathered. A failed write loses those lines: there is nowhere
    /// else to report it, and the gateway must not stop over its log.
    fn write_out(&mut self) {
        if self.gathered.is_empty() {
            return;
        }
        let _ = self.out.write_all(&self.gathered);
        let _ = self.out.flush();
        self.gathered.clear();
    }
}

struct Shared {
    pending: Mutex<Pending>,
    /// Signalled when a line lands in an empty batch.
    started: Condvar,
    batch: LogBatch,
    /// Lines of this target are written at once.
    urgent_target: &'static str,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The writing thread: waits for a batch to start, lets it gather for the delay,
    /// writes it. It lives as long as the process, as the log does.
    fn run(&self) {
        loop {
            let g = self.lock();
            let g = self
                .started
                .wait_while(g, |p| p.gathered.is_empty())
                .unwrap_or_else(PoisonError::into_inner);
            drop(g);
            std::thread::sleep(self.batch.delay);
            self.lock().write_out();
        }
    }

    fn write_line(&self, line: &[u8], at_once: bool) {
        let mut g = self.lock();
        let was_empty = g.gathered.is_empty();
        g.gathered.extend_from_slice(line);
        if at_once || self.batch.delay.is_zero() || g.gathered.len() >= self.batch.max_bytes {
            g.write_out();
        } else if was_empty {
            // Only the first line of a batch wakes the thread; the rest just gather.
            self.started.notify_one();
        }
    }
}

/// The writer `postern serve`'s log subscriber writes through, to stderr; see the
/// [module documentation](self).
///
/// ```
/// use postern_gateway::log_writer::{BatchedStderr, LogBatch};
///
/// // Every line at once, as an unbatched writer would.
/// let batch = LogBatch { delay: std::time::Duration::ZERO, max_bytes: 0 };
/// let writer = BatchedStderr::new(batch, "my_app::lifecycle").unwrap();
/// let subscriber = tracing_subscriber::fmt().with_writer(writer).finish();
/// # drop(subscriber);
/// ```
#[derive(Clone)]
pub struct BatchedStderr {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for BatchedStderr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchedStderr")
            .field("batch", &self.shared.batch)
            .finish_non_exhaustive()
    }
}

/// The writer of the process's log, once installed, for [`flush`].
static INSTALLED: OnceLock<Arc<Shared>> = OnceLock::new();

impl BatchedStderr {
    /// A writer to stderr gathering lines as `batch` says, except those at warn or error
    /// and those of `urgent_target`; with a delay, its thread is started here.
    pub fn new(batch: LogBatch, urgent_target: &'static str) -> io::Result<BatchedStderr> {
        BatchedStderr::to(batch, urgent_target, Box::new(io::stderr()))
    }

    /// The same, writing to `out` instead of stderr.
    pub fn to(
        batch: LogBatch,
        urgent_target: &'static str,
        out: Box<dyn Write + Send>,
    ) -> io::Result<BatchedStderr> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                gathered: Vec::new(),
                out,
            }),
            started: Condvar::new(),
            batch,
            urgent_target,
        });
        if !batch.delay.is_zero() {
            let runner = shared.clone();
            std::thread::Builder::new()
                .name("postern-log".to_owned())
                .spawn(move || runner.run())?;
        }
        Ok(BatchedStderr { shared })
    }

    /// Makes this the writer [`flush`] writes out.
    pub(crate) fn install(&self) {
        let _ = INSTALLED.set(self.shared.clone());
    }

    /// Writes out what is gathered now.
    pub fn flush(&self) {
        self.shared.lock().write_out();
    }
}

/// Writes out what the process's log has gathered (nothing when no batching writer was
/// installed by [`crate::logging::init_batched`]).
pub fn flush() {
    if let Some(shared) = INSTALLED.get() {
        shared.lock().write_out();
    }
}

/// [`flush`] for a panic hook: skipped when the lock is held, as it is when the panic
/// came from writing the log itself (waiting would never end).
pub(crate) fn flush_unless_busy() {
    if let Some(shared) = INSTALLED.get()
        && let Ok(mut g) = shared.pending.try_lock()
    {
        g.write_out();
    }
}

/// One event's writer: tracing-subscriber formats a whole line, then writes it here.
#[derive(Debug)]
pub struct LineWriter<'a> {
    owner: &'a BatchedStderr,
    at_once: bool,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.owner.shared.write_line(line, self.at_once);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedStderr {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter {
            owner: self,
            at_once: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> LineWriter<'a> {
        // Levels compare by verbosity: ERROR < WARN < INFO.
        LineWriter {
            owner: self,
            at_once: *meta.level() <= Level::WARN || meta.target() == self.shared.urgent_target,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const URGENT: &str = "test::lifecycle";

    /// A writer the test reads back, counting its writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut g = self.0.lock().unwrap();
            g.0.extend_from_slice(buf);
            g.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().0.clone()).unwrap()
        }
        fn writes(&self) -> usize {
            self.0.lock().unwrap().1
        }
    }

    fn writer(delay: Duration, max_bytes: usize) -> (BatchedStderr, Captured) {
        let out = Captured::default();
        let w = BatchedStderr::to(LogBatch { delay, max_bytes }, URGENT, Box::new(out.clone()))
            .unwrap();
        (w, out)
    }

    fn line(w: &BatchedStderr, text: &str, at_once: bool) {
        let mut lw = LineWriter { owner: w, at_once };
        lw.write_all(text.as_bytes()).unwrap();
    }

    /// Waits up to 5 s for `out` to hold `want`.
    fn wait_for(out: &Captured, want: &str) {
        let end = Instant::now() + Duration::from_secs(5);
        while out.text() != want {
            assert!(Instant::now() < end, "got {:?}, want {want:?}", out.text());
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn lines_gathered_within_the_delay_go_out_in_one_write() {
        let (w, out) = writer(Duration::from_millis(200), 1 << 20);
        for i in 0..50 {
            line(&w, &format!("line {i}\n"), false);
        }
        assert_eq!(out.text(), "", "nothing before the delay");
        let want: String = (0..50).map(|i| format!("line {i}\n")).collect();
        wait_for(&out, &want);
        assert_eq!(out.writes(), 1);
    }

    #[test]
    fn an_urgent_line_goes_out_at_once_after_what_was_gathered() {
        let (w, out) = writer(Duration::from_secs(3600), 1 << 20);
        line(&w, "a\n", false);
        line(&w, "b\n", false);
        assert_eq!(out.text(), "");
        line(&w, "warn\n", true);
        assert_eq!(out.text(), "a\nb\nwarn\n");
        line(&w, "c\n", false);
        w.flush();
        assert_eq!(out.text(), "a\nb\nwarn\nc\n");
    }

    #[test]
    fn the_byte_limit_writes_on_the_logging_thread() {
        let (w, out) = writer(Duration::from_secs(3600), 10);
        line(&w, "12345\n", false);
        assert_eq!(out.text(), "");
        line(&w, "67890\n", false);
        assert_eq!(
            out.text(),
            "12345\n67890\n",
            "12 octets reach the limit of 10"
        );
        assert_eq!(out.writes(), 1);
    }

    #[test]
    fn without_a_delay_every_line_is_written_as_it_comes() {
        let (w, out) = writer(Duration::ZERO, 1 << 20);
        line(&w, "one\n", false);
        assert_eq!(out.text(), "one\n");
        line(&w, "two\n", false);
        assert_eq!(out.text(), "one\ntwo\n");
        assert_eq!(out.writes(), 2);
    }

    #[test]
    fn a_second_batch_starts_after_the_first_is_written() {
        let (w, out) = writer(Duration::from_millis(20), 1 << 20);
        line(&w, "first\n", false);
        wait_for(&out, "first\n");
        line(&w, "second\n", false);
        wait_for(&out, "first\nsecond\n");
        assert_eq!(out.writes(), 2);
    }

    #[test]
    fn warnings_and_lifecycle_lines_are_urgent_info_is_not() {
        let (w, out) = writer(Duration::from_secs(3600), 1 << 20);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(w.clone())
            .with_ansi(false)
            .without_time()
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("gathered");
            assert_eq!(out.text(), "");
            tracing::info!(target: URGENT, "started");
            assert!(out.text().contains("gathered") && out.text().contains("started"));
            tracing::info!("again");
            assert!(!out.text().contains("again"));
            tracing::warn!("careful");
            assert!(out.text().contains("again") && out.text().contains("careful"));
            tracing::error!("broken");
            assert!(out.text().contains("broken"));
        });
    }
}
