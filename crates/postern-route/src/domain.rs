//! Per-domain settings, as the IMS "E-Mail Domain" dialog kept them: how to format, encode
//! and deliver mail for one remote domain. The most specific pattern wins, field by field;
//! fields no pattern sets come from the defaults.

use std::net::IpAddr;

use rustc_hash::FxHashMap;

use crate::error::DomainError;

/// How attachments and non-text content are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "config", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "config", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum ContentFormat {
    /// MIME (the default).
    #[default]
    Mime,
    /// uuencoded attachments in a plain-text body, for systems that predate MIME.
    Uuencode,
}

/// Whether outbound SMTP uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "config", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "config", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum TlsPolicy {
    /// Never use STARTTLS.
    Off,
    /// Use STARTTLS when offered; deliver in clear otherwise (the default).
    #[default]
    Opportunistic,
    /// Deliver only over TLS; defer otherwise.
    Required,
    /// Deliver only over TLS to a server whose certificate chains to a trusted root and
    /// names the host connected to (the MX or smart host name); defer otherwise. Postfix
    /// calls this level `verify`.
    Verify,
}

/// When queued mail for the domain is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "config", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "config", serde(rename_all = "kebab-case"))]
#[non_exhaustive]
pub enum Dequeue {
    /// Send as soon as possible (the default).
    #[default]
    Send,
    /// Hold until the domain's server asks for it with ETRN (RFC 1985).
    HoldForEtrn,
}

/// What outbound conversion does with characters the domain's charset cannot hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "config", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "config", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum Unrepresentable {
    /// The text stays in a charset that holds it (usually UTF-8), correctly labelled;
    /// nothing is lost (the default).
    #[default]
    Keep,
    /// Each such character becomes `?`.
    Replace,
    /// Each such character becomes its closest ASCII spelling (`é` → `e`, `€` → `EUR`),
    /// `?` where there is none.
    Transliterate,
}

/// The effective settings for one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "config", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "config",
    serde(deny_unknown_fields, rename_all = "snake_case")
)]
pub struct DomainSettings {
    /// Content format. Default MIME.
    pub content_format: ContentFormat,
    /// Charset for outbound text. Default `iso-8859-1` (the IMS default).
    pub charset: String,
    /// Charset of the plain-text body of uuencode (non-MIME) mail. Default `us-ascii`
    /// (the IMS default "non-MIME character set").
    #[cfg_attr(feature = "config", serde(default = "default_non_mime_charset"))]
    pub non_mime_charset: String,
    /// What to do with characters the charset cannot hold. Default keep.
    #[cfg_attr(feature = "config", serde(default))]
    pub unrepresentable: Unrepresentable,
    /// Largest message accepted for the domain, in bytes; `None` for no limit (default).
    pub max_message_size: Option<u64>,
    /// TLS policy. Default opportunistic.
    pub tls: TlsPolicy,
    /// Send or hold for ETRN. Default send.
    pub dequeue: Dequeue,
}

fn default_non_mime_charset() -> String {
    "us-ascii".to_owned()
}

impl Default for DomainSettings {
    fn default() -> Self {
        DomainSettings {
            content_format: ContentFormat::Mime,
            charset: "iso-8859-1".to_owned(),
            non_mime_charset: default_non_mime_charset(),
            unrepresentable: Unrepresentable::Keep,
            max_message_size: None,
            tls: TlsPolicy::Opportunistic,
            dequeue: Dequeue::Send,
        }
    }
}

/// Settings for one pattern; unset fields fall through to less specific patterns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "config", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "config",
    serde(deny_unknown_fields, rename_all = "snake_case")
)]
pub struct DomainOverrides {
    /// Content format.
    pub content_format: Option<ContentFormat>,
    /// Charset.
    pub charset: Option<String>,
    /// Largest message in bytes (0 = no limit).
    pub max_message_size: Option<u64>,
    /// TLS policy.
    pub tls: Option<TlsPolicy>,
    /// Send or hold for ETRN.
    pub dequeue: Option<Dequeue>,
    /// Charset of uuencode (non-MIME) bodies.
    #[cfg_attr(feature = "config", serde(default))]
    pub non_mime_charset: Option<String>,
    /// What to do with characters the charset cannot hold.
    #[cfg_attr(feature = "config", serde(default))]
    pub unrepresentable: Option<Unrepresentable>,
}

