//! Transfer and header encoders: base64 (RFC 2045, 76-column lines), quoted-printable
//! (RFC 2045, text or binary), RFC 2047 encoded words for non-ASCII header text, and
//! RFC 2231 parameter values with continuations; and the choice of a transfer encoding
//! from content.
//!
//! Encoders append to a caller's buffer and write the line ending the caller picks
//! ([`LineEnding::Crlf`] for the wire, [`LineEnding::Lf`] for local files).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Line ending written by the encoders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineEnding {
    /// `\r\n`, as on the wire (RFC 5322).
    #[default]
    Crlf,
    /// `\n`, as in local files.
    Lf,
}

impl LineEnding {
    /// The octets of this line ending.
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            LineEnding::Crlf => b"\r\n",
            LineEnding::Lf => b"\n",
        }
    }
}

pub use crate::transfer::TransferEncoding;

/// Longest line, in octets without the line ending, RFC 5322 allows.
pub const MAX_LINE: usize = 998;

/// Base64 characters per line (RFC 2045 allows at most 76).
pub const BASE64_LINE: usize = 76;

/// Appends `data` in base64, in lines of 76 characters each ended by `eol` (the last line
/// too, when there is any data).
///
/// ```
/// use postern_message::encode::{base64_encode, LineEnding};
/// let mut out = Vec::new();
/// base64_encode(b"hello", LineEnding::Crlf, &mut out);
/// assert_eq!(out, b"aGVsbG8=\r\n");
/// ```
pub fn base64_encode(data: &[u8], eol: LineEnding, out: &mut Vec<u8>) {
    let eol = eol.as_bytes();
    let per_line = BASE64_LINE / 4 * 3;
    let lines = data.len().div_ceil(per_line);
    let start = out.len();
    out.resize(start + data.len().div_ceil(3) * 4 + lines * eol.len(), 0);
    let mut pos = start;
    for chunk in data.chunks(per_line) {
        let n = STANDARD
            .encode_slice(chunk, &mut out[pos..])
            .unwrap_or_default();
        pos += n;
        out[pos..pos + eol.len()].copy_from_slice(eol);
        pos += eol.len();
    }
    out.truncate(pos);
}

/// Longest quoted-printable line, without its line ending (RFC 2045 §6.7 rule 5).
pub const QP_LINE: usize = 76;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `data` in quoted-printable (RFC 2045 §6.7).
///
/// In text mode (`binary == false`) a line break in the input (LF or CRLF) is a hard line
/// break, written as `eol`; a lone CR is encoded. In binary mode CR and LF are encoded as
/// `=0D` and `=0A`, so any octets survive. Lines are at most 76 characters, with soft
/// breaks (`=` at the end) where needed; an escape is never split; space and tab are
/// encoded where they would end a line (a transport may strip them); `=` and octets outside
/// printable ASCII are always encoded. A line starting with `.` or `From ` gets its first
/// character encoded, so neither SMTP dot-stuffing nor mbox `>From ` quoting can alter it.
///
/// ```
/// use postern_message::encode::{qp_encode, LineEnding};
/// let mut out = Vec::new();
/// qp_encode("café = ok \n".as_bytes(), false, LineEnding::Crlf, &mut out);
/// assert_eq!(out, b"caf=C3=A9 =3D ok=20\r\n");
/// ```
pub fn qp_encode(data: &[u8], binary: bool, eol: LineEnding, out: &mut Vec<u8>) {
    let mut w = QpWriter {
        out,
        eol: eol.as_bytes(),
        col: 0,
    };
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        if !binary {
            let brk = match b {
                b'\n' => 1,
                b'\r' if data.get(i + 1) == Some(&b'\n') => 2,
                _ => 0,
            };
            if brk > 0 {
                w.hard_break();
                i += brk;
                continue;
            }
        }
        let at_line_end = binary && i + 1 == data.len()
            || !binary
                && match data.get(i + 1) {
                    None | Some(b'\n') => true,
                    Some(b'\r') => data.get(i + 2) == Some(&b'\n'),
                    _ => false,
                };
        let literal = match b {
            b' ' | b'\t' => !at_line_end,
            b'=' => false,
            33..=126 => true,
            _ => false,
        };
        // Encoded if it lands at the start of a line (after a hard or a soft break).
        let risky_at_start = b == b'.' || b == b'F' && data[i..].starts_with(b"From ");
        w.put(b, literal, risky_at_start, at_line_end);
        i += 1;
    }
}

