//! The SMTP next hop against a real DNS server: hickory-server with an in-memory zone,
//! bound to 127.0.0.1 on an ephemeral port. Nothing here reaches the system resolver.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::ServerFuture;
use hickory_server::authority::{Catalog, ZoneType};
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, MX, SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryAuthority;
use postern_route::{NextHopError, NextHopOptions, NextHopResolver, NextHopSource, SmartHost};
use tokio::net::UdpSocket;

fn n(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

fn rec(name: &str, ttl: u32, data: RData) -> Record {
    Record::from_rdata(n(name), ttl, data)
}

fn mx(name: &str, pref: u16, host: &str) -> Record {
    rec(name, 300, RData::MX(MX::new(pref, n(host))))
}

fn a(name: &str, ip: [u8; 4]) -> Record {
    rec(name, 300, RData::A(A::from(Ipv4Addr::from(ip))))
}

/// The test zone `test.`.
fn zone() -> Vec<Record> {
    let mut r = vec![
        rec(
            "test.",
            300,
            RData::SOA(SOA::new(
                n("ns.test."),
                n("hostmaster.test."),
                1,
                60,
                60,
                600,
                60,
            )),
        ),
        // MX with two preferences.
        mx("mx.test.", 20, "c.mx.test."),
        mx("mx.test.", 10, "a.mx.test."),
        mx("mx.test.", 10, "b.mx.test."),
        a("a.mx.test.", [192, 0, 2, 1]),
        a("b.mx.test.", [192, 0, 2, 2]),
        a("c.mx.test.", [192, 0, 2, 3]),
        // Null MX (RFC 7505).
        mx("nullmx.test.", 0, "."),
        // An alias of mx.test.
        rec("cname.test.", 300, RData::CNAME(CNAME(n("mx.test.")))),
        // No MX, addresses only: implicit MX.
        a("aonly.test.", [192, 0, 2, 10]),
        rec(
            "aonly.test.",
            300,
            RData::AAAA(AAAA::from(Ipv6Addr::from_str("2001:db8::10").unwrap())),
        ),
        // Exists, but neither MX nor address.
        rec("nomail.test.", 300, RData::TXT(TXT::new(vec!["hi".into()]))),
        // MX host without addresses.
        mx("dangling.test.", 10, "nohost.test."),
        // TTL 0: never cached.
        rec("ttl0.test.", 0, RData::MX(MX::new(10, n("a.mx.test.")))),
        // Same as above with a long TTL.
        mx("cached.test.", 10, "a.mx.test."),
        // Smart host name.
        a("relay.test.", [192, 0, 2, 50]),
    ];
    for i in 0..15u8 {
        let host = format!("h{i}.many.test.");
        r.push(mx("many.test.", 10, &host));
        r.push(a(&host, [198, 51, 100, i]));
    }
    r
}

struct Dns {
    addr: SocketAddr,
    authority: Arc<InMemoryAuthority>,
    _server: ServerFuture<Catalog>,
}

async fn start_dns() -> Dns {
    let origin = n("test.");
    let mut authority = InMemoryAuthority::empty(origin.clone(), ZoneType::Primary, false);
    for r in zone() {
        authority.upsert_mut(r, 1);
    }
    let authority = Arc::new(authority);
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::new(&origin), vec![authority.clone()]);
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let mut server = ServerFuture::new(catalog);
    server.register_socket(socket);
    Dns {
        addr,
        authority,
        _server: server,
    }
}

