//! The compiled routing table: connectors, their address spaces, and the indexes that make
//! a lookup cost grow with the address, not with the number of entries.
//!
//! SMTP patterns of the domain forms sit in a trie keyed by reversed domain labels
//! (`com` → `example` → `mail`); full addresses sit in a hash map; the remaining general
//! wildcards and the type-only entries are kept in short lists that every lookup scans.
//! Other types index their literal patterns by hash and scan their wildcard patterns.

use rustc_hash::FxHashMap;

use crate::address_type::AddressType;
use crate::error::{PatternError, TableError};
use crate::hash::fnv1a;
use crate::limits::Limits;
use crate::pattern::{AddressPattern, PatternKind, split_smtp};
use crate::quality::MatchQuality;
// The scope lives in its own leaf module so that `error` can name it without importing
// the table (which imports `error`).
pub use crate::scope::Scope;
use crate::x400::OrAddress;

/// A connector: a way out that owns address spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connector {
    pub(crate) name: String,
    pub(crate) site: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) max_attempts: u32,
}

impl Connector {
    /// Default for [`Connector::max_attempts`]: 3 tries for one message before the router
    /// moves it to the next candidate.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

    /// A connector in no particular site, with the default attempt limit.
    pub fn new(name: impl Into<String>) -> Connector {
        Connector {
            name: name.into(),
            site: None,
            location: None,
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
        }
    }

    /// Sets the site the connector is in (needed by site- and location-scoped spaces).
    pub fn site(mut self, site: impl Into<String>) -> Connector {
        self.site = Some(site.into());
        self
    }

    /// Sets the location the connector is in (needed by location-scoped spaces).
    pub fn location(mut self, location: impl Into<String>) -> Connector {
        self.location = Some(location.into());
        self
    }

    /// How many times one message may be tried on this connector before the router drops it
    /// from that message's candidates (0 means no limit).
    pub fn max_attempts(mut self, n: u32) -> Connector {
        self.max_attempts = n;
        self
    }

    /// The connector's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// One address-space entry: this connector takes addresses of this type matching this
/// pattern, at this cost, for senders within this scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressSpace {
    pub(crate) connector: String,
    pub(crate) address_type: String,
    pub(crate) pattern: String,
    pub(crate) cost: u32,
    pub(crate) scope: Scope,
}

impl AddressSpace {
    /// The cost Exchange gives a new address space.
    pub const DEFAULT_COST: u32 = 1;

    /// An organization-wide address space of cost 1.
    pub fn new(
        connector: impl Into<String>,
        address_type: impl Into<String>,
        pattern: impl Into<String>,
    ) -> AddressSpace {
        AddressSpace {
            connector: connector.into(),
            address_type: address_type.into(),
            pattern: pattern.into(),
            cost: Self::DEFAULT_COST,
            scope: Scope::Organization,
        }
    }

    /// Sets the cost, 1 (preferred) to 100 (used only when nothing else works).
    pub fn cost(mut self, cost: u32) -> AddressSpace {
        self.cost = cost;
        self
    }

    /// Sets the scope.
    pub fn scope(mut self, scope: Scope) -> AddressSpace {
        self.scope = scope;
        self
    }
}

/// Collects connectors and address spaces, then compiles them into a [`RoutingTable`].
///
/// ```
/// use postern_route::{AddressSpace, Connector, RouteRequest, RoutingTableBuilder};
/// let mut b = RoutingTableBuilder::new();
/// b.connector(Connector::new("internet"));
/// b.connector(Connector::new("partner"));
/// b.address_space(AddressSpace::new("internet", "SMTP", "*").cost(10));
/// b.address_space(AddressSpace::new("partner", "SMTP", "partner.example"));
/// let table = b.build().unwrap();
/// let route = table.route(&RouteRequest::new("SMTP", "jo@partner.example"), &()).unwrap();
/// let order: Vec<&str> = route.connectors().collect();
/// assert_eq!(order, ["partner", "internet"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct RoutingTableBuilder {
    limits: Limits,
    connectors: Vec<Connector>,
    spaces: Vec<AddressSpace>,
}

impl RoutingTableBuilder {
    /// An empty builder with the default [`Limits`].
    pub fn new() -> RoutingTableBuilder {
        RoutingTableBuilder::default()
    }

