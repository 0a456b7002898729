//! DATA and BDAT framing: a streaming, zero-copy DATA decoder that ends only at
//! `CRLF.CRLF`, and the encoders for outbound DATA and BDAT.

use crate::limits::Limits;
use crate::reply::Reply;

/// What the DATA decoder does with a bare LF or bare CR (SMTP smuggling defence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BareLinePolicy {
    /// Refuse: the message is consumed up to the real `CRLF.CRLF` and then rejected with
    /// [`DataError::BareLineEnding`]. A bare LF or CR never ends the message.
    #[default]
    Reject,
    /// Accept a bare LF as a line ending and deliver it as CRLF (Postfix's
    /// `smtpd_forbid_bare_newline = normalize`); the end of data is still only
    /// `CRLF.CRLF`, so nothing can be smuggled.
    Normalize,
}

/// Why a DATA body was refused. The decoder consumes the body to its end before saying so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The body exceeded the size limit. `552 5.3.4`.
    #[error("message exceeds {limit} octets")]
    TooLarge {
        /// The limit in octets.
        limit: u64,
    },
    /// A bare LF or CR appeared under [`BareLinePolicy::Reject`]. `550 5.5.2`.
    #[error("bare LF or CR in message data")]
    BareLineEnding,
    /// A line exceeded [`Limits::max_data_line`]. `500 5.5.6`.
    #[error("message line longer than {limit} octets")]
    LineTooLong {
        /// The limit in octets, counting the CRLF.
        limit: usize,
    },
}

impl DataError {
    /// The reply a server sends after the end of data for this error.
    pub fn reply(&self) -> Reply {
        todo!("helper B")
    }
}

/// Whether the body has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataStatus {
    /// More input is needed.
    More,
    /// `CRLF.CRLF` was consumed: `Ok(size)` in octets of content, or why the message is
    /// refused (its content must then be discarded).
    Done(Result<u64, DataError>),
}

/// One step of [`DataDecoder::step`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataStep<'i> {
    /// How many octets of the input this step consumed.
    pub consumed: usize,
    /// Message content produced by this step: a slice of the input, or a short `'static`
    /// slice for octets held over from an earlier chunk (a CR, a CRLF). May be empty.
    pub content: &'i [u8],
    /// Whether the end of data was reached.
    pub status: DataStatus,
}

/// Streaming DATA decoder: removes dot-stuffing, finds `CRLF.CRLF`, enforces the size and
/// line limits mid-stream, and never copies the content — each step hands back a slice of
/// the input. The content includes the CRLF that ends the last line.
///
/// Call [`DataDecoder::step`] with the unconsumed input until it reports
/// [`DataStatus::Done`] or has consumed everything; octets after `Done` belong to the next
/// command. The result is the same however the input is split.
#[derive(Debug, Clone)]
pub struct DataDecoder {
    // fields chosen by the implementation
    _private: (),
}

impl DataDecoder {
    /// A decoder using `limits.max_message_size` and `limits.max_data_line`.
    pub fn new(_limits: &Limits, _policy: BareLinePolicy) -> Self {
        todo!("helper B")
    }

    /// Lowers (or raises) the size limit for this message, e.g. to a per-domain maximum.
    pub fn set_max_size(&mut self, _max: u64) {
        todo!("helper B")
    }

    /// Decodes from the start of `input`; see the type's documentation.
    pub fn step<'i>(&mut self, _input: &'i [u8]) -> DataStep<'i> {
        todo!("helper B")
    }

    /// Content octets produced so far.
    pub fn size(&self) -> u64 {
        todo!("helper B")
    }
}

/// Outbound DATA encoder: turns message bytes into DATA framing — bare LF and bare CR
/// become CRLF, lines starting with `.` are dot-stuffed — and writes the final `.CRLF`.
#[derive(Debug, Clone, Default)]
pub struct DataEncoder {
    // fields chosen by the implementation
    _private: (),
}

impl DataEncoder {
    /// A fresh encoder at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Encodes the next piece of the message, appending to `out`. Pieces may split lines
    /// and CRLF pairs anywhere.
    pub fn encode(&mut self, _input: &[u8], _out: &mut Vec<u8>) {
        todo!("helper B")
    }

    /// Ends the message: a CRLF if the last line lacked one, then `.CRLF`.
    pub fn finish(&mut self, _out: &mut Vec<u8>) {
        todo!("helper B")
    }
}

/// Appends one BDAT chunk: `BDAT <len>[ LAST]CRLF` followed by `chunk` verbatim.
pub fn write_bdat(_chunk: &[u8], _last: bool, _out: &mut Vec<u8>) {
    todo!("helper B")
}
