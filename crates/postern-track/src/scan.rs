//! Reading a log file in large chunks and handing out regions of whole lines, so callers
//! search the bytes with memchr/memmem instead of splitting into strings line by line.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::Path;

use crate::TrackError;

/// Bytes read per `read` call.
const CHUNK: usize = 1 << 20;

/// Counters of one or more scans.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Files read (for a trace, the most read in one pass).
    pub files: usize,
    /// Files answered (partly) through their index.
    pub indexed_files: usize,
    /// Bytes read by scanning (index lookups not counted).
    pub bytes_scanned: u64,
    /// Lines that did not parse, or were longer than the limit, and were skipped.
    pub malformed_lines: u64,
    /// Files whose last line had no line feed (a write torn by a crash); it was skipped.
    pub torn_lines: u64,
}

impl ScanStats {
    pub(crate) fn add(&mut self, o: &ScanStats) {
        self.files += o.files;
        self.indexed_files += o.indexed_files;
        self.bytes_scanned += o.bytes_scanned;
        self.malformed_lines += o.malformed_lines;
        self.torn_lines += o.torn_lines;
    }

    /// Adds a later pass over the same files: work adds up, but a bad line seen in every
    /// pass is counted once.
    pub(crate) fn merge_round(&mut self, o: &ScanStats) {
        self.files = self.files.max(o.files);
        self.indexed_files = self.indexed_files.max(o.indexed_files);
        self.bytes_scanned += o.bytes_scanned;
        self.malformed_lines = self.malformed_lines.max(o.malformed_lines);
        self.torn_lines = self.torn_lines.max(o.torn_lines);
    }
}

/// Reads `path` from byte `from` to `end` and calls `f(offset, region)` with regions that
/// hold only whole lines, each ending in `\n`; `offset` is the file offset of the region's
/// first byte. A line longer than `max_line_len` is skipped (counted as malformed); bytes
/// after the last line feed are a torn line (counted, never passed on). Returns the offset
/// just past the last whole line.
pub(crate) fn scan_regions(
    path: &Path,
    from: u64,
    end: u64,
    max_line_len: usize,
    stats: &mut ScanStats,
    mut f: impl FnMut(u64, &[u8]) -> ControlFlow<()>,
) -> Result<u64, TrackError> {
    let mut file = File::open(path).map_err(TrackError::io("open", path))?;
    file.seek(SeekFrom::Start(from))
        .map_err(TrackError::io("seek", path))?;
    let mut file = file.take(end.saturating_sub(from));
    let mut buf = vec![0u8; CHUNK.min(max_line_len.max(1) + 1)];
    let (mut filled, mut base, mut skipping) = (0usize, from, false);
    let mut done = from;
    loop {
        if filled == buf.len() {
            if buf.len() <= max_line_len {
                let grown = (buf.len() * 2).min(max_line_len + 1);
                buf.resize(grown, 0);
            } else {
                // One line fills the whole buffer: give up on it and skip to its end.
                skipping = true;
                base += filled as u64;
                filled = 0;
            }
        }
        let n = file
            .read(&mut buf[filled..])
            .map_err(TrackError::io("read", path))?;
        if n == 0 {
            break;
        }
        stats.bytes_scanned += n as u64;
        let mut start = 0;
        if skipping {
            match memchr::memchr(b'\n', &buf[filled..filled + n]) {
                Some(p) => {
                    stats.malformed_lines += 1;
                    skipping = false;
                    start = filled + p + 1;
                    done = base + start as u64;
                }
                None => {
                    base += (filled + n) as u64;
                    filled = 0;
                    continue;
                }
            }
        }
        let new = filled + n;
        match memchr::memrchr(b'\n', &buf[start..new]) {
            Some(p) => {
                let stop = start + p + 1;
                let flow = f(base + start as u64, &buf[start..stop]);
                done = base + stop as u64;
                if flow.is_break() {
                    return Ok(done);
                }
                buf.copy_within(stop..new, 0);
                base += stop as u64;
                filled = new - stop;
            }
            None => {
                buf.copy_within(start..new, 0);
                base += start as u64;
                filled = new - start;
            }
        }
    }
    if filled > 0 || skipping {
        stats.torn_lines += 1;
    }
    Ok(done)
}

/// Splits a region into lines (without `\n`, and without a trailing `\r`), with offsets.
pub(crate) fn lines(base: u64, region: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let rest = region.get(pos..).filter(|r| !r.is_empty())?;
        let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let line = &rest[..len];
        let at = base + pos as u64;
        pos += len + 1;
        Some((at, line.strip_suffix(b"\r").unwrap_or(line)))
    })
}

/// The lines of a region that contain `finder`'s needle, each once, with offsets.
pub(crate) fn hit_lines<'a>(
    base: u64,
    region: &'a [u8],
    finder: &'a memchr::memmem::Finder<'a>,
) -> impl Iterator<Item = (u64, &'a [u8])> + 'a {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let hit = pos + finder.find(region.get(pos..)?)?;
        let start = memchr::memrchr(b'\n', &region[..hit]).map_or(0, |p| p + 1);
        let end = memchr::memchr(b'\n', &region[hit..]).map_or(region.len(), |p| hit + p);
        pos = end + 1;
        let line = &region[start..end];
        Some((
            base + start as u64,
            line.strip_suffix(b"\r").unwrap_or(line),
        ))
    })
}

/// Reads the line starting at `offset` (up to `max_line_len` bytes) into `buf`; returns
/// `None` if there is no whole line there.
pub(crate) fn read_line_at<'b>(
    file: &mut File,
    offset: u64,
    max_line_len: usize,
    buf: &'b mut Vec<u8>,
) -> std::io::Result<Option<&'b [u8]>> {
    file.seek(SeekFrom::Start(offset))?;
    buf.clear();
    let mut step = 1024;
    loop {
        let old = buf.len();
        buf.resize(old + step, 0);
        let n = file.read(&mut buf[old..])?;
        buf.truncate(old + n);
        if let Some(p) = memchr::memchr(b'\n', &buf[old..]) {
            let line = &buf[..old + p];
            return Ok(Some(line.strip_suffix(b"\r").unwrap_or(line)));
        }
        if n == 0 || buf.len() > max_line_len {
            return Ok(None);
        }
        step = (step * 4).min(CHUNK);
    }
}
