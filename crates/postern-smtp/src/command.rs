//! SMTP commands: zero-copy parsing from a line and formatting back to the wire.

use crate::error::CommandError;
use crate::limits::Limits;
use crate::params::{MailParams, RcptParams};
use crate::path::{Domain, ForwardPath, ReversePath};

/// The initial response of `AUTH mechanism [initial-response]` (RFC 4954 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthInitial<'a> {
    /// `=`: an initial response of zero length.
    Empty,
    /// Base64 text, not yet decoded.
    Base64(&'a str),
}

/// One SMTP command, borrowing its arguments from the line it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command<'a> {
    /// `HELO domain`.
    Helo {
        /// The client's name as given (a domain or an address literal).
        domain: Domain<'a>,
    },
    /// `EHLO domain`.
    Ehlo {
        /// The client's name as given (a domain or an address literal).
        domain: Domain<'a>,
    },
    /// `MAIL FROM:<reverse-path> [params]`.
    Mail {
        /// The sender.
        from: ReversePath<'a>,
        /// ESMTP parameters.
        params: MailParams<'a>,
    },
    /// `RCPT TO:<forward-path> [params]`.
    Rcpt {
        /// The recipient.
        to: ForwardPath<'a>,
        /// ESMTP parameters.
        params: RcptParams<'a>,
    },
    /// `DATA`.
    Data,
    /// `BDAT size [LAST]` (RFC 3030).
    Bdat {
        /// Octets in the chunk that follows the line.
        size: u64,
        /// `LAST` was given.
        last: bool,
    },
    /// `RSET`.
    Rset,
    /// `VRFY string`.
    Vrfy {
        /// The argument, verbatim.
        arg: &'a str,
    },
    /// `EXPN string`.
    Expn {
        /// The argument, verbatim.
        arg: &'a str,
    },
    /// `HELP [topic]`.
    Help {
        /// The topic, if any.
        topic: Option<&'a str>,
    },
    /// `NOOP [string]`.
    Noop {
        /// The ignored argument, if any.
        arg: Option<&'a str>,
    },
    /// `QUIT`.
    Quit,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954).
    Auth {
        /// The SASL mechanism name, upper-case as sent (compare case-insensitively).
        mechanism: &'a str,
        /// The initial response, if any.
        initial: Option<AuthInitial<'a>>,
    },
    /// `ETRN node` (RFC 1985): `domain`, `@domain` or `#queue`.
    Etrn {
        /// The argument verbatim, with its `@` or `#` prefix.
        node: &'a str,
    },
}

impl<'a> Command<'a> {
    /// Parses one command line. `line` is the line *without* its CRLF. Verbs are
    /// case-insensitive; every limit comes from `limits`.
    pub fn parse(_line: &'a [u8], _limits: &Limits) -> Result<Command<'a>, CommandError> {
        todo!("helper A")
    }

    /// Appends the command to `out` in its canonical wire form, with the trailing CRLF.
    pub fn write_to(&self, _out: &mut Vec<u8>) {
        todo!("helper A")
    }

    /// The verb, upper-case (`"MAIL"`, `"STARTTLS"`…).
    pub fn verb(&self) -> &'static str {
        todo!("helper A")
    }
}
