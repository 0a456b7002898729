//! Resolution: from the entries that match an address to the ordered list of connectors to
//! try, in the order of Exchange 5.5's GWART rules (KB Q229961, Q193322, Q262952):
//!
//! 1. keep entries of the address's type whose scope admits the sender;
//! 2. rank by match quality (exact, then the wildcard with most literal characters, then
//!    type-only): a better match always comes before a cheaper, worse one;
//! 3. drop connectors the caller marks unavailable, and those already tried
//!    [`Connector::max_attempts`](crate::Connector::max_attempts) times for this message;
//! 4. within a quality, lowest cost first; cost 100 only after every other candidate;
//! 5. equal costs share load: a stable hash of the message id and the connector name orders
//!    them, so a message retries the same way and many messages spread;
//! 6. drop the connector the message arrived on (loop prevention).
//!
//! Worse matches stay in the list after better ones, so mail fails over to another
//! connector instead of being stranded when its best route is down (KB Q152919).

use std::cmp::Reverse;
use std::fmt;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::hash::{fnv1a, mix};
use crate::quality::MatchQuality;
use crate::table::{AddressError, ConnectorInfo, Hit, RoutingTable, Scope};

/// What to route: an address of a type, and the facts about the message that steer the
/// choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRequest<'a> {
    address_type: &'a str,
    address: &'a str,
    message_id: &'a str,
    arrived_on: Option<&'a str>,
    origin_site: Option<&'a str>,
    origin_location: Option<&'a str>,
}

impl<'a> RouteRequest<'a> {
    /// Routes `address` of type `address_type` (`SMTP`, `X400`, `MS`, or a custom name).
    pub fn new(address_type: &'a str, address: &'a str) -> RouteRequest<'a> {
        RouteRequest {
            address_type,
            address,
            message_id: "",
            arrived_on: None,
            origin_site: None,
            origin_location: None,
        }
    }

    /// Shorthand for an SMTP address. Routing refuses text that is not `local@domain`
    /// (`"not an address"`, `"@example.com"`, `"jo@"`) as [`Unroutable::InvalidAddress`]
    /// instead of sending it by the type-only entry `*`.
    pub fn smtp(address: &'a str) -> RouteRequest<'a> {
        RouteRequest::new("SMTP", address)
    }

    /// The message id: equal-cost connectors are ordered by its hash.
    pub fn message_id(mut self, id: &'a str) -> RouteRequest<'a> {
        self.message_id = id;
        self
    }

    /// The connector the message came in on; it is never a candidate.
    pub fn arrived_on(mut self, connector: &'a str) -> RouteRequest<'a> {
        self.arrived_on = Some(connector);
        self
    }

    /// Where the sender is: site- and location-scoped address spaces admit only senders in
    /// the connector's site (and location).
    pub fn origin(mut self, site: &'a str, location: Option<&'a str>) -> RouteRequest<'a> {
        self.origin_site = Some(site);
        self.origin_location = location;
        self
    }

    /// The address type.
    pub fn address_type(&self) -> &'a str {
        self.address_type
    }

    /// The address.
    pub fn address(&self) -> &'a str {
        self.address
    }
}

/// The caller's knowledge of its connectors: which are down or in open retry, and how often
/// the current message has been tried on each.
pub trait ConnectorState {
    /// False when the connector is down or in open retry. Default: available.
    fn is_available(&self, connector: &str) -> bool {
        let _ = connector;
        true
    }

    /// How many times this message has been tried on `connector`. Default: 0.
    fn attempts(&self, connector: &str) -> u32 {
        let _ = connector;
        0
    }
}

/// Every connector up, no attempts yet.
impl ConnectorState for () {}

/// A ready-made [`ConnectorState`]: a set of down connectors and per-connector attempts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectorStatus {
    down: FxHashSet<String>,
    attempts: FxHashMap<String, u32>,
}

impl ConnectorStatus {
    /// All up, no attempts.
    pub fn new() -> ConnectorStatus {
        ConnectorStatus::default()
    }

    /// Marks a connector down (or back up).
    pub fn set_down(&mut self, connector: &str, down: bool) -> &mut ConnectorStatus {
        if down {
            self.down.insert(connector.to_owned());
        } else {
            self.down.remove(connector);
        }
        self
    }

    /// Records how many times the message was tried on `connector`.
    pub fn set_attempts(&mut self, connector: &str, n: u32) -> &mut ConnectorStatus {
        self.attempts.insert(connector.to_owned(), n);
        self
    }
}

impl ConnectorState for ConnectorStatus {
    fn is_available(&self, connector: &str) -> bool {
        !self.down.contains(connector)
    }

    fn attempts(&self, connector: &str) -> u32 {
        self.attempts.get(connector).copied().unwrap_or(0)
    }
}

