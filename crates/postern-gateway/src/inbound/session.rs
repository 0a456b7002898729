//! One inbound SMTP session: the gateway's answer to each event of the sans-IO
//! [`ServerSession`] (relay control, AUTH, queueing the message, ETRN).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use postern_queue::{Envelope, EnvelopeRecipient, QueueId};
use postern_smtp::server::{Event, ServerConfig, ServerSession, Timeouts};
use postern_smtp::{EnhancedCode, Reply, ReversePath};
use postern_track::EventKind;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::body::Body;
use super::flow::{Flow, shutting_down};
use super::message::{HeaderInfo, Trace, inspect, protocol, received_header, submission_fields};
use super::rate::RateMeter;
use crate::archive::{Direction, Record};
use crate::auth_guard::Admission;
use crate::config::Config;
use crate::context::{Context, Live};
use crate::policy::verify::Recipient;
use crate::policy::{Accepted, RcptContext, RcptVerdict, Refusal, in_networks, judge_recipient};
use crate::protolog::Transcript;

/// How long closing a connection (TLS close_notify, TCP FIN) may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Numbers sessions started in this process, for session ids.
static SESSIONS: AtomicU32 = AtomicU32::new(0);

/// Writes the inbound archive copy (when the archive wants this sender), after the
/// message is safe in the queue and before the client hears 250; a failed archive write
/// is reported, not fatal.
fn archive_inbound(ctx: &Context, id: QueueId, envelope: &Envelope, data: &[u8], now_ms: u64) {
    let Some(archive) = &ctx.archive else { return };
    let rcpts: Vec<String> = envelope
        .recipients
        .iter()
        .map(|r| r.address.clone())
        .collect();
    let all: Vec<&str> = rcpts.iter().map(String::as_str).collect();
    if !archive.wants_message(Direction::Inbound, &envelope.sender, &all) {
        return;
    }
    let qid = id.to_string();
    let record = Record {
        direction: Direction::Inbound,
        queue_id: &qid,
        sender: &envelope.sender,
        recipients: &rcpts,
        body: data,
        now_ms,
    };
    ctx.track_archived(&record, archive.write(&record), None);
}

/// The transaction in progress: what MAIL, RCPT and DATA gave so far.
#[derive(Debug, Default)]
struct Transaction {
    sender: String,
    mt_priority: Option<i8>,
    dsn: MailDsn,
    /// `SIZE=` of MAIL FROM, when given.
    size: Option<u64>,
    recipients: Vec<EnvelopeRecipient>,
    body: Body,
}

/// The RFC 3461 parameters of MAIL FROM, decoded.
#[derive(Debug, Default, Clone)]
struct MailDsn {
    envid: Option<String>,
    ret_full: Option<bool>,
}

/// The RFC 3461 parameters of one RCPT TO, decoded.
#[derive(Debug, Default, Clone)]
struct RcptDsn {
    notify: Option<postern_queue::Notify>,
    orcpt: Option<String>,
}

fn mail_dsn(params: &postern_smtp::MailParams<'_>) -> MailDsn {
    MailDsn {
        envid: params
            .envid
            .map(|x| String::from_utf8_lossy(&x.decode()).into_owned()),
        ret_full: params.ret.map(|r| matches!(r, postern_smtp::Ret::Full)),
    }
}

fn rcpt_dsn(params: &postern_smtp::RcptParams<'_>) -> RcptDsn {
    use postern_smtp::Notify as N;
    RcptDsn {
        notify: params.notify.map(|n| match n {
            N::Never => postern_queue::Notify {
                never: true,
                ..Default::default()
            },
            N::On {
                success,
                failure,
                delay,
            } => postern_queue::Notify {
                never: false,
                success,
                failure,
                delay,
            },
        }),
        orcpt: params.orcpt.map(|o| {
            format!(
                "{};{}",
                o.addr_type,
                String::from_utf8_lossy(&o.address.decode())
            )
        }),
    }
}