    /// An empty builder with the given limits.
    pub fn with_limits(limits: Limits) -> RoutingTableBuilder {
        RoutingTableBuilder {
            limits,
            ..RoutingTableBuilder::default()
        }
    }

    /// Adds a connector.
    pub fn connector(&mut self, connector: Connector) -> &mut RoutingTableBuilder {
        self.connectors.push(connector);
        self
    }

    /// Adds an address space; its connector must be added too (before or after).
    pub fn address_space(&mut self, space: AddressSpace) -> &mut RoutingTableBuilder {
        self.spaces.push(space);
        self
    }

    /// Validates everything and compiles the table.
    pub fn build(&self) -> Result<RoutingTable, TableError> {
        let limits = self.limits;
        check_size("connectors", self.connectors.len(), limits.max_connectors)?;
        check_size("address spaces", self.spaces.len(), limits.max_entries)?;
        let mut table = RoutingTable {
            limits,
            connectors: Vec::with_capacity(self.connectors.len()),
            connector_index: FxHashMap::default(),
            entries: Vec::with_capacity(self.spaces.len()),
            smtp: SmtpIndex::new(),
            x400: TypeIndex::default(),
            other: FxHashMap::default(),
        };
        for c in &self.connectors {
            table.add_connector(c)?;
        }
        for s in &self.spaces {
            table.add_space(s)?;
        }
        Ok(table)
    }
}

fn check_size(what: &'static str, n: usize, max: usize) -> Result<(), TableError> {
    if n > max {
        return Err(TableError::TooLarge { what, max });
    }
    Ok(())
}

/// A connector as compiled into the table.
#[derive(Debug, Clone)]
pub(crate) struct ConnectorInfo {
    pub(crate) name: Box<str>,
    pub(crate) site: Option<Box<str>>,
    pub(crate) location: Option<Box<str>>,
    pub(crate) max_attempts: u32,
    /// Stable hash of the name, mixed with the message id to share load.
    pub(crate) name_hash: u64,
}

/// An address space as compiled into the table.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) address_type: AddressType,
    /// The pattern as the administrator wrote it.
    pub(crate) text: Box<str>,
    pub(crate) pattern: AddressPattern,
    pub(crate) cost: u32,
    pub(crate) scope: Scope,
    pub(crate) connector: u32,
}

/// A matching entry and how well it matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) entry: u32,
    pub(crate) quality: MatchQuality,
}

/// A compiled, immutable routing table. Build it with [`RoutingTableBuilder`] (or from a
/// config file with `RoutingConfig`, feature `config`); query it with
/// [`RoutingTable::route`] and [`RoutingTable::explain`]. Cheap to share across threads.
#[derive(Debug, Clone)]
pub struct RoutingTable {
    pub(crate) limits: Limits,
    pub(crate) connectors: Vec<ConnectorInfo>,
    connector_index: FxHashMap<Box<str>, u32>,
    pub(crate) entries: Vec<Entry>,
    smtp: SmtpIndex,
    x400: TypeIndex,
    /// MS and custom types, keyed by uppercase type name.
    other: FxHashMap<Box<str>, TypeIndex>,
}

#[derive(Debug, Clone, Default)]
struct TypeIndex {
    /// Lowercase literal address → entries with that exact pattern.
    exact: FxHashMap<Box<str>, Vec<u32>>,
    /// Wildcard patterns, scanned.
    scan: Vec<u32>,
    type_only: Vec<u32>,
}

#[derive(Debug, Clone)]
struct SmtpIndex {
    /// Node 0 is the root (the empty suffix).
    nodes: Vec<Node>,
    /// `local@domain`, lowercase bytes → entries.
    addresses: FxHashMap<Box<[u8]>, Vec<u32>>,
    scan: Vec<u32>,
    type_only: Vec<u32>,
}

/// A trie node: one domain suffix (`example.com`), keyed from its parent by its label.
/// Keys are lowercase bytes, so a lookup never has to re-validate UTF-8.
#[derive(Debug, Clone, Default)]
struct Node {
    /// Children by label (lowercase bytes).
    children: FxHashMap<Box<[u8]>, u32>,
    /// Characters in the suffix this node stands for (for match quality).
    chars: u32,
    /// `*@suffix`.
    domain: Vec<u32>,
    /// `*@*.suffix`.
    subdomains: Vec<u32>,
    /// `glob@suffix`.
    local_globs: Vec<u32>,
}

