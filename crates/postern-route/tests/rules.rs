//! The Exchange routing rules, case by case.

use postern_route::{
    AddressSpace, Connector, ConnectorStatus, MatchQuality, RouteRequest, RoutingTable,
    RoutingTableBuilder, Scope, Unroutable, Verdict,
};

/// A table from (connector, type, pattern, cost); connectors are created as named.
fn table(spaces: &[(&str, &str, &str, u32)]) -> RoutingTable {
    let mut b = RoutingTableBuilder::new();
    let mut names: Vec<&str> = Vec::new();
    for &(c, ..) in spaces {
        if !names.contains(&c) {
            names.push(c);
            b.connector(Connector::new(c));
        }
    }
    for &(c, t, p, cost) in spaces {
        b.address_space(AddressSpace::new(c, t, p).cost(cost));
    }
    b.build().unwrap()
}

fn order(t: &RoutingTable, req: RouteRequest<'_>) -> Vec<String> {
    t.route(&req, &())
        .unwrap()
        .connectors()
        .map(str::to_owned)
        .collect()
}

fn smtp(t: &RoutingTable, addr: &str) -> Vec<String> {
    order(t, RouteRequest::smtp(addr))
}

#[test]
fn exact_beats_wildcard_beats_type_only_whatever_the_cost() {
    let t = table(&[
        ("any", "SMTP", "*", 1),
        ("domain", "SMTP", "example.com", 20),
        ("user", "SMTP", "jo@example.com", 90),
    ]);
    assert_eq!(smtp(&t, "jo@example.com"), ["user", "domain", "any"]);
    assert_eq!(smtp(&t, "al@example.com"), ["domain", "any"]);
    assert_eq!(smtp(&t, "al@example.org"), ["any"]);
}

#[test]
fn more_literal_characters_win() {
    let t = table(&[
        ("subs", "SMTP", "*.example.com", 1),
        ("sales", "SMTP", "sales.example.com", 5),
        ("deep", "SMTP", "*.eu.sales.example.com", 9),
        ("glob", "SMTP", "*@s%les.example.com", 1),
    ]);
    assert_eq!(
        smtp(&t, "a@sales.example.com"),
        ["sales", "glob", "subs"],
        "sales.example.com (18 literals) > *@s%les.example.com (17) > *.example.com (13)"
    );
    assert_eq!(smtp(&t, "a@x.eu.sales.example.com"), ["deep", "subs"]);
}

#[test]
fn lowest_cost_first_within_a_match_quality() {
    let t = table(&[
        ("b", "SMTP", "*", 30),
        ("a", "SMTP", "*", 10),
        ("c", "SMTP", "*", 20),
    ]);
    assert_eq!(smtp(&t, "x@y.z"), ["a", "c", "b"]);
}

#[test]
fn cost_100_only_when_nothing_else_works() {
    let t = table(&[
        ("backup", "SMTP", "example.com", 100),
        ("any", "SMTP", "*", 99),
    ]);
    assert_eq!(smtp(&t, "a@example.com"), ["any", "backup"]);
    let mut down = ConnectorStatus::new();
    down.set_down("any", true);
    let r = t
        .route(&RouteRequest::smtp("a@example.com"), &down)
        .unwrap();
    assert_eq!(r.first().connector, "backup");
}

#[test]
fn fails_over_when_the_home_route_is_down() {
    // KB Q152919: the home connector is down; the mail must not be stranded.
    let t = table(&[
        ("home", "SMTP", "example.com", 1),
        ("other-ims", "SMTP", "*", 1),
    ]);
    let mut state = ConnectorStatus::new();
    state.set_down("home", true);
    let r = t
        .route(&RouteRequest::smtp("a@example.com"), &state)
        .unwrap();
    assert_eq!(r.connectors().collect::<Vec<_>>(), ["other-ims"]);
    state.set_down("other-ims", true);
    assert_eq!(
        t.route(&RouteRequest::smtp("a@example.com"), &state),
        Err(Unroutable::AllUnavailable)
    );
    assert!(!Unroutable::AllUnavailable.is_permanent());
}

#[test]
fn connectors_tried_the_maximum_times_are_dropped() {
    let mut b = RoutingTableBuilder::new();
    b.connector(Connector::new("a").max_attempts(2))
        .connector(Connector::new("b").max_attempts(0));
    b.address_space(AddressSpace::new("a", "SMTP", "*"))
        .address_space(AddressSpace::new("b", "SMTP", "*").cost(2));
    let t = b.build().unwrap();
    let mut state = ConnectorStatus::new();
    state.set_attempts("a", 1).set_attempts("b", 1000);
    let req = RouteRequest::smtp("x@y");
    assert_eq!(t.route(&req, &state).unwrap().first().connector, "a");
    state.set_attempts("a", 2);
    let r = t.route(&req, &state).unwrap();
    assert_eq!(r.first().connector, "b", "0 = no limit");
    let e = t.explain(&req, &state);
    assert!(e.considered.iter().any(|c| c.entry.connector == "a"
        && c.verdict
            == Verdict::MaxAttempts {
                attempts: 2,
                max: 2
            }));
}

