//! The gateway's inbound role, end to end on 127.0.0.1 (issue 24, with issue 14 item 2
//! and issue 22 items 5 and 8): an Internet client (not in `relay_networks`, not
//! authenticated) sends to an accepted domain, the gateway passes it to the internal
//! server (a recording SMTP sink); unknown recipients are refused at RCPT by list and
//! by callout; a callout target that is down gives the documented answer; transfer mode
//! `inbound` delivers inward while holding outbound; a route that is down still accepts
//! and delivers once it is back; restrictions steer routing; SIZE is refused per domain.

mod common;

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::client::Client;
use postern_gateway::config::TransferMode;
use postern_gateway::{Config, Gateway};
use postern_route::ConnectorState as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Fails the test if `f` takes longer than `secs`.
async fn bounded<T>(secs: u64, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .unwrap_or_else(|_| panic!("test did not finish within {secs} s"))
}

// ---- the internal server: a recording sink ------------------------------------------

/// One message the sink took.
#[derive(Debug, Clone)]
struct Got {
    from: String,
    rcpts: Vec<String>,
    data: String,
}

/// An SMTP server that knows some users (`550 5.1.1` for the others; every user when
/// the list is empty), records every message, and counts RCPT commands (callouts
/// included).
#[derive(Clone)]
struct Sink {
    addr: SocketAddr,
    users: Arc<HashSet<String>>,
    got: Arc<Mutex<Vec<Got>>>,
    rcpts: Arc<AtomicUsize>,
}

impl Sink {
    async fn start(users: &[&str]) -> Sink {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Sink::on(l, users)
    }

