//! Address-space patterns: parsing the forms people write, and matching one address.
//!
//! The compiled [`RoutingTable`](crate::RoutingTable) indexes these; [`AddressPattern::matches`]
//! is the plain reference matcher, one pattern against one address.

use crate::address_type::AddressType;
use crate::error::PatternError;
use crate::glob::Glob;
use crate::limits::Limits;
use crate::quality::MatchQuality;
use crate::x400::{OrAddress, X400Pattern};

/// A parsed address-space pattern for one address type.
///
/// For SMTP the forms are: `*` (type only), `user@example.com` (exact), `example.com` or
/// `*@example.com` (any user at exactly that domain), `*.example.com` or `*@*.example.com`
/// (any user at any subdomain, not the domain itself), and any other wildcard pattern over
/// the whole address. X.400 patterns match attribute by attribute (see
/// [`X400Pattern`]); other types match the whole address with `*` and `%`. Case never
/// matters.
///
/// ```
/// use postern_route::{AddressPattern, AddressType, Limits, MatchQuality};
/// let p = AddressPattern::parse(&AddressType::Smtp, "example.com", &Limits::DEFAULT).unwrap();
/// assert!(p.matches("Jo@EXAMPLE.com", &Limits::DEFAULT).is_some());
/// assert!(p.matches("jo@sub.example.com", &Limits::DEFAULT).is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPattern {
    pub(crate) kind: PatternKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatternKind {
    /// `*`: any address of the type.
    TypeOnly,
    /// SMTP `local@domain`, no wildcards (both lowercase).
    SmtpAddress { local: Box<str>, domain: Box<str> },
    /// SMTP `*@domain`.
    SmtpDomain(Box<str>),
    /// SMTP `*@*.domain` (strict subdomains).
    SmtpSubdomains(Box<str>),
    /// SMTP `glob@domain`, a wildcard local part at a literal domain.
    SmtpLocalGlob { local: Glob, domain: Box<str> },
    /// X.400 attribute pattern.
    X400(X400Pattern),
    /// A whole-address literal (non-SMTP, non-X.400 types), lowercase.
    Exact(Box<str>),
    /// A whole-address wildcard pattern.
    Glob(Glob),
}

impl AddressPattern {
    /// Parses `text` as a pattern for addresses of type `ty`.
    pub fn parse(
        ty: &AddressType,
        text: &str,
        limits: &Limits,
    ) -> Result<AddressPattern, PatternError> {
        let text = text.trim();
        if text.len() > limits.max_pattern_len {
            return Err(PatternError::TooLong {
                len: text.len(),
                max: limits.max_pattern_len,
            });
        }
        if text.is_empty() {
            return Err(PatternError::Empty);
        }
        let kind = if text == "*" {
            PatternKind::TypeOnly
        } else {
            match ty {
                AddressType::Smtp => parse_smtp(text)?,
                AddressType::X400 => PatternKind::X400(X400Pattern::parse(text, limits)?),
                _ => {
                    check_chars(text, false)?;
                    let glob = Glob::new(text);
                    if glob.has_wildcard() {
                        PatternKind::Glob(glob)
                    } else {
                        PatternKind::Exact(glob.as_str().into())
                    }
                }
            }
        };
        Ok(AddressPattern { kind })
    }

    /// True for `*`, the pattern that names only the address type.
    pub fn is_type_only(&self) -> bool {
        matches!(self.kind, PatternKind::TypeOnly)
    }

    /// How well `address` (of this pattern's type) matches, or `None`. Addresses longer
    /// than `limits.max_address_len`, and X.400 addresses that do not parse, match
    /// nothing but a type-only pattern.
    pub fn matches(&self, address: &str, limits: &Limits) -> Option<MatchQuality> {
        if let PatternKind::TypeOnly = self.kind {
            return Some(MatchQuality::TypeOnly);
        }
        if address.len() > limits.max_address_len {
            return None;
        }
        let (local, domain) = split_smtp(address);
        match &self.kind {
            PatternKind::TypeOnly => Some(MatchQuality::TypeOnly),
            PatternKind::SmtpAddress {
                local: l,
                domain: d,
            } => (domain.eq_ignore_ascii_case(d) && local.eq_ignore_ascii_case(l))
                .then_some(MatchQuality::Exact),
            PatternKind::SmtpDomain(d) => {
                domain.eq_ignore_ascii_case(d).then(|| domain_quality(d, 1))
            }
            PatternKind::SmtpSubdomains(d) => {
                is_strict_subdomain(domain, d).then(|| domain_quality(d, 2))
            }
            PatternKind::SmtpLocalGlob {
                local: g,
                domain: d,
            } => (domain.eq_ignore_ascii_case(d) && g.matches(local))
                .then(|| local_glob_quality(g, d)),
            PatternKind::X400(p) => OrAddress::parse(address, limits)
                .ok()
                .and_then(|a| p.matches(&a)),
            PatternKind::Exact(e) => address
                .eq_ignore_ascii_case(e)
                .then_some(MatchQuality::Exact),
            PatternKind::Glob(g) => g
                .matches(trim_dot(address))
                .then(|| MatchQuality::Wildcard {
                    literals: g.literal_count(),
                }),
        }
    }
}

