//! uuencode: an encoder byte-identical to GNU sharutils `uuencode` (and `uuencode -m`), a
//! lenient decoder for what real senders wrote, and a scanner that finds `begin … end`
//! blocks inside plain text.
//!
//! # Formats
//!
//! * Classic: `begin MODE NAME`, lines of a length character and up to 45 octets encoded
//!   four characters per three octets (zero written as `` ` ``, as GNU does), a zero-length
//!   line `` ` `` and `end`.
//! * Base64 (`uuencode -m`): `begin-base64 MODE NAME`, base64 lines of 60 characters
//!   (45 octets), then `====`.
//!
//! # Finding blocks in text
//!
//! [`find_blocks`] accepts a `begin` line only at the start of a line, of the form
//! `begin MODE NAME` (or `begin-base64 MODE NAME`) with a 1–6 digit octal mode and a
//! non-empty name, and only when the next non-empty line looks encoded (see below). This is
//! what keeps prose such as "begin 644 files were changed" from becoming an attachment:
//! ordinary text has lower-case letters, which are outside the uuencode alphabet, and its
//! lines do not match their length character.
//!
//! A classic line "looks encoded" when every character is in `' '..='`'` and its length
//! agrees with its length character give or take one group (four characters short, for
//! senders whose mailer stripped trailing spaces, or two long, for encoders that append a
//! checksum character). A base64 line looks encoded when it is made only of the base64
//! alphabet and `=`. A block ends at its `end` (or `====`) line; when that is missing, it
//! ends after the last line that looks encoded, so a signature after a truncated block is
//! not decoded as data.
//!
//! # Decoding
//!
//! [`decode`] in [`Strictness::Lenient`] mode accepts space or backtick padding, CRLF or LF,
//! short lines (missing characters count as zero, as if trailing spaces were stripped),
//! over-long lines (extra characters ignored, as GNU does), empty lines (skipped), a missing
//! zero-length line or `end`, and characters outside the alphabet (mapped as GNU maps them,
//! `(c - 0x20) & 0x3f`). In base64 it skips characters outside the alphabet and accepts
//! quads split across lines. [`Strictness::Strict`] accepts only the canonical form GNU
//! `uuencode` writes.

use memchr::{memchr, memmem};

/// How forgiving [`decode`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Strictness {
    /// Accept what real senders wrote: space or backtick padding, CRLF, short or
    /// over-long lines, a missing `end`, trailing garbage.
    #[default]
    Lenient,
    /// Accept only the canonical form GNU `uuencode` writes (every line exactly as long as
    /// its length character says, only alphabet characters, the zero-length line present;
    /// base64 lines of whole quads with padding only at the end); for tests.
    Strict,
}

/// Which of the two GNU formats a block uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// Classic `begin MODE NAME` … `` ` `` … `end`.
    Classic,
    /// `begin-base64 MODE NAME` … `====` (`uuencode -m`).
    Base64,
}

/// A uuencoded block found in text by [`find_blocks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    /// Classic or base64.
    pub format: Format,
    /// The octal file mode from the `begin` line (e.g. `0o644`).
    pub mode: u32,
    /// The file name from the `begin` line, as written (trailing white space and CR removed).
    pub name: &'a [u8],
    /// The encoded lines between the `begin` line and the `end` (or `====`) line.
    pub body: &'a [u8],
    /// Offset of the `begin` line in the scanned text.
    pub start: usize,
    /// Offset just after the end line; when `end` is missing, just after the last line that
    /// looks encoded.
    pub end: usize,
}

impl Block<'_> {
    /// Decodes this block's body (see [`decode`]).
    pub fn decode(&self, strictness: Strictness, out: &mut Vec<u8>) -> Result<(), UuError> {
        decode(self.body, self.format, strictness, out)
    }
}

/// Why a uuencoded body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UuError {
    /// A line's length character disagrees with its content (strict mode only).
    #[error("line {line}: length does not match content")]
    BadLineLength {
        /// 1-based line number within the body.
        line: usize,
    },
    /// A character outside the uuencode (or base64) alphabet (strict mode only).
    #[error("line {line}: invalid character")]
    InvalidCharacter {
        /// 1-based line number within the body.
        line: usize,
    },
    /// The body has no terminating zero-length line / `end` (strict mode only).
    #[error("missing end line")]
    MissingEnd,
    /// No `begin` line was found.
    #[error("no begin line")]
    NoBegin,
}

/// Octets per encoded line, in both formats (GNU's choice).
const LINE_OCTETS: usize = 45;
/// Characters of a full classic line: length character, 60 data characters, newline.
const CLASSIC_LINE: usize = 62;
/// Characters of a full base64 line: 60 data characters, newline.
const BASE64_LINE: usize = 61;

/// The classic alphabet: `(v + 0x20)`, except zero which GNU writes as a backtick so that
/// no line ends in a space a mailer could strip.
const UU_ALPHABET: [u8; 64] = {
    let mut t = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        t[i] = if i == 0 { b'`' } else { i as u8 + 0x20 };
        i += 1;
    }
    t
};

const B64_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Twelve bits of input to two output characters: two lookups encode three octets.
type PairTable = [[u8; 2]; 4096];

const fn pair_table(alphabet: &[u8; 64]) -> PairTable {
    let mut t = [[0u8; 2]; 4096];
    let mut i = 0;
    while i < 4096 {
        t[i] = [alphabet[i >> 6], alphabet[i & 63]];
        i += 1;
    }
    t
}

static UU_PAIRS: PairTable = pair_table(&UU_ALPHABET);
static B64_PAIRS: PairTable = pair_table(B64_ALPHABET);