    /// Serves on `l` (to bring a server back on a known port).
    fn on(l: TcpListener, users: &[&str]) -> Sink {
        let s = Sink {
            addr: l.local_addr().unwrap(),
            users: Arc::new(users.iter().map(|u| u.to_string()).collect()),
            got: Arc::default(),
            rcpts: Arc::default(),
        };
        let me = s.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = l.accept().await {
                let me = me.clone();
                tokio::spawn(async move {
                    let _ = me.serve(sock).await;
                });
            }
        });
        s
    }

    async fn serve(&self, sock: TcpStream) -> std::io::Result<()> {
        let (r, mut w) = sock.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"220 internal.corp.test\r\n").await?;
        let (mut from, mut to) = (String::new(), Vec::new());
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let upper = line.to_ascii_uppercase();
            let arg = line.split(['<', '>']).nth(1).unwrap_or("").to_owned();
            let reply = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                "250 internal.corp.test".to_owned()
            } else if upper.starts_with("MAIL") {
                from = arg;
                to.clear();
                "250 2.1.0 ok".to_owned()
            } else if upper.starts_with("RCPT") {
                self.rcpts.fetch_add(1, Ordering::SeqCst);
                let user = arg.to_lowercase();
                if self.users.is_empty() || self.users.contains(&user) {
                    to.push(arg);
                    "250 2.1.5 ok".to_owned()
                } else {
                    format!("550 5.1.1 <{arg}>: no such user here")
                }
            } else if upper.starts_with("DATA") {
                w.write_all(b"354 go ahead\r\n").await?;
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l).await? == 0 {
                        return Ok(());
                    }
                    if l == ".\r\n" {
                        break;
                    }
                    data.push_str(&l);
                }
                self.got.lock().unwrap().push(Got {
                    from: from.clone(),
                    rcpts: to.clone(),
                    data,
                });
                "250 2.0.0 stored".to_owned()
            } else if upper.starts_with("QUIT") {
                w.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                "250 ok".to_owned()
            };
            w.write_all(format!("{reply}\r\n").as_bytes()).await?;
        }
    }

    fn messages(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until the sink holds `n` messages.
    async fn wait_for(&self, n: usize) -> Vec<Got> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "sink got {got:?}, wanted {n}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A port nothing listens on (bound, then let go), for a server that is down.
/// A port nothing listens on now, free to be bound again later by the test itself.
async fn released_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// A port that refuses connections for the rest of the test process.
async fn dead_port() -> SocketAddr {
    // Bound but never listening, and kept bound for the rest of the process: connections
    // are refused, and no other test's listener can be given the same port meanwhile (a
    // released port was, under load, and took the mail meant to stay queued).
    let s = tokio::net::TcpSocket::new_v4().unwrap();
    s.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = s.local_addr().unwrap();
    std::mem::forget(s);
    addr
}

// ---- the gateway ----------------------------------------------------------------------

struct Harness {
    gw: Gateway,
    addr: SocketAddr,
    dir: PathBuf,
}

/// The gateway `mx.corp.test`: `corp.test` accepted and routed to the internal server at
/// `internal`, everything else to `internet` (a smart host, so no DNS is ever asked),
/// quick retries, plus `extra`.
async fn start(tag: &str, internal: SocketAddr, internet: SocketAddr, extra: &str) -> Harness {
    let dir = common::temp_dir("accepted", tag);
    // Quick retries, unless `extra` has its own `[retry]`.
    let retry = if extra.contains("[retry]") {
        ""
    } else {
        QUICK_RETRY
    };
    let text = format!(
        "[server]\nhostname = \"mx.corp.test\"\ndata_dir = \"{dir}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n\
         [tracking]\nenabled = false\n\
         {retry}{extra}\n\
         [[connector]]\nname = \"local\"\nkind = \"maildir\"\n\
         [[connector.address_space]]\npattern = \"localhost\"\n\
         [[connector]]\nname = \"internal\"\nsmart_hosts = [\"[{}]:{}\"]\n\
         [[connector.address_space]]\npattern = \"corp.test\"\n\
         [[connector]]\nname = \"internet\"\nsmart_hosts = [\"[{}]:{}\"]\n\
         [[connector.address_space]]\npattern = \"*\"\ncost = 10\n",
        internal.ip(),
        internal.port(),
        internet.ip(),
        internet.port(),
        dir = dir.display(),
    );
    let config = Config::from_toml_str(&text).expect("test config is valid");
    let gw = Gateway::start(config).await.expect("gateway starts");
    let addr = gw.local_addrs()[0];
    Harness { gw, addr, dir }
}

/// Retries every second, backoff at most a second.
const QUICK_RETRY: &str =
    "[retry]\nintervals = [\"1s\"]\nbackoff_first = \"500ms\"\nbackoff_max = \"1s\"\n";

const ACCEPT_CORP: &str = "[inbound]\ndomains = [\"corp.test\"]\n";

impl Harness {
    async fn ehlo(&self) -> Client<TcpStream> {
        let mut c = Client::new(TcpStream::connect(self.addr).await.unwrap());
        c.expect(220).await;
        c.cmd("EHLO client.example", 250).await;
        c
    }

    /// The code and text of RCPT for `rcpt` in a new transaction from `from`.
    async fn rcpt(&self, from: &str, rcpt: &str) -> (u16, String) {
        let mut c = self.ehlo().await;
        c.cmd(&format!("MAIL FROM:<{from}>"), 250).await;
        let a = c.reply_to(&format!("RCPT TO:{rcpt}")).await;
        c.cmd("QUIT", 221).await;
        (a.code, a.text)
    }

    fn queued(&self) -> usize {
        self.gw.context().queue.local().unwrap().len()
    }

    async fn drained(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.queued() > 0 {
            assert!(Instant::now() < deadline, "queue not drained");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        self.gw.shutdown(Duration::from_secs(2)).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---- accepted domains -----------------------------------------------------------------

/// An Internet client that may not relay sends to an accepted domain: accepted and
/// passed to the internal server; the same client cannot relay elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internet_client_reaches_the_internal_server() {
    bounded(30, async {
        let internal = Sink::start(&[]).await;
        let internet = Sink::start(&[]).await;
        let h = start("e2e", internal.addr, internet.addr, ACCEPT_CORP).await;
        let mut c = h.ehlo().await;
        c.cmd("MAIL FROM:<someone@example.net>", 250).await;
        c.cmd("RCPT TO:<Jo@Corp.Test>", 250).await;
        let a = c.reply_to("RCPT TO:<far@remote.test>").await;
        assert!(a.text.starts_with("554 5.7.1"), "{}", a.text);
        let a = c.data("Subject: hello inside\r\n\r\nhi").await;
        assert_eq!(a.code, 250, "{}", a.text);
        c.cmd("QUIT", 221).await;
        let got = internal.wait_for(1).await;
        assert_eq!(got[0].from, "someone@example.net");
        assert_eq!(got[0].rcpts, ["Jo@Corp.Test"]);
        assert!(got[0].data.contains("Subject: hello inside"));
        h.drained().await;
        assert!(internet.messages().is_empty(), "nothing relayed");
        // Without `[inbound] domains` the same recipient is a relay attempt.
        let plain = start("e2e-plain", internal.addr, internet.addr, "").await;
        let (code, text) = plain.rcpt("someone@example.net", "<jo@corp.test>").await;
        assert_eq!(code, 554, "{text}");
        plain.stop().await;
        h.stop().await;
    })
    .await;
}

/// `verify_recipients = "list"`: unknown recipients of the accepted domain are refused
/// at RCPT (no bounce ever leaves); the file is re-read when it changes, without a
/// reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_recipient_refused_by_list() {
    bounded(30, async {
        let internal = Sink::start(&[]).await;
        let internet = Sink::start(&[]).await;
        let list = common::temp_dir("accepted", "list-file");
        std::fs::create_dir_all(&list).unwrap();
        let file = list.join("recipients");
        std::fs::write(&file, "# staff\njo@corp.test\n").unwrap();
        let extra = format!(
            "{ACCEPT_CORP}verify_recipients = \"list\"\nrecipients_file = \"{}\"\n",
            file.display()
        );
        let h = start("list", internal.addr, internet.addr, &extra).await;
        let (code, text) = h.rcpt("spammer@example.net", "<bob@corp.test>").await;
        assert!(text.starts_with("550 5.1.1"), "{code} {text}");
        let (code, text) = h.rcpt("x@example.net", "<PostMaster@corp.test>").await;
        assert_eq!(code, 250, "postmaster is always accepted: {text}");
        let mut c = h.ehlo().await;
        c.mail(
            "friend@example.net",
            "JO@corp.test",
            "Subject: for jo\r\n\r\nhi",
        )
        .await;
        c.cmd("QUIT", 221).await;
        internal.wait_for(1).await;
        // bob joins: the next RCPT sees him.
        std::fs::write(
            &file,
            "# staff\njo@corp.test\nbob@corp.test\n*@corp.test.\n",
        )
        .unwrap();
        let (code, text) = h.rcpt("friend@example.net", "<bob@corp.test>").await;
        assert_eq!(code, 250, "{text}");
        // A broken file keeps the last good list.
        std::fs::write(&file, "jo@corp.test\nthis is not an address\n").unwrap();
        let (code, text) = h.rcpt("friend@example.net", "<anyone@corp.test>").await;
        assert_eq!(code, 250, "{text}");
        h.drained().await;
        let got = internal.messages();
        assert_eq!(got.len(), 1, "only jo's message: {got:?}");
        assert!(got.iter().all(|g| !g.from.is_empty()), "no bounce: {got:?}");
        h.stop().await;
        let _ = std::fs::remove_dir_all(&list);
    })
    .await;
}

/// `verify_recipients = "callout"`: the internal server is asked; its "no such user"
/// refuses the recipient at RCPT with its reply quoted, and both answers are cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_recipient_refused_by_callout() {
    bounded(30, async {
        let internal = Sink::start(&["jo@corp.test"]).await;
        let internet = Sink::start(&[]).await;
        let extra = format!("{ACCEPT_CORP}verify_recipients = \"callout\"\n");
        let h = start("callout", internal.addr, internet.addr, &extra).await;
        let (code, text) = h.rcpt("spammer@example.net", "<bob@corp.test>").await;
        assert!(text.starts_with("550 5.1.1"), "{code} {text}");
        assert!(text.contains("no such user here"), "{text}");
        assert_eq!(internal.rcpts.load(Ordering::SeqCst), 1, "one probe");
        assert!(internal.messages().is_empty(), "a probe sends no message");
        let mut c = h.ehlo().await;
        c.mail(
            "friend@example.net",
            "jo@corp.test",
            "Subject: for jo\r\n\r\nhi",
        )
        .await;
        c.cmd("QUIT", 221).await;
        let got = internal.wait_for(1).await;
        assert_eq!(got[0].rcpts, ["jo@corp.test"]);
        h.drained().await;
        // Probe for jo, then the delivery's own RCPT: 3 so far.
        assert_eq!(internal.rcpts.load(Ordering::SeqCst), 3);
        let (code, _) = h.rcpt("spammer@example.net", "<BOB@corp.test>").await;
        assert_eq!(code, 550);
        let (code, _) = h.rcpt("friend@example.net", "<jo@corp.test>").await;
        assert_eq!(code, 250);
        assert_eq!(
            internal.rcpts.load(Ordering::SeqCst),
            3,
            "cached answers, no new probes"
        );
        h.stop().await;
    })
    .await;
}

/// The callout target is down: `callout_unavailable = "defer"` (the default) answers
/// `450 4.1.1`, nothing is queued; `"accept"` accepts and queues.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callout_target_down() {
    bounded(30, async {
        let down = dead_port().await;
        let internet = Sink::start(&[]).await;
        let extra = format!("{ACCEPT_CORP}verify_recipients = \"callout\"\n");
        let h = start("callout-defer", down, internet.addr, &extra).await;
        let (code, text) = h.rcpt("friend@example.net", "<jo@corp.test>").await;
        assert!(text.starts_with("450 4.1.1"), "{code} {text}");
        assert!(
            !text.contains("127.0.0.1"),
            "internal hosts not told: {text}"
        );
        assert_eq!(h.queued(), 0);
        h.stop().await;
        let extra = format!(
            "{ACCEPT_CORP}verify_recipients = \"callout\"\ncallout_unavailable = \"accept\"\n"
        );
        let h = start("callout-accept", down, internet.addr, &extra).await;
        let mut c = h.ehlo().await;
        c.mail(
            "friend@example.net",
            "jo@corp.test",
            "Subject: later\r\n\r\nhi",
        )
        .await;
        c.cmd("QUIT", 221).await;
        // Accepted, so it is either still queued for the internal server or, when a
        // delivery attempt ran first, failed over to the `*` connector (cost 10). The
        // sink has a message before the queue lets go of it, so this order cannot race.
        let queued = h.queued();
        assert!(
            queued == 1 || internet.messages().len() == 1,
            "accepted mail neither queued nor failed over: queued {queued}"
        );
        h.stop().await;
    })
    .await;
}