#[test]
fn equal_costs_share_load_stably_per_message() {
    let t = table(&[
        ("a", "SMTP", "*", 5),
        ("b", "SMTP", "*", 5),
        ("c", "SMTP", "*", 5),
    ]);
    let mut firsts = std::collections::HashMap::new();
    for i in 0..300 {
        let id = format!("<{i}@host>");
        let req = RouteRequest::smtp("x@y").message_id(&id);
        let once = order(&t, req);
        assert_eq!(once, order(&t, req), "same id, same order");
        assert_eq!(once.len(), 3);
        *firsts.entry(once[0].clone()).or_insert(0) += 1;
    }
    assert_eq!(firsts.len(), 3);
    assert!(firsts.values().all(|&n| n > 60), "{firsts:?}");
}

#[test]
fn the_arrival_connector_is_excluded() {
    let t = table(&[("in", "SMTP", "*", 1), ("out", "SMTP", "*", 2)]);
    let req = RouteRequest::smtp("x@y").arrived_on("in");
    assert_eq!(order(&t, req), ["out"]);
    let only = table(&[("in", "SMTP", "*", 1)]);
    let r = only.route(&req, &());
    assert_eq!(r, Err(Unroutable::Loop));
    assert_eq!(Unroutable::Loop.enhanced_code(), "5.4.6");
}

#[test]
fn scope_limits_who_may_use_an_address_space() {
    let mut b = RoutingTableBuilder::new();
    b.connector(Connector::new("site-link").site("Paris"))
        .connector(Connector::new("lan").site("Paris").location("floor2"))
        .connector(Connector::new("org").site("Oslo"));
    b.address_space(
        AddressSpace::new("site-link", "SMTP", "*")
            .cost(2)
            .scope(Scope::Site),
    )
    .address_space(AddressSpace::new("lan", "SMTP", "*").scope(Scope::Location))
    .address_space(AddressSpace::new("org", "SMTP", "*").cost(50));
    let t = b.build().unwrap();
    let names = |req: RouteRequest<'_>| -> Vec<String> { order(&t, req) };
    assert_eq!(
        names(RouteRequest::smtp("a@b").origin("paris", Some("floor2"))),
        ["lan", "site-link", "org"]
    );
    assert_eq!(
        names(RouteRequest::smtp("a@b").origin("Paris", Some("floor1"))),
        ["site-link", "org"]
    );
    assert_eq!(
        names(RouteRequest::smtp("a@b").origin("Oslo", None)),
        ["org"]
    );
    assert_eq!(names(RouteRequest::smtp("a@b")), ["org"]);

    let mut b = RoutingTableBuilder::new();
    b.connector(Connector::new("s").site("Paris"));
    b.address_space(AddressSpace::new("s", "SMTP", "*").scope(Scope::Site));
    let t = b.build().unwrap();
    assert_eq!(
        t.route(&RouteRequest::smtp("a@b").origin("Oslo", None), &()),
        Err(Unroutable::OutOfScope)
    );
}

#[test]
fn types_do_not_mix() {
    let t = table(&[
        ("smtp", "SMTP", "*", 1),
        ("x400", "X400", "*", 1),
        ("ms", "MS", "NET/*", 1),
        ("notes", "NOTES", "*/Acme", 1),
    ]);
    assert_eq!(smtp(&t, "a@b"), ["smtp"]);
    assert_eq!(
        order(&t, RouteRequest::new("x400", "c=US;s=Smith")),
        ["x400"]
    );
    assert_eq!(order(&t, RouteRequest::new("MS", "NET/PO/JO")), ["ms"]);
    assert_eq!(
        order(&t, RouteRequest::new("notes", "Jo Doe/ACME")),
        ["notes"]
    );
    assert_eq!(
        t.route(&RouteRequest::new("MS", "OTHER/PO/JO"), &()),
        Err(Unroutable::NoAddressSpace)
    );
    assert_eq!(
        t.route(&RouteRequest::new("CCMAIL", "x"), &()),
        Err(Unroutable::NoAddressSpace)
    );
}

#[test]
fn x400_attribute_matching_and_ranking() {
    let t = table(&[
        ("country", "X400", "c=US;a= ;", 1),
        ("prmd", "X400", "c=US;a= ;p=Org;", 5),
        ("site", "X400", "c=US;a= ;p=Org;o=Site;", 9),
        ("other", "X400", "c=DE;", 1),
    ]);
    assert_eq!(
        order(
            &t,
            RouteRequest::new("X400", "c=US;a= ;p=Org;o=Site;s=Smith;")
        ),
        ["site", "prmd", "country"]
    );
    assert_eq!(
        order(
            &t,
            RouteRequest::new("X400", "C=us;P=ORG;O=Elsewhere;S=Jones")
        ),
        ["prmd", "country"]
    );
    let bad = t.route(&RouteRequest::new("X400", "no equals here"), &());
    assert!(matches!(bad, Err(Unroutable::InvalidAddress(_))));
}

