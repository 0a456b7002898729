//! Paths (`<local@domain>`), mailboxes and domains, as written on the wire.

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use memchr::memchr;

use crate::class;
use crate::dotted;
use crate::error::CommandError;
use crate::limits::Limits;
use crate::line_text;

/// The domain part of a mailbox, or the argument of HELO/EHLO.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Domain<'a> {
    /// A host name such as `mail.example.com` (may be UTF-8 under SMTPUTF8).
    Name(&'a str),
    /// An IPv4 address literal, `[192.0.2.1]`.
    Ipv4(Ipv4Addr),
    /// An IPv6 address literal, `[IPv6:2001:db8::1]`.
    Ipv6(Ipv6Addr),
    /// A general address literal, `[tag:content]` (RFC 5321 §4.1.3).
    General {
        /// The standardized tag before the colon.
        tag: &'a str,
        /// The content after the colon.
        content: &'a str,
    },
}

/// A mailbox `local-part@domain`, borrowed from the command line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox<'a> {
    /// The local part exactly as written: a dot-string, or a quoted string *with* its
    /// quotes and backslash escapes. See [`Mailbox::local_part_unquoted`].
    pub local_part: &'a str,
    /// The domain.
    pub domain: Domain<'a>,
}

/// The argument of MAIL FROM: the null path `<>` or a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath<'a> {
    /// `<>`: the null reverse-path of notifications.
    Null,
    /// A mailbox.
    Mailbox(Mailbox<'a>),
}

/// The argument of RCPT TO: `<Postmaster>` without a domain, or a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath<'a> {
    /// `<Postmaster>` (any case), which every server must accept (RFC 5321 §4.5.1).
    Postmaster,
    /// A mailbox (including `<Postmaster@domain>`).
    Mailbox(Mailbox<'a>),
}

impl Mailbox<'_> {
    /// The local part with quoting removed (`"a\"b"` becomes `a"b`). Borrows when the
    /// local part was not quoted.
    ///
    /// ```
    /// use postern_smtp::{Domain, Mailbox};
    /// let m = Mailbox { local_part: r#""a\"b""#, domain: Domain::Name("example.com") };
    /// assert_eq!(m.local_part_unquoted(), r#"a"b"#);
    /// ```
    pub fn local_part_unquoted(&self) -> Cow<'_, str> {
        let lp = self.local_part;
        let Some(inner) = lp
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .filter(|_| lp.len() >= 2)
        else {
            return Cow::Borrowed(lp);
        };
        if memchr(b'\\', inner.as_bytes()).is_none() {
            return Cow::Borrowed(inner);
        }
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            // A quoted pair stands for its second character.
            out.push(if c == '\\' {
                chars.next().unwrap_or('\\')
            } else {
                c
            });
        }
        Cow::Owned(out)
    }

    /// True when every octet of the mailbox is ASCII (no SMTPUTF8 needed).
    pub fn is_ascii(&self) -> bool {
        self.local_part.is_ascii() && self.domain.is_ascii()
    }
}

impl Domain<'_> {
    /// True when the domain as written is ASCII (an A-label name or any literal).
    pub fn is_ascii(&self) -> bool {
        match self {
            Domain::Name(n) => n.is_ascii(),
            Domain::Ipv4(_) | Domain::Ipv6(_) => true,
            Domain::General { tag, content } => tag.is_ascii() && content.is_ascii(),
        }
    }
}

impl fmt::Display for Domain<'_> {
    /// Writes the domain as it appears on the wire (`[IPv6:…]` for literals).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Domain::Name(n) => f.write_str(n),
            Domain::Ipv4(a) => write!(f, "[{a}]"),
            Domain::Ipv6(a) => write!(f, "[IPv6:{a}]"),
            Domain::General { tag, content } => write!(f, "[{tag}:{content}]"),
        }
    }
}

impl fmt::Display for Mailbox<'_> {
    /// Writes `local@domain` without angle brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local_part, self.domain)
    }
}