/// Classic decoding as GNU does it: any octet maps to `(c - 0x20) & 0x3f`.
static UU_DEC: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).wrapping_sub(0x20) & 0x3f;
        i += 1;
    }
    t
};

/// Base64 decoding: value, or [`B64_INVALID`].
static B64_DEC: [u8; 256] = {
    let mut t = [B64_INVALID; 256];
    let mut i = 0;
    while i < 64 {
        t[B64_ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};
const B64_INVALID: u8 = 0xff;

/// The exact number of octets [`encode`] appends for `len` input octets, a mode and a name.
pub fn encoded_len(len: usize, mode: u32, name: &str, format: Format) -> usize {
    header(mode, name, format).len() + body_len(len, format) + footer(format).len()
}

fn header(mode: u32, name: &str, format: Format) -> String {
    match format {
        Format::Classic => format!("begin {mode:o} {name}\n"),
        Format::Base64 => format!("begin-base64 {mode:o} {name}\n"),
    }
}

fn footer(format: Format) -> &'static [u8] {
    match format {
        Format::Classic => b"`\nend\n",
        Format::Base64 => b"====\n",
    }
}

fn body_len(len: usize, format: Format) -> usize {
    let (full, rem) = (len / LINE_OCTETS, len % LINE_OCTETS);
    let rem_chars = rem.div_ceil(3) * 4;
    match format {
        Format::Classic => full * CLASSIC_LINE + if rem > 0 { rem_chars + 2 } else { 0 },
        Format::Base64 => full * BASE64_LINE + if rem > 0 { rem_chars + 1 } else { 0 },
    }
}

/// Appends `data` uuencoded as GNU `uuencode` writes it for a file called `name` with
/// permission bits `mode`: `begin 644 name\n`, lines of 45 octets, `` `\n`` and `end\n`.
///
/// The mode is written in octal as given (GNU writes the file's permission bits,
/// `st_mode & 0o777`); the name is written as given.
///
/// ```
/// use postern_message::uuencode::{encode, Format};
/// let mut out = Vec::new();
/// encode(b"hi\n", 0o644, "foo", Format::Classic, &mut out);
/// assert_eq!(out, b"begin 644 foo\n#:&D*\n`\nend\n");
/// ```
pub fn encode(data: &[u8], mode: u32, name: &str, format: Format, out: &mut Vec<u8>) {
    out.reserve(encoded_len(data.len(), mode, name, format));
    encode_header(mode, name, format, out);
    encode_chunk(data, format, out);
    encode_footer(format, out);
}

/// Appends the `begin` line; with [`encode_chunk`] and [`encode_footer`], encodes a stream
/// in pieces with the same bytes [`encode`] writes.
pub fn encode_header(mode: u32, name: &str, format: Format, out: &mut Vec<u8>) {
    out.extend_from_slice(header(mode, name, format).as_bytes());
}

/// Appends the encoded lines for `data`. Every call but the last must pass a multiple of
/// 45 octets (a line), or a short line would appear mid-stream.
///
/// ```
/// use postern_message::uuencode::{encode, encode_chunk, encode_footer, encode_header, Format};
/// let data = vec![42u8; 1000];
/// let mut whole = Vec::new();
/// encode(&data, 0o600, "a", Format::Base64, &mut whole);
/// let mut pieces = Vec::new();
/// encode_header(0o600, "a", Format::Base64, &mut pieces);
/// encode_chunk(&data[..450], Format::Base64, &mut pieces);
/// encode_chunk(&data[450..], Format::Base64, &mut pieces);
/// encode_footer(Format::Base64, &mut pieces);
/// assert_eq!(whole, pieces);
/// ```
pub fn encode_chunk(data: &[u8], format: Format, out: &mut Vec<u8>) {
    let body_start = out.len();
    // Write into a zeroed, exactly sized region: no per-line growth checks.
    out.resize(body_start + body_len(data.len(), format), 0);
    let body = &mut out[body_start..];
    match format {
        Format::Classic => encode_classic_body(data, body),
        Format::Base64 => encode_base64_body(data, body),
    }
}

/// Appends the closing lines: `` ` `` and `end` (classic) or `====` (base64).
pub fn encode_footer(format: Format, out: &mut Vec<u8>) {
    out.extend_from_slice(footer(format));
}

/// Encodes one group of three octets into four characters.
#[inline(always)]
fn encode_group(table: &PairTable, src: &[u8; 3], dst: &mut [u8; 4]) {
    let v = (usize::from(src[0]) << 16) | (usize::from(src[1]) << 8) | usize::from(src[2]);
    let [a, b] = table[v >> 12];
    let [c, d] = table[v & 0xfff];
    *dst = [a, b, c, d];
}

/// Encodes 45 octets into 60 characters.
#[inline(always)]
fn encode_line(table: &PairTable, src: &[u8; LINE_OCTETS], dst: &mut [u8; 60]) {
    for (s, d) in src.chunks_exact(3).zip(dst.chunks_exact_mut(4)) {
        // Both conversions are infallible: chunks_exact yields exactly 3 and 4.
        let s: &[u8; 3] = s.try_into().unwrap_or(&[0; 3]);
        let d: &mut [u8; 4] = d.try_into().unwrap_or_else(|_| unreachable!());
        encode_group(table, s, d);
    }
}

/// Encodes a final partial input (fewer than 45 octets) into `dst`, zero-padding the last
/// group. Returns the number of characters written (a multiple of four).
fn encode_tail(table: &PairTable, src: &[u8], dst: &mut [u8]) -> usize {
    let mut n = 0;
    for s in src.chunks(3) {
        let mut g = [0u8; 3];
        g[..s.len()].copy_from_slice(s);
        let mut d = [0u8; 4];
        encode_group(table, &g, &mut d);
        dst[n..n + 4].copy_from_slice(&d);
        n += 4;
    }
    n
}

fn encode_classic_body(data: &[u8], body: &mut [u8]) {
    let mut lines = data.chunks_exact(LINE_OCTETS);
    let outs = body.chunks_exact_mut(CLASSIC_LINE);
    for (src, dst) in (&mut lines).zip(outs) {
        let src: &[u8; LINE_OCTETS] = src.try_into().unwrap_or(&[0; LINE_OCTETS]);
        dst[0] = UU_ALPHABET[LINE_OCTETS];
        let (data_chars, nl) = dst[1..].split_at_mut(60);
        let data_chars: &mut [u8; 60] = data_chars.try_into().unwrap_or_else(|_| unreachable!());
        encode_line(&UU_PAIRS, src, data_chars);
        nl[0] = b'\n';
    }
    let rem = lines.remainder();
    if !rem.is_empty() {
        // Not `into_remainder`: a 43–44 octet tail fills a whole 62-character chunk.
        let dst = &mut body[data.len() / LINE_OCTETS * CLASSIC_LINE..];
        dst[0] = UU_ALPHABET[rem.len()];
        let n = encode_tail(&UU_PAIRS, rem, &mut dst[1..]);
        dst[1 + n] = b'\n';
    }
}

fn encode_base64_body(data: &[u8], body: &mut [u8]) {
    let mut lines = data.chunks_exact(LINE_OCTETS);
    let outs = body.chunks_exact_mut(BASE64_LINE);
    for (src, dst) in (&mut lines).zip(outs) {
        let src: &[u8; LINE_OCTETS] = src.try_into().unwrap_or(&[0; LINE_OCTETS]);
        let (data_chars, nl) = dst.split_at_mut(60);
        let data_chars: &mut [u8; 60] = data_chars.try_into().unwrap_or_else(|_| unreachable!());
        encode_line(&B64_PAIRS, src, data_chars);
        nl[0] = b'\n';
    }
    let rem = lines.remainder();
    if !rem.is_empty() {
        let dst = &mut body[data.len() / LINE_OCTETS * BASE64_LINE..];
        let n = encode_tail(&B64_PAIRS, rem, dst);
        // Replace the characters that encode only padding with '='.
        let pad = (3 - rem.len() % 3) % 3;
        for c in &mut dst[n - pad..n] {
            *c = b'=';
        }
        dst[n] = b'\n';
    }
}

/// Decodes the lines of a block body (between `begin` and `end`), appending to `out`.
///
/// Lenient decoding never fails; strict decoding fails on anything GNU `uuencode` would not
/// have written. On error, `out` may hold the octets decoded before the bad line. Decoding
/// stops at the zero-length line (classic) or `====` (base64); later lines are ignored.
///
/// ```
/// use postern_message::uuencode::{decode, Format, Strictness};
/// let mut out = Vec::new();
/// decode(b"#:&D*\r\n`\r\n", Format::Classic, Strictness::Lenient, &mut out).unwrap();
/// assert_eq!(out, b"hi\n");
/// ```
pub fn decode(
    body: &[u8],
    format: Format,
    strictness: Strictness,
    out: &mut Vec<u8>,
) -> Result<(), UuError> {
    out.reserve(body.len() / 4 * 3);
    let mut decoder = Decoder::new(format, strictness);
    decoder.feed(body, out)?;
    decoder.finish(out)
}

/// Where a [`Decoder`] is in its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading encoded lines.
    Data,
    /// After the classic zero-length line, expecting `end`.
    Zero,
    /// The `end` (or `====`) line was read.
    Ended,
    /// The data is over but no end line followed.
    Stopped,
}

