//! A segment file being written: each batch lands at the offset the index gave its
//! records, and zeros are kept written ahead of them.
//!
//! Why the zeros: an `fdatasync` after an append must also write the file's new size and
//! block map (on ext4 without a journal, a second synchronous write of the inode; with
//! one, a journal commit). Over blocks the file already has, it writes only the data. So
//! the writer extends the file with zeros, [`SpoolOptions::preallocate`] octets at a time,
//! and the records that follow overwrite them: one fsync in many carries the metadata
//! (the one whose batch wrote the zeros) instead of every one. On this project's test
//! machine a commit of 2.9 KB then took 37 µs of CPU instead of 57 µs, and 95 µs on the
//! wall instead of 150 µs (BENCHMARKS.md, "Relay, thirteenth round").
//!
//! `fallocate(2)` would not do: ext4 marks fallocated blocks unwritten, and the first
//! write to each changes the block map again. PostgreSQL zero-fills its WAL segments for
//! the same reason.
//!
//! A reader tells the zeros from records by the frame length, which is never 0: a segment
//! ends where the rest of it is zeros (see [`records_end`] and `FORMAT.md`).
//!
//! [`SpoolOptions::preallocate`]: crate::SpoolOptions::preallocate

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::sync::Arc;

use bytes::Bytes;

/// One record waiting to be written: its encoded octets, then (for an enqueue appended
/// from shared memory) the message body they end with, written from where it is.
pub(crate) struct Piece {
    pub(crate) head: Vec<u8>,
    pub(crate) tail: Bytes,
}

impl Piece {
    pub(crate) fn len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// The whole record in one buffer (for the rare paths that decode it again).
    pub(crate) fn joined(self) -> Vec<u8> {
        if self.tail.is_empty() {
            return self.head;
        }
        let mut v = self.head;
        v.extend_from_slice(&self.tail);
        v
    }
}

impl From<Vec<u8>> for Piece {
    fn from(head: Vec<u8>) -> Self {
        Piece {
            head,
            tail: Bytes::new(),
        }
    }
}

/// The zeros an extension is written from: one static block, repeated in the `writev`.
static ZEROS: [u8; ZERO_BLOCK] = [0; ZERO_BLOCK];
const ZERO_BLOCK: usize = 64 << 10;

/// A segment file open for writing, where its writes stand, and how far zeros reach.
pub(crate) struct SegmentFile {
    /// Shared with the batch that fsyncs it after the lock on the files is dropped.
    pub(crate) file: Arc<File>,
    /// The file's offset (where the next `writev` lands without a seek).
    pos: u64,
    /// Octets of the file written so far: records, then zeros.
    written: u64,
}

impl SegmentFile {
    /// A file whose first `len` octets (at least the header) are written, the offset
    /// after them.
    pub(crate) fn new(file: File, len: u64) -> Self {
        SegmentFile {
            file: Arc::new(file),
            pos: len,
            written: len,
        }
    }

    /// Writes `pieces` at `off`. When they reach past the zeros written so far, zeros
    /// follow them in the same `writev`, up to the next multiple of `step` (at most
    /// `limit`, the segment size; never when `step` is 0). Zeros the disk has no room
    /// for are not an error: the records are what must be written, and the next batch
    /// tries again.
    pub(crate) fn write_at(
        &mut self,
        off: u64,
        pieces: &[Piece],
        step: u64,
        limit: u64,
    ) -> io::Result<()> {
        if self.pos != off {
            (&*self.file).seek(SeekFrom::Start(off))?;
            self.pos = off;
        }
        let len: u64 = pieces.iter().map(|p| p.len() as u64).sum();
        let end = off + len;
        let zeros = zeros_after(end, self.written, step, limit);
        let mut slices: Vec<io::IoSlice<'_>> = pieces
            .iter()
            .flat_map(|p| [io::IoSlice::new(&p.head), io::IoSlice::new(&p.tail)])
            .collect();
        let mut left = zeros;
        while left > 0 {
            let n = left.min(ZERO_BLOCK as u64) as usize;
            slices.push(io::IoSlice::new(&ZEROS[..n]));
            left -= n as u64;
        }
        let done = write_all_vectored(&self.file, &mut slices);
        self.pos += done.0;
        self.written = self.written.max(self.pos);
        match done.1 {
            // Short of room for the zeros only: the records are written.
            Err(_) if self.pos >= end => Ok(()),
            r => r,
        }
    }
}

/// How many zeros to write after records ending at `end`, when zeros reach `written`:
/// none while the records stay within them; else up to the next multiple of `step` above
/// `end`, capped at `limit`.
fn zeros_after(end: u64, written: u64, step: u64, limit: u64) -> u64 {
    if step == 0 || end < written {
        return 0;
    }
    let target = (end / step + 1).saturating_mul(step).min(limit);
    target.saturating_sub(end)
}

