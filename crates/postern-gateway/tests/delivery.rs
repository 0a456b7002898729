//! The delivery side end to end: a gateway's delivery loop against in-test SMTP sinks
//! (postern-smtp's server session on 127.0.0.1), an in-process DNS server for MX
//! records, and Maildir folders in temp dirs. Messages are enqueued directly; outcomes are
//! read from the sinks, the queue, the Maildir and the tracking log.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_server::ServerFuture;
use hickory_server::authority::{Catalog, ZoneType};
use hickory_server::proto::rr::rdata::{A, MX, SOA};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryAuthority;
use postern_gateway::{Config, Context, Gateway};
use postern_message::Message;
use postern_queue::{Envelope, QueueId, RecipientState};
use postern_smtp::server::{Event, ServerConfig, ServerSession};
use postern_smtp::{EnhancedCode, ForwardPath, Reply, ReversePath};
use postern_track::{EventKind, Filter, Reader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

// ---- gateway harness ----------------------------------------------------------------

static SEQ: AtomicUsize = AtomicUsize::new(0);

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "postern-delivery-{name}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A running gateway (or, while `tls::client_connector` is not written yet, its delivery
/// loop on a context built the same way).
struct Harness {
    ctx: Arc<Context>,
    dir: PathBuf,
    gateway: Option<Gateway>,
    /// The configuration text, to start the gateway again on the same data directory.
    text: String,
}

async fn start(name: &str, body: &str) -> Harness {
    start_with(name, "", body).await
}

/// `connections` holds extra `[connections]` keys.
async fn start_with(name: &str, connections: &str, body: &str) -> Harness {
    start_retry(
        name,
        connections,
        "intervals = [\"1s\"]\nbackoff_first = \"500ms\"\nbackoff_max = \"1s\"",
        body,
    )
    .await
}

/// `retry` holds the `[retry]` keys.
async fn start_retry(name: &str, connections: &str, retry: &str, body: &str) -> Harness {
    let dir = temp_dir(name);
    let text = format!(
        "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n{connections}\n\
         [timeouts]\nconnect_secs = 2\ngreeting_secs = 5\ncommand_secs = 5\n\
         [retry]\n{retry}\n{body}",
        dir.display()
    );
    let config = Config::from_toml_str(&text).unwrap();
    let gw = Gateway::start(config).await.unwrap();
    Harness {
        ctx: gw.context().clone(),
        dir,
        gateway: Some(gw),
        text,
    }
}

impl Harness {
    fn enqueue(&self, from: &str, to: &[&str], body: &str) -> QueueId {
        let now = self.ctx.now();
        let env = Envelope::new(from, to.iter().copied(), now);
        let id = self
            .ctx
            .queue
            .local()
            .unwrap()
            .enqueue(&env, body.as_bytes(), now)
            .unwrap();
        self.ctx.wake.notify_one();
        id
    }

    /// Waits until the message has left the queue (every recipient final).
    async fn wait_done(&self, id: QueueId) {
        wait_for(Duration::from_secs(15), || {
            self.ctx.queue.local().unwrap().message(id).is_none()
        })
        .await;
    }

    /// The tracking events of a queue id.
    fn events(&self, id: QueueId) -> Vec<postern_track::Event> {
        if let Some(t) = &self.ctx.tracker {
            t.flush().unwrap();
        }
        Reader::new(self.dir.join("tracking"))
            .search(&Filter::new().queue_id(id.to_string()))
            .unwrap()
            .events
    }

    /// Whether such an event is (or within 5 s becomes) tracked: events about the queue's
    /// decisions are recorded just after the message leaves the queue.
    async fn has_event(
        &self,
        id: QueueId,
        kind: EventKind,
        pred: impl Fn(&postern_track::Event) -> bool,
    ) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if self.events(id).iter().any(|e| e.kind == kind && pred(e)) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Shuts the gateway down and starts a new one on the same data directory: what the
    /// gateway remembered only in memory is gone, the queue is recovered from the spool.
    async fn restart(self) -> Harness {
        let Harness {
            ctx,
            dir,
            gateway,
            text,
        } = self;
        drop(ctx); // the last hold on the spool's lock once the gateway has stopped
        if let Some(gw) = gateway {
            gw.shutdown(Duration::from_secs(5)).await;
        }
        let gw = Gateway::start(Config::from_toml_str(&text).unwrap())
            .await
            .unwrap();
        Harness {
            ctx: gw.context().clone(),
            dir,
            gateway: Some(gw),
            text,
        }
    }

    async fn stop(self) {
        if let Some(gw) = self.gateway {
            gw.shutdown(Duration::from_secs(5)).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn text(t: &Option<postern_track::Text>) -> String {
    t.as_ref()
        .map(|t| t.to_str_lossy().into_owned())
        .unwrap_or_default()
}

// ---- SMTP sink ----------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Received {
    from: String,
    to: Vec<String>,
    body: Vec<u8>,
}

/// Decides the reply code to a RCPT: (address, how many times it was offered before).
type Rule = Arc<dyn Fn(&str, usize) -> u16 + Send + Sync>;

#[derive(Default)]
struct SinkState {
    connections: usize,
    /// Answer `451` to every end of data (and keep nothing).
    refuse_data: bool,
    /// Greet with `421` and hang up.
    refuse_greeting: bool,
    /// After each message taken, say `421` and hang up (a server that closes a connection
    /// the client kept).
    close_after_message: bool,
    /// The ETRN arguments received.
    etrn: Vec<String>,
    /// Ends of data refused so far.
    data_refused: usize,
    messages: Vec<Received>,
    rcpt_counts: HashMap<String, usize>,
}

#[derive(Clone)]
struct Sink {
    addr: SocketAddr,
    state: Arc<Mutex<SinkState>>,
}

impl Sink {
    fn messages(&self) -> Vec<Received> {
        self.state.lock().unwrap().messages.clone()
    }
    /// Messages other than delivery status notifications (null sender).
    fn originals(&self) -> Vec<Received> {
        self.messages()
            .into_iter()
            .filter(|m| !m.from.is_empty())
            .collect()
    }
    fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }
    /// How often `address` was offered in a RCPT.
    fn offered(&self, address: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .rcpt_counts
            .get(address)
            .copied()
            .unwrap_or(0)
    }
}

fn reply_for(code: u16) -> Reply {
    let (c, text) = match code {
        451 => ((4, 7, 1), "greylisted, try again later"),
        450..=499 => ((4, 2, 0), "mailbox busy, try later"),
        500..=599 => ((5, 1, 1), "no such user"),
        _ => ((2, 1, 5), "Ok"),
    };
    Reply::new(code, Some(EnhancedCode::new(c.0, c.1, c.2)), text)
}

/// A sink that accepts everything unless `rule` says otherwise; `eight_bit` false hides
/// 8BITMIME from its EHLO reply.
async fn sink(rule: Rule, eight_bit: bool) -> Sink {
    sink_with(rule, eight_bit, false).await
}

/// As [`sink`]; with `broken_tls` it offers STARTTLS and hangs up in the handshake.
async fn sink_with(rule: Rule, eight_bit: bool, broken_tls: bool) -> Sink {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(Mutex::new(SinkState::default()));
    let st = Arc::clone(&state);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let busy = {
                let mut s = st.lock().unwrap();
                s.connections += 1;
                s.refuse_greeting
            };
            if busy {
                let _ = sock.write_all(b"421 4.3.2 down for maintenance\r\n").await;
                continue;
            }
            let flags = (eight_bit, broken_tls);
            tokio::spawn(serve(sock, Arc::clone(&st), Arc::clone(&rule), flags));
        }
    });
    Sink { addr, state }
}

