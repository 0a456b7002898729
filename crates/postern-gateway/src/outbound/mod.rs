//! The `smtp` connector: one message to the recipients of one destination, over SMTP.
//!
//! The next hop comes from the connector: MX records through the configured resolver, or
//! its smart hosts. Hosts and their addresses are tried in order, an idle pooled
//! connection first when one is kept for an address ([`pool`]). Before sending, the
//! message is converted for the domain ([`content`]): size limit, uuencode, charset, and
//! 8bit→7bit when the peer lacks 8BITMIME. Each recipient's reply becomes an
//! [`Outcome`]; accepted ones are tracked as `Sent` with the remote host, address and TLS.
//!
//! When no host can be reached (connect, greeting or EHLO fail everywhere) the result is
//! [`SmtpResult::Unreachable`], so the caller can fail over to the next connector.

pub mod auto_reply;
pub mod conn;
pub mod content;
pub mod display_names;
pub mod options;
pub mod pool;
pub mod rich_text;
pub mod transport;

use std::net::{IpAddr, SocketAddr};

use postern_queue::{DeliveryRecipient, FailureClass, Outcome};
use postern_route::{ConnectorConfig, DomainSettings, NextHopPolicy, SmartHost, TlsPolicy};
use postern_smtp::client::{self, ClientConfig, RcptStatus, RecipientResult};
use postern_track::EventKind;

use crate::context::{Context, Live};
use crate::protolog::Transcript;
use conn::{Conn, Sent, SetupError};
use pool::{Pool, PoolKey, close_all};

/// One SMTP delivery to make.
#[derive(Debug)]
pub struct SmtpJob<'a> {
    /// The settings the attempt runs under (time-outs, resolver, TLS roots).
    pub live: &'a Live,
    /// The connector used.
    pub connector: &'a ConnectorConfig,
    /// The recipient domain (the queue's destination).
    pub destination: &'a str,
    /// The domain's settings.
    pub settings: &'a DomainSettings,
    /// The envelope sender.
    pub sender: &'a str,
    /// The recipients to send to.
    pub recipients: &'a [DeliveryRecipient],
    /// The message as spooled (the queue's buffer, shared, never copied).
    pub body: &'a bytes::Bytes,
    /// Queue id and Message-ID, for tracking.
    pub ids: (&'a str, &'a str),
    /// The RFC 3461 parameters of the message, passed on to servers that take them.
    pub dsn: Option<&'a postern_queue::Envelope>,
    /// Filled with the envelope indexes whose notice duty went on to a DSN-capable
    /// server (so this gateway sends no "relayed" notice for them).
    pub dsn_passed: &'a std::sync::Mutex<Vec<usize>>,
}

/// What an SMTP delivery came to.
#[derive(Debug)]
pub enum SmtpResult {
    /// Every recipient has an outcome.
    Done(Vec<(usize, Outcome)>),
    /// No host of the connector could be reached; the reply says why. Try the next
    /// connector, or defer.
    Unreachable(String),
}

/// A host to try: its name and one address.
type Hop = (String, SocketAddr);