impl fmt::Display for ReversePath<'_> {
    /// Writes the path as in `MAIL FROM:`: `<>` or `<local@domain>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => f.write_str("<>"),
            ReversePath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

impl fmt::Display for ForwardPath<'_> {
    /// Writes the path as in `RCPT TO:`: `<Postmaster>` or `<local@domain>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPath::Postmaster => f.write_str("<Postmaster>"),
            ForwardPath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

/// A [`Mailbox`] that owns its text, to keep beyond the command line it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnedMailbox {
    /// The local part as written (quotes kept), as [`Mailbox::local_part`].
    pub local_part: String,
    /// The domain as written on the wire (`[192.0.2.1]` for a literal).
    pub domain: String,
}

impl From<&Mailbox<'_>> for OwnedMailbox {
    fn from(m: &Mailbox<'_>) -> Self {
        OwnedMailbox {
            local_part: m.local_part.to_owned(),
            domain: m.domain.to_string(),
        }
    }
}

impl fmt::Display for OwnedMailbox {
    /// Writes `local@domain` without angle brackets, as [`Mailbox`] does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local_part, self.domain)
    }
}

/// A [`ReversePath`] that owns its text.
///
/// ```
/// use postern_smtp::{Command, Limits, OwnedReversePath};
/// let cmd = Command::parse(b"MAIL FROM:<a@example.org>", &Limits::default()).unwrap();
/// let Command::Mail { from, .. } = cmd else { unreachable!() };
/// let kept = OwnedReversePath::from(&from);
/// assert_eq!(kept.to_string(), "<a@example.org>");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OwnedReversePath {
    /// `<>`.
    Null,
    /// A mailbox.
    Mailbox(OwnedMailbox),
}

impl From<&ReversePath<'_>> for OwnedReversePath {
    fn from(p: &ReversePath<'_>) -> Self {
        match p {
            ReversePath::Null => OwnedReversePath::Null,
            ReversePath::Mailbox(m) => OwnedReversePath::Mailbox(m.into()),
        }
    }
}

impl fmt::Display for OwnedReversePath {
    /// `<>` or `<local@domain>`, as [`ReversePath`] does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OwnedReversePath::Null => f.write_str("<>"),
            OwnedReversePath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

/// A [`ForwardPath`] that owns its text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OwnedForwardPath {
    /// `<Postmaster>`.
    Postmaster,
    /// A mailbox.
    Mailbox(OwnedMailbox),
}

impl From<&ForwardPath<'_>> for OwnedForwardPath {
    fn from(p: &ForwardPath<'_>) -> Self {
        match p {
            ForwardPath::Postmaster => OwnedForwardPath::Postmaster,
            ForwardPath::Mailbox(m) => OwnedForwardPath::Mailbox(m.into()),
        }
    }
}

impl fmt::Display for OwnedForwardPath {
    /// `<Postmaster>` or `<local@domain>`, as [`ForwardPath`] does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OwnedForwardPath::Postmaster => f.write_str("<Postmaster>"),
            OwnedForwardPath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

/// Why a domain did not parse; the caller turns it into the error of its context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DomainFault {
    /// Not a host name: empty, empty label, bad character.
    Name,
    /// A `[...]` literal that is neither IPv4, IPv6 nor a general literal.
    Literal,
    /// Longer than `Limits::max_domain`.
    TooLong,
}

/// Parses a domain (a host name or an address literal) at `s[start..]`; returns it and the
/// index just after it. The caller checks what follows.
#[inline(always)]
pub(crate) fn parse_domain(
    s: &str,
    start: usize,
    max: usize,
) -> Result<(Domain<'_>, usize), DomainFault> {
    let b = s.as_bytes();
    if b.get(start) == Some(&b'[') {
        let close = memchr(b']', &b[start..]).ok_or(DomainFault::Literal)? + start;
        if close + 1 - start > max {
            return Err(DomainFault::TooLong);
        }
        return Ok((parse_literal(&s[start + 1..close])?, close + 1));
    }
    // Labels of label characters joined by single dots: one scan over labels and dots
    // that also sees a dot at either end or two dots together (an empty label).
    let (i, well_formed) = dotted::run(b, start, dotted::Kind::Name);
    if !well_formed {
        return Err(DomainFault::Name);
    }
    if i - start > max {
        return Err(DomainFault::TooLong);
    }
    // `start` follows an ASCII octet (`@`, a blank) or is 0, and the scan stops at an
    // ASCII octet or the end: both are char boundaries.
    Ok((Domain::Name(line_text::sub_at_ascii(s, start, i)), i))
}

