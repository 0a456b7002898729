//! The SMTP next hop: smart hosts, or MX per RFC 5321 §5.1 through hickory with an
//! explicitly configured name server (never the system resolver).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfig, NameServerConfigGroup, ResolveHosts, ResolverConfig,
    ResolverOpts,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{Name, ResolveError, TokioResolver};
use serde::Serialize;

use crate::cache::TtlCache;
use crate::domain::parse_ip_literal;
use crate::hash::mix;

/// Settings for [`NextHopResolver`].
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// What the cache keeps per domain: hosts sorted by preference but not yet shuffled, or a
/// permanent failure.
type Cached = Result<(NextHopSource, Vec<NextHopHost>), NextHopError>;

/// Finds the next hop for a domain. Holds a hickory resolver pointed at the given name
/// servers only, and a TTL cache. Share it (`Arc`) across tasks.
pub struct NextHopResolver {
    resolver: TokioResolver,
    opts: NextHopOptions,
    cache: Mutex<TtlCache<Cached>>,
    rng: Mutex<u64>,
}

impl std::fmt::Debug for NextHopResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NextHopResolver")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

/// Syntax check of a host or domain name: 1–253 bytes, labels of 1–63 bytes.
fn valid_domain(d: &str) -> bool {
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

impl NextHopResolver {
    /// A resolver that asks only `name_servers` (UDP, then TCP for truncated answers). It
    /// reads neither `/etc/resolv.conf` nor `/etc/hosts`.
    pub fn new(name_servers: &[SocketAddr], opts: NextHopOptions) -> NextHopResolver {
        let mut group = NameServerConfigGroup::with_capacity(name_servers.len() * 2);
        for &addr in name_servers {
            group.push(NameServerConfig::new(addr, Protocol::Udp));
            group.push(NameServerConfig::new(addr, Protocol::Tcp));
        }
        let config = ResolverConfig::from_parts(None, vec![], group);
        let mut ro = ResolverOpts::default();
        ro.timeout = opts.timeout;
        ro.attempts = 1;
        ro.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        ro.use_hosts_file = ResolveHosts::Never;
        ro.ndots = 0;
        let resolver =
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
                .with_options(ro)
                .build();
        let seed = opts
            .seed
            .unwrap_or_else(|| RandomState::new().hash_one(0x5eed_u64));
        NextHopResolver {
            resolver,
            cache: Mutex::new(TtlCache::new(opts.cache_entries)),
            rng: Mutex::new(seed),
            opts,
        }
    }

    /// The options in force.
    pub fn options(&self) -> &NextHopOptions {
        &self.opts
    }

    /// The hosts for mail to `domain`: an IP literal as is, else MX records sorted by
    /// preference with equal preferences shuffled, else the implicit MX. Answers are cached
    /// for their TTL.
    pub async fn resolve(&self, domain: &str) -> Result<NextHop, NextHopError> {
        let domain = domain.trim();
        if let Some(ip) = domain
            .starts_with('[')
            .then(|| parse_ip_literal(domain))
            .flatten()
        {
            return Ok(NextHop {
                source: NextHopSource::IpLiteral,
                hosts: vec![NextHopHost {
                    name: domain.to_owned(),
                    port: self.opts.port,
                    preference: 0,
                    addresses: vec![ip],
                }],
            });
        }
        if !valid_domain(domain) {
            return Err(NextHopError::InvalidDomain(domain.to_owned()));
        }
        let key = domain.trim_end_matches('.').to_lowercase();
        let cached = self.lock_cache().get(&key, Instant::now());
        let answer = match cached {
            Some(answer) => answer,
            None => {
                let fresh = tokio::time::timeout(self.opts.timeout, self.lookup_mx(&key))
                    .await
                    .unwrap_or(Err(NextHopError::Timeout));
                let now = Instant::now();
                let (answer, until) = match fresh {
                    Ok((answer, until)) => (answer, until),
                    Err(e @ NextHopError::NoSuchDomain) => (Err(e), now + self.opts.negative_ttl),
                    Err(e) => return Err(e),
                };
                let until = until.min(now + self.opts.max_ttl);
                self.lock_cache().insert(&key, answer.clone(), until, now);
                answer
            }
        };
        let (source, mut hosts) = answer?;
        self.shuffle_equal(&mut hosts);
        Ok(NextHop { source, hosts })
    }

    /// The smart hosts in the order given, each with its addresses.
    pub async fn resolve_smart_hosts(&self, hosts: &[SmartHost]) -> Result<NextHop, NextHopError> {
        let work = async {
            let mut out = Vec::new();
            for h in hosts.iter().take(self.opts.max_hosts) {
                let addresses = match parse_ip_literal(&h.host) {
                    Some(ip) => vec![ip],
                    None => self
                        .addresses(&h.host)
                        .await
                        .map(|(a, _)| a)
                        .unwrap_or_default(),
                };
                out.push(NextHopHost {
                    name: h.host.clone(),
                    port: h.port.unwrap_or(self.opts.port),
                    preference: 0,
                    addresses,
                });
            }
            out
        };
        let hosts = tokio::time::timeout(self.opts.timeout, work)
            .await
            .map_err(|_| NextHopError::Timeout)?;
        if hosts.iter().all(|h| h.addresses.is_empty()) {
            return Err(NextHopError::NoAddresses);
        }
        Ok(NextHop {
            source: NextHopSource::SmartHost,
            hosts,
        })
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, TtlCache<Cached>> {
        // A panic elsewhere while holding the lock leaves a usable cache: recover it.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn name(host: &str) -> Result<Name, NextHopError> {
        let fqdn = if host.ends_with('.') {
            host.to_owned()
        } else {
            format!("{host}.")
        };
        Name::from_utf8(&fqdn).map_err(|_| NextHopError::InvalidDomain(host.to_owned()))
    }

    /// A/AAAA for `host`, with the answer's expiry.
    async fn addresses(&self, host: &str) -> Result<(Vec<IpAddr>, Instant), ResolveError> {
        let name = Self::name(host).map_err(|e| ResolveError::from(e.to_string()))?;
        let lookup = self.resolver.lookup_ip(name).await?;
        Ok((lookup.iter().collect(), lookup.valid_until()))
    }

    /// The uncached MX resolution, with the instant its answer expires.
    async fn lookup_mx(&self, domain: &str) -> Result<(Cached, Instant), NextHopError> {
        let name = Self::name(domain)?;
        match self.resolver.mx_lookup(name).await {
            Ok(mx) => {
                let mut until = mx.valid_until();
                let mut records: Vec<(u16, String)> = mx
                    .iter()
                    .map(|r| {
                        let host = r.exchange().to_utf8();
                        (r.preference(), host.trim_end_matches('.').to_owned())
                    })
                    .collect();
                let had_null = records.iter().any(|(_, h)| h.is_empty());
                records.retain(|(_, h)| !h.is_empty());
                if records.is_empty() && had_null {
                    return Ok((Err(NextHopError::NullMx), until));
                }
                records.sort_by_key(|&(pref, _)| pref);
                records.truncate(self.opts.max_hosts);
                let mut hosts = Vec::with_capacity(records.len());
                for (preference, host) in records {
                    let addresses = match self.addresses(&host).await {
                        Ok((a, u)) => {
                            until = until.min(u);
                            a
                        }
                        Err(_) => Vec::new(),
                    };
                    hosts.push(NextHopHost {
                        name: host,
                        port: self.opts.port,
                        preference,
                        addresses,
                    });
                }
                if hosts.iter().all(|h| h.addresses.is_empty()) {
                    return Err(NextHopError::NoAddresses);
                }
                Ok((Ok((NextHopSource::Mx, hosts)), until))
            }
            Err(e) if e.is_nx_domain() => Err(NextHopError::NoSuchDomain),
            Err(e) if e.is_no_records_found() => self.implicit_mx(domain).await,
            Err(e) => Err(dns_error(&e)),
        }
    }

    /// RFC 5321 §5.1: no MX records, so the domain itself is the host.
    async fn implicit_mx(&self, domain: &str) -> Result<(Cached, Instant), NextHopError> {
        match self.addresses(domain).await {
            Ok((addresses, until)) if !addresses.is_empty() => {
                let host = NextHopHost {
                    name: domain.to_owned(),
                    port: self.opts.port,
                    preference: 0,
                    addresses,
                };
                Ok((Ok((NextHopSource::ImplicitMx, vec![host])), until))
            }
            Ok(_) => Err(NextHopError::NoMailHost),
            Err(e) if e.is_nx_domain() => Err(NextHopError::NoSuchDomain),
            Err(e) if e.is_no_records_found() => Err(NextHopError::NoMailHost),
            Err(e) => Err(dns_error(&e)),
        }
    }

    /// Shuffles each run of equal preference (RFC 5321 §5.1: spread load across them).
    fn shuffle_equal(&self, hosts: &mut [NextHopHost]) {
        let mut state = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        let mut start = 0;
        while start < hosts.len() {
            let pref = hosts[start].preference;
            let end = start
                + hosts[start..]
                    .iter()
                    .take_while(|h| h.preference == pref)
                    .count();
            // Fisher–Yates over hosts[start..end].
            for i in (start + 1..end).rev() {
                *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let j = start + (mix(*state) % (i - start + 1) as u64) as usize;
                hosts.swap(i, j);
            }
            start = end;
        }
    }
}

fn dns_error(e: &ResolveError) -> NextHopError {
    let timed_out = e
        .proto()
        .is_some_and(|p| matches!(p.kind(), hickory_resolver::proto::ProtoErrorKind::Timeout));
    if timed_out {
        NextHopError::Timeout
    } else {
        NextHopError::Dns(e.to_string())
    }
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
