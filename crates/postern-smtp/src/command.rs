//! SMTP commands: zero-copy parsing from a line and formatting back to the wire.

use std::io::Write as _;

use memchr::memchr3;

use crate::error::CommandError;
use crate::grammar;
use crate::limits::Limits;
use crate::line_text;
use crate::params::{MailParams, RcptParams};
use crate::path::{self, Domain, DomainFault, ForwardPath, PathKind, ReversePath, Role};

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
    ///
    /// The line may be at most `limits.max_command_line` octets counting the CRLF; an
    /// `AUTH` line may instead reach `limits.max_auth_line` (RFC 4954 §4 raises the limit
    /// for the initial response). Trailing spaces and tabs are ignored, and so are extra
    /// spaces between arguments and after `FROM:`/`TO:`; a NUL, CR or LF anywhere, or
    /// bytes that are not UTF-8, make the line [`CommandError::InvalidCharacters`].
    ///
    /// ```
    /// use postern_smtp::{Command, Limits, ReversePath};
    /// let cmd = Command::parse(b"mail from: <a@example.com> SIZE=1000", &Limits::default())?;
    /// let Command::Mail { from: ReversePath::Mailbox(m), params } = cmd else { panic!() };
    /// assert_eq!(m.to_string(), "a@example.com");
    /// assert_eq!(params.size, Some(1000));
    /// # Ok::<(), postern_smtp::CommandError>(())
    /// ```
    #[inline]
    pub fn parse(line: &'a [u8], limits: &Limits) -> Result<Command<'a>, CommandError> {
        Command::parse_line(line, None, limits)
    }

    /// Parses the command at the front of a receive buffer and says how many octets it
    /// used: the line up to and including its first LF. `None` when `buf` holds no LF
    /// yet (no complete line: read more and call again with the longer buffer).
    ///
    /// The line is framed as a server's line reader frames it: it ends at the first LF,
    /// and one CR just before that LF is dropped; the result is exactly that of
    /// [`Command::parse`] on the line so framed, with the same length limits (a line
    /// too long gives [`CommandError::LineTooLong`] and its octets are used up all the
    /// same) and the same errors for a NUL, a bare CR or bytes that are not UTF-8.
    /// Finding the line end is part of the parse: the scan for the LF also checks that
    /// the line is ASCII, so no second pass over the line is needed for the common case.
    ///
    /// When `None` comes back and `buf` already holds `limits.max_command_line` octets
    /// or more (`limits.max_auth_line` for a line starting `AUTH `), no acceptable line
    /// can follow: a server drops what it holds, discards up to the next LF and answers
    /// [`CommandError::LineTooLong`], as [`server::ServerSession`](crate::server::ServerSession)
    /// does, rather than buffer an unbounded line.
    ///
    /// ```
    /// use postern_smtp::{Command, Limits};
    /// let limits = Limits::default();
    /// let mut buf: &[u8] = b"EHLO client.example\r\nRSET\r\nQUI";
    /// let mut verbs = Vec::new();
    /// while let Some((result, used)) = Command::parse_next(buf, &limits) {
    ///     verbs.push(result?.verb());
    ///     buf = &buf[used..];
    /// }
    /// assert_eq!(verbs, ["EHLO", "RSET"]);
    /// assert_eq!(buf, b"QUI"); // Incomplete: wait for more input.
    /// # Ok::<(), postern_smtp::CommandError>(())
    /// ```
    #[inline]
    pub fn parse_next(
        buf: &'a [u8],
        limits: &Limits,
    ) -> Option<(Result<Command<'a>, CommandError>, usize)> {
        let line = line_text::first_line(buf)?;
        Some((
            Command::parse_line(line.octets, line.ascii, limits),
            line.used,
        ))
    }

    /// [`Command::parse`] of `line`, given its text when the caller already knows it is
    /// ASCII (`None`: check it here). Out of line, so that the command is built in
    /// the caller's result (inlined, it was built aside and moved with a `memcpy` call).
    #[inline(never)]
    fn parse_line(
        line: &'a [u8],
        ascii: Option<&'a str>,
        limits: &Limits,
    ) -> Result<Command<'a>, CommandError> {
        check_length(line, limits)?;
        let s = match ascii {
            Some(s) => s,
            None => line_text::as_text(line).ok_or(CommandError::InvalidCharacters)?,
        };
        // NUL, CR and LF are outside every character class of the grammar, so a line
        // holding one fails to parse unless they sit in a free-form argument, which
        // `optional` checks. Looking for them only on failure keeps the scan off the
        // hot path while still naming the real problem.
        Command::parse_str(s, limits).map_err(|e| {
            if memchr3(0, b'\r', b'\n', line).is_some() {
                CommandError::InvalidCharacters
            } else {
                e
            }
        })
    }

    /// Parses a line already known to be UTF-8. Inlined into [`Command::parse`], so the
    /// command is built in the caller's result instead of being copied out of a second one.
    #[inline(always)]
    fn parse_str(s: &'a str, limits: &Limits) -> Result<Command<'a>, CommandError> {
        // Trailing blanks, octet by octet from the end (`trim_end_matches` decodes chars).
        let mut n = s.len();
        while n > 0 && matches!(s.as_bytes()[n - 1], b' ' | b'\t') {
            n -= 1;
        }
        // `n` is the length or the index of a blank, so a char boundary.
        let s = line_text::sub_at_ascii(s, 0, n);
        let b = s.as_bytes();
        // The verbs of a transaction, in upper case and followed by one space, go
        // straight to their parser.
        if let Some(&[v0, v1, v2, v3, b' ']) = b.first_chunk::<5>() {
            let verb = u32::from_le_bytes([v0, v1, v2, v3]);
            let arg = || b.len() - grammar::blanks(&b[5..]).map_or(0, |(r, _)| r.len());
            if verb == word(b"RCPT") {
                return parse_rcpt(s, arg(), limits);
            }
            if verb == word(b"MAIL") {
                return parse_mail(s, arg(), limits);
            }
        }
        let (rest, verb) = grammar::verb(b).map_err(|_| CommandError::UnknownCommand)?;
        let arg = b.len() - rest.len();
        match Verb::from_bytes(verb).ok_or(CommandError::UnknownCommand)? {
            Verb::Helo => Ok(Command::Helo {
                domain: parse_hello(s, arg, limits)?,
            }),
            Verb::Ehlo => Ok(Command::Ehlo {
                domain: parse_hello(s, arg, limits)?,
            }),
            Verb::Mail => parse_mail(s, arg, limits),
            Verb::Rcpt => parse_rcpt(s, arg, limits),
            Verb::Data => {
                no_arg(s, arg)?;
                Ok(Command::Data)
            }
            Verb::Bdat => parse_bdat(s, arg),
            Verb::Rset => {
                no_arg(s, arg)?;
                Ok(Command::Rset)
            }
            Verb::Vrfy => Ok(Command::Vrfy {
                arg: required(s, arg, "VRFY requires an argument")?,
            }),
            Verb::Expn => Ok(Command::Expn {
                arg: required(s, arg, "EXPN requires an argument")?,
            }),
            Verb::Help => Ok(Command::Help {
                topic: optional(s, arg)?,
            }),
            Verb::Noop => Ok(Command::Noop {
                arg: optional(s, arg)?,
            }),
            Verb::Quit => {
                no_arg(s, arg)?;
                Ok(Command::Quit)
            }
            Verb::StartTls => {
                no_arg(s, arg)?;
                Ok(Command::StartTls)
            }
            Verb::Auth => parse_auth(s, arg),
            Verb::Etrn => parse_etrn(s, arg, limits),
        }
    }

    /// Appends the command to `out` in its canonical wire form, with the trailing CRLF.
    ///
    /// The verb is upper-case, arguments are separated by one space, known parameters come
    /// first in a fixed order, and local parts are written as they were (quoted or not).
    /// Source routes, which the parser drops, are not written.
    ///
    /// ```
    /// use postern_smtp::{Command, Limits};
    /// let cmd = Command::parse(b"mail FROM:<a@b> body=8bitmime size=10", &Limits::default())?;
    /// let mut out = Vec::new();
    /// cmd.write_to(&mut out);
    /// assert_eq!(out, b"MAIL FROM:<a@b> SIZE=10 BODY=8BITMIME\r\n");
    /// # Ok::<(), postern_smtp::CommandError>(())
    /// ```
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.verb().as_bytes());
        match self {
            Command::Helo { domain } | Command::Ehlo { domain } => {
                out.push(b' ');
                write_domain(out, domain);
            }
            Command::Mail { from, params } => {
                out.extend_from_slice(b" FROM:<");
                if let ReversePath::Mailbox(m) = from {
                    write_mailbox(out, m);
                }
                out.push(b'>');
                params.write_to(out);
            }
            Command::Rcpt { to, params } => {
                out.extend_from_slice(b" TO:<");
                match to {
                    ForwardPath::Postmaster => out.extend_from_slice(b"Postmaster"),
                    ForwardPath::Mailbox(m) => write_mailbox(out, m),
                }
                out.push(b'>');
                params.write_to(out);
            }
            Command::Bdat { size, last } => {
                let _ = write!(out, " {size}");
                if *last {
                    out.extend_from_slice(b" LAST");
                }
            }
            Command::Vrfy { arg } | Command::Expn { arg } | Command::Etrn { node: arg } => {
                out.push(b' ');
                out.extend_from_slice(arg.as_bytes());
            }
            Command::Help { topic: Some(arg) } | Command::Noop { arg: Some(arg) } => {
                out.push(b' ');
                out.extend_from_slice(arg.as_bytes());
            }
            Command::Auth { mechanism, initial } => {
                out.push(b' ');
                out.extend_from_slice(mechanism.as_bytes());
                match initial {
                    None => {}
                    Some(AuthInitial::Empty) => out.extend_from_slice(b" ="),
                    Some(AuthInitial::Base64(b64)) => {
                        out.push(b' ');
                        out.extend_from_slice(b64.as_bytes());
                    }
                }
            }
            Command::Data
            | Command::Rset
            | Command::Quit
            | Command::StartTls
            | Command::Help { topic: None }
            | Command::Noop { arg: None } => {}
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The command in its canonical wire form, with the trailing CRLF (a convenience
    /// around [`Command::write_to`]).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.write_to(&mut out);
        out
    }

    /// The verb, upper-case (`"MAIL"`, `"STARTTLS"`…).
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Helo { .. } => "HELO",
            Command::Ehlo { .. } => "EHLO",
            Command::Mail { .. } => "MAIL",
            Command::Rcpt { .. } => "RCPT",
            Command::Data => "DATA",
            Command::Bdat { .. } => "BDAT",
            Command::Rset => "RSET",
            Command::Vrfy { .. } => "VRFY",
            Command::Expn { .. } => "EXPN",
            Command::Help { .. } => "HELP",
            Command::Noop { .. } => "NOOP",
            Command::Quit => "QUIT",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
            Command::Etrn { .. } => "ETRN",
        }
    }
}

