//! The hand-written command parser that the nom grammar replaced, kept verbatim as the
//! oracle of the differential tests in `command/tests.rs` (it is compiled for tests only).

#![allow(dead_code, clippy::all)]

use memchr::memchr3;

use crate::class;
use crate::command::{AuthInitial, Command};
use crate::error::CommandError;
use crate::limits::Limits;
use crate::params::{Body, MailParams, Notify, Orcpt, Param, RcptParams, Ret};
use crate::path::Domain;
use crate::path::{self, DomainFault, ForwardPath, PathKind, ReversePath, Role};
use crate::xtext::{self, XText, hex};

pub(crate) fn parse<'a>(line: &'a [u8], limits: &Limits) -> Result<Command<'a>, CommandError> {
    check_length(line, limits)?;
    let s = std::str::from_utf8(line).map_err(|_| CommandError::InvalidCharacters)?;
    // NUL, CR and LF are outside every character class of the grammar, so a line
    // holding one fails to parse unless they sit in a free-form argument, which
    // `optional` checks. Looking for them only on failure keeps the scan off the
    // hot path while still naming the real problem.
    parse_str(s, limits).map_err(|e| {
        if memchr3(0, b'\r', b'\n', line).is_some() {
            CommandError::InvalidCharacters
        } else {
            e
        }
    })
}

/// Parses a line already known to be UTF-8.
#[inline]
fn parse_str<'a>(s: &'a str, limits: &Limits) -> Result<Command<'a>, CommandError> {
    let s = s.trim_end_matches([' ', '\t']);
    let b = s.as_bytes();
    let verb_end = b
        .iter()
        .position(|&c| c == b' ' || c == b'\t')
        .unwrap_or(b.len());
    let arg = skip_ws(b, verb_end);
    match Verb::from_bytes(&b[..verb_end]).ok_or(CommandError::UnknownCommand)? {
        Verb::Helo => Ok(Command::Helo {
            domain: parse_hello(s, arg, limits)?,
        }),
        Verb::Ehlo => Ok(Command::Ehlo {
            domain: parse_hello(s, arg, limits)?,
        }),
        Verb::Mail => parse_mail(s, arg, limits),
        Verb::Rcpt => parse_rcpt(s, arg, limits),
        Verb::Data => no_arg(s, arg, Command::Data),
        Verb::Bdat => parse_bdat(s, arg),
        Verb::Rset => no_arg(s, arg, Command::Rset),
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
        Verb::Quit => no_arg(s, arg, Command::Quit),
        Verb::StartTls => no_arg(s, arg, Command::StartTls),
        Verb::Auth => parse_auth(s, arg),
        Verb::Etrn => parse_etrn(s, arg, limits),
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

/// The index of the first octet at or after `i` that is not a space or tab.
#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

/// A command that takes no argument.
fn no_arg<'a>(s: &str, arg: usize, cmd: Command<'a>) -> Result<Command<'a>, CommandError> {
    if arg < s.len() {
        return Err(CommandError::Syntax("this command takes no argument"));
    }
    Ok(cmd)
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
/// after it and any spaces that follow (real clients send `MAIL FROM: <a@b>`).
#[inline]
fn after_prefix(s: &str, arg: usize, prefix: &[u8]) -> Option<usize> {
    let b = s.as_bytes();
    let end = arg + prefix.len();
    let word = b.get(arg..end)?;
    (word == prefix || word.eq_ignore_ascii_case(prefix)).then(|| skip_ws(b, end))
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
    let start = after_prefix(s, arg, b"FROM:")
        .ok_or(CommandError::Syntax("expected FROM:<reverse-path>"))?;
    let (kind, end) = path::parse_path(s, start, limits, Role::Sender)?;
    after_path(s, end)?;
    let params = OldMail::parse(s, end)?;
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
        after_prefix(s, arg, b"TO:").ok_or(CommandError::Syntax("expected TO:<forward-path>"))?;
    let (kind, end) = path::parse_path(s, start, limits, Role::Recipient)?;
    after_path(s, end)?;
    let params = OldRcpt::parse(s, end)?;
    let to = match kind {
        PathKind::Mailbox(m) => ForwardPath::Mailbox(m),
        // parse_path refuses a null path for recipients.
        PathKind::Postmaster | PathKind::Null => ForwardPath::Postmaster,
    };
    Ok(Command::Rcpt { to, params })
}