impl Node {
    fn child(&self, label: &[u8]) -> Option<u32> {
        self.children.get(label).copied()
    }

    fn add_child(&mut self, label: &[u8], child: u32) {
        self.children.insert(label.into(), child);
    }
}

impl SmtpIndex {
    fn new() -> SmtpIndex {
        SmtpIndex {
            nodes: vec![Node::default()],
            addresses: FxHashMap::default(),
            scan: Vec::new(),
            type_only: Vec::new(),
        }
    }

    /// The node for `domain` (lowercase), created as needed.
    fn node_for(&mut self, domain: &str) -> usize {
        let mut node = 0usize;
        for label in domain.rsplit('.') {
            node = match self.nodes[node].child(label.as_bytes()) {
                Some(child) => child as usize,
                None => {
                    let child = self.nodes.len();
                    let dot = u32::from(node != 0);
                    let chars = self.nodes[node].chars + dot + label.chars().count() as u32;
                    self.nodes.push(Node {
                        chars,
                        ..Node::default()
                    });
                    self.nodes[node].add_child(label.as_bytes(), child as u32);
                    child
                }
            };
        }
        node
    }

    fn insert(&mut self, idx: u32, kind: &PatternKind) {
        match kind {
            PatternKind::TypeOnly => self.type_only.push(idx),
            PatternKind::SmtpAddress { local, domain } => self
                .addresses
                .entry(format!("{local}@{domain}").into_bytes().into())
                .or_default()
                .push(idx),
            PatternKind::SmtpDomain(d) => {
                let n = self.node_for(d);
                self.nodes[n].domain.push(idx);
            }
            PatternKind::SmtpSubdomains(d) => {
                let n = self.node_for(d);
                self.nodes[n].subdomains.push(idx);
            }
            PatternKind::SmtpLocalGlob { domain, .. } => {
                let n = self.node_for(domain);
                self.nodes[n].local_globs.push(idx);
            }
            _ => self.scan.push(idx),
        }
    }
}

/// Longest `local@domain` lowercased on the stack; longer ones go to the heap.
const KEY_BUF: usize = 512;