/// An event, copied out of the session's buffer so that the session can be used again.
enum Action {
    Nothing,
    Greeted {
        helo: String,
        esmtp: bool,
    },
    Mail {
        sender: String,
        mt_priority: Option<i8>,
        dsn: MailDsn,
        size: Option<u64>,
    },
    /// The policy's verdict, the RCPT's DSN parameters, and the local part unquoted.
    Rcpt(RcptVerdict, RcptDsn, String),
    DataStart,
    MessageEnd,
    /// RSET, a refused message, QUIT or a close: the transaction is void.
    Abandon,
    StartTls,
    Auth {
        username: String,
        password: String,
    },
    Etrn(String),
}

/// One client connection's state.
pub(super) struct Inbound {
    pub(super) ctx: Arc<Context>,
    /// The settings in force when the client connected; a reload does not change them
    /// for this session.
    pub(super) live: Arc<Live>,
    pub(super) smtp: ServerSession,
    peer: SocketAddr,
    /// Names this session in `Received:` fields and generated Message-IDs.
    id: String,
    helo: Option<String>,
    esmtp: bool,
    tx: Transaction,
    messages: u32,
    /// Message content is arriving (DATA or BDAT accepted, end not yet seen).
    pub(super) in_data: bool,
    pub(super) rate: RateMeter,
    pub(super) shutdown: watch::Receiver<bool>,
    /// The client sent STARTTLS; the driver runs the handshake.
    pub(super) starttls: bool,
    /// The protocol log of this session (a no-op when logging is off).
    pub(super) transcript: Transcript,
    /// Failed AUTH attempts in this session.
    pub(super) auth_failures: u32,
}

/// The session settings from the gateway's configuration.
fn server_config(config: &Config, tls: bool) -> ServerConfig {
    let mut c = ServerConfig::new(config.server.hostname.clone());
    c.limits.max_message_size = config.limits.max_message_size;
    c.limits.max_recipients = config.limits.max_recipients;
    let mut t = Timeouts::default();
    t.command = config.timeouts.command;
    t.data_block = config.timeouts.data_block;
    t.data_termination = config.timeouts.data_termination;
    c.timeouts = t;
    c.starttls = tls;
    c.auth = !config.security.users.is_empty();
    c.auth_without_tls = config.security.auth_without_tls;
    c.etrn = true;
    c
}

fn reply(code: u16, e: (u8, u16, u16), text: &str) -> Reply {
    Reply::new(code, Some(EnhancedCode::new(e.0, e.1, e.2)), text)
}

impl Inbound {
    /// A session for a client at `peer` under the settings `live`; nothing is sent yet.
    pub(super) fn new(ctx: Arc<Context>, live: Arc<Live>, peer: SocketAddr) -> Inbound {
        let config = &live.config;
        let n = SESSIONS.fetch_add(1, Ordering::Relaxed);
        Inbound {
            smtp: ServerSession::new(server_config(config, live.tls_acceptor.is_some())),
            id: format!("{:X}{:05X}", ctx.now().0, n & 0xF_FFFF),
            rate: RateMeter::new(
                config.limits.min_data_rate,
                config.limits.min_data_rate_window,
            ),
            shutdown: ctx.shutdown.clone(),
            peer,
            helo: None,
            esmtp: false,
            tx: Transaction::default(),
            messages: 0,
            in_data: false,
            starttls: false,
            auth_failures: 0,
            transcript: match &ctx.protocol_log {
                Some(log) => log.session(peer),
                None => Transcript::disabled(),
            },
            ctx,
            live,
        }
    }

    /// The session id (as in the protocol log and the `Received:` field).
    pub(super) fn id(&self) -> &str {
        &self.id
    }