fn accept_all() -> Rule {
    Arc::new(|_, _| 250)
}

async fn serve(
    mut sock: tokio::net::TcpStream,
    st: Arc<Mutex<SinkState>>,
    rule: Rule,
    (eight_bit, broken_tls): (bool, bool),
) {
    let mut config = ServerConfig::new("sink.test");
    config.starttls = broken_tls;
    config.etrn = true;
    let mut session = ServerSession::new(config);
    let mut hang_up = false;
    let mut closing = false;
    session.greet();
    let mut buf = vec![0u8; 16 * 1024];
    let mut cur = Received {
        from: String::new(),
        to: Vec::new(),
        body: Vec::new(),
    };
    loop {
        let out = session.pending_output().to_vec();
        if !out.is_empty() {
            let n = out.len();
            let mut out = String::from_utf8_lossy(&out).into_owned();
            if !eight_bit {
                out = out
                    .replace("250-8BITMIME\r\n", "")
                    .replace("250 8BITMIME\r\n", "250 OK\r\n");
            }
            if sock.write_all(out.as_bytes()).await.is_err() {
                return;
            }
            session.consume_output(n);
        }
        if closing {
            let _ = sock
                .write_all(b"421 4.4.2 sink.test closing the connection\r\n")
                .await;
            return;
        }
        if session.is_closed() || hang_up {
            return;
        }
        let n = match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        session.receive(&buf[..n]);
        while let Some(ev) = session.poll_event() {
            let mut decision = None;
            match ev {
                Event::Mail { from, .. } => {
                    cur = Received {
                        from: match from {
                            ReversePath::Null => String::new(),
                            ReversePath::Mailbox(m) => m.to_string(),
                        },
                        to: Vec::new(),
                        body: Vec::new(),
                    };
                }
                Event::Rcpt { to, .. } => {
                    let addr = match to {
                        ForwardPath::Postmaster => "postmaster".to_owned(),
                        ForwardPath::Mailbox(m) => m.to_string(),
                    };
                    let mut s = st.lock().unwrap();
                    let seen = s.rcpt_counts.entry(addr.clone()).or_insert(0);
                    let code = rule(&addr, *seen);
                    *seen += 1;
                    if code < 300 {
                        cur.to.push(addr);
                    } else {
                        decision = Some(reply_for(code));
                    }
                }
                Event::DataChunk(b) => cur.body.extend_from_slice(b),
                Event::Etrn { node } => st.lock().unwrap().etrn.push(node.to_owned()),
                Event::StartTls => hang_up = true,
                Event::MessageEnd { .. } => {
                    let mut s = st.lock().unwrap();
                    if s.refuse_data {
                        s.data_refused += 1;
                        decision = Some(Reply::new(
                            451,
                            Some(EnhancedCode::new(4, 3, 0)),
                            "queue full, try again later",
                        ));
                    } else {
                        s.messages.push(cur.clone());
                        closing = s.close_after_message;
                    }
                }
                _ => {}
            }
            if session.pending_decision().is_some() {
                let _ = match decision {
                    Some(r) => session.reply(r),
                    None => session.accept(),
                };
            }
        }
    }
}

// ---- DNS ------------------------------------------------------------------------------

fn n(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

/// A name server on 127.0.0.1 for the zone `test.`: `mx.test` has an MX `sink.test`,
/// which is 127.0.0.1.
async fn dns() -> (SocketAddr, ServerFuture<Catalog>) {
    let origin = n("test.");
    let mut auth = InMemoryAuthority::empty(origin.clone(), ZoneType::Primary, false);
    let soa = SOA::new(n("ns.test."), n("hostmaster.test."), 1, 60, 60, 600, 60);
    for r in [
        Record::from_rdata(n("test."), 300, RData::SOA(soa)),
        Record::from_rdata(n("mx.test."), 300, RData::MX(MX::new(10, n("sink.test.")))),
        Record::from_rdata(n("sink.test."), 300, RData::A(A::from(Ipv4Addr::LOCALHOST))),
    ] {
        auth.upsert_mut(r, 1);
    }
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::new(&origin), vec![Arc::new(auth)]);
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let mut server = ServerFuture::new(catalog);
    server.register_socket(socket);
    (addr, server)
}

fn smart_host_connector(name: &str, pattern: &str, addr: SocketAddr, cost: u32) -> String {
    format!(
        "[[connector]]\nname = \"{name}\"\nkind = \"smtp\"\nsmart_hosts = [\"[{}]:{}\"]\n\
         [[connector.address_space]]\npattern = \"{pattern}\"\ncost = {cost}\n",
        addr.ip(),
        addr.port()
    )
}

const PLAIN: &str = "From: a@src.test\r\nTo: b@example.test\r\nSubject: hi\r\nMessage-ID: <m1@src.test>\r\n\r\nHello.\r\n";

// ---- scenarios ------------------------------------------------------------------------

