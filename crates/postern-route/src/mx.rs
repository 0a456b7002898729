//! The SMTP next hop by MX per RFC 5321 §5.1, through hickory with an explicitly
//! configured name server (never the system resolver). Behind the `dns` feature.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfig, NameServerConfigGroup, ResolveHosts, ResolverConfig,
    ResolverOpts,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{Name, ResolveError, TokioResolver};

use crate::cache::TtlCache;
use crate::domain::parse_ip_literal;
use crate::hash::mix;
use crate::nexthop::{
    NextHop, NextHopError, NextHopHost, NextHopOptions, NextHopSource, SmartHost, valid_domain,
};

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
