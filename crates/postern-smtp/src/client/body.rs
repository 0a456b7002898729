//! Body framing for the client: DATA through [`DataEncoder`], BDAT through a chunker that
//! fills chunks of at most `bdat_chunk_size` octets.

use memchr::memchr2;

use crate::data::DataEncoder;

/// Smallest chunk the chunker works with; smaller settings are raised to it so that a
/// chunk always has room for a line ending and one octet.
pub(crate) const MIN_CHUNK: usize = 64;

/// How the body of the current message is framed.
#[derive(Debug)]
pub(crate) enum BodyWriter {
    /// DATA: dot-stuffing and CRLF normalisation by [`DataEncoder`].
    Data(DataEncoder),
    /// BDAT chunks.
    Bdat(Chunker),
}

/// Collects body octets into one BDAT chunk at a time.
///
/// Unless the body is binary (`BODY=BINARYMIME`), bare LF and bare CR become CRLF, as
/// DATA's encoder does, since BDAT sends octets verbatim and the message must be in
/// canonical form; and, as with DATA, a body whose last line lacks its CRLF gets one, so
/// the server receives the same content whichever of the two the client used. A chunk never exceeds the configured size: normal pushes leave two
/// octets free for a CR held back at the end of the body.
#[derive(Debug)]
pub(crate) struct Chunker {
    chunk: Vec<u8>,
    cap: usize,
    normalize: bool,
    pending_cr: bool,
    /// The last octet written ended a line (or nothing was written yet).
    at_line_start: bool,
}

impl Chunker {
    pub(crate) fn new(chunk_size: usize, binary: bool) -> Self {
        Chunker {
            chunk: Vec::new(),
            cap: chunk_size.max(MIN_CHUNK),
            normalize: !binary,
            pending_cr: false,
            at_line_start: true,
        }
    }

    /// Room left for ordinary pushes (when normalising, two octets stay reserved for
    /// completing a held-back CR at the end of the body).
    fn room(&self) -> usize {
        let reserve = if self.normalize { 2 } else { 0 };
        self.cap.saturating_sub(self.chunk.len() + reserve)
    }

    /// True when the chunk cannot take more and must be sent.
    pub(crate) fn is_full(&self) -> bool {
        // A normalised push may write CRLF plus one octet: three octets.
        self.room() < if self.normalize { 3 } else { 1 }
    }

    /// Adds as much of `input` as fits; returns how many octets of it were taken.
    pub(crate) fn push(&mut self, input: &[u8]) -> usize {
        if !self.normalize {
            let n = input.len().min(self.room());
            self.chunk.extend_from_slice(&input[..n]);
            return n;
        }
        let mut i = 0;
        while i < input.len() && !self.is_full() {
            if self.pending_cr {
                // The held CR ends a line whatever follows; a following LF is its own.
                self.chunk.extend_from_slice(b"\r\n");
                self.pending_cr = false;
                self.at_line_start = true;
                if input[i] == b'\n' {
                    i += 1;
                }
                continue;
            }
            match input[i] {
                b'\r' => self.pending_cr = true,
                b'\n' => {
                    self.chunk.extend_from_slice(b"\r\n");
                    self.at_line_start = true;
                }
                _ => {
                    let run = memchr2(b'\r', b'\n', &input[i..]).unwrap_or(input.len() - i);
                    let n = run.min(self.room());
                    self.chunk.extend_from_slice(&input[i..i + n]);
                    self.at_line_start &= n == 0;
                    i += n;
                    continue;
                }
            }
            i += 1;
        }
        i
    }

    /// Takes the chunk to send (leaving the chunker empty).
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.chunk)
    }

    /// Takes the last chunk, with a held-back CR completed to CRLF and, unless binary, a
    /// CRLF added when the last line lacked one.
    pub(crate) fn take_last(&mut self) -> Vec<u8> {
        let pending_cr = std::mem::take(&mut self.pending_cr);
        if pending_cr || (self.normalize && !self.at_line_start) {
            self.chunk.extend_from_slice(b"\r\n");
            self.at_line_start = true;
        }
        self.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chunk_all(input: &[u8], size: usize, binary: bool, piece: usize) -> Vec<Vec<u8>> {
        let mut c = Chunker::new(size, binary);
        let mut chunks = Vec::new();
        for part in input.chunks(piece.max(1)) {
            let mut off = 0;
            while off < part.len() {
                off += c.push(&part[off..]);
                if c.is_full() {
                    chunks.push(c.take());
                }
            }
        }
        chunks.push(c.take_last());
        chunks
    }

    #[test]
    fn normalizes_bare_line_endings_across_pieces() {
        let chunks = chunk_all(b"a\nb\rc\r\nd\r", 1024, false, 1);
        assert_eq!(chunks.concat(), b"a\r\nb\r\nc\r\nd\r\n");
    }

    #[test]
    fn binary_is_verbatim() {
        let chunks = chunk_all(b"a\nb\r\0", 1024, true, 2);
        assert_eq!(chunks.concat(), b"a\nb\r\0");
    }

    proptest! {
        #[test]
        fn chunks_bounded_and_content_independent_of_pieces(
            input in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'x')], 0..600),
            piece in 1usize..50,
            binary: bool,
        ) {
            let whole = chunk_all(&input, 64, binary, input.len().max(1));
            let split = chunk_all(&input, 64, binary, piece);
            prop_assert_eq!(whole.concat(), split.concat());
            for c in &split {
                prop_assert!(c.len() <= 64);
            }
            if binary {
                prop_assert_eq!(split.concat(), input);
            } else {
                let out = split.concat();
                // Every CR is followed by LF and every LF preceded by CR.
                for (i, &b) in out.iter().enumerate() {
                    if b == b'\r' { prop_assert_eq!(out.get(i + 1), Some(&b'\n')); }
                    if b == b'\n' { prop_assert!(i > 0 && out[i - 1] == b'\r'); }
                }
            }
        }
    }
}
