//! Issue 22 items 3, 7 and 9 end to end, through a real gateway on 127.0.0.1 with
//! recording SMTP sinks: delay notices (one per age, on a timer, durable across
//! restarts), the outbound protocol log joined to queue ids, the expiry notice quoting
//! the real last error, and the tracking events' Message-ID and Exchange numbers.
//!
//! Mail from `a@src.test` is sent back through the `home` connector to a recording sink,
//! so every notice the gateway makes is seen there; `example.test` goes through `relay`
//! to the sink (or dead port) the test is about.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::client::Client;
use postern_gateway::{Config, Gateway};
use postern_queue::{Envelope, QueueId};
use postern_track::{EventKind, Filter, Reader};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

// ---- recording sink -------------------------------------------------------------------

/// One accepted message: sender, recipients, body.
#[derive(Debug, Clone)]
struct Got {
    from: String,
    to: Vec<String>,
    body: String,
}

#[derive(Clone)]
struct Sink {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Got>>>,
    rcpts: Arc<Mutex<usize>>,
}

impl Sink {
    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
    /// Notices (null sender) received.
    fn notices(&self) -> Vec<Got> {
        self.got()
            .into_iter()
            .filter(|g| g.from.is_empty())
            .collect()
    }
    fn notices_with(&self, action: &str) -> Vec<Got> {
        let want = format!("Action: {action}\r\n");
        self.notices()
            .into_iter()
            .filter(|g| g.body.contains(&want))
            .collect()
    }
    /// RCPT commands seen (each delivery attempt offers the recipient once).
    fn rcpts(&self) -> usize {
        *self.rcpts.lock().unwrap()
    }
}

/// A line-based SMTP server answering RCPT with `rcpt_reply` (a full reply line).
async fn sink(rcpt_reply: &'static str) -> Sink {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let s = Sink {
        addr: l.local_addr().unwrap(),
        got: Arc::default(),
        rcpts: Arc::default(),
    };
    let s2 = s.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = l.accept().await {
            let s = s2.clone();
            tokio::spawn(async move {
                let _ = serve(sock, rcpt_reply, s).await;
            });
        }
    });
    s
}

async fn serve(sock: TcpStream, rcpt_reply: &str, sink: Sink) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 sink.test ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        let arg = |l: &str| l.split(['<', '>']).nth(1).unwrap_or("").to_owned();
        let reply = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250-sink.test\r\n250 8BITMIME".to_owned()
        } else if upper.starts_with("MAIL") {
            from = arg(&line);
            to.clear();
            "250 2.1.0 ok".to_owned()
        } else if upper.starts_with("RCPT") {
            *sink.rcpts.lock().unwrap() += 1;
            if rcpt_reply.starts_with('2') {
                to.push(arg(&line));
            }
            rcpt_reply.to_owned()
        } else if upper.starts_with("DATA") {
            w.write_all(b"354 go\r\n").await?;
            let mut body = String::new();
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).await? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" {
                    break;
                }
                body.push_str(&l);
            }
            sink.got.lock().unwrap().push(Got {
                from: from.clone(),
                to: to.clone(),
                body,
            });
            "250 2.0.0 queued as S1".to_owned()
        } else if upper.starts_with("QUIT") {
            w.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            "250 ok".to_owned()
        };
        w.write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
}

/// An address nothing listens on (connections to it are refused).
async fn dead_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

// ---- gateway harness ------------------------------------------------------------------

struct Harness {
    gw: Option<Gateway>,
    dir: PathBuf,
    text: String,
}

fn connector(name: &str, pattern: &str, addr: SocketAddr) -> String {
    format!(
        "[[connector]]\nname = \"{name}\"\nkind = \"smtp\"\nsmart_hosts = [\"[{}]:{}\"]\n\
         [[connector.address_space]]\npattern = \"{pattern}\"\n",
        addr.ip(),
        addr.port()
    )
}