/// `BDAT size [LAST]`.
fn parse_bdat(s: &str, arg: usize) -> Result<Command<'_>, CommandError> {
    const SYNTAX: CommandError = CommandError::Syntax("expected BDAT size [LAST]");
    let b = s.as_bytes();
    let digits = b[arg..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return Err(SYNTAX);
    }
    let mut size: u64 = 0;
    for &c in &b[arg..arg + digits] {
        size = size
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(c - b'0')))
            .ok_or(SYNTAX)?;
    }
    let rest = &b[arg + digits..];
    let last = match rest {
        [] => false,
        [b' ' | b'\t', ..] => {
            let word = &b[skip_ws(b, arg + digits)..];
            if !word.eq_ignore_ascii_case(b"LAST") {
                return Err(SYNTAX);
            }
            true
        }
        _ => return Err(SYNTAX),
    };
    Ok(Command::Bdat { size, last })
}

/// `AUTH mechanism [initial-response]` (RFC 4954 §4).
fn parse_auth(s: &str, arg: usize) -> Result<Command<'_>, CommandError> {
    let b = s.as_bytes();
    let mech_end = arg
        + b[arg..]
            .iter()
            .take_while(|&&c| c != b' ' && c != b'\t')
            .count();
    let mechanism = &s[arg..mech_end];
    // sasl-mech = 1*20mech-char; lower case is tolerated.
    let mech_ok = (1..=20).contains(&mechanism.len())
        && mechanism
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
    if !mech_ok {
        return Err(CommandError::Syntax("malformed SASL mechanism name"));
    }
    let resp = skip_ws(b, mech_end);
    let initial = match &s[resp..] {
        "" => None,
        "=" => Some(AuthInitial::Empty),
        r if is_base64(r) => Some(AuthInitial::Base64(r)),
        _ => {
            return Err(CommandError::Syntax(
                "initial response is not one base64 word",
            ));
        }
    };
    Ok(Command::Auth { mechanism, initial })
}

/// Base64 alphabet with at most two `=` of padding at the end.
fn is_base64(v: &str) -> bool {
    let b = v.as_bytes();
    let data = b.iter().rposition(|&c| c != b'=').map_or(0, |p| p + 1);
    data > 0
        && b.len() - data <= 2
        && b[..data]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
}

/// `ETRN node`: `domain`, `@domain` or `#queue` (RFC 1985 §5).
fn parse_etrn<'a>(s: &'a str, arg: usize, limits: &Limits) -> Result<Command<'a>, CommandError> {
    const SYNTAX: CommandError = CommandError::Syntax("expected ETRN domain, @domain or #queue");
    let b = s.as_bytes();
    let ok = match b.get(arg) {
        None => false,
        Some(b'#') => b.len() > arg + 1 && b[arg + 1..].iter().all(|&c| class::is(c, class::VALUE)),
        Some(&c) => {
            let from = arg + usize::from(c == b'@');
            match path::parse_domain(s, from, limits.max_domain) {
                Ok((_, end)) => end == s.len(),
                Err(DomainFault::TooLong) => {
                    return Err(CommandError::AddressTooLong {
                        what: "domain",
                        limit: limits.max_domain,
                    });
                }
                Err(_) => false,
            }
        }
    };
    if ok {
        Ok(Command::Etrn { node: &s[arg..] })
    } else {
        Err(SYNTAX)
    }
}