/// A streaming decoder: feed it the lines after the `begin` line in pieces (each piece
/// ending at a line end), as they arrive; it stops by itself at the end of the block.
///
/// ```
/// use postern_message::uuencode::{Decoder, Format, Strictness};
/// let mut d = Decoder::new(Format::Classic, Strictness::Strict);
/// let mut out = Vec::new();
/// d.feed(b"#86)C\n", &mut out).unwrap();
/// d.feed(b"`\nend\ntrailing text\n", &mut out).unwrap();
/// assert!(d.is_done() && d.saw_end_line());
/// d.finish(&mut out).unwrap();
/// assert_eq!(out, b"abc");
/// ```
#[derive(Debug, Clone)]
pub struct Decoder {
    format: Format,
    strict: bool,
    state: State,
    acc: B64Acc,
    /// Lines consumed so far, for error messages.
    line: usize,
    /// Strict base64: a padded quad was seen, so no data may follow.
    padded: bool,
}

impl Decoder {
    /// A decoder for a body in `format`.
    pub fn new(format: Format, strictness: Strictness) -> Self {
        Decoder {
            format,
            strict: strictness == Strictness::Strict,
            state: State::Data,
            acc: B64Acc::default(),
            line: 0,
            padded: false,
        }
    }

    /// True once the encoded data is over (zero-length line, `end` or `====` seen, or a
    /// non-end line after the zero-length line); further input is ignored.
    pub fn is_done(&self) -> bool {
        self.state != State::Data && self.state != State::Zero
    }

    /// True if the block's `end` (classic) or `====` (base64) line was read.
    pub fn saw_end_line(&self) -> bool {
        self.state == State::Ended
    }

