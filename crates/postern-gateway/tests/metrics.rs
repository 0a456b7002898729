//! The metrics endpoint over a real socket: the exposition parses (every family has its
//! HELP and TYPE, every sample a value, histograms are cumulative, the text ends with
//! `# EOF`), and the values move when mail goes through, is deferred, fails and is
//! refused.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::client::Client;
use postern_gateway::{Config, Gateway};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Samples by their series (`name{labels}` as written), with the families' types.
#[derive(Debug, Default)]
struct Exposition {
    samples: BTreeMap<String, f64>,
    types: BTreeMap<String, String>,
}

impl Exposition {
    /// The value of `series`; 0 when absent (a labelled counter not yet created).
    fn get(&self, series: &str) -> f64 {
        self.samples.get(series).copied().unwrap_or(0.0)
    }
}

/// Parses the OpenMetrics text, checking its shape as it goes.
fn parse(text: &str) -> Exposition {
    assert!(text.ends_with("# EOF\n"), "no # EOF at the end:\n{text}");
    let mut e = Exposition::default();
    let mut helped = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(!help.is_empty(), "{line}");
            helped.push(name.to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert_eq!(helped.last().map(String::as_str), Some(name), "HELP first");
            e.types.insert(name.to_owned(), kind.to_owned());
        } else if line == "# EOF" {
            continue;
        } else {
            let (series, value) = line.rsplit_once(' ').expect("series value");
            let v: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("value of {line:?}"));
            let name = series.split('{').next().unwrap();
            assert!(name.starts_with("postern_"), "{line}");
            let family = e
                .types
                .keys()
                .rev()
                .find(|f| name.starts_with(f.as_str()))
                .unwrap_or_else(|| panic!("{line:?} has no TYPE before it"));
            assert!(name.starts_with(family.as_str()));
            assert!(
                e.samples.insert(series.to_owned(), v).is_none(),
                "{series} twice"
            );
        }
    }
    check_histograms(&e);
    e
}

/// The labels of `series` other than `le`, and its `le` bound when it has one.
fn split_le(series: &str) -> (String, Option<f64>) {
    let labels = series
        .split_once('{')
        .map_or("", |(_, l)| l.trim_end_matches('}'));
    let mut le = None;
    let mut rest = Vec::new();
    for pair in labels.split(',').filter(|p| !p.is_empty()) {
        match pair.strip_prefix("le=") {
            Some(v) => {
                let v = v.trim_matches('"');
                le = Some(if v == "+Inf" {
                    f64::INFINITY
                } else {
                    v.parse().expect("le bound")
                });
            }
            None => rest.push(pair),
        }
    }
    (rest.join(","), le)
}

/// Every histogram series: its buckets never decrease with the bound, and the `+Inf`
/// bucket equals `_count`.
fn check_histograms(e: &Exposition) {
    for (family, _) in e.types.iter().filter(|(_, k)| *k == "histogram") {
        let mut buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        let prefix = format!("{family}_bucket");
        for (s, v) in e.samples.iter().filter(|(s, _)| s.starts_with(&prefix)) {
            let (labels, le) = split_le(s);
            buckets
                .entry(labels)
                .or_default()
                .push((le.expect("a bucket's le"), *v));
        }
        assert!(!buckets.is_empty(), "{family} has no buckets");
        for (labels, mut b) in buckets {
            b.sort_by(|x, y| x.0.total_cmp(&y.0));
            assert!(
                b.windows(2).all(|w| w[0].1 <= w[1].1),
                "{family}{{{labels}}}"
            );
            let count_series = if labels.is_empty() {
                format!("{family}_count")
            } else {
                format!("{family}_count{{{labels}}}")
            };
            let last = b.last().unwrap();
            assert_eq!(last.0, f64::INFINITY, "{family}{{{labels}}} ends at +Inf");
            assert_eq!(
                Some(last.1),
                e.samples.get(&count_series).copied(),
                "{count_series}"
            );
        }
    }
}

async fn scrape(addr: SocketAddr) -> Exposition {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: application/openmetrics-text"),
        "{head}"
    );
    parse(body)
}