/// The `esmtp-param`s after a path, split at runs of spaces, each checked for syntax.
struct ParamIter<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> ParamIter<'a> {
    /// Iterates the parameters in `s[i..]`.
    fn new(s: &'a str, i: usize) -> Self {
        ParamIter { s, i }
    }

    /// Skips blanks; false when nothing is left.
    #[inline(always)]
    fn more(&mut self) -> bool {
        let b = self.s.as_bytes();
        while matches!(b.get(self.i), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i < b.len()
    }

    /// The fast path for a parameter written the usual way: when the text at the cursor
    /// starts with `prefix` (upper-case `KEYWORD=`) and `value` accepts what follows up to
    /// a blank, returns that value and moves past it. Otherwise leaves the cursor alone,
    /// and the general path (case-insensitive, with precise errors) takes the parameter;
    /// `value` must only accept what the general path would turn into the same result.
    #[inline(always)]
    fn fast<T>(
        &mut self,
        prefix: &[u8],
        value: impl FnOnce(&'a str, usize) -> Option<(T, usize)>,
    ) -> Option<T> {
        let b = self.s.as_bytes();
        if !b[self.i..].starts_with(prefix) {
            return None;
        }
        let (v, end) = value(self.s, self.i + prefix.len())?;
        if !at_blank(b, end) {
            return None;
        }
        self.i = end;
        Some(v)
    }
}

/// Fast `SIZE=` value: digits that fit in a u64.
#[inline(always)]
fn fast_size(s: &str, i: usize) -> Option<(u64, usize)> {
    let b = s.as_bytes();
    let mut j = i;
    let mut n: u64 = 0;
    while let Some(&c @ b'0'..=b'9') = b.get(j) {
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        j += 1;
    }
    (j > i).then_some((n, j))
}

/// Fast `BODY=` value, upper-case.
#[inline(always)]
fn fast_body(s: &str, i: usize) -> Option<(Body, usize)> {
    let rest = &s.as_bytes()[i..];
    if rest.starts_with(b"8BITMIME") {
        Some((Body::EightBitMime, i + 8))
    } else if rest.starts_with(b"7BIT") {
        Some((Body::SevenBit, i + 4))
    } else if rest.starts_with(b"BINARYMIME") {
        Some((Body::BinaryMime, i + 10))
    } else {
        None
    }
}

/// Fast `NOTIFY=` value, upper-case.
#[inline(always)]
fn fast_notify(s: &str, mut i: usize) -> Option<(Notify, usize)> {
    let b = s.as_bytes();
    if b[i..].starts_with(b"NEVER") {
        return Some((Notify::Never, i + 5));
    }
    let (mut success, mut failure, mut delay) = (false, false, false);
    loop {
        let rest = &b[i..];
        if rest.starts_with(b"SUCCESS") {
            (success, i) = (true, i + 7);
        } else if rest.starts_with(b"FAILURE") {
            (failure, i) = (true, i + 7);
        } else if rest.starts_with(b"DELAY") {
            (delay, i) = (true, i + 5);
        } else {
            return None;
        }
        if b.get(i) != Some(&b',') {
            let notify = Notify::On {
                success,
                failure,
                delay,
            };
            return Some((notify, i));
        }
        i += 1;
    }
}

/// Fast `ORCPT=` value: an atom, `;`, and valid xtext.
#[inline(always)]
fn fast_orcpt(s: &str, i: usize) -> Option<(Orcpt<'_>, usize)> {
    let b = s.as_bytes();
    let semi = class::scan(b, i, class::ATEXT);
    if semi == i || b.get(semi) != Some(&b';') {
        return None;
    }
    let start = semi + 1;
    let mut j = start;
    loop {
        j = class::scan(b, j, class::XCHAR);
        match b.get(j) {
            Some(b'+')
                if xtext::hex(b.get(j + 1)).is_some() && xtext::hex(b.get(j + 2)).is_some() =>
            {
                j += 3
            }
            _ => break,
        }
    }
    let orcpt = Orcpt {
        addr_type: &s[i..semi],
        address: XText(&s[start..j]),
    };
    (j > start).then_some((orcpt, j))
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Result<Param<'a>, CommandError>;

    /// One pass per parameter: the keyword's characters, then the value's, then a blank
    /// or the end must follow.
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let b = self.s.as_bytes();
        let mut i = self.i;
        while matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        if i >= b.len() {
            return None;
        }
        let start = i;
        i = class::scan(b, i, class::KEYWORD);
        let kw_end = i;
        let mut value = None;
        if b.get(i) == Some(&b'=') {
            i += 1;
            let v = i;
            i = class::scan(b, i, class::VALUE);
            value = Some(v);
        }
        self.i = i;
        // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
        if kw_end == start || b[start] == b'-' || (value.is_none() && !at_blank(b, i)) {
            return Some(Err(CommandError::Syntax("malformed parameter keyword")));
        }
        let value = match value {
            Some(v) if v < i && at_blank(b, i) => Some(&self.s[v..i]),
            Some(_) => return Some(Err(CommandError::Syntax("malformed parameter value"))),
            None => None,
        };
        Some(Ok(Param {
            keyword: &self.s[start..kw_end],
            value,
        }))
    }
}

/// True at the end of the line or at a blank.
#[inline(always)]
fn at_blank(b: &[u8], i: usize) -> bool {
    matches!(b.get(i), None | Some(b' ' | b'\t'))
}