struct QpWriter<'a> {
    out: &'a mut Vec<u8>,
    eol: &'static [u8],
    col: usize,
}

impl QpWriter<'_> {
    fn hard_break(&mut self) {
        self.out.extend_from_slice(self.eol);
        self.col = 0;
    }

    /// Writes one octet, literally or as `=XX`, breaking softly first if it would not fit.
    /// The last character of a line may use column 76; others leave room for the `=`.
    fn put(&mut self, b: u8, literal: bool, risky_at_start: bool, at_line_end: bool) {
        let width = if literal { 1 } else { 3 };
        let limit = if at_line_end { QP_LINE } else { QP_LINE - 1 };
        if self.col + width > limit {
            self.out.push(b'=');
            self.out.extend_from_slice(self.eol);
            self.col = 0;
        }
        let literal = literal && !(risky_at_start && self.col == 0);
        let width = if literal { 1 } else { 3 };
        if literal {
            self.out.push(b);
        } else {
            self.out
                .extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
        self.col += width;
    }
}

/// The quoted-printable encoded size of `data` in text mode, without building it (to pick
/// between QP and base64).
fn qp_cost(data: &[u8]) -> usize {
    data.iter()
        .map(|&b| match b {
            b'\n' | b'\r' | b' ' | b'\t' | 33..=60 | 62..=126 => 1,
            _ => 3,
        })
        .sum::<usize>()
        + data.len() / 72
}

/// What a body's octets are like, for choosing a transfer encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContentStats {
    /// Octets above 127.
    pub eight_bit: usize,
    /// NUL octets.
    pub nul: usize,
    /// CR not followed by LF, or LF not preceded by CR (in CRLF-ended text the latter is
    /// fine once line ends are normalised; counted apart).
    pub bare_cr: usize,
    /// LF not preceded by CR. Harmless in text (its line ends are normalised), but in
    /// non-text data `7bit` would turn each into CRLF and change the octets.
    pub bare_lf: usize,
    /// The longest line, without its line ending.
    pub longest_line: usize,
}

impl ContentStats {
    /// Scans `data`: NUL and 8-bit octets and CRs are counted over the whole of it in
    /// passes the compiler vectorises, and only the line ends are visited one by one
    /// (`memchr`), to measure the lines and pair each LF with the CR before it; a CR not
    /// paired so is bare. Every relayed message is scanned, and text lines are short: a
    /// per-line check of the octets cost twice what these passes do.
    pub fn of(data: &[u8]) -> Self {
        let mut s = ContentStats::default();
        // Folds without an early exit over short chunks, counting in octets: the forms
        // the compiler turns into vector compares and adds.
        let mut crs = 0;
        let mut odd = false;
        for chunk in data.chunks(255) {
            let (n, o) = chunk.iter().fold((0u8, false), |(n, o), &b| {
                (n + u8::from(b == b'\r'), o | (b == 0) | (b >= 128))
            });
            crs += usize::from(n);
            odd |= o;
        }
        if odd {
            s.nul = data.iter().filter(|&&b| b == 0).count();
            s.eight_bit = data.iter().filter(|&&b| b >= 128).count();
        }
        let (mut lfs, mut crlfs) = (0, 0);
        let mut start = 0;
        for lf in memchr::memchr_iter(b'\n', data) {
            lfs += 1;
            // The CR of a CRLF belongs to the line end (`lf - 1 < start` is the last LF).
            let crlf = lf > start && data[lf - 1] == b'\r';
            crlfs += usize::from(crlf);
            s.longest_line = s.longest_line.max(lf - start - usize::from(crlf));
            start = lf + 1;
        }
        s.bare_lf = lfs - crlfs;
        s.bare_cr = crs - crlfs;
        s.longest_line = s.longest_line.max(data.len() - start);
        s
    }

    /// True if the data may be sent as `7bit` (after line ends are normalised to CRLF).
    pub fn is_seven_bit(&self) -> bool {
        self.eight_bit == 0 && self.nul == 0 && self.bare_cr == 0 && self.longest_line <= MAX_LINE
    }
}