/// How many settings a domain has (one `filled` flag each).
const FIELDS: usize = 7;

impl DomainOverrides {
    /// Fills each field of `into` that this sets and `filled` does not yet say is set.
    fn apply(&self, into: &mut DomainSettings, filled: &mut [bool; FIELDS]) {
        fn put<T: Clone>(v: &Option<T>, slot: &mut T, done: &mut bool) {
            if let (Some(v), false) = (v, *done) {
                *slot = v.clone();
                *done = true;
            }
        }
        put(
            &self.content_format,
            &mut into.content_format,
            &mut filled[0],
        );
        put(&self.charset, &mut into.charset, &mut filled[1]);
        if let (Some(n), false) = (self.max_message_size, filled[2]) {
            into.max_message_size = (n > 0).then_some(n);
            filled[2] = true;
        }
        put(&self.tls, &mut into.tls, &mut filled[3]);
        put(&self.dequeue, &mut into.dequeue, &mut filled[4]);
        put(
            &self.non_mime_charset,
            &mut into.non_mime_charset,
            &mut filled[5],
        );
        put(
            &self.unrepresentable,
            &mut into.unrepresentable,
            &mut filled[6],
        );
    }
}

/// The per-domain table. Patterns: `example.com` (that domain), `*.example.com` (its
/// subdomains, not itself), an IP address or IP literal (`192.0.2.1`, `[192.0.2.1]`,
/// `[IPv6:2001:db8::1]`), and `*` (everything, like the defaults). More labels is more
/// specific; an exact name beats `*.` of the same name's parent.
///
/// ```
/// use postern_route::{ContentFormat, DomainOverrides, DomainTable};
/// let mut t = DomainTable::new(Default::default());
/// t.insert("*.example.com", DomainOverrides { content_format: Some(ContentFormat::Uuencode), ..Default::default() }).unwrap();
/// t.insert("mail.example.com", DomainOverrides { charset: Some("utf-8".into()), ..Default::default() }).unwrap();
/// let s = t.lookup("MAIL.example.com");
/// assert_eq!(s.content_format, ContentFormat::Uuencode); // inherited from *.example.com
/// assert_eq!(s.charset, "utf-8");
/// assert_eq!(t.lookup("example.com").content_format, ContentFormat::Mime);
/// ```
#[derive(Debug, Clone, Default)]
pub struct DomainTable {
    defaults: DomainSettings,
    exact: FxHashMap<Box<str>, DomainOverrides>,
    subdomains: FxHashMap<Box<str>, DomainOverrides>,
    ips: FxHashMap<IpAddr, DomainOverrides>,
    any: Option<DomainOverrides>,
}

enum DomainKey {
    Exact(String),
    Sub(String),
    Ip(IpAddr),
    Any,
}

/// Parses an IP address, bare or as an SMTP address literal.
pub(crate) fn parse_ip_literal(s: &str) -> Option<IpAddr> {
    let inner = s.strip_prefix('[').and_then(|r| r.strip_suffix(']'));
    let text = inner.unwrap_or(s);
    let text = match text.get(..5) {
        Some(p) if inner.is_some() && p.eq_ignore_ascii_case("ipv6:") => &text[5..],
        _ => text,
    };
    text.parse().ok()
}

fn key_of(pattern: &str) -> Result<DomainKey, DomainError> {
    let p = pattern.trim();
    let p = p.strip_suffix('.').unwrap_or(p);
    let bad = || DomainError::BadPattern(pattern.to_owned());
    if p == "*" {
        return Ok(DomainKey::Any);
    }
    if let Some(ip) = parse_ip_literal(p) {
        return Ok(DomainKey::Ip(ip));
    }
    let (sub, name) = match p.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, p),
    };
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        });
    if !ok {
        return Err(bad());
    }
    let name = name.to_lowercase();
    Ok(if sub {
        DomainKey::Sub(name)
    } else {
        DomainKey::Exact(name)
    })
}