/// Parses the inside of an address literal (RFC 5321 §4.1.3).
fn parse_literal(inner: &str) -> Result<Domain<'_>, DomainFault> {
    let b = inner.as_bytes();
    if b.len() >= 5 && b[..5].eq_ignore_ascii_case(b"IPv6:") {
        return inner[5..]
            .parse::<Ipv6Addr>()
            .map(Domain::Ipv6)
            .map_err(|_| DomainFault::Literal);
    }
    let Some(colon) = memchr(b':', b) else {
        return inner
            .parse::<Ipv4Addr>()
            .map(Domain::Ipv4)
            .map_err(|_| DomainFault::Literal);
    };
    let (tag, content) = (&inner[..colon], &inner[colon + 1..]);
    // Standardized-tag is an Ldh-str: it ends in a letter or digit.
    let tag_ok = tag.bytes().all(|c| class::is(c, class::KEYWORD))
        && tag
            .bytes()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    let content_ok = !content.is_empty() && content.bytes().all(|c| class::is(c, class::DCONTENT));
    if tag_ok && content_ok {
        Ok(Domain::General { tag, content })
    } else {
        Err(DomainFault::Literal)
    }
}

/// Whose path is being parsed: the messages (and so the enhanced code) differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// MAIL FROM.
    Sender,
    /// RCPT TO.
    Recipient,
}

/// A `BadAddress` error whose text starts with `sender` or `recipient`, so that
/// [`CommandError::reply`] can pick 5.1.7 or 5.1.3 without allocating here.
macro_rules! bad {
    ($role:expr, $msg:literal) => {
        CommandError::BadAddress(match $role {
            Role::Sender => concat!("sender ", $msg),
            Role::Recipient => concat!("recipient ", $msg),
        })
    };
}

/// What a path between angle brackets held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathKind<'a> {
    /// `<>`.
    Null,
    /// `<Postmaster>`, only when parsing a recipient.
    Postmaster,
    /// A mailbox, after any source route.
    Mailbox(Mailbox<'a>),
}

/// Parses a path `<[@route,@route:]mailbox>` (or `<>`, or `<Postmaster>` for a recipient)
/// starting at `s[start]`; returns it and the index after the `>`. Source routes are
/// checked for syntax and dropped (RFC 5321 §4.1.1.3 says to ignore them).
///
/// Inlined (like the functions it calls) so that the mailbox is built in place in the
/// caller's command instead of being copied through each return value.
#[inline(always)]
pub(crate) fn parse_path<'a>(
    s: &'a str,
    start: usize,
    limits: &Limits,
    role: Role,
) -> Result<(PathKind<'a>, usize), CommandError> {
    let b = s.as_bytes();
    if b.get(start) != Some(&b'<') {
        return Err(bad!(role, "path must be enclosed in <>"));
    }
    let mut i = start + 1;
    let kind = match b.get(i) {
        Some(b'>') => match role {
            Role::Sender => PathKind::Null,
            Role::Recipient => return Err(bad!(role, "path may not be null")),
        },
        _ => {
            if b.get(i) == Some(&b'@') {
                i = skip_source_route(s, i, limits, role)?;
            }
            if role == Role::Recipient
                && i == start + 1
                && matches!(b.get(i), Some(b'P' | b'p'))
                && b.len() >= i + 11
                && b[i..i + 11].eq_ignore_ascii_case(b"postmaster>")
            {
                i += 10;
                PathKind::Postmaster
            } else {
                let (mailbox, end) = parse_mailbox(s, i, limits, role)?;
                i = end;
                PathKind::Mailbox(mailbox)
            }
        }
    };
    if b.get(i) != Some(&b'>') {
        return Err(bad!(role, "path has no closing >"));
    }
    i += 1;
    if i - start > limits.max_path {
        return Err(CommandError::AddressTooLong {
            what: "path",
            limit: limits.max_path,
        });
    }
    Ok((kind, i))
}