/// Whether content can cross SMTP as it is: the questions [`ContentStats`] answers for
/// that, each as yes or no, with the lines checked only against [`MAX_LINE`]. On text
/// of short lines that takes about 60% of the instructions of [`ContentStats::of`],
/// which measures every line: a relay asks these questions of every message it sends.
///
/// ```
/// use postern_message::encode::WireCheck;
/// let ok = WireCheck::of(b"plain text\r\nover two lines\r\n");
/// assert!(ok.is_seven_bit());
/// let latin = WireCheck::of("caf\u{e9}\r\n".as_bytes());
/// assert!(latin.eight_bit && !latin.is_seven_bit() && latin.is_eight_bit_clean());
/// let long = vec![b'x'; 999];
/// assert!(WireCheck::of(&long).long_line && !WireCheck::of(&long).is_eight_bit_clean());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WireCheck {
    /// Some octet is above 127.
    pub eight_bit: bool,
    /// Some octet is NUL.
    pub nul: bool,
    /// Some CR is not followed by LF.
    pub bare_cr: bool,
    /// Some LF is not preceded by CR.
    pub bare_lf: bool,
    /// Some line, without its line ending, is longer than [`MAX_LINE`] octets.
    pub long_line: bool,
}

/// [`WireCheck::of`]'s flags over octets `now[i]` each followed by `next[i]`: bit 0 for
/// a NUL or 8-bit octet, bit 1 for a CR not followed by LF or an LF not preceded by CR
/// (the two tests differ exactly there), each in a few vector instructions.
fn pair_flags(now: &[u8], next: &[u8]) -> u8 {
    let next = &next[..now.len()];
    let (mut odd, mut unpaired) = (0u8, 0u8);
    for i in 0..now.len() {
        let (a, b) = (now[i], next[i]);
        // 0 wraps to 255: one unsigned compare finds NUL and the 8-bit octets.
        odd |= u8::from(a.wrapping_sub(1) >= 127);
        unpaired |= u8::from(a == b'\r') ^ u8::from(b == b'\n');
    }
    odd | unpaired << 1
}

/// Whether some CR is not followed by LF, and whether some LF is not preceded by CR,
/// among octets `now[i]` each followed by `next[i]`: [`pair_flags`] found one of them.
fn unpaired_kinds(now: &[u8], next: &[u8]) -> (bool, bool) {
    now.iter()
        .zip(next)
        .fold((false, false), |(cr, lf), (&a, &b)| {
            (
                cr | ((a == b'\r') & (b != b'\n')),
                lf | ((b == b'\n') & (a != b'\r')),
            )
        })
}

/// The block every one of which holding an LF proves no line longer than [`MAX_LINE`]:
/// two LFs are then at most `2 * LF_BLOCK - 1` octets apart.
const LF_BLOCK: usize = MAX_LINE.div_ceil(2);

impl WireCheck {
    /// Checks `data`. The octet properties are one fold over octet pairs with no early
    /// exit, which the compiler turns into vector compares. The line lengths are settled
    /// by finding an LF in every block of 499 octets (half of [`MAX_LINE`]); only content
    /// where that fails (a very long line, or binary data) has its lines measured one by
    /// one.
    pub fn of(data: &[u8]) -> Self {
        let Some((&last, _)) = data.split_last() else {
            return WireCheck::default();
        };
        let (now, next) = (&data[..data.len() - 1], &data[1..]);
        let mut flags = 0;
        for (now, next) in now.chunks(256).zip(next.chunks(256)) {
            flags |= pair_flags(now, next);
        }
        let odd = flags & 1 != 0 || last == 0 || last >= 128;
        // Which kind is unpaired only matters when one is: look again then. The last
        // octet has no octet after it and the first none before it.
        let (cr, lf) = if flags & 2 != 0 {
            unpaired_kinds(now, next)
        } else {
            (false, false)
        };
        let (bare_cr, bare_lf) = (cr || last == b'\r', lf || data[0] == b'\n');
        let short_lines = data
            .chunks_exact(LF_BLOCK)
            .all(|block| block.iter().fold(0u8, |lf, &b| lf | u8::from(b == b'\n')) != 0);
        WireCheck {
            eight_bit: odd && data.iter().any(|&b| b >= 128),
            nul: odd && data.contains(&0),
            bare_cr,
            bare_lf,
            long_line: !short_lines && ContentStats::of(data).longest_line > MAX_LINE,
        }
    }

    /// True if the data may be sent as `7bit`: [`ContentStats::is_seven_bit`].
    pub fn is_seven_bit(&self) -> bool {
        !self.eight_bit && self.is_eight_bit_clean()
    }

