//! The routing part of the postern config file (TOML): `[[connector]]` with their
//! `[[connector.address_space]]`, `[[domain]]` settings with `[domain_defaults]`, and
//! `[dns]`. Other top-level sections belong to other parts of postern and are ignored
//! here; unknown keys inside these sections are errors. `examples/postern.toml` documents
//! every key.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::{
    ContentFormat, Dequeue, DomainOverrides, DomainSettings, DomainTable, TlsPolicy,
};
use crate::error::ConfigError;
use crate::nexthop::{NextHopOptions, SmartHost};
use crate::pattern::split_smtp;
use crate::resolve::{ConnectorState, Explanation, RouteRequest};
use crate::table::{AddressSpace, Connector, RoutingTable, RoutingTableBuilder, Scope};

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    connector: Vec<ConnectorToml>,
    #[serde(default)]
    domain: Vec<DomainToml>,
    #[serde(default)]
    domain_defaults: Option<DomainToml>,
    #[serde(default)]
    dns: Option<DnsToml>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectorToml {
    name: String,
    kind: Option<String>,
    site: Option<String>,
    location: Option<String>,
    max_attempts: Option<u32>,
    smart_hosts: Option<Vec<String>>,
    inbound: Option<bool>,
    etrn_domains: Option<Vec<String>>,
    etrn_interval_secs: Option<u64>,
    #[serde(default)]
    address_space: Vec<SpaceToml>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpaceToml {
    #[serde(rename = "type", default = "smtp")]
    address_type: String,
    pattern: String,
    cost: Option<u32>,
    #[serde(default)]
    scope: Scope,
}

fn smtp() -> String {
    "SMTP".to_owned()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainToml {
    pattern: Option<String>,
    content_format: Option<ContentFormat>,
    charset: Option<String>,
    max_message_size: Option<u64>,
    tls: Option<TlsPolicy>,
    dequeue: Option<Dequeue>,
    non_mime_charset: Option<String>,
    unrepresentable: Option<crate::domain::Unrepresentable>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DnsToml {
    #[serde(default)]
    name_servers: Vec<String>,
    timeout_secs: Option<u64>,
    max_hosts: Option<usize>,
    cache_entries: Option<usize>,
    max_ttl_secs: Option<u64>,
    negative_ttl_secs: Option<u64>,
    port: Option<u16>,
}

/// How a connector finds the SMTP next hop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NextHopPolicy {
    /// MX lookup of the recipient's domain.
    Dns,
    /// These relays, in order.
    SmartHosts(Vec<SmartHost>),
}

/// A connector's delivery settings from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorConfig {
    /// The connector's name (as in the routing table).
    pub name: String,
    /// What kind of connector it is (`kind = "…"`, lower-cased; default `"smtp"`). The
    /// router does not interpret it: the application that delivers says which kinds it
    /// has (the postern gateway has `smtp` and `maildir`).
    pub kind: String,
    /// Smart hosts or DNS.
    pub next_hop: NextHopPolicy,
    /// The connector leads into the organisation (`inbound = true`; default false): the
    /// router does not interpret it, the application does (the postern gateway keeps
    /// delivering through such connectors in transfer mode `inbound`).
    pub inbound: bool,
    /// Domains to ask the connector's smart hosts for with `ETRN` (RFC 1985), for a
    /// site whose provider holds its mail (`etrn_domains`; default none). The router
    /// does not interpret it.
    pub etrn_domains: Vec<String>,
    /// How often to send them (`etrn_interval_secs`; besides at start and on demand).
    /// `None` (0, the default): at start and on demand only.
    pub etrn_interval: Option<std::time::Duration>,
    /// `site`, as written; default none.
    pub site: Option<String>,
    /// `location`, as written; default none.
    pub location: Option<String>,
    /// `max_attempts`; default [`Connector::DEFAULT_MAX_ATTEMPTS`].
    pub max_attempts: u32,
    /// The connector's `[[connector.address_space]]` entries, in file order.
    pub address_spaces: Vec<AddressSpaceConfig>,
}

/// One `[[connector.address_space]]` as the config gave it (defaults filled in), so the
/// file can be written back (`postern config check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressSpaceConfig {
    /// `type`; default `"SMTP"`.
    pub address_type: String,
    /// `pattern`.
    pub pattern: String,
    /// `cost`; default [`AddressSpace::DEFAULT_COST`].
    pub cost: u32,
    /// `scope`; default organization.
    pub scope: Scope,
}

