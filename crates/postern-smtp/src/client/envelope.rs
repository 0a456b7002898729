//! The envelope of one outbound message, in owned plain strings, and its conversion to
//! wire paths.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::limits::Limits;
use crate::params::{Body, Notify, Ret};
use crate::path::{Domain, Mailbox};

use super::error::SendError;

/// The `ORCPT=` of a recipient (RFC 3461 §4.2), as plain text; the session xtext-encodes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalRecipient {
    /// The address type, usually `rfc822`.
    pub addr_type: String,
    /// The original address, not encoded.
    pub address: String,
}

/// One recipient of an [`Envelope`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// `local@domain`, without angle brackets; `Postmaster` alone is allowed.
    pub address: String,
    /// `NOTIFY=`; sent only when the server offers DSN.
    pub notify: Option<Notify>,
    /// `ORCPT=`; sent only when the server offers DSN.
    pub orcpt: Option<OriginalRecipient>,
}

impl Recipient {
    /// A recipient without DSN parameters.
    pub fn new(address: impl Into<String>) -> Self {
        Recipient {
            address: address.into(),
            notify: None,
            orcpt: None,
        }
    }
}

/// What [`ClientSession::send`](super::ClientSession::send) delivers: a sender, recipients
/// and the MAIL parameters the message needs.
///
/// Parameters the message *requires* (`BODY=8BITMIME`/`BINARYMIME`, `SMTPUTF8`, `SIZE`,
/// `REQUIRETLS`) make `send` fail at once when the server cannot honour them. Parameters
/// that are only requests (the DSN ones: `RET`, `ENVID`, `NOTIFY`, `ORCPT`, and
/// `MT-PRIORITY`) are silently dropped when the server does not offer the extension — the
/// message still goes, as RFC 3461 §4.1 expects of a relaying client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The sender (MAIL FROM), `local@domain` without angle brackets; `""` is the null
    /// sender `<>`. Named `sender` as in `postern_queue::Envelope`.
    pub sender: String,
    /// The recipients, in order; at least one.
    pub recipients: Vec<Recipient>,
    /// The message size in octets (`SIZE=`, RFC 1870), checked against the server's SIZE.
    pub size: Option<u64>,
    /// The body type (`BODY=`).
    pub body: Option<Body>,
    /// The message needs SMTPUTF8 (RFC 6531) even if every address is ASCII (UTF-8
    /// headers). Non-ASCII addresses imply it.
    pub smtputf8: bool,
    /// `RET=` (DSN).
    pub ret: Option<Ret>,
    /// `ENVID=` (DSN), not encoded.
    pub envid: Option<String>,
    /// `MT-PRIORITY=` (RFC 6710), -9..=9.
    pub mt_priority: Option<i8>,
    /// `REQUIRETLS` (RFC 8689): only over TLS to a server that offers it.
    pub requiretls: bool,
}

impl Envelope {
    /// An envelope from `sender` to `recipients`, without parameters.
    pub fn new<I, S>(sender: impl Into<String>, recipients: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Envelope {
            sender: sender.into(),
            recipients: recipients.into_iter().map(|r| Recipient::new(r)).collect(),
            size: None,
            body: None,
            smtputf8: false,
            ret: None,
            envid: None,
            mt_priority: None,
            requiretls: false,
        }
    }

    /// True when any address (sender, recipient, ORCPT) is not ASCII.
    pub(crate) fn has_utf8_address(&self) -> bool {
        !self.sender.is_ascii() || self.recipients.iter().any(|r| !r.address.is_ascii())
    }
}

/// Splits `address` into a wire mailbox, refusing anything that could not be written
/// safely between angle brackets (control characters, brackets, unquoted spaces).
pub(crate) fn mailbox<'a>(address: &'a str, limits: &Limits) -> Result<Mailbox<'a>, SendError> {
    let bad = || SendError::InvalidAddress(address.to_owned());
    let (local, domain) = address.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty() || !valid_local_part(local) {
        return Err(bad());
    }
    if local.len() > limits.max_local_part || address.len() + 2 > limits.max_path {
        return Err(bad());
    }
    let domain = parse_domain(domain, limits).ok_or_else(bad)?;
    Ok(Mailbox {
        local_part: local,
        domain,
    })
}

