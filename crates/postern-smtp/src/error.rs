//! Command parse errors and the reply each one maps to.

use crate::reply::Reply;

/// Why a command line was refused. Each maps to an SMTP reply with [`CommandError::reply`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The verb is not an SMTP command. `500 5.5.1`.
    #[error("command not recognized")]
    UnknownCommand,
    /// The line is longer than [`Limits::max_command_line`](crate::Limits). `500 5.5.6`.
    #[error("line too long (limit {limit} octets)")]
    LineTooLong {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The arguments do not follow the command's syntax. `501 5.5.4`.
    #[error("syntax error: {0}")]
    Syntax(&'static str),
    /// A path or mailbox is malformed. `501 5.1.3` (5.1.7 for the sender).
    #[error("bad address syntax: {0}")]
    BadAddress(&'static str),
    /// A local part, domain or path exceeds its limit. `501 5.1.3`.
    #[error("{what} too long (limit {limit} octets)")]
    AddressTooLong {
        /// Which part: "local part", "domain" or "path".
        what: &'static str,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// Non-ASCII address without `SMTPUTF8`. `553 5.6.7` (RFC 6531 §3.6).
    #[error("non-ASCII address requires SMTPUTF8")]
    Utf8NotAllowed,
    /// A MAIL/RCPT parameter is not known. `555 5.5.4`.
    #[error("unrecognized parameter {0}")]
    UnknownParameter(String),
    /// A known parameter has a bad value or is repeated. `501 5.5.4`.
    #[error("bad value for parameter {0}")]
    BadParameter(&'static str),
    /// The command is known but this value is not implemented (e.g. an AUTH mechanism).
    /// `504 5.5.4`.
    #[error("not implemented: {0}")]
    NotImplemented(&'static str),
    /// The line contains a NUL, or bytes that are not UTF-8 where text is required.
    /// `500 5.5.2`.
    #[error("invalid characters in command")]
    InvalidCharacters,
}

impl CommandError {
    /// The reply a server sends for this error.
    pub fn reply(&self) -> Reply {
        todo!("helper A")
    }
}
