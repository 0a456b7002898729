//! A callgrind driver for the X.400 O/R address parser and the X.400 routing path:
//! parses a fixed set of addresses and patterns `ROUNDS` times, then routes the addresses
//! through a table of X.400 address spaces, so `valgrind --tool=callgrind` counts the
//! parser's instructions.
//!
//! ```text
//! cargo build --release -p postern-route --example parse_x400
//! valgrind --tool=callgrind target/release/examples/parse_x400
//! ```

use std::hint::black_box;

use postern_route::{
    AddressSpace, Connector, Limits, OrAddress, RouteRequest, RoutingTableBuilder, X400Pattern,
};

/// Passes over the addresses.
const ROUNDS: usize = 200;

/// Addresses in the forms Exchange writes, with blanks, case and a missing trailing `;`.
fn addresses() -> Vec<String> {
    (0..100)
        .map(|i| match i % 4 {
            0 => format!("c=US;a= ;p=Org{};o=Site{};s=Smith;g=Jo;", i % 7, i % 13),
            1 => format!(
                "C=us; A=MCI ; P=org{} ; O=Site{} ; S=Doe ; G=Jane",
                i % 7,
                i % 13
            ),
            2 => format!("c=DE;a=DBP;p=firma{};ou1=abt{};s=M\u{fc}ller;", i % 5, i),
            _ => format!("c=GB;admd= ;prmd=Corp{};o=London;cn=User {i};", i % 3),
        })
        .collect()
}

fn main() {
    let limits = Limits::DEFAULT;
    let addrs = addresses();
    let patterns = [
        "c=US;p=Org1;",
        "c=us;a= ;p=ORG*;o=Site%;",
        "c=DE;a=DBP;p=firma2;",
        "c=GB;prmd=Corp*;",
        "c=US;p=Org3;o=Site5;s=Smith;",
    ];
    let mut n = 0usize;
    for _ in 0..ROUNDS {
        for a in &addrs {
            let parsed = OrAddress::parse(black_box(a), &limits).expect("parses");
            n += parsed.len();
        }
        for p in &patterns {
            let p = X400Pattern::parse(black_box(p), &limits).expect("parses");
            n += usize::from(p.is_exact());
        }
    }
    let mut b = RoutingTableBuilder::new();
    for (i, p) in patterns.iter().enumerate() {
        b.connector(Connector::new(format!("x{i}")));
        b.address_space(AddressSpace::new(format!("x{i}"), "X400", *p).cost(1 + i as u32));
    }
    let table = b.build().expect("table builds");
    let mut routed = 0usize;
    for _ in 0..ROUNDS / 4 {
        for a in &addrs {
            let req = RouteRequest::new("X400", a).message_id("<1@x>");
            if let Ok(r) = table.route(black_box(&req), &()) {
                routed += r.candidates.len();
            }
        }
    }
    println!("{n} attributes, {routed} candidates");
}
