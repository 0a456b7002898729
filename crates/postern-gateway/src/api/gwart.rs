//! `GET /api/v1/routing`: the live routing table as the Exchange Administrator showed
//! the GWART: every address space, its cost and connector, and whether that connector
//! is up now. Built from the configuration in force, so a reload shows at once.

use serde::{Deserialize, Serialize};

use super::model::Connector;
use crate::context::Context;

/// The table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingTable {
    /// The address spaces, cheapest first (then in file order).
    pub entries: Vec<RoutingEntry>,
    /// Every connector and whether it is up, in file order.
    pub connectors: Vec<Connector>,
}

/// One address space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingEntry {
    /// The address type (`SMTP`, `X400`, …).
    pub address_type: String,
    /// The pattern, as configured.
    pub pattern: String,
    /// Its cost (1 to 100; lower wins).
    pub cost: u32,
    /// Who may use it: `organization`, `site` or `location`.
    pub scope: String,
    /// The connector it leads to.
    pub connector: String,
    /// Whether that connector is up.
    pub up: bool,
}

/// The table in force now.
pub fn table(ctx: &Context) -> RoutingTable {
    let connectors = super::views::connectors(ctx);
    let up = |name: &str| connectors.iter().any(|c| c.name == name && c.up);
    let live = ctx.live();
    let mut entries: Vec<RoutingEntry> = live
        .config
        .routing
        .connectors
        .iter()
        .flat_map(|c| c.address_spaces.iter().map(move |s| (c, s)))
        .map(|(c, s)| RoutingEntry {
            address_type: s.address_type.clone(),
            pattern: s.pattern.clone(),
            cost: s.cost,
            scope: scope_name(s.scope).to_owned(),
            connector: c.name.clone(),
            up: up(&c.name),
        })
        .collect();
    // Stable: equal costs keep the file's order.
    entries.sort_by_key(|e| e.cost);
    RoutingTable {
        entries,
        connectors,
    }
}

fn scope_name(s: postern_route::Scope) -> &'static str {
    match s {
        postern_route::Scope::Site => "site",
        postern_route::Scope::Location => "location",
        _ => "organization",
    }
}