#[test]
fn a_connector_is_listed_once_at_its_best_entry() {
    let t = table(&[
        ("a", "SMTP", "*", 1),
        ("a", "SMTP", "example.com", 10),
        ("b", "SMTP", "*", 2),
    ]);
    assert_eq!(smtp(&t, "x@example.com"), ["a", "b"]);
    let e = t.explain(&RouteRequest::smtp("x@example.com"), &());
    let verdicts: Vec<_> = e.considered.iter().map(|c| c.verdict).collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Kept { rank: 0 },
            Verdict::DuplicateConnector,
            Verdict::Kept { rank: 1 },
        ]
    );
}

#[test]
fn explain_lists_every_matching_entry_with_its_verdict() {
    let mut b = RoutingTableBuilder::new();
    b.connector(Connector::new("in"))
        .connector(Connector::new("down"))
        .connector(Connector::new("ok"))
        .connector(Connector::new("far").site("Oslo"));
    b.address_space(AddressSpace::new("in", "SMTP", "*"))
        .address_space(AddressSpace::new("down", "SMTP", "example.com"))
        .address_space(AddressSpace::new("ok", "SMTP", "*.com").cost(3))
        .address_space(
            AddressSpace::new("far", "SMTP", "*")
                .cost(2)
                .scope(Scope::Site),
        )
        .address_space(AddressSpace::new("ok", "SMTP", "other.org"));
    let t = b.build().unwrap();
    let mut state = ConnectorStatus::new();
    state.set_down("down", true);
    let req = RouteRequest::smtp("jo@example.com").arrived_on("in");
    let e = t.explain(&req, &state);
    let got: Vec<(&str, Verdict)> = e
        .considered
        .iter()
        .map(|c| (c.entry.connector, c.verdict))
        .collect();
    assert_eq!(
        got,
        [
            ("down", Verdict::Unavailable),
            ("ok", Verdict::Kept { rank: 0 }),
            ("in", Verdict::ArrivedOn),
            ("far", Verdict::OutOfScope),
        ]
    );
    assert_eq!(e.not_matching, 1);
    assert_eq!(
        e.considered[0].entry.quality,
        MatchQuality::Wildcard { literals: 12 }
    );
    assert_eq!(e.result, t.route(&req, &state));
    let text = e.to_string();
    assert!(text.contains("route: ok"), "{text}");
    assert!(text.contains("dropped: connector unavailable"), "{text}");
    #[cfg(feature = "config")]
    {
        let json: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(json["considered"][0]["verdict"], "unavailable");
        assert_eq!(json["outcome"], "routed");
        assert_eq!(json["candidates"][0]["connector"], "ok");
    }
}

#[test]
fn unroutable_reasons_and_codes() {
    let t = table(&[("a", "SMTP", "example.com", 1)]);
    let e = t
        .route(&RouteRequest::smtp("x@example.org"), &())
        .unwrap_err();
    assert_eq!(e, Unroutable::NoAddressSpace);
    assert_eq!((e.reply_code(), e.enhanced_code()), (550, "5.4.4"));
    let long = format!("{}@example.com", "a".repeat(5000));
    assert!(matches!(
        t.route(&RouteRequest::smtp(&long), &()),
        Err(Unroutable::InvalidAddress(_))
    ));
}

#[test]
fn smtp_text_that_is_no_address_is_refused_not_defaulted() {
    let t = table(&[("internet", "SMTP", "*", 1)]);
    for bad in [
        "not an address",
        "",
        "@example.com",
        "jo@",
        "jo@.",
        "jo@a..b",
        "j o@example.com",
        "jo@exa mple.com",
        "jo@[192.0.2.1",
        "jo\r\n@example.com",
    ] {
        match t.route(&RouteRequest::smtp(bad), &()) {
            Err(Unroutable::InvalidAddress(_)) => {}
            other => panic!("{bad:?}: {other:?}"),
        }
        let e = t.explain(&RouteRequest::smtp(bad), &());
        assert!(e.considered.is_empty(), "{bad:?}");
    }
    let refused = t
        .route(&RouteRequest::smtp("not an address"), &())
        .unwrap_err();
    assert_eq!(
        (refused.reply_code(), refused.enhanced_code()),
        (550, "5.1.3")
    );
    for good in [
        "jo@example.com",
        "jo@example.com.",
        "\"j o\"@example.com",
        "jo@[192.0.2.1]",
        "a%b@relay.example",
    ] {
        let r = t.route(&RouteRequest::smtp(good), &());
        assert_eq!(r.map(|r| r.first().connector), Ok("internet"), "{good:?}");
    }
}