/// Delivers one message over SMTP.
pub async fn deliver(ctx: &Context, pool: &Pool, job: &SmtpJob<'_>) -> SmtpResult {
    if let Some(max) = job.settings.max_message_size
        && job.body.len() as u64 > max
    {
        let reply = format!(
            "552 5.3.4 message of {} bytes exceeds the limit of {max} bytes for {}",
            job.body.len(),
            job.destination
        );
        return SmtpResult::Done(all(job.recipients, |_| Outcome::Failed(reply.clone())));
    }
    if let Some(dropped) = auto_reply::check(ctx, job) {
        return dropped;
    }
    let hops = match next_hops(job).await {
        Ok(h) => h,
        Err(HopError::Permanent(reply)) => {
            return SmtpResult::Done(all(job.recipients, |_| Outcome::Failed(reply.clone())));
        }
        Err(HopError::Temporary(reply)) => return SmtpResult::Unreachable(reply),
    };
    let body = content::for_job_shared(job).await;
    let tls = tls_name(job.settings.tls);
    for (host, peer) in &hops {
        let key = PoolKey { peer: *peer, tls };
        if let Some(outcomes) = try_pooled(ctx, pool, &key, host, job, &body).await {
            return SmtpResult::Done(outcomes);
        }
    }
    let mut last = format!("451 4.4.1 no mail host of {} answered", job.destination);
    let mut tls_refused = None;
    for (host, peer) in hops {
        let mut policy = job.settings.tls;
        loop {
            match open(ctx, job, &host, peer, policy).await {
                Ok(mut conn) => {
                    let outcomes = send_on(ctx, &mut conn, job, &body).await;
                    release(pool, PoolKey { peer, tls }, conn);
                    return SmtpResult::Done(outcomes);
                }
                // Opportunistic TLS that fails in the handshake: as in the clear without
                // STARTTLS, which the domain allows. Once, on a fresh connection.
                Err(SetupError::TlsFailed(_)) if policy == TlsPolicy::Opportunistic => {
                    policy = TlsPolicy::Off;
                    continue;
                }
                Err(SetupError::Unreachable(r)) => last = r,
                Err(SetupError::TlsUnavailable(r) | SetupError::TlsFailed(r)) => {
                    tls_refused = Some(r);
                }
            }
            break;
        }
    }
    match tls_refused {
        // The hosts answer but cannot do TLS: another connector would not help, and
        // sending in clear is not allowed. Defer.
        Some(reply) => SmtpResult::Done(all(job.recipients, |_| Outcome::Deferred {
            class: FailureClass::Session,
            reply: reply.clone(),
        })),
        None => SmtpResult::Unreachable(last),
    }
}

/// Sends on a pooled connection for `key`, if one is idle and alive. `None` when there
/// was none, or it broke before an answer (the caller then opens a fresh one).
async fn try_pooled(
    ctx: &Context,
    pool: &Pool,
    key: &PoolKey,
    host: &str,
    job: &SmtpJob<'_>,
    body: &bytes::Bytes,
) -> Option<Vec<(usize, Outcome)>> {
    loop {
        let (conn, stale) = pool.take(key);
        close_all(stale);
        let mut conn = conn?;
        if conn.host != host || !conn.is_alive().await {
            close_all(vec![conn]);
            continue;
        }
        let (sent, payload) = convert_and_send(&mut conn, job, body).await;
        if matches!(sent, Sent::Broken(_)) {
            // A kept connection the server dropped meanwhile: not this message's fault.
            continue;
        }
        let outcomes = settle(ctx, &conn, job, sent, &payload).await;
        release(pool, key.clone(), conn);
        return Some(outcomes);
    }
}

/// Sends the message on a fresh connection.
async fn send_on(
    ctx: &Context,
    conn: &mut Conn,
    job: &SmtpJob<'_>,
    body: &bytes::Bytes,
) -> Vec<(usize, Outcome)> {
    let (sent, payload) = convert_and_send(conn, job, body).await;
    settle(ctx, conn, job, sent, &payload).await
}

/// Converts the message for this connection's server (8BITMIME or not), notes it in the
/// protocol log and sends it; what came of it, and the message as sent.
async fn convert_and_send(
    conn: &mut Conn,
    job: &SmtpJob<'_>,
    body: &bytes::Bytes,
) -> (Sent, bytes::Bytes) {
    let format = job.settings.content_format;
    let (payload, param) = content::for_peer_shared(body, conn.eight_bit_mime(), format).await;
    note_message(conn, job);
    let sent = conn.send(envelope(job, &payload, param), &payload).await;
    note_dsn_passed(job, conn);
    (sent, payload)
}

/// Each recipient's outcome of a sent message, tracked, and the archive copy of what the
/// server took.
async fn settle(
    ctx: &Context,
    conn: &Conn,
    job: &SmtpJob<'_>,
    sent: Sent,
    payload: &bytes::Bytes,
) -> Vec<(usize, Outcome)> {
    let outcomes = outcomes_of(ctx, conn, job, sent);
    archive_sent(ctx, job, payload, &outcomes).await;
    outcomes
}

