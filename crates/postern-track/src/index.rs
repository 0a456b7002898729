//! The optional per-day index: message-id and queue-id → line offsets, in `YYYYMMDD.idx`
//! beside `YYYYMMDD.log`.
//!
//! Layout (little-endian): the magic `PTIDX002`; the log's length, modification time (ns
//! since the epoch), a hash of its first 256 bytes (the header, whose `#Date:` line tells
//! one file from another) and the offset just past its last whole line when the index was built;
//! the entry count; 65 537 bucket starts (`u32`, by the top 16 bits of the key hash); then
//! entries `(hash u64, offset u64)` sorted by hash. A lookup reads the two bucket bounds
//! and one bucket: three small reads whatever the file's size. Hash collisions are
//! harmless: every line found is parsed and checked against the query.
//!
//! **Staleness.** The log is append-only, so an index stays valid for the bytes it covered.
//! * same length and mtime: fresh;
//! * longer with the same first bytes: the index answers for its prefix and the tail is scanned (today's live file),
//!   until the tail exceeds [`REBUILD_TAIL`] bytes and a quarter of the log, when it is rebuilt;
//! * shorter, other first bytes, same length with another mtime, unreadable, or of the
//!   wrong size: stale, rebuilt.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::TrackError;
use crate::line::col;
use crate::retention::index_path;
use crate::scan::{self, ScanStats};
use crate::text::unescape;

const MAGIC: &[u8; 8] = b"PTIDX002";
const HEADER: u64 = 48;
/// Bytes at the start of the log whose hash identifies it (the header with its `#Date:`).
const HEAD: u64 = 256;
const BUCKETS: usize = 1 << 16;
const TABLE: u64 = (BUCKETS as u64 + 1) * 4;

/// A grown log's tail is scanned rather than re-indexed up to this many bytes.
pub const REBUILD_TAIL: u64 = 4 << 20;

/// Which field a key comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// The message-id, angle brackets stripped.
    MessageId = 1,
    /// The queue id or the related queue id.
    QueueId = 2,
}

/// FNV-1a over the key kind and the decoded value: stable across builds and platforms.
pub(crate) fn key_hash(kind: KeyKind, value: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in std::iter::once(&(kind as u8)).chain(value) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Strips one pair of angle brackets, so `<id@x>` and `id@x` name the same message.
pub(crate) fn strip_brackets(v: &[u8]) -> &[u8] {
    v.strip_prefix(b"<")
        .and_then(|v| v.strip_suffix(b">"))
        .unwrap_or(v)
}

/// How far an index can be trusted for the log as it is now.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Usable {
    /// The index answers for lines that start before this offset.
    pub covered: u64,
}

/// Log identity recorded in the index header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LogStamp {
    len: u64,
    mtime_ns: u64,
    head: u64,
}

/// The log's identity now. `head_len` is how many leading bytes to hash: [`HEAD`], or
/// fewer to compare with an index built when the log was shorter.
fn stamp(log: &Path, head_len: u64) -> Result<LogStamp, TrackError> {
    let mut f = File::open(log).map_err(TrackError::io("open", log))?;
    let meta = f.metadata().map_err(TrackError::io("stat", log))?;
    let mut head = Vec::new();
    (&mut f)
        .take(head_len.min(meta.len()))
        .read_to_end(&mut head)
        .map_err(TrackError::io("read", log))?;
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    Ok(LogStamp {
        len: meta.len(),
        mtime_ns,
        head: key_hash(KeyKind::MessageId, &head),
    })
}

/// An open index file.
pub(crate) struct Index {
    file: File,
    count: u64,
}

impl Index {
    /// Opens the index of `log` if it is usable for the log's current state, rebuilding it
    /// first when missing or stale. `None` when it cannot be built (e.g. a read-only
    /// directory): the caller scans instead.
    pub(crate) fn open_or_build(
        log: &Path,
        max_line_len: usize,
        stats: &mut ScanStats,
    ) -> Result<Option<(Index, Usable)>, TrackError> {
        if let Some((idx, recorded, covered)) = Index::open(&index_path(log)) {
            let now = stamp(log, recorded.len.min(HEAD))?;
            let fresh = recorded == now;
            let grown = now.len > recorded.len && now.head == recorded.head;
            let tail = now.len.saturating_sub(covered);
            if fresh || (grown && (tail <= REBUILD_TAIL || tail <= covered / 4)) {
                return Ok(Some((idx, Usable { covered })));
            }
        }
        if build(log, max_line_len, stats).is_err() {
            return Ok(None);
        }
        Ok(Index::open(&index_path(log)).map(|(idx, _, covered)| (idx, Usable { covered })))
    }

