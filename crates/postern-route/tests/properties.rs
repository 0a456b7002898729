//! Property tests of the routing rules and of the compiled table against the reference
//! matcher.

use std::collections::{HashMap, HashSet};

use postern_route::{
    AddressPattern, AddressSpace, AddressType, Connector, ConnectorStatus, Glob, Limits, OrAddress,
    RouteRequest, RoutingTable, RoutingTableBuilder, Unroutable, X400Pattern,
};
use proptest::prelude::*;

fn label() -> impl Strategy<Value = String> {
    "[a-cA-C]{1,2}"
}

fn domain() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 1..4).prop_map(|l| l.join("."))
}

/// SMTP patterns in every form the table indexes differently.
fn smtp_pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_owned()),
        domain(),
        domain().prop_map(|d| format!("*.{d}")),
        (label(), domain()).prop_map(|(l, d)| format!("{l}@{d}")),
        (label(), domain()).prop_map(|(l, d)| format!("{l}%@{d}")),
        (label(), domain()).prop_map(|(l, d)| format!("*@{l}*.{d}")),
        "[a-c%*@.]{1,8}",
    ]
}

fn smtp_address() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (label(), domain()).prop_map(|(l, d)| format!("{l}@{d}")),
        1 => "[a-c%*@.]{0,8}",
    ]
}

/// The test's own statement of which SMTP addresses the table accepts (the generators
/// make no spaces, quotes or brackets).
fn plausible(address: &str) -> bool {
    address.rsplit_once('@').is_some_and(|(local, domain)| {
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        !local.is_empty() && !domain.is_empty() && domain.split('.').all(|l| !l.is_empty())
    })
}

/// One connector per pattern (`c0`, `c1`, …), with the given costs.
fn table_of(patterns: &[(String, u32)]) -> RoutingTable {
    let mut b = RoutingTableBuilder::new();
    for (i, (p, cost)) in patterns.iter().enumerate() {
        b.connector(Connector::new(format!("c{i}")));
        b.address_space(AddressSpace::new(format!("c{i}"), "SMTP", p.clone()).cost(*cost));
    }
    b.build().unwrap()
}