// ---- transfer modes -------------------------------------------------------------------

/// Transfer mode `inbound` keeps delivering to the organisation (the accepted domain's
/// internal server, and Maildir) and holds only mail to the Internet, which leaves when
/// the mode is `both` again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_mode_inbound_delivers_inward_and_holds_outbound() {
    bounded(30, async {
        let internal = Sink::start(&[]).await;
        let internet = Sink::start(&[]).await;
        let extra = format!(
            "{ACCEPT_CORP}[transfer]\nmode = \"inbound\"\n\
             [security]\nrelay_networks = [\"127.0.0.0/8\"]\n"
        );
        let h = start("mode-inbound", internal.addr, internet.addr, &extra).await;
        let mut c = h.ehlo().await;
        c.cmd("MAIL FROM:<jo@corp.test>", 250).await;
        c.cmd("RCPT TO:<far@remote.test>", 250).await;
        c.cmd("RCPT TO:<al@corp.test>", 250).await;
        c.cmd("RCPT TO:<postmaster@localhost>", 250).await;
        let a = c.data("Subject: both ways\r\n\r\nhi").await;
        assert_eq!(a.code, 250, "{}", a.text);
        c.cmd("QUIT", 221).await;
        let got = internal.wait_for(1).await;
        assert_eq!(got[0].rcpts, ["al@corp.test"]);
        let maildir = h.dir.join("mail/localhost/postmaster/new");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_dir(&maildir).map_or(0, |d| d.count()) == 0 {
            assert!(Instant::now() < deadline, "no Maildir delivery");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Several delivery rounds pass; the Internet recipient stays queued.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(internet.messages().is_empty(), "outbound is held");
        assert_eq!(h.queued(), 1);
        h.gw.context().set_transfer_mode(TransferMode::Both);
        h.gw.context().wake.notify_one();
        let got = internet.wait_for(1).await;
        assert_eq!(got[0].rcpts, ["far@remote.test"]);
        h.drained().await;
        assert_eq!(internal.messages().len(), 1, "delivered once");
        h.stop().await;
    })
    .await;
}