/// Case-insensitive keyword comparison; `name` is upper-case. Clients nearly always send
/// upper case, so an exact comparison (a few word compares) goes first.
#[inline(always)]
fn is<K: AsRef<[u8]> + ?Sized>(kw: &K, name: &str) -> bool {
    let kw = kw.as_ref();
    kw == name.as_bytes() || kw.eq_ignore_ascii_case(name.as_bytes())
}

/// The longest `ENVID=` value accepted, in characters as sent: RFC 3461 §4.4 limits an
/// envelope identifier to 100 characters.
const MAX_ENVID: usize = 100;

/// Stores `value` in an empty slot; a repeated parameter is an error.
#[inline]
fn once<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), CommandError> {
    if slot.is_some() {
        return Err(CommandError::DuplicateParameter(name));
    }
    *slot = Some(value);
    Ok(())
}

/// Sets a flag parameter, which takes no value and may appear once.
fn flag(slot: &mut bool, value: Option<&str>, name: &'static str) -> Result<(), CommandError> {
    if *slot {
        return Err(CommandError::DuplicateParameter(name));
    }
    if value.is_some() {
        return Err(CommandError::BadParameter(name));
    }
    *slot = true;
    Ok(())
}

/// The value of a parameter that needs one.
#[inline]
fn need<'a>(value: Option<&'a str>, name: &'static str) -> Result<&'a str, CommandError> {
    value.ok_or(CommandError::BadParameter(name))
}

/// An xtext value, validated.
fn xtext_value<'a>(value: Option<&'a str>, name: &'static str) -> Result<XText<'a>, CommandError> {
    let v = need(value, name)?;
    if xtext_is_valid(v) {
        Ok(XText(v))
    } else {
        Err(CommandError::BadParameter(name))
    }
}

/// A decimal number of up to 20 digits that fits in a u64.
#[inline]
fn parse_u64(v: &str, name: &'static str) -> Result<u64, CommandError> {
    let mut n: u64 = 0;
    for c in v.bytes() {
        if !c.is_ascii_digit() {
            return Err(CommandError::BadParameter(name));
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(c - b'0')))
            .ok_or(CommandError::BadParameter(name))?;
    }
    Ok(n)
}

struct OldMail;
impl OldMail {
    /// Parses the parameters of MAIL FROM at `s[i..]`.
    #[inline]
    fn parse<'a>(s: &'a str, i: usize) -> Result<MailParams<'a>, CommandError> {
        let mut p = MailParams::default();
        let mut it = ParamIter::new(s, i);
        while it.more() {
            if let Some(size) = it.fast(b"SIZE=", fast_size) {
                once(&mut p.size, size, "SIZE")?;
                continue;
            }
            if let Some(body) = it.fast(b"BODY=", fast_body) {
                once(&mut p.body, body, "BODY")?;
                continue;
            }
            let Some(param) = it.next() else { break };
            let Param { keyword: kw, value } = param?;
            if is(kw, "SIZE") {
                once(
                    &mut p.size,
                    parse_u64(need(value, "SIZE")?, "SIZE")?,
                    "SIZE",
                )?;
            } else if is(kw, "BODY") {
                let v = need(value, "BODY")?;
                let body = if is(v, "8BITMIME") {
                    Body::EightBitMime
                } else if is(v, "7BIT") {
                    Body::SevenBit
                } else if is(v, "BINARYMIME") {
                    Body::BinaryMime
                } else {
                    return Err(CommandError::BadParameter("BODY"));
                };
                once(&mut p.body, body, "BODY")?;
            } else if is(kw, "SMTPUTF8") {
                flag(&mut p.smtputf8, value, "SMTPUTF8")?;
            } else if is(kw, "RET") {
                let v = need(value, "RET")?;
                let ret = if is(v, "FULL") {
                    Ret::Full
                } else if is(v, "HDRS") {
                    Ret::Hdrs
                } else {
                    return Err(CommandError::BadParameter("RET"));
                };
                once(&mut p.ret, ret, "RET")?;
            } else if is(kw, "ENVID") {
                let envid = xtext_value(value, "ENVID")?;
                if envid.0.len() > MAX_ENVID {
                    return Err(CommandError::ParameterTooLong {
                        name: "ENVID",
                        limit: MAX_ENVID,
                    });
                }
                once(&mut p.envid, envid, "ENVID")?;
            } else if is(kw, "AUTH") {
                once(&mut p.auth, xtext_value(value, "AUTH")?, "AUTH")?;
            } else if is(kw, "MT-PRIORITY") {
                let prio = parse_priority(need(value, "MT-PRIORITY")?)?;
                once(&mut p.mt_priority, prio, "MT-PRIORITY")?;
            } else if is(kw, "REQUIRETLS") {
                flag(&mut p.requiretls, value, "REQUIRETLS")?;
            } else {
                p.other.push(Param { keyword: kw, value });
            }
        }
        Ok(p)
    }
}