    /// True if the data may be sent as `8bit` (with 8BITMIME): no NUL, no bare CR, no
    /// line longer than [`MAX_LINE`].
    pub fn is_eight_bit_clean(&self) -> bool {
        !self.nul && !self.bare_cr && !self.long_line
    }
}

/// Picks the transfer encoding for a body: `7bit` when it already qualifies (for
/// non-text, only when every line end is already CRLF, so no octet changes); otherwise,
/// for text, quoted-printable when it is no longer than base64 would be (mostly ASCII),
/// else base64; non-text is base64.
///
/// ```
/// use postern_message::encode::{choose_transfer_encoding, TransferEncoding};
/// assert_eq!(choose_transfer_encoding(b"plain\n", true), TransferEncoding::SevenBit);
/// assert_eq!(choose_transfer_encoding("Le café est prêt, viens vite!\n".as_bytes(), true), TransferEncoding::QuotedPrintable);
/// assert_eq!(choose_transfer_encoding("日本語のテキスト".as_bytes(), true), TransferEncoding::Base64);
/// assert_eq!(choose_transfer_encoding(&[0, 1, 2], false), TransferEncoding::Base64);
/// // A bare LF in an attachment would become CRLF under 7bit: base64 keeps the octets.
/// assert_eq!(choose_transfer_encoding(b"a\n", false), TransferEncoding::Base64);
/// assert_eq!(choose_transfer_encoding(b"a\r\n", false), TransferEncoding::SevenBit);
/// ```
pub fn choose_transfer_encoding(data: &[u8], is_text: bool) -> TransferEncoding {
    let stats = ContentStats::of(data);
    if stats.is_seven_bit() && (is_text || stats.bare_lf == 0) {
        return TransferEncoding::SevenBit;
    }
    if is_text && stats.nul == 0 && qp_cost(data) <= data.len().div_ceil(3) * 4 * 77 / 76 {
        TransferEncoding::QuotedPrintable
    } else {
        TransferEncoding::Base64
    }
}

/// Appends `data` with every line ending (LF, CRLF or lone CR) written as `eol`; for
/// `7bit`/`8bit` bodies.
pub fn normalize_line_endings(data: &[u8], eol: LineEnding, out: &mut Vec<u8>) {
    let eol = eol.as_bytes();
    let mut i = 0;
    while i < data.len() {
        match memchr::memchr2(b'\r', b'\n', &data[i..]) {
            None => {
                out.extend_from_slice(&data[i..]);
                break;
            }
            Some(k) => {
                out.extend_from_slice(&data[i..i + k]);
                out.extend_from_slice(eol);
                let at = i + k;
                i = at
                    + if data[at] == b'\r' && data.get(at + 1) == Some(&b'\n') {
                        2
                    } else {
                        1
                    };
            }
        }
    }
}

/// Appends `data` transfer-encoded as `encoding`; 7bit/8bit text gets its line endings
/// normalised to `eol`, binary is copied as is, x-uuencode is a GNU classic block. No line ending is added after data that
/// lacks one (so a parser gives the same octets back); base64 always ends its last line.
pub fn transfer_encode(
    data: &[u8],
    encoding: TransferEncoding,
    is_text: bool,
    eol: LineEnding,
    out: &mut Vec<u8>,
) {
    match encoding {
        TransferEncoding::Base64 => base64_encode(data, eol, out),
        TransferEncoding::QuotedPrintable => qp_encode(data, !is_text, eol, out),
        TransferEncoding::SevenBit | TransferEncoding::EightBit => {
            normalize_line_endings(data, eol, out)
        }
        TransferEncoding::UuEncode => {
            let mut block = Vec::new();
            crate::uuencode::encode(
                data,
                0o644,
                "attachment",
                crate::uuencode::Format::Classic,
                &mut block,
            );
            normalize_line_endings(&block, eol, out)
        }
        // Binary, and anything unknown, is copied as is.
        _ => out.extend_from_slice(data),
    }
}

/// Longest RFC 2047 encoded word (§2).
pub const MAX_ENCODED_WORD: usize = 75;

/// Characters Q encoding may leave literal in any header context (RFC 2047 §5 (3)).
fn q_literal(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'!' | b'*' | b'+' | b'-' | b'/')
}

fn q_len(s: &str) -> usize {
    s.bytes()
        .map(|b| if q_literal(b) || b == b' ' { 1 } else { 3 })
        .sum()
}