/// Transfer mode `outbound`, the reverse: mail to the Internet leaves, mail to the
/// organisation waits (and new sessions are refused with 421).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_mode_outbound_delivers_outward_and_holds_inward() {
    bounded(30, async {
        let internal = Sink::start(&[]).await;
        let internet = Sink::start(&[]).await;
        let extra = format!("{ACCEPT_CORP}[security]\nrelay_networks = [\"127.0.0.0/8\"]\n");
        let h = start("mode-outbound", internal.addr, internet.addr, &extra).await;
        // A session that began before the change keeps its settings.
        let mut c = h.ehlo().await;
        h.gw.context().set_transfer_mode(TransferMode::Outbound);
        let mut refused = Client::new(TcpStream::connect(h.addr).await.unwrap());
        let a = refused.reply().await.expect("a greeting");
        assert!(a.text.starts_with("421 4.3.2"), "{}", a.text);
        c.cmd("MAIL FROM:<jo@corp.test>", 250).await;
        c.cmd("RCPT TO:<far@remote.test>", 250).await;
        c.cmd("RCPT TO:<al@corp.test>", 250).await;
        let a = c.data("Subject: both ways\r\n\r\nhi").await;
        assert_eq!(a.code, 250, "{}", a.text);
        c.cmd("QUIT", 221).await;
        let got = internet.wait_for(1).await;
        assert_eq!(got[0].rcpts, ["far@remote.test"]);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(internal.messages().is_empty(), "inward mail is held");
        assert_eq!(h.queued(), 1);
        h.gw.context().set_transfer_mode(TransferMode::Both);
        h.gw.context().wake.notify_one();
        let got = internal.wait_for(1).await;
        assert_eq!(got[0].rcpts, ["al@corp.test"]);
        h.drained().await;
        h.stop().await;
    })
    .await;
}