    /// Decodes `lines`, appending to `out`. A piece should end at a line end; a final
    /// partial line is decoded as a whole line.
    pub fn feed(&mut self, lines: &[u8], out: &mut Vec<u8>) -> Result<(), UuError> {
        match self.format {
            Format::Classic => self.feed_classic(lines, out),
            Format::Base64 => self.feed_base64(lines, out),
        }
    }

    /// Ends the stream: flushes a partial base64 quad; in strict mode, fails with
    /// [`UuError::MissingEnd`] if a classic body had no zero-length line.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), UuError> {
        self.acc.pad(out);
        if self.strict && self.format == Format::Classic && self.state == State::Data {
            return Err(UuError::MissingEnd);
        }
        Ok(())
    }

    /// After the data: the next non-empty line tells whether the block was closed properly.
    fn after_data(&mut self, line: &[u8]) {
        let line = trim_end(line);
        if line.is_empty() {
            return;
        }
        let is_end = match self.format {
            Format::Classic => line == b"end",
            Format::Base64 => line == b"====",
        };
        self.state = if is_end { State::Ended } else { State::Stopped };
    }

    fn feed_classic(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<(), UuError> {
        out.reserve(body.len() / 4 * 3);
        let mut pos = 0;
        while pos < body.len() && !self.is_done() {
            self.line += 1;
            // Fast path for the common full line (LF or CRLF), without searching for the
            // newline. The slow path strips one CR before the LF, so both give the same.
            let crlf = body.get(pos + 61..pos + 63) == Some(b"\r\n".as_slice());
            if self.state == State::Data
                && body[pos] == b'M'
                && body.len() > pos + 61
                && (body[pos + 61] == b'\n' || crlf)
            {
                let chars: &[u8; 60] = body[pos + 1..pos + 61].try_into().unwrap_or(&[0; 60]);
                // A short `M` line followed by another line can also put a newline at
                // +61: only a line without a newline inside takes the fast path.
                if memchr(b'\n', chars).is_some() {
                    self.line -= 1;
                    self.slow_line(body, &mut pos, out)?;
                    continue;
                }
                if self.strict && !chars.iter().all(|c| (0x20..=0x60).contains(c)) {
                    return Err(UuError::InvalidCharacter { line: self.line });
                }
                decode_uu_full_line(chars, out);
                pos += if crlf { 63 } else { 62 };
                continue;
            }
            self.slow_line(body, &mut pos, out)?;
        }
        Ok(())
    }

    /// Decodes the line at `*pos` the careful way and moves past it.
    fn slow_line(
        &mut self,
        body: &[u8],
        pos: &mut usize,
        out: &mut Vec<u8>,
    ) -> Result<(), UuError> {
        let (raw, next) = match memchr(b'\n', &body[*pos..]) {
            Some(i) => (&body[*pos..*pos + i], *pos + i + 1),
            None => (&body[*pos..], body.len()),
        };
        *pos = next;
        if self.state == State::Zero {
            self.after_data(raw);
            Ok(())
        } else {
            self.classic_line(raw, out)
        }
    }

    fn classic_line(&mut self, raw: &[u8], out: &mut Vec<u8>) -> Result<(), UuError> {
        let line_no = self.line;
        let line = strip_cr(raw);
        let Some((&len_char, chars)) = line.split_first() else {
            // An empty line: a stripped " " zero-length line, or a blank inserted in transit.
            return if self.strict {
                Err(UuError::BadLineLength { line: line_no })
            } else {
                Ok(())
            };
        };
        if !self.strict && is_end_line(line) {
            self.state = State::Ended;
            return Ok(());
        }
        if self.strict && !line.iter().all(|c| (0x20..=0x60).contains(c)) {
            return Err(UuError::InvalidCharacter { line: line_no });
        }
        let n = usize::from(UU_DEC[usize::from(len_char)]);
        if n == 0 {
            self.state = State::Zero;
            return Ok(());
        }
        let needed = n.div_ceil(3) * 4;
        if self.strict && chars.len() != needed {
            return Err(UuError::BadLineLength { line: line_no });
        }
        let mut written = 0;
        for i in (0..needed).step_by(4) {
            // Characters past the end of a short line count as zero (stripped spaces).
            let mut g = [b' '; 4];
            let have = chars.get(i..).unwrap_or_default();
            let avail = have.len().min(4);
            g[..avail].copy_from_slice(&have[..avail]);
            let octets = decode_uu_group(&g);
            let take = (n - written).min(3);
            out.extend_from_slice(&octets[..take]);
            written += take;
        }
        Ok(())
    }

    fn feed_base64(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<(), UuError> {
        for raw in lines(body) {
            if self.is_done() {
                break;
            }
            self.line += 1;
            if self.strict {
                self.base64_line_strict(raw, out)?;
            } else {
                self.base64_line(raw, out);
            }
        }
        Ok(())
    }

    fn base64_line(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        let line = trim_end(raw);
        if line == b"====" {
            self.state = State::Ended;
            return;
        }
        if self.acc.n == 0 && line.len() % 4 == 0 && decode_b64_quads(line, out) {
            return;
        }
        for &c in line {
            match B64_DEC[usize::from(c)] {
                B64_INVALID if c == b'=' => self.acc.pad(out),
                B64_INVALID => {}
                v => self.acc.push(v, out),
            }
        }
    }

    fn base64_line_strict(&mut self, line: &[u8], out: &mut Vec<u8>) -> Result<(), UuError> {
        let line_no = self.line;
        if line == b"====" {
            self.state = State::Ended;
            return Ok(());
        }
        if self.padded || line.is_empty() || line.len() % 4 != 0 {
            return Err(UuError::BadLineLength { line: line_no });
        }
        let pad = line.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 {
            return Err(UuError::InvalidCharacter { line: line_no });
        }
        let (whole, last) = line.split_at(line.len() - 4);
        if !decode_b64_quads(whole, out) {
            return Err(UuError::InvalidCharacter { line: line_no });
        }
        if pad == 0 {
            if !decode_b64_quads(last, out) {
                return Err(UuError::InvalidCharacter { line: line_no });
            }
            return Ok(());
        }
        for &c in &last[..4 - pad] {
            match B64_DEC[usize::from(c)] {
                B64_INVALID => return Err(UuError::InvalidCharacter { line: line_no }),
                v => self.acc.push(v, out),
            }
        }
        self.acc.pad(out);
        self.padded = true;
        Ok(())
    }
}

/// Splits `text` into lines without their `\n`; the last line may lack one.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (line, next) = match memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        Some(line)
    })
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_end(line: &[u8]) -> &[u8] {
    let n = line
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &line[..n]
}