/// One connector to try, with the entry that put it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "config", derive(serde::Serialize))]
pub struct Candidate<'t> {
    /// The connector's name.
    pub connector: &'t str,
    /// The address type of the entry.
    pub address_type: &'t str,
    /// The entry's pattern as written.
    pub pattern: &'t str,
    /// The entry's cost.
    pub cost: u32,
    /// How well the entry matched.
    pub quality: MatchQuality,
}

/// The connectors to try, best first. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "config", derive(serde::Serialize))]
pub struct Route<'t> {
    /// The candidates, in the order to try them.
    pub candidates: Vec<Candidate<'t>>,
}

impl<'t> Route<'t> {
    /// The first choice.
    pub fn first(&self) -> &Candidate<'t> {
        &self.candidates[0]
    }

    /// The connector names in order.
    pub fn connectors(&self) -> impl Iterator<Item = &'t str> + '_ {
        self.candidates.iter().map(|c| c.connector)
    }
}

/// Why an address has no route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "config", derive(serde::Serialize))]
#[cfg_attr(
    feature = "config",
    serde(rename_all = "kebab-case", tag = "reason", content = "detail")
)]
#[non_exhaustive]
pub enum Unroutable {
    /// The address is not a valid address of its type (or is over the length limit).
    #[error("invalid address: {0}")]
    InvalidAddress(String),
    /// No address space of this type matches.
    #[error("no address space matches")]
    NoAddressSpace,
    /// Address spaces match, but none is open to this sender's site or location.
    #[error("no matching address space is in scope for this sender")]
    OutOfScope,
    /// Every matching connector is unavailable or has been tried too often.
    #[error("every matching connector is unavailable or tried the maximum times")]
    AllUnavailable,
    /// The only matching connector is the one the message arrived on.
    #[error("the only route is the connector the message arrived on (loop)")]
    Loop,
}

impl Unroutable {
    /// True when retrying later cannot help (everything but [`Unroutable::AllUnavailable`]).
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Unroutable::AllUnavailable)
    }

    /// The SMTP reply code for a sender of this address.
    pub fn reply_code(&self) -> u16 {
        if self.is_permanent() { 550 } else { 451 }
    }

    /// The enhanced status code (RFC 3463).
    pub fn enhanced_code(&self) -> &'static str {
        match self {
            Unroutable::InvalidAddress(_) => "5.1.3",
            Unroutable::NoAddressSpace | Unroutable::OutOfScope => "5.4.4",
            Unroutable::AllUnavailable => "4.4.4",
            Unroutable::Loop => "5.4.6",
        }
    }
}

/// Why an entry did or did not make the candidate list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "config", derive(serde::Serialize))]
#[cfg_attr(feature = "config", serde(rename_all = "kebab-case", tag = "verdict"))]
#[non_exhaustive]
pub enum Verdict {
    /// In the list at this zero-based position.
    Kept {
        /// Position in [`Route::candidates`].
        rank: usize,
    },
    /// The entry's scope does not admit this sender.
    OutOfScope,
    /// The caller marked the connector unavailable.
    Unavailable,
    /// The message was tried `attempts` times on the connector; the limit is `max`.
    MaxAttempts {
        /// Attempts so far.
        attempts: u32,
        /// The connector's limit.
        max: u32,
    },
    /// The connector is already in the list through a better entry.
    DuplicateConnector,
    /// The message arrived on this connector.
    ArrivedOn,
}

/// One matching entry and what became of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "config", derive(serde::Serialize))]
pub struct Considered<'t> {
    /// The entry.
    #[cfg_attr(feature = "config", serde(flatten))]
    pub entry: Candidate<'t>,
    /// Its scope.
    pub scope: Scope,
    /// What happened to it.
    #[cfg_attr(feature = "config", serde(flatten))]
    pub verdict: Verdict,
}

/// A routing decision with its reasons, for people (`Display`) and tools (`to_json`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "config", derive(serde::Serialize))]
pub struct Explanation<'t> {
    /// The address type asked for.
    pub address_type: String,
    /// The address asked for.
    pub address: String,
    /// The matching entries in ranked order, each with its verdict.
    pub considered: Vec<Considered<'t>>,
    /// Entries of the same type that did not match.
    pub not_matching: usize,
    /// The decision.
    #[cfg_attr(
        feature = "config",
        serde(flatten, serialize_with = "serialize_result")
    )]
    pub result: Result<Route<'t>, Unroutable>,
}

/// How the decision looks in JSON: `"outcome": "routed"` with the candidates, or
/// `"outcome": "unroutable"` with the reason and the SMTP codes.
#[cfg(feature = "config")]
#[derive(serde::Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
enum Outcome<'a, 't> {
    Routed {
        candidates: &'a [Candidate<'t>],
    },
    Unroutable {
        reason: String,
        reply_code: u16,
        enhanced_code: &'static str,
    },
}