/// Encodes `text` as one or more UTF-8 encoded words, separated by single spaces, each at
/// most 75 characters, using B or Q per word, whichever is shorter. Words break only
/// between characters, never inside one; spaces inside `text` are kept (as `_` in Q).
///
/// ```
/// use postern_message::encode::encoded_words;
/// assert_eq!(encoded_words("Café au lait"), "=?UTF-8?Q?Caf=C3=A9_au_lait?=");
/// assert_eq!(encoded_words("日本"), "=?UTF-8?B?5pel5pys?=");
/// ```
pub fn encoded_words(text: &str) -> String {
    const OVERHEAD: usize = "=?UTF-8?Q??=".len();
    let room = MAX_ENCODED_WORD - OVERHEAD;
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        // The longest prefix (on a char boundary) that fits in one word as B or as Q.
        let mut end = 0;
        for (i, c) in rest.char_indices() {
            let next = i + c.len_utf8();
            let prefix = &rest[..next];
            if next.div_ceil(3) * 4 > room && q_len(prefix) > room {
                break;
            }
            end = next;
        }
        if end == 0 {
            // Unreachable for UTF-8 (a char is at most 4 octets); keep progress anyway.
            end = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        let (word, tail) = rest.split_at(end);
        if !out.is_empty() {
            out.push(' ');
        }
        push_encoded_word(word, &mut out);
        rest = tail;
    }
    out
}