/// A gateway: `src.test` to `home`, `example.test` to `relay`; `retry` goes into the
/// `[retry]` section, `extra` at the end.
async fn start(tag: &str, home: &Sink, relay: SocketAddr, retry: &str, extra: &str) -> Harness {
    let dir = common::temp_dir("notices", tag);
    let text = format!(
        "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n\
         [timeouts]\nconnect_secs = 2\ngreeting_secs = 5\ncommand_secs = 5\n\
         [security]\nrelay_networks = [\"127.0.0.1/32\"]\n\
         [retry]\nbackoff_first = \"100ms\"\nbackoff_max = \"200ms\"\npoll_interval = \"100ms\"\n{retry}\n\
         {}{}{extra}",
        dir.display(),
        connector("home", "src.test", home.addr),
        connector("relay", "example.test", relay),
    );
    let gw = Gateway::start(Config::from_toml_str(&text).unwrap())
        .await
        .unwrap();
    Harness {
        gw: Some(gw),
        dir,
        text,
    }
}

const PLAIN: &str = "From: a@src.test\r\nTo: b@example.test\r\nSubject: hi\r\n\
                     Message-ID: <m1@src.test>\r\n\r\nHello, secret words.\r\n";

impl Harness {
    fn gw(&self) -> &Gateway {
        self.gw.as_ref().unwrap()
    }

    fn enqueue(&self, to: &str) -> QueueId {
        let ctx = self.gw().context();
        let now = ctx.now();
        let env = Envelope::new("a@src.test", [to], now);
        let id = ctx
            .queue
            .local()
            .unwrap()
            .enqueue(&env, PLAIN.as_bytes(), now)
            .unwrap();
        ctx.wake.notify_one();
        id
    }

    fn queued(&self, id: QueueId) -> bool {
        self.gw()
            .context()
            .queue
            .local()
            .unwrap()
            .message(id)
            .is_some()
    }

    /// Stops the gateway and starts it again on the same data directory: whatever it
    /// kept only in memory is gone.
    async fn restart(&mut self) {
        if let Some(gw) = self.gw.take() {
            gw.shutdown(Duration::from_secs(5)).await;
        }
        let gw = Gateway::start(Config::from_toml_str(&self.text).unwrap())
            .await
            .unwrap();
        self.gw = Some(gw);
    }

    fn events(&self, kind: EventKind) -> Vec<postern_track::Event> {
        if let Some(t) = &self.gw().context().tracker {
            t.flush().unwrap();
        }
        Reader::new(self.dir.join("tracking"))
            .search(&Filter::new().kind(kind))
            .unwrap()
            .events
    }

    async fn stop(mut self) {
        if let Some(gw) = self.gw.take() {
            gw.shutdown(Duration::from_secs(5)).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every file's text in `dir`.
fn read_all(dir: &Path) -> String {
    let mut out = String::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            out.push_str(&std::fs::read_to_string(p).unwrap_or_default());
        }
    }
    out
}

// ---- item 3: delay notices ------------------------------------------------------------

/// `delay_notices = ["1s", "3s"]` with the next retry an hour away: each age gives its
/// notice at that age (only one delivery attempt was made: a timer, not the retry), each
/// exactly once, and the count survives two restarts (a count kept in memory would send
/// the first notice again after each).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_notices_once_per_age_on_a_timer_across_restarts() {
    let home = sink("250 2.1.5 ok").await;
    let busy = sink("451 4.2.0 mailbox busy").await;
    let mut h = start(
        "ages",
        &home,
        busy.addr,
        "intervals = [\"1h\"]\ndelay_notices = [\"1s\", \"3s\"]",
        "",
    )
    .await;
    let id = h.enqueue("b@example.test");
    wait_for("first delay notice", Duration::from_secs(10), || {
        !home.notices().is_empty()
    })
    .await;
    assert_eq!(busy.rcpts(), 1, "one attempt: the notice came by the clock");
    let n = &home.notices()[0];
    assert_eq!(n.to, ["a@src.test"]);
    assert!(n.body.contains("Action: delayed\r\n"), "{}", n.body);
    assert!(n.body.contains("Status: 4.2.0\r\n"), "{}", n.body);
    assert!(n.body.contains("451 4.2.0 mailbox busy"), "{}", n.body);
    h.restart().await;
    wait_for("second delay notice", Duration::from_secs(10), || {
        home.notices().len() >= 2
    })
    .await;
    h.restart().await;
    // Every age has had its notice: nothing more, whatever the restarts.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(home.notices().len(), 2, "{:?}", home.notices());
    assert_eq!(home.notices_with("delayed").len(), 2);
    assert!(h.queued(id), "still waiting for its retry in an hour");
    assert_eq!(
        h.gw()
            .context()
            .queue
            .local()
            .unwrap()
            .message(id)
            .unwrap()
            .state
            .delay_notices_sent,
        2
    );
    h.stop().await;
}