fn opts() -> NextHopOptions {
    let mut o = NextHopOptions::default();
    o.timeout = Duration::from_secs(5);
    o.seed = Some(7);
    o
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn mx_sorted_by_preference() {
    let dns = start_dns().await;
    let r = NextHopResolver::new(&[dns.addr], opts());
    let hop = r.resolve("mx.test").await.unwrap();
    assert_eq!(hop.source, NextHopSource::Mx);
    let prefs: Vec<u16> = hop.hosts.iter().map(|h| h.preference).collect();
    assert_eq!(prefs, [10, 10, 20]);
    assert_eq!(hop.hosts[2].name, "c.mx.test");
    assert_eq!(hop.hosts[2].addresses, [ip("192.0.2.3")]);
    assert_eq!(hop.hosts[0].port, 25);
    let first_two: HashSet<&str> = hop.hosts[..2].iter().map(|h| h.name.as_str()).collect();
    assert_eq!(first_two, HashSet::from(["a.mx.test", "b.mx.test"]));
}

#[tokio::test]
async fn equal_preferences_shuffle_deterministically_when_seeded() {
    let dns = start_dns().await;
    let order = |hop: postern_route::NextHop| -> Vec<String> {
        hop.hosts.into_iter().map(|h| h.name).collect()
    };
    let r1 = NextHopResolver::new(&[dns.addr], opts());
    let r2 = NextHopResolver::new(&[dns.addr], opts());
    let mut seen = HashSet::new();
    for _ in 0..8 {
        let a = order(r1.resolve("many.test").await.unwrap());
        let b = order(r2.resolve("many.test").await.unwrap());
        assert_eq!(a, b, "same seed, same order");
        seen.insert(a);
    }
    assert!(
        seen.len() > 1,
        "equal preferences are shuffled across calls"
    );
}

#[tokio::test]
async fn host_cap() {
    let dns = start_dns().await;
    let mut o = opts();
    o.max_hosts = 4;
    let r = NextHopResolver::new(&[dns.addr], o);
    let hop = r.resolve("many.test").await.unwrap();
    assert_eq!(hop.hosts.len(), 4);
    assert!(hop.hosts.iter().all(|h| h.addresses.len() == 1));
}

#[tokio::test]
async fn null_mx_is_permanent_5_1_10() {
    let dns = start_dns().await;
    let r = NextHopResolver::new(&[dns.addr], opts());
    let err = r.resolve("nullmx.test").await.unwrap_err();
    assert_eq!(err, NextHopError::NullMx);
    assert!(err.is_permanent());
    assert_eq!((err.reply_code(), err.enhanced_code()), (550, "5.1.10"));
}

#[tokio::test]
async fn cname_is_followed() {
    let dns = start_dns().await;
    let r = NextHopResolver::new(&[dns.addr], opts());
    let hop = r.resolve("cname.test").await.unwrap();
    assert_eq!(hop.source, NextHopSource::Mx);
    assert_eq!(hop.hosts.len(), 3);
}

#[tokio::test]
async fn implicit_mx_from_a_and_aaaa() {
    let dns = start_dns().await;
    let r = NextHopResolver::new(&[dns.addr], opts());
    let hop = r.resolve("aonly.test").await.unwrap();
    assert_eq!(hop.source, NextHopSource::ImplicitMx);
    assert_eq!(hop.hosts.len(), 1);
    let got: HashSet<IpAddr> = hop.hosts[0].addresses.iter().copied().collect();
    assert_eq!(got, HashSet::from([ip("192.0.2.10"), ip("2001:db8::10")]));
}

#[tokio::test]
async fn nxdomain_and_no_mail_host_are_permanent() {
    let dns = start_dns().await;
    let r = NextHopResolver::new(&[dns.addr], opts());
    assert_eq!(r.resolve("nx.test").await, Err(NextHopError::NoSuchDomain));
    assert_eq!(
        r.resolve("nomail.test").await,
        Err(NextHopError::NoMailHost)
    );
    let dangling = r.resolve("dangling.test").await.unwrap_err();
    assert_eq!(dangling, NextHopError::NoAddresses);
    assert!(!dangling.is_permanent());
}

#[tokio::test]
async fn ip_literal_needs_no_dns() {
    // No server at all: a literal must not be looked up.
    let r = NextHopResolver::new(&[], opts());
    let hop = r.resolve("[192.0.2.99]").await.unwrap();
    assert_eq!(hop.source, NextHopSource::IpLiteral);
    assert_eq!(hop.hosts[0].addresses, [ip("192.0.2.99")]);
    let v6 = r.resolve("[IPv6:2001:db8::5]").await.unwrap();
    assert_eq!(v6.hosts[0].addresses, [ip("2001:db8::5")]);
    assert!(matches!(
        r.resolve("bad domain").await,
        Err(NextHopError::InvalidDomain(_))
    ));
}

#[tokio::test]
async fn cache_respects_ttl() {
    let dns = start_dns().await;
    let r = NextHopResolver::new(&[dns.addr], opts());
    let before = r.resolve("cached.test").await.unwrap();
    let before0 = r.resolve("ttl0.test").await.unwrap();
    assert_eq!(before.hosts[0].name, "a.mx.test");
    assert_eq!(before0.hosts[0].name, "a.mx.test");
    // Repoint both domains: the TTL-300 answer stays cached, the TTL-0 one does not.
    for (name, ttl) in [("cached.test.", 300), ("ttl0.test.", 0)] {
        dns.authority
            .upsert(rec(name, ttl, RData::MX(MX::new(5, n("b.mx.test.")))), 2)
            .await;
    }
    let after = r.resolve("cached.test").await.unwrap();
    assert_eq!(after.hosts[0].name, "a.mx.test", "served from the cache");
    let after0 = r.resolve("ttl0.test").await.unwrap();
    assert_eq!(after0.hosts[0].name, "b.mx.test", "TTL 0 is not cached");
    assert_eq!(after0.hosts[0].preference, 5);
    // A fresh resolver sees the new answer.
    let fresh = NextHopResolver::new(&[dns.addr], opts());
    assert_eq!(fresh.resolve("cached.test").await.unwrap().hosts.len(), 2);
}

#[tokio::test]
async fn lookup_timeout() {
    // A socket that never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut o = opts();
    o.timeout = Duration::from_millis(300);
    let r = NextHopResolver::new(&[silent.local_addr().unwrap()], o);
    let started = std::time::Instant::now();
    let err = r.resolve("mx.test").await.unwrap_err();
    assert_eq!(err, NextHopError::Timeout);
    assert!(!err.is_permanent());
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn smart_hosts_in_order() {
    let dns = start_dns().await;
    let r = NextHopResolver::new(&[dns.addr], opts());
    let hosts = [
        SmartHost::parse("relay.test:587").unwrap(),
        SmartHost::parse("[192.0.2.77]").unwrap(),
    ];
    let hop = r.resolve_smart_hosts(&hosts).await.unwrap();
    assert_eq!(hop.source, NextHopSource::SmartHost);
    assert_eq!(hop.hosts[0].addresses, [ip("192.0.2.50")]);
    assert_eq!(hop.hosts[0].port, 587);
    assert_eq!(hop.hosts[1].addresses, [ip("192.0.2.77")]);
    assert_eq!(hop.hosts[1].port, 25);
    let none = [SmartHost::parse("missing.test").unwrap()];
    assert_eq!(
        r.resolve_smart_hosts(&none).await,
        Err(NextHopError::NoAddresses)
    );
}
