//! The durable spool: an append-only log of checksummed records in segment files, with
//! group commit, crash recovery and quarantine. See `FORMAT.md` for the layout on disk.
//!
//! Every call that changes the spool returns only after its record — and, for a new
//! segment, the directory entry — is fsynced. Concurrent callers share fsyncs: a caller
//! that finds records queued and no write in progress becomes a *leader*, waits briefly
//! (`max_gather`) until as many records are queued as the recent batches held, writes every
//! record queued so far in one go and fdatasyncs once, then wakes the others (group commit,
//! as databases do). Up to `max_inflight` batches may be fsyncing at once, written strictly
//! in log order; a record counts as durable only when its batch and all earlier ones are.
//!
//! An I/O error while flushing (a full disk, a failed fsync) fails the callers waiting for
//! that batch, but loses nothing the spool was given: the segment it went to is abandoned
//! (after a failed fsync its page cache can no longer be trusted, so nothing is ever
//! appended to it again and its unconfirmed tail is never read), and every record not yet
//! durable is kept in memory. The next call that waits for durability moves those records
//! to a fresh segment and writes them again; once that succeeds the spool carries on as
//! before and the abandoned segment is cut back to its durable part. An enqueue that fails
//! is withdrawn (a removal record follows it), so a message refused with `451` is never
//! delivered as well.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::envelope::{Envelope, MessageState};
use crate::id::QueueId;
use crate::record::{self, DEFAULT_MAX_RECORD, FRAME_HEADER, Record, RecordError};
use crate::segment_file::{Piece, SegmentFile, records_end};
use crate::time::Timestamp;

/// The spool format version this crate reads and writes.
pub const FORMAT_VERSION: u32 = 1;
const VERSION_FILE: &str = "VERSION";
const SEGMENT_MAGIC: &[u8; 8] = b"PSTNSEG\x01";
/// Reason given for a segment whose header is unreadable (the whole file is moved to
/// `quarantine/`).
const BAD_HEADER: &str = "bad segment header";
/// Default for [`SpoolOptions::max_inflight`].
const MAX_INFLIGHT: usize = 1;
/// How long a committer thread waits after a failed flush before it tries again.
pub const COMMITTER_RETRY: Duration = Duration::from_millis(100);
/// Default for [`SpoolOptions::max_gather`].
const MAX_GATHER: Duration = Duration::from_micros(200);
/// Default for [`SpoolOptions::preallocate`].
const PREALLOCATE: u64 = 1 << 20;
/// Bytes of a segment header: magic and segment number.
pub const SEGMENT_HEADER: u64 = 16;

/// Settings of a spool.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpoolOptions {
    /// A new segment starts once the current one would pass this size. Default 64 MiB.
    pub segment_size: u64,
    /// Largest record accepted (read or written). Default 256 MiB.
    pub max_record: u32,
    /// Most group-commit batches whose fsync may be in flight at once (at least 1).
    /// Default 1 (classic group commit: on this project's test machine overlapping fsyncs
    /// did not help; see the `commit_rate` example to measure a given disk).
    pub max_inflight: usize,
    /// Longest a leader waits, before writing its batch, for as many records as the
    /// recent batches held (the callers that were just woken come straight back with
    /// the next message). Without it a leader takes the one or two records that arrived
    /// first and the group splits into a small and a large batch, each paying a whole
    /// fsync. Default 200 µs; `Duration::ZERO` writes at once.
    pub max_gather: Duration,
    /// Zeros written ahead of the records in the head segment, this many octets at a
    /// time (never past `segment_size`), so that most fsyncs overwrite blocks the file
    /// already has and write no metadata: a commit then costs about a third less CPU
    /// and wall time on ext4 (see the `segment_file` module). A segment file may thus
    /// end in up to this many zeros, which readers skip. Default 1 MiB; 0 appends
    /// instead.
    pub preallocate: u64,
}

impl Default for SpoolOptions {
    fn default() -> Self {
        SpoolOptions {
            segment_size: 64 << 20,
            max_record: DEFAULT_MAX_RECORD,
            max_inflight: MAX_INFLIGHT,
            max_gather: MAX_GATHER,
            preallocate: PREALLOCATE,
        }
    }
}

/// A spool operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Another process (a running gateway) holds the spool lock.
    #[error("spool {0} is locked by another process")]
    Locked(PathBuf),
    /// The spool was written by an unknown format version.
    #[error("spool format {0:?} is not supported (want postern-spool {FORMAT_VERSION})")]
    Version(String),
    /// No such message.
    #[error("no message {0} in the spool")]
    NotFound(QueueId),
    /// The message is larger than `max_record`.
    #[error("message of {0} bytes exceeds the spool's record limit")]
    TooLarge(u64),
    /// A state whose recipient count does not match the envelope.
    #[error("state has {got} recipients, envelope has {want}")]
    RecipientCount {
        /// Recipients in the state.
        got: usize,
        /// Recipients in the envelope.
        want: usize,
    },
    /// A flush failed while this call waited: the change is not known to be durable.
    /// The spool keeps it and writes it again with the next flush that succeeds.
    #[error("spool write failed (kept, written again once writes succeed): {0}")]
    Poisoned(String),
    /// A stored record could not be decoded.
    #[error("record of {0} is unreadable: {1}")]
    Corrupt(QueueId, RecordError),
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SpoolError + 'a {
    move |source| SpoolError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// Where a record lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Loc {
    seg: u64,
    off: u64,
    len: u32,
}

#[derive(Debug, Clone)]
struct IndexEntry {
    enq: Loc,
    state: Option<Loc>,
    version: u64,
    recipients: usize,
}

/// A run of bytes recovery could not read, copied to `quarantine/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// The segment file it came from.
    pub segment: PathBuf,
    /// Offset in that file.
    pub offset: u64,
    /// Length of the run.
    pub len: u64,
    /// Why it was unreadable.
    pub reason: String,
    /// The copy under `quarantine/` (`None` in a read-only inspection).
    pub copy: Option<PathBuf>,
}

/// One message as found in the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledMessage {
    /// Its id.
    pub id: QueueId,
    /// Its envelope.
    pub envelope: Envelope,
    /// Its latest state.
    pub state: MessageState,
    /// Body size in bytes.
    pub size: u64,
}

/// What recovery (or a read-only inspection) found.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    /// The live messages, in id (arrival) order.
    pub messages: Vec<SpooledMessage>,
    /// Unreadable runs of bytes, each copied to `quarantine/` by recovery.
    pub quarantined: Vec<Quarantined>,
    /// Segment files read.
    pub segments: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Bytes of the records that hold the live messages (their envelope and body, and
    /// latest state); the rest of `bytes` is dead space compaction can reclaim.
    pub live_bytes: u64,
}

/// How the spool's disk space divides between live records and dead ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Segment files (including the head).
    pub segments: usize,
    /// Bytes of every segment file (records appended but not yet written included).
    pub bytes: u64,
    /// Bytes of the records live messages need: enqueue records and latest states.
    pub live_bytes: u64,
    /// Bytes of the head segment, the one appends go to.
    pub head_bytes: u64,
    /// Live bytes in the head segment.
    pub head_live_bytes: u64,
    /// Bytes ever appended since the spool was opened: unchanged means nothing happened.
    pub appended: u64,
}

impl SpoolStats {
    /// Bytes no live message needs (old states, removed messages, removal records,
    /// segment headers).
    pub fn dead_bytes(&self) -> u64 {
        self.bytes.saturating_sub(self.live_bytes)
    }

    /// Dead bytes outside the head segment: what [`Spool::compact`] reclaims without
    /// starting a new head.
    pub fn reclaimable_bytes(&self) -> u64 {
        let old = self.bytes.saturating_sub(self.head_bytes);
        let old_live = self.live_bytes.saturating_sub(self.head_live_bytes);
        old.saturating_sub(old_live)
    }
}

/// A change appended to the spool and not yet known to be durable: hand it to
/// [`Spool::wait`].
#[derive(Debug)]
#[must_use = "the change is not durable until Spool::wait returns"]
pub struct Pending {
    ticket: u64,
    /// Flushes that had failed when the change was appended: a later failure is this
    /// change's own.
    seen: u64,
}

struct Chunk {
    seg: u64,
    /// Offset of the first piece in `seg`.
    off: u64,
    create: bool,
    pieces: Vec<Piece>,
}

/// A batch written and being fsynced.
struct Batch {
    /// Its last ticket.
    upto: u64,
    /// The head segment when it was taken.
    seg: u64,
    /// `None` while its fsync runs; then whether it is on disk.
    done: Option<bool>,
    /// Its records, kept until it is known durable (written again if it is not).
    chunks: Vec<Chunk>,
    /// Which batch (to find it again).
    no: u64,
}

/// Abandoned segments and the length to cut each back to (0: delete it), once `ticket`
/// (the records moved out of them) is durable.
type Tidy = (std::collections::BTreeMap<u64, u64>, u64);

struct Inner {
    last_id: QueueId,
    chunks: Vec<Chunk>,
    next_ticket: u64,
    durable: u64,
    /// A leader is writing a batch (writes stay in log order, one batch at a time).
    writing: bool,
    /// Records pushed since the last batch was taken.
    queued: usize,
    /// Records of the recent batches: the largest, less one per batch since. A leader
    /// gathers up to this many before it writes ([`SpoolOptions::max_gather`]).
    peak: usize,
    /// A leader is waiting on `Shared::gather` for its batch to fill.
    gathering: bool,
    /// Batches written and being fsynced, oldest first. Durability advances only over a
    /// finished prefix.
    inflight: std::collections::VecDeque<Batch>,
    next_batch: u64,
    /// The last flush failed: nothing more is written until the records not yet durable
    /// are moved to a fresh segment ([`Inner::relocate`]).
    failed: Option<String>,
    /// Flushes that failed since open.
    failures: u64,
    /// Chunks of failed batches (and of batches after them), in log order.
    unwritten: Vec<Chunk>,
    /// Segments to cut back once the records moved out of them are durable.
    tidy: Vec<Tidy>,
    head_seg: u64,
    head_len: u64,
    /// The segment of the last durable append: every record in an earlier segment is on disk.
    durable_seg: u64,
    index: FxHashMap<QueueId, IndexEntry>,
    refs: FxHashMap<u64, u32>,
    /// For a segment whose last reference went away: `next_ticket` at that moment. The
    /// records that replaced its references (a compaction copy, a newer state) were
    /// pushed before, so once `durable` reaches this ticket the segment holds nothing
    /// that is not on disk elsewhere — not before, or a crash would lose them.
    dead_at: FxHashMap<u64, u64>,
    segments: BTreeSet<u64>,
    /// Bytes of each segment (header and records, written or queued).
    sizes: FxHashMap<u64, u64>,
    /// Bytes of the live records in each segment (beside `refs`).
    live: FxHashMap<u64, u64>,
    /// Bytes appended since open.
    appended: u64,
    /// Async callers waiting for a ticket to be durable: (ticket, failures seen, waker).
    waiters: Vec<(u64, u64, Waker)>,
    /// The committer thread ([`Spool::run_committer`]) waits on `Shared::work`.
    committer_idle: bool,
    /// Committer threads are to stop.
    stop_committer: bool,
    /// A leader started on demand ([`Spool::claim_leader`]) is running or about to.
    leader_claimed: bool,
    /// While that leader leads ([`Spool::lead_once`]): the wakers of the async waiters
    /// whose batch settled, woken by the leader once it has let go of the spool.
    deferred_wakes: Option<Vec<Waker>>,
}