    /// Hands what was read to the SMTP session: while message content arrives it is
    /// decoded straight into the message body (no copy into the session's buffer, none
    /// out of it); the rest waits in the session for `process`.
    pub(super) fn receive(&mut self, bytes: &[u8]) {
        let taken = if self.in_data {
            self.smtp
                .receive_content_into(bytes, self.tx.body.buffer(bytes.len()))
        } else {
            0
        };
        self.smtp.receive(&bytes[taken..]);
    }

    /// Greets, serves the client (switching to TLS on STARTTLS), and closes.
    pub(super) async fn run(mut self, mut tcp: TcpStream) {
        tracing::debug!("connected");
        self.transcript.note("connected");
        self.pregreet(&tcp).await;
        if self.ctx.is_shutting_down() {
            self.smtp.reject_connection(shutting_down());
        } else {
            // Anything the client sent before this makes the session answer 554 5.5.0.
            self.smtp.greet();
        }
        match self.drive(&mut tcp).await {
            // Every reply has been written whole (`flush`); closing the socket sends
            // the FIN after it, so a separate shutdown(2) would only cost a system call.
            Flow::Close => drop(tcp),
            Flow::StartTls => self.upgrade(tcp).await,
        }
    }

    /// Catches clients that talk before the greeting (spam engines that do not wait):
    /// waits up to `connections.greet_delay` for input, and also takes whatever has already
    /// arrived, feeding it to the session before it greets.
    async fn pregreet(&mut self, tcp: &TcpStream) {
        let delay = self.live.config.connections.greet_delay;
        if !delay.is_zero() {
            let _ = tokio::time::timeout(delay, tcp.readable()).await;
        }
        let mut buf = [0u8; 512];
        if let Ok(n @ 1..) = tcp.try_read(&mut buf) {
            self.transcript.client(&buf[..n]);
            self.smtp.receive(&buf[..n]);
        }
    }

