#![no_main]
//! Lookups over random tables and addresses. Lines `T pattern` add an address space
//! (T: s = SMTP, x = X400, m = MS, c = custom) on one of 8 connectors; lines `>T address`
//! look an address up. The compiled table must find exactly the entries a linear scan
//! finds, never list a down connector or the arrival connector, and list each connector
//! once.
use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use postern_route::{
    AddressPattern, AddressSpace, AddressType, Connector, ConnectorStatus, Limits, RouteRequest,
    RoutingTableBuilder,
};

fn type_name(c: char) -> &'static str {
    match c {
        's' => "SMTP",
        'x' => "X400",
        'm' => "MS",
        _ => "NOTES",
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let limits = Limits::DEFAULT;
    let mut b = RoutingTableBuilder::new();
    for c in 0..8 {
        b.connector(Connector::new(format!("c{c}")).max_attempts(2));
    }
    let mut entries = Vec::new();
    let mut lookups = Vec::new();
    for (i, line) in text.lines().enumerate().take(64) {
        let mut chars = line.chars();
        match chars.next() {
            Some('>') => {
                let t = type_name(chars.next().unwrap_or('s'));
                lookups.push((t, chars.as_str().to_owned()));
            }
            Some(t) => {
                let t = type_name(t);
                let pattern = chars.as_str().trim_start_matches(' ').to_owned();
                let cost = 1 + (line.len() % 100) as u32;
                let conn = format!("c{}", i % 8);
                let ty = AddressType::parse(t).unwrap();
                if let Ok(p) = AddressPattern::parse(&ty, &pattern, &limits) {
                    b.address_space(AddressSpace::new(conn.clone(), t, pattern).cost(cost));
                    entries.push((conn, ty, p));
                }
            }
            None => {}
        }
    }
    let table = b.build().expect("only valid patterns were added");
    let mut state = ConnectorStatus::new();
    for c in 0..8 {
        state.set_down(&format!("c{c}"), flags & (1 << c) != 0);
    }
    state.set_attempts("c7", 2);
    for (t, address) in &lookups {
        let req = RouteRequest::new(t, address).message_id(address).arrived_on("c6");
        let e = table.explain(&req, &state);
        assert_eq!(e.result, table.route(&req, &state));
        if let Ok(route) = &e.result {
            let mut seen = HashSet::new();
            for c in route.connectors() {
                assert!(seen.insert(c), "listed twice: {c}");
                assert!(c != "c6" && c != "c7", "{c} must be excluded");
                let idx: usize = c[1..].parse().unwrap();
                assert!(flags & (1 << idx) == 0, "{c} is down");
            }
        }
        // Differential: the indexes find what a scan finds.
        let ty = AddressType::parse(t).unwrap();
        let x400_ok = ty != AddressType::X400 || postern_route::OrAddress::parse(address, &limits).is_ok();
        // SMTP text that is no mailbox is refused before any lookup.
        let smtp_refused = ty == AddressType::Smtp
            && matches!(e.result, Err(postern_route::Unroutable::InvalidAddress(_)));
        if address.len() <= limits.max_address_len && x400_ok && !smtp_refused {
            let want = entries
                .iter()
                .filter(|(_, et, p)| *et == ty && p.matches(address, &limits).is_some())
                .count();
            assert_eq!(e.considered.len(), want, "{t} {address:?}");
        }
    }
});