/// A port with nothing listening on it (bound, then released).
async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// An SMTP server that refuses every recipient with 550 (one session at a time).
async fn refusing_sink() -> SocketAddr {
    use tokio::io::AsyncBufReadExt;
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let (r, mut w) = s.into_split();
            let mut r = tokio::io::BufReader::new(r);
            let _ = w.write_all(b"220 sink\r\n").await;
            let mut line = String::new();
            while r.read_line(&mut line).await.unwrap_or(0) > 0 {
                let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                let answer: &[u8] = match verb.as_str() {
                    "RCPT" => b"550 5.1.1 no such user here\r\n",
                    "QUIT" => b"221 bye\r\n",
                    _ => b"250 ok\r\n",
                };
                let _ = w.write_all(answer).await;
                if verb == "QUIT" {
                    break;
                }
                line.clear();
            }
        }
    });
    addr
}

async fn start(dir: &std::path::Path) -> Gateway {
    let text = format!(
        "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n\
         [security]\nrelay_networks = [\"127.0.0.1/32\"]\n\
         [limits]\nmax_received_headers = 2\n\
         [maildir]\nrecipients = [\"al@localhost\", \"jo@localhost\", \"postmaster@localhost\"]\n\
         [administrator]\nmailbox = \"postmaster@localhost\"\n\
         [retry]\nintervals = [\"1h\"]\npoll_interval = \"100ms\"\n\
         [status]\nmetrics_listen = \"127.0.0.1:0\"\n\
         [[connector]]\nname = \"local\"\nkind = \"maildir\"\n\
         [[connector.address_space]]\npattern = \"localhost\"\n\
         [[connector]]\nname = \"out\"\nsmart_hosts = [\"127.0.0.1:{}\"]\n\
         [[connector.address_space]]\npattern = \"remote.test\"\n\
         [[connector]]\nname = \"bad\"\nsmart_hosts = [\"{}\"]\n\
         [[connector.address_space]]\npattern = \"bad.test\"\n",
        dir.display(),
        closed_port().await,
        refusing_sink().await
    );
    Gateway::start(Config::from_toml_str(&text).unwrap())
        .await
        .unwrap()
}

