//! `examples/postern.toml` parses, and routes as its comments say.

use postern_route::{
    ConnectorStatus, ContentFormat, Dequeue, NextHopPolicy, RouteRequest, RoutingConfig, TlsPolicy,
};

const EXAMPLE: &str = include_str!("../examples/postern.toml");

fn cfg() -> RoutingConfig {
    RoutingConfig::from_toml_str(EXAMPLE).expect("examples/postern.toml is valid")
}

fn order(cfg: &RoutingConfig, req: RouteRequest<'_>, state: &ConnectorStatus) -> Vec<String> {
    cfg.table
        .route(&req, state)
        .map(|r| r.connectors().map(str::to_owned).collect())
        .unwrap_or_default()
}

#[test]
fn routes_as_documented() {
    let cfg = cfg();
    let up = ConnectorStatus::new();
    let sales = order(&cfg, RouteRequest::smtp("jo@a.sales.example.com"), &up);
    assert_eq!(sales[0], "ims-2");
    assert_eq!(sales.last().unwrap(), "last-resort");
    assert_eq!(
        order(&cfg, RouteRequest::smtp("x@partner.example"), &up)[0],
        "partner-link"
    );
    let mut down = ConnectorStatus::new();
    down.set_down("ims-1", true).set_down("ims-2", true);
    assert_eq!(
        order(&cfg, RouteRequest::smtp("x@example.org"), &down),
        ["last-resort"]
    );
    let x400 = RouteRequest::new("X400", "c=US;a= ;p=Acme;o=Paris;s=Dupont;");
    let e = cfg.table.explain(&x400, &up);
    assert_eq!(e.considered[0].entry.pattern, "c=US;a= ;p=Acme;o=Paris;");
    assert_eq!(
        order(&cfg, RouteRequest::new("ms", "ACME/PO/JO"), &up),
        ["msmail-gw"]
    );
}

#[test]
fn domain_settings_as_documented() {
    let cfg = cfg();
    let legacy = cfg.domains.lookup("old.legacy.example");
    assert_eq!(legacy.content_format, ContentFormat::Uuencode);
    assert_eq!(legacy.charset, "us-ascii");
    let mail = cfg.domains.lookup("mail.legacy.example");
    assert_eq!(mail.content_format, ContentFormat::Mime);
    assert_eq!(mail.charset, "us-ascii");
    assert_eq!(mail.max_message_size, Some(2_097_152));
    assert_eq!(
        cfg.domains.lookup("partner.example").tls,
        TlsPolicy::Required
    );
    assert_eq!(
        cfg.domains.lookup("dialup.example").dequeue,
        Dequeue::HoldForEtrn
    );
    assert_eq!(
        cfg.domains.lookup("[192.0.2.10]").max_message_size,
        Some(10_485_760)
    );
    assert_eq!(cfg.domains.lookup("example.org").max_message_size, None);
}

#[test]
fn connectors_and_dns_as_documented() {
    let cfg = cfg();
    assert_eq!(cfg.connector("ims-2").unwrap().next_hop, NextHopPolicy::Dns);
    match &cfg.connector("ims-1").unwrap().next_hop {
        NextHopPolicy::SmartHosts(h) => {
            assert_eq!(h.len(), 2);
            assert_eq!(h[1].host, "[192.0.2.25]");
            assert_eq!(h[1].port, Some(2525));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(cfg.dns.name_servers.len(), 1);
    assert_eq!(cfg.dns.options.max_hosts, 10);
    let report = cfg.report(&RouteRequest::smtp("jo@partner.example"), &());
    let text = report.to_string();
    assert!(text.contains("smart hosts mx.partner.example:25"), "{text}");
    assert!(text.contains("tls Required"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["explanation"]["outcome"], "routed");
    assert_eq!(json["domain_settings"]["tls"], "required");
}