/// The verbs, recognised without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Helo,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    Bdat,
    Rset,
    Vrfy,
    Expn,
    Help,
    Noop,
    Quit,
    StartTls,
    Auth,
    Etrn,
}

/// A four-letter verb as a little-endian word, for one `match` on the whole verb.
const fn word(v: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*v)
}

impl Verb {
    /// Recognises a verb in any case. Masking each octet with `0xDF` upper-cases letters;
    /// the only octets that map onto an upper-case letter are that letter in either case,
    /// so the match stays exact.
    #[inline]
    fn from_bytes(v: &[u8]) -> Option<Verb> {
        if let Ok(four) = <[u8; 4]>::try_from(v) {
            return Some(match u32::from_le_bytes(four) & 0xDFDF_DFDF {
                w if w == word(b"MAIL") => Verb::Mail,
                w if w == word(b"RCPT") => Verb::Rcpt,
                w if w == word(b"DATA") => Verb::Data,
                w if w == word(b"EHLO") => Verb::Ehlo,
                w if w == word(b"HELO") => Verb::Helo,
                w if w == word(b"BDAT") => Verb::Bdat,
                w if w == word(b"RSET") => Verb::Rset,
                w if w == word(b"NOOP") => Verb::Noop,
                w if w == word(b"QUIT") => Verb::Quit,
                w if w == word(b"VRFY") => Verb::Vrfy,
                w if w == word(b"EXPN") => Verb::Expn,
                w if w == word(b"HELP") => Verb::Help,
                w if w == word(b"AUTH") => Verb::Auth,
                w if w == word(b"ETRN") => Verb::Etrn,
                _ => return None,
            });
        }
        v.eq_ignore_ascii_case(b"STARTTLS")
            .then_some(Verb::StartTls)
    }
}

