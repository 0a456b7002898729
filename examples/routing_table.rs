//! A routing table with postern-route, built twice — from code and from TOML — and asked
//! where mail goes, what happens when a connector is down, and why.
//!
//! ```text
//! cargo run --example routing_table
//! ```
//!
//! Routing works as the Exchange Gateway Address Routing Table did: **connectors** (ways
//! out) own **address spaces** (an address type such as `SMTP`, `X400` or `MS`, a pattern,
//! and a cost from 1 to 100). For a recipient, [`RoutingTable::route`] gives every
//! connector whose address space matches, most specific match first, then cheapest;
//! the gateway tries them in that order. Connectors that are down are skipped, and
//! [`RoutingTable::explain`] prints the reasoning.
//!
//! The crate is strings in, strings out: no sockets, no files. `RoutingConfig` reads the
//! routing sections of a postern config file (`examples/postern.toml` documents every key).
//! The program exits 0 when both tables route alike.

use postern_route::{
    AddressSpace, Connector, ConnectorStatus, RouteRequest, RoutingConfig, RoutingTable,
    RoutingTableBuilder, Unroutable,
};

/// The table in code: two Internet connectors sharing the world, a cheaper dedicated
/// link for a partner, and an X.400 link.
fn from_code() -> Result<RoutingTable, Box<dyn std::error::Error>> {
    let mut b = RoutingTableBuilder::new();
    b.connector(Connector::new("internet-a"))
        .connector(Connector::new("internet-b"))
        // After 3 failed attempts here, a message moves to the next connector.
        .connector(Connector::new("partner-link").max_attempts(3))
        .connector(Connector::new("x400-link"));
    b.address_space(AddressSpace::new("internet-a", "SMTP", "*").cost(10))
        .address_space(AddressSpace::new("internet-b", "SMTP", "*").cost(20))
        // A domain and its subdomains (`*.partner.example`) beat the catch-all `*`.
        .address_space(AddressSpace::new("partner-link", "SMTP", "partner.example").cost(1))
        .address_space(AddressSpace::new("partner-link", "SMTP", "*.partner.example").cost(1))
        .address_space(AddressSpace::new("x400-link", "X400", "c=FR;a= ;p=Acme;").cost(5));
    Ok(b.build()?)
}

/// The same table as a postern config file would hold it.
const TOML: &str = r#"
[[connector]]
name = "internet-a"
  [[connector.address_space]]
  pattern = "*"
  cost = 10

[[connector]]
name = "internet-b"
  [[connector.address_space]]
  pattern = "*"
  cost = 20

[[connector]]
name = "partner-link"
max_attempts = 3
  [[connector.address_space]]
  pattern = "partner.example"
  cost = 1
  [[connector.address_space]]
  pattern = "*.partner.example"
  cost = 1

[[connector]]
name = "x400-link"
  [[connector.address_space]]
  type = "X400"
  pattern = "c=FR;a= ;p=Acme;"
  cost = 5

# Per-domain delivery settings live in the same file.
[[domain]]
pattern = "partner.example"
tls = "required"
"#;

/// The connectors to try for `req`, in order, or why there are none.
fn order(table: &RoutingTable, req: &RouteRequest<'_>, status: &ConnectorStatus) -> String {
    match table.route(req, status) {
        Ok(route) => route.connectors().collect::<Vec<_>>().join(" → "),
        Err(e) => format!("unroutable: {e}"),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let coded = from_code()?;
    let config = RoutingConfig::from_toml_str(TOML)?;
    let filed = &config.table;

    let requests = [
        RouteRequest::smtp("ann@example.com"),
        RouteRequest::smtp("bo@partner.example"),
        RouteRequest::smtp("cy@sales.partner.example"),
        RouteRequest::new("X400", "c=FR;a= ;p=Acme;o=Paris;s=Dupont;"),
        RouteRequest::new("MS", "ACME/PO/JO"), // No connector owns MS addresses.
    ];
    let all_up = ConnectorStatus::new();
    let mut partner_down = ConnectorStatus::new();
    partner_down.set_down("partner-link", true);

    for req in &requests {
        let up = order(&coded, req, &all_up);
        let down = order(&coded, req, &partner_down);
        println!("{}:{}", req.address_type(), req.address());
        println!("    all up:            {up}");
        println!("    partner-link down: {down}");
        // The table from TOML answers exactly as the one from code.
        assert_eq!(up, order(filed, req, &all_up));
        assert_eq!(down, order(filed, req, &partner_down));
    }

    // Why: every address space considered, and what became of it.
    println!("\n{}", coded.explain(&requests[1], &partner_down));

    // A message never goes back out through the connector it came in on.
    let looped = RouteRequest::smtp("bo@partner.example").arrived_on("partner-link");
    let route = coded.route(&looped, &all_up)?;
    assert!(route.connectors().all(|c| c != "partner-link"));
    assert_eq!(
        coded.route(&requests[4], &all_up).err(),
        Some(Unroutable::NoAddressSpace)
    );

    // The per-domain settings from the same file.
    let partner = config.domains.lookup("partner.example");
    println!("partner.example: tls {:?}", partner.tls);
    Ok(())
}
