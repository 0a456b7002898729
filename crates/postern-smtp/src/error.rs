//! Command parse errors and the reply each one maps to.

use crate::reply::{EnhancedCode, Reply};

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
    /// A path or mailbox is malformed. `501 5.1.3` (5.1.7 for the sender: the parser's
    /// messages about MAIL FROM paths start with `sender`).
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
    /// A known parameter has a bad value. `501 5.5.4`.
    #[error("bad value for parameter {0}")]
    BadParameter(&'static str),
    /// A known parameter appears twice on one command. `501 5.5.4`.
    #[error("duplicate parameter {0}")]
    DuplicateParameter(&'static str),
    /// A parameter value is longer than its protocol limit (`ENVID`: 100 characters,
    /// RFC 3461 §4.4). `501 5.5.4`.
    #[error("parameter {name} too long (limit {limit} characters)")]
    ParameterTooLong {
        /// The parameter.
        name: &'static str,
        /// The limit that was exceeded.
        limit: usize,
    },
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
    ///
    /// ```
    /// use postern_smtp::{Command, Limits};
    /// let err = Command::parse(b"FROB", &Limits::default()).unwrap_err();
    /// assert_eq!(err.reply().to_string(), "500 5.5.1 command not recognized");
    /// ```
    pub fn reply(&self) -> Reply {
        let (code, class, subject, detail) = match self {
            CommandError::UnknownCommand => (500, 5, 5, 1),
            CommandError::LineTooLong { .. } => (500, 5, 5, 6),
            CommandError::Syntax(_) => (501, 5, 5, 4),
            CommandError::BadAddress(what) if what.starts_with("sender") => (501, 5, 1, 7),
            CommandError::BadAddress(_) => (501, 5, 1, 3),
            CommandError::AddressTooLong { .. } => (501, 5, 1, 3),
            CommandError::Utf8NotAllowed => (553, 5, 6, 7),
            CommandError::UnknownParameter(_) => (555, 5, 5, 4),
            CommandError::BadParameter(_) => (501, 5, 5, 4),
            CommandError::DuplicateParameter(_) => (501, 5, 5, 4),
            CommandError::ParameterTooLong { .. } => (501, 5, 5, 4),
            CommandError::NotImplemented(_) => (504, 5, 5, 4),
            CommandError::InvalidCharacters => (500, 5, 5, 2),
        };
        Reply::new(
            code,
            Some(EnhancedCode::new(class, subject, detail)),
            &self.to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(e: CommandError) -> (u16, String) {
        let r = e.reply();
        (r.code, r.enhanced.expect("enhanced code").to_string())
    }

    #[test]
    fn every_error_maps_to_its_reply() {
        let cases = [
            (CommandError::UnknownCommand, 500, "5.5.1"),
            (CommandError::LineTooLong { limit: 512 }, 500, "5.5.6"),
            (CommandError::Syntax("x"), 501, "5.5.4"),
            (CommandError::BadAddress("recipient: x"), 501, "5.1.3"),
            (CommandError::BadAddress("sender: x"), 501, "5.1.7"),
            (
                CommandError::AddressTooLong {
                    what: "path",
                    limit: 256,
                },
                501,
                "5.1.3",
            ),
            (CommandError::Utf8NotAllowed, 553, "5.6.7"),
            (CommandError::UnknownParameter("X".into()), 555, "5.5.4"),
            (CommandError::BadParameter("SIZE"), 501, "5.5.4"),
            (CommandError::NotImplemented("x"), 504, "5.5.4"),
            (CommandError::InvalidCharacters, 500, "5.5.2"),
        ];
        for (e, code, enh) in cases {
            assert_eq!(codes(e.clone()), (code, enh.to_owned()), "{e:?}");
        }
    }

    #[test]
    fn reply_text_says_what_is_wrong() {
        let r = CommandError::LineTooLong { limit: 512 }.reply();
        assert_eq!(r.text(), "line too long (limit 512 octets)");
        let r = CommandError::UnknownParameter("X-FOO".into()).reply();
        assert_eq!(r.text(), "unrecognized parameter X-FOO");
    }
}