/// Refuses a line longer than the command-line limit (the AUTH limit for AUTH lines).
#[inline]
fn check_length(line: &[u8], limits: &Limits) -> Result<(), CommandError> {
    let with_crlf = line.len().saturating_add(2);
    if with_crlf <= limits.max_command_line {
        return Ok(());
    }
    let is_auth = line.len() > 4 && line[..5].eq_ignore_ascii_case(b"AUTH ");
    if is_auth && with_crlf <= limits.max_auth_line {
        return Ok(());
    }
    Err(CommandError::LineTooLong {
        limit: limits.max_command_line,
    })
}

/// A command that takes no argument. The caller builds the command itself: passing it
/// in and back out moved it with a `memcpy` call.
#[inline(always)]
fn no_arg(s: &str, arg: usize) -> Result<(), CommandError> {
    if arg < s.len() {
        return Err(CommandError::Syntax("this command takes no argument"));
    }
    Ok(())
}

/// A required free-form argument, verbatim.
fn required<'a>(s: &'a str, arg: usize, msg: &'static str) -> Result<&'a str, CommandError> {
    optional(s, arg)?.ok_or(CommandError::Syntax(msg))
}

/// An optional free-form argument, verbatim. It is the one place the grammar would let a
/// NUL, CR or LF through, so it refuses them itself.
fn optional(s: &str, arg: usize) -> Result<Option<&str>, CommandError> {
    let text = &s[arg..];
    if memchr3(0, b'\r', b'\n', text.as_bytes()).is_some() {
        return Err(CommandError::InvalidCharacters);
    }
    Ok((!text.is_empty()).then_some(text))
}