#[tokio::test]
async fn local_delivery_into_maildir() {
    let h = start(
        "maildir",
        "[[connector]]\nname = \"local\"\nkind = \"maildir\"\n[[connector.address_space]]\npattern = \"local.test\"\n",
    )
    .await;
    let id = h.enqueue(
        "a@src.test",
        &["Jo.Smith@local.test", ".hidden@local.test"],
        PLAIN,
    );
    h.wait_done(id).await;
    let root = h.ctx.live().config.maildir.root.clone();
    let files = |p: &Path| std::fs::read_dir(p).map(|d| d.count()).unwrap_or(0);
    let jo = root.join("local.test").join("jo.smith");
    assert_eq!(files(&jo.join("new")), 1);
    assert_eq!(files(&jo.join("tmp")), 0);
    assert!(jo.join("cur").is_dir());
    let file = std::fs::read_dir(jo.join("new"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let content = std::fs::read_to_string(&file).unwrap();
    assert!(
        content.starts_with(
            "Return-Path: <a@src.test>\r\nDelivered-To: Jo.Smith@local.test\r\nFrom: a@src.test"
        ),
        "{content}"
    );
    // A leading dot is encoded: no hidden (or `..`) directory is ever made.
    assert_eq!(
        files(&root.join("local.test").join("%2Ehidden").join("new")),
        1
    );
    assert!(
        h.has_event(id, EventKind::Delivered, |e| text(&e.connector) == "local")
            .await
    );
    h.stop().await;
}

#[tokio::test]
async fn relay_via_mx() {
    let s = sink(accept_all(), true).await;
    let (dns_addr, _dns) = dns().await;
    let h = start(
        "mx",
        &format!(
            "[[connector]]\nname = \"internet\"\nkind = \"smtp\"\n[[connector.address_space]]\npattern = \"*\"\n\
             [dns]\nname_servers = [\"{dns_addr}\"]\nport = {}\n",
            s.addr.port()
        ),
    )
    .await;
    let id = h.enqueue("a@src.test", &["b@mx.test", "c@mx.test"], PLAIN);
    h.wait_done(id).await;
    let m = s.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].from, "a@src.test");
    assert_eq!(m[0].to, ["b@mx.test", "c@mx.test"]);
    assert!(String::from_utf8_lossy(&m[0].body).contains("Hello."));
    // Tracking covers the outbound hop (seed 000): routed, then sent with the remote host.
    assert!(
        h.has_event(id, EventKind::Routed, |e| text(&e.connector) == "internet")
            .await
    );
    assert!(
        h.has_event(id, EventKind::Sent, |e| {
            text(&e.remote_host) == "sink.test"
                && e.remote_ip == Some(Ipv4Addr::LOCALHOST.into())
                && text(&e.reply).starts_with("250")
                && text(&e.message_id).contains("m1@src.test")
        })
        .await
    );
    // The trace by Message-ID shows the hops in order.
    let trace = Reader::new(h.dir.join("tracking"))
        .trace("m1@src.test")
        .unwrap();
    let kinds: Vec<EventKind> = trace.events.iter().map(|e| e.kind).collect();
    let routed = kinds.iter().position(|k| *k == EventKind::Routed).unwrap();
    let sent = kinds.iter().position(|k| *k == EventKind::Sent).unwrap();
    assert!(routed < sent, "{kinds:?}");
    h.stop().await;
}

#[tokio::test]
async fn smart_host_and_connection_reuse() {
    let s = sink(accept_all(), true).await;
    let h = start_with(
        "smarthost",
        "max_connections_per_destination = 1",
        &smart_host_connector("relay", "*", s.addr, 1),
    )
    .await;
    let a = h.enqueue("a@src.test", &["x@example.test"], PLAIN);
    let b = h.enqueue("a@src.test", &["y@example.test"], PLAIN);
    h.wait_done(a).await;
    h.wait_done(b).await;
    assert_eq!(s.messages().len(), 2);
    assert_eq!(
        s.connections(),
        1,
        "the second message reused the first connection"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_kept_connection_the_server_closed_is_not_used() {
    let s = sink(accept_all(), true).await;
    s.state.lock().unwrap().close_after_message = true;
    let h = start_with(
        "kept-closed",
        "max_connections_per_destination = 1",
        &smart_host_connector("relay", "*", s.addr, 1),
    )
    .await;
    let a = h.enqueue("a@src.test", &["x@example.test"], PLAIN);
    h.wait_done(a).await;
    // The first connection went back to the pool, and the sink then closed it.
    let b = h.enqueue("a@src.test", &["y@example.test"], PLAIN);
    h.wait_done(b).await;
    let to: Vec<_> = s.messages().into_iter().map(|m| m.to).collect();
    assert_eq!(to, [["x@example.test"], ["y@example.test"]]);
    assert_eq!(
        s.connections(),
        2,
        "the second message went on a new connection"
    );
    assert!(
        !h.events(b).iter().any(|e| e.kind == EventKind::Deferred),
        "the closed connection cost the message nothing"
    );
    h.stop().await;
}

#[tokio::test]
async fn temporary_failure_then_success() {
    // The first RCPT of each address gets 450, the next 250.
    let s = sink(Arc::new(|_, seen| if seen == 0 { 450 } else { 250 }), true).await;
    let h = start("retry", &smart_host_connector("relay", "*", s.addr, 1)).await;
    let id = h.enqueue("a@src.test", &["x@example.test"], PLAIN);
    wait_for(Duration::from_secs(10), || {
        h.ctx.queue.local().unwrap().message(id).is_some_and(|m| {
            matches!(&m.state.recipients[0], RecipientState::Deferred { last_reply, .. } if last_reply.starts_with("450"))
        })
    })
    .await;
    assert!(
        h.has_event(id, EventKind::Deferred, |e| {
            text(&e.reply).starts_with("450") && e.next_retry.is_some()
        })
        .await
    );
    h.wait_done(id).await;
    assert_eq!(s.messages().len(), 1);
    assert!(h.has_event(id, EventKind::Sent, |_| true).await);
    h.stop().await;
}

#[tokio::test]
async fn connector_down_reroutes_to_next_candidate() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let s = sink(accept_all(), true).await;
    let h = start(
        "failover",
        &format!(
            "{}{}",
            smart_host_connector("primary", "*", closed, 1),
            smart_host_connector("backup", "*", s.addr, 50)
        ),
    )
    .await;
    let id = h.enqueue("a@src.test", &["x@example.test"], PLAIN);
    h.wait_done(id).await;
    assert_eq!(s.messages().len(), 1);
    let events = h.events(id);
    let rerouted = events
        .iter()
        .find(|e| e.kind == EventKind::Rerouted)
        .expect("rerouted");
    let why = text(&rerouted.reason);
    assert!(why.contains("primary") && why.contains("backup"), "{why}");
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::Sent && text(&e.connector) == "backup")
    );
    // The dead connector is now marked down: the next message goes straight to backup.
    let id2 = h.enqueue("a@src.test", &["y@example.test"], PLAIN);
    h.wait_done(id2).await;
    assert_eq!(s.messages().len(), 2);
    h.stop().await;
}