/// The outbound archive copy: the message as sent (after conversion), for the
/// recipients the remote server took (seed 002).
async fn archive_sent(
    ctx: &Context,
    job: &SmtpJob<'_>,
    payload: &bytes::Bytes,
    outcomes: &[(usize, Outcome)],
) {
    let Some(archive) = ctx.archive.clone() else {
        return;
    };
    let all: Vec<&str> = job.recipients.iter().map(|r| r.address.as_str()).collect();
    if !archive.wants_message(crate::archive::Direction::Outbound, job.sender, &all) {
        return;
    }
    let rcpts: Vec<String> = job
        .recipients
        .iter()
        .filter(|r| {
            outcomes
                .iter()
                .any(|(i, o)| *i == r.index && matches!(o, Outcome::Delivered(_)))
        })
        .map(|r| r.address.clone())
        .collect();
    if rcpts.is_empty() {
        return;
    }
    let (qid, sender, body, now) = (
        job.ids.0.to_owned(),
        job.sender.to_owned(),
        payload.clone(),
        ctx.now().0,
    );
    let written = tokio::task::spawn_blocking(move || {
        let result = archive.write(&crate::archive::Record {
            direction: crate::archive::Direction::Outbound,
            queue_id: &qid,
            sender: &sender,
            recipients: &rcpts,
            body: &body,
            now_ms: now,
        });
        (qid, sender, rcpts, result, body)
    })
    .await;
    if let Ok((qid, sender, rcpts, result, body)) = written {
        let record = crate::archive::Record {
            direction: crate::archive::Direction::Outbound,
            queue_id: &qid,
            sender: &sender,
            recipients: &rcpts,
            // For the tracking event's Message-ID.
            body: &body,
            now_ms: now,
        };
        ctx.track_archived(&record, result, Some(job.connector.name.as_str()));
    }
}

/// The protocol-log transcript for a new outbound session to `peer` for `job` (a
/// disabled one when the log is off), opened with a note of what it is for.
fn transcript(ctx: &Context, job: &SmtpJob<'_>, host: &str, peer: SocketAddr) -> Transcript {
    let Some(log) = &ctx.protocol_log else {
        return Transcript::disabled();
    };
    let mut t = log.outbound_session(peer);
    t.note(&format!(
        "connecting to {host} [{peer}] for {} {} (connector {}, domain {})",
        job.ids.0, job.ids.1, job.connector.name, job.destination
    ));
    t
}

/// Notes in the session's protocol log which message it carries next.
fn note_message(conn: &mut Conn, job: &SmtpJob<'_>) {
    if conn.is_logged() {
        conn.note(&format!(
            "sending {} {} to {} recipient(s)",
            job.ids.0,
            job.ids.1,
            job.recipients.len()
        ));
    }
}

/// Opens a connection to one address under a TLS policy.
async fn open(
    ctx: &Context,
    job: &SmtpJob<'_>,
    host: &str,
    peer: SocketAddr,
    policy: TlsPolicy,
) -> Result<Conn, SetupError> {
    let live = job.live;
    let config = client_config(live, policy);
    let timeout = live.config.timeouts.connect;
    let tls = if policy == TlsPolicy::Verify {
        // Always present: neither start nor reload accepts a domain that verifies
        // without roots.
        let Some(v) = &live.tls_verifying else {
            return Err(SetupError::TlsUnavailable(
                "451 4.7.5 tls = \"verify\" but no trusted roots are loaded".to_owned(),
            ));
        };
        v.clone()
    } else {
        ctx.tls_connector.clone()
    };
    let log = transcript(ctx, job, host, peer);
    Conn::open(host, peer, config, timeout, tls, log).await
}

/// Keeps the connection for reuse, or closes it.
fn release(pool: &Pool, key: PoolKey, conn: Conn) {
    if let Some(c) = pool.put(key, conn) {
        close_all(vec![c]);
    }
}