/// The argument of HELO/EHLO: one domain or address literal.
fn parse_hello<'a>(s: &'a str, arg: usize, limits: &Limits) -> Result<Domain<'a>, CommandError> {
    if arg == s.len() {
        return Err(CommandError::Syntax(
            "a domain or address literal is required",
        ));
    }
    match path::parse_domain(s, arg, limits.max_domain) {
        Ok((domain, end)) if end == s.len() => Ok(domain),
        Err(DomainFault::TooLong) => Err(CommandError::AddressTooLong {
            what: "domain",
            limit: limits.max_domain,
        }),
        _ => Err(CommandError::Syntax(
            "expected one domain or address literal",
        )),
    }
}

/// `s[arg..]` starts with `prefix` (upper-case ASCII) in any case; returns the index
/// after it and any blanks that follow (real clients send `MAIL FROM: <a@b>`).
#[inline]
fn after_prefix(s: &str, arg: usize, prefix: &'static str) -> Option<usize> {
    let (rest, _) = grammar::path_prefix(prefix, &s.as_bytes()[arg..]).ok()?;
    Some(s.len() - rest.len())
}

/// After a path: the end of the line, or a space before the parameters.
#[inline]
fn after_path(s: &str, end: usize) -> Result<(), CommandError> {
    match s.as_bytes().get(end) {
        None | Some(b' ' | b'\t') => Ok(()),
        Some(_) => Err(CommandError::Syntax("expected a space after the path")),
    }
}

/// `MAIL FROM:<reverse-path> [params]`.
#[inline]
fn parse_mail<'a>(s: &'a str, arg: usize, limits: &Limits) -> Result<Command<'a>, CommandError> {
    let start = after_prefix(s, arg, "FROM:")
        .ok_or(CommandError::Syntax("expected FROM:<reverse-path>"))?;
    let (kind, end) = path::parse_path(s, start, limits, Role::Sender)?;
    after_path(s, end)?;
    let params = MailParams::parse(s, end)?;
    let from = match kind {
        PathKind::Mailbox(m) => ReversePath::Mailbox(m),
        // parse_path gives Postmaster only to recipients.
        PathKind::Null | PathKind::Postmaster => ReversePath::Null,
    };
    // RFC 6531 §3.4: a UTF-8 address is only allowed in a transaction declared SMTPUTF8.
    if !params.smtputf8 && !s.as_bytes()[start..end].is_ascii() {
        return Err(CommandError::Utf8NotAllowed);
    }
    Ok(Command::Mail { from, params })
}