// ---- a route that is down (issue 14 item 2) ---------------------------------------------

/// The only connector's smart host is down and marked down: RCPT still gets 250, and
/// when the smart host comes back every message is delivered, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_down_accepts_and_delivers_once_when_back() {
    bounded(40, async {
        let internal = Sink::start(&[]).await;
        let internet_addr = released_port().await;
        let extra = "[security]\nrelay_networks = [\"127.0.0.0/8\"]\n";
        let h = start("route-down", internal.addr, internet_addr, extra).await;
        let mut c = h.ehlo().await;
        c.mail(
            "jo@corp.test",
            "far@remote.test",
            "Subject: first\r\n\r\nhi",
        )
        .await;
        // Wait until delivery has found the connector down.
        let deadline = Instant::now() + Duration::from_secs(10);
        while h
            .gw
            .context()
            .connectors
            .lock()
            .unwrap()
            .is_available("internet")
        {
            assert!(Instant::now() < deadline, "connector never marked down");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        c.cmd("MAIL FROM:<jo@corp.test>", 250).await;
        let a = c.reply_to("RCPT TO:<other@remote.test>").await;
        assert_eq!(a.code, 250, "accepted and queued, not 451: {}", a.text);
        let a = c.data("Subject: second\r\n\r\nhi").await;
        assert_eq!(a.code, 250, "{}", a.text);
        c.cmd("QUIT", 221).await;
        assert_eq!(h.queued(), 2);
        // The smart host comes back on its port.
        let l = TcpListener::bind(internet_addr).await.unwrap();
        let internet = Sink::on(l, &[]);
        internet.wait_for(2).await;
        h.drained().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let got = internet.messages();
        let subjects: Vec<bool> = ["Subject: first", "Subject: second"]
            .iter()
            .map(|s| got.iter().filter(|g| g.data.contains(s)).count() == 1)
            .collect();
        assert_eq!(subjects, [true, true], "each exactly once: {got:?}");
        assert_eq!(got.len(), 2);
        h.stop().await;
    })
    .await;
}