impl Inner {
    fn add_ref(&mut self, loc: Loc) {
        let seg = loc.seg;
        *self.refs.entry(seg).or_default() += 1;
        *self.live.entry(seg).or_default() += u64::from(loc.len);
        self.dead_at.remove(&seg);
    }

    fn drop_ref(&mut self, loc: Loc) {
        let seg = loc.seg;
        if let Some(b) = self.live.get_mut(&seg) {
            *b = b.saturating_sub(u64::from(loc.len));
        }
        if let Some(n) = self.refs.get_mut(&seg) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.refs.remove(&seg);
                self.live.remove(&seg);
                self.dead_at.insert(seg, self.next_ticket);
            }
        }
    }

    fn stats(&self) -> SpoolStats {
        SpoolStats {
            segments: self.segments.len(),
            bytes: self.sizes.values().sum(),
            live_bytes: self.live.values().sum(),
            head_bytes: self.head_len,
            head_live_bytes: self.live.get(&self.head_seg).copied().unwrap_or(0),
            appended: self.appended,
        }
    }

    /// Starts a new head segment, so the old one can be compacted away like any other.
    /// Does nothing when the head holds no record.
    fn rotate(&mut self) {
        if self.head_len > SEGMENT_HEADER {
            self.start_segment();
        }
    }

    fn start_segment(&mut self) {
        self.head_seg += 1;
        self.head_len = SEGMENT_HEADER;
        self.segments.insert(self.head_seg);
        self.sizes.insert(self.head_seg, SEGMENT_HEADER);
        self.appended += SEGMENT_HEADER;
        // A ticket of its own, so that waiting for it writes the new segment even when no
        // record follows (a rotation on its own) and `durable_seg` moves past the old head.
        self.next_ticket += 1;
        self.chunks.push(Chunk {
            seg: self.head_seg,
            off: 0,
            create: true,
            pieces: vec![segment_header(self.head_seg).into()],
        });
    }

    /// Takes the leading segments that may be deleted: not the head, no record still on
    /// its way into them (below `durable_seg`; a removal has no reference, so references
    /// alone cannot tell), no reference, and every record that replaced one of theirs
    /// durable.
    fn take_dead_segments(&mut self) -> Vec<u64> {
        let mut dead = Vec::new();
        while let Some(&s) = self.segments.first() {
            if s == self.head_seg
                || s >= self.durable_seg
                || self.refs.contains_key(&s)
                || self.replacements_pending(s)
            {
                break;
            }
            self.segments.pop_first();
            self.dead_at.remove(&s);
            self.sizes.remove(&s);
            self.live.remove(&s);
            dead.push(s);
        }
        dead
    }

    /// True while a record that replaced one in `seg` may not be on disk yet.
    fn replacements_pending(&self, seg: u64) -> bool {
        self.dead_at.get(&seg).is_some_and(|&t| self.durable < t)
    }

    /// Reserves room for `bytes` at the head (rotating segments) and queues them.
    fn push(&mut self, bytes: impl Into<Piece>, segment_size: u64) -> Loc {
        let bytes = bytes.into();
        let len = bytes.len() as u64;
        if self.head_len > SEGMENT_HEADER && self.head_len + len > segment_size {
            self.start_segment();
        }
        let loc = Loc {
            seg: self.head_seg,
            off: self.head_len,
            len: u32::try_from(len).unwrap_or(u32::MAX),
        };
        self.head_len += len;
        *self.sizes.entry(self.head_seg).or_default() += len;
        self.appended += len;
        match self.chunks.last_mut() {
            Some(c) if c.seg == self.head_seg => c.pieces.push(bytes),
            _ => self.chunks.push(Chunk {
                seg: self.head_seg,
                off: loc.off,
                create: false,
                pieces: vec![bytes],
            }),
        }
        self.next_ticket += 1;
        self.queued += 1;
        loc
    }
}

impl Inner {
    /// Retires the finished batches at the front of `inflight`: a batch counts as durable
    /// only while no flush has failed; after a failure it (and every batch after it, whose
    /// bytes follow the failed ones in the file) is kept to be written again.
    fn settle(&mut self) {
        while self.inflight.front().is_some_and(|b| b.done.is_some()) {
            let Some(b) = self.inflight.pop_front() else {
                break;
            };
            if b.done == Some(true) && self.failed.is_none() {
                self.durable = self.durable.max(b.upto);
                self.durable_seg = self.durable_seg.max(b.seg);
            } else {
                self.unwritten.extend(b.chunks);
            }
        }
    }

    /// Wakes the async waiters whose change is durable, or failed (a flush failed since
    /// they appended): each looks again with [`Spool::poll_durable`].
    fn wake_waiters(&mut self) {
        let (durable, failures) = (self.durable, self.failures);
        let deferred = &mut self.deferred_wakes;
        self.waiters.retain(|(ticket, seen, waker)| {
            let ready = *ticket <= durable || *seen != failures;
            if ready {
                match deferred {
                    Some(later) => later.push(waker.clone()),
                    None => waker.wake_by_ref(),
                }
            }
            !ready
        });
    }

    /// The cut-backs whose records are now durable elsewhere, merged.
    fn take_tidy(&mut self) -> std::collections::BTreeMap<u64, u64> {
        let durable = self.durable;
        let mut out = std::collections::BTreeMap::new();
        self.tidy.retain(|(cuts, ticket)| {
            if *ticket > durable {
                return true;
            }
            for (&seg, &cut) in cuts {
                keep_shorter_cut(&mut out, seg, cut);
            }
            false
        });
        out
    }

    /// Recovers from a failed flush (no batch may be in flight): abandons every segment
    /// the records not yet durable went to, and queues those records again in a fresh
    /// segment, from memory (never read back from the abandoned file). Records made
    /// obsolete meanwhile (an older state, the enqueue of a removed message) are dropped;
    /// removals are always kept. Tickets are unchanged: the next batch holds them all.
    /// Returns the segments whose header never became durable: they hold nothing
    /// anyone was told is on disk, and go at once (not only after the next successful
    /// flush, so repeated failures on a full disk do not pile up files).
    fn relocate(&mut self, opts: &SpoolOptions) -> std::collections::BTreeMap<u64, u64> {
        let mut old = std::mem::take(&mut self.unwritten);
        old.append(&mut self.chunks);
        let mut cuts = std::collections::BTreeMap::new();
        self.start_segment();
        for chunk in old {
            let mut off = chunk.off;
            for (i, piece) in chunk.pieces.into_iter().enumerate() {
                let loc = Loc {
                    seg: chunk.seg,
                    off,
                    len: u32::try_from(piece.len()).unwrap_or(u32::MAX),
                };
                off += piece.len() as u64;
                keep_shorter_cut(&mut cuts, chunk.seg, loc.off);
                if !(chunk.create && i == 0) {
                    self.requeue(piece.joined(), loc, opts);
                }
            }
        }
        let (never, cut): (std::collections::BTreeMap<_, _>, _) =
            cuts.into_iter().partition(|&(_, cut)| cut == 0);
        for seg in never.keys() {
            self.segments.remove(seg);
            self.sizes.remove(seg);
            self.refs.remove(seg);
            self.live.remove(seg);
            self.dead_at.remove(seg);
        }
        for (seg, &len) in &cut {
            if let Some(size) = self.sizes.get_mut(seg) {
                *size = len;
            }
        }
        self.add_tidy(cut);
        self.failed = None;
        never
    }

    /// Records cut-backs due once everything queued now is durable. While a disk stays
    /// full every retry relocates again, before the last cut-back came due: those merge
    /// into the one pending (the shorter cut of a segment wins, and it waits for the
    /// later ticket), so retries keep one entry instead of a list that grows with every
    /// attempt and is scanned on every flush.
    fn add_tidy(&mut self, cut: std::collections::BTreeMap<u64, u64>) {
        let ticket = self.next_ticket;
        match self.tidy.last_mut() {
            Some((pending, due)) if *due > self.durable => {
                for (seg, len) in cut {
                    keep_shorter_cut(pending, seg, len);
                }
                *due = (*due).max(ticket);
            }
            _ => self.tidy.push((cut, ticket)),
        }
    }

    /// Queues one record of an abandoned segment again, if it still matters, and points
    /// the index at the new copy.
    fn requeue(&mut self, piece: Vec<u8>, old: Loc, opts: &SpoolOptions) {
        enum What {
            Enqueue(QueueId),
            State(QueueId),
            Other,
        }
        let what = match record::decode(&piece, opts.max_record) {
            Ok((Record::Enqueue { id, .. }, _)) => What::Enqueue(id),
            Ok((Record::State { id, .. }, _)) => What::State(id),
            _ => What::Other,
        };
        let current = |e: &IndexEntry| match what {
            What::Enqueue(_) => e.enq == old,
            What::State(_) => e.state == Some(old),
            What::Other => false,
        };
        let id = match what {
            What::Enqueue(id) | What::State(id) => id,
            What::Other => {
                // A removal: the enqueue it cancels may be durable somewhere.
                self.push(piece, opts.segment_size);
                return;
            }
        };
        if !self.index.get(&id).is_some_and(current) {
            return;
        }
        let new = self.push(piece, opts.segment_size);
        self.add_ref(new);
        self.drop_ref(old);
        if let Some(e) = self.index.get_mut(&id) {
            match what {
                What::Enqueue(_) => e.enq = new,
                _ => e.state = Some(new),
            }
        }
    }
}

/// Files a written batch must fsync, and whether it created a segment.
type ToSync = (Vec<(PathBuf, Arc<File>)>, bool);

struct Shared {
    dir: PathBuf,
    opts: SpoolOptions,
    _lock: File,
    inner: Mutex<Inner>,
    cond: Condvar,
    /// Wakes a gathering leader once its batch is full.
    gather: Condvar,
    /// Wakes an idle committer thread when an async enqueue appends a record.
    work: Condvar,
    files: Mutex<FxHashMap<u64, SegmentFile>>,
    readers: Mutex<FxHashMap<u64, Arc<File>>>,
    /// Fault injection for the unit tests: fail this many fsyncs of segment data.
    #[cfg(test)]
    fail_syncs: std::sync::atomic::AtomicU32,
}

/// A durable spool directory. Cheap to clone; all clones share one log and one group commit,
/// and every method may be called from many threads at once.
#[derive(Clone)]
pub struct Spool {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.shared.dir)
            .finish()
    }
}

fn segment_header(seg: u64) -> Vec<u8> {
    let mut h = SEGMENT_MAGIC.to_vec();
    h.extend_from_slice(&seg.to_le_bytes());
    h
}

/// Records that `seg` is to be cut back to `len` octets, keeping the shorter cut when one
/// is recorded already (the earliest record that must go decides).
fn keep_shorter_cut(cuts: &mut std::collections::BTreeMap<u64, u64>, seg: u64, len: u64) {
    let c = cuts.entry(seg).or_insert(len);
    *c = (*c).min(len);
}

fn segment_name(seg: u64) -> String {
    format!("{seg:016X}.seg")
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Fsyncs a directory so entries created, renamed or removed in it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", dir))
}

/// Writes `bytes` to `path` atomically: a temporary file, fsync, rename, fsync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SpoolError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let mut f = File::create(&tmp).map_err(io_err("create", &tmp))?;
    f.write_all(bytes).map_err(io_err("write", &tmp))?;
    f.sync_all().map_err(io_err("fsync", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("rename", path))?;
    sync_dir(dir)
}

fn ensure_dir(path: &Path) -> Result<(), SpoolError> {
    fs::create_dir_all(path).map_err(io_err("create directory", path))
}