fn envelope(job: &SmtpJob<'_>, body: &[u8], param: Option<postern_smtp::Body>) -> client::Envelope {
    let mut env = client::Envelope::new(
        job.sender.to_owned(),
        job.recipients.iter().map(|r| r.address.clone()),
    );
    env.size = Some(body.len() as u64);
    env.body = param;
    // RFC 3461 section 6.2: a relaying MTA passes the parameters on (the client session
    // drops them when the server does not announce DSN).
    if let Some(orig) = job.dsn {
        env.envid = orig.envid.clone();
        env.ret = orig.ret_full.map(|full| {
            if full {
                postern_smtp::Ret::Full
            } else {
                postern_smtp::Ret::Hdrs
            }
        });
        for (out, r) in env.recipients.iter_mut().zip(job.recipients) {
            let Some(o) = orig.recipients.get(r.index) else {
                continue;
            };
            out.notify = o.notify.map(|n| {
                if n.never {
                    postern_smtp::Notify::Never
                } else {
                    postern_smtp::Notify::On {
                        success: n.success,
                        failure: n.failure,
                        delay: n.delay,
                    }
                }
            });
            out.orcpt = o.orcpt.as_ref().and_then(|v| {
                v.split_once(';').map(|(t, a)| client::OriginalRecipient {
                    addr_type: t.trim().to_owned(),
                    address: a.trim().to_owned(),
                })
            });
        }
    }
    env
}

/// Records that the notice duty for this job's recipients went on to a DSN server.
fn note_dsn_passed(job: &SmtpJob<'_>, conn: &Conn) {
    if job.dsn.is_some() && conn.dsn() {
        let mut g = job
            .dsn_passed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.extend(job.recipients.iter().map(|r| r.index));
    }
}

/// Turns the session's verdict into per-recipient outcomes, tracking accepted ones.
fn outcomes_of(ctx: &Context, conn: &Conn, job: &SmtpJob<'_>, sent: Sent) -> Vec<(usize, Outcome)> {
    match sent {
        Sent::Answered {
            recipients,
            temp_class,
        } => job
            .recipients
            .iter()
            .zip(recipients)
            .map(|(r, result)| {
                (
                    r.index,
                    recipient_outcome(ctx, conn, job, result, temp_class),
                )
            })
            .collect(),
        Sent::Refused(e) => {
            let reply = e.reply();
            let text = reply.to_string();
            all(job.recipients, |_| {
                if reply.is_transient() {
                    Outcome::Deferred {
                        class: FailureClass::Data,
                        reply: text.clone(),
                    }
                } else {
                    Outcome::Failed(text.clone())
                }
            })
        }
        Sent::Broken(e) => {
            let reply = format!("{} (from {} [{}])", e.reply(), conn.host, conn.peer);
            all(job.recipients, |_| Outcome::Deferred {
                class: FailureClass::Connection,
                reply: reply.clone(),
            })
        }
    }
}

fn recipient_outcome(
    ctx: &Context,
    conn: &Conn,
    job: &SmtpJob<'_>,
    result: RecipientResult,
    temp_class: FailureClass,
) -> Outcome {
    let with_host = |reply: &postern_smtp::Reply| format!("{reply} (from {})", conn.host);
    match result.status {
        RcptStatus::Accepted(reply) => {
            let text = reply.to_string();
            ctx.track(EventKind::Sent, |e| {
                e.queue_id(job.ids.0)
                    .message_id(job.ids.1)
                    .sender(job.sender)
                    .recipient(result.address.as_str())
                    .connector(job.connector.name.as_str())
                    .remote_host(conn.host.as_str())
                    .remote_ip(conn.peer.ip())
                    .reply(text.as_str())
                    .tls(conn.tls_description().unwrap_or_else(|| "none".to_owned()))
            });
            Outcome::Delivered(text)
        }
        RcptStatus::Temporary(reply) => Outcome::Deferred {
            class: temp_class,
            reply: with_host(&reply),
        },
        RcptStatus::Permanent(reply) => Outcome::Failed(with_host(&reply)),
    }
}