/// Quality of `*@domain` (extra = 1) and `*@*.domain` (extra = 2): the literal `@`, the
/// literal `.` for the subdomain form, and the domain's characters.
fn domain_quality(domain: &str, extra: u32) -> MatchQuality {
    MatchQuality::Wildcard {
        literals: extra.saturating_add(char_count(domain)),
    }
}

fn local_glob_quality(local: &Glob, domain: &str) -> MatchQuality {
    MatchQuality::Wildcard {
        literals: local
            .literal_count()
            .saturating_add(1)
            .saturating_add(char_count(domain)),
    }
}

fn char_count(s: &str) -> u32 {
    u32::try_from(s.chars().count()).unwrap_or(u32::MAX)
}

/// True when `domain` ends with `.suffix` (case-insensitive).
fn is_strict_subdomain(domain: &str, suffix: &str) -> bool {
    domain.len() > suffix.len() + 1 && {
        let cut = domain.len() - suffix.len();
        domain.is_char_boundary(cut - 1)
            && domain.as_bytes()[cut - 1] == b'.'
            && domain[cut..].eq_ignore_ascii_case(suffix)
    }
}

/// Splits an SMTP address at its last `@`; the domain loses one trailing dot. An address
/// without `@` is all local part.
pub(crate) fn split_smtp(address: &str) -> (&str, &str) {
    match address.rsplit_once('@') {
        Some((local, domain)) => (local, trim_dot(domain)),
        None => (address, ""),
    }
}

/// Why `address` cannot be an SMTP mailbox (`local@domain`), or `None` when it can. The
/// check is deliberately loose (the SMTP layer parsed it already): both parts present, no
/// control characters, no unquoted space in the local part, and a domain of non-empty
/// labels or an address literal in brackets. Without it, text like `not an address` would
/// match only the type-only entry `*` and leave by the default route.
pub(crate) fn smtp_address_problem(address: &str) -> Option<&'static str> {
    if address.chars().any(char::is_control) {
        return Some("control character in the address");
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Some("no @domain");
    };
    let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    if local.is_empty() {
        Some("empty local part")
    } else if !quoted && local.contains(char::is_whitespace) {
        Some("space in the local part")
    } else if domain.starts_with('[') {
        (!domain.ends_with(']') || domain.len() < 3).then_some("malformed address literal")
    } else if trim_dot(domain).is_empty() {
        Some("empty domain")
    } else if trim_dot(domain).split('.').any(str::is_empty) {
        Some("empty label in the domain")
    } else if domain.contains(|c: char| c.is_whitespace() || is_domain_special(c)) {
        Some("invalid character in the domain")
    } else {
        None
    }
}

/// The specials of RFC 5322 that cannot appear in a domain name (a `match`, not a search
/// of a string of them: this runs for every character of every routed address).
fn is_domain_special(c: char) -> bool {
    matches!(
        c,
        '[' | ']' | '@' | '(' | ')' | '<' | '>' | ',' | ';' | ':' | '\\' | '"'
    )
}

fn trim_dot(s: &str) -> &str {
    s.strip_suffix('.').unwrap_or(s)
}

fn check_chars(text: &str, allow_space: bool) -> Result<(), PatternError> {
    match text
        .char_indices()
        .find(|&(_, c)| c.is_control() || (!allow_space && c.is_whitespace()))
    {
        Some((at, ch)) => Err(PatternError::InvalidChar { ch, at }),
        None => Ok(()),
    }
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '%'])
}

fn check_domain(domain: &str) -> Result<(), PatternError> {
    if domain.split('.').any(str::is_empty) {
        return Err(PatternError::EmptyLabel(domain.to_owned()));
    }
    Ok(())
}