/// A route that never comes back: accepted at RCPT all the same, and at its priority
/// time-out the sender gets a failure notice (nothing is lost silently).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_down_for_good_fails_with_a_notice_at_the_time_out() {
    bounded(40, async {
        let internal = Sink::start(&[]).await;
        let down = dead_port().await;
        let extra = "[security]\nrelay_networks = [\"127.0.0.0/8\"]\n\
                     [retry]\nintervals = [\"1s\"]\nbackoff_first = \"500ms\"\n\
                     backoff_max = \"1s\"\nnormal_timeout = \"3s\"\n";
        let h = start("route-gone", internal.addr, down, extra).await;
        let mut c = h.ehlo().await;
        c.mail(
            "jo@localhost",
            "far@remote.test",
            "Subject: into the void\r\n\r\nhi",
        )
        .await;
        c.cmd("QUIT", 221).await;
        let notices = h.dir.join("mail/localhost/jo/new");
        let deadline = Instant::now() + Duration::from_secs(30);
        let notice = loop {
            let found = std::fs::read_dir(&notices)
                .ok()
                .and_then(|mut d| d.next())
                .and_then(|e| std::fs::read_to_string(e.ok()?.path()).ok());
            if let Some(n) = found {
                break n;
            }
            assert!(Instant::now() < deadline, "no failure notice");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(notice.contains("Action: failed"), "{notice}");
        assert!(notice.contains("far@remote.test"), "{notice}");
        h.drained().await;
        h.stop().await;
    })
    .await;
}

// ---- SIZE per domain (issue 22 item 5) --------------------------------------------------

/// `MAIL … SIZE=20000` and a domain limited to 4096: RCPT refused with `552 5.3.4`;
/// other domains accepted in the same transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_over_a_domains_limit_is_refused_at_rcpt() {
    bounded(30, async {
        let internal = Sink::start(&[]).await;
        let internet = Sink::start(&[]).await;
        let extra = format!(
            "{ACCEPT_CORP}[security]\nrelay_networks = [\"127.0.0.0/8\"]\n\
             [[domain]]\npattern = \"small.test\"\nmax_message_size = 4096\n"
        );
        let h = start("size", internal.addr, internet.addr, &extra).await;
        let mut c = h.ehlo().await;
        c.cmd("MAIL FROM:<jo@corp.test> SIZE=20000", 250).await;
        let a = c.reply_to("RCPT TO:<x@small.test>").await;
        assert!(a.text.starts_with("552 5.3.4"), "{}", a.text);
        c.cmd("RCPT TO:<y@other.test>", 250).await;
        c.cmd("RSET", 250).await;
        c.cmd("MAIL FROM:<jo@corp.test> SIZE=4000", 250).await;
        c.cmd("RCPT TO:<x@small.test>", 250).await;
        c.cmd("QUIT", 221).await;
        h.stop().await;
    })
    .await;
}

