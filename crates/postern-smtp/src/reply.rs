//! SMTP replies: enhanced status codes, formatting with continuation lines, and a
//! streaming parser for replies that arrive in any chunking.

use std::fmt;

use crate::limits::Limits;

/// An enhanced mail system status code (RFC 3463), `class.subject.detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// The subject, 0..=999.
    pub subject: u16,
    /// The detail, 0..=999.
    pub detail: u16,
}

impl EnhancedCode {
    /// Builds a code; used in `const` tables of replies.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        EnhancedCode {
            class,
            subject,
            detail,
        }
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// A complete reply: a three-digit code, an optional enhanced code, and text lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reply {
    /// The reply code, 200..=599.
    pub code: u16,
    /// The enhanced status code, when the server sent (or will send) one.
    pub enhanced: Option<EnhancedCode>,
    /// The text lines, without code, enhanced code or CRLF. At least one (maybe empty).
    pub lines: Vec<String>,
}

impl Reply {
    /// A reply whose text may hold several lines separated by `\n`.
    pub fn new(_code: u16, _enhanced: Option<EnhancedCode>, _text: &str) -> Reply {
        todo!("helper B")
    }

    /// Appends the reply to `out`: `code-` continuation lines, `code ` on the last, the
    /// enhanced code on every line, text lines longer than the 512-octet reply limit
    /// wrapped at spaces.
    pub fn write_to(&self, _out: &mut Vec<u8>) {
        todo!("helper B")
    }

    /// The text lines joined with `\n`.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }
    /// 3xx.
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }
    /// 4xx.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
    /// 5xx.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }
}

impl fmt::Display for Reply {
    /// One line per text line, as on the wire but without CRLF, joined with `\n`.
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!("helper B")
    }
}

/// Why a reply could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// A line does not start with three digits and a space or hyphen.
    #[error("malformed reply line")]
    Malformed,
    /// The lines of one multi-line reply carry different codes.
    #[error("inconsistent codes in a multi-line reply")]
    InconsistentCode,
    /// A line exceeds [`Limits::max_reply_line`].
    #[error("reply line too long (limit {limit} octets)")]
    LineTooLong {
        /// The limit.
        limit: usize,
    },
    /// A reply has more than [`Limits::max_reply_lines`] lines.
    #[error("too many lines in one reply (limit {limit})")]
    TooManyLines {
        /// The limit.
        limit: usize,
    },
}

/// Reassembles replies from bytes that arrive in any chunking.
///
/// Feed bytes with [`ReplyParser::feed`], then call [`ReplyParser::next_reply`] until it
/// returns `None`. After an error the parser skips to the next line, so a client can
/// report it and close.
#[derive(Debug, Clone)]
pub struct ReplyParser {
    // fields chosen by the implementation
    _private: (),
}

impl ReplyParser {
    /// A parser enforcing `limits.max_reply_line` and `limits.max_reply_lines`.
    pub fn new(_limits: &Limits) -> Self {
        todo!("helper B")
    }

    /// Adds received bytes.
    pub fn feed(&mut self, _bytes: &[u8]) {
        todo!("helper B")
    }

    /// The next complete reply, if one has arrived.
    pub fn next_reply(&mut self) -> Option<Result<Reply, ReplyError>> {
        todo!("helper B")
    }

    /// Bytes buffered that do not yet form a complete reply.
    pub fn buffered(&self) -> usize {
        todo!("helper B")
    }
}