/// A dot-string (any non-special, non-space octet, UTF-8 allowed) or a quoted string.
fn valid_local_part(local: &str) -> bool {
    if local.len() >= 2 && local.starts_with('"') && local.ends_with('"') {
        return !local.bytes().any(|b| b < 0x20 || b == 0x7f);
    }
    // A `match`, not a search of the specials per octet: every outgoing MAIL and RCPT
    // path passes here.
    !local.bytes().any(|b| {
        matches!(
            b,
            0..=0x20
                | 0x7f
                | b'<'
                | b'>'
                | b'('
                | b')'
                | b'['
                | b']'
                | b'\\'
                | b','
                | b';'
                | b':'
                | b'"'
                | b'@'
        )
    })
}

/// A host name, or an address literal `[1.2.3.4]`, `[IPv6:…]`, `[tag:content]`.
pub(crate) fn parse_domain<'a>(domain: &'a str, limits: &Limits) -> Option<Domain<'a>> {
    if domain.is_empty() || domain.len() > limits.max_domain {
        return None;
    }
    if let Some(inner) = domain.strip_prefix('[') {
        return parse_literal(inner.strip_suffix(']')?);
    }
    let ok = domain
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b >= 0x80);
    (ok && !domain.starts_with('.')).then_some(Domain::Name(domain))
}

fn parse_literal(inner: &str) -> Option<Domain<'_>> {
    if let Ok(v4) = inner.parse::<Ipv4Addr>() {
        return Some(Domain::Ipv4(v4));
    }
    let (tag, content) = inner.split_once(':')?;
    if tag.eq_ignore_ascii_case("IPv6") {
        return content.parse::<Ipv6Addr>().ok().map(Domain::Ipv6);
    }
    let tag_ok = !tag.is_empty() && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let content_ok = !content.is_empty()
        && content
            .bytes()
            .all(|b| (33..=126).contains(&b) && !b"[]\\".contains(&b));
    (tag_ok && content_ok).then_some(Domain::General { tag, content })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_plain_and_literal_addresses() {
        let l = Limits::default();
        let m = mailbox("user@example.com", &l).unwrap();
        assert_eq!(m.local_part, "user");
        assert_eq!(m.domain, Domain::Name("example.com"));
        let m = mailbox("a@b@[192.0.2.1]", &l);
        assert!(m.is_err(), "unquoted @ in the local part");
        let m = mailbox("\"a b\"@[IPv6:2001:db8::1]", &l).unwrap();
        assert_eq!(m.local_part, "\"a b\"");
        assert_eq!(m.domain, Domain::Ipv6("2001:db8::1".parse().unwrap()));
        let m = mailbox("x@[tag:stuff]", &l).unwrap();
        assert_eq!(
            m.domain,
            Domain::General {
                tag: "tag",
                content: "stuff"
            }
        );
    }

    #[test]
    fn refuses_injection_and_overlong_addresses() {
        let l = Limits::default();
        for bad in [
            "",
            "user",
            "@example.com",
            "user@",
            "us er@example.com",
            "user@example.com>\r\nRCPT TO:<x@y",
            "user@exa mple.com",
            "user@[999.1.1.1]",
            "\"a\r\nb\"@example.com",
            "a<b@example.com",
        ] {
            assert!(mailbox(bad, &l).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(mailbox(&long, &l).is_err());
        let utf8 = mailbox("josé@exämple.com", &l).unwrap();
        assert_eq!(utf8.domain, Domain::Name("exämple.com"));
    }

    #[test]
    fn local_part_specials_are_every_octet_the_rule_names() {
        for b in 0u8..=0x7f {
            let special = b <= 0x20 || b == 0x7f || b"<>()[]\\,;:\"@".contains(&b);
            let local = format!("a{}b", char::from(b));
            assert_eq!(valid_local_part(&local), !special, "{b:#04x}");
        }
        assert!(valid_local_part("jos\u{e9}"));
    }
}