/// The case: `delay_notices = ["1s"]` and a retry every 300 ms until the message
/// times out at 3 s gave a delay notice on every retry after 1 s. Now: one, then the
/// failure notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_notice_is_not_repeated_on_each_retry() {
    let home = sink("250 2.1.5 ok").await;
    let busy = sink("451 4.2.0 mailbox busy").await;
    let h = start(
        "retries",
        &home,
        busy.addr,
        "intervals = [\"300ms\"]\ndelay_notices = [\"1s\"]\nnormal_timeout = \"3s\"",
        "",
    )
    .await;
    let id = h.enqueue("b@example.test");
    wait_for("failure notice", Duration::from_secs(15), || {
        !home.notices_with("failed").is_empty()
    })
    .await;
    assert!(!h.queued(id));
    assert!(
        busy.rcpts() >= 4,
        "retried after the notice ({} attempts)",
        busy.rcpts()
    );
    assert_eq!(
        home.notices_with("delayed").len(),
        1,
        "{:?}",
        home.notices()
    );
    assert_eq!(home.notices_with("failed").len(), 1);
    h.stop().await;
}

// ---- item 9: the expiry notice quotes the real error ---------------------------------

/// The smart host refuses connections: the first attempt marks the connector down, the
/// last one (at the time-out, before the connector is probed again) skips it. The
/// expiry notice quotes the connection refusal, not only "connector … is down"; the
/// `expired` event carries Exchange number 1030 in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_notice_quotes_the_real_last_error() {
    let home = sink("250 2.1.5 ok").await;
    let dead = dead_addr().await;
    let h = start(
        "expiry",
        &home,
        dead,
        "intervals = [\"1h\"]\nnormal_timeout = \"1500ms\"\ndelay_notices = []",
        "",
    )
    .await;
    let id = h.enqueue("b@example.test");
    wait_for("failure notice", Duration::from_secs(10), || {
        !home.notices_with("failed").is_empty()
    })
    .await;
    assert!(!h.queued(id));
    let body = &home.notices_with("failed")[0].body;
    let unfolded = body.replace("\r\n ", " ");
    assert!(
        unfolded.contains("Connection refused") || unfolded.contains("connection refused"),
        "{body}"
    );
    assert!(unfolded.contains("Delivery time expired"), "{body}");
    wait_for("expired event", Duration::from_secs(5), || {
        !h.events(EventKind::Expired).is_empty()
    })
    .await;
    let ev = &h.events(EventKind::Expired)[0];
    let reply = ev.reply.as_ref().unwrap().to_str_lossy().into_owned();
    assert!(reply.contains("refused"), "{reply}");
    assert!(
        read_all(&h.dir.join("tracking")).contains("\t1030\texpired\t"),
        "expired logged with Exchange number 1030"
    );
    h.stop().await;
}

// ---- item 7 and 9: outbound protocol log, archived Message-ID -------------------------

