//! The SMTP next hop as data: smart hosts, the hosts found, and why none were. The
//! resolver that finds them by MX (RFC 5321 §5.1) is in `mx.rs`, behind the `dns` feature.

use std::net::IpAddr;
use std::time::Duration;

use crate::domain::parse_ip_literal;

/// Settings for `NextHopResolver` (feature `dns`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NextHopOptions {
    /// Time allowed for one whole resolution (MX and the hosts' addresses). Default 10 s.
    pub timeout: Duration,
    /// Most hosts returned (and looked up). Default 10.
    pub max_hosts: usize,
    /// Most domains kept in the cache. Default 10,000. 0 turns the cache off.
    pub cache_entries: usize,
    /// Longest time an answer is cached, whatever its TTL. Default 1 day.
    pub max_ttl: Duration,
    /// How long "no such domain" is cached. Default 5 min.
    pub negative_ttl: Duration,
    /// Port for MX hosts and smart hosts without one. Default 25.
    pub port: u16,
    /// Seed for shuffling equal MX preferences; `None` seeds randomly. A fixed seed makes
    /// the order reproducible (tests).
    pub seed: Option<u64>,
}

impl Default for NextHopOptions {
    fn default() -> Self {
        NextHopOptions {
            timeout: Duration::from_secs(10),
            max_hosts: 10,
            cache_entries: 10_000,
            max_ttl: Duration::from_secs(86_400),
            negative_ttl: Duration::from_secs(300),
            port: 25,
            seed: None,
        }
    }
}

/// A smart host: `host`, `host:port`, `[ip]`, `[ip]:port` or a bare IPv4 address.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "config", derive(serde::Serialize))]
pub struct SmartHost {
    /// Host name or IP literal as written (brackets kept).
    pub host: String,
    /// Port, if given.
    pub port: Option<u16>,
}

impl SmartHost {
    /// Parses the text forms above; `None` if it is none of them.
    ///
    /// ```
    /// use postern_route::SmartHost;
    /// let h = SmartHost::parse("[192.0.2.1]:2525").unwrap();
    /// assert_eq!((h.host.as_str(), h.port), ("[192.0.2.1]", Some(2525)));
    /// assert_eq!(SmartHost::parse("relay.example.net").unwrap().port, None);
    /// assert!(SmartHost::parse("bad host").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<SmartHost> {
        let text = text.trim();
        let (host, port) = if text.starts_with('[') {
            let close = text.find(']')?;
            let (h, rest) = text.split_at(close + 1);
            parse_ip_literal(h)?;
            match rest {
                "" => (h, None),
                _ => (h, Some(rest.strip_prefix(':')?.parse().ok()?)),
            }
        } else {
            match text.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h, Some(p.parse().ok()?)),
                _ => (text, None),
            }
        };
        let ok_name = parse_ip_literal(host).is_some() || valid_domain(host);
        (ok_name && port != Some(0)).then(|| SmartHost {
            host: host.to_owned(),
            port,
        })
    }
}

/// Where the hosts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "config",
    derive(serde::Serialize),
    serde(rename_all = "kebab-case")
)]
#[non_exhaustive]
pub enum NextHopSource {
    /// The connector's smart-host list.
    SmartHost,
    /// The domain's MX records.
    Mx,
    /// No MX: the domain's own A/AAAA records (RFC 5321 §5.1 implicit MX).
    ImplicitMx,
    /// The domain is an address literal (`[192.0.2.1]`).
    IpLiteral,
}

/// One host to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "config", derive(serde::Serialize))]
pub struct NextHopHost {
    /// Host name (no trailing dot) or IP literal.
    pub name: String,
    /// TCP port.
    pub port: u16,
    /// MX preference (0 for implicit MX, literals and smart hosts).
    pub preference: u16,
    /// Its addresses; empty when the host's own lookup failed.
    pub addresses: Vec<IpAddr>,
}

/// The hosts to try for a domain, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "config", derive(serde::Serialize))]
pub struct NextHop {
    /// Where they came from.
    pub source: NextHopSource,
    /// The hosts, best first; at least one has addresses.
    pub hosts: Vec<NextHopHost>,
}

/// Why a domain has no next hop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NextHopError {
    /// Not a syntactically valid domain.
    #[error("invalid domain {0:?}")]
    InvalidDomain(String),
    /// The domain publishes a null MX (RFC 7505): it accepts no mail.
    #[error("domain accepts no mail (null MX)")]
    NullMx,
    /// NXDOMAIN.
    #[error("no such domain")]
    NoSuchDomain,
    /// The domain exists but has no MX and no A/AAAA.
    #[error("domain has no mail host")]
    NoMailHost,
    /// MX (or smart) hosts were found but none has an address.
    #[error("no address for any mail host")]
    NoAddresses,
    /// The lookup did not finish within [`NextHopOptions::timeout`].
    #[error("DNS lookup timed out")]
    Timeout,
    /// Any other DNS failure (SERVFAIL, refused, network).
    #[error("DNS failure: {0}")]
    Dns(String),
}

impl NextHopError {
    /// True when retrying later cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            NextHopError::InvalidDomain(_)
                | NextHopError::NullMx
                | NextHopError::NoSuchDomain
                | NextHopError::NoMailHost
        )
    }

    /// The SMTP reply code to report.
    pub fn reply_code(&self) -> u16 {
        if self.is_permanent() { 550 } else { 451 }
    }

    /// The enhanced status code (RFC 3463; 5.1.10 for null MX per RFC 7505).
    pub fn enhanced_code(&self) -> &'static str {
        match self {
            NextHopError::NullMx => "5.1.10",
            NextHopError::InvalidDomain(_)
            | NextHopError::NoSuchDomain
            | NextHopError::NoMailHost => "5.1.2",
            NextHopError::NoAddresses | NextHopError::Timeout | NextHopError::Dns(_) => "4.4.3",
        }
    }
}

/// Syntax check of a host or domain name: 1–253 bytes, labels of 1–63 bytes.
pub(crate) fn valid_domain(d: &str) -> bool {
    let d = d.strip_suffix('.').unwrap_or(d);
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && l.chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smart_host_forms() {
        let p = |s| SmartHost::parse(s);
        assert_eq!(p("relay.example.net:587").unwrap().port, Some(587));
        assert_eq!(p("192.0.2.1").unwrap().host, "192.0.2.1");
        assert_eq!(p("[IPv6:2001:db8::1]:25").unwrap().port, Some(25));
        assert_eq!(p("[2001:db8::1]").unwrap().port, None);
        for bad in [
            "",
            "a b",
            "relay:x",
            "relay:0",
            "[nope]",
            "[1.2.3.4]x",
            "-a.b",
        ] {
            assert!(p(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn error_codes() {
        assert_eq!(NextHopError::NullMx.enhanced_code(), "5.1.10");
        assert!(NextHopError::NullMx.is_permanent());
        assert_eq!(NextHopError::NullMx.reply_code(), 550);
        assert!(!NextHopError::Timeout.is_permanent());
        assert_eq!(NextHopError::Timeout.reply_code(), 451);
        assert_eq!(NextHopError::NoSuchDomain.enhanced_code(), "5.1.2");
    }

    #[test]
    fn domain_syntax() {
        assert!(valid_domain("example.com"));
        assert!(valid_domain("example.com."));
        assert!(!valid_domain("exa mple.com"));
        assert!(!valid_domain("a..b"));
        assert!(!valid_domain(&"a".repeat(64)));
        assert!(!valid_domain(""));
    }
}