    /// Runs the TLS handshake and the rest of the session over TLS; a failed handshake
    /// ends the connection.
    async fn upgrade(mut self, tcp: TcpStream) {
        let Some(acceptor) = self.live.tls_acceptor.clone() else {
            return;
        };
        let handshake =
            tokio::time::timeout(self.live.config.timeouts.command, acceptor.accept(tcp));
        let Ok(Ok(mut tls)) = handshake.await else {
            return;
        };
        if !self.smtp.tls_established() {
            return;
        }
        self.transcript.note("TLS established");
        // STARTTLS is not offered again, so this ends with Close.
        let _ = self.drive(&mut tls).await;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, tls.shutdown()).await;
    }

    /// Answers every event the buffered input yields.
    /// Returns how many events were handled (a complete command counts as progress for
    /// the command time-out).
    pub(super) async fn process(&mut self) -> usize {
        let mut n = 0;
        while let Some(action) = self.next_action() {
            self.act(action).await;
            n += 1;
        }
        n
    }

    /// Whether this client may send to non-local recipients.
    fn may_relay(&self) -> bool {
        self.smtp.is_authenticated()
            || in_networks(&self.live.config.security.relay_networks, self.peer.ip())
    }

    /// The next event, copied out (message content goes straight into the transaction).
    fn next_action(&mut self) -> Option<Action> {
        let may_relay = self.may_relay();
        let Inbound { smtp, live, tx, .. } = self;
        let action = match smtp.poll_event()? {
            Event::Helo { domain } => Action::Greeted {
                helo: domain.to_string(),
                esmtp: false,
            },
            Event::Ehlo { domain } => Action::Greeted {
                helo: domain.to_string(),
                esmtp: true,
            },
            Event::Mail { from, params } => Action::Mail {
                sender: match from {
                    ReversePath::Null => String::new(),
                    ReversePath::Mailbox(m) => m.to_string(),
                },
                mt_priority: params.mt_priority,
                dsn: mail_dsn(&params),
                size: params.size,
            },
            Event::Rcpt { to, params } => {
                let cx = RcptContext {
                    config: &live.config,
                    restrictions: &live.restrictions,
                    sender: &tx.sender,
                    size: tx.size,
                    may_relay,
                };
                let local = match &to {
                    postern_smtp::ForwardPath::Mailbox(m) => m.local_part_unquoted().into_owned(),
                    postern_smtp::ForwardPath::Postmaster => String::new(),
                };
                Action::Rcpt(judge_recipient(&cx, &to), rcpt_dsn(&params), local)
            }
            Event::DataStart => Action::DataStart,
            Event::DataChunk(chunk) => {
                // The session bounds the total by `limits.max_message_size`.
                tx.body.push(chunk);
                Action::Nothing
            }
            Event::MessageEnd { .. } => Action::MessageEnd,
            Event::StartTls => Action::StartTls,
            Event::Auth {
                username, password, ..
            } => Action::Auth {
                username: username.to_owned(),
                password: password.to_owned(),
            },
            Event::Etrn { node } => Action::Etrn(node.to_owned()),
            Event::MessageRejected { .. } | Event::Reset | Event::Quit | Event::Closed { .. } => {
                Action::Abandon
            }
            _ => Action::Nothing,
        };
        Some(action)
    }

    /// The gateway's answer to one event.
    async fn act(&mut self, action: Action) {
        match action {
            Action::Nothing => {}
            Action::Greeted { helo, esmtp } => {
                self.helo = Some(helo);
                self.esmtp = esmtp;
                self.abandon();
            }
            Action::Mail {
                sender,
                mt_priority,
                dsn,
                size,
            } => self.mail(sender, mt_priority, dsn, size),
            Action::Rcpt(Ok(accepted), dsn, local) => self.rcpt(accepted, dsn, &local).await,
            Action::Rcpt(Err(refusal), _, _) => self.refuse_rcpt(refusal),
            Action::DataStart => {
                self.tx.body = Body::start(self.tx.size);
                self.in_data = true;
                self.rate.start(Instant::now());
                let _ = self.smtp.accept();
            }
            Action::MessageEnd => {
                self.in_data = false;
                self.rate.stop();
                let data_end = Instant::now();
                let answer = self.finish_message().await;
                if answer.code == 250 {
                    self.ctx.metrics.accepted_after(data_end.elapsed());
                }
                self.answer(answer);
            }
            Action::Abandon => self.abandon(),
            Action::StartTls => self.starttls = true,
            Action::Auth { username, password } => self.auth(username, password).await,
            Action::Etrn(node) => self.etrn(&node).await,
        }
    }

    /// Decides the pending decision with `r`. Should the session refuse the reply (a
    /// code unfit for the decision), a transient refusal goes instead, so that the
    /// session never stays stuck waiting.
    fn answer(&mut self, r: Reply) {
        if self.smtp.reply(r).is_err() && self.smtp.pending_decision().is_some() {
            let _ = self
                .smtp
                .reply(reply(451, (4, 3, 0), "Local error in processing"));
        }
    }

    /// Forgets the transaction.
    fn abandon(&mut self) {
        self.tx = Transaction::default();
        self.in_data = false;
        self.rate.stop();
    }

    /// An accepted recipient: verified when its domain is an accepted domain, then
    /// added to the transaction.
    async fn rcpt(&mut self, accepted: Accepted, dsn: RcptDsn, local: &str) {
        if accepted.inbound {
            let domain = accepted.address.rsplit_once('@').map_or("", |(_, d)| d);
            let r = Recipient {
                local,
                domain,
                address: &accepted.address,
                connectors: &accepted.connectors,
            };
            if let Err(reply) = self.ctx.verifier.verify(&self.live, r).await {
                // Debug, as every refused RCPT: a spam run would flood the log at info
                // (the metrics count them by reason).
                tracing::debug!(code = reply.code, reply = %reply.text(), "recipient refused by verification");
                self.ctx.metrics.rejected("recipient_verification");
                self.answer(reply);
                return;
            }
        }
        let mut rcpt = EnvelopeRecipient::new(accepted.address);
        rcpt.notify = dsn.notify;
        rcpt.orcpt = dsn.orcpt;
        self.tx.recipients.push(rcpt);
        let _ = self.smtp.accept();
    }

    /// A refused recipient; a refusal by a delivery restriction is tracked.
    fn refuse_rcpt(&mut self, refusal: Refusal) {
        let reason = if refusal.restricted.is_some() {
            "restriction"
        } else {
            "recipient"
        };
        // Debug: see `rcpt` (the metrics count refusals by reason).
        tracing::debug!(reason, code = refusal.reply.code, reply = %refusal.reply.text(), "recipient refused");
        self.ctx.metrics.rejected(reason);
        if let Some(connector) = &refusal.restricted {
            self.ctx.track(EventKind::CommandRejected, |e| {
                e.sender(self.tx.sender.as_str())
                    .remote_ip(self.peer.ip().to_canonical())
                    .connector(connector.as_str())
                    .reply(refusal.reply.text())
                    .reason("delivery restriction")
            });
        }
        self.answer(refusal.reply);
    }

    fn mail(&mut self, sender: String, mt_priority: Option<i8>, dsn: MailDsn, size: Option<u64>) {
        if self.live.config.security.require_auth && !self.smtp.is_authenticated() {
            self.ctx.metrics.rejected("auth_required");
            let _ = self
                .smtp
                .reply(reply(530, (5, 7, 0), "Authentication required"));
            return;
        }
        self.tx = Transaction {
            sender,
            mt_priority,
            dsn,
            size,
            ..Transaction::default()
        };
        let _ = self.smtp.accept();
    }

    /// AUTH, through the password-guessing limits (`crate::auth_guard`): a blocked
    /// client address gets `454` unchecked; a failure is answered after a growing delay,
    /// and the session closes at its limit.
    async fn auth(&mut self, username: String, password: String) {
        let limits = self.live.config.security.auth_limits.clone();
        let guard = &self.ctx.auth_guard;
        let client = self.peer.ip();
        let now = std::time::Instant::now();
        if guard.admit(&limits, client, now) == Admission::ClientBlocked {
            self.transcript
                .note("auth refused: too many failures from this address");
            self.answer(reply(
                454,
                (4, 7, 0),
                "Temporary authentication failure: too many failed attempts, try later",
            ));
            return;
        }
        let users = self.live.config.security.users.clone();
        if crate::auth::verify_blocking(users, username.clone(), password).await {
            let _ = self.smtp.accept();
            return;
        }
        self.auth_failures += 1;
        let penalty = guard.failed(&limits, client, &username, self.auth_failures, now);
        self.transcript.note_fmt(format_args!(
            "auth failed for {username:?} ({} in this session)",
            self.auth_failures
        ));
        tokio::time::sleep(penalty.delay).await;
        self.answer(reply(535, (5, 7, 8), "Authentication credentials invalid"));
        if penalty.disconnect {
            self.smtp.reject_connection(reply(
                421,
                (4, 7, 0),
                "Too many failed authentications, closing connection",
            ));
        }
    }

    /// The end of a message: loop check, trace field, durable enqueue, then the answer.
    /// `250` only follows a successful (fsynced) enqueue.
    async fn finish_message(&mut self) -> Reply {
        let mut tx = std::mem::take(&mut self.tx);
        let info = inspect(tx.body.content(), tx.mt_priority);
        if info.received > self.live.config.limits.max_received_headers {
            tracing::info!(received = info.received, "message refused: too many hops");
            self.ctx.metrics.rejected("loop");
            return reply(554, (5, 4, 6), "Too many hops (mail loop?)");
        }
        self.messages += 1;
        let local_id = format!("{}.{}", self.id, self.messages);
        let (data, message_id) = self.stamp(&mut tx, &info, &local_id);
        let now = self.ctx.now();
        let envelope = Envelope {
            sender: tx.sender,
            recipients: tx.recipients,
            priority: info.priority,
            arrival: now,
            envid: tx.dsn.envid,
            ret_full: tx.dsn.ret_full,
        };
        let size = data.len() as u64;
        // One buffer from here on: the queue, the archive and the body cache share it.
        let stored = self.store(envelope, data.clone(), now).await;
        match stored {
            Ok(Ok((id, envelope))) => {
                let message_id: Option<std::sync::Arc<str>> = message_id.map(Into::into);
                // Before the wake-up, so the delivery it starts finds the body here.
                let accepted = crate::bodies::Accepted {
                    body: data,
                    message_id: message_id.clone(),
                    arrival: envelope.arrival,
                    dsn: envelope.has_dsn(),
                };
                let cache = self.live.config.limits.body_cache_bytes;
                self.ctx.bodies.insert(id, accepted, cache);
                self.ctx.stats.accepted.fetch_add(1, Ordering::Relaxed);
                self.transcript.note_fmt(format_args!("queued as {id}"));
                tracing::info!(
                    queue_id = %id,
                    sender = %envelope.sender,
                    recipients = envelope.recipients.len(),
                    size,
                    "accepted"
                );
                self.track_received(id, &envelope, &info, message_id.as_deref(), size);
                self.ctx.wake.notify_one();
                reply(250, (2, 0, 0), &format!("Ok: queued as {id}"))
            }
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => e.to_string(),
                    Ok(Ok(_)) => String::new(),
                };
                tracing::error!("cannot queue the message: {why}");
                self.ctx.metrics.rejected("queue_error");
                reply(
                    451,
                    (4, 3, 0),
                    "Error: queue file write error, try again later",
                )
            }
        }
    }

    /// Queues the message (durable when this returns `Ok`: the spool's fsync, the
    /// database's commit) and writes its archive copy (a file: off the runtime).
    async fn store(
        &self,
        envelope: Envelope,
        data: bytes::Bytes,
        now: postern_queue::Timestamp,
    ) -> Result<Result<(QueueId, Envelope), postern_queue::StoreError>, tokio::task::JoinError>
    {
        let id = match self.ctx.queue.enqueue(&envelope, data.clone(), now).await {
            Ok(id) => id,
            Err(e) => return Ok(Err(e)),
        };
        if self.ctx.archive.is_none() {
            return Ok(Ok((id, envelope)));
        }
        let ctx = self.ctx.clone();
        tokio::task::spawn_blocking(move || {
            archive_inbound(&ctx, id, &envelope, &data, now.0);
            Ok((id, envelope))
        })
        .await
    }

    /// The message as queued: our `Received:` field (and, for an authenticated
    /// submission, a missing `Message-ID`/`Date`), then the content as received; and the
    /// message id to track it by.
    fn stamp(
        &self,
        tx: &mut Transaction,
        info: &HeaderInfo,
        local_id: &str,
    ) -> (bytes::Bytes, Option<String>) {
        let hostname = &self.live.config.server.hostname;
        let authenticated = self.smtp.is_authenticated();
        // chrono is built without its clock; the gateway's clock is the queue's.
        let ms = i64::try_from(self.ctx.now().0).unwrap_or(i64::MAX);
        let date = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
        let recipient = match tx.recipients.as_slice() {
            [one] => Some(one.address.as_str()),
            _ => None,
        };
        let mut head = received_header(&Trace {
            helo: self.helo.as_deref().unwrap_or("unknown"),
            ip: self.peer.ip(),
            hostname,
            protocol: protocol(self.esmtp, self.smtp.is_tls(), authenticated),
            id: local_id,
            recipient,
            date,
        });
        let mut message_id = info.message_id.clone();
        if authenticated {
            head.push_str(&submission_fields(info, local_id, hostname, date));
            message_id.get_or_insert_with(|| format!("{local_id}@{hostname}"));
        }
        let data = std::mem::take(&mut tx.body).finish(head.as_bytes());
        (data, message_id)
    }

    fn track_received(
        &self,
        id: QueueId,
        envelope: &Envelope,
        info: &HeaderInfo,
        message_id: Option<&str>,
        size: u64,
    ) {
        let helo = self.helo.clone().unwrap_or_default();
        let tls = self.smtp.is_tls();
        self.ctx.track(EventKind::Received, |mut e| {
            e = e
                .queue_id(id.to_string())
                .sender(envelope.sender.as_str())
                .size(size)
                .remote_ip(self.peer.ip().to_canonical())
                .remote_host(helo)
                .tls(if tls { "yes" } else { "no" })
                .priority(envelope.priority.name());
            for r in &envelope.recipients {
                e = e.recipient(r.address.as_str());
            }
            if let Some(m) = message_id {
                // In angle brackets, as `routed`, `delivered` and pickup's `received` write it.
                e = e.message_id(format!("<{m}>"));
            }
            if let Some(s) = &info.subject {
                e = e.subject(s.as_str());
            }
            e
        });
    }

    /// ETRN `domain` or `@domain` (that domain and its sub-domains): make their queued
    /// mail due now. `#queue` names are not supported.
    async fn etrn(&mut self, node: &str) {
        let answer = match etrn_domain(node) {
            Some((domain, subdomains)) => self.retry_destinations(domain, subdomains).await,
            None => Some(reply(
                458,
                (4, 5, 4),
                "Unable to queue messages for that node",
            )),
        };
        match answer {
            None => {
                let _ = self.smtp.accept();
            }
            Some(r) => self.answer(r),
        }
    }

    async fn retry_destinations(&self, domain: String, subdomains: bool) -> Option<Reply> {
        let ctx = &self.ctx;
        let done = async {
            let mut targets = BTreeSet::from([domain.clone()]);
            if subdomains {
                let suffix = format!(".{domain}");
                for m in ctx.queue.messages().await? {
                    for r in m.envelope.recipients {
                        if r.destination.ends_with(&suffix) {
                            targets.insert(r.destination);
                        }
                    }
                }
            }
            for d in targets {
                ctx.etrn(&d).await?;
            }
            Ok::<(), postern_queue::StoreError>(())
        }
        .await;
        match done {
            Ok(()) => None,
            _ => Some(reply(
                458,
                (4, 5, 4),
                "Unable to queue messages for that node",
            )),
        }
    }
}

