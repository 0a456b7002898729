//! A message body read from its spool record piece by piece ([`BodyReader`]), so a
//! caller can pass a large body on without holding all of it.
//!
//! The body is the tail of its enqueue record (`FORMAT.md`). The reader checks the
//! record's frame and body length before the first byte, keeps a running CRC-32C over
//! what it reads, and compares it with the record's checksum at the end: a damaged record
//! shows as an `InvalidData` error in place of the end of the body, after its bytes. A
//! caller that forwards bytes as they come treats that error as the failure of the whole
//! body (an SMTP client then aborts the transaction instead of ending the data).

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::record::{FRAME_HEADER, crc32c, crc32c_append};

/// Reads one message body from the spool; see the module docs.
#[derive(Debug)]
pub struct BodyReader {
    file: Arc<File>,
    path: PathBuf,
    /// Next offset to read, and the end of the body, in the segment file.
    pos: u64,
    end: u64,
    /// Running CRC-32C of the record so far, and the one the frame states.
    crc: u32,
    want: u32,
    checked: bool,
}

fn invalid(path: &std::path::Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: spool record: {why}", path.display()),
    )
}

impl BodyReader {
    /// The reader for the record at `off` (`len` bytes, frame included) in `file`, whose
    /// body is its last `body_len` bytes.
    pub(crate) fn new(
        file: Arc<File>,
        path: PathBuf,
        off: u64,
        len: u32,
        body_len: u64,
    ) -> io::Result<BodyReader> {
        let len = u64::from(len);
        // The frame header, the kind and envelope, and the body length field.
        let head_len = len
            .checked_sub(body_len)
            .filter(|&h| h >= FRAME_HEADER as u64 + 8)
            .ok_or_else(|| invalid(&path, "body longer than its record"))?;
        let mut head = vec![0u8; head_len as usize];
        file.read_exact_at(&mut head, off)?;
        let frame_len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let want = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let stated = u64::from_le_bytes(head[head.len() - 8..].try_into().expect("8 bytes"));
        if u64::from(frame_len) + FRAME_HEADER as u64 != len || stated != body_len {
            return Err(invalid(&path, "frame does not match the index"));
        }
        Ok(BodyReader {
            crc: crc32c(&head[FRAME_HEADER..]),
            file,
            path,
            pos: off + head_len,
            end: off + len,
            want,
            checked: false,
        })
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.end {
            if !self.checked {
                self.checked = true;
                if self.crc != self.want {
                    return Err(invalid(&self.path, "checksum mismatch"));
                }
            }
            return Ok(0);
        }
        let n = buf.len().min((self.end - self.pos) as usize);
        let got = self.file.read_at(&mut buf[..n], self.pos)?;
        if got == 0 && n > 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{}: spool record cut short", self.path.display()),
            ));
        }
        self.crc = crc32c_append(self.crc, &buf[..got]);
        self.pos += got as u64;
        Ok(got)
    }
}