fn is_end_line(line: &[u8]) -> bool {
    trim_end(line) == b"end"
}

/// Decodes one group of four classic characters into three octets.
#[inline(always)]
fn decode_uu_group(c: &[u8; 4]) -> [u8; 3] {
    let v = (u32::from(UU_DEC[usize::from(c[0])]) << 18)
        | (u32::from(UU_DEC[usize::from(c[1])]) << 12)
        | (u32::from(UU_DEC[usize::from(c[2])]) << 6)
        | u32::from(UU_DEC[usize::from(c[3])]);
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

/// The fast path: a full 45-octet line, `M` plus 60 characters. Maps four characters at
/// once with word arithmetic: `(c - 0x20) & 0x3f == ((c & 0x3f) + 0x20) & 0x3f`, and the
/// right side never carries into the next octet.
#[inline(always)]
fn decode_uu_full_line(chars: &[u8; 60], out: &mut Vec<u8>) {
    // Three spare octets let every group store a whole word; the next group overwrites
    // the spare one.
    let mut buf = [0u8; LINE_OCTETS + 3];
    for i in 0..15 {
        let c = &chars[4 * i..4 * i + 4];
        let w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let v = ((w & 0x3f3f_3f3f) + 0x2020_2020) & 0x3f3f_3f3f;
        let x = ((v & 0x3f) << 26)
            | ((v >> 8 & 0x3f) << 20)
            | ((v >> 16 & 0x3f) << 14)
            | ((v >> 24) << 8);
        buf[3 * i..3 * i + 4].copy_from_slice(&x.to_be_bytes());
    }
    out.extend_from_slice(&buf[..LINE_OCTETS]);
}

/// Decodes whole quads of base64 characters; returns false (having written nothing) if any
/// character is outside the alphabet, so the caller can take the careful path.
#[inline(always)]
fn decode_b64_quads(chars: &[u8], out: &mut Vec<u8>) -> bool {
    let mut bad = 0u8;
    let start = out.len();
    out.resize(start + chars.len() / 4 * 3, 0);
    for (c, o) in chars.chunks_exact(4).zip(out[start..].chunks_exact_mut(3)) {
        let (a, b, cc, d) = (
            B64_DEC[usize::from(c[0])],
            B64_DEC[usize::from(c[1])],
            B64_DEC[usize::from(c[2])],
            B64_DEC[usize::from(c[3])],
        );
        bad |= a | b | cc | d;
        let v = (u32::from(a) << 18) | (u32::from(b) << 12) | (u32::from(cc) << 6) | u32::from(d);
        o.copy_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8]);
    }
    if bad & 0x80 != 0 {
        out.truncate(start);
        return false;
    }
    true
}

/// Base64 accumulator for the careful path: quads may span lines, junk is skipped.
#[derive(Debug, Clone, Default)]
struct B64Acc {
    vals: [u8; 4],
    n: usize,
}

impl B64Acc {
    fn push(&mut self, v: u8, out: &mut Vec<u8>) {
        self.vals[self.n] = v;
        self.n += 1;
        if self.n == 4 {
            let [a, b, c, d] = self.vals.map(u32::from);
            let v = (a << 18) | (b << 12) | (c << 6) | d;
            out.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8]);
            self.n = 0;
        }
    }

    /// Padding: flush the octets the partial quad carries and start afresh.
    fn pad(&mut self, out: &mut Vec<u8>) {
        let vals = self.vals.map(u32::from);
        match self.n {
            2 => out.push(((vals[0] << 2) | (vals[1] >> 4)) as u8),
            3 => {
                let v = (vals[0] << 18) | (vals[1] << 12) | (vals[2] << 6);
                out.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8]);
            }
            _ => {}
        }
        self.n = 0;
    }
}

/// Finds the uuencoded blocks in `text`, in order. A `begin` line is recognised only when
/// it has the form `begin MODE NAME` with an octal mode, at the start of a line, and the
/// next non-empty line looks encoded (see the [module documentation](self)).
///
/// ```
/// use postern_message::uuencode::{find_blocks, Format};
/// let text = b"Hi,\nbegin 644 is how it starts\nsee?\nbegin 644 hi.txt\n#:&D*\n`\nend\n-- \nme\n";
/// let blocks: Vec<_> = find_blocks(text).collect();
/// assert_eq!(blocks.len(), 1);
/// assert_eq!(blocks[0].name, b"hi.txt");
/// assert_eq!(blocks[0].format, Format::Classic);
/// assert_eq!(&text[blocks[0].end..], b"-- \nme\n");
/// ```
pub fn find_blocks(text: &[u8]) -> impl Iterator<Item = Block<'_>> {
    Blocks { text, pos: 0 }
}