/// Skips `@domain,@domain:` at `s[i]` (which is `@`); returns the index after the colon.
#[cold]
fn skip_source_route(
    s: &str,
    mut i: usize,
    limits: &Limits,
    role: Role,
) -> Result<usize, CommandError> {
    let b = s.as_bytes();
    loop {
        if b.get(i) != Some(&b'@') {
            return Err(bad!(role, "source route is malformed"));
        }
        let (_, end) =
            parse_domain(s, i + 1, limits.max_domain).map_err(|f| domain_error(f, role, limits))?;
        match b.get(end) {
            Some(b',') => i = end + 1,
            Some(b':') => return Ok(end + 1),
            _ => return Err(bad!(role, "source route is malformed")),
        }
    }
}

/// Parses `local-part@domain` at `s[i]`; returns it and the index after the domain.
#[inline(always)]
fn parse_mailbox<'a>(
    s: &'a str,
    start: usize,
    limits: &Limits,
    role: Role,
) -> Result<(Mailbox<'a>, usize), CommandError> {
    let b = s.as_bytes();
    let at = if b.get(start) == Some(&b'"') {
        scan_quoted(b, start + 1).ok_or(bad!(role, "quoted local part is malformed"))?
    } else {
        scan_dot_string(b, start).ok_or(bad!(role, "local part is malformed"))?
    };
    if at - start > limits.max_local_part {
        return Err(CommandError::AddressTooLong {
            what: "local part",
            limit: limits.max_local_part,
        });
    }
    if b.get(at) != Some(&b'@') {
        return Err(bad!(role, "address has no @domain"));
    }
    let (domain, end) =
        parse_domain(s, at + 1, limits.max_domain).map_err(|f| domain_error(f, role, limits))?;
    let mailbox = Mailbox {
        // `start` follows `<` or `:` and `at` is the `@`: both are char boundaries.
        local_part: line_text::sub_at_ascii(s, start, at),
        domain,
    };
    Ok((mailbox, end))
}

/// The error for a domain fault inside a path.
#[cold]
fn domain_error(fault: DomainFault, role: Role, limits: &Limits) -> CommandError {
    match fault {
        DomainFault::Name => bad!(role, "domain is malformed"),
        DomainFault::Literal => bad!(role, "address literal is malformed"),
        DomainFault::TooLong => CommandError::AddressTooLong {
            what: "domain",
            limit: limits.max_domain,
        },
    }
}

/// Scans a dot-string from `b[i]`; returns the index after it, or `None` when it is empty
/// or has an empty atom.
#[inline(always)]
fn scan_dot_string(b: &[u8], i: usize) -> Option<usize> {
    let (end, well_formed) = dotted::run(b, i, dotted::Kind::DotString);
    well_formed.then_some(end)
}