const ATTACHMENT: &str = "From: a@src.test\r\nTo: b@example.test\r\nSubject: file\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
See attached.\r\n--XX\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n\
Content-Disposition: attachment; filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
AAECAwQFBgcICQ==\r\n--XX--\r\n";

#[tokio::test]
async fn uuencode_domain_gets_uuencoded_attachments() {
    let s = sink(accept_all(), true).await;
    let h = start(
        "uuencode",
        &format!(
            "{}[[domain]]\npattern = \"old.test\"\ncontent_format = \"uuencode\"\n",
            smart_host_connector("relay", "*", s.addr, 1)
        ),
    )
    .await;
    let id = h.enqueue("a@src.test", &["b@old.test"], ATTACHMENT);
    h.wait_done(id).await;
    let body = String::from_utf8_lossy(&s.messages()[0].body).into_owned();
    assert!(body.contains("begin 644 data.bin"), "{body}");
    assert!(!body.contains("multipart/mixed"), "{body}");
    h.stop().await;
}

const UTF8_TEXT: &str = "From: a@src.test\r\nTo: b@example.test\r\nSubject: t\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCafé crème\r\n";

#[tokio::test]
async fn charset_translated_for_domain() {
    let s = sink(accept_all(), true).await;
    let h = start(
        "charset",
        &format!(
            "{}[[domain]]\npattern = \"latin.test\"\ncharset = \"iso-8859-15\"\n",
            smart_host_connector("relay", "*", s.addr, 1)
        ),
    )
    .await;
    let id = h.enqueue("a@src.test", &["b@latin.test"], UTF8_TEXT);
    h.wait_done(id).await;
    let body = s.messages()[0].body.clone();
    let msg = Message::parse(&body);
    assert_eq!(
        msg.root().content_type().param("charset"),
        Some("iso-8859-15")
    );
    assert_eq!(msg.root().text().as_deref(), Some("Café crème\r\n"));
    h.stop().await;
}

#[tokio::test]
async fn eight_bit_downgraded_for_peer_without_8bitmime() {
    let s = sink(accept_all(), false).await;
    let h = start(
        "7bit",
        &format!(
            "{}[[domain]]\npattern = \"*\"\ncharset = \"utf-8\"\n",
            smart_host_connector("relay", "*", s.addr, 1)
        ),
    )
    .await;
    let id = h.enqueue("a@src.test", &["b@example.test"], UTF8_TEXT);
    h.wait_done(id).await;
    let body = s.messages()[0].body.clone();
    assert!(body.is_ascii(), "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        Message::parse(&body).root().text().as_deref(),
        Some("Café crème\r\n")
    );
    h.stop().await;
}

#[tokio::test]
async fn domain_size_limit_fails_552() {
    let s = sink(accept_all(), true).await;
    let h = start(
        "size",
        &format!(
            "{}[[domain]]\npattern = \"small.test\"\nmax_message_size = 50\n",
            smart_host_connector("relay", "*", s.addr, 1)
        ),
    )
    .await;
    let id = h.enqueue("a@src.test", &["b@small.test"], PLAIN);
    h.wait_done(id).await;
    assert!(s.originals().is_empty());
    assert!(
        h.has_event(id, EventKind::Failed, |e| {
            text(&e.reply).starts_with("552 5.3.4") && text(&e.dsn_status) == "5.3.4"
        })
        .await
    );
    // The sender hears about it: a failure notice from the null sender (RFC 3464), and
    // the administrator gets a copy.
    // (Two destinations, so two transactions.)
    wait_for(Duration::from_secs(10), || s.messages().len() >= 2).await;
    let notices = s.messages();
    assert!(notices.iter().all(|n| n.from.is_empty()));
    let mut to: Vec<String> = notices.iter().flat_map(|n| n.to.clone()).collect();
    to.sort();
    assert_eq!(to, ["a@src.test", "postmaster@gw.test"]);
    let body = String::from_utf8_lossy(&notices[0].body);
    assert!(
        body.contains("multipart/report") && body.contains("report-type=delivery-status"),
        "{body}"
    );
    assert!(
        body.contains("Final-Recipient: rfc822; b@small.test\r\nAction: failed\r\nStatus: 5.3.4"),
        "{body}"
    );
    h.stop().await;
}

#[tokio::test]
async fn permanent_refusal_fails_and_leaves_queue() {
    let s = sink(
        Arc::new(|a, _| if a.starts_with("bad@") { 550 } else { 250 }),
        true,
    )
    .await;
    let h = start("5xx", &smart_host_connector("relay", "*", s.addr, 1)).await;
    let id = h.enqueue(
        "a@src.test",
        &["bad@example.test", "good@example.test"],
        PLAIN,
    );
    h.wait_done(id).await;
    assert!(h.ctx.queue.local().unwrap().message(id).is_none());
    let m = s.originals();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].to, ["good@example.test"]);
    assert!(
        h.has_event(id, EventKind::Failed, |e| {
            text(&e.reply).starts_with("550")
                && e.recipients
                    .iter()
                    .any(|r| r.to_str_lossy() == "bad@example.test")
        })
        .await
    );
    h.stop().await;
}

/// Waits until the message's first recipient is held for ETRN.
async fn wait_held(h: &Harness, id: QueueId) {
    wait_for(Duration::from_secs(10), || {
        h.ctx.queue.local().unwrap().message(id).is_some_and(|m| {
            matches!(&m.state.recipients[0], RecipientState::Deferred { last_reply, .. } if last_reply.contains("ETRN"))
        })
    })
    .await;
}