/// The `[dns]` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsConfig {
    /// Name servers to ask (never the system's).
    pub name_servers: Vec<SocketAddr>,
    /// Resolver options.
    pub options: NextHopOptions,
}

/// The routing configuration, validated and compiled.
///
/// ```
/// use postern_route::{RouteRequest, RoutingConfig};
/// let cfg = RoutingConfig::from_toml_str(r#"
///     [[connector]]
///     name = "internet"
///     [[connector.address_space]]
///     pattern = "*"
/// "#).unwrap();
/// let route = cfg.table.route(&RouteRequest::smtp("a@example.com"), &()).unwrap();
/// assert_eq!(route.first().connector, "internet");
/// ```
#[derive(Debug, Clone)]
pub struct RoutingConfig {
    /// The compiled address-space table.
    pub table: RoutingTable,
    /// Per-domain settings.
    pub domains: DomainTable,
    /// Each connector's next-hop policy, in file order.
    pub connectors: Vec<ConnectorConfig>,
    /// DNS settings.
    pub dns: DnsConfig,
}

fn toml_error(e: toml::de::Error) -> ConfigError {
    ConfigError::Toml(e.to_string().trim_end().to_owned())
}

impl RoutingConfig {
    /// Parses and validates the routing sections of a config file.
    pub fn from_toml_str(text: &str) -> Result<RoutingConfig, ConfigError> {
        let file: File = toml::from_str(text).map_err(toml_error)?;
        let mut builder = RoutingTableBuilder::new();
        let mut connectors = Vec::with_capacity(file.connector.len());
        for c in &file.connector {
            let mut conn = Connector::new(c.name.clone());
            if let Some(site) = &c.site {
                conn = conn.site(site.clone());
            }
            if let Some(location) = &c.location {
                conn = conn.location(location.clone());
            }
            if let Some(n) = c.max_attempts {
                conn = conn.max_attempts(n);
            }
            builder.connector(conn);
            for s in &c.address_space {
                builder.address_space(
                    AddressSpace::new(c.name.clone(), s.address_type.clone(), s.pattern.clone())
                        .cost(s.cost.unwrap_or(AddressSpace::DEFAULT_COST))
                        .scope(s.scope),
                );
            }
            connectors.push(ConnectorConfig {
                name: c.name.trim().to_owned(),
                kind: c
                    .kind
                    .as_deref()
                    .map_or_else(|| "smtp".to_owned(), |k| k.trim().to_ascii_lowercase()),
                next_hop: next_hop_policy(c)?,
                inbound: c.inbound.unwrap_or(false),
                etrn_domains: etrn_domains(c)?,
                etrn_interval: c
                    .etrn_interval_secs
                    .filter(|&n| n > 0)
                    .map(std::time::Duration::from_secs),
                site: c.site.clone(),
                location: c.location.clone(),
                max_attempts: c.max_attempts.unwrap_or(Connector::DEFAULT_MAX_ATTEMPTS),
                address_spaces: c
                    .address_space
                    .iter()
                    .map(|s| AddressSpaceConfig {
                        address_type: s.address_type.clone(),
                        pattern: s.pattern.clone(),
                        cost: s.cost.unwrap_or(AddressSpace::DEFAULT_COST),
                        scope: s.scope,
                    })
                    .collect(),
            });
        }
        let table = builder.build()?;
        Ok(RoutingConfig {
            table,
            domains: domain_table(&file)?,
            connectors,
            dns: dns_config(file.dns)?,
        })
    }

    /// The delivery settings of connector `name`.
    pub fn connector(&self, name: &str) -> Option<&ConnectorConfig> {
        self.connectors.iter().find(|c| c.name == name)
    }

    /// A next-hop resolver for the `[dns]` name servers, or `None` when none are set
    /// (features `config` and `dns`).
    #[cfg(feature = "dns")]
    pub fn next_hop_resolver(&self) -> Option<crate::NextHopResolver> {
        (!self.dns.name_servers.is_empty())
            .then(|| crate::NextHopResolver::new(&self.dns.name_servers, self.dns.options.clone()))
    }
}