/// `MT-PRIORITY` value: `["-"] NZDIGIT / "0"` (RFC 6710 §3).
fn parse_priority(v: &str) -> Result<i8, CommandError> {
    match v.as_bytes() {
        [d @ b'0'..=b'9'] => Ok((d - b'0') as i8),
        [b'-', d @ b'1'..=b'9'] => Ok(-((d - b'0') as i8)),
        _ => Err(CommandError::BadParameter("MT-PRIORITY")),
    }
}

struct OldRcpt;
impl OldRcpt {
    /// Parses the parameters of RCPT TO at `s[i..]`.
    #[inline]
    fn parse<'a>(s: &'a str, i: usize) -> Result<RcptParams<'a>, CommandError> {
        let mut p = RcptParams::default();
        let mut it = ParamIter::new(s, i);
        while it.more() {
            if let Some(notify) = it.fast(b"NOTIFY=", fast_notify) {
                once(&mut p.notify, notify, "NOTIFY")?;
                continue;
            }
            if let Some(orcpt) = it.fast(b"ORCPT=", fast_orcpt) {
                once(&mut p.orcpt, orcpt, "ORCPT")?;
                continue;
            }
            let Some(param) = it.next() else { break };
            let Param { keyword: kw, value } = param?;
            if is(kw, "NOTIFY") {
                once(
                    &mut p.notify,
                    parse_notify(need(value, "NOTIFY")?)?,
                    "NOTIFY",
                )?;
            } else if is(kw, "ORCPT") {
                once(&mut p.orcpt, parse_orcpt(need(value, "ORCPT")?)?, "ORCPT")?;
            } else {
                p.other.push(Param { keyword: kw, value });
            }
        }
        Ok(p)
    }
}

/// `NOTIFY=NEVER` or a comma-separated, non-empty set of SUCCESS, FAILURE, DELAY.
#[inline]
fn parse_notify(v: &str) -> Result<Notify, CommandError> {
    if is(v, "NEVER") {
        return Ok(Notify::Never);
    }
    let (mut success, mut failure, mut delay) = (false, false, false);
    for item in v.as_bytes().split(|&c| c == b',') {
        if is(item, "SUCCESS") {
            success = true;
        } else if is(item, "FAILURE") {
            failure = true;
        } else if is(item, "DELAY") {
            delay = true;
        } else {
            // Includes NEVER in a list, which RFC 3461 forbids.
            return Err(CommandError::BadParameter("NOTIFY"));
        }
    }
    Ok(Notify::On {
        success,
        failure,
        delay,
    })
}

/// `ORCPT=addr-type;xtext`, where addr-type is an atom.
#[inline]
fn parse_orcpt(v: &str) -> Result<Orcpt<'_>, CommandError> {
    let b = v.as_bytes();
    // addr-type is an atom: the first non-atext octet must be the `;`.
    let semi = class::scan(b, 0, class::ATEXT);
    if semi == 0 || b.get(semi) != Some(&b';') || !xtext_is_valid(&v[semi + 1..]) {
        return Err(CommandError::BadParameter("ORCPT"));
    }
    let (addr_type, address) = (&v[..semi], &v[semi + 1..]);
    Ok(Orcpt {
        addr_type,
        address: XText(address),
    })
}

/// True when `value` is valid xtext: printable ASCII other than `+` and `=`, `+XX` hex
/// escapes, and (under SMTPUTF8) UTF-8 beyond ASCII. Lower-case hex digits are tolerated.
fn xtext_is_valid(value: &str) -> bool {
    let b = value.as_bytes();
    let mut i = 0;
    loop {
        i = class::scan(b, i, class::XCHAR);
        match b.get(i) {
            None => return !b.is_empty(),
            Some(b'+') if hex(b.get(i + 1)).is_some() && hex(b.get(i + 2)).is_some() => i += 3,
            Some(_) => return false,
        }
    }
}