impl RoutingTable {
    fn add_connector(&mut self, c: &Connector) -> Result<(), TableError> {
        let name = c.name.trim();
        if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
            return Err(TableError::BadConnectorName(c.name.clone()));
        }
        let idx = u32::try_from(self.connectors.len()).map_err(|_| TableError::TooLarge {
            what: "connectors",
            max: self.limits.max_connectors,
        })?;
        if self.connector_index.insert(name.into(), idx).is_some() {
            return Err(TableError::DuplicateConnector(name.to_owned()));
        }
        self.connectors.push(ConnectorInfo {
            name: name.into(),
            site: c.site.as_deref().map(Into::into),
            location: c.location.as_deref().map(Into::into),
            max_attempts: c.max_attempts,
            name_hash: fnv1a(name.as_bytes()),
        });
        Ok(())
    }

    fn add_space(&mut self, s: &AddressSpace) -> Result<(), TableError> {
        let connector = *self
            .connector_index
            .get(s.connector.trim())
            .ok_or_else(|| TableError::UnknownConnector(s.connector.clone()))?;
        if !(1..=100).contains(&s.cost) {
            return Err(TableError::CostOutOfRange {
                connector: s.connector.clone(),
                cost: s.cost,
            });
        }
        let info = &self.connectors[connector as usize];
        let needs_place = match s.scope {
            Scope::Organization => false,
            Scope::Site => info.site.is_none(),
            Scope::Location => info.location.is_none(),
        };
        if needs_place {
            return Err(TableError::ScopeWithoutPlace {
                connector: s.connector.clone(),
                scope: s.scope,
            });
        }
        let address_type = AddressType::parse(&s.address_type)?;
        let pattern = AddressPattern::parse(&address_type, &s.pattern, &self.limits).map_err(
            |source: PatternError| TableError::Pattern {
                connector: s.connector.clone(),
                address_type: address_type.to_string(),
                pattern: s.pattern.clone(),
                source,
            },
        )?;
        let idx = self.entries.len() as u32;
        match &address_type {
            AddressType::Smtp => self.smtp.insert(idx, &pattern.kind),
            AddressType::X400 => match pattern.kind {
                PatternKind::TypeOnly => self.x400.type_only.push(idx),
                // X.400 patterns that name fewer attributes than an address still match it,
                // so even literal ones must be scanned.
                _ => self.x400.scan.push(idx),
            },
            other => {
                let index = self.other.entry(other.as_str().into()).or_default();
                match &pattern.kind {
                    PatternKind::TypeOnly => index.type_only.push(idx),
                    PatternKind::Exact(text) => {
                        index.exact.entry(text.clone()).or_default().push(idx)
                    }
                    _ => index.scan.push(idx),
                }
            }
        }
        self.entries.push(Entry {
            address_type,
            text: s.pattern.trim().into(),
            pattern,
            cost: s.cost,
            scope: s.scope,
            connector,
        });
        Ok(())
    }

    /// The limits the table was built with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Number of address spaces.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the table has no address spaces.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Names of the connectors, in the order they were added.
    pub fn connector_names(&self) -> impl Iterator<Item = &str> {
        self.connectors.iter().map(|c| &*c.name)
    }

    /// Appends every entry of type `address_type` that matches `address` to `out`.
    /// Fails only for an address that cannot be an address of that type.
    pub(crate) fn collect(
        &self,
        address_type: &str,
        address: &str,
        out: &mut Vec<Hit>,
    ) -> Result<(), AddressError> {
        if address.len() > self.limits.max_address_len {
            return Err(AddressError::TooLong);
        }
        match AddressType::from_valid(address_type) {
            AddressType::Smtp => self.collect_smtp(address, out),
            AddressType::X400 => {
                let addr = OrAddress::parse(address, &self.limits)
                    .map_err(|e| AddressError::X400(e.to_string()))?;
                for &i in &self.x400.scan {
                    if let PatternKind::X400(p) = &self.entries[i as usize].pattern.kind {
                        if let Some(quality) = p.matches(&addr) {
                            out.push(Hit { entry: i, quality });
                        }
                    }
                }
                push_all(out, &self.x400.type_only, MatchQuality::TypeOnly);
            }
            other => {
                if let Some(index) = self.other.get(other.as_str()) {
                    self.collect_generic(index, address, out);
                }
            }
        }
        Ok(())
    }

    fn collect_generic(&self, index: &TypeIndex, address: &str, out: &mut Vec<Hit>) {
        if !index.exact.is_empty() {
            if let Some(list) = index.exact.get(address.to_ascii_lowercase().as_str()) {
                push_all(out, list, MatchQuality::Exact);
            }
        }
        self.scan(&index.scan, address, out);
        push_all(out, &index.type_only, MatchQuality::TypeOnly);
    }

    fn scan(&self, list: &[u32], address: &str, out: &mut Vec<Hit>) {
        for &i in list {
            if let Some(quality) = self.entries[i as usize]
                .pattern
                .matches(address, &self.limits)
            {
                out.push(Hit { entry: i, quality });
            }
        }
    }

    fn collect_smtp(&self, address: &str, out: &mut Vec<Hit>) {
        let (local, domain) = split_smtp(address);
        // `local@domain`, lowercased on the stack: the exact-address key, with the domain
        // as its tail for the trie.
        let len = local.len() + 1 + domain.len();
        if len <= KEY_BUF {
            let mut buf = [0u8; KEY_BUF];
            self.collect_smtp_key(local, domain, &mut buf[..len], address, out);
        } else {
            let mut heap = vec![0u8; len];
            self.collect_smtp_key(local, domain, &mut heap, address, out);
        }
    }

    fn collect_smtp_key(
        &self,
        local: &str,
        domain: &str,
        key: &mut [u8],
        address: &str,
        out: &mut Vec<Hit>,
    ) {
        let split = local.len();
        key[..split].copy_from_slice(local.as_bytes());
        key[split] = b'@';
        key[split + 1..].copy_from_slice(domain.as_bytes());
        key.make_ascii_lowercase();
        let key: &[u8] = key;
        let lower_domain = &key[split + 1..];
        let idx = &self.smtp;
        if !lower_domain.is_empty() {
            self.walk_trie(local, lower_domain, out);
            if !idx.addresses.is_empty() {
                if let Some(list) = idx.addresses.get(key) {
                    push_all(out, list, MatchQuality::Exact);
                }
            }
        }
        // The general SMTP wildcards are all whole-address globs: match them directly
        // rather than through the reference matcher, which would split the address again.
        let whole = address.strip_suffix('.').unwrap_or(address);
        for &i in &idx.scan {
            if let PatternKind::Glob(g) = &self.entries[i as usize].pattern.kind {
                if g.matches(whole) {
                    let quality = MatchQuality::Wildcard {
                        literals: g.literal_count(),
                    };
                    out.push(Hit { entry: i, quality });
                }
            }
        }
        push_all(out, &idx.type_only, MatchQuality::TypeOnly);
    }

    /// Walks the reversed labels of `domain` (lowercase): every node passed before the last
    /// label offers its subdomain entries; the node for the whole domain offers its domain
    /// and local-part entries.
    fn walk_trie(&self, local: &str, domain: &[u8], out: &mut Vec<Hit>) {
        let nodes = &self.smtp.nodes;
        let mut node = &nodes[0];
        let mut end = domain.len();
        loop {
            let dot = domain[..end].iter().rposition(|&b| b == b'.');
            let label = &domain[dot.map_or(0, |d| d + 1)..end];
            let Some(child) = node.child(label) else {
                return;
            };
            node = &nodes[child as usize];
            match dot {
                Some(dot) => {
                    // A subdomain needs at least one byte before the dot: `.example.com`
                    // is no subdomain of `example.com` (found by fuzzing).
                    if dot > 0 && !node.subdomains.is_empty() {
                        let q = MatchQuality::Wildcard {
                            literals: node.chars.saturating_add(2),
                        };
                        push_all(out, &node.subdomains, q);
                    }
                    end = dot;
                }
                None => {
                    if !node.domain.is_empty() {
                        let q = MatchQuality::Wildcard {
                            literals: node.chars.saturating_add(1),
                        };
                        push_all(out, &node.domain, q);
                    }
                    for &i in &node.local_globs {
                        if let PatternKind::SmtpLocalGlob { local: g, .. } =
                            &self.entries[i as usize].pattern.kind
                        {
                            if g.matches(local) {
                                let literals = g
                                    .literal_count()
                                    .saturating_add(1)
                                    .saturating_add(node.chars);
                                out.push(Hit {
                                    entry: i,
                                    quality: MatchQuality::Wildcard { literals },
                                });
                            }
                        }
                    }
                    return;
                }
            }
        }
    }
}