/// A message sent in over SMTP and relayed to the sink, and one for a host that refuses
/// connections: the protocol log has both outbound sessions, each joined to its queue
/// id and Message-ID, with the commands and replies, the refusal, and no content; the
/// archive's `archived` events (inbound and outbound) carry the Message-ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_sessions_are_logged_and_joined_to_queue_ids() {
    let home = sink("250 2.1.5 ok").await;
    let relay = sink("250 2.1.5 ok").await;
    let dead = dead_addr().await;
    let h = start(
        "protolog",
        &home,
        relay.addr,
        "intervals = [\"1h\"]",
        &format!(
            "{}[protocol_log]\nenabled = true\n[archive]\nenabled = true\ndirection = \"both\"\n",
            connector("dead", "dead.test", dead)
        ),
    )
    .await;
    // In over SMTP, so the inbound side is logged and archived too.
    let addr = h.gw().local_addrs()[0];
    let mut c = Client::new(TcpStream::connect(addr).await.unwrap());
    c.expect(220).await;
    c.cmd("EHLO client.test", 250).await;
    c.mail(
        "a@src.test",
        "b@example.test",
        PLAIN.trim_end_matches("\r\n"),
    )
    .await;
    c.cmd("QUIT", 221).await;
    wait_for("relayed", Duration::from_secs(10), || {
        !relay.got().is_empty()
    })
    .await;
    let refused = h.enqueue("x@dead.test");
    wait_for("deferred", Duration::from_secs(10), || {
        h.events(EventKind::Deferred)
            .iter()
            .any(|e| e.queue_id.as_ref().map(|q| q.to_string()) == Some(refused.to_string()))
    })
    .await;
    let sent = h.events(EventKind::Sent);
    let qid = sent[0].queue_id.as_ref().unwrap().to_string();
    let log = read_all(&h.dir.join("protocol"));
    // The outbound session of the relayed message: found by its queue id, then every
    // line of that session.
    let session = |qid: &str| -> Vec<String> {
        let note = log
            .lines()
            .find(|l| l.contains(" * connecting to ") && l.contains(qid))
            .unwrap_or_else(|| panic!("no outbound session for {qid} in\n{log}"));
        let id = note.split(' ').nth(1).unwrap().to_owned();
        assert!(id.starts_with('o'), "{note}");
        log.lines()
            .filter(|l| l.split(' ').nth(1) == Some(id.as_str()))
            .map(|l| l.split_once(' ').unwrap().1.to_owned())
            .collect()
    };
    let out = session(&qid);
    let has = |needle: &str| out.iter().any(|l| l.contains(needle));
    let port = relay.addr.port();
    assert!(
        has(&format!("127.0.0.1:{port} < 220 sink.test ESMTP")),
        "{out:#?}"
    );
    assert!(has("> EHLO gw.test"), "{out:#?}");
    assert!(has(&format!("* sending {qid} <m1@src.test>")), "{out:#?}");
    assert!(has("> MAIL FROM:<a@src.test>"), "{out:#?}");
    assert!(has("> RCPT TO:<b@example.test>"), "{out:#?}");
    assert!(has("> [message data:"), "{out:#?}");
    assert!(has("< 250 2.0.0 queued as S1"), "{out:#?}");
    assert!(!log.contains("secret words"), "content is never logged");
    let dead_out = session(&refused.to_string());
    assert!(
        dead_out
            .iter()
            .any(|l| l.contains("* 451 4.4.1 connect to") && l.to_lowercase().contains("refused")),
        "{dead_out:#?}"
    );
    // The inbound session is there too (numbered without the `o`).
    assert!(log.contains("> MAIL FROM:<a@src.test>"));
    // Archived copies, both ways, tracked with the Message-ID.
    let archived = h.events(EventKind::Archived);
    let reasons: Vec<String> = archived
        .iter()
        .filter(|e| e.queue_id.as_ref().map(|q| q.to_string()) == Some(qid.clone()))
        .map(|e| {
            assert_eq!(
                e.message_id.as_ref().map(|m| m.to_string()).as_deref(),
                Some("<m1@src.test>"),
                "{e:?}"
            );
            e.reason.as_ref().unwrap().to_string()
        })
        .collect();
    assert!(
        reasons.contains(&"inbound".to_owned()) && reasons.contains(&"outbound".to_owned()),
        "{reasons:?}"
    );
    h.stop().await;
}