fn push_encoded_word(word: &str, out: &mut String) {
    let b_len = word.len().div_ceil(3) * 4;
    let fits_b = b_len <= MAX_ENCODED_WORD - 12;
    if q_len(word) <= b_len || !fits_b {
        out.push_str("=?UTF-8?Q?");
        for b in word.bytes() {
            if b == b' ' {
                out.push('_');
            } else if q_literal(b) {
                out.push(char::from(b));
            } else {
                out.push('=');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    } else {
        out.push_str("=?UTF-8?B?");
        out.push_str(&STANDARD.encode(word));
    }
    out.push_str("?=");
}

/// True if a word must be encoded to survive in a header: non-ASCII, control characters,
/// or something a decoder would take for an encoded word.
fn needs_encoding(word: &str) -> bool {
    word.bytes().any(|b| b >= 0x7f || (b < 0x20 && b != b'\t'))
        || (word.contains("=?") && word.contains("?="))
}

/// Encodes an unstructured header value (e.g. `Subject`): ASCII words stay as they are;
/// each run of words that need encoding (non-ASCII, controls, or text that looks like an
/// encoded word) becomes encoded words, with the spaces between the run's words inside the
/// encoding so a decoder restores them. Runs of white space between plain words are kept.
///
/// ```
/// use postern_message::encode::encode_unstructured;
/// assert_eq!(encode_unstructured("Re: café au lait"), "Re: =?UTF-8?B?Y2Fmw6k=?= au lait");
/// assert_eq!(encode_unstructured("plain"), "plain");
/// ```
pub fn encode_unstructured(text: &str) -> String {
    if !text.split([' ', '\t']).any(needs_encoding) {
        return text.to_string();
    }
    // Tokens: (word, white space before it).
    let mut tokens: Vec<(&str, &str)> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let ws_len = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        let (ws, after) = rest.split_at(ws_len);
        let word_len = after.find([' ', '\t']).unwrap_or(after.len());
        let (word, tail) = after.split_at(word_len);
        tokens.push((word, ws));
        rest = tail;
    }
    let mut out = String::new();
    let mut i = 0;
    while i < tokens.len() {
        let (word, ws) = tokens[i];
        if !needs_encoding(word) {
            out.push_str(ws);
            out.push_str(word);
            i += 1;
            continue;
        }
        // Extend the run over following words that need encoding.
        let mut j = i + 1;
        while j < tokens.len() && needs_encoding(tokens[j].0) {
            j += 1;
        }
        let mut run = String::new();
        for (k, (w, s)) in tokens[i..j].iter().enumerate() {
            if k > 0 {
                run.push_str(s);
            }
            run.push_str(w);
        }
        // White space before the run stays outside; at least one space separates an
        // encoded word from a neighbouring word.
        if !out.is_empty() {
            out.push_str(if ws.is_empty() { " " } else { ws });
        } else {
            out.push_str(ws);
        }
        out.push_str(&encoded_words(&run));
        if j < tokens.len() && tokens[j].1.is_empty() {
            out.push(' ');
        }
        i = j;
    }
    out
}

/// RFC 5322 `atext` (characters an atom may hold).
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// Encodes a display name (an RFC 5322 phrase): atoms stay bare; ASCII with specials
/// becomes a quoted string; anything that needs encoding becomes encoded words (an encoded
/// word may not sit inside a quoted string, RFC 2047 §5 (3)).
///
/// ```
/// use postern_message::encode::encode_phrase;
/// assert_eq!(encode_phrase("Joe Bloggs"), "Joe Bloggs");
/// assert_eq!(encode_phrase("Bloggs, Joe"), "\"Bloggs, Joe\"");
/// assert_eq!(encode_phrase("Zoë"), "=?UTF-8?Q?Zo=C3=AB?=");
/// ```
pub fn encode_phrase(text: &str) -> String {
    if text.split(' ').any(needs_encoding) {
        return encoded_words(text);
    }
    let atoms = !text.is_empty()
        && text
            .split(' ')
            .all(|w| !w.is_empty() && w.bytes().all(is_atext));
    if atoms {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// RFC 2045 `token` characters (no tspecials, space or controls).
fn is_token_char(b: u8) -> bool {
    b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b)
}

/// Longest parameter segment (`name*0*=value`), so that `; ` plus the segment fits a
/// folded line of 78 with its leading space.
pub const MAX_PARAM_SEGMENT: usize = 72;

/// Encodes a MIME parameter as one or more `name=value` segments (to be joined with `; `):
/// a token value stays bare; other short ASCII values are quoted; non-ASCII values use
/// RFC 2231 (`name*=utf-8''%E2%82%AC…`), and values too long for one segment are split
/// into continuations (`name*0*=…`, `name*1*=…`), never inside a character.
///
/// ```
/// use postern_message::encode::encode_param;
/// assert_eq!(encode_param("filename", "a.txt"), ["filename=a.txt"]);
/// assert_eq!(encode_param("filename", "my file.txt"), ["filename=\"my file.txt\""]);
/// assert_eq!(encode_param("filename", "€.txt"), ["filename*=utf-8''%E2%82%AC.txt"]);
/// ```
pub fn encode_param(name: &str, value: &str) -> Vec<String> {
    let ascii = value.bytes().all(|b| (0x20..0x7f).contains(&b));
    if ascii {
        let quoted = quote_param(value);
        if !value.is_empty() && value.bytes().all(is_token_char) {
            if name.len() + 1 + value.len() <= MAX_PARAM_SEGMENT {
                return vec![format!("{name}={value}")];
            }
        } else if name.len() + 1 + quoted.len() <= MAX_PARAM_SEGMENT {
            return vec![format!("{name}={quoted}")];
        }
        return ascii_continuations(name, value);
    }
    let single = format!("{name}*=utf-8''{}", percent_encode(value));
    if single.len() <= MAX_PARAM_SEGMENT {
        return vec![single];
    }
    extended_continuations(name, value)
}

fn quote_param(value: &str) -> String {
    let mut q = String::with_capacity(value.len() + 2);
    q.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// RFC 2231 `attribute-char`: a token char other than `*`, `'` and `%`.
fn is_attr_char(b: u8) -> bool {
    is_token_char(b) && !matches!(b, b'*' | b'\'' | b'%')
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if is_attr_char(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// Splits `value` at character boundaries into pieces whose rendering by `render` fits
/// `room` (each piece at least one character).
fn split_fitting(value: &str, room: usize, render: impl Fn(&str) -> usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let mut end = 0;
        for (i, c) in rest.char_indices() {
            let next = i + c.len_utf8();
            if render(&rest[..next]) > room && end > 0 {
                break;
            }
            end = next;
        }
        pieces.push(&rest[..end]);
        rest = &rest[end..];
    }
    pieces
}

fn ascii_continuations(name: &str, value: &str) -> Vec<String> {
    let room = MAX_PARAM_SEGMENT.saturating_sub(name.len() + 6).max(8);
    split_fitting(value, room, |p| quote_param(p).len())
        .into_iter()
        .enumerate()
        .map(|(i, p)| format!("{name}*{i}={}", quote_param(p)))
        .collect()
}

fn extended_continuations(name: &str, value: &str) -> Vec<String> {
    // Room for `name*NN*=` and, on the first piece, `utf-8''`.
    let room = MAX_PARAM_SEGMENT.saturating_sub(name.len() + 13).max(12);
    split_fitting(value, room, |p| percent_encode(p).len())
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let charset = if i == 0 { "utf-8''" } else { "" };
            format!("{name}*{i}*={charset}{}", percent_encode(p))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    /// The octet-by-octet scan `ContentStats::of` replaced: the oracle of its proptest.
    fn content_stats_bytewise(data: &[u8]) -> ContentStats {
        let mut s = ContentStats::default();
        let mut line = 0;
        for (i, &b) in data.iter().enumerate() {
            match b {
                b'\n' => {
                    if i == 0 || data[i - 1] != b'\r' {
                        s.bare_lf += 1;
                    }
                    s.longest_line = s.longest_line.max(line);
                    line = 0;
                    continue;
                }
                b'\r' if data.get(i + 1) == Some(&b'\n') => continue,
                b'\r' => s.bare_cr += 1,
                0 => s.nul += 1,
                128.. => s.eight_bit += 1,
                _ => {}
            }
            line += 1;
        }
        s.longest_line = s.longest_line.max(line);
        s
    }

    proptest::proptest! {
        #[test]
        fn content_stats_match_the_bytewise_scan(
            data in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b'\r'), proptest::strategy::Just(b'\n'), proptest::strategy::Just(0u8), proptest::strategy::Just(0xe9u8), 32u8..127, proptest::arbitrary::any::<u8>()
                ],
                0..1200,
            )
        ) {
            proptest::prop_assert_eq!(ContentStats::of(&data), content_stats_bytewise(&data));
        }

        /// Text lines of any length across the 64-octet windows, ended by CRLF, LF or CR.
        #[test]
        fn content_stats_of_lines_match_the_bytewise_scan(
            lines in proptest::collection::vec(
                (0usize..300, proptest::sample::select(vec![&b"\r\n"[..], b"\n", b"\r", b""]),
                    proptest::option::of(proptest::prop_oneof![
                        proptest::strategy::Just(0u8), proptest::strategy::Just(0xe9u8)])),
                0..60,
            )
        ) {
            let mut data = Vec::new();
            for (n, end, odd) in lines {
                data.extend((0..n).map(|i| b"text line."[i % 10]));
                data.extend(odd);
                data.extend_from_slice(end);
            }
            proptest::prop_assert_eq!(ContentStats::of(&data), content_stats_bytewise(&data));
            proptest::prop_assert_eq!(WireCheck::of(&data), wire_check_from_stats(&data));
        }

        /// Lines around the length limit and the checking block, with odd octets and
        /// line ends of every kind: the block proof and the fallback agree with the stats.
        #[test]
        fn wire_check_matches_the_stats(
            lines in proptest::collection::vec(
                (proptest::prop_oneof![0usize..40, 490usize..510, 990usize..1010],
                    proptest::sample::select(vec![&b"\r\n"[..], b"\n", b"\r", b""]),
                    proptest::option::of((0usize..1010, proptest::prop_oneof![
                        proptest::strategy::Just(0u8), proptest::strategy::Just(0xe9u8),
                        proptest::strategy::Just(b'\r'), proptest::strategy::Just(b'\n')]))),
                0..8,
            )
        ) {
            let mut data = Vec::new();
            for (n, end, odd) in lines {
                let mut line: Vec<u8> = (0..n).map(|i| b"text line."[i % 10]).collect();
                if let Some((at, b)) = odd {
                    line.insert(at.min(line.len()), b);
                }
                data.extend(line);
                data.extend_from_slice(end);
            }
            proptest::prop_assert_eq!(WireCheck::of(&data), wire_check_from_stats(&data));
        }
    }

    /// A line just under, at and over the limit, starting at every offset of the
    /// checking block: where two LFs are furthest apart for the block proof.
    #[test]
    fn wire_check_at_every_block_offset() {
        for at in 0..=LF_BLOCK {
            for len in MAX_LINE - 3..MAX_LINE + 4 {
                let mut data = vec![b'a'; at];
                data.push(b'\n');
                data.extend(std::iter::repeat_n(b'x', len));
                data.extend_from_slice(b"\nend");
                assert_eq!(
                    WireCheck::of(&data),
                    wire_check_from_stats(&data),
                    "{at} {len}"
                );
            }
        }
    }

    /// [`WireCheck`] as [`ContentStats`] says it should be: its oracle.
    fn wire_check_from_stats(data: &[u8]) -> WireCheck {
        let s = ContentStats::of(data);
        WireCheck {
            eight_bit: s.eight_bit > 0,
            nul: s.nul > 0,
            bare_cr: s.bare_cr > 0,
            bare_lf: s.bare_lf > 0,
            long_line: s.longest_line > MAX_LINE,
        }
    }

    use super::*;

    #[test]
    fn base64_lines_are_76() {
        let mut out = Vec::new();
        base64_encode(&[0xffu8; 200], LineEnding::Lf, &mut out);
        let lines: Vec<&[u8]> = out.split(|&c| c == b'\n').collect();
        assert_eq!(lines[0].len(), 76);
        assert_eq!(lines[1].len(), 76);
        assert_eq!(lines[2].len(), 76);
        assert_eq!(lines[3].len(), 40);
        assert!(lines[3].ends_with(b"//8="));
        assert_eq!(lines[4], b"");
        out.clear();
        base64_encode(b"", LineEnding::Crlf, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn qp_soft_breaks_at_76() {
        let mut out = Vec::new();
        qp_encode(&[b'a'; 200], false, LineEnding::Lf, &mut out);
        for line in out.split(|&c| c == b'\n') {
            assert!(line.len() <= 76, "{}", line.len());
        }
        let lines: Vec<&[u8]> = out.split(|&c| c == b'\n').collect();
        assert_eq!(lines[0].len(), 76);
        assert!(lines[0].ends_with(b"="));
    }

    #[test]
    fn qp_never_splits_an_escape() {
        let mut data = vec![b'a'; 73];
        data.extend_from_slice(&[0xff; 5]);
        let mut out = Vec::new();
        qp_encode(&data, false, LineEnding::Lf, &mut out);
        let lines: Vec<&[u8]> = out.split(|&c| c == b'\n').collect();
        assert_eq!(lines[0], [&[b'a'; 73][..], b"="].concat());
        assert!(lines[1].starts_with(b"=FF=FF"));
    }

    #[test]
    fn qp_trailing_white_space_and_binary() {
        let mut out = Vec::new();
        qp_encode(b"a \r\nb\t\n", false, LineEnding::Crlf, &mut out);
        assert_eq!(out, b"a=20\r\nb=09\r\n");
        out.clear();
        qp_encode(b"a\r\nb\r", true, LineEnding::Crlf, &mut out);
        assert_eq!(out, b"a=0D=0Ab=0D");
        out.clear();
        qp_encode(b".\nFrom me\nFrog", false, LineEnding::Lf, &mut out);
        assert_eq!(out, b"=2E\n=46rom me\nFrog");
    }

    #[test]
    fn encoded_words_respect_75_and_chars() {
        let text = "é".repeat(100);
        let enc = encoded_words(&text);
        for w in enc.split(' ') {
            assert!(w.len() <= 75, "{w}");
            assert!(w.starts_with("=?UTF-8?") && w.ends_with("?="));
        }
        let long = "x".repeat(200) + "ü";
        for w in encoded_words(&long).split(' ') {
            assert!(w.len() <= 75);
        }
    }

    #[test]
    fn unstructured_keeps_spacing_and_encodes_lookalikes() {
        assert_eq!(encode_unstructured("a  b"), "a  b");
        assert_eq!(
            encode_unstructured("über café"),
            "=?UTF-8?B?w7xiZXIgY2Fmw6k=?="
        );
        assert!(encode_unstructured("=?x?q?y?=").starts_with("=?UTF-8?"));
    }

    #[test]
    fn params_continue_when_long() {
        let value = "é".repeat(40);
        let segs = encode_param("filename", &value);
        assert!(segs.len() > 1);
        assert!(segs[0].starts_with("filename*0*=utf-8''"));
        assert!(segs[1].starts_with("filename*1*=%C3"));
        for s in &segs {
            assert!(s.len() <= MAX_PARAM_SEGMENT, "{s}");
        }
        let segs = encode_param("filename", &"a".repeat(100));
        assert!(segs[0].starts_with("filename*0=\"aaa"));
    }

    #[test]
    fn choice_of_transfer_encoding() {
        assert_eq!(
            choose_transfer_encoding(&[b'a'; 1200], true),
            TransferEncoding::QuotedPrintable
        );
        assert_eq!(
            choose_transfer_encoding(b"a\rb", true),
            TransferEncoding::QuotedPrintable
        );
        assert_eq!(
            choose_transfer_encoding(b"ok\r\n", false),
            TransferEncoding::SevenBit
        );
    }
}