/// Everything `postern route test` shows for one address: the routing decision with its
/// explanation, the per-domain settings of an SMTP address's domain, and how the first
/// connector finds its next hop.
#[derive(Debug, Clone, Serialize)]
pub struct RouteReport<'t> {
    /// The decision and its reasons.
    pub explanation: Explanation<'t>,
    /// The SMTP domain, if the address has one.
    pub domain: Option<String>,
    /// Its effective per-domain settings.
    pub domain_settings: Option<DomainSettings>,
    /// The first candidate connector's next-hop policy (an `smtp` connector's only).
    pub next_hop: Option<NextHopPolicy>,
    /// The first candidate connector's kind (`smtp`, `maildir`, …).
    pub connector_kind: Option<String>,
}

impl RouteReport<'_> {
    /// True when the address has a route.
    pub fn is_routed(&self) -> bool {
        self.explanation.result.is_ok()
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

impl std::fmt::Display for RouteReport<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.explanation)?;
        if let Some(kind) = self.connector_kind.as_deref().filter(|k| *k != "smtp") {
            // Not SMTP: the application delivers it itself (Maildir: local delivery).
            writeln!(
                f,
                "next hop: local delivery (connector kind \"{kind}\"), no SMTP"
            )?;
        }
        if let Some(policy) = &self.next_hop {
            match policy {
                NextHopPolicy::Dns => writeln!(f, "next hop: DNS MX of the recipient domain")?,
                NextHopPolicy::SmartHosts(hosts) => {
                    let list: Vec<String> = hosts
                        .iter()
                        .map(|h| match h.port {
                            Some(p) => format!("{}:{p}", h.host),
                            None => h.host.clone(),
                        })
                        .collect();
                    writeln!(f, "next hop: smart hosts {}", list.join(", "))?
                }
            }
        }
        if let (Some(d), Some(s)) = (&self.domain, &self.domain_settings) {
            let size = s
                .max_message_size
                .map_or("no limit".to_owned(), |n| format!("{n} bytes"));
            writeln!(
                f,
                "domain {d}: content {:?}, charset {}, max size {size}, tls {:?}, dequeue {:?}",
                s.content_format, s.charset, s.tls, s.dequeue
            )?;
            writeln!(
                f,
                "domain {d}: non-MIME charset {}, unrepresentable characters: {:?}",
                s.non_mime_charset, s.unrepresentable
            )?;
        }
        Ok(())
    }
}

impl RoutingConfig {
    /// Routes `req` and gathers what an administrator wants to see about it.
    pub fn report<'t>(
        &'t self,
        req: &RouteRequest<'_>,
        state: &dyn ConnectorState,
    ) -> RouteReport<'t> {
        let explanation = self.table.explain(req, state);
        let domain = crate::AddressType::from_valid(req.address_type())
            .eq(&crate::AddressType::Smtp)
            .then(|| split_smtp(req.address()).1)
            .filter(|d| !d.is_empty())
            .map(str::to_owned);
        let domain_settings = domain.as_deref().map(|d| self.domains.lookup(d));
        let first = explanation
            .result
            .as_ref()
            .ok()
            .and_then(|r| self.connector(r.first().connector));
        let next_hop = first
            .filter(|c| c.kind == "smtp")
            .map(|c| c.next_hop.clone());
        RouteReport {
            explanation,
            domain,
            domain_settings,
            next_hop,
            connector_kind: first.map(|c| c.kind.clone()),
        }
    }
}

/// The `etrn_domains` of a connector: domain names, sent to its smart hosts.
fn etrn_domains(c: &ConnectorToml) -> Result<Vec<String>, ConfigError> {
    let Some(list) = &c.etrn_domains else {
        return Ok(Vec::new());
    };
    if c.smart_hosts.is_none() {
        return Err(ConfigError::Value {
            key: format!("connector {:?}: etrn_domains", c.name),
            why: "needs smart_hosts (the hosts that hold the mail)",
        });
    }
    let ok = |d: &str| {
        !d.is_empty()
            && d.len() <= 255
            && d.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._@#".contains(&b))
    };
    if list.iter().any(|d| !ok(d.trim())) {
        return Err(ConfigError::Value {
            key: format!("connector {:?}: etrn_domains", c.name),
            why: "not a domain name (letters, digits, - and .; RFC 1985 @ and # prefixes)",
        });
    }
    Ok(list.iter().map(|d| d.trim().to_ascii_lowercase()).collect())
}