/// `RCPT TO:<forward-path> [params]`. A UTF-8 path is accepted here; whether the
/// transaction allows it is the session's business.
#[inline]
fn parse_rcpt<'a>(s: &'a str, arg: usize, limits: &Limits) -> Result<Command<'a>, CommandError> {
    let start =
        after_prefix(s, arg, "TO:").ok_or(CommandError::Syntax("expected TO:<forward-path>"))?;
    let (kind, end) = path::parse_path(s, start, limits, Role::Recipient)?;
    after_path(s, end)?;
    let params = RcptParams::parse(s, end)?;
    let to = match kind {
        PathKind::Mailbox(m) => ForwardPath::Mailbox(m),
        // parse_path refuses a null path for recipients.
        PathKind::Postmaster | PathKind::Null => ForwardPath::Postmaster,
    };
    Ok(Command::Rcpt { to, params })
}

/// `BDAT size [LAST]`.
fn parse_bdat(s: &str, arg: usize) -> Result<Command<'_>, CommandError> {
    let (_, (size, last)) = grammar::bdat_args(&s.as_bytes()[arg..])
        .map_err(|_| CommandError::Syntax("expected BDAT size [LAST]"))?;
    Ok(Command::Bdat { size, last })
}

/// `AUTH mechanism [initial-response]` (RFC 4954 §4).
fn parse_auth(s: &str, arg: usize) -> Result<Command<'_>, CommandError> {
    let (rest, mechanism) = grammar::sasl_mech(&s.as_bytes()[arg..])
        .map_err(|_| CommandError::Syntax("malformed SASL mechanism name"))?;
    let response = grammar::blanks(rest).map_or(rest, |(r, _)| r);
    let initial = if response.is_empty() {
        None
    } else {
        let (_, word) = grammar::auth_initial(response)
            .map_err(|_| CommandError::Syntax("initial response is not one base64 word"))?;
        Some(word.map_or(AuthInitial::Empty, |w| {
            AuthInitial::Base64(grammar::text(s, w))
        }))
    };
    Ok(Command::Auth {
        mechanism: grammar::text(s, mechanism),
        initial,
    })
}

/// `ETRN node`: `domain`, `@domain` or `#queue` (RFC 1985 §5).
fn parse_etrn<'a>(s: &'a str, arg: usize, limits: &Limits) -> Result<Command<'a>, CommandError> {
    const SYNTAX: CommandError = CommandError::Syntax("expected ETRN domain, @domain or #queue");
    let node = &s[arg..];
    if node.starts_with('#') {
        return match grammar::etrn_queue(node.as_bytes()) {
            Ok(_) => Ok(Command::Etrn { node }),
            Err(_) => Err(SYNTAX),
        };
    }
    let from = arg + usize::from(node.starts_with('@'));
    match path::parse_domain(s, from, limits.max_domain) {
        Ok((_, end)) if end == s.len() && from < s.len() => Ok(Command::Etrn { node }),
        Err(DomainFault::TooLong) => Err(CommandError::AddressTooLong {
            what: "domain",
            limit: limits.max_domain,
        }),
        _ => Err(SYNTAX),
    }
}

/// Writes a domain as on the wire.
fn write_domain(out: &mut Vec<u8>, domain: &Domain<'_>) {
    match domain {
        Domain::Name(n) => out.extend_from_slice(n.as_bytes()),
        literal => {
            let _ = write!(out, "{literal}");
        }
    }
}

/// Writes `local@domain`.
fn write_mailbox(out: &mut Vec<u8>, m: &crate::path::Mailbox<'_>) {
    out.extend_from_slice(m.local_part.as_bytes());
    out.push(b'@');
    write_domain(out, &m.domain);
}

#[cfg(test)]
mod legacy;
#[cfg(test)]
mod tests;
