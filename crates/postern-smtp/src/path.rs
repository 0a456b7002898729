//! Paths (`<local@domain>`), mailboxes and domains, as written on the wire.

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

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
    pub fn local_part_unquoted(&self) -> Cow<'_, str> {
        todo!("helper A")
    }

    /// True when every octet of the mailbox is ASCII (no SMTPUTF8 needed).
    pub fn is_ascii(&self) -> bool {
        todo!("helper A")
    }
}

impl fmt::Display for Domain<'_> {
    /// Writes the domain as it appears on the wire (`[IPv6:…]` for literals).
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!("helper A")
    }
}

impl fmt::Display for Mailbox<'_> {
    /// Writes `local@domain` without angle brackets.
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!("helper A")
    }
}
