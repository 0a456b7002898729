//! uuencode: an encoder byte-identical to GNU sharutils `uuencode` (and `uuencode -m`), a
//! lenient decoder for what real senders wrote, and a scanner that finds `begin … end`
//! blocks inside plain text.
//!
//! (Signatures fixed; bodies filled in by the codec work.)

/// How forgiving [`decode`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strictness {
    /// Accept what real senders wrote: space or backtick padding, CRLF, short or
    /// over-long lines, a missing `end`, trailing garbage.
    #[default]
    Lenient,
    /// Refuse anything GNU `uudecode` would refuse; for tests.
    Strict,
}

/// Which of the two GNU formats a block uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// The file name from the `begin` line, as written.
    pub name: &'a [u8],
    /// The encoded lines between the `begin` line and the `end` (or `====`) line.
    pub body: &'a [u8],
    /// Offset of the `begin` line in the scanned text.
    pub start: usize,
    /// Offset just after the end line (or the end of the text when `end` is missing).
    pub end: usize,
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

/// Appends `data` uuencoded as GNU `uuencode` writes it for a file called `name` with
/// permission bits `mode`: `begin 644 name\n`, lines of 45 octets, `` `\n`` and `end\n`.
pub fn encode(_data: &[u8], _mode: u32, _name: &str, _format: Format, _out: &mut Vec<u8>) {
    todo!("codec work")
}

/// Decodes the lines of a block body (between `begin` and `end`), appending to `out`.
pub fn decode(
    _body: &[u8],
    _format: Format,
    _strictness: Strictness,
    _out: &mut Vec<u8>,
) -> Result<(), UuError> {
    todo!("codec work")
}

/// Finds the uuencoded blocks in `text`, in order. A `begin` line is recognised only when
/// it has the form `begin MODE NAME` with an octal mode, at the start of a line.
pub fn find_blocks(_text: &[u8]) -> impl Iterator<Item = Block<'_>> {
    std::iter::empty()
}