#[tokio::test]
async fn hold_for_etrn_waits_until_etrn() {
    let s = sink(accept_all(), true).await;
    let h = start(
        "etrn",
        &format!(
            "{}[[domain]]\npattern = \"dialup.test\"\ndequeue = \"hold-for-etrn\"\n",
            smart_host_connector("relay", "*", s.addr, 1)
        ),
    )
    .await;
    let first = h.enqueue("a@src.test", &["b@dialup.test"], PLAIN);
    wait_held(&h, first).await;
    // Past the retry interval it is still held.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(s.originals().is_empty());
    assert!(h.ctx.queue.local().unwrap().message(first).is_some());
    // A restart forgets everything but the spool; the first ETRN still releases the mail.
    let h = h.restart().await;
    h.ctx.etrn("dialup.test").await.unwrap();
    h.wait_done(first).await;
    assert_eq!(s.messages().len(), 1);
    // Mail arriving after that ETRN waits for the next one.
    let second = h.enqueue("a@src.test", &["c@dialup.test"], PLAIN);
    wait_held(&h, second).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(s.messages().len(), 1, "held until the next ETRN");
    h.ctx.etrn("dialup.test").await.unwrap();
    h.wait_done(second).await;
    assert_eq!(s.messages().len(), 2);
    h.stop().await;
}