struct Blocks<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Blocks<'a> {
    type Item = Block<'a>;

    fn next(&mut self) -> Option<Block<'a>> {
        while self.pos < self.text.len() {
            let rel = memmem::find(&self.text[self.pos..], b"begin")?;
            let at = self.pos + rel;
            self.pos = at + 5;
            if at != 0 && self.text[at - 1] != b'\n' {
                continue;
            }
            if let Some(block) = block_at(self.text, at) {
                self.pos = block.end.max(at + 5);
                return Some(block);
            }
        }
        None
    }
}

/// The parsed `begin` line: format, mode, name, and where the next line starts.
fn parse_begin(text: &[u8], at: usize) -> Option<(Format, u32, &[u8], usize)> {
    let (line, next) = match memchr(b'\n', &text[at..]) {
        Some(i) => (&text[at..at + i], at + i + 1),
        None => (&text[at..], text.len()),
    };
    let (format, mode, name) = parse_begin_line(line)?;
    Some((format, mode, name, next))
}

/// Parses a `begin MODE NAME` or `begin-base64 MODE NAME` line (without or with its line
/// end): the format, the octal mode and the name (trailing white space removed).
///
/// ```
/// use postern_message::uuencode::{parse_begin_line, Format};
/// assert_eq!(parse_begin_line(b"begin-base64 600 a b\r\n"), Some((Format::Base64, 0o600, &b"a b"[..])));
/// assert_eq!(parse_begin_line(b"begin here"), None);
/// ```
pub fn parse_begin_line(line: &[u8]) -> Option<(Format, u32, &[u8])> {
    let line = trim_end(line);
    let rest = line.strip_prefix(b"begin")?;
    let (format, rest) = match rest.strip_prefix(b"-base64") {
        Some(r) => (Format::Base64, r),
        None => (Format::Classic, rest),
    };
    let rest = skip_blanks(rest, true)?;
    let digits = rest
        .iter()
        .take_while(|c| (b'0'..=b'7').contains(c))
        .count();
    if digits == 0 || digits > 6 {
        return None;
    }
    let mode = rest[..digits]
        .iter()
        .fold(0u32, |m, &d| (m << 3) | u32::from(d - b'0'));
    let name = skip_blanks(&rest[digits..], true)?;
    if name.is_empty() {
        return None;
    }
    Some((format, mode, name))
}

/// Skips spaces and tabs; with `required`, at least one must be there.
fn skip_blanks(s: &[u8], required: bool) -> Option<&[u8]> {
    let n = s.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
    if required && n == 0 {
        return None;
    }
    Some(&s[n..])
}

/// How a line inside a block reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Encoded data.
    Data,
    /// The zero-length line of the classic format.
    Zero,
    /// `end` or `====`.
    End,
    /// Empty (tolerated inside a block).
    Blank,
    /// Not part of a block.
    Other,
}

fn classic_kind(line: &[u8]) -> Kind {
    let line = strip_cr(line);
    if line.is_empty() {
        return Kind::Blank;
    }
    if is_end_line(line) {
        return Kind::End;
    }
    if !all_uu_chars(line) {
        return Kind::Other;
    }
    let n = usize::from(UU_DEC[usize::from(line[0])]);
    if n == 0 {
        return if trim_end(&line[1..]).is_empty() {
            Kind::Zero
        } else {
            Kind::Other
        };
    }
    let needed = n.div_ceil(3) * 4;
    let have = line.len() - 1;
    if have + 4 >= needed && have <= needed + 2 {
        Kind::Data
    } else {
        Kind::Other
    }
}

/// Whether every byte is a classic uuencode character (0x20–0x60), eight bytes at a
/// time: in each byte of the word the high bit of `bad` is set when that byte is 0x80 or
/// above, below 0x20 or above 0x60 (each sum stays within its byte: both operands are at
/// most 0x7f and 0x60). Block scans run this on every line of every text part.
fn all_uu_chars(line: &[u8]) -> bool {
    const LO: u64 = u64::from_ne_bytes([0x01; 8]);
    const HI: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut words = line.chunks_exact(8);
    for word in &mut words {
        let x = u64::from_le_bytes(word.try_into().unwrap_or_default());
        let low7 = x & !HI;
        let at_least_20 = (low7 + 0x60 * LO) & HI;
        let above_60 = (low7 + 0x1f * LO) & HI;
        if (x & HI) | (at_least_20 ^ HI) | above_60 != 0 {
            return false;
        }
    }
    words.remainder().iter().all(|c| (0x20..=0x60).contains(c))
}

fn base64_kind(line: &[u8]) -> Kind {
    let line = trim_end(line);
    if line.is_empty() {
        Kind::Blank
    } else if line == b"====" {
        Kind::End
    } else if line
        .iter()
        .all(|&c| c == b'=' || B64_DEC[usize::from(c)] != B64_INVALID)
    {
        Kind::Data
    } else {
        Kind::Other
    }
}