fn valid(p: &str) -> bool {
    AddressPattern::parse(&AddressType::Smtp, p, &Limits::DEFAULT).is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The indexes find exactly the entries a scan with the reference matcher finds, with
    /// the same quality.
    #[test]
    fn compiled_lookup_equals_linear_scan(
        patterns in prop::collection::vec((smtp_pattern(), 1u32..=100), 1..24),
        address in smtp_address(),
    ) {
        let patterns: Vec<_> = patterns.into_iter().filter(|(p, _)| valid(p)).collect();
        let t = table_of(&patterns);
        let explained = t.explain(&RouteRequest::smtp(&address), &());
        let refused = matches!(explained.result, Err(Unroutable::InvalidAddress(_)));
        prop_assert_eq!(refused, !plausible(&address), "{:?}", address);
        if refused {
            prop_assert!(explained.considered.is_empty());
            return Ok(());
        }
        let got: HashSet<(String, String)> = explained
            .considered
            .iter()
            .map(|c| (c.entry.connector.to_owned(), format!("{:?}", c.entry.quality)))
            .collect();
        let want: HashSet<(String, String)> = patterns
            .iter()
            .enumerate()
            .filter_map(|(i, (p, _))| {
                let p = AddressPattern::parse(&AddressType::Smtp, p, &Limits::DEFAULT).unwrap();
                p.matches(&address, &Limits::DEFAULT).map(|q| (format!("c{i}"), format!("{q:?}")))
            })
            .collect();
        prop_assert_eq!(got, want);
    }

    /// A more specific match comes first, however much cheaper a less specific one is.
    #[test]
    fn more_specific_beats_cheaper(
        local in label(),
        host in label(),
        parent in domain(),
        costs in prop::array::uniform4(1u32..100),
    ) {
        let d = format!("{host}.{parent}");
        let t = table_of(&[
            (format!("{local}@{d}"), costs[0]),
            (d.clone(), costs[1]),
            (format!("*.{parent}"), costs[2]),
            ("*".to_owned(), costs[3]),
        ]);
        let route = t.route(&RouteRequest::smtp(&format!("{local}@{d}")), &()).unwrap();
        let order: Vec<&str> = route.connectors().collect();
        prop_assert_eq!(order, ["c0", "c1", "c2", "c3"]);
    }

    /// A connector marked unavailable never appears among the candidates; when nothing is
    /// left, the reason says so.
    #[test]
    fn unavailable_connectors_never_appear(
        patterns in prop::collection::vec((smtp_pattern(), 1u32..=100), 1..16),
        down in prop::collection::vec(any::<bool>(), 16),
        address in smtp_address(),
    ) {
        let patterns: Vec<_> = patterns.into_iter().filter(|(p, _)| valid(p)).collect();
        let t = table_of(&patterns);
        let mut state = ConnectorStatus::new();
        for (i, &d) in down.iter().enumerate().take(patterns.len()) {
            state.set_down(&format!("c{i}"), d);
        }
        let is_down = |c: &str| down[c[1..].parse::<usize>().unwrap()];
        match t.route(&RouteRequest::smtp(&address), &state) {
            Ok(route) => {
                for c in route.connectors() {
                    prop_assert!(!is_down(c), "{} is down", c);
                }
            }
            Err(Unroutable::AllUnavailable) => {
                let e = t.explain(&RouteRequest::smtp(&address), &state);
                prop_assert!(e.considered.iter().all(|c| is_down(c.entry.connector)));
            }
            Err(Unroutable::NoAddressSpace) => {}
            Err(Unroutable::InvalidAddress(_)) => prop_assert!(!plausible(&address)),
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    /// Equal-cost connectors: the order is a function of the message id, and many ids
    /// spread the first choice over all of them.
    #[test]
    fn equal_cost_order_is_stable_and_spreads(
        n in 2usize..=4,
        cost in 1u32..100,
        ids in prop::collection::hash_set("[ -~]{1,40}", 64),
    ) {
        let t = table_of(&vec![("*".to_owned(), cost); n]);
        let mut firsts: HashMap<String, usize> = HashMap::new();
        for id in &ids {
            let req = RouteRequest::smtp("a@b.c").message_id(id);
            let one: Vec<String> = t.route(&req, &()).unwrap().connectors().map(str::to_owned).collect();
            let two: Vec<String> = t.route(&req, &()).unwrap().connectors().map(str::to_owned).collect();
            prop_assert_eq!(&one, &two);
            prop_assert_eq!(one.len(), n);
            *firsts.entry(one[0].clone()).or_default() += 1;
        }
        prop_assert_eq!(firsts.len(), n, "{:?}", firsts);
    }

    /// A glob without wildcards matches exactly its text, in any case; `*s*` finds `s`.
    #[test]
    fn glob_literals_and_contains(s in "[a-zA-Z0-9.@]{0,12}", pre in "[a-z]{0,5}", post in "[a-z]{0,5}") {
        let g = Glob::new(&s);
        prop_assert!(g.matches(&s.to_ascii_uppercase()));
        let extended = format!("{s}x");
        prop_assert!(!g.matches(&extended));
        let around = format!("{pre}{s}{post}");
        let contains = Glob::new(&format!("*{s}*"));
        prop_assert!(contains.matches(&around));
    }

    /// An O/R address used as its own pattern matches itself exactly, and canonical form
    /// survives a round trip.
    #[test]
    fn x400_self_match_and_canonical_round_trip(
        attrs in prop::collection::btree_map("[a-z]{1,3}", "[A-Za-z0-9 ]{1,8}", 1..6),
    ) {
        let text: String = attrs.iter().map(|(k, v)| format!("{k}={v};")).collect();
        let l = Limits::DEFAULT;
        let addr = OrAddress::parse(&text, &l).unwrap();
        let canon = addr.canonical();
        let again = OrAddress::parse(&canon, &l).unwrap();
        prop_assert_eq!(again.canonical(), canon);
        let pat = X400Pattern::parse(&text, &l).unwrap();
        prop_assert!(pat.matches(&addr).is_some());
    }
}