#[tokio::test]
async fn no_resolver_defers_with_clear_reply() {
    let h = start(
        "noresolver",
        "[[connector]]\nname = \"internet\"\nkind = \"smtp\"\n[[connector.address_space]]\npattern = \"*\"\n",
    )
    .await;
    let id = h.enqueue("a@src.test", &["b@example.test"], PLAIN);
    wait_for(Duration::from_secs(10), || {
        h.ctx.queue.local().unwrap().message(id).is_some_and(|m| {
            matches!(&m.state.recipients[0], RecipientState::Deferred { last_reply, .. } if last_reply.contains("name_servers"))
        })
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn tls_required_but_not_offered_defers() {
    let s = sink(accept_all(), true).await;
    let h = start(
        "tlsrequired",
        &format!(
            "{}[[domain]]\npattern = \"secure.test\"\ntls = \"required\"\n",
            smart_host_connector("relay", "*", s.addr, 1)
        ),
    )
    .await;
    let id = h.enqueue("a@src.test", &["b@secure.test"], PLAIN);
    wait_for(Duration::from_secs(10), || {
        h.ctx.queue.local().unwrap().message(id).is_some_and(|m| {
            matches!(&m.state.recipients[0], RecipientState::Deferred { last_reply, .. } if last_reply.starts_with("451 4.7.10"))
        })
    })
    .await;
    assert!(s.originals().is_empty(), "nothing sent in clear");
    h.stop().await;
}

#[tokio::test]
async fn expiry_is_tracked() {
    let s = sink(Arc::new(|_, _| 450), true).await;
    let h = start(
        "expiry",
        &format!(
            "normal_timeout = \"1500ms\"\n{}",
            smart_host_connector("relay", "*", s.addr, 1)
        ),
    )
    .await;
    let id = h.enqueue("a@src.test", &["b@example.test"], PLAIN);
    h.wait_done(id).await;
    // The event is recorded just after the queue lets the message go: allow for that.
    let expired = h
        .has_event(id, EventKind::Expired, |e| {
            text(&e.reply).starts_with("450")
        })
        .await;
    assert!(expired, "{:?}", h.events(id));
    h.stop().await;
}

#[tokio::test]
async fn shutdown_loses_nothing() {
    let s = sink(accept_all(), true).await;
    let h = start("shutdown", &smart_host_connector("relay", "*", s.addr, 1)).await;
    let ids: Vec<QueueId> = (0..5)
        .map(|i| {
            h.enqueue(
                "a@src.test",
                &[format!("r{i}@example.test").as_str()],
                PLAIN,
            )
        })
        .collect();
    let ctx = Arc::clone(&h.ctx);
    h.stop().await;
    // Every message was either delivered or is still queued for the next start.
    let delivered = s.messages().len();
    let queued = ids
        .iter()
        .filter(|id| ctx.queue.local().unwrap().message(**id).is_some())
        .count();
    assert_eq!(
        delivered + queued,
        5,
        "delivered {delivered}, queued {queued}"
    );
}

#[tokio::test]
async fn failed_opportunistic_tls_falls_back_to_clear() {
    let s = sink_with(accept_all(), true, true).await;
    let h = start(
        "tlsfallback",
        &smart_host_connector("relay", "*", s.addr, 1),
    )
    .await;
    let id = h.enqueue("a@src.test", &["b@example.test"], PLAIN);
    h.wait_done(id).await;
    assert_eq!(s.messages().len(), 1);
    assert_eq!(
        s.connections(),
        2,
        "one STARTTLS attempt, then one in clear"
    );
    assert!(
        h.has_event(id, EventKind::Sent, |e| text(&e.tls) == "none")
            .await
    );
    h.stop().await;
}

// ---- retry schedule versus destination backoff (#21) ------------------------------------

/// A server that answers every connection with `greeting` and hangs up; counts them.
async fn refusing_greeter(greeting: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::Relaxed);
            let _ = sock.write_all(greeting.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    (addr, count)
}

/// A port nothing listens on: connections to it are refused.
fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// The destination's backoff entry in the gateway's queue, if any.
fn backoff_of(h: &Harness, dest: &str) -> Option<postern_queue::backoff::BackoffEntry> {
    h.ctx
        .queue
        .local()
        .unwrap()
        .backoff_entries(postern_queue::Timestamp(0))
        .into_iter()
        .find(|(d, _)| d == dest)
        .map(|(_, e)| e)
}

fn attempts(h: &Harness, id: QueueId, i: usize) -> Option<u32> {
    h.ctx
        .queue
        .local()
        .unwrap()
        .message(id)
        .map(|m| m.state.recipients[i].attempts())
}

#[tokio::test]
async fn greylisting_costs_one_retry_interval_not_a_backoff() {
    // Each recipient's first RCPT gets 451 4.7.1, the next 250 (a greylisting MX).
    let s = sink(Arc::new(|_, seen| if seen == 0 { 451 } else { 250 }), true).await;
    let h = start_retry(
        "greylist",
        "",
        "first = \"1s\"\nmax_retries = 3\nbackoff_first = \"60s\"\npoll_interval = \"1s\"",
        &smart_host_connector("relay", "*", s.addr, 1),
    )
    .await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(h.enqueue("a@src.test", &[&format!("r{n}@grey.test")], PLAIN));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // A host that answers is not backed off: with a 60 s backoff in the way, none of
    // these would arrive within the wait below.
    for id in &ids {
        h.wait_done(*id).await;
    }
    assert_eq!(s.originals().len(), 4);
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(
            s.offered(&format!("r{n}@grey.test")),
            2,
            "refused once, then taken"
        );
        let events = h.events(*id);
        let deferred = events
            .iter()
            .find(|e| e.kind == EventKind::Deferred)
            .expect("deferred once");
        assert!(text(&deferred.reply).starts_with("451 4.7.1"));
        let next = deferred.next_retry.expect("next retry").unix_ms();
        let at = deferred.time.unix_ms();
        // The event is stamped just after the queue decided: a few ms less than 1 s.
        assert!(
            (500..=1000).contains(&(next - at)),
            "the first retry interval, not the backoff: {} ms",
            next - at
        );
        let sent = events.iter().find(|e| e.kind == EventKind::Sent).unwrap();
        // Retried when the schedule said, within a poll (plus slack for a loaded machine).
        let late = sent.time.unix_ms() - next;
        assert!(
            (0..1000 + 4000).contains(&late),
            "sent {late} ms after its retry time"
        );
    }
    assert!(backoff_of(&h, "grey.test").is_none());
    h.stop().await;
}

#[tokio::test]
async fn refused_connections_back_off_doubling_without_spending_retries() {
    let closed = closed_port();
    let h = start_retry(
        "refused",
        "",
        // One retry only: were outages counted, the message would fail at once.
        "first = \"1s\"\nmax_retries = 1\nbackoff_first = \"1s\"\nbackoff_max = \"10s\"\npoll_interval = \"200ms\"",
        &smart_host_connector("relay", "*", closed, 1),
    )
    .await;
    let id = h.enqueue("a@src.test", &["x@down.test"], PLAIN);
    // Every failure doubles the wait: 1 s, 2 s, 4 s after the latest failure.
    let mut seen = Vec::new();
    wait_for(Duration::from_secs(20), || {
        if let Some(e) = backoff_of(&h, "down.test")
            && seen.last().is_none_or(|(f, _)| *f != e.failures)
        {
            seen.push((e.failures, e.until.0 - e.last_failure.0));
        }
        seen.last().is_some_and(|(f, _)| *f >= 3)
    })
    .await;
    for (failures, wait) in &seen {
        assert_eq!(*wait, 1000 << (failures - 1), "{seen:?}");
    }
    // Still queued, no retry used up, the reply says why it waits.
    assert_eq!(attempts(&h, id, 0), Some(0));
    let m = h.ctx.queue.local().unwrap().message(id).unwrap();
    let RecipientState::Deferred {
        last_reply,
        next_attempt,
        ..
    } = &m.state.recipients[0]
    else {
        panic!("{:?}", m.state.recipients[0]);
    };
    assert!(last_reply.contains("connect"), "{last_reply}");
    let e = backoff_of(&h, "down.test").unwrap();
    assert!(*next_attempt <= e.until);
    // `postern queue list` reads the backoff the gateway publishes in the spool.
    let spool = h.ctx.queue.local().unwrap().spool().dir().to_path_buf();
    wait_for(Duration::from_secs(5), || {
        postern_queue::wait::read_published(&spool)
            .backoff_of("down.test")
            .is_some_and(|e| e.failures >= 3)
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn greeting_421_backs_off_the_destination() {
    let (addr, connections) = refusing_greeter("421 4.3.2 too busy, come back later\r\n").await;
    let h = start_retry(
        "greet421",
        "",
        "first = \"1s\"\nmax_retries = 1\nbackoff_first = \"30s\"\nbackoff_max = \"1m\"",
        &smart_host_connector("relay", "*", addr, 1),
    )
    .await;
    let id = h.enqueue("a@src.test", &["x@busy.test"], PLAIN);
    wait_for(Duration::from_secs(10), || {
        backoff_of(&h, "busy.test").is_some()
    })
    .await;
    let e = backoff_of(&h, "busy.test").unwrap();
    assert_eq!(e.failures, 1);
    assert_eq!(e.until.0 - e.last_failure.0, 30_000);
    assert_eq!(attempts(&h, id, 0), Some(0), "waiting uses no retry");
    let reply = match &h
        .ctx
        .queue
        .local()
        .unwrap()
        .message(id)
        .unwrap()
        .state
        .recipients[0]
    {
        RecipientState::Deferred { last_reply, .. } => last_reply.clone(),
        other => panic!("{other:?}"),
    };
    assert!(reply.contains("421"), "{reply}");
    // A second message for the destination waits behind the backoff: no new connection.
    let before = connections.load(Ordering::Relaxed);
    let id2 = h.enqueue("a@src.test", &["y@busy.test"], PLAIN);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(connections.load(Ordering::Relaxed), before);
    assert!(matches!(
        h.ctx
            .queue
            .local()
            .unwrap()
            .message(id2)
            .unwrap()
            .state
            .recipients[0],
        RecipientState::Pending
    ));
    h.stop().await;
}

#[tokio::test]
async fn one_recipient_deferred_one_accepted_only_the_deferred_retried() {
    let s = sink(
        Arc::new(|addr, seen| {
            if addr.starts_with("later@") && seen == 0 {
                450
            } else {
                250
            }
        }),
        true,
    )
    .await;
    let h = start_retry(
        "mixed",
        "",
        "first = \"1s\"\nmax_retries = 2\nbackoff_first = \"60s\"\npoll_interval = \"200ms\"",
        &smart_host_connector("relay", "*", s.addr, 1),
    )
    .await;
    let id = h.enqueue("a@src.test", &["now@mixed.test", "later@mixed.test"], PLAIN);
    wait_for(Duration::from_secs(10), || {
        h.ctx.queue.local().unwrap().message(id).is_some_and(|m| {
            matches!(m.state.recipients[0], RecipientState::Delivered { .. })
                && matches!(m.state.recipients[1], RecipientState::Deferred { .. })
        })
    })
    .await;
    assert!(
        backoff_of(&h, "mixed.test").is_none(),
        "the destination answered"
    );
    h.wait_done(id).await;
    let m = s.originals();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].to, ["now@mixed.test"]);
    assert_eq!(m[1].to, ["later@mixed.test"], "only the deferred one again");
    assert_eq!(s.offered("now@mixed.test"), 1);
    assert_eq!(s.offered("later@mixed.test"), 2);
    h.stop().await;
}

#[tokio::test]
async fn temporary_replies_count_towards_max_attempts_then_fail_over() {
    // Connector A's host answers 451 to every end of data; B (dearer) accepts.
    let a = sink(accept_all(), true).await;
    a.state.lock().unwrap().refuse_data = true;
    let b = sink(accept_all(), true).await;
    let connectors = format!(
        "[[connector]]\nname = \"A\"\nmax_attempts = 2\nsmart_hosts = [\"[{}]:{}\"]\n\
         [[connector.address_space]]\npattern = \"*\"\ncost = 1\n{}",
        a.addr.ip(),
        a.addr.port(),
        smart_host_connector("B", "*", b.addr, 5)
    );
    let h = start_retry(
        "maxattempts",
        "",
        "first = \"1s\"\nfactor = 1.0\nmax_retries = 5\npoll_interval = \"200ms\"",
        &connectors,
    )
    .await;
    let id = h.enqueue("a@src.test", &["x@far.test"], PLAIN);
    h.wait_done(id).await;
    assert_eq!(a.state.lock().unwrap().data_refused, 2, "max_attempts on A");
    assert_eq!(b.originals().len(), 1, "then B");
    assert!(
        h.has_event(id, EventKind::Rerouted, |e| {
            text(&e.connector) == "B" && text(&e.reason).contains("tried 2 times on A")
        })
        .await
    );
    assert!(
        h.has_event(id, EventKind::Sent, |e| text(&e.connector) == "B")
            .await
    );
    h.stop().await;
}

#[tokio::test]
async fn outage_fails_at_the_time_out_not_by_retries() {
    let closed = closed_port();
    let h = start_retry(
        "outage",
        "",
        "first = \"1s\"\nmax_retries = 1\nnormal_timeout = \"3s\"\n\
         backoff_first = \"500ms\"\nbackoff_max = \"1s\"\npoll_interval = \"200ms\"",
        &smart_host_connector("relay", "*", closed, 1),
    )
    .await;
    let id = h.enqueue("a@src.test", &["x@down.test"], PLAIN);
    let arrival = h
        .ctx
        .queue
        .local()
        .unwrap()
        .message(id)
        .unwrap()
        .envelope
        .arrival
        .0 as i64;
    h.wait_done(id).await;
    // Tracked just after the message leaves the queue.
    assert!(
        h.has_event(id, EventKind::Expired, |e| e.time.unix_ms()
            >= arrival + 3000)
            .await
    );
    let events = h.events(id);
    assert!(
        !events.iter().any(|e| e.kind == EventKind::Failed),
        "not retries-exhausted: {events:?}"
    );
    // More attempts than max_retries allows: waiting for the host used none of them.
    let deferred = events
        .iter()
        .filter(|e| e.kind == EventKind::Deferred)
        .count();
    assert!(deferred >= 2, "{deferred} deferrals");
    h.stop().await;
}

/// Hands a queue command to the delivery loop as the admin API does (`postern queue
/// …`) and waits for its answer.
async fn control(h: &Harness, cmd: postern_queue::Command) -> String {
    h.ctx.requests.control(cmd).await.expect("an answer")
}

#[tokio::test]
async fn admin_retry_clears_backoff_and_down_mark_and_releases_etrn_mail() {
    use postern_queue::{Command, Target};
    use postern_route::ConnectorState as _;
    let s = sink(accept_all(), true).await;
    s.state.lock().unwrap().refuse_greeting = true;
    let h = start_retry(
        "adminretry",
        "",
        "first = \"1s\"\nbackoff_first = \"60s\"\npoll_interval = \"200ms\"",
        &format!(
            "{}[[domain]]\npattern = \"dialup.test\"\ndequeue = \"hold-for-etrn\"\n",
            smart_host_connector("relay", "*", s.addr, 1)
        ),
    )
    .await;
    let id = h.enqueue("a@src.test", &["x@far.test"], PLAIN);
    wait_for(Duration::from_secs(10), || {
        backoff_of(&h, "far.test").is_some()
    })
    .await;
    assert!(
        !h.ctx.connectors.lock().unwrap().is_available("relay"),
        "marked down"
    );
    // The host is back; the administrator need not wait out the 60 s backoff.
    s.state.lock().unwrap().refuse_greeting = false;
    let answer = control(&h, Command::Retry(Target::Destination("far.test".into()))).await;
    assert!(
        answer.starts_with("ok: retry destination far.test"),
        "{answer}"
    );
    assert!(answer.contains("backoff cleared for far.test"), "{answer}");
    assert!(answer.contains("connector relay marked up"), "{answer}");
    h.wait_done(id).await;
    assert_eq!(s.originals().len(), 1);
    assert!(h.ctx.connectors.lock().unwrap().is_available("relay"));

    // Retry releases mail held for ETRN, as an ETRN would.
    let held = h.enqueue("a@src.test", &["y@dialup.test"], PLAIN);
    wait_held(&h, held).await;
    let answer = control(
        &h,
        Command::Retry(Target::Destination("dialup.test".into())),
    )
    .await;
    assert!(
        answer.contains("mail held for ETRN released for dialup.test"),
        "{answer}"
    );
    h.wait_done(held).await;
    assert_eq!(s.originals().len(), 2);

    // One queue id alone.
    let one = h.enqueue("a@src.test", &["z@dialup.test"], PLAIN);
    let other = h.enqueue("a@src.test", &["w@dialup.test"], PLAIN);
    wait_held(&h, one).await;
    wait_held(&h, other).await;
    let answer = control(&h, Command::Retry(Target::Message(one))).await;
    assert!(answer.contains("released for dialup.test"), "{answer}");
    h.wait_done(one).await;
    assert!(
        h.ctx.queue.local().unwrap().message(other).is_some(),
        "still held"
    );

    // Delete is tracked.
    let answer = control(&h, Command::Delete(Target::Message(other))).await;
    assert!(answer.starts_with("ok: deleted"), "{answer}");
    assert!(
        h.has_event(other, EventKind::DeletedByAdmin, |e| {
            e.recipients
                .iter()
                .any(|r| r.to_str_lossy() == "w@dialup.test")
        })
        .await
    );
    h.stop().await;
}

#[tokio::test]
async fn queue_views_say_why_mail_waits() {
    let closed = closed_port();
    let h = start_retry(
        "whywait",
        "",
        "first = \"1s\"\nbackoff_first = \"60s\"\npoll_interval = \"200ms\"",
        &format!(
            "{}[[domain]]\npattern = \"dialup.test\"\ndequeue = \"hold-for-etrn\"\n",
            smart_host_connector("relay", "*", closed, 1)
        ),
    )
    .await;
    h.enqueue("a@src.test", &["x@far.test"], PLAIN);
    let held = h.enqueue("a@src.test", &["y@dialup.test"], PLAIN);
    wait_held(&h, held).await;
    // What `postern queue list/show/summary` read: the published backoff and notes.
    let spool = h.ctx.queue.local().unwrap().spool().dir().to_path_buf();
    let published = || postern_queue::wait::read_published(&spool);
    let note = |p: &postern_queue::wait::Published, dest: Option<&str>, kind: &str| {
        p.notes
            .iter()
            .any(|n| n.destination.as_deref() == dest && n.kind == kind)
    };
    wait_for(Duration::from_secs(10), || {
        let p = published();
        p.backoff_of("far.test").is_some()
            && note(&p, Some("far.test"), "connector-down")
            && note(&p, Some("dialup.test"), "hold-for-etrn")
    })
    .await;
    let status = postern_gateway::api::views::status(&h.ctx).await;
    let down: Vec<&str> = status
        .connectors
        .iter()
        .filter(|c| !c.up)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(down, ["relay"], "{status:?}");
    assert!(
        status
            .queue
            .backoff
            .iter()
            .any(|b| b.destination == "far.test"),
        "{status:?}"
    );
    // The transfer mode holding outbound mail is a reason for every destination.
    h.ctx
        .set_transfer_mode(postern_gateway::config::TransferMode::Inbound);
    wait_for(Duration::from_secs(5), || {
        note(&published(), None, "transfer-mode")
    })
    .await;
    let p = published();
    let st = h
        .ctx
        .queue
        .local()
        .unwrap()
        .message(held)
        .unwrap()
        .state
        .recipients[0]
        .clone();
    let why = postern_queue::wait::explain(&st, "dialup.test", false, &p, h.ctx.now()).unwrap();
    assert_eq!(why.waits_for.name(), "transfer-mode");
    h.stop().await;
}

#[tokio::test]
async fn each_priority_follows_its_own_retry_schedule() {
    // Every address's first RCPT gets 450, the next 250.
    let s = sink(Arc::new(|_, seen| if seen == 0 { 450 } else { 250 }), true).await;
    let h = start_retry(
        "priority",
        "",
        "intervals = [\"1h\"]\npoll_interval = \"200ms\"\n\
         [retry.urgent]\nintervals = [\"1s\"]\n\
         [retry.non_urgent]\nfirst = \"2h\"\nfactor = 1.0",
        &smart_host_connector("relay", "*", s.addr, 1),
    )
    .await;
    let now = h.ctx.now();
    let mut ids = Vec::new();
    for (p, to) in [
        (postern_queue::Priority::Urgent, "u@prio.test"),
        (postern_queue::Priority::Normal, "n@prio.test"),
        (postern_queue::Priority::NonUrgent, "l@prio.test"),
    ] {
        let mut env = Envelope::new("a@src.test", [to], now);
        env.priority = p;
        ids.push(
            h.ctx
                .queue
                .local()
                .unwrap()
                .enqueue(&env, PLAIN.as_bytes(), now)
                .unwrap(),
        );
    }
    h.ctx.wake.notify_one();
    // The urgent one is retried after its 1 s; the others wait 1 h and 2 h.
    h.wait_done(ids[0]).await;
    for (id, hours) in [(ids[1], 1), (ids[2], 2)] {
        let m = h
            .ctx
            .queue
            .local()
            .unwrap()
            .message(id)
            .expect("still queued");
        let RecipientState::Deferred {
            next_attempt,
            first_failure,
            ..
        } = &m.state.recipients[0]
        else {
            panic!("{:?}", m.state.recipients[0]);
        };
        assert_eq!(next_attempt.0 - first_failure.0, hours * 3_600_000);
    }
    assert_eq!(s.originals().len(), 1);
    // A table that mixes both kinds of schedule is refused, naming the key.
    let err = Config::from_toml_str("[retry.urgent]\nintervals = [\"1m\"]\nfirst = \"1m\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("retry.urgent.intervals"), "{err}");
    h.stop().await;
}

#[tokio::test]
async fn outbound_etrn_at_start_on_schedule_and_on_demand() {
    let isp = sink(accept_all(), true).await;
    let connectors = format!(
        "[[connector]]\nname = \"isp\"\nsmart_hosts = [\"[{}]:{}\"]\n\
         etrn_domains = [\"dialup.example\", \"@other.example\"]\netrn_interval_secs = 1\n\
         [[connector.address_space]]\npattern = \"*\"\n",
        isp.addr.ip(),
        isp.addr.port()
    );
    let h = start_retry("etrnout", "", "first = \"1s\"", &connectors).await;
    let etrn = || isp.state.lock().unwrap().etrn.clone();
    // At start, then again after the interval.
    wait_for(Duration::from_secs(10), || etrn().len() >= 4).await;
    assert_eq!(
        &etrn()[..4],
        [
            "dialup.example",
            "@other.example",
            "dialup.example",
            "@other.example"
        ]
    );
    // On demand, with the host's replies in the answer.
    let before = etrn().len();
    let answer = control(&h, postern_queue::Command::Etrn("isp".into())).await;
    assert!(answer.starts_with("ok: "), "{answer}");
    assert!(answer.contains("dialup.example: 250"), "{answer}");
    assert!(etrn().len() >= before + 2);
    let answer = control(&h, postern_queue::Command::Etrn("nope".into())).await;
    assert!(answer.starts_with("error: no connector named"), "{answer}");
    h.stop().await;
}