fn next_hop_policy(c: &ConnectorToml) -> Result<NextHopPolicy, ConfigError> {
    let Some(list) = &c.smart_hosts else {
        return Ok(NextHopPolicy::Dns);
    };
    if list.is_empty() {
        return Err(ConfigError::Value {
            key: format!("connector {:?}: smart_hosts", c.name),
            why: "empty list (leave the key out to use DNS)",
        });
    }
    list.iter()
        .map(|h| {
            SmartHost::parse(h).ok_or_else(|| ConfigError::SmartHost {
                connector: c.name.clone(),
                host: h.clone(),
            })
        })
        .collect::<Result<_, _>>()
        .map(NextHopPolicy::SmartHosts)
}

fn overrides(d: &DomainToml) -> DomainOverrides {
    DomainOverrides {
        content_format: d.content_format,
        charset: d.charset.clone(),
        max_message_size: d.max_message_size,
        tls: d.tls,
        dequeue: d.dequeue,
        non_mime_charset: d.non_mime_charset.clone(),
        unrepresentable: d.unrepresentable,
    }
}

fn domain_table(file: &File) -> Result<DomainTable, ConfigError> {
    let mut defaults = DomainSettings::default();
    if let Some(d) = &file.domain_defaults {
        if d.pattern.is_some() {
            return Err(ConfigError::Value {
                key: "domain_defaults.pattern".into(),
                why: "the defaults have no pattern",
            });
        }
        let o = overrides(d);
        defaults.content_format = o.content_format.unwrap_or(defaults.content_format);
        defaults.charset = o.charset.unwrap_or(defaults.charset);
        defaults.max_message_size = o.max_message_size.filter(|&n| n > 0);
        defaults.tls = o.tls.unwrap_or(defaults.tls);
        defaults.dequeue = o.dequeue.unwrap_or(defaults.dequeue);
        defaults.non_mime_charset = o.non_mime_charset.unwrap_or(defaults.non_mime_charset);
        defaults.unrepresentable = o.unrepresentable.unwrap_or(defaults.unrepresentable);
    }
    let mut table = DomainTable::new(defaults);
    for d in &file.domain {
        let pattern = d.pattern.as_deref().ok_or(ConfigError::Value {
            key: "domain.pattern".into(),
            why: "every [[domain]] needs a pattern",
        })?;
        table.insert(pattern, overrides(d))?;
    }
    Ok(table)
}