/// Scrapes until `done` holds (the delivery loop works on its own time), at most 10 s.
async fn scrape_until(addr: SocketAddr, done: impl Fn(&Exposition) -> bool) -> Exposition {
    for _ in 0..100 {
        let e = scrape(addr).await;
        if done(&e) {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    scrape(addr).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_the_mail() {
    let dir = common::temp_dir("metrics", "move");
    let gw = start(&dir).await;
    let m = gw.metrics_addr().unwrap();
    let before = scrape(m).await;
    for (name, kind) in [
        ("postern_messages_accepted", "counter"),
        ("postern_recipients_delivered", "counter"),
        ("postern_recipients_deferred", "counter"),
        ("postern_recipients_failed", "counter"),
        ("postern_ndrs", "counter"),
        ("postern_rejected", "counter"),
        ("postern_connections", "counter"),
        ("postern_queue_messages", "gauge"),
        ("postern_queue_held_messages", "gauge"),
        ("postern_queue_oldest_seconds", "gauge"),
        ("postern_accept_latency_seconds", "histogram"),
        ("postern_queue_age_at_delivery_seconds", "histogram"),
    ] {
        assert_eq!(
            before.types.get(name).map(String::as_str),
            Some(kind),
            "{name}"
        );
    }
    assert_eq!(before.get("postern_messages_accepted_total"), 0.0);
    assert_eq!(before.get("postern_accept_latency_seconds_count"), 0.0);

    let mut c = Client::new(TcpStream::connect(gw.local_addrs()[0]).await.unwrap());
    c.expect(220).await;
    c.cmd("EHLO client.test", 250).await;
    // Delivered into the Maildir; failed (the next hop answers 550), so an NDR;
    // deferred (the smart host refuses connections).
    c.mail(
        "jo@localhost",
        "al@localhost",
        "Subject: one\r\n\r\nhello\r\n",
    )
    .await;
    c.mail(
        "jo@localhost",
        "x@bad.test",
        "Subject: two\r\n\r\nhello\r\n",
    )
    .await;
    c.mail(
        "jo@localhost",
        "x@remote.test",
        "Subject: three\r\n\r\nhello\r\n",
    )
    .await;
    // Refused at the end of DATA: too many hops.
    c.cmd("MAIL FROM:<jo@localhost>", 250).await;
    c.cmd("RCPT TO:<al@localhost>", 250).await;
    let looped = c
        .data("Received: from a\r\nReceived: from b\r\nReceived: from c\r\n\r\nloop\r\n")
        .await;
    assert_eq!(looped.code, 554, "{}", looped.text);
    c.cmd("QUIT", 221).await;

    let after = scrape_until(m, |e| {
        e.get("postern_recipients_delivered_total") >= 1.0
            && e.get("postern_recipients_failed_total") >= 1.0
            && e.get("postern_recipients_deferred_total") >= 1.0
            && e.get("postern_ndrs_total") >= 1.0
    })
    .await;
    assert_eq!(after.get("postern_messages_accepted_total"), 3.0);
    assert_eq!(after.get("postern_accept_latency_seconds_count"), 3.0);
    assert!(after.get("postern_accept_latency_seconds_sum") > 0.0);
    assert_eq!(after.get("postern_recipients_failed_total"), 1.0);
    assert_eq!(after.get("postern_ndrs_total"), 1.0);
    assert!(after.get("postern_recipients_deferred_total") >= 1.0);
    assert_eq!(after.get("postern_rejected_total{reason=\"loop\"}"), 1.0);
    assert!(after.get("postern_connections_total") >= 1.0);
    assert!(after.get("postern_sessions_total") >= 1.0);
    // The NDR to jo@localhost is delivered too: two deliveries into the Maildir.
    let delivered = after.get("postern_recipients_delivered_total");
    assert!(delivered >= 1.0);
    // One series per destination, from its first delivery on.
    assert_eq!(
        after
            .types
            .get("postern_delivery_latency_seconds")
            .map(String::as_str),
        Some("histogram")
    );
    let local = "postern_delivery_latency_seconds_count{destination=\"localhost\"}";
    assert!(after.get(local) >= 1.0, "{:?}", after.samples);
    assert!(after.get("postern_queue_age_at_delivery_seconds_count") >= 1.0);
    // The deferred message is still queued, and counts for the queue gauges.
    assert!(after.get("postern_queue_messages") >= 1.0);
    assert_eq!(after.get("postern_queue_held_messages"), 0.0);
    assert!(after.get("postern_spool_bytes") > 0.0);

    gw.shutdown(Duration::from_secs(2)).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_counted_by_reason() {
    let dir = common::temp_dir("metrics", "refused");
    let text = format!(
        "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n\
         [status]\nmetrics_listen = \"127.0.0.1:0\"\n\
         [[connector]]\nname = \"local\"\nkind = \"maildir\"\n\
         [[connector.address_space]]\npattern = \"localhost\"\n",
        dir.display(),
    );
    let gw = Gateway::start(Config::from_toml_str(&text).unwrap())
        .await
        .unwrap();
    let m = gw.metrics_addr().unwrap();
    let mut c = Client::new(TcpStream::connect(gw.local_addrs()[0]).await.unwrap());
    c.expect(220).await;
    c.cmd("HELO client.test", 250).await;
    c.cmd("MAIL FROM:<jo@localhost>", 250).await;
    // No relay for 127.0.0.1 here: a recipient elsewhere is refused.
    let refused = c.reply_to("RCPT TO:<x@elsewhere.test>").await;
    assert!(refused.code >= 500, "{}", refused.text);
    let refused = c.reply_to("RCPT TO:<y@elsewhere.test>").await;
    assert!(refused.code >= 500, "{}", refused.text);
    c.cmd("QUIT", 221).await;
    // A 404 for anything but the metrics.
    let mut s = TcpStream::connect(m).await.unwrap();
    s.write_all(b"GET /nothing HTTP/1.1\r\n\r\n").await.unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 404"), "{raw}");

    let e = scrape(m).await;
    assert_eq!(e.get("postern_rejected_total{reason=\"recipient\"}"), 2.0);
    assert_eq!(e.get("postern_messages_accepted_total"), 0.0);
    assert_eq!(e.get("postern_connections_total"), 1.0);
    gw.shutdown(Duration::from_secs(2)).await;
    let _ = std::fs::remove_dir_all(&dir);
}