#[cfg(feature = "config")]
fn serialize_result<S: serde::Serializer>(
    r: &Result<Route<'_>, Unroutable>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    match r {
        Ok(route) => Outcome::Routed {
            candidates: &route.candidates,
        },
        Err(u) => Outcome::Unroutable {
            reason: u.to_string(),
            reply_code: u.reply_code(),
            enhanced_code: u.enhanced_code(),
        },
    }
    .serialize(s)
}

#[cfg(feature = "config")]
impl Explanation<'_> {
    /// The explanation as one JSON object (feature `config`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

impl fmt::Display for Explanation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}:{}", self.address_type, self.address)?;
        match &self.result {
            Ok(route) => {
                let names: Vec<&str> = route.connectors().collect();
                writeln!(f, "route: {}", names.join(" -> "))?;
            }
            Err(u) => writeln!(
                f,
                "unroutable: {u} ({} {})",
                u.reply_code(),
                u.enhanced_code()
            )?,
        }
        for c in &self.considered {
            let e = &c.entry;
            let verdict = match c.verdict {
                Verdict::Kept { rank } => format!("kept #{}", rank + 1),
                Verdict::OutOfScope => "dropped: out of scope".into(),
                Verdict::Unavailable => "dropped: connector unavailable".into(),
                Verdict::MaxAttempts { attempts, max } => {
                    format!("dropped: tried {attempts} times (max {max})")
                }
                Verdict::DuplicateConnector => "dropped: connector already listed".into(),
                Verdict::ArrivedOn => "dropped: message arrived on it".into(),
            };
            let quality = match e.quality {
                MatchQuality::Exact => "exact".to_owned(),
                MatchQuality::Wildcard { literals } => format!("wildcard/{literals}"),
                MatchQuality::TypeOnly => "type-only".to_owned(),
            };
            writeln!(
                f,
                "  {:<20} {}:{:<30} cost {:>3}  {:<12} {:?}  {verdict}",
                e.connector, e.address_type, e.pattern, e.cost, quality, c.scope
            )?;
        }
        writeln!(
            f,
            "  ({} other {} entries did not match)",
            self.not_matching, self.address_type
        )
    }
}

const ZERO_HIT: Hit = Hit {
    entry: 0,
    quality: MatchQuality::TypeOnly,
};

/// Sort key: cost-100 entries last, better match first, cheaper first, then the load hash.
type Rank = (bool, Reverse<MatchQuality>, u32, u64, u32);