    fn open(path: &Path) -> Option<(Index, LogStamp, u64)> {
        let mut file = File::open(path).ok()?;
        let mut h = [0u8; HEADER as usize];
        file.read_exact(&mut h).ok()?;
        if &h[..8] != MAGIC {
            return None;
        }
        let word = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().unwrap_or([0; 8]));
        let (len, mtime_ns, head) = (word(8), word(16), word(24));
        let (covered, count) = (word(32), word(40));
        let expect = HEADER
            .checked_add(TABLE)?
            .checked_add(count.checked_mul(16)?)?;
        if file.metadata().ok()?.len() != expect || covered > len {
            return None;
        }
        Some((
            Index { file, count },
            LogStamp {
                len,
                mtime_ns,
                head,
            },
            covered,
        ))
    }

    /// The line offsets recorded under `hash`, ascending.
    pub(crate) fn lookup(&mut self, hash: u64) -> std::io::Result<Vec<u64>> {
        let bucket = hash >> 48;
        let mut b = [0u8; 8];
        self.file.seek(SeekFrom::Start(HEADER + bucket * 4))?;
        self.file.read_exact(&mut b)?;
        let lo = u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let hi = u64::from(u32::from_le_bytes([b[4], b[5], b[6], b[7]]));
        if lo >= hi || hi > self.count {
            return Ok(Vec::new());
        }
        let mut raw = vec![0u8; ((hi - lo) * 16) as usize];
        self.file.seek(SeekFrom::Start(HEADER + TABLE + lo * 16))?;
        self.file.read_exact(&mut raw)?;
        let mut out: Vec<u64> = raw
            .chunks_exact(16)
            .filter(|e| u64::from_le_bytes(e[..8].try_into().unwrap_or([0; 8])) == hash)
            .map(|e| u64::from_le_bytes(e[8..].try_into().unwrap_or([0; 8])))
            .collect();
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

/// Scans `log` and writes its index (to a temporary file, then renamed into place so a
/// reader never sees half an index). Returns the index's path.
pub(crate) fn build(
    log: &Path,
    max_line_len: usize,
    stats: &mut ScanStats,
) -> Result<PathBuf, TrackError> {
    let before = stamp(log, HEAD)?;
    let mut entries: Vec<(u64, u64)> = Vec::new();
    let covered = scan::scan_regions(log, 0, before.len, max_line_len, stats, |base, region| {
        for (off, line) in scan::lines(base, region) {
            index_line(off, line, &mut entries);
        }
        std::ops::ControlFlow::Continue(())
    })?;
    // Only a log that did not change while we read it may be recorded as fresh.
    let after = stamp(log, HEAD)?;
    let recorded = if after == before {
        before
    } else {
        LogStamp {
            mtime_ns: 0,
            ..before
        }
    };
    entries.sort_unstable();
    let mut out = Vec::with_capacity((HEADER + TABLE) as usize + entries.len() * 16);
    out.extend_from_slice(MAGIC);
    for w in [
        recorded.len,
        recorded.mtime_ns,
        recorded.head,
        covered,
        entries.len() as u64,
    ] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    let mut next = 0usize;
    for bucket in 0..=BUCKETS {
        while next < entries.len() && ((entries[next].0 >> 48) as usize) < bucket {
            next += 1;
        }
        out.extend_from_slice(&u32::try_from(next).unwrap_or(u32::MAX).to_le_bytes());
    }
    for (h, off) in &entries {
        out.extend_from_slice(&h.to_le_bytes());
        out.extend_from_slice(&off.to_le_bytes());
    }
    let path = index_path(log);
    let tmp = path.with_extension("idx.tmp");
    let mut f = File::create(&tmp).map_err(TrackError::io("create", &tmp))?;
    f.write_all(&out).map_err(TrackError::io("write", &tmp))?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(TrackError::io("rename", &path))?;
    Ok(path)
}

fn index_line(off: u64, line: &[u8], entries: &mut Vec<(u64, u64)>) {
    if line.first() == Some(&b'#') {
        return;
    }
    // Only three columns matter; find their bounds without splitting the whole line.
    let mut cols = [&[][..]; 5];
    let mut rest = line;
    for c in cols.iter_mut() {
        let Some(p) = memchr::memchr(b'\t', rest) else {
            return;
        };
        *c = &rest[..p];
        rest = &rest[p + 1..];
    }
    // `rest` starts at column 5; the related queue id is column 19, after 14 more tabs.
    let mut tabs = memchr::memchr_iter(b'\t', rest);
    let related = match tabs.nth(col::RELATED - 6) {
        Some(p) => &rest[p + 1..tabs.next().unwrap_or(rest.len())],
        None => b"-",
    };
    let mut add = |kind, raw: &[u8]| {
        if raw != b"-" {
            if let Ok(v) = unescape(raw) {
                let v = if kind == KeyKind::MessageId {
                    strip_brackets(&v)
                } else {
                    &v
                };
                entries.push((key_hash(kind, v), off));
            }
        }
    };
    add(KeyKind::MessageId, cols[col::MESSAGE_ID]);
    add(KeyKind::QueueId, cols[col::QUEUE_ID]);
    add(KeyKind::QueueId, related);
}