impl DomainTable {
    /// An empty table with these defaults.
    pub fn new(defaults: DomainSettings) -> DomainTable {
        DomainTable {
            defaults,
            ..DomainTable::default()
        }
    }

    /// The defaults.
    pub fn defaults(&self) -> &DomainSettings {
        &self.defaults
    }

    /// Every charset the defaults and patterns name, as (pattern or `None` for the
    /// defaults, key, label): for the application to check labels it knows.
    pub fn charsets(&self) -> Vec<(Option<String>, &'static str, &str)> {
        let mut out = vec![
            (None, "charset", self.defaults.charset.as_str()),
            (
                None,
                "non_mime_charset",
                self.defaults.non_mime_charset.as_str(),
            ),
        ];
        let named = self
            .exact
            .iter()
            .map(|(k, o)| (k.to_string(), o))
            .chain(self.subdomains.iter().map(|(k, o)| (format!("*.{k}"), o)))
            .chain(self.ips.iter().map(|(k, o)| (k.to_string(), o)))
            .chain(self.any.iter().map(|o| ("*".to_string(), o)));
        for (pattern, o) in named {
            if let Some(c) = &o.charset {
                out.push((Some(pattern.clone()), "charset", c.as_str()));
            }
            if let Some(c) = &o.non_mime_charset {
                out.push((Some(pattern), "non_mime_charset", c.as_str()));
            }
        }
        out
    }

    /// True when the defaults or any pattern sets this TLS policy (the gateway loads
    /// trusted roots only when some domain asks for [`TlsPolicy::Verify`]).
    pub fn uses_tls(&self, policy: TlsPolicy) -> bool {
        self.defaults.tls == policy
            || self
                .exact
                .values()
                .chain(self.subdomains.values())
                .chain(self.ips.values())
                .chain(self.any.iter())
                .any(|o| o.tls == Some(policy))
    }

    /// Adds settings for a pattern; a pattern may be given once.
    pub fn insert(&mut self, pattern: &str, settings: DomainOverrides) -> Result<(), DomainError> {
        let dup = match key_of(pattern)? {
            DomainKey::Exact(n) => self.exact.insert(n.into(), settings).is_some(),
            DomainKey::Sub(n) => self.subdomains.insert(n.into(), settings).is_some(),
            DomainKey::Ip(ip) => self.ips.insert(ip, settings).is_some(),
            DomainKey::Any => self.any.replace(settings).is_some(),
        };
        if dup {
            return Err(DomainError::Duplicate(pattern.trim().to_owned()));
        }
        Ok(())
    }

    /// Every pattern in the table with what it sets, sorted by pattern (`*` first, then
    /// IP literals, subdomain patterns `*.name` and names): for listing the effective
    /// configuration. The settings in force for a pattern are [`DomainTable::lookup`] of
    /// the pattern itself.
    pub fn entries(&self) -> Vec<(String, &DomainOverrides)> {
        let mut v: Vec<(String, &DomainOverrides)> = Vec::new();
        v.extend(self.any.iter().map(|o| ("*".to_owned(), o)));
        let mut ips: Vec<_> = self.ips.iter().collect();
        ips.sort_by_key(|(ip, _)| **ip);
        v.extend(ips.into_iter().map(|(ip, o)| {
            let text = match ip {
                IpAddr::V4(a) => format!("[{a}]"),
                IpAddr::V6(a) => format!("[IPv6:{a}]"),
            };
            (text, o)
        }));
        let mut subs: Vec<_> = self.subdomains.iter().collect();
        subs.sort_by(|a, b| a.0.cmp(b.0));
        v.extend(subs.into_iter().map(|(n, o)| (format!("*.{n}"), o)));
        let mut exact: Vec<_> = self.exact.iter().collect();
        exact.sort_by(|a, b| a.0.cmp(b.0));
        v.extend(exact.into_iter().map(|(n, o)| (n.to_string(), o)));
        v
    }