/// Scans a quoted string whose opening quote is just before `b[i]`; returns the index
/// after the closing quote.
fn scan_quoted(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        match *b.get(i)? {
            b'"' => return Some(i + 1),
            // quoted-pairSMTP: a backslash and any printable ASCII, space included.
            b'\\' => {
                if !matches!(b.get(i + 1), Some(32..=126)) {
                    return None;
                }
                i += 2;
            }
            c if class::is(c, class::QTEXT) => i += 1,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The label-by-label domain scanner that `parse_domain` had before the one-scan
    /// form, kept as the oracle of `name_scan_matches_the_label_walk`.
    fn old_name(b: &[u8], start: usize) -> Option<usize> {
        let mut i = start;
        loop {
            let label = i;
            i = class::scan(b, i, class::LABEL);
            if i == label {
                return None;
            }
            if b.get(i) != Some(&b'.') {
                return Some(i);
            }
            i += 1;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn name_scan_matches_the_label_walk(
            s in "[a.é_!-]{0,40}",
            start in 0usize..3,
        ) {
            let start = (0..=start.min(s.len())).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
            let new = parse_domain(&s, start, usize::MAX).map(|(_, end)| end).ok();
            prop_assert_eq!(new, old_name(s.as_bytes(), start), "{:?}", s);
        }
    }

    fn path(s: &str, role: Role) -> Result<PathKind<'_>, CommandError> {
        let (k, end) = parse_path(s, 0, &Limits::default(), role)?;
        assert_eq!(end, s.len(), "{s}");
        Ok(k)
    }

    fn mailbox(s: &str) -> Mailbox<'_> {
        match path(s, Role::Recipient) {
            Ok(PathKind::Mailbox(m)) => m,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn plain_and_quoted_local_parts() {
        let m = mailbox("<a.b+c@example.com>");
        assert_eq!(m.local_part, "a.b+c");
        assert_eq!(m.domain, Domain::Name("example.com"));
        let m = mailbox(r#"<"a b\"c>@"@example.com>"#);
        assert_eq!(m.local_part, r#""a b\"c>@""#);
        assert_eq!(m.local_part_unquoted(), r#"a b"c>@"#);
        assert_eq!(mailbox(r#"<""@x>"#).local_part_unquoted(), "");
        assert!(matches!(
            mailbox(r#"<"ab"@x>"#).local_part_unquoted(),
            Cow::Borrowed("ab")
        ));
    }

    #[test]
    fn literals() {
        assert_eq!(
            mailbox("<a@[192.0.2.1]>").domain,
            Domain::Ipv4(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert_eq!(
            mailbox("<a@[ipv6:2001:db8::1]>").domain,
            Domain::Ipv6("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            mailbox("<a@[x-tag:some!content]>").domain,
            Domain::General {
                tag: "x-tag",
                content: "some!content"
            }
        );
        for bad in [
            "<a@[1.2.3]>",
            "<a@[IPv6:1.2.3.4]>",
            "<a@[-:x]>",
            "<a@[x-:y]>",
            "<a@[x:]>",
            "<a@[x:a\\b]>",
            "<a@[1.2.3.4>",
        ] {
            assert_eq!(
                path(bad, Role::Recipient),
                Err(CommandError::BadAddress(
                    "recipient address literal is malformed"
                )),
                "{bad}"
            );
        }
    }

    #[test]
    fn domain_display_round_trips() {
        for d in [
            "[192.0.2.1]",
            "[IPv6:2001:db8::1]",
            "[tag:x]",
            "example.com",
        ] {
            let (dom, _) = parse_domain(d, 0, 255).unwrap();
            assert_eq!(dom.to_string(), d);
        }
        let m = mailbox("<\"q\"@[1.2.3.4]>");
        assert_eq!(m.to_string(), "\"q\"@[1.2.3.4]");
    }

    #[test]
    fn bad_paths() {
        let r = Role::Recipient;
        let cases = [
            ("a@b", "recipient path must be enclosed in <>"),
            ("<a@b", "recipient path has no closing >"),
            ("<a@b c>", "recipient path has no closing >"),
            ("<>", "recipient path may not be null"),
            ("<a>", "recipient address has no @domain"),
            ("<.a@b>", "recipient local part is malformed"),
            ("<a..b@c>", "recipient local part is malformed"),
            ("<a.@c>", "recipient local part is malformed"),
            ("<a@b..c>", "recipient domain is malformed"),
            ("<a@b_c!>", "recipient path has no closing >"),
            ("<a@b.>", "recipient domain is malformed"),
            ("<a@>", "recipient domain is malformed"),
            ("<\"a@b>", "recipient quoted local part is malformed"),
            (
                "<\"a\\\u{7f}\"@b>",
                "recipient quoted local part is malformed",
            ),
            ("<@a:>", "recipient local part is malformed"),
            ("<@a;b@c>", "recipient source route is malformed"),
            ("<@a,b:c@d>", "recipient source route is malformed"),
        ];
        for (p, msg) in cases {
            assert_eq!(path(p, r), Err(CommandError::BadAddress(msg)), "{p}");
        }
        assert_eq!(
            path("<a>", Role::Sender),
            Err(CommandError::BadAddress("sender address has no @domain"))
        );
    }

    #[test]
    fn null_postmaster_and_routes() {
        assert_eq!(path("<>", Role::Sender), Ok(PathKind::Null));
        assert_eq!(
            path("<pOSTmaster>", Role::Recipient),
            Ok(PathKind::Postmaster)
        );
        assert!(matches!(
            path("<Postmaster>", Role::Sender),
            Err(CommandError::BadAddress(_))
        ));
        let m = mailbox("<@a.example,@[1.2.3.4]:u@d.example>");
        assert_eq!(m.to_string(), "u@d.example");
        let m = mailbox("<Postmaster@x>");
        assert_eq!(m.local_part, "Postmaster");
    }

    #[test]
    fn utf8_mailboxes() {
        let m = mailbox("<用户@例子.广告>");
        assert!(!m.is_ascii());
        assert_eq!(m.domain, Domain::Name("例子.广告"));
        assert!(mailbox("<a@b>").is_ascii());
        assert!(!mailbox("<\"ü\"@b>").is_ascii());
    }

    #[test]
    fn limits() {
        let l = Limits::default();
        let local = "a".repeat(64);
        assert!(parse_path(&format!("<{local}@b>"), 0, &l, Role::Sender).is_ok());
        assert_eq!(
            parse_path(&format!("<{local}a@b>"), 0, &l, Role::Sender),
            Err(CommandError::AddressTooLong {
                what: "local part",
                limit: 64
            })
        );
        let label = "a".repeat(63);
        let dom = format!("{label}.{label}.{label}.{}", "b".repeat(63)); // 255
        assert!(parse_domain(&dom, 0, 255).is_ok());
        assert_eq!(
            parse_domain(&format!("{dom}c"), 0, 255),
            Err(DomainFault::TooLong)
        );
        // 64 + 1 + 255 + 2 = 322 > 256.
        assert_eq!(
            parse_path(&format!("<{local}@{dom}>"), 0, &l, Role::Sender),
            Err(CommandError::AddressTooLong {
                what: "path",
                limit: 256
            })
        );
        let tight = Limits {
            max_domain: 5,
            ..Limits::default()
        };
        assert_eq!(
            parse_path("<a@[1.2.3.4]>", 0, &tight, Role::Sender),
            Err(CommandError::AddressTooLong {
                what: "domain",
                limit: 5
            })
        );
    }
}

#[cfg(test)]
mod display_tests {
    use super::*;

    #[test]
    fn paths_display_as_on_the_wire_and_owned_forms_agree() {
        let m = Mailbox {
            local_part: "\"a b\"",
            domain: Domain::Ipv4(Ipv4Addr::new(192, 0, 2, 1)),
        };
        let rp = ReversePath::Mailbox(m.clone());
        assert_eq!(rp.to_string(), "<\"a b\"@[192.0.2.1]>");
        assert_eq!(OwnedReversePath::from(&rp).to_string(), rp.to_string());
        assert_eq!(ReversePath::Null.to_string(), "<>");
        assert_eq!(OwnedReversePath::from(&ReversePath::Null).to_string(), "<>");
        let fp = ForwardPath::Mailbox(m);
        assert_eq!(OwnedForwardPath::from(&fp).to_string(), fp.to_string());
        assert_eq!(ForwardPath::Postmaster.to_string(), "<Postmaster>");
        assert_eq!(
            OwnedForwardPath::from(&ForwardPath::Postmaster).to_string(),
            "<Postmaster>"
        );
    }
}