/// Recognises a block whose `begin` line starts at `at`.
fn block_at(text: &[u8], at: usize) -> Option<Block<'_>> {
    let (format, mode, name, body_start) = parse_begin(text, at)?;
    let kind = match format {
        Format::Classic => classic_kind,
        Format::Base64 => base64_kind,
    };
    let mut pos = body_start;
    // Where the body ends so far (after the last data or zero line) and where the block ends.
    let mut body_end = body_start;
    let mut seen_data = false;
    let mut seen_zero = false;
    while pos < text.len() {
        let (line, next) = match memchr(b'\n', &text[pos..]) {
            Some(i) => (&text[pos..pos + i], pos + i + 1),
            None => (&text[pos..], text.len()),
        };
        match kind(line) {
            Kind::End if seen_data || seen_zero || format == Format::Base64 => {
                return Some(Block {
                    format,
                    mode,
                    name,
                    body: &text[body_start..pos],
                    start: at,
                    end: next,
                });
            }
            Kind::Blank => {}
            Kind::Data if !seen_zero => {
                seen_data = true;
                body_end = next;
            }
            Kind::Zero if format == Format::Classic && !seen_zero => {
                seen_zero = true;
                body_end = next;
            }
            _ => break,
        }
        pos = next;
    }
    // No end line: keep the block only if data was seen, ending after the last good line.
    seen_data.then(|| Block {
        format,
        mode,
        name,
        body: &text[body_start..body_end],
        start: at,
        end: body_end,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The word-at-a-time character check agrees with a byte-by-byte one.
        #[test]
        fn all_uu_chars_matches_bytewise(
            line in proptest::collection::vec(
                prop_oneof![8 => 0x20u8..=0x60, 1 => any::<u8>()],
                0..70,
            )
        ) {
            let bytewise = line.iter().all(|c| (0x20..=0x60).contains(c));
            prop_assert_eq!(super::all_uu_chars(&line), bytewise);
        }
    }

    #[test]
    fn all_uu_chars_every_byte() {
        for b in 0..=255u8 {
            let want = (0x20..=0x60).contains(&b);
            // In the word path (first of eight) and in the tail.
            let mut line = vec![b'M'; 9];
            line[0] = b;
            assert_eq!(super::all_uu_chars(&line), want, "{b:#x}");
            line[0] = b'M';
            line[8] = b;
            assert_eq!(super::all_uu_chars(&line), want, "{b:#x}");
        }
    }

    use super::*;

    fn enc(data: &[u8], format: Format) -> Vec<u8> {
        let mut out = Vec::new();
        encode(data, 0o644, "x", format, &mut out);
        out
    }

    proptest::proptest! {
        /// CRLF full lines take the same fast path as LF ones and decode the same, in
        /// both strictness modes.
        #[test]
        fn crlf_lines_decode_like_lf(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let lf = enc(&data, Format::Classic);
            let crlf: Vec<u8> = lf
                .split_inclusive(|&b| b == b'\n')
                .flat_map(|l| match l.strip_suffix(b"\n") {
                    Some(body) => [body, b"\r\n"].concat(),
                    None => l.to_vec(),
                })
                .collect();
            for strictness in [Strictness::Lenient, Strictness::Strict] {
                proptest::prop_assert_eq!(dec_block(&crlf, strictness), Ok(data.clone()));
                proptest::prop_assert_eq!(dec_block(&lf, strictness), Ok(data.clone()));
            }
        }
    }

    fn dec_block(text: &[u8], strictness: Strictness) -> Result<Vec<u8>, UuError> {
        let block = find_blocks(text).next().ok_or(UuError::NoBegin)?;
        let mut out = Vec::new();
        block.decode(strictness, &mut out)?;
        Ok(out)
    }

    #[test]
    fn classic_matches_gnu_samples() {
        assert_eq!(enc(b"", Format::Classic), b"begin 644 x\n`\nend\n");
        assert_eq!(
            enc(b"hello world", Format::Classic),
            b"begin 644 x\n+:&5L;&\\@=V]R;&0`\n`\nend\n"
        );
        let mut out = Vec::new();
        encode(b"abc", 0, "my file", Format::Classic, &mut out);
        assert_eq!(out, b"begin 0 my file\n#86)C\n`\nend\n");
    }

    #[test]
    fn base64_matches_gnu_samples() {
        assert_eq!(enc(b"", Format::Base64), b"begin-base64 644 x\n====\n");
        assert_eq!(
            enc(b"hello world", Format::Base64),
            b"begin-base64 644 x\naGVsbG8gd29ybGQ=\n====\n"
        );
    }

    #[test]
    fn full_lines_are_45_octets() {
        let data: Vec<u8> = (0..=255u8).cycle().take(91).collect();
        let out = enc(&data, Format::Classic);
        let lines: Vec<&[u8]> = out.split(|&c| c == b'\n').collect();
        assert_eq!(lines[1].len(), 61);
        assert_eq!(lines[1][0], b'M');
        assert_eq!(lines[3], b"!6@``");
        let out = enc(&data, Format::Base64);
        let lines: Vec<&[u8]> = out.split(|&c| c == b'\n').collect();
        assert_eq!(lines[1].len(), 60);
        assert_eq!(lines[3], b"Wg==");
    }

    #[test]
    fn decodes_lenient_variants() {
        let want = b"abc";
        for text in [
            &b"begin 644 x\n#86)C\n`\nend\n"[..],
            b"begin 644 x\r\n#86)C\r\n`\r\nend\r\n",
            b"begin 644 x\n#86)C\n \nend\n",
            b"begin 644 x\n#86)C\n\nend\n",
            b"begin 644 x\n#86)C\nend\n",
            b"begin 644 x\n#86)C\n",
            b"begin 644 x\n#86)CXX\n`\nend\n",
            b"begin 644 x\n#86)C\n`\nend\ntrailing garbage\n",
        ] {
            assert_eq!(
                dec_block(text, Strictness::Lenient).unwrap(),
                want,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn short_line_counts_missing_as_zero() {
        // "abc\0\0\0" with space padding, trailing spaces stripped by a mailer.
        let mut out = Vec::new();
        decode(
            b"&86)C\n`\n",
            Format::Classic,
            Strictness::Lenient,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, b"abc\0\0\0");
    }

    #[test]
    fn strict_refuses_noncanonical() {
        let mut out = Vec::new();
        assert_eq!(
            decode(
                b"#86)CX\n`\n",
                Format::Classic,
                Strictness::Strict,
                &mut out
            ),
            Err(UuError::BadLineLength { line: 1 })
        );
        assert_eq!(
            decode(b"#86)c\n`\n", Format::Classic, Strictness::Strict, &mut out),
            Err(UuError::InvalidCharacter { line: 1 })
        );
        assert_eq!(
            decode(b"#86)C\n", Format::Classic, Strictness::Strict, &mut out),
            Err(UuError::MissingEnd)
        );
        assert_eq!(
            decode(b"YW*j\n", Format::Base64, Strictness::Strict, &mut out),
            Err(UuError::InvalidCharacter { line: 1 })
        );
        assert_eq!(
            decode(b"YWJ\n", Format::Base64, Strictness::Strict, &mut out),
            Err(UuError::BadLineLength { line: 1 })
        );
    }

    #[test]
    fn base64_lenient() {
        for (body, want) in [
            (&b"YWJj\r\n"[..], &b"abc"[..]),
            (b"YW\nJj\n", b"abc"),
            (b"YWI=\nYWJj\n", b"ababc"),
            (b"YW Jj!\n====\nZZZZ\n", b"abc"),
            (b"YQ\n", b"a"),
        ] {
            let mut out = Vec::new();
            decode(body, Format::Base64, Strictness::Lenient, &mut out).unwrap();
            assert_eq!(out, want);
        }
    }

    #[test]
    fn prose_begin_is_not_a_block() {
        let text = b"begin 644 files were changed\nThen we went home.\n";
        assert_eq!(find_blocks(text).count(), 0);
        let text = b"To begin 644 x\n#86)C\n`\nend\n";
        assert_eq!(find_blocks(text).count(), 0);
        let text = b"begin 999 x\n#86)C\n`\nend\n";
        assert_eq!(find_blocks(text).count(), 0);
        let text = b"begin 644\n#86)C\n`\nend\n";
        assert_eq!(find_blocks(text).count(), 0);
        // Capitals only, but the length is wrong for its length character.
        let text = b"begin 644 x\nHELLO WORLD\n";
        assert_eq!(find_blocks(text).count(), 0);
    }

    #[test]
    fn missing_end_stops_before_signature() {
        let text = b"begin 644 x\n#86)C\n-- \nJoe\n";
        let b = find_blocks(text).next().unwrap();
        assert_eq!(b.body, b"#86)C\n");
        assert_eq!(&text[b.end..], b"-- \nJoe\n");
    }

    #[test]
    fn several_blocks_in_order() {
        let mut text = b"Two files:\n\n".to_vec();
        encode(b"first", 0o600, "a.txt", Format::Classic, &mut text);
        text.extend_from_slice(b"and\n");
        encode(b"second", 0o755, "b.bin", Format::Base64, &mut text);
        let blocks: Vec<_> = find_blocks(&text).collect();
        assert_eq!(blocks.len(), 2);
        assert_eq!((blocks[0].mode, blocks[0].name), (0o600, &b"a.txt"[..]));
        assert_eq!((blocks[1].mode, blocks[1].format), (0o755, Format::Base64));
        let mut out = Vec::new();
        blocks[1].decode(Strictness::Strict, &mut out).unwrap();
        assert_eq!(out, b"second");
        assert_eq!(&text[blocks[0].end..blocks[1].start], b"and\n");
    }

    #[test]
    fn empty_files_are_blocks() {
        assert_eq!(
            dec_block(&enc(b"", Format::Classic), Strictness::Strict),
            Ok(vec![])
        );
        assert_eq!(
            dec_block(&enc(b"", Format::Base64), Strictness::Strict),
            Ok(vec![])
        );
    }

    #[test]
    fn regression_short_line_past_end() {
        // Found by proptest: a length character promising more than the line holds.
        let mut out = Vec::new();
        decode(b"\0", Format::Classic, Strictness::Lenient, &mut out).unwrap();
        assert_eq!(out.len(), 32);
        assert!(out.iter().all(|&b| b == 0));
    }

    #[test]
    fn regression_fuzz_short_m_line_then_newline_at_61() {
        // Found by fuzzing: a short `M` line whose next line ends exactly 61 octets on.
        let mut body = b"M86)C\n#86)C".to_vec();
        body.resize(61, b'`');
        body.extend_from_slice(b"\n`\n");
        let body = &body[..];
        let mut whole = Vec::new();
        decode(body, Format::Classic, Strictness::Lenient, &mut whole).unwrap();
        let mut d = Decoder::new(Format::Classic, Strictness::Lenient);
        let mut pieces = Vec::new();
        d.feed(&body[..6], &mut pieces).unwrap();
        d.feed(&body[6..], &mut pieces).unwrap();
        assert_eq!(whole, pieces);
        assert_eq!(&whole[..3], b"abc");
        assert_eq!(whole.len(), 45 + 3);
    }

    #[test]
    fn encoded_len_is_exact() {
        for n in [0, 1, 2, 3, 44, 45, 46, 89, 90, 91, 1000] {
            let data = vec![7u8; n];
            for f in [Format::Classic, Format::Base64] {
                assert_eq!(enc(&data, f).len(), encoded_len(n, 0o644, "x", f));
            }
        }
    }
}