    /// The effective settings for `domain` (a name, or an IP literal). Cost grows with the
    /// number of labels, not the table size.
    pub fn lookup(&self, domain: &str) -> DomainSettings {
        let mut out = self.defaults.clone();
        let mut filled = [false; FIELDS];
        let d = domain.trim().trim_end_matches('.');
        if let Some(ip) = parse_ip_literal(d) {
            if let Some(o) = self.ips.get(&ip) {
                o.apply(&mut out, &mut filled);
            }
        } else {
            let lower = d.to_lowercase();
            if let Some(o) = self.exact.get(lower.as_str()) {
                o.apply(&mut out, &mut filled);
            }
            // Parents, nearest first: a.b.c → b.c → c.
            let mut rest = lower.as_str();
            while let Some((_, parent)) = rest.split_once('.') {
                if let Some(o) = self.subdomains.get(parent) {
                    o.apply(&mut out, &mut filled);
                }
                rest = parent;
            }
        }
        if let Some(o) = &self.any {
            o.apply(&mut out, &mut filled);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ov(size: u64) -> DomainOverrides {
        DomainOverrides {
            max_message_size: Some(size),
            ..DomainOverrides::default()
        }
    }

    #[test]
    fn entries_list_every_pattern_and_look_up_as_themselves() {
        let t = table();
        let names: Vec<String> = t.entries().into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            names,
            [
                "*",
                "[192.0.2.1]",
                "[IPv6:2001:db8::1]",
                "*.com",
                "*.example.com",
                "a.example.com",
                "example.com"
            ]
        );
        for (p, o) in t.entries() {
            assert_eq!(t.lookup(&p).max_message_size, o.max_message_size, "{p}");
        }
    }

    fn table() -> DomainTable {
        let mut t = DomainTable::new(DomainSettings::default());
        t.insert("*", ov(1)).unwrap();
        t.insert("*.com", ov(2)).unwrap();
        t.insert("*.example.com", ov(3)).unwrap();
        t.insert("example.com", ov(4)).unwrap();
        t.insert("a.example.com", ov(5)).unwrap();
        t.insert("[192.0.2.1]", ov(6)).unwrap();
        t.insert("2001:db8::1", ov(7)).unwrap();
        t
    }

    #[test]
    fn most_specific_wins() {
        let t = table();
        let size = |d: &str| t.lookup(d).max_message_size;
        assert_eq!(size("a.example.com"), Some(5));
        assert_eq!(size("b.example.com"), Some(3));
        assert_eq!(size("x.b.example.com"), Some(3));
        assert_eq!(size("EXAMPLE.COM."), Some(4));
        assert_eq!(size("other.com"), Some(2));
        assert_eq!(size("other.org"), Some(1));
        assert_eq!(size("192.0.2.1"), Some(6));
        assert_eq!(size("[192.0.2.1]"), Some(6));
        assert_eq!(size("[IPv6:2001:db8::1]"), Some(7));
        assert_eq!(size("[192.0.2.2]"), Some(1));
    }

    #[test]
    fn fields_fall_through() {
        let mut t = DomainTable::new(DomainSettings::default());
        t.insert(
            "*.example.com",
            DomainOverrides {
                tls: Some(TlsPolicy::Required),
                max_message_size: Some(100),
                ..Default::default()
            },
        )
        .unwrap();
        t.insert("a.example.com", ov(0)).unwrap();
        let s = t.lookup("a.example.com");
        assert_eq!(s.tls, TlsPolicy::Required);
        assert_eq!(s.max_message_size, None, "0 means no limit and wins");
        assert_eq!(s.charset, "iso-8859-1");
        assert_eq!(t.lookup("nowhere").tls, TlsPolicy::Opportunistic);
        assert!(t.uses_tls(TlsPolicy::Required) && t.uses_tls(TlsPolicy::Opportunistic));
        assert!(!t.uses_tls(TlsPolicy::Verify));
    }

    #[test]
    fn bad_and_duplicate_patterns() {
        let mut t = DomainTable::default();
        for bad in ["", "a..b", "a..", "ex ample.com", "*x.com", "[1.2.3]"] {
            assert!(t.insert(bad, ov(1)).is_err(), "{bad:?}");
        }
        t.insert("Example.com", ov(1)).unwrap();
        assert!(matches!(
            t.insert("example.COM", ov(2)),
            Err(DomainError::Duplicate(_))
        ));
    }
}
