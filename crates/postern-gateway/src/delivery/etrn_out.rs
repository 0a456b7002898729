//! Outbound ETRN (RFC 1985), the IMS dial-up side's "retrieve mail using ETRN": a site
//! whose provider holds its mail asks the provider's hosts to send it.
//!
//! A connector with `etrn_domains` sends `ETRN domain` for each of them to its smart
//! hosts (the first that answers): once when the gateway starts, every
//! `etrn_interval_secs` if set, and on demand (`postern queue etrn CONNECTOR`). The
//! exchange is greeting, `EHLO`, one `ETRN` per domain, `QUIT`, each reply within the
//! `[timeouts] command_secs`. The provider then connects to this gateway on its own and
//! delivers like any other client.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use postern_route::{ConnectorConfig, NextHopPolicy, SmartHost};
use postern_smtp::{Limits, Reply, ReplyParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::context::{Context, Live};

/// How often the schedule is looked at.
const TICK: Duration = Duration::from_secs(1);

/// Sends each ETRN connector's requests at start and on its schedule until shutdown.
pub async fn run(ctx: Arc<Context>) {
    let mut last: HashMap<String, Instant> = HashMap::new();
    let mut shutdown = ctx.shutdown.clone();
    while !ctx.is_shutting_down() {
        let live = ctx.live();
        for conn in live.config.routing.connectors.iter() {
            if conn.etrn_domains.is_empty() {
                continue;
            }
            let due = match (last.get(&conn.name), conn.etrn_interval) {
                (None, _) => true,
                (Some(t), Some(every)) => t.elapsed() >= every,
                (Some(_), None) => false,
            };
            if due {
                last.insert(conn.name.clone(), Instant::now());
                let answer = send(&live, conn).await;
                tracing::info!(connector = %conn.name, "ETRN via connector {}: {answer}", conn.name);
            }
        }
        drop(live);
        tokio::select! {
            () = tokio::time::sleep(TICK) => {}
            r = shutdown.changed() => if r.is_err() { break },
        }
    }
}

/// Sends the ETRN requests of connector `name` now; the answer line for
/// `postern queue etrn` (`ok: …` or `error: …`).
pub async fn send_named(live: &Live, name: &str) -> String {
    match live.config.routing.connector(name) {
        None => format!("error: no connector named {name:?}"),
        Some(c) if c.etrn_domains.is_empty() => {
            format!("error: connector {name} has no etrn_domains")
        }
        Some(c) => send(live, c).await,
    }
}

/// Sends the connector's ETRN requests to the first of its hosts that answers.
async fn send(live: &Live, conn: &ConnectorConfig) -> String {
    let NextHopPolicy::SmartHosts(hosts) = &conn.next_hop else {
        return "error: ETRN needs smart_hosts".into();
    };
    let addrs = match addresses(live, hosts).await {
        Ok(a) => a,
        Err(e) => return format!("error: {e}"),
    };
    let mut last = String::from("no smart host to ask");
    for (host, peer) in addrs {
        match exchange(live, peer, &conn.etrn_domains).await {
            Ok(replies) => {
                let said: Vec<String> = replies
                    .iter()
                    .map(|(d, r)| format!("{d}: {}", r.to_string().trim_end()))
                    .collect();
                let ok = replies.iter().all(|(_, r)| r.is_positive());
                let verdict = if ok { "ok" } else { "error" };
                return format!("{verdict}: {host} [{peer}] {}", said.join("; "));
            }
            Err(e) => last = format!("{host} [{peer}]: {e}"),
        }
    }
    format!("error: {last}")
}

/// The connector's hosts as addresses, in order (IP literals need no DNS).
async fn addresses(live: &Live, hosts: &[SmartHost]) -> Result<Vec<(String, SocketAddr)>, String> {
    let port = live.config.routing.dns.options.port;
    let literal: Option<Vec<(String, SocketAddr)>> = hosts
        .iter()
        .map(|h| {
            let inner = h.host.trim_start_matches('[').trim_end_matches(']');
            let inner = inner.strip_prefix("IPv6:").unwrap_or(inner);
            let ip: IpAddr = inner.parse().ok()?;
            Some((h.host.clone(), SocketAddr::new(ip, h.port.unwrap_or(port))))
        })
        .collect();
    if let Some(l) = literal {
        return Ok(l);
    }
    let Some(r) = &live.resolver else {
        return Err(
            "no DNS name servers configured ([dns] name_servers) for the smart hosts".into(),
        );
    };
    let nh = r
        .resolve_smart_hosts(hosts)
        .await
        .map_err(|e| e.to_string())?;
    Ok(nh
        .hosts
        .iter()
        .flat_map(|h| {
            h.addresses
                .iter()
                .map(|a| (h.name.clone(), SocketAddr::new(*a, h.port)))
        })
        .collect())
}

/// One session: greeting, EHLO, an ETRN per domain, QUIT. The reply to each ETRN.
async fn exchange(
    live: &Live,
    peer: SocketAddr,
    domains: &[String],
) -> Result<Vec<(String, Reply)>, String> {
    let t = &live.config.timeouts;
    let stream = tokio::time::timeout(t.connect, TcpStream::connect(peer))
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|e| format!("connect: {e}"))?;
    let mut s = Session {
        stream,
        parser: ReplyParser::new(&Limits::default()),
        timeout: t.command,
    };
    let greeting = s.reply().await?;
    if !greeting.is_positive() {
        return Err(format!("greeting {}", greeting.to_string().trim_end()));
    }
    let ehlo = s
        .command(&format!("EHLO {}", live.config.server.hostname))
        .await?;
    if !ehlo.is_positive() {
        return Err(format!("EHLO refused: {}", ehlo.to_string().trim_end()));
    }
    let mut out = Vec::with_capacity(domains.len());
    for d in domains {
        out.push((d.clone(), s.command(&format!("ETRN {d}")).await?));
    }
    let _ = s.command("QUIT").await;
    Ok(out)
}

/// The client side of the little ETRN session.
struct Session {
    stream: TcpStream,
    parser: ReplyParser,
    timeout: Duration,
}

impl Session {
    async fn command(&mut self, line: &str) -> Result<Reply, String> {
        let bytes = format!("{line}\r\n");
        tokio::time::timeout(self.timeout, self.stream.write_all(bytes.as_bytes()))
            .await
            .map_err(|_| "write timed out".to_owned())?
            .map_err(|e| format!("write: {e}"))?;
        self.reply().await
    }

    async fn reply(&mut self) -> Result<Reply, String> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(r) = self.parser.next_reply() {
                return r.map_err(|e| format!("bad reply: {e}"));
            }
            let n = tokio::time::timeout(self.timeout, self.stream.read(&mut buf))
                .await
                .map_err(|_| "no reply in time".to_owned())?
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("connection closed".into());
            }
            self.parser.feed(&buf[..n]);
        }
    }
}
