//! Recipient callouts (`[inbound] verify_recipients = "callout"`): ask the internal
//! server whether a recipient exists by starting a transaction to it over the
//! connector's route — `EHLO`, `MAIL FROM:<>`, `RCPT TO:<…>`, `QUIT`, no message — and
//! cache the answer (positive and negative TTLs), as Postfix's
//! `reject_unverified_recipient` does.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use postern_route::{ConnectorConfig, NextHopPolicy, SmartHost};
use postern_smtp::{Limits, Reply, ReplyParser};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::context::Live;

/// What the internal server said about a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// `RCPT` got 2xx.
    Exists,
    /// `RCPT` got 5xx: the reply, as text.
    Unknown(String),
    /// No answer could be had (connection refused, time-out, 4xx): why.
    Unavailable(String),
}

/// Cached callout answers, bounded; entries live for the positive or negative TTL.
#[derive(Debug, Default)]
pub struct CalloutCache {
    entries: Mutex<HashMap<String, (bool, Instant)>>,
}

impl CalloutCache {
    /// An empty cache.
    pub fn new() -> CalloutCache {
        CalloutCache::default()
    }

    /// The cached answer for `address` (lower-cased by the caller): `Some(true)` exists,
    /// `Some(false)` unknown, `None` not cached or expired.
    pub fn get(&self, address: &str, now: Instant) -> Option<bool> {
        let map = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(address)
            .filter(|(_, until)| *until > now)
            .map(|(ok, _)| *ok)
    }

    /// Remembers an answer until `until`. When `max` entries are held, expired ones are
    /// dropped first, and if none were, the one expiring soonest.
    pub fn put(&self, address: String, exists: bool, until: Instant, max: usize) {
        let mut map = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= max && !map.contains_key(&address) {
            let now = Instant::now();
            map.retain(|_, (_, u)| *u > now);
            if map.len() >= max {
                let soonest = map
                    .iter()
                    .min_by_key(|(_, (_, u))| *u)
                    .map(|(k, _)| k.clone());
                if let Some(k) = soonest {
                    map.remove(&k);
                }
            }
        }
        if max > 0 {
            map.insert(address, (exists, until));
        }
    }

    /// How many answers are held (expired ones included until evicted).
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no answer is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Asks the hosts of `connector` (smart hosts, or the MX of `domain`) about `address`,
/// within `[inbound] callout_timeout`. The first host that answers the greeting decides.
pub async fn probe(live: &Live, connector: &ConnectorConfig, domain: &str, address: &str) -> Probe {
    let limit = live.config.inbound.callout_timeout;
    let work = async {
        let hosts = match hosts(live, connector, domain).await {
            Ok(h) if !h.is_empty() => h,
            Ok(_) => return Probe::Unavailable("no hosts to ask".to_owned()),
            Err(why) => return Probe::Unavailable(why),
        };
        let mut last = String::new();
        for addr in hosts {
            match ask(live, addr, address).await {
                Ok(p) => return p,
                Err(why) => last = format!("{addr}: {why}"),
            }
        }
        Probe::Unavailable(last)
    };
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or_else(|_| Probe::Unavailable(format!("no answer within {limit:?}")))
}

/// The addresses to try, in order.
async fn hosts(live: &Live, c: &ConnectorConfig, domain: &str) -> Result<Vec<SocketAddr>, String> {
    let port = live.config.routing.dns.options.port;
    if let NextHopPolicy::SmartHosts(list) = &c.next_hop
        && let Some(direct) = literal_hosts(list, port)
    {
        return Ok(direct);
    }
    let Some(resolver) = &live.resolver else {
        return Err("no DNS name servers configured ([dns] name_servers)".to_owned());
    };
    let found = match &c.next_hop {
        NextHopPolicy::SmartHosts(list) => resolver.resolve_smart_hosts(list).await,
        _ => resolver.resolve(domain).await,
    };
    let nh = found.map_err(|e| e.to_string())?;
    Ok(nh
        .hosts
        .iter()
        .flat_map(|h| h.addresses.iter().map(|a| SocketAddr::new(*a, h.port)))
        .collect())
}

/// Smart hosts written as IP literals; `None` if any is a name.
fn literal_hosts(list: &[SmartHost], port: u16) -> Option<Vec<SocketAddr>> {
    list.iter()
        .map(|h| {
            let inner = h.host.trim_start_matches('[').trim_end_matches(']');
            let inner = inner.strip_prefix("IPv6:").unwrap_or(inner);
            let ip: IpAddr = inner.parse().ok()?;
            Some(SocketAddr::new(ip, h.port.unwrap_or(port)))
        })
        .collect()
}

/// One line-at-a-time SMTP client conversation, enough for a probe.
struct Talk {
    tcp: TcpStream,
    parser: ReplyParser,
    step: Duration,
}

impl Talk {
    async fn reply(&mut self) -> Result<Reply, String> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(r) = self.parser.next_reply() {
                return r.map_err(|e| format!("bad reply: {e}"));
            }
            let n = tokio::time::timeout(self.step, self.tcp.read(&mut buf))
                .await
                .map_err(|_| "time-out waiting for a reply".to_owned())?
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed".to_owned());
            }
            self.parser.feed(&buf[..n]);
        }
    }

    async fn cmd(&mut self, line: &str) -> Result<Reply, String> {
        let out = format!("{line}\r\n");
        self.tcp
            .write_all(out.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        self.reply().await
    }
}

/// The probe against one host: `Err` when this host gives no answer (try the next).
async fn ask(live: &Live, addr: SocketAddr, address: &str) -> Result<Probe, String> {
    let t = &live.config.timeouts;
    let tcp = tokio::time::timeout(t.connect, TcpStream::connect(addr))
        .await
        .map_err(|_| "connect time-out".to_owned())?
        .map_err(|e| e.to_string())?;
    let mut talk = Talk {
        tcp,
        parser: ReplyParser::new(&Limits::default()),
        step: t.command,
    };
    let greeting = talk.reply().await?;
    if !greeting.is_positive() {
        return Err(format!("greeting {}", greeting.text()));
    }
    let me = &live.config.server.hostname;
    if !talk.cmd(&format!("EHLO {me}")).await?.is_positive() {
        talk.cmd(&format!("HELO {me}")).await?;
    }
    let mail = talk.cmd("MAIL FROM:<>").await?;
    if !mail.is_positive() {
        return Err(format!("MAIL FROM:<> refused: {}", mail.text()));
    }
    let rcpt = talk.cmd(&format!("RCPT TO:<{address}>")).await?;
    let _ = talk.cmd("QUIT").await;
    Ok(if rcpt.is_positive() {
        Probe::Exists
    } else if rcpt.is_permanent() {
        Probe::Unknown(rcpt.text())
    } else {
        Probe::Unavailable(rcpt.text())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_expires_and_stays_bounded() {
        let c = CalloutCache::new();
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        c.put("a@x".into(), true, later, 2);
        c.put("b@x".into(), false, later + Duration::from_secs(1), 2);
        assert_eq!(c.get("a@x", now), Some(true));
        assert_eq!(c.get("b@x", now), Some(false));
        assert_eq!(c.get("a@x", later), None, "expired");
        c.put("c@x".into(), true, later + Duration::from_secs(2), 2);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("a@x", now), None, "the soonest to expire went");
        assert_eq!(c.get("c@x", now), Some(true));
        c.put("d@x".into(), true, later, 0);
        assert_eq!(c.get("d@x", now), None, "a zero-size cache holds nothing");
    }
}