fn parse_smtp(text: &str) -> Result<PatternKind, PatternError> {
    check_chars(text, false)?;
    if text == "*@*" {
        return Ok(PatternKind::TypeOnly);
    }
    let (local, domain) = match text.rsplit_once('@') {
        Some(("", d)) => ("*", d),
        Some((l, d)) => (l, d),
        None => ("*", text),
    };
    let domain = trim_dot(domain).to_ascii_lowercase();
    if domain.is_empty() {
        return Err(PatternError::EmptyDomain);
    }
    let local_star = local == "*";
    if !has_wildcard(&domain) {
        check_domain(&domain)?;
        let domain: Box<str> = domain.into();
        return Ok(if local_star {
            PatternKind::SmtpDomain(domain)
        } else if !has_wildcard(local) {
            PatternKind::SmtpAddress {
                local: local.to_ascii_lowercase().into(),
                domain,
            }
        } else {
            PatternKind::SmtpLocalGlob {
                local: Glob::new(local),
                domain,
            }
        });
    }
    if let Some(rest) = domain.strip_prefix("*.") {
        if local_star && !has_wildcard(rest) {
            check_domain(rest)?;
            return Ok(PatternKind::SmtpSubdomains(rest.into()));
        }
    }
    Ok(PatternKind::Glob(Glob::new(&format!("{local}@{domain}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(p: &str) -> AddressPattern {
        AddressPattern::parse(&AddressType::Smtp, p, &Limits::DEFAULT).unwrap()
    }

    fn q(p: &str, a: &str) -> Option<MatchQuality> {
        smtp(p).matches(a, &Limits::DEFAULT)
    }

    #[test]
    fn every_rfc5322_special_is_refused_in_a_domain_and_nothing_else_is() {
        for c in (0u8..0x80)
            .map(char::from)
            .chain(['é', '\u{a0}', '\u{2028}'])
        {
            let address = format!("user@ex{c}ample.com");
            let special = "[]@()<>,;:\\\"".contains(c);
            let expect = if c.is_control() {
                Some("control character in the address")
            } else if c == '.' {
                None
            } else if special || c.is_whitespace() {
                Some("invalid character in the domain")
            } else {
                None
            };
            // `@` splits at the last one: "user@ex" is the local part, which is fine.
            let expect = if c == '@' { None } else { expect };
            assert_eq!(smtp_address_problem(&address), expect, "{c:?}");
        }
    }

    #[test]
    fn smtp_domain_forms() {
        assert_eq!(
            smtp("example.com").kind,
            PatternKind::SmtpDomain("example.com".into())
        );
        assert_eq!(smtp("*@Example.COM.").kind, smtp("example.com").kind);
        assert_eq!(smtp("@example.com").kind, smtp("example.com").kind);
        assert_eq!(
            smtp("*.example.com").kind,
            PatternKind::SmtpSubdomains("example.com".into())
        );
        assert_eq!(smtp("*@*.example.com").kind, smtp("*.example.com").kind);
        assert!(smtp("*").is_type_only());
        assert!(smtp("*@*").is_type_only());
        assert!(matches!(
            smtp("Jo@Example.com").kind,
            PatternKind::SmtpAddress { .. }
        ));
        assert!(matches!(
            smtp("j%@example.com").kind,
            PatternKind::SmtpLocalGlob { .. }
        ));
        assert!(matches!(smtp("*@mail*.com").kind, PatternKind::Glob(_)));
    }

    #[test]
    fn smtp_matching() {
        assert_eq!(
            q("jo@example.com", "JO@example.COM"),
            Some(MatchQuality::Exact)
        );
        assert!(q("example.com", "a@example.com").is_some());
        assert!(q("example.com", "a@example.com.").is_some());
        assert!(q("example.com", "a@sub.example.com").is_none());
        assert!(q("*.example.com", "a@sub.example.com").is_some());
        assert!(q("*.example.com", "a@example.com").is_none());
        assert!(q("*.example.com", "a@badexample.com").is_none());
        assert!(q("j%@example.com", "jo@example.com").is_some());
        assert!(q("j%@example.com", "joe@example.com").is_none());
        assert!(q("*@mail*.com", "x@mail2.com").is_some());
        assert_eq!(q("*", "anything"), Some(MatchQuality::TypeOnly));
    }

    #[test]
    fn specificity() {
        let a = "a@b.example.com";
        assert!(q("b.example.com", a) > q("*.example.com", a));
        assert!(q("a@b.example.com", a) > q("b.example.com", a));
        assert!(q("*.example.com", a) > q("*", a));
    }

    #[test]
    fn bad_patterns() {
        let l = Limits::DEFAULT;
        let ty = AddressType::Smtp;
        assert_eq!(
            AddressPattern::parse(&ty, "  ", &l),
            Err(PatternError::Empty)
        );
        assert_eq!(
            AddressPattern::parse(&ty, "user@", &l),
            Err(PatternError::EmptyDomain)
        );
        assert!(matches!(
            AddressPattern::parse(&ty, "a..b", &l),
            Err(PatternError::EmptyLabel(_))
        ));
        assert!(matches!(
            AddressPattern::parse(&ty, "a b@c", &l),
            Err(PatternError::InvalidChar { ch: ' ', at: 1 })
        ));
        let long = "a".repeat(l.max_pattern_len + 1);
        assert!(matches!(
            AddressPattern::parse(&ty, &long, &l),
            Err(PatternError::TooLong { .. })
        ));
    }

    #[test]
    fn generic_types() {
        let l = Limits::DEFAULT;
        let ms = AddressPattern::parse(&AddressType::Ms, "NET/PO/*", &l).unwrap();
        assert!(ms.matches("net/po/john", &l).is_some());
        assert!(ms.matches("net/po2/john", &l).is_none());
        let exact = AddressPattern::parse(&AddressType::Ms, "NET/PO/JOHN", &l).unwrap();
        assert_eq!(exact.matches("net/po/john", &l), Some(MatchQuality::Exact));
    }

    #[test]
    fn over_long_address_matches_only_type_only() {
        let l = Limits::DEFAULT;
        let long = format!("{}@example.com", "a".repeat(l.max_address_len));
        assert!(q("example.com", &long).is_none());
        assert!(q("*", &long).is_some());
    }
}