impl RoutingTable {
    /// The connectors to try for `req`, best first, or why there are none.
    ///
    /// ```
    /// use postern_route::{AddressSpace, Connector, ConnectorStatus, RouteRequest, RoutingTableBuilder};
    /// let mut b = RoutingTableBuilder::new();
    /// b.connector(Connector::new("home")).connector(Connector::new("other"));
    /// b.address_space(AddressSpace::new("home", "SMTP", "example.com"));
    /// b.address_space(AddressSpace::new("other", "SMTP", "*").cost(5));
    /// let table = b.build().unwrap();
    /// let mut state = ConnectorStatus::new();
    /// state.set_down("home", true);
    /// // The home route is down: the message fails over instead of waiting.
    /// let route = table.route(&RouteRequest::smtp("a@example.com"), &state).unwrap();
    /// assert_eq!(route.first().connector, "other");
    /// ```
    pub fn route<'t>(
        &'t self,
        req: &RouteRequest<'_>,
        state: &dyn ConnectorState,
    ) -> Result<Route<'t>, Unroutable> {
        self.decide(req, state, None)
    }

    /// Like [`RoutingTable::route`], with every matching entry and its verdict.
    pub fn explain<'t>(
        &'t self,
        req: &RouteRequest<'_>,
        state: &dyn ConnectorState,
    ) -> Explanation<'t> {
        let mut considered = Vec::new();
        let result = self.decide(req, state, Some(&mut considered));
        let ty = crate::AddressType::from_valid(req.address_type);
        let same_type = self.entries.iter().filter(|e| e.address_type == ty).count();
        Explanation {
            address_type: ty.to_string(),
            address: req.address.to_owned(),
            not_matching: same_type.saturating_sub(considered.len()),
            considered,
            result,
        }
    }

    fn decide<'t>(
        &'t self,
        req: &RouteRequest<'_>,
        state: &dyn ConnectorState,
        mut explain: Option<&mut Vec<Considered<'t>>>,
    ) -> Result<Route<'t>, Unroutable> {
        if crate::AddressType::from_valid(req.address_type) == crate::AddressType::Smtp {
            if let Some(why) = crate::pattern::smtp_address_problem(req.address) {
                return Err(Unroutable::InvalidAddress(why.to_owned()));
            }
        }
        let mut hits = Vec::with_capacity(8);
        self.collect(req.address_type, req.address, &mut hits)
            .map_err(|e| match e {
                AddressError::TooLong => Unroutable::InvalidAddress(format!(
                    "longer than {} bytes",
                    self.limits.max_address_len
                )),
                AddressError::X400(why) => Unroutable::InvalidAddress(why),
            })?;
        if hits.is_empty() {
            return Err(Unroutable::NoAddressSpace);
        }
        let msg_hash = fnv1a(req.message_id.as_bytes());
        // Rank each hit once (the sort compares inline keys, not table lookups); a few hits,
        // the usual case, are ranked on the stack.
        const STACK: usize = 16;
        let mut on_stack = [((false, Reverse(MatchQuality::TypeOnly), 0, 0, 0), ZERO_HIT); STACK];
        let mut on_heap = Vec::new();
        let ranked: &mut [(Rank, Hit)] = if hits.len() <= STACK {
            for (slot, &h) in on_stack.iter_mut().zip(&hits) {
                *slot = (self.rank(h, msg_hash), h);
            }
            &mut on_stack[..hits.len()]
        } else {
            on_heap.extend(hits.iter().map(|&h| (self.rank(h, msg_hash), h)));
            &mut on_heap
        };
        ranked.sort_unstable_by_key(|&(rank, _)| rank);

        let mut candidates: Vec<Candidate<'t>> = Vec::with_capacity(hits.len().min(8));
        // A connector is listed once, at its best entry. Few hits: compare with the list;
        // many: a bitmap over the connectors keeps this linear.
        let mut listed_map = if hits.len() > 32 {
            vec![false; self.connectors.len()]
        } else {
            Vec::new()
        };
        let (mut in_scope, mut arrived_only) = (false, true);
        for &(_, hit) in ranked.iter() {
            let entry = &self.entries[hit.entry as usize];
            let conn = &self.connectors[entry.connector as usize];
            let listed = match listed_map.get(entry.connector as usize) {
                Some(&seen) => seen,
                None => candidates
                    .iter()
                    .any(|c| std::ptr::eq(c.connector, &*conn.name)),
            };
            let verdict = if !in_scope_for(entry.scope, conn, req) {
                Verdict::OutOfScope
            } else if !state.is_available(&conn.name) {
                in_scope = true;
                arrived_only = false;
                Verdict::Unavailable
            } else if conn.max_attempts > 0 && state.attempts(&conn.name) >= conn.max_attempts {
                in_scope = true;
                arrived_only = false;
                Verdict::MaxAttempts {
                    attempts: state.attempts(&conn.name),
                    max: conn.max_attempts,
                }
            } else if listed {
                in_scope = true;
                Verdict::DuplicateConnector
            } else if req
                .arrived_on
                .is_some_and(|a| a.eq_ignore_ascii_case(&conn.name))
            {
                in_scope = true;
                Verdict::ArrivedOn
            } else {
                in_scope = true;
                arrived_only = false;
                if let Some(seen) = listed_map.get_mut(entry.connector as usize) {
                    *seen = true;
                }
                Verdict::Kept {
                    rank: candidates.len(),
                }
            };
            let candidate = Candidate {
                connector: &conn.name,
                address_type: entry.address_type.as_str(),
                pattern: &entry.text,
                cost: entry.cost,
                quality: hit.quality,
            };
            if let Verdict::Kept { .. } = verdict {
                candidates.push(candidate);
            }
            if let Some(out) = explain.as_deref_mut() {
                out.push(Considered {
                    entry: candidate,
                    scope: entry.scope,
                    verdict,
                });
            }
        }
        if !candidates.is_empty() {
            Ok(Route { candidates })
        } else if !in_scope {
            Err(Unroutable::OutOfScope)
        } else if arrived_only {
            Err(Unroutable::Loop)
        } else {
            Err(Unroutable::AllUnavailable)
        }
    }

    fn rank(&self, hit: Hit, msg_hash: u64) -> Rank {
        let entry = &self.entries[hit.entry as usize];
        let conn = &self.connectors[entry.connector as usize];
        (
            entry.cost >= 100,
            Reverse(hit.quality),
            entry.cost,
            mix(msg_hash ^ conn.name_hash),
            hit.entry,
        )
    }
}

fn same(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
}

fn in_scope_for(scope: Scope, conn: &ConnectorInfo, req: &RouteRequest<'_>) -> bool {
    match scope {
        Scope::Organization => true,
        Scope::Site => same(req.origin_site, conn.site.as_deref()),
        Scope::Location => {
            (conn.site.is_none() || same(req.origin_site, conn.site.as_deref()))
                && same(req.origin_location, conn.location.as_deref())
        }
    }
}