fn dns_config(dns: Option<DnsToml>) -> Result<DnsConfig, ConfigError> {
    let Some(dns) = dns else {
        return Ok(DnsConfig::default());
    };
    let name_servers = dns
        .name_servers
        .iter()
        .map(|s| {
            s.parse::<SocketAddr>()
                .map_err(|_| ConfigError::NameServer(s.clone()))
        })
        .collect::<Result<_, _>>()?;
    let mut options = NextHopOptions::default();
    if let Some(t) = dns.timeout_secs {
        if t == 0 {
            return Err(ConfigError::Value {
                key: "dns.timeout_secs".into(),
                why: "must be at least 1",
            });
        }
        options.timeout = Duration::from_secs(t);
    }
    if let Some(n) = dns.max_hosts {
        if n == 0 {
            return Err(ConfigError::Value {
                key: "dns.max_hosts".into(),
                why: "must be at least 1",
            });
        }
        options.max_hosts = n;
    }
    options.cache_entries = dns.cache_entries.unwrap_or(options.cache_entries);
    options.max_ttl = dns
        .max_ttl_secs
        .map_or(options.max_ttl, Duration::from_secs);
    options.negative_ttl = dns
        .negative_ttl_secs
        .map_or(options.negative_ttl, Duration::from_secs);
    options.port = dns.port.unwrap_or(options.port);
    Ok(DnsConfig {
        name_servers,
        options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RouteRequest;

    #[test]
    fn etrn_domains_need_smart_hosts() {
        let cfg = RoutingConfig::from_toml_str(
            "[[connector]]\nname = \"isp\"\nsmart_hosts = [\"[192.0.2.1]\"]\n\
             etrn_domains = [\"Dialup.Example\"]\netrn_interval_secs = 600\n",
        )
        .unwrap();
        let c = cfg.connector("isp").unwrap();
        assert_eq!(c.etrn_domains, ["dialup.example"]);
        assert_eq!(c.etrn_interval, Some(std::time::Duration::from_secs(600)));
        let err = RoutingConfig::from_toml_str(
            "[[connector]]\nname = \"mx\"\netrn_domains = [\"a.example\"]\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("etrn_domains"), "{err}");
        let err = RoutingConfig::from_toml_str(
            "[[connector]]\nname = \"isp\"\nsmart_hosts = [\"h\"]\netrn_domains = [\"a b\"]\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("etrn_domains"), "{err}");
    }

    #[test]
    fn route_report_says_local_delivery_for_maildir() {
        let cfg = RoutingConfig::from_toml_str(
            "[[connector]]\nname = \"local\"\nkind = \"maildir\"\n\
             [[connector.address_space]]\npattern = \"local.test\"\n\
             [[connector]]\nname = \"out\"\n[[connector.address_space]]\npattern = \"*\"\n",
        )
        .unwrap();
        let text = cfg
            .report(&RouteRequest::smtp("jo@local.test"), &())
            .to_string();
        assert!(text.contains("next hop: local delivery"), "{text}");
        assert!(!text.contains("DNS MX"), "{text}");
        let text = cfg
            .report(&RouteRequest::smtp("jo@far.test"), &())
            .to_string();
        assert!(text.contains("next hop: DNS MX"), "{text}");
    }

    #[test]
    fn full_config() {
        let cfg = RoutingConfig::from_toml_str(
            r#"
            [server]            # another part of postern: ignored here
            listen = "127.0.0.1:2525"

            [dns]
            name_servers = ["127.0.0.1:5353"]
            timeout_secs = 3
            max_hosts = 4

            [domain_defaults]
            charset = "utf-8"

            [[domain]]
            pattern = "*.legacy.example"
            content_format = "uuencode"
            max_message_size = 1000

            [[connector]]
            name = "relay"
            site = "hq"
            smart_hosts = ["relay.example.net:587", "[192.0.2.7]"]
            [[connector.address_space]]
            type = "smtp"
            pattern = "*"
            cost = 50
            scope = "site"

            [[connector]]
            name = "direct"
            max_attempts = 5
            [[connector.address_space]]
            pattern = "*.legacy.example"
            "#,
        )
        .unwrap();
        assert_eq!(cfg.table.len(), 2);
        assert_eq!(cfg.dns.options.max_hosts, 4);
        assert_eq!(cfg.dns.name_servers, ["127.0.0.1:5353".parse().unwrap()]);
        let s = cfg.domains.lookup("a.legacy.example");
        assert_eq!(s.content_format, ContentFormat::Uuencode);
        assert_eq!(s.charset, "utf-8");
        assert_eq!(s.max_message_size, Some(1000));
        assert!(matches!(
            cfg.connector("relay").unwrap().next_hop,
            NextHopPolicy::SmartHosts(ref h) if h.len() == 2
        ));
        assert_eq!(
            cfg.connector("direct").unwrap().next_hop,
            NextHopPolicy::Dns
        );
        let req = RouteRequest::smtp("x@a.legacy.example").origin("hq", None);
        let order: Vec<_> = cfg.table.route(&req, &()).unwrap().connectors().collect();
        assert_eq!(order, ["direct", "relay"]);
        assert!(cfg.next_hop_resolver().is_some());
    }

    #[test]
    fn errors_name_the_problem() {
        let err = |s: &str| RoutingConfig::from_toml_str(s).unwrap_err().to_string();
        assert!(err("[[connector]]\nname = \"a\"\ncolour = 1").contains("colour"));
        assert!(
            err("[[connector]]\nname = \"a\"\n[[connector.address_space]]\npattern = \"a..b\"")
                .contains("a..b")
        );
        assert!(
            err("[[connector]]\nname = \"a\"\nsmart_hosts = [\"bad host\"]").contains("bad host")
        );
        assert!(err("[dns]\nname_servers = [\"localhost\"]").contains("localhost"));
        assert!(err("[[domain]]\ncharset = \"x\"").contains("pattern"));
        assert!(err("[[domain]]\npattern = \"a..b\"").contains("a..b"));
        assert!(err("[[connector]]\nname = \"a\"\n[[connector.address_space]]\npattern = \"*\"\ncost = 0").contains("cost"));
    }

    #[test]
    fn empty_config_is_valid() {
        let cfg = RoutingConfig::from_toml_str("").unwrap();
        assert!(cfg.table.is_empty());
        assert!(cfg.next_hop_resolver().is_none());
    }
}