/// The domain of an ETRN argument, lower-cased without a trailing dot, and whether its
/// sub-domains are meant (`@domain`); `None` for `#queue` and empty names.
fn etrn_domain(node: &str) -> Option<(String, bool)> {
    if node.starts_with('#') {
        return None;
    }
    let (domain, subdomains) = match node.strip_prefix('@') {
        Some(d) => (d, true),
        None => (node, false),
    };
    let domain = domain
        .strip_suffix('.')
        .unwrap_or(domain)
        .to_ascii_lowercase();
    (!domain.is_empty() && !domain.contains(|c: char| c.is_whitespace() || c == '@'))
        .then_some((domain, subdomains))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etrn_arguments() {
        assert_eq!(
            etrn_domain("Example.COM."),
            Some(("example.com".into(), false))
        );
        assert_eq!(
            etrn_domain("@example.com"),
            Some(("example.com".into(), true))
        );
        assert_eq!(etrn_domain("#queue"), None);
        assert_eq!(etrn_domain("@"), None);
        assert_eq!(etrn_domain("a@b"), None);
    }

    #[test]
    fn session_settings_follow_the_config() {
        let c = Config::from_toml_str(
            "[limits]\nmax_message_size = 2048\nmax_recipients = 3\n[timeouts]\ncommand_secs = 7\n",
        )
        .unwrap();
        let s = server_config(&c, true);
        assert_eq!(s.limits.max_message_size, 2048);
        assert_eq!(s.limits.max_recipients, 3);
        assert_eq!(s.timeouts.command, Duration::from_secs(7));
        assert!(s.starttls && s.etrn && !s.auth);
    }
}