/// Checks (or, for a new spool, writes) the `VERSION` file.
fn check_version(dir: &Path, create: bool) -> Result<(), SpoolError> {
    let path = dir.join(VERSION_FILE);
    let want = format!("postern-spool {FORMAT_VERSION}\n");
    match fs::read_to_string(&path) {
        Ok(s) if s == want => Ok(()),
        Ok(s) => Err(SpoolError::Version(s.chars().take(40).collect())),
        Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
            write_atomic(&path, want.as_bytes())
        }
        Err(e) => Err(io_err("read", &path)(e)),
    }
}

/// The segment files under `seg/`, in order, and any stray files found there.
/// Segment files by number, and stray files.
type Listing = (Vec<(u64, PathBuf)>, Vec<PathBuf>);

fn list_segments(segdir: &Path) -> Result<Listing, SpoolError> {
    let mut segs = Vec::new();
    let mut stray = Vec::new();
    for entry in fs::read_dir(segdir).map_err(io_err("list", segdir))? {
        let entry = entry.map_err(io_err("list", segdir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let num = name
            .strip_suffix(".seg")
            .filter(|n| n.len() == 16)
            .and_then(|n| u64::from_str_radix(n, 16).ok());
        match num {
            Some(n) => segs.push((n, entry.path())),
            None => stray.push(entry.path()),
        }
    }
    segs.sort();
    Ok((segs, stray))
}

/// The state a log scan builds.
#[derive(Default)]
struct Scan {
    entries: FxHashMap<QueueId, (IndexEntry, Envelope, MessageState, u64)>,
    early_states: FxHashMap<QueueId, (Loc, MessageState)>,
    removed: FxHashSet<QueueId>,
    max_id: Option<QueueId>,
    bad: Vec<(u64, PathBuf, u64, u64, String)>,
    segments: Vec<u64>,
    /// Bytes of records read successfully.
    parsed: u64,
    /// Highest segment number seen, readable or not (new segments go above it).
    max_seg: u64,
    bytes: u64,
    /// Bytes of each readable segment.
    sizes: FxHashMap<u64, u64>,
}

impl Scan {
    fn apply(&mut self, rec: Record<'_>, loc: Loc) -> Result<(), &'static str> {
        let id = rec.id();
        self.max_id = self.max_id.max(Some(id));
        match rec {
            Record::Enqueue { envelope, body, .. } => {
                if self.removed.contains(&id) {
                    return Ok(());
                }
                if let Some(e) = self.entries.get_mut(&id) {
                    e.0.enq = loc; // a copy moved forward by compaction
                    return Ok(());
                }
                let n = envelope.recipients.len();
                let mut entry = IndexEntry {
                    enq: loc,
                    state: None,
                    version: 0,
                    recipients: n,
                };
                let mut state = MessageState::new(n);
                if let Some((sloc, s)) = self.early_states.remove(&id) {
                    if s.recipients.len() != n {
                        return Err("state recipient count differs from envelope");
                    }
                    entry.state = Some(sloc);
                    entry.version = s.version;
                    state = s;
                }
                self.entries
                    .insert(id, (entry, envelope, state, body.len() as u64));
            }
            Record::State { state, .. } => {
                if let Some(e) = self.entries.get_mut(&id) {
                    if state.recipients.len() != e.0.recipients {
                        return Err("state recipient count differs from envelope");
                    }
                    if state.version > e.0.version {
                        e.0.version = state.version;
                        e.0.state = Some(loc);
                        e.2 = state;
                    }
                } else if !self.removed.contains(&id) {
                    // The enqueue may come later (moved forward by compaction).
                    let keep = self
                        .early_states
                        .get(&id)
                        .is_none_or(|(_, s)| s.version < state.version);
                    if keep {
                        self.early_states.insert(id, (loc, state));
                    }
                }
            }
            Record::Remove { .. } => {
                self.entries.remove(&id);
                self.early_states.remove(&id);
                self.removed.insert(id);
            }
        }
        Ok(())
    }

    fn scan_segment(&mut self, seg: u64, path: &Path, buf: &[u8], max: u32, live_tail: bool) {
        self.max_seg = self.max_seg.max(seg);
        let header_ok = buf.len() >= SEGMENT_HEADER as usize
            && &buf[..8] == SEGMENT_MAGIC
            && buf[8..16] == seg.to_le_bytes();
        let header_so_far =
            buf.len() < SEGMENT_HEADER as usize && segment_header(seg).starts_with(buf);
        if !header_ok && live_tail && header_so_far {
            return; // a segment being created right now
        }
        if !header_ok {
            self.bytes += buf.len() as u64;
            let why = BAD_HEADER.to_owned();
            self.bad
                .push((seg, path.to_owned(), 0, buf.len() as u64, why));
            return;
        }
        self.segments.push(seg);
        let end = self.scan_records(seg, path, buf, max, live_tail);
        // The zeros a writer put ahead of its records are not part of the log.
        self.bytes += end as u64;
        self.sizes.insert(seg, end as u64);
    }

    /// Reads the records of a segment whose header is valid; returns where they end
    /// (before the zeros that may follow them).
    fn scan_records(
        &mut self,
        seg: u64,
        path: &Path,
        buf: &[u8],
        max: u32,
        live_tail: bool,
    ) -> usize {
        // Past it, only the zeros a writer put ahead of its records.
        let end = records_end(buf);
        let mut off = SEGMENT_HEADER as usize;
        while off < end {
            let loc = |used: usize| Loc {
                seg,
                off: off as u64,
                len: used as u32,
            };
            // A frame with a valid length and checksum is genuine even if its payload is not
            // understood: skip just that frame. Once framing is lost (bad length or
            // checksum, or a torn write), the rest of the segment is quarantined: scanning
            // on for something that looks like a record could pick up a frame embedded in
            // a message body.
            let (why, next) = match record::split_frame(&buf[off..], max) {
                Ok((kind, payload, used)) => {
                    match record::decode_payload(kind, payload)
                        .map_err(|e| e.to_string())
                        .and_then(|rec| self.apply(rec, loc(used)).map_err(str::to_owned))
                    {
                        Ok(()) => {
                            self.parsed += used as u64;
                            off += used;
                            continue;
                        }
                        Err(why) => (why, off + used),
                    }
                }
                // The newest segment of a running spool (read-only inspection): a batch
                // may be half copied into the page cache. Over the zeros ahead of it,
                // this read may have found a later page of the batch written and an
                // earlier one not yet, which looks like damage; only recovery, with the
                // writer gone, can tell.
                Err(_) if live_tail => return off,
                Err(e) => match torn_frame(&buf[off..], end - off, max) {
                    Some(n) => (format!("torn tail: {e}"), off + n),
                    // Up to the zeros that may end the segment: they are reported as
                    // zeros, and need no copy in quarantine.
                    None => (format!("{e}; rest of segment unreadable"), end),
                },
            };
            self.bad
                .push((seg, path.to_owned(), off as u64, (next - off) as u64, why));
            off = next;
        }
        off
    }
}

/// The length of the unreadable frame at the start of `rest` when it is the last thing
/// written (a write cut short: nothing but zeros after it, or nothing at all, as
/// `written`, the octets of `rest` before its trailing zeros, says); `None` when more
/// follows, which only damage explains.
fn torn_frame(rest: &[u8], written: usize, max: u32) -> Option<usize> {
    let claimed = match rest.get(..4) {
        Some(&[a, b, c, d]) => match u32::from_le_bytes([a, b, c, d]) {
            len @ 1.. if len <= max => FRAME_HEADER.saturating_add(len as usize),
            _ => FRAME_HEADER,
        },
        _ => FRAME_HEADER,
    };
    let n = claimed.min(rest.len());
    (n >= written).then_some(n)
}

/// What [`check_segment`] found in one segment's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SegmentCheck {
    /// The header was valid.
    pub header_ok: bool,
    /// Bytes of records read successfully.
    pub parsed: u64,
    /// Unreadable runs: offset, length, reason. Together with the header, `parsed` and
    /// `zeros` they cover the whole input: recovery skips nothing without reporting it.
    pub bad: Vec<(u64, u64, String)>,
    /// Zeros after the records: room a writer reserved ahead of them
    /// ([`SpoolOptions::preallocate`]), not damage.
    pub zeros: u64,
}

/// Reads one segment's bytes the way recovery does, without touching the disk (used by the
/// `spool_record` fuzz target, and handy for checking a segment copied off a damaged spool).
pub fn check_segment(seg: u64, buf: &[u8], max_record: u32) -> SegmentCheck {
    let mut scan = Scan::default();
    scan.scan_segment(seg, Path::new(""), buf, max_record, false);
    let end = scan.sizes.get(&seg).copied();
    SegmentCheck {
        header_ok: end.is_some(),
        zeros: end.map_or(0, |end| buf.len() as u64 - end),
        parsed: scan.parsed,
        bad: scan
            .bad
            .into_iter()
            .map(|(_, _, off, len, why)| (off, len, why))
            .collect(),
    }
}

/// The first bytes of segment number `seg` (for building test segments).
pub fn segment_header_bytes(seg: u64) -> Vec<u8> {
    segment_header(seg)
}

/// Scans every segment. `live_tail` treats the first unreadable record of the last segment
/// as a write in progress (read-only inspection of a running spool) rather than damage.
fn scan_dir(
    dir: &Path,
    opts: &SpoolOptions,
    live_tail: bool,
) -> Result<(Scan, Vec<PathBuf>), SpoolError> {
    let segdir = dir.join("seg");
    let (segs, stray) = list_segments(&segdir)?;
    let mut scan = Scan::default();
    let last = segs.last().map(|(n, _)| *n);
    for (seg, path) in &segs {
        let buf = match fs::read(path) {
            Ok(buf) => buf,
            // A running spool deleted it after compaction (read-only inspection only).
            Err(e) if live_tail && e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("read", path)(e)),
        };
        scan.scan_segment(
            *seg,
            path,
            &buf,
            opts.max_record,
            live_tail && Some(*seg) == last,
        );
    }
    let orphans: Vec<_> = scan.early_states.drain().collect();
    for (_, (loc, _)) in orphans {
        let path = segdir.join(segment_name(loc.seg));
        let why = "state record for a message that is not in the spool".to_owned();
        scan.bad
            .push((loc.seg, path, loc.off, u64::from(loc.len), why));
    }
    scan.bad.sort_by_key(|b| (b.0, b.2));
    Ok((scan, stray))
}

/// Bytes of the records the live messages of `scan` need.
fn live_bytes(scan: &Scan) -> u64 {
    scan.entries
        .values()
        .map(|(e, ..)| u64::from(e.enq.len) + e.state.map_or(0, |s| u64::from(s.len)))
        .sum()
}

fn into_messages(
    entries: &FxHashMap<QueueId, (IndexEntry, Envelope, MessageState, u64)>,
) -> Vec<SpooledMessage> {
    let mut messages: Vec<SpooledMessage> = entries
        .iter()
        .map(|(id, (_, env, state, size))| SpooledMessage {
            id: *id,
            envelope: env.clone(),
            state: state.clone(),
            size: *size,
        })
        .collect();
    messages.sort_by_key(|m| m.id);
    messages
}

/// Copies an unreadable run to `quarantine/` (once) with a `.why` file beside it.
fn quarantine_copy(
    qdir: &Path,
    seg: u64,
    buf: &[u8],
    off: u64,
    why: &str,
) -> Result<PathBuf, SpoolError> {
    let path = qdir.join(format!("{seg:016X}-{off:012X}.bad"));
    if !path.exists() {
        write_atomic(
            &qdir.join(format!("{seg:016X}-{off:012X}.why")),
            format!("{why}\n").as_bytes(),
        )?;
        write_atomic(&path, buf)?;
    }
    Ok(path)
}

impl Spool {
    /// Opens (creating if needed) the spool at `dir`, takes its lock, and recovers: every
    /// segment is read, the latest state of each message rebuilt, and every unreadable run
    /// of bytes copied to `quarantine/` and reported — never silently dropped. Appends go
    /// to a fresh segment.
    pub fn open(
        dir: impl AsRef<Path>,
        opts: SpoolOptions,
    ) -> Result<(Spool, Recovered), SpoolError> {
        let dir = dir.as_ref().to_owned();
        for sub in ["", "seg", "quarantine", "control"] {
            ensure_dir(&dir.join(sub))?;
        }
        let lock_path = dir.join("lock");
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err("open", &lock_path))?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(SpoolError::Locked(dir)),
            Err(fs::TryLockError::Error(e)) => return Err(io_err("lock", &lock_path)(e)),
        }
        check_version(&dir, true)?;
        let (scan, stray) = scan_dir(&dir, &opts, false)?;
        let qdir = dir.join("quarantine");
        let mut quarantined = Vec::new();
        for path in stray {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let dest = qdir.join(format!("stray-{name}"));
            fs::rename(&path, &dest).map_err(io_err("quarantine", &path))?;
            // Quarantine retention (the gateway's `[retention] quarantine_days`) counts
            // from now, not from when the stray file was written.
            let _ = OpenOptions::new()
                .write(true)
                .open(&dest)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()));
            let len = fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
            let reason = "not a segment file".to_owned();
            quarantined.push(Quarantined {
                segment: path,
                offset: 0,
                len,
                reason,
                copy: Some(dest),
            });
        }
        for (seg, path, off, len, why) in &scan.bad {
            let buf = fs::read(path).map_err(io_err("read", path))?;
            let end = usize::try_from(off + len)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            let start = usize::try_from(*off).unwrap_or(usize::MAX).min(end);
            let copy = quarantine_copy(&qdir, *seg, &buf[start..end], *off, why)?;
            quarantined.push(Quarantined {
                segment: path.clone(),
                offset: *off,
                len: *len,
                reason: why.clone(),
                copy: Some(copy),
            });
            if why == BAD_HEADER {
                // Wholly copied to quarantine: take it out of the log.
                fs::remove_file(path).map_err(io_err("remove", path))?;
                sync_dir(&dir.join("seg"))?;
            }
        }
        sync_dir(&qdir)?;
        let spool = Spool::start(dir, opts, lock_file, &scan)?;
        let recovered = Recovered {
            messages: into_messages(&scan.entries),
            quarantined,
            segments: scan.segments.len(),
            bytes: scan.bytes,
            live_bytes: live_bytes(&scan),
        };
        spool.delete_dead_segments()?;
        Ok((spool, recovered))
    }

    /// Reads a spool without locking or changing it: what `postern queue list` uses while a
    /// gateway runs. The newest segment is read up to the first record that cannot be
    /// read (a batch being written), a segment header being written is skipped, as is a
    /// segment deleted by compaction while the scan runs; other unreadable runs are
    /// reported (without copies). The view is a snapshot taken segment
    /// by segment: a message compacted forward during the scan may be missed in that view.
    pub fn inspect(dir: impl AsRef<Path>, opts: &SpoolOptions) -> Result<Recovered, SpoolError> {
        let dir = dir.as_ref();
        check_version(dir, false)?;
        let (scan, _) = scan_dir(dir, opts, true)?;
        let live_bytes = live_bytes(&scan);
        Ok(Recovered {
            messages: into_messages(&scan.entries),
            quarantined: scan
                .bad
                .into_iter()
                .map(|(_, segment, offset, len, reason)| Quarantined {
                    segment,
                    offset,
                    len,
                    reason,
                    copy: None,
                })
                .collect(),
            segments: scan.segments.len(),
            bytes: scan.bytes,
            live_bytes,
        })
    }

    fn start(
        dir: PathBuf,
        opts: SpoolOptions,
        lock_file: File,
        scan: &Scan,
    ) -> Result<Spool, SpoolError> {
        let head_seg = scan.max_seg + 1;
        let path = dir.join("seg").join(segment_name(head_seg));
        // Not `append`: records go where the index says, over the zeros ahead of them.
        let mut f = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&path)
            .map_err(io_err("create", &path))?;
        f.write_all(&segment_header(head_seg))
            .map_err(io_err("write", &path))?;
        f.sync_all().map_err(io_err("fsync", &path))?;
        sync_dir(&dir.join("seg"))?;
        let mut inner = Inner {
            last_id: scan.max_id.unwrap_or(QueueId { millis: 0, seq: 0 }),
            chunks: Vec::new(),
            next_ticket: 0,
            durable: 0,
            writing: false,
            queued: 0,
            peak: 0,
            gathering: false,
            inflight: std::collections::VecDeque::new(),
            next_batch: 0,
            failed: None,
            failures: 0,
            unwritten: Vec::new(),
            tidy: Vec::new(),
            head_seg,
            head_len: SEGMENT_HEADER,
            durable_seg: head_seg,
            index: FxHashMap::with_capacity_and_hasher(scan.entries.len(), Default::default()),
            refs: FxHashMap::default(),
            dead_at: FxHashMap::default(),
            segments: scan.segments.iter().copied().chain([head_seg]).collect(),
            sizes: scan
                .sizes
                .iter()
                .map(|(&s, &n)| (s, n))
                .chain([(head_seg, SEGMENT_HEADER)])
                .collect(),
            live: FxHashMap::default(),
            appended: 0,
            waiters: Vec::new(),
            committer_idle: false,
            stop_committer: false,
            leader_claimed: false,
            deferred_wakes: None,
        };
        for (id, (entry, ..)) in &scan.entries {
            inner.add_ref(entry.enq);
            if let Some(s) = entry.state {
                inner.add_ref(s);
            }
            inner.index.insert(*id, entry.clone());
        }
        Ok(Spool {
            shared: Arc::new(Shared {
                dir,
                opts,
                _lock: lock_file,
                inner: Mutex::new(inner),
                cond: Condvar::new(),
                gather: Condvar::new(),
                work: Condvar::new(),
                files: Mutex::new(FxHashMap::from_iter([(
                    head_seg,
                    SegmentFile::new(f, SEGMENT_HEADER),
                )])),
                readers: Mutex::new(FxHashMap::default()),
                #[cfg(test)]
                fail_syncs: std::sync::atomic::AtomicU32::new(0),
            }),
        })
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Stores a message durably and returns its new queue id. When this returns `Ok`, the
    /// envelope and body are fsynced (file and directory): the caller may answer `250`.
    pub fn enqueue(
        &self,
        envelope: &Envelope,
        body: &[u8],
        now: Timestamp,
    ) -> Result<QueueId, SpoolError> {
        self.enqueue_shared(envelope, Bytes::copy_from_slice(body), now)
    }

    /// [`Spool::enqueue`] for a body already in shared memory: the spool writes it from
    /// there behind the record's other fields, rather than copying it into the record.
    pub fn enqueue_shared(
        &self,
        envelope: &Envelope,
        body: Bytes,
        now: Timestamp,
    ) -> Result<QueueId, SpoolError> {
        let (id, g) = self.append_enqueue(envelope, body, now)?;
        let ticket = g.next_ticket;
        if let Err(e) = self.wait_durable(g, ticket) {
            self.withdraw(id);
            return Err(e);
        }
        Ok(id)
    }

    /// Appends a message without waiting for it to be durable (memory only: the record is
    /// encoded and queued for the next group commit) and returns its id and the
    /// [`Pending`] to wait on, from a thread with [`Spool::wait`] or from async code with
    /// [`Spool::poll_durable`]. Some thread must be leading group commits meanwhile: a
    /// [`Spool::run_committer`] thread (which this wakes), or any caller of
    /// [`Spool::wait`] or [`Spool::sync`]. If the wait fails, call [`Spool::withdraw`]
    /// before refusing the message, as [`Spool::enqueue`] does.
    ///
    /// The body is not copied: the spool keeps a reference and writes it from `body`'s
    /// memory with the record in front of it.
    pub fn enqueue_begin(
        &self,
        envelope: &Envelope,
        body: Bytes,
        now: Timestamp,
    ) -> Result<(QueueId, Pending), SpoolError> {
        let (id, mut g) = self.append_enqueue(envelope, body, now)?;
        if g.gathering && g.queued >= g.peak {
            self.shared.gather.notify_one();
        }
        if g.committer_idle {
            // Only when it sleeps: a notify is a system call even with nobody waiting.
            g.committer_idle = false;
            self.shared.work.notify_one();
        }
        let pending = Pending {
            ticket: g.next_ticket,
            seen: g.failures,
        };
        Ok((id, pending))
    }

    /// Appends the enqueue record `encode` makes for the new id (of `envelope` and
    /// `body`); returns the id and the lock.
    fn append_enqueue(
        &self,
        envelope: &Envelope,
        body: Bytes,
        now: Timestamp,
    ) -> Result<(QueueId, MutexGuard<'_, Inner>), SpoolError> {
        let size = record::enqueue_len(envelope, &body) as u64;
        if size - FRAME_HEADER as u64 > u64::from(self.shared.opts.max_record) {
            return Err(SpoolError::TooLarge(body.len() as u64));
        }
        let id = {
            let mut g = lock(&self.shared.inner);
            g.last_id = g.last_id.next_after(now);
            g.last_id
        };
        let mut head = Vec::new();
        record::encode_enqueue_head(&mut head, id, envelope, &body);
        let piece = Piece { head, tail: body };
        let mut g = lock(&self.shared.inner);
        let loc = g.push(piece, self.shared.opts.segment_size);
        g.add_ref(loc);
        let entry = IndexEntry {
            enq: loc,
            state: None,
            version: 0,
            recipients: envelope.recipients.len(),
        };
        g.index.insert(id, entry);
        Ok((id, g))
    }

    /// Whether an appended change is durable yet, for async callers: `Ready(Ok)` once it
    /// is, `Ready(Err)` when a flush failed since it was appended (as [`Spool::wait`]
    /// would return), else `Pending` with `cx`'s waker kept and woken when a batch
    /// settles. Does no I/O: the group commit is led by others (see
    /// [`Spool::enqueue_begin`]).
    pub fn poll_durable(
        &self,
        pending: &Pending,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), SpoolError>> {
        let mut g = lock(&self.shared.inner);
        if g.durable >= pending.ticket {
            return Poll::Ready(Ok(()));
        }
        if g.failures != pending.seen {
            let why = g.failed.clone().unwrap_or_else(|| "a flush failed".into());
            return Poll::Ready(Err(SpoolError::Poisoned(why)));
        }
        match g.waiters.iter_mut().find(|(t, ..)| *t == pending.ticket) {
            Some(w) => {
                if !w.2.will_wake(cx.waker()) {
                    w.2 = cx.waker().clone();
                }
            }
            None => {
                let waiter = (pending.ticket, pending.seen, cx.waker().clone());
                g.waiters.push(waiter);
            }
        }
        Poll::Pending
    }

    /// Leads group commits for [`Spool::enqueue_begin`]'s async callers until
    /// [`Spool::stop_committers`]: sleeps while nothing is queued, otherwise writes and
    /// fsyncs what is (gathering as any leader does). Run it on a thread of its own.
    /// After a failed flush it waits a little (`COMMITTER_RETRY`) before trying again,
    /// so a full disk is not retried in a tight loop.
    pub fn run_committer(&self) {
        let mut g = lock(&self.shared.inner);
        loop {
            if g.stop_committer {
                return;
            }
            if g.chunks.is_empty() {
                g.committer_idle = true;
                g = self
                    .shared
                    .work
                    .wait(g)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                g.committer_idle = false;
                continue;
            }
            let ticket = g.next_ticket;
            let failed = self.wait_durable_as(g, ticket, false).is_err();
            if failed {
                std::thread::sleep(COMMITTER_RETRY);
            }
            g = lock(&self.shared.inner);
        }
    }

    /// For [`Spool::enqueue_begin`]'s async callers without a committer thread: true
    /// when no leader started on demand is running, and the caller is now to start one
    /// on a thread that may block, calling [`Spool::lead_once`] until it returns `None`.
    /// One such leader at a time serves every async enqueue, so an enqueue costs no
    /// thread hand-off of its own, only the wake-up when its batch is durable.
    pub fn claim_leader(&self) -> bool {
        let mut g = lock(&self.shared.inner);
        !std::mem::replace(&mut g.leader_claimed, true)
    }

    /// Writes and fsyncs everything queued now (gathering as any leader does), for the
    /// leader [`Spool::claim_leader`] started, and returns how that went; `None`, giving
    /// up the claim, when nothing is queued. The check and the release of the claim are
    /// one step under the lock, so a record appended after it finds the claim free and
    /// starts the next leader.
    ///
    /// The async waiters the batch settles are not woken here: their wakers are added to
    /// `woken`, for the caller to wake once it has let go of the spool. A caller whose
    /// enqueue resolves and then closes the spool finds it closed at once (its lock
    /// released), not still held by the leader. After an error, wait
    /// ([`COMMITTER_RETRY`], as a committer thread does) before leading again.
    pub fn lead_once(&self, woken: &mut Vec<Waker>) -> Option<Result<(), SpoolError>> {
        let mut g = lock(&self.shared.inner);
        if g.chunks.is_empty() || g.stop_committer {
            g.leader_claimed = false;
            return None;
        }
        g.deferred_wakes = Some(std::mem::take(woken));
        let ticket = g.next_ticket;
        let led = self.wait_durable_as(g, ticket, true);
        let mut g = lock(&self.shared.inner);
        *woken = g.deferred_wakes.take().unwrap_or_default();
        Some(led)
    }

    /// Makes the next `n` fsyncs of segment data fail (unit tests of the crate).
    #[cfg(test)]
    pub(crate) fn fail_next_syncs(&self, n: u32) {
        self.shared
            .fail_syncs
            .store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// Stops every [`Spool::run_committer`] thread (each returns once its batch is done).
    pub fn stop_committers(&self) {
        let mut g = lock(&self.shared.inner);
        g.stop_committer = true;
        self.shared.work.notify_all();
    }

    /// Takes back an enqueue whose flush failed: the caller refuses the message, so it
    /// must not be delivered as well. Its record may be whole on disk in the abandoned
    /// segment, so a removal follows it (written with the next flush that succeeds).
    pub fn withdraw(&self, id: QueueId) {
        let mut g = lock(&self.shared.inner);
        let Some(entry) = g.index.remove(&id) else {
            return;
        };
        g.drop_ref(entry.enq);
        if let Some(s) = entry.state {
            g.drop_ref(s);
        }
        let mut buf = Vec::new();
        record::encode_remove(&mut buf, id);
        g.push(buf, self.shared.opts.segment_size);
    }

    /// True while a flush has failed and the records it held wait to be written again
    /// (the next call that waits, or [`Spool::sync`], tries).
    pub fn is_failing(&self) -> bool {
        lock(&self.shared.inner).failed.is_some()
    }

    /// Persists a new state for `id`. Sets `state.version` to one more than the stored
    /// version; when this returns `Ok` the new state is durable.
    pub fn update(&self, id: QueueId, state: &mut MessageState) -> Result<(), SpoolError> {
        let pending = self.update_begin(id, state)?;
        self.wait(pending)
    }

    /// Appends a new state for `id` without waiting for it to be durable (no I/O happens
    /// here); pass the result to [`Spool::wait`]. Appends are ordered: a caller that
    /// serialises its own updates (under its lock) gets them on disk in that order, while
    /// the fsync is shared with everyone else's.
    pub fn update_begin(
        &self,
        id: QueueId,
        state: &mut MessageState,
    ) -> Result<Pending, SpoolError> {
        let mut g = lock(&self.shared.inner);
        let entry = g.index.get(&id).ok_or(SpoolError::NotFound(id))?;
        if state.recipients.len() != entry.recipients {
            return Err(SpoolError::RecipientCount {
                got: state.recipients.len(),
                want: entry.recipients,
            });
        }
        state.version = entry.version + 1;
        let old = entry.state;
        let mut buf = Vec::new();
        record::encode_state(&mut buf, id, state);
        let loc = g.push(buf, self.shared.opts.segment_size);
        g.add_ref(loc);
        if let Some(old) = old {
            g.drop_ref(old);
        }
        if let Some(e) = g.index.get_mut(&id) {
            e.state = Some(loc);
            e.version = state.version;
        }
        Ok(Pending {
            ticket: g.next_ticket,
            seen: g.failures,
        })
    }

    /// Removes a message (durably). Call it once every recipient is final, or to delete.
    pub fn remove(&self, id: QueueId) -> Result<(), SpoolError> {
        let pending = self.remove_begin(id)?;
        self.wait(pending)
    }

    /// Appends a removal without waiting; see [`Spool::update_begin`].
    pub fn remove_begin(&self, id: QueueId) -> Result<Pending, SpoolError> {
        let mut g = lock(&self.shared.inner);
        let entry = g.index.remove(&id).ok_or(SpoolError::NotFound(id))?;
        g.drop_ref(entry.enq);
        if let Some(s) = entry.state {
            g.drop_ref(s);
        }
        let mut buf = Vec::new();
        record::encode_remove(&mut buf, id);
        g.push(buf, self.shared.opts.segment_size);
        Ok(Pending {
            ticket: g.next_ticket,
            seen: g.failures,
        })
    }

    /// Waits until an appended change is durable.
    pub fn wait(&self, pending: Pending) -> Result<(), SpoolError> {
        let g = lock(&self.shared.inner);
        self.wait_durable(g, pending.ticket)
    }

    /// Waits until everything appended so far is durable.
    pub fn sync(&self) -> Result<(), SpoolError> {
        let g = lock(&self.shared.inner);
        let ticket = g.next_ticket;
        self.wait_durable(g, ticket)
    }

    /// True when the spool holds `id`.
    pub fn contains(&self, id: QueueId) -> bool {
        lock(&self.shared.inner).index.contains_key(&id)
    }

    /// Number of messages in the spool.
    pub fn len(&self) -> usize {
        lock(&self.shared.inner).index.len()
    }

    /// True when the spool holds no message.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads a message's envelope and body back from disk.
    pub fn read(&self, id: QueueId) -> Result<(Envelope, Vec<u8>), SpoolError> {
        // A concurrent compaction may move the record; look it up again once if so.
        for _ in 0..2 {
            let loc = lock(&self.shared.inner)
                .index
                .get(&id)
                .map(|e| e.enq)
                .ok_or(SpoolError::NotFound(id))?;
            let raw = match self.read_raw(loc) {
                Ok(raw) => raw,
                Err(_) if !self.contains_at(id, loc) => continue,
                Err(e) => return Err(e),
            };
            return match record::decode(&raw, self.shared.opts.max_record) {
                Ok((Record::Enqueue { envelope, body, .. }, _)) => Ok((envelope, body.to_vec())),
                Ok(_) => Err(SpoolError::Corrupt(id, RecordError::UnknownKind(0))),
                Err(e) => Err(SpoolError::Corrupt(id, e)),
            };
        }
        Err(SpoolError::NotFound(id))
    }

    /// The open segment file holding message `id`'s enqueue record, its path, and the
    /// record's offset and length there; for [`crate::body::BodyReader`]. The file stays
    /// readable through the handle even if a compaction removes it afterwards.
    pub(crate) fn enqueue_record(
        &self,
        id: QueueId,
    ) -> Result<(Arc<File>, PathBuf, u64, u32), SpoolError> {
        // A concurrent compaction may move the record; look it up again once if so.
        for _ in 0..2 {
            let loc = lock(&self.shared.inner)
                .index
                .get(&id)
                .map(|e| e.enq)
                .ok_or(SpoolError::NotFound(id))?;
            let path = self.shared.dir.join("seg").join(segment_name(loc.seg));
            let cached = lock(&self.shared.readers).get(&loc.seg).map(Arc::clone);
            let file = match cached {
                Some(f) => f,
                None => match File::open(&path) {
                    Ok(f) => Arc::new(f),
                    Err(_) if !self.contains_at(id, loc) => continue,
                    Err(e) => return Err(io_err("open", &path)(e)),
                },
            };
            return Ok((file, path, loc.off, loc.len));
        }
        Err(SpoolError::NotFound(id))
    }

    fn contains_at(&self, id: QueueId, loc: Loc) -> bool {
        lock(&self.shared.inner)
            .index
            .get(&id)
            .is_some_and(|e| e.enq == loc)
    }

    fn read_raw(&self, loc: Loc) -> Result<Vec<u8>, SpoolError> {
        let path = self.shared.dir.join("seg").join(segment_name(loc.seg));
        let file = {
            let mut readers = lock(&self.shared.readers);
            match readers.get(&loc.seg) {
                Some(f) => Arc::clone(f),
                None => {
                    let f = Arc::new(File::open(&path).map_err(io_err("open", &path))?);
                    readers.insert(loc.seg, Arc::clone(&f));
                    f
                }
            }
        };
        let mut buf = vec![0u8; loc.len as usize];
        file.read_exact_at(&mut buf, loc.off)
            .map_err(io_err("read", &path))?;
        Ok(buf)
    }

    /// Group commit: wait until `ticket` is durable, flushing as leader when possible.
    ///
    /// A leader takes every queued record, writes them (one leader writes at a time, so
    /// the log keeps its order), then fsyncs. While its fsync is in flight the next leader
    /// may already write and fsync the next batch (up to `max_inflight` batches), so the
    /// file system can merge their flushes. A ticket is durable once its batch and every
    /// earlier batch have been fsynced.
    ///
    /// A flush that fails while this call waits is its error. A failure from before the
    /// call is one to recover from: once no batch is in flight, the records not yet
    /// durable move to a fresh segment and this call writes them like any batch.
    fn wait_durable<'s>(&'s self, g: MutexGuard<'s, Inner>, ticket: u64) -> Result<(), SpoolError> {
        self.wait_durable_as(g, ticket, true)
    }

    /// [`Spool::wait_durable`]; `gather`: whether a leader waits for its batch to fill
    /// (the committer thread does not: what arrives while it syncs is its next batch,
    /// and nobody else leads to split it).
    fn wait_durable_as<'s>(
        &'s self,
        mut g: MutexGuard<'s, Inner>,
        ticket: u64,
        gather: bool,
    ) -> Result<(), SpoolError> {
        let seen = g.failures;
        if g.gathering && g.queued >= g.peak {
            self.shared.gather.notify_one();
        }
        let mut gathered = false;
        loop {
            if g.durable >= ticket {
                return Ok(());
            }
            if let Some(e) = &g.failed {
                if g.failures != seen {
                    if gathered {
                        // Others may have gone back to sleep while this caller gathered
                        // (`writing` was set); it will not lead now, so one of them must.
                        self.shared.cond.notify_all();
                    }
                    return Err(SpoolError::Poisoned(e.clone()));
                }
                if !g.writing && g.inflight.is_empty() {
                    let never = g.relocate(&self.shared.opts);
                    if !never.is_empty() {
                        drop(g);
                        self.cut_back(never);
                        g = lock(&self.shared.inner);
                    }
                    continue;
                }
            }
            let can_lead = g.failed.is_none()
                && !g.writing
                && !g.chunks.is_empty()
                && g.inflight.len() < self.shared.opts.max_inflight.max(1);
            if !can_lead {
                g = self
                    .shared
                    .cond
                    .wait(g)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            if !gathered && gather {
                // The state may change while the leader waits (a batch in flight may
                // fail): look at it again before leading.
                gathered = true;
                g = self.gather(g);
                continue;
            }
            g = self.lead(g);
        }
    }

    /// Waits, up to [`SpoolOptions::max_gather`], until as many records are queued as the
    /// recent batches held. Nobody else leads meanwhile (`writing` is set).
    fn gather<'s>(&'s self, mut g: MutexGuard<'s, Inner>) -> MutexGuard<'s, Inner> {
        let max = self.shared.opts.max_gather;
        if max.is_zero() || g.queued >= g.peak {
            return g;
        }
        g.writing = true;
        g.gathering = true;
        let deadline = Instant::now() + max;
        while g.queued < g.peak {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            g = self
                .shared
                .gather
                .wait_timeout(g, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        g.gathering = false;
        g.writing = false;
        g
    }

    /// Writes and fsyncs every queued record as one batch (the caller is the leader).
    fn lead<'s>(&'s self, mut g: MutexGuard<'s, Inner>) -> MutexGuard<'s, Inner> {
        g.writing = true;
        let chunks = std::mem::take(&mut g.chunks);
        let records = std::mem::take(&mut g.queued);
        g.peak = records.max(g.peak.saturating_sub(1));
        let no = g.next_batch;
        g.next_batch += 1;
        let batch = Batch {
            upto: g.next_ticket,
            seg: g.head_seg,
            done: None,
            chunks: Vec::new(),
            no,
        };
        g.inflight.push_back(batch);
        drop(g);
        let written = self.write_batch(&chunks);
        g = lock(&self.shared.inner);
        g.writing = false;
        if let Some(b) = g.inflight.iter_mut().find(|b| b.no == no) {
            b.chunks = chunks;
        }
        // Wake the others now only if one of them could lead the next batch while this
        // one syncs; otherwise the wake-up after the sync is the one that matters (each
        // needless wake-up is a context switch per waiting writer).
        if !g.chunks.is_empty() && g.inflight.len() < self.shared.opts.max_inflight.max(1) {
            self.shared.cond.notify_all();
        }
        let synced = match written {
            Ok(to_sync) => {
                drop(g);
                let r = self.sync_batch(&to_sync);
                g = lock(&self.shared.inner);
                r
            }
            Err(e) => Err(e),
        };
        if let Err(e) = &synced {
            g.failed = Some(e.to_string());
            g.failures += 1;
        }
        if let Some(b) = g.inflight.iter_mut().find(|b| b.no == no) {
            b.done = Some(synced.is_ok());
        }
        g.settle();
        g.wake_waiters();
        let tidy = g.take_tidy();
        if !tidy.is_empty() {
            drop(g);
            self.cut_back(tidy);
            g = lock(&self.shared.inner);
        }
        self.shared.cond.notify_all();
        g
    }

    /// Cuts abandoned segments back to their durable part, now that the records moved
    /// out of them are durable elsewhere; deletes the ones that never had a durable
    /// header. Best effort: what stays is a torn tail recovery quarantines.
    fn cut_back(&self, cuts: std::collections::BTreeMap<u64, u64>) {
        let segdir = self.shared.dir.join("seg");
        for (seg, cut) in cuts {
            let path = segdir.join(segment_name(seg));
            if cut == 0 {
                lock(&self.shared.files).remove(&seg);
                lock(&self.shared.readers).remove(&seg);
                let _ = fs::remove_file(&path);
            } else if let Ok(f) = OpenOptions::new().write(true).open(&path) {
                let _ = f.set_len(cut).and_then(|()| f.sync_all());
            }
        }
        let _ = sync_dir(&segdir);
    }

    /// Writes a batch in log order; returns the files to fsync and whether a segment was
    /// created (its directory entry must be synced too).
    fn write_batch(&self, chunks: &[Chunk]) -> Result<ToSync, SpoolError> {
        let segdir = self.shared.dir.join("seg");
        let mut files = lock(&self.shared.files);
        let mut touched: Vec<(PathBuf, Arc<File>)> = Vec::new();
        let mut created = false;
        for chunk in chunks {
            let path = segdir.join(segment_name(chunk.seg));
            if chunk.create {
                let f = OpenOptions::new()
                    .create_new(true)
                    .write(true)
                    .open(&path)
                    .map_err(io_err("create", &path))?;
                files.retain(|&s, _| s > chunk.seg.saturating_sub(2));
                files.insert(chunk.seg, SegmentFile::new(f, 0));
                created = true;
            }
            let f = files
                .get_mut(&chunk.seg)
                .ok_or_else(|| io_err("write", &path)(io::ErrorKind::NotFound.into()))?;
            let opts = &self.shared.opts;
            // A new segment holding only its header (a rotation when idle) gets no zeros
            // yet: an idle spool stays one header long.
            let header_only = chunk.create && chunk.pieces.len() == 1;
            f.write_at(
                chunk.off,
                &chunk.pieces,
                if header_only { 0 } else { opts.preallocate },
                opts.segment_size,
            )
            .map_err(io_err("write", &path))?;
            if !touched.iter().any(|(p, _)| *p == path) {
                touched.push((path, Arc::clone(&f.file)));
            }
        }
        Ok((touched, created))
    }

    fn sync_batch(&self, (files, created): &ToSync) -> Result<(), SpoolError> {
        for (path, f) in files {
            #[cfg(test)]
            {
                use std::sync::atomic::Ordering::SeqCst;
                let left = self.shared.fail_syncs.load(SeqCst);
                if left > 0 {
                    self.shared.fail_syncs.store(left - 1, SeqCst);
                    return Err(io_err("fsync", path)(io::Error::other("injected")));
                }
            }
            f.sync_data().map_err(io_err("fsync", path))?;
        }
        if *created {
            sync_dir(&self.shared.dir.join("seg"))?;
        }
        Ok(())
    }

    /// Deletes leading segments that no live message references.
    fn delete_dead_segments(&self) -> Result<usize, SpoolError> {
        self.sync()?;
        // Another thread's compaction may have moved records since the sync: the list is
        // taken under the lock, against what is durable now.
        let dead = lock(&self.shared.inner).take_dead_segments();
        let segdir = self.shared.dir.join("seg");
        for s in &dead {
            lock(&self.shared.readers).remove(s);
            let path = segdir.join(segment_name(*s));
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove", &path)(e)),
            }
        }
        if !dead.is_empty() {
            sync_dir(&segdir)?;
        }
        Ok(dead.len())
    }

    /// Reclaims space: deletes leading segments nobody references, and copies the live
    /// records of the oldest segment forward (up to `max_copy` bytes per call) so it can be
    /// deleted too. Returns the number of segments deleted. Call it from time to time,
    /// when idle; it is safe beside concurrent appends (a segment goes only once the
    /// copies of its records are durable). The head segment is never compacted: call
    /// [`Spool::rotate`] first to reclaim its dead space too. `postern-gateway` calls
    /// both on its own (`[spool]` settings).
    pub fn compact(&self, max_copy: u64) -> Result<usize, SpoolError> {
        let mut deleted = self.delete_dead_segments()?;
        let mut copied = 0u64;
        while copied < max_copy {
            let mut g = lock(&self.shared.inner);
            let Some(&oldest) = g.segments.first() else {
                break;
            };
            if oldest == g.head_seg {
                break;
            }
            if oldest >= g.durable_seg {
                // Records of `oldest` may still be on their way to disk: flush first.
                let ticket = g.next_ticket;
                self.wait_durable(g, ticket)?;
                continue;
            }
            let live: Vec<(QueueId, IndexEntry)> = g
                .index
                .iter()
                .filter(|(_, e)| e.enq.seg == oldest || e.state.is_some_and(|s| s.seg == oldest))
                .map(|(id, e)| (*id, e.clone()))
                .collect();
            // Copy under the lock so no update or removal interleaves with the copy.
            for (id, e) in live {
                for (loc, is_state) in [(Some(e.enq), false), (e.state, true)] {
                    let Some(loc) = loc.filter(|l| l.seg == oldest) else {
                        continue;
                    };
                    let raw = self.read_raw(loc)?;
                    copied += raw.len() as u64;
                    let new = g.push(raw, self.shared.opts.segment_size);
                    g.add_ref(new);
                    g.drop_ref(loc);
                    if let Some(entry) = g.index.get_mut(&id) {
                        if is_state {
                            entry.state = Some(new);
                        } else {
                            entry.enq = new;
                        }
                    }
                }
            }
            let ticket = g.next_ticket;
            self.wait_durable(g, ticket)?;
            let n = self.delete_dead_segments()?;
            deleted += n;
            if n == 0 {
                break;
            }
        }
        Ok(deleted)
    }

    /// How the spool's bytes divide between live and dead records. Cheap (no I/O).
    pub fn stats(&self) -> SpoolStats {
        lock(&self.shared.inner).stats()
    }

    /// Starts a new head segment when the current one holds any record, and waits until
    /// it exists on disk: the old head can then be compacted like any other segment.
    /// Safe beside concurrent appends, which simply go to the new head.
    pub fn rotate(&self) -> Result<(), SpoolError> {
        let mut g = lock(&self.shared.inner);
        g.rotate();
        let ticket = g.next_ticket;
        self.wait_durable(g, ticket)
    }

    /// Number of segment files (including the head).
    pub fn segment_count(&self) -> usize {
        lock(&self.shared.inner).segments.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::RecipientState;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("postern-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn env(n: usize) -> Envelope {
        Envelope::new(
            "s@x",
            (0..n).map(|i| format!("r{i}@d{i}.example")),
            Timestamp(1),
        )
    }

    /// The head file: its records, then zeros up to the next `preallocate` step, which
    /// the following records overwrite; a reopen reads every message and reports
    /// nothing. Without preallocation the file is just its records; a head holding only
    /// its header gets no zeros.
    #[test]
    fn zeros_ahead_of_the_records_are_overwritten_and_skipped() {
        for step in [4096u64, 0] {
            let dir = tmp(&format!("zeros{step}"));
            let opts = SpoolOptions {
                preallocate: step,
                ..SpoolOptions::default()
            };
            let (spool, _) = Spool::open(&dir, opts.clone()).unwrap();
            let head = segment_name(lock(&spool.shared.inner).head_seg);
            let path = dir.join("seg").join(head);
            let header_only = fs::metadata(&path).unwrap().len();
            assert_eq!(header_only, SEGMENT_HEADER, "step {step}");
            let ids: Vec<QueueId> = (0..10)
                .map(|i| spool.enqueue(&env(1), &[b'z'; 700], Timestamp(i)).unwrap())
                .collect();
            let records = lock(&spool.shared.inner).head_len;
            let on_disk = fs::metadata(&path).unwrap().len();
            if let Some(steps) = records.checked_div(step) {
                assert_eq!(on_disk, (steps + 1) * step, "records {records}");
                let bytes = fs::read(&path).unwrap();
                assert_eq!(records_end(&bytes), records as usize);
            } else {
                assert_eq!(on_disk, records);
            }
            assert_eq!(spool.stats().bytes, records);
            drop(spool);
            let (spool, rec) = Spool::open(&dir, opts.clone()).unwrap();
            assert!(rec.quarantined.is_empty(), "{:?}", rec.quarantined);
            assert_eq!(rec.messages.iter().map(|m| m.id).collect::<Vec<_>>(), ids);
            assert_eq!(rec.bytes, records, "zeros are not counted");
            assert_eq!(spool.read(ids[9]).unwrap().1, vec![b'z'; 700]);
            // An idle rotation: the new head is a header only.
            spool.rotate().unwrap();
            let head = segment_name(lock(&spool.shared.inner).head_seg);
            let len = fs::metadata(dir.join("seg").join(head)).unwrap().len();
            assert_eq!(len, SEGMENT_HEADER);
            drop(spool);
            fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// Found by `tests/inspect_live.rs` in CI: reading the newest segment while a batch
    /// is copied over the zeros, a read may find a later page of the batch written and an
    /// earlier one still zeros. Inspection ends its view there; recovery, with the writer
    /// gone, calls the same bytes damage.
    #[test]
    fn inspection_stops_at_a_half_copied_batch_in_the_newest_segment() {
        let dir = tmp("halfcopied");
        drop(Spool::open(&dir, SpoolOptions::default()).unwrap());
        let mut seg = segment_header_bytes(9);
        let (first, second) = (QueueId { millis: 1, seq: 0 }, QueueId { millis: 2, seq: 0 });
        record::encode_enqueue(&mut seg, first, &env(1), b"one");
        seg.resize(seg.len() + 300, 0); // the page not copied yet
        record::encode_enqueue(&mut seg, second, &env(1), b"two");
        seg.resize(seg.len() + 1000, 0);
        fs::write(dir.join("seg").join(segment_name(9)), &seg).unwrap();
        let view = Spool::inspect(&dir, &SpoolOptions::default()).unwrap();
        assert!(view.quarantined.is_empty(), "{:?}", view.quarantined);
        let ids: Vec<_> = view.messages.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![first]);
        let c = check_segment(9, &seg, DEFAULT_MAX_RECORD);
        assert_eq!(c.bad.len(), 1, "{:?}", c.bad);
        assert!(
            c.bad[0].2.contains("rest of segment unreadable"),
            "{:?}",
            c.bad
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn segment_stays_until_the_copies_of_its_records_are_durable() {
        // Found by tests/crash.rs under load: a compaction in one thread copied the records
        // of the oldest segment forward (dropping its references), and another thread,
        // between its sync and its list of dead segments, deleted that segment before
        // the copies were written. A kill then lost acknowledged messages.
        let dir = tmp("deadcopies");
        let opts = SpoolOptions {
            segment_size: 4096,
            ..SpoolOptions::default()
        };
        let (spool, _) = Spool::open(&dir, opts).unwrap();
        while spool.segment_count() < 3 {
            spool.enqueue(&env(1), &[b'x'; 500], Timestamp(1)).unwrap();
        }
        let mut g = lock(&spool.shared.inner);
        let oldest = *g.segments.first().unwrap();
        // What `compact` does under the lock, before it waits for the copies.
        let live: Vec<(QueueId, IndexEntry)> = g
            .index
            .iter()
            .filter(|(_, e)| e.enq.seg == oldest)
            .map(|(id, e)| (*id, e.clone()))
            .collect();
        assert!(!live.is_empty());
        for (id, e) in live {
            let raw = spool.read_raw(e.enq).unwrap();
            let new = g.push(raw, 4096);
            g.add_ref(new);
            g.drop_ref(e.enq);
            g.index.get_mut(&id).unwrap().enq = new;
        }
        assert!(
            g.take_dead_segments().is_empty(),
            "the segment went before its copies were durable"
        );
        let ticket = g.next_ticket;
        spool.wait_durable(g, ticket).unwrap();
        assert_eq!(lock(&spool.shared.inner).take_dead_segments(), vec![oldest]);
        drop(spool);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn repeated_failed_flushes_keep_one_pending_cut_back() {
        // A spool whose directory went away kept failing every retry; each retry
        // relocated and queued one more cut-back, all waiting on tickets that never
        // became durable, and every flush scanned the list: an idle gateway spent a third
        // of a core on it after ten minutes.
        let dir = tmp("failloop");
        let (spool, _) = Spool::open(&dir, SpoolOptions::default()).unwrap();
        let kept = spool.enqueue(&env(2), b"kept", Timestamp(1)).unwrap();
        let first_head = lock(&spool.shared.inner).head_seg;
        spool
            .shared
            .fail_syncs
            .store(50, std::sync::atomic::Ordering::SeqCst);
        let mut st = MessageState::new(2);
        for attempt in 0..40u64 {
            st.recipients[0] = RecipientState::Delivered {
                at: Timestamp(attempt),
                reply: format!("250 attempt {attempt}"),
            };
            assert!(spool.update(kept, &mut st).is_err(), "attempt {attempt}");
            let g = lock(&spool.shared.inner);
            assert!(g.tidy.len() <= 1, "{} cut-backs pending", g.tidy.len());
        }
        spool
            .shared
            .fail_syncs
            .store(0, std::sync::atomic::Ordering::SeqCst);
        spool.update(kept, &mut st).unwrap();
        let g = lock(&spool.shared.inner);
        assert!(g.tidy.is_empty(), "the cut-back is done once durable");
        let head = g.head_seg;
        drop(g);
        // Every segment the failed retries created is gone; the first keeps its part.
        let segs: Vec<u64> = fs::read_dir(dir.join("seg"))
            .unwrap()
            .map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                u64::from_str_radix(name.trim_end_matches(".seg"), 16).unwrap()
            })
            .collect();
        assert!(
            segs.iter().all(|&s| s == first_head || s == head),
            "{segs:?}"
        );
        drop(spool);
        let (spool, rec) = Spool::open(&dir, SpoolOptions::default()).unwrap();
        assert!(rec.quarantined.is_empty(), "{:?}", rec.quarantined);
        assert_eq!(rec.messages.len(), 1);
        assert_eq!(rec.messages[0].state, st, "the last outcome is on disk");
        drop(spool);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failed_fsync_recovers_without_reopen_and_keeps_every_change() {
        // Issue 25: after a failed flush the spool used to refuse every change until it
        // was reopened. Now the failing calls get an error, their changes (other than an
        // enqueue, which is withdrawn) are kept, and the next flush writes them to a fresh
        // segment; the abandoned one is cut back to its durable part.
        let dir = tmp("failsync");
        let (spool, _) = Spool::open(&dir, SpoolOptions::default()).unwrap();
        let kept = spool.enqueue(&env(2), b"kept", Timestamp(1)).unwrap();
        let gone = spool.enqueue(&env(1), b"gone", Timestamp(1)).unwrap();
        let (first_head, durable_len) = {
            let g = lock(&spool.shared.inner);
            (g.head_seg, g.head_len)
        };
        // The records are followed by the zeros reserved ahead of them.
        let path = dir.join("seg").join(segment_name(first_head));
        assert!(fs::metadata(&path).unwrap().len() > durable_len);
        spool
            .shared
            .fail_syncs
            .store(1, std::sync::atomic::Ordering::SeqCst);
        // An outcome whose flush fails: an error, but not lost.
        let mut st = MessageState::new(2);
        st.recipients[0] = RecipientState::Delivered {
            at: Timestamp(7),
            reply: "250 delivered once".into(),
        };
        let e = spool.update(kept, &mut st).unwrap_err();
        assert!(matches!(e, SpoolError::Poisoned(_)), "{e}");
        assert!(spool.is_failing());
        // Queued meanwhile, without I/O: a removal.
        let p = spool.remove_begin(gone).unwrap();
        // The next wait writes everything again, to a fresh segment.
        spool.wait(p).unwrap();
        assert!(!spool.is_failing());
        assert!(lock(&spool.shared.inner).head_seg > first_head);
        // An enqueue that fails is withdrawn: the caller answered 451.
        spool
            .shared
            .fail_syncs
            .store(1, std::sync::atomic::Ordering::SeqCst);
        assert!(spool.enqueue(&env(1), b"refused", Timestamp(1)).is_err());
        assert_eq!(spool.len(), 1);
        let late = spool.enqueue(&env(1), b"late", Timestamp(1)).unwrap();
        // The abandoned segment holds only what was durable before the failure (the
        // zeros after it are cut off too).
        assert_eq!(fs::metadata(&path).unwrap().len(), durable_len);
        assert_eq!(spool.read(kept).unwrap().1, b"kept");
        drop(spool);
        let (spool, rec) = Spool::open(&dir, SpoolOptions::default()).unwrap();
        assert!(rec.quarantined.is_empty(), "{:?}", rec.quarantined);
        let found: Vec<_> = rec.messages.iter().map(|m| m.id).collect();
        assert_eq!(found, vec![kept, late], "the refused enqueue is not there");
        assert_eq!(rec.messages[0].state, st, "the outcome is on disk");
        assert_eq!(spool.read(late).unwrap().1, b"late");
        drop(spool);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn enqueue_update_remove_recover() {
        let dir = tmp("basic");
        let (spool, rec) = Spool::open(&dir, SpoolOptions::default()).unwrap();
        assert!(rec.messages.is_empty());
        let a = spool.enqueue(&env(2), b"body a", Timestamp(100)).unwrap();
        let b = spool.enqueue(&env(1), b"body b", Timestamp(100)).unwrap();
        assert!(a < b);
        let mut st = MessageState::new(2);
        st.recipients[0] = RecipientState::Delivered {
            at: Timestamp(5),
            reply: "250 ok".into(),
        };
        spool.update(a, &mut st).unwrap();
        assert_eq!(st.version, 1);
        spool.update(a, &mut st).unwrap();
        assert_eq!(st.version, 2);
        assert!(matches!(
            spool.update(a, &mut MessageState::new(3)),
            Err(SpoolError::RecipientCount { .. })
        ));
        spool.remove(b).unwrap();
        assert!(matches!(spool.remove(b), Err(SpoolError::NotFound(_))));
        assert!(matches!(
            Spool::open(&dir, SpoolOptions::default()),
            Err(SpoolError::Locked(_))
        ));
        drop(spool);
        let (spool, rec) = Spool::open(&dir, SpoolOptions::default()).unwrap();
        assert_eq!(rec.messages.len(), 1);
        assert!(rec.quarantined.is_empty());
        assert_eq!(rec.messages[0].id, a);
        assert_eq!(rec.messages[0].state, st);
        assert_eq!(spool.read(a).unwrap().1, b"body a");
        let c = spool.enqueue(&env(1), b"c", Timestamp(50)).unwrap();
        assert!(c > a, "ids keep growing even if the clock steps back");
        drop(spool);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corruption_is_quarantined_with_the_rest_of_its_segment() {
        let dir = tmp("corrupt");
        let (spool, _) = Spool::open(&dir, SpoolOptions::default()).unwrap();
        let ids: Vec<_> = (0..3)
            .map(|i| {
                spool
                    .enqueue(&env(1), format!("m{i}").as_bytes(), Timestamp(9))
                    .unwrap()
            })
            .collect();
        drop(spool);
        let seg = dir.join("seg").join(segment_name(1));
        let mut bytes = fs::read(&seg).unwrap();
        let records = bytes.len() - check_segment(1, &bytes, DEFAULT_MAX_RECORD).zeros as usize;
        let second = SEGMENT_HEADER as usize + (records - SEGMENT_HEADER as usize) / 3 + 20;
        bytes[second] ^= 0xFF; // damage the middle record
        bytes.extend_from_slice(&[7, 0, 0]); // and a torn tail
        fs::write(&seg, &bytes).unwrap();
        fs::write(dir.join("seg").join("junk.txt"), b"?").unwrap();
        let (spool, rec) = Spool::open(&dir, SpoolOptions::default()).unwrap();
        let found: Vec<_> = rec.messages.iter().map(|m| m.id).collect();
        assert_eq!(
            found,
            vec![ids[0]],
            "framing is lost after the damaged record"
        );
        assert_eq!(rec.quarantined.len(), 2, "{:?}", rec.quarantined);
        for q in &rec.quarantined {
            let copy = q.copy.as_ref().unwrap();
            assert_eq!(fs::metadata(copy).unwrap().len(), q.len, "{q:?}");
        }
        let q = rec
            .quarantined
            .iter()
            .find(|q| q.reason.contains("checksum"))
            .unwrap();
        assert_eq!(
            q.len as usize,
            bytes.len() - 2 - q.offset as usize,
            "the rest of the segment, up to the two zeros that end it"
        );
        let copy = fs::read(q.copy.as_ref().unwrap()).unwrap();
        assert!(
            copy.windows(2).any(|w| w == b"m2"),
            "the later message is in quarantine"
        );
        assert!(
            rec.quarantined
                .iter()
                .any(|q| q.reason.contains("not a segment"))
        );
        // A payload the decoder does not understand, in an intact frame, costs only itself.
        let mut bytes = segment_header_bytes(99);
        let mut unknown = Vec::new();
        record::encode_remove(&mut unknown, ids[0]);
        unknown[8] = 9; // kind 9 ...
        let crc = record::crc32c(&unknown[8..]);
        unknown[4..8].copy_from_slice(&crc.to_le_bytes()); // ... with a valid checksum
        bytes.extend_from_slice(&unknown);
        record::encode_remove(&mut bytes, ids[0]);
        let c = check_segment(99, &bytes, DEFAULT_MAX_RECORD);
        assert_eq!(c.bad.len(), 1);
        assert_eq!(c.bad[0].1 as usize, unknown.len());
        assert_eq!(
            c.parsed as usize,
            bytes.len() - unknown.len() - SEGMENT_HEADER as usize
        );
        drop(spool);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rotation_and_compaction_keep_live_messages() {
        let dir = tmp("compact");
        let opts = SpoolOptions {
            segment_size: 600,
            ..SpoolOptions::default()
        };
        let (spool, _) = Spool::open(&dir, opts.clone()).unwrap();
        let body = vec![b'x'; 150];
        let ids: Vec<_> = (0..20)
            .map(|_| spool.enqueue(&env(1), &body, Timestamp(9)).unwrap())
            .collect();
        let mut st = MessageState::new(1);
        spool.update(ids[0], &mut st).unwrap();
        for id in &ids[1..19] {
            spool.remove(*id).unwrap();
        }
        assert!(spool.segment_count() > 5);
        spool.compact(u64::MAX).unwrap();
        assert!(spool.segment_count() <= 3, "{}", spool.segment_count());
        assert_eq!(spool.read(ids[0]).unwrap().1, body);
        spool.update(ids[0], &mut st).unwrap();
        drop(spool);
        let (spool, rec) = Spool::open(&dir, opts).unwrap();
        assert!(rec.quarantined.is_empty(), "{:?}", rec.quarantined);
        let found: Vec<_> = rec
            .messages
            .iter()
            .map(|m| (m.id, m.state.version))
            .collect();
        assert_eq!(found, vec![(ids[0], 2), (ids[19], 0)]);
        assert_eq!(spool.read(ids[19]).unwrap().1, body);
        let inspected = Spool::inspect(&dir, &SpoolOptions::default()).unwrap();
        assert_eq!(inspected.messages, rec.messages);
        drop(spool);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn check_segment_accounts_for_every_byte() {
        let mut buf = segment_header_bytes(3);
        let env = env(2);
        record::encode_enqueue(&mut buf, QueueId { millis: 1, seq: 0 }, &env, b"x");
        let good = buf.len();
        buf.extend_from_slice(b"garbage in the middle");
        record::encode_remove(&mut buf, QueueId { millis: 1, seq: 0 });
        buf.extend_from_slice(&[1, 0, 0]);
        let c = check_segment(3, &buf, DEFAULT_MAX_RECORD);
        assert!(c.header_ok);
        let bad: u64 = c.bad.iter().map(|b| b.1).sum();
        assert_eq!(SEGMENT_HEADER + c.parsed + bad + c.zeros, buf.len() as u64);
        assert_eq!(c.bad.len(), 1, "{:?}", c.bad);
        assert_eq!(c.bad[0].0, good as u64);
        assert_eq!(
            c.zeros, 2,
            "the run ends at the last octet that is not zero"
        );
        assert!(!check_segment(4, &buf, DEFAULT_MAX_RECORD).header_ok);
    }

    /// Zeros after the records are the room a writer reserved, not damage; a record cut
    /// short inside them is a torn tail, and only it is reported; anything after zeros is
    /// damage.
    #[test]
    fn zeros_after_the_records_end_the_segment() {
        let mut buf = segment_header_bytes(3);
        let id = QueueId { millis: 1, seq: 0 };
        record::encode_enqueue(&mut buf, id, &env(2), b"body");
        let records = buf.len();
        buf.resize(records + 5000, 0);
        let c = check_segment(3, &buf, DEFAULT_MAX_RECORD);
        assert_eq!((c.parsed, c.zeros), (records as u64 - SEGMENT_HEADER, 5000));
        assert!(c.bad.is_empty(), "{:?}", c.bad);
        // A second record cut short: its first octets written, the rest still zeros.
        let mut torn = buf.clone();
        let mut second = Vec::new();
        record::encode_remove(&mut second, id);
        torn[records..records + 6].copy_from_slice(&second[..6]);
        let c = check_segment(3, &torn, DEFAULT_MAX_RECORD);
        assert_eq!(c.bad.len(), 1, "{:?}", c.bad);
        let (off, len, why) = &c.bad[0];
        assert_eq!((*off, *len), (records as u64, second.len() as u64));
        assert!(why.starts_with("torn tail"), "{why}");
        assert_eq!(c.zeros, 5000 - second.len() as u64);
        // Something after the zeros: the framing is lost there, and the rest is reported,
        // up to the zeros that end the segment.
        let mut damaged = buf.clone();
        damaged[records + 4000] = 1;
        let c = check_segment(3, &damaged, DEFAULT_MAX_RECORD);
        assert_eq!(c.bad.len(), 1, "{:?}", c.bad);
        assert_eq!(c.bad[0].0, records as u64);
        assert_eq!(c.bad[0].1, 4001);
        assert_eq!(c.zeros, 999);
    }

    #[test]
    fn concurrent_writers_share_commits() {
        let dir = tmp("concurrent");
        let (spool, _) = Spool::open(&dir, SpoolOptions::default()).unwrap();
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let s = spool.clone();
                std::thread::spawn(move || {
                    (0..25)
                        .map(|i| {
                            s.enqueue(&env(1), format!("{t}-{i}").as_bytes(), Timestamp(3))
                                .unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<QueueId> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        assert_eq!(spool.len(), 200);
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 200, "ids are unique");
        drop(spool);
        let (_, rec) = Spool::open(&dir, SpoolOptions::default()).unwrap();
        assert_eq!(rec.messages.len(), 200);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Whatever the gathering wait and the pipelining, every enqueue of a burst from many
    /// writers comes back durable; and so does a lone writer after the burst, whose
    /// leader waits for a group that no longer comes (the wait runs out, it writes).
    #[test]
    fn gathering_leaders_lose_nothing() {
        let long = Duration::from_millis(20);
        for (inflight, gather) in [(1, Duration::ZERO), (1, long), (4, long)] {
            let dir = tmp("gather");
            let opts = SpoolOptions {
                max_inflight: inflight,
                max_gather: gather,
                ..SpoolOptions::default()
            };
            let (spool, _) = Spool::open(&dir, opts.clone()).unwrap();
            let handles: Vec<_> = (0..8)
                .map(|t| {
                    let s = spool.clone();
                    std::thread::spawn(move || {
                        for i in 0..25 {
                            s.enqueue(&env(1), format!("{t}-{i}").as_bytes(), Timestamp(3))
                                .unwrap();
                        }
                    })
                })
                .collect();
            handles.into_iter().for_each(|h| h.join().unwrap());
            for i in 0..3 {
                spool
                    .enqueue(&env(1), format!("lone-{i}").as_bytes(), Timestamp(4))
                    .unwrap();
            }
            assert_eq!(spool.len(), 203);
            drop(spool);
            let (_, rec) = Spool::open(&dir, opts).unwrap();
            assert_eq!(
                rec.messages.len(),
                203,
                "inflight {inflight}, gather {gather:?}"
            );
            fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// Octets of the segment files on disk, without the zeros after their records.
    fn disk_bytes(dir: &Path) -> u64 {
        fs::read_dir(dir.join("seg"))
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                let seg = u64::from_str_radix(&path.file_stem().unwrap().to_string_lossy(), 16);
                let bytes = fs::read(&path).unwrap();
                let zeros = check_segment(seg.unwrap(), &bytes, DEFAULT_MAX_RECORD).zeros;
                bytes.len() as u64 - zeros
            })
            .sum()
    }

    #[test]
    fn stats_count_live_and_dead_bytes_as_on_disk() {
        let dir = tmp("stats");
        let opts = SpoolOptions {
            segment_size: 4096,
            ..SpoolOptions::default()
        };
        let (spool, _) = Spool::open(&dir, opts.clone()).unwrap();
        let ids: Vec<QueueId> = (0..40)
            .map(|i| spool.enqueue(&env(1), &[b'x'; 300], Timestamp(i)).unwrap())
            .collect();
        let full = spool.stats();
        assert_eq!(full.bytes, disk_bytes(&dir));
        assert!(full.segments > 3, "{full:?}");
        // Only segment headers are dead while every message is live.
        assert_eq!(full.dead_bytes(), full.segments as u64 * SEGMENT_HEADER);
        for id in &ids[..30] {
            spool.remove(*id).unwrap();
        }
        let after = spool.stats();
        assert_eq!(after.bytes, disk_bytes(&dir));
        assert!(after.live_bytes * 4 < full.live_bytes + 400, "{after:?}");
        assert!(after.reclaimable_bytes() > 0);
        // A read-only inspection agrees about the live bytes.
        let seen = Spool::inspect(&dir, &opts).unwrap();
        assert_eq!(seen.live_bytes, after.live_bytes);
        assert_eq!(seen.bytes, after.bytes);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rotate_then_compact_reclaims_the_head_too() {
        let dir = tmp("rotate");
        let (spool, _) = Spool::open(&dir, SpoolOptions::default()).unwrap();
        let ids: Vec<QueueId> = (0..50)
            .map(|i| spool.enqueue(&env(2), &[b'y'; 1000], Timestamp(i)).unwrap())
            .collect();
        for id in &ids[1..] {
            spool.remove(*id).unwrap();
        }
        // One 64 MiB segment: compaction alone never touches the head.
        spool.compact(u64::MAX).unwrap();
        assert!(disk_bytes(&dir) > 50_000);
        spool.rotate().unwrap();
        spool.compact(u64::MAX).unwrap();
        let st = spool.stats();
        assert_eq!(st.segments, 1);
        assert_eq!(st.bytes, disk_bytes(&dir));
        assert_eq!(st.dead_bytes(), SEGMENT_HEADER);
        // Again: the live record moves on, nothing else is left.
        spool.rotate().unwrap();
        spool.compact(u64::MAX).unwrap();
        assert_eq!(spool.stats().segments, 1);
        assert_eq!(spool.stats().bytes, disk_bytes(&dir));
        assert_eq!(spool.read(ids[0]).unwrap().1, vec![b'y'; 1000]);
        drop(spool);
        let (_, rec) = Spool::open(&dir, SpoolOptions::default()).unwrap();
        assert_eq!(rec.messages.len(), 1);
        assert_eq!(rec.messages[0].id, ids[0]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