fn push_all(out: &mut Vec<Hit>, list: &[u32], quality: MatchQuality) {
    out.extend(list.iter().map(|&entry| Hit { entry, quality }));
}

/// Why an address cannot be routed at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AddressError {
    TooLong,
    X400(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(spaces: &[(&str, &str, &str)]) -> RoutingTable {
        let mut b = RoutingTableBuilder::new();
        let mut seen = Vec::new();
        for (c, _, _) in spaces {
            if !seen.contains(c) {
                seen.push(*c);
                b.connector(Connector::new(*c));
            }
        }
        for (c, t, p) in spaces {
            b.address_space(AddressSpace::new(*c, *t, *p));
        }
        b.build().unwrap()
    }

    fn hits(t: &RoutingTable, ty: &str, addr: &str) -> Vec<(String, MatchQuality)> {
        let mut out = Vec::new();
        t.collect(ty, addr, &mut out).unwrap();
        let mut v: Vec<_> = out
            .iter()
            .map(|h| (t.entries[h.entry as usize].text.to_string(), h.quality))
            .collect();
        v.sort();
        v
    }

    /// The indexes find exactly what a scan with the reference matcher finds.
    fn agrees(t: &RoutingTable, ty: &str, addr: &str) {
        let mut want: Vec<(String, MatchQuality)> = t
            .entries
            .iter()
            .filter(|e| e.address_type == AddressType::from_valid(ty))
            .filter_map(|e| {
                e.pattern
                    .matches(addr, &t.limits)
                    .map(|q| (e.text.to_string(), q))
            })
            .collect();
        want.sort();
        assert_eq!(hits(t, ty, addr), want, "{ty} {addr}");
    }

    #[test]
    fn trie_finds_domain_forms() {
        let t = table(&[
            ("a", "SMTP", "example.com"),
            ("b", "SMTP", "*.example.com"),
            ("c", "SMTP", "mail.example.com"),
            ("d", "SMTP", "jo@mail.example.com"),
            ("e", "SMTP", "j%@mail.example.com"),
            ("f", "SMTP", "*@mail*.example.com"),
            ("g", "SMTP", "*"),
            ("h", "MS", "NET/PO/*"),
            ("i", "SMTP", "*.a-label-longer-than-23-bytes.example.com"),
        ]);
        for addr in [
            "jo@mail.example.com",
            "JO@Mail.Example.Com.",
            "x@example.com",
            "x@deep.mail.example.com",
            "x@mail2.example.com",
            "x@org",
            "nodomain",
            "a@",
            "a@.",
            "a@x..example.com",
            "é@ÉXAMPLE.com",
            "x@y.A-Label-Longer-Than-23-Bytes.example.com",
            "x@a-label-longer-than-23-bytes.example.com",
        ] {
            agrees(&t, "SMTP", addr);
        }
        assert_eq!(hits(&t, "SMTP", "jo@mail.example.com").len(), 6);
        assert_eq!(
            hits(&t, "SMTP", "x@y.A-Label-Longer-Than-23-Bytes.example.com").len(),
            3,
            "*.long…, *.example.com, *"
        );
        agrees(&t, "ms", "net/po/jo");
        assert!(hits(&t, "CCMAIL", "x").is_empty());
    }

    /// Fuzz regression (route_lookup crash-8c036529): an empty first label made the trie
    /// offer subdomain entries the reference matcher refuses.
    #[test]
    fn empty_leading_label_is_no_subdomain() {
        let t = table(&[
            ("a", "SMTP", "*"),
            ("b", "SMTP", "example.com"),
            ("c", "SMTP", "*.example.com"),
        ]);
        for addr in ["jo@.example.com", "jo@..example.com", "jo@x..example.com"] {
            agrees(&t, "SMTP", addr);
        }
        assert_eq!(hits(&t, "SMTP", "jo@.example.com").len(), 1);
    }

    #[test]
    fn build_errors() {
        let mut b = RoutingTableBuilder::new();
        b.connector(Connector::new("a"));
        b.address_space(AddressSpace::new("zz", "SMTP", "*"));
        assert!(matches!(b.build(), Err(TableError::UnknownConnector(_))));

        let mut b = RoutingTableBuilder::new();
        b.connector(Connector::new("a"))
            .connector(Connector::new("a"));
        assert!(matches!(b.build(), Err(TableError::DuplicateConnector(_))));

        for cost in [0, 101] {
            let mut b = RoutingTableBuilder::new();
            b.connector(Connector::new("a"));
            b.address_space(AddressSpace::new("a", "SMTP", "*").cost(cost));
            assert!(matches!(b.build(), Err(TableError::CostOutOfRange { .. })));
        }

        let mut b = RoutingTableBuilder::new();
        b.connector(Connector::new("a"));
        b.address_space(AddressSpace::new("a", "SMTP", "*").scope(Scope::Site));
        assert!(matches!(
            b.build(),
            Err(TableError::ScopeWithoutPlace { .. })
        ));

        let mut b = RoutingTableBuilder::new();
        b.connector(Connector::new("a"));
        b.address_space(AddressSpace::new("a", "SMTP", "a..b"));
        assert!(matches!(b.build(), Err(TableError::Pattern { .. })));

        let mut b = RoutingTableBuilder::with_limits(Limits {
            max_entries: 1,
            ..Limits::DEFAULT
        });
        b.connector(Connector::new("a"));
        b.address_space(AddressSpace::new("a", "SMTP", "*"));
        b.address_space(AddressSpace::new("a", "SMTP", "x"));
        assert!(matches!(b.build(), Err(TableError::TooLarge { .. })));
    }
}