/// Writes every slice, in as few system calls as the kernel allows (`writev`, at most
/// `IOV_MAX` slices a call), instead of joining a batch's records into one buffer first:
/// with 100 KB bodies that copy was an eighth of the process's `memmove` time in a relay
/// profile (BENCHMARKS.md, "Relay, fourth round"). Returns the octets written, and how it
/// ended.
fn write_all_vectored(mut f: &File, slices: &mut [io::IoSlice<'_>]) -> (u64, io::Result<()>) {
    let mut rest = slices;
    let mut done = 0u64;
    // Drops leading empty slices, so a write of nothing never reaches the kernel.
    io::IoSlice::advance_slices(&mut rest, 0);
    while !rest.is_empty() {
        match f.write_vectored(rest) {
            Ok(0) => return (done, Err(io::ErrorKind::WriteZero.into())),
            Ok(n) => {
                done += n as u64;
                io::IoSlice::advance_slices(&mut rest, n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (done, Err(e)),
        }
    }
    (done, Ok(()))
}

/// Where `buf` ends without the zeros after it: past its last octet that is not zero.
/// A segment's records end there or before, if the writer put zeros ahead of them (a
/// frame's length is never 0, so a record cannot start with zeros).
pub(crate) fn records_end(buf: &[u8]) -> usize {
    // Compared a block at a time from the end: a whole tail of zeros (up to
    // `preallocate`) is read once per segment at recovery.
    let mut end = buf.len();
    for block in buf.rchunks(ZERO_BLOCK) {
        if block != &ZEROS[..block.len()] {
            // The last octet that is not zero is in this block.
            let last = block.iter().rposition(|&b| b != 0).unwrap_or_default();
            return end - block.len() + last + 1;
        }
        end -= block.len();
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp_file(name: &str) -> (std::path::PathBuf, File) {
        let dir =
            std::env::temp_dir().join(format!("postern-segfile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let f = std::fs::OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        (dir, f)
    }

    /// The file's octets, read through a handle of its own (the writer's offset is
    /// its own state).
    fn contents(dir: &std::path::Path) -> Vec<u8> {
        std::fs::read(dir.join("f")).unwrap()
    }

    #[test]
    fn zeros_reach_the_next_step_and_records_overwrite_them() {
        let (dir, f) = tmp_file("step");
        let mut sf = SegmentFile::new(f, 0);
        sf.write_at(0, &[b"HEADER".to_vec().into()], 16, 1000)
            .unwrap();
        let mut want = b"HEADER".to_vec();
        want.resize(16, 0);
        assert_eq!(contents(&dir), want);
        // Within the zeros: no more are written.
        sf.write_at(6, &[b"abc".to_vec().into()], 16, 1000).unwrap();
        assert_eq!(&contents(&dir)[..], b"HEADERabc\0\0\0\0\0\0\0");
        // Past them: zeros to the next multiple of the step above the records' end.
        let piece = Piece {
            head: b"0123".to_vec(),
            tail: Bytes::from_static(b"456789"),
        };
        sf.write_at(9, &[piece], 16, 1000).unwrap();
        let got = contents(&dir);
        assert_eq!(got.len(), 32);
        assert_eq!(&got[..19], b"HEADERabc0123456789");
        assert_eq!(records_end(&got), 19);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_limit_caps_the_zeros_and_no_step_writes_none() {
        assert_eq!(zeros_after(10, 0, 16, 20), 6);
        assert_eq!(zeros_after(18, 0, 16, 20), 2);
        assert_eq!(zeros_after(16, 0, 16, 1000), 16);
        assert_eq!(zeros_after(10, 16, 16, 1000), 0);
        assert_eq!(zeros_after(25, 16, 16, 20), 0);
        assert_eq!(zeros_after(10, 0, 0, 1000), 0);
        // A step of a megabyte is written from several static blocks.
        let (dir, f) = tmp_file("big");
        let mut sf = SegmentFile::new(f, 0);
        sf.write_at(0, &[vec![7u8; 5].into()], 1 << 20, 64 << 20)
            .unwrap();
        let got = contents(&dir);
        assert_eq!(got.len(), 1 << 20);
        assert_eq!(records_end(&got), 5);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// More pieces than one `writev` takes (IOV_MAX is 1024 on Linux), empty ones among
    /// them: the file holds all of them in order, then the zeros.
    #[test]
    fn pieces_are_written_whole_and_in_order() {
        let (dir, f) = tmp_file("pieces");
        let pieces: Vec<Piece> = (0..3000u32)
            .map(|i| match i % 7 {
                0 => Vec::new().into(),
                1 => Piece {
                    head: vec![1; 5],
                    tail: Bytes::from(vec![(i % 251) as u8; 9]),
                },
                2 => Piece {
                    head: Vec::new(),
                    tail: Bytes::from(vec![2; 4]),
                },
                n => vec![(i % 251) as u8; n as usize * 3].into(),
            })
            .collect();
        let mut sf = SegmentFile::new(f, 0);
        sf.write_at(0, &pieces, 4096, 1 << 30).unwrap();
        let end = pieces.iter().map(Piece::len).sum::<usize>() as u64;
        sf.write_at(end, &[Vec::new().into(), Vec::new().into()], 4096, 1 << 30)
            .unwrap();
        let expected: Vec<u8> = pieces.into_iter().flat_map(Piece::joined).collect();
        let got = contents(&dir);
        assert_eq!(&got[..expected.len()], &expected[..]);
        assert_eq!(got.len() % 4096, 0);
        assert!(records_end(&got) <= expected.len());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn records_end_sees_any_octet_that_is_not_zero() {
        assert_eq!(records_end(&[]), 0);
        let mut v = vec![0u8; 3 * ZERO_BLOCK + 17];
        assert_eq!(records_end(&v), 0);
        for i in [0, ZERO_BLOCK - 1, ZERO_BLOCK, 3 * ZERO_BLOCK, v.len() - 1] {
            v[i] = 1;
            assert_eq!(records_end(&v), i + 1, "octet {i}");
            v[i] = 0;
        }
        // The last octet that is not zero decides, whatever comes before it.
        v[5] = 9;
        v[2 * ZERO_BLOCK + 3] = 9;
        assert_eq!(records_end(&v), 2 * ZERO_BLOCK + 4);
    }
}
