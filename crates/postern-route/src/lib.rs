//! # postern-route
//!
//! Address-space routing in the manner of the Exchange Gateway Address Routing Table
//! (GWART), per-domain delivery settings, and the SMTP next hop.
//!
//! Connectors own **address spaces**: an address type (`SMTP`, `X400`, `MS` or any custom
//! name), a pattern, a cost from 1 to 100 and a scope. A [`RoutingTable`] compiled from them
//! turns a recipient address into the ordered list of connectors to try
//! ([`RoutingTable::route`]), and can say why ([`RoutingTable::explain`]). Lookups cost
//! time in proportion to the address, not the number of address spaces.
//!
//! The crate depends on no other postern crate: strings in, strings out.
//!
//! ```
//! use postern_route::{AddressSpace, Connector, ConnectorStatus, RouteRequest, RoutingTableBuilder, Unroutable};
//!
//! let mut b = RoutingTableBuilder::new();
//! b.connector(Connector::new("ims-1"))
//!     .connector(Connector::new("ims-2"))
//!     .connector(Connector::new("x400-link"));
//! b.address_space(AddressSpace::new("ims-1", "SMTP", "*").cost(1))
//!     .address_space(AddressSpace::new("ims-2", "SMTP", "*").cost(1))
//!     .address_space(AddressSpace::new("x400-link", "X400", "c=US;p=Org;"));
//! let table = b.build()?;
//!
//! // Equal costs: the message id picks the order, the same way on every retry.
//! let req = RouteRequest::smtp("jo@example.com").message_id("<1@local>");
//! let first = table.route(&req, &())?.first().connector;
//! assert_eq!(table.route(&req, &())?.first().connector, first);
//!
//! // Never back out through the connector the message came in on.
//! let looped = RouteRequest::new("X400", "c=US;p=Org;s=Smith;").arrived_on("x400-link");
//! assert_eq!(table.route(&looped, &()), Err(Unroutable::Loop));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules: patterns ([`AddressPattern`], [`OrAddress`], [`X400Pattern`]), the table
//! ([`RoutingTableBuilder`], [`RoutingTable`]), resolution ([`RouteRequest`], [`Route`],
//! [`Explanation`]), per-domain settings ([`DomainTable`]), the SMTP next hop
//! (`NextHopResolver`, feature `dns`) and the config file (`RoutingConfig`, feature
//! `config`).
//!
//! A runnable program in the repository's `examples/routing_table.rs` builds a table from
//! code and the same one from TOML, and shows failover and [`RoutingTable::explain`]
//! (`cargo run --example routing_table`).
//!
//! ## Features
//!
//! None is on by default: the routing table, per-domain settings, smart-host parsing and
//! the next-hop data types need only `nom`, `thiserror` and `rustc-hash`.
//!
//! | feature  | adds                                                              | pulls in                          |
//! |----------|-------------------------------------------------------------------|-----------------------------------|
//! | `dns`    | `NextHopResolver`: MX lookup (RFC 5321 §5.1) through hickory       | hickory-resolver, tokio           |
//! | `config` | `RoutingConfig` from TOML, serde derives, `Explanation::to_json`   | serde, toml, serde_json           |
//!
//! The postern gateway enables both.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod address_type;
#[cfg(feature = "dns")]
mod cache;
#[cfg(feature = "config")]
mod config;
mod domain;
mod error;
mod glob;
mod hash;
mod limits;
#[cfg(feature = "dns")]
mod mx;
mod nexthop;
mod pattern;
mod quality;
mod resolve;
mod scope;
mod table;
mod x400;

pub use address_type::AddressType;
#[cfg(feature = "config")]
pub use config::{
    AddressSpaceConfig, ConnectorConfig, DnsConfig, NextHopPolicy, RouteReport, RoutingConfig,
};
pub use domain::{
    ContentFormat, Dequeue, DomainOverrides, DomainSettings, DomainTable, TlsPolicy,
    Unrepresentable,
};
pub use error::{ConfigError, DomainError, PatternError, TableError, X400Error};
pub use glob::Glob;
pub use limits::Limits;
#[cfg(feature = "dns")]
pub use mx::NextHopResolver;
pub use nexthop::{NextHop, NextHopError, NextHopHost, NextHopOptions, NextHopSource, SmartHost};
pub use pattern::AddressPattern;
pub use quality::MatchQuality;
pub use resolve::{
    Candidate, ConnectorState, ConnectorStatus, Considered, Explanation, Route, RouteRequest,
    Unroutable, Verdict,
};
pub use table::{AddressSpace, Connector, RoutingTable, RoutingTableBuilder, Scope};
pub use x400::{OrAddress, X400Pattern};