// ---- restrictions steer routing (issue 22 item 8) -----------------------------------------

/// "Reject from on the main connector, accept from on the archiving connector": the
/// boss's mail goes through the archiving connector, everyone else's through the main
/// one; a sender no connector may take is refused at RCPT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restrictions_steer_routing() {
    bounded(30, async {
        let internal = Sink::start(&[]).await;
        let main = Sink::start(&[]).await;
        let archiving = Sink::start(&[]).await;
        let extra = format!(
            "[security]\nrelay_networks = [\"127.0.0.0/8\"]\n\
             [[restriction]]\nconnector = \"internet\"\nreject_from = [\"boss@corp.test\"]\n\
             [[restriction]]\nconnector = \"archiving\"\naccept_from = [\"boss@corp.test\"]\n\
             [[restriction]]\nreject_from = [\"intern@corp.test\"]\n\
             [[connector]]\nname = \"archiving\"\nsmart_hosts = [\"[127.0.0.1]:{}\"]\n\
             [[connector.address_space]]\npattern = \"*\"\ncost = 50\n",
            archiving.addr.port()
        );
        let h = start("steer", internal.addr, main.addr, &extra).await;
        let mut c = h.ehlo().await;
        c.mail(
            "boss@corp.test",
            "far@remote.test",
            "Subject: from the boss\r\n\r\nhi",
        )
        .await;
        c.mail(
            "clerk@corp.test",
            "far@remote.test",
            "Subject: from a clerk\r\n\r\nhi",
        )
        .await;
        c.cmd("MAIL FROM:<intern@corp.test>", 250).await;
        let a = c.reply_to("RCPT TO:<far@remote.test>").await;
        assert!(a.text.starts_with("550 5.7.1"), "{}", a.text);
        c.cmd("QUIT", 221).await;
        let boss = archiving.wait_for(1).await;
        assert_eq!(boss[0].from, "boss@corp.test");
        let clerk = main.wait_for(1).await;
        assert_eq!(clerk[0].from, "clerk@corp.test");
        h.drained().await;
        assert_eq!(archiving.messages().len(), 1);
        assert_eq!(main.messages().len(), 1);
        h.stop().await;
    })
    .await;
}

/// `[archive] recipients`: mail to a listed recipient is archived whoever sent it;
/// other mail is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_by_recipient() {
    bounded(30, async {
        let internal = Sink::start(&[]).await;
        let internet = Sink::start(&[]).await;
        let extra = format!(
            "{ACCEPT_CORP}[archive]\nenabled = true\ndirection = \"inbound\"\nrecipients = [\"legal@corp.test\"]\n"
        );
        let h = start("archive-rcpt", internal.addr, internet.addr, &extra).await;
        let mut c = h.ehlo().await;
        c.mail("x@example.net", "Legal@corp.test", "Subject: for legal\r\n\r\nhi")
            .await;
        c.mail("x@example.net", "jo@corp.test", "Subject: for jo\r\n\r\nhi")
            .await;
        c.cmd("QUIT", 221).await;
        internal.wait_for(2).await;
        h.drained().await;
        let mut files = Vec::new();
        for day in std::fs::read_dir(h.dir.join("archive")).unwrap() {
            for f in std::fs::read_dir(day.unwrap().path()).unwrap() {
                files.push(std::fs::read_to_string(f.unwrap().path()).unwrap());
            }
        }
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(files[0].contains("Subject: for legal"), "{}", files[0]);
        h.stop().await;
    })
    .await;
}