/// The same outcome for every recipient.
pub fn all(
    recipients: &[DeliveryRecipient],
    mut f: impl FnMut(&DeliveryRecipient) -> Outcome,
) -> Vec<(usize, Outcome)> {
    recipients.iter().map(|r| (r.index, f(r))).collect()
}

fn tls_name(p: TlsPolicy) -> &'static str {
    match p {
        TlsPolicy::Off => "off",
        TlsPolicy::Required => "required",
        TlsPolicy::Verify => "verify",
        _ => "opportunistic",
    }
}

/// The client settings: our host name, the domain's TLS policy, the `[timeouts]`.
fn client_config(live: &Live, tls: TlsPolicy) -> ClientConfig {
    let t = &live.config.timeouts;
    let mut c = ClientConfig::new(live.config.server.hostname.clone());
    c.tls = match tls {
        TlsPolicy::Off => client::TlsPolicy::Off,
        TlsPolicy::Required | TlsPolicy::Verify => client::TlsPolicy::Required,
        _ => client::TlsPolicy::Opportunistic,
    };
    c.timeouts.greeting = t.greeting;
    c.timeouts.command = t.command;
    c.timeouts.mail = t.command;
    c.timeouts.rcpt = t.command;
    c.timeouts.data_init = t.command;
    c.timeouts.data_block = t.data_block;
    c.timeouts.data_end = t.data_termination;
    c.timeouts.idle = live.config.connections.idle_connection_time;
    c
}

/// Why no host list could be had.
enum HopError {
    /// Retrying cannot help (NXDOMAIN, null MX, bad domain).
    Permanent(String),
    /// Maybe later (DNS down, no resolver configured).
    Temporary(String),
}

/// The hosts and addresses to try, in order.
async fn next_hops(job: &SmtpJob<'_>) -> Result<Vec<Hop>, HopError> {
    let port = job.live.config.routing.dns.options.port;
    let resolved = match &job.connector.next_hop {
        NextHopPolicy::SmartHosts(hosts) => {
            if let Some(direct) = literal_hosts(hosts, port) {
                return Ok(direct);
            }
            let Some(r) = &job.live.resolver else {
                return Err(no_resolver(job));
            };
            r.resolve_smart_hosts(hosts).await
        }
        _ => {
            let Some(r) = &job.live.resolver else {
                return Err(no_resolver(job));
            };
            r.resolve(job.destination).await
        }
    };
    match resolved {
        Ok(nh) => Ok(nh
            .hosts
            .iter()
            .flat_map(|h| {
                h.addresses
                    .iter()
                    .map(|a| (h.name.clone(), SocketAddr::new(*a, h.port)))
            })
            .collect()),
        Err(e) => {
            let reply = format!(
                "{} {} next hop for {}: {e}",
                e.reply_code(),
                e.enhanced_code(),
                job.destination
            );
            Err(if e.is_permanent() {
                HopError::Permanent(reply)
            } else {
                HopError::Temporary(reply)
            })
        }
    }
}

fn no_resolver(job: &SmtpJob<'_>) -> HopError {
    HopError::Temporary(format!(
        "451 4.4.3 connector {}: no DNS name servers configured ([dns] name_servers), cannot find the mail hosts for {}",
        job.connector.name, job.destination
    ))
}

/// Smart hosts written as IP literals need no DNS: `None` if any is a name.
fn literal_hosts(hosts: &[SmartHost], default_port: u16) -> Option<Vec<Hop>> {
    hosts
        .iter()
        .map(|h| {
            let inner = h.host.trim_start_matches('[').trim_end_matches(']');
            let inner = inner.strip_prefix("IPv6:").unwrap_or(inner);
            let ip: IpAddr = inner.parse().ok()?;
            Some((
                h.host.clone(),
                SocketAddr::new(ip, h.port.unwrap_or(default_port)),
            ))
        })
        .collect()
}
