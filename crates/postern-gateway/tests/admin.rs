//! The Exchange administration features end to end: notices (failure, delay, success,
//! absorbed), the administrator's copies, delivery restrictions, transfer modes, the
//! archive, the Pickup folder, the status (admin API) and metrics, and the protocol log. Each
//! test runs a real gateway on 127.0.0.1 with a scripted SMTP server as its smart host.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postern_gateway::api::client::{Client, Endpoint};
use postern_gateway::api::model::{ActionResult, Status, TransferModeBody};
use postern_gateway::{Config, Gateway};
use postern_track::{EventKind, Filter, Reader};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

// ---- harness ------------------------------------------------------------------------

fn temp_dir(tag: &str) -> PathBuf {
    common::temp_dir("admin", tag)
}

/// Accepted messages: `(sender, recipients, body)`.
type Got = Arc<Mutex<Vec<(String, Vec<String>, String)>>>;

/// A scripted SMTP server: `rule(rcpt)` gives the RCPT reply code. Records
/// `(sender, recipients, body)` of accepted messages.
#[derive(Clone)]
struct Sink {
    addr: SocketAddr,
    got: Got,
}

async fn sink(rule: fn(&str) -> u16) -> Sink {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let s = Sink {
        addr: l.local_addr().unwrap(),
        got: Arc::default(),
    };
    let got = s.got.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = l.accept().await {
            let got = got.clone();
            tokio::spawn(async move {
                let _ = serve(sock, rule, got).await;
            });
        }
    });
    s
}

async fn serve(sock: TcpStream, rule: fn(&str) -> u16, got: Got) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 sink.test\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        let arg = |l: &str| l.split(['<', '>']).nth(1).unwrap_or("").to_owned();
        let reply = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250 sink.test".to_owned()
        } else if upper.starts_with("MAIL") {
            from = arg(&line);
            to.clear();
            "250 ok".to_owned()
        } else if upper.starts_with("RCPT") {
            let a = arg(&line);
            let code = rule(&a);
            if code == 250 {
                to.push(a);
            }
            format!("{code} {}.0.0 as scripted", code / 100)
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
            got.lock().unwrap().push((from.clone(), to.clone(), body));
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

struct Harness {
    gw: Gateway,
    dir: PathBuf,
}

/// A gateway: `localhost` local (maildir), `remote.test` through the sink, relaying for
/// 127.0.0.1; `extra` appended.
async fn start(tag: &str, sink: &Sink, extra: &str) -> Harness {
    start_with(tag, sink, "", extra).await
}

/// As [`start`], with `retry` added to the `[retry]` section.
async fn start_with(tag: &str, sink: &Sink, retry: &str, extra: &str) -> Harness {
    start_full(tag, sink, "", retry, extra).await
}

/// As [`start_with`], with `security` added to the `[security]` section.
async fn start_full(tag: &str, sink: &Sink, security: &str, retry: &str, extra: &str) -> Harness {
    let dir = temp_dir(tag);
    let text = format!(
        "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n\
         [security]\nrelay_networks = [\"127.0.0.1/32\"]\n{security}\
         [administrator]\nmailbox = \"postmaster@localhost\"\n\
         [retry]\nintervals = [\"1s\"]\nbackoff_first = \"300ms\"\nbackoff_max = \"1s\"\npoll_interval = \"100ms\"\n{retry}\
         [[connector]]\nname = \"local\"\nkind = \"maildir\"\n\
         [[connector.address_space]]\npattern = \"localhost\"\n\
         [[connector]]\nname = \"out\"\nsmart_hosts = [\"127.0.0.1:{}\"]\n\
         [[connector.address_space]]\npattern = \"remote.test\"\n{extra}",
        dir.display(),
        sink.addr.port()
    );
    let gw = Gateway::start(Config::from_toml_str(&text).unwrap())
        .await
        .unwrap();
    Harness { gw, dir }
}

impl Harness {
    fn addr(&self) -> SocketAddr {
        self.gw.local_addrs()[0]
    }

    fn maildir(&self, user: &str) -> PathBuf {
        self.dir.join("mail/localhost").join(user).join("new")
    }

    fn events(&self, kind: EventKind) -> Vec<postern_track::Event> {
        if let Some(t) = &self.gw.context().tracker {
            t.flush().unwrap();
        }
        Reader::new(self.dir.join("tracking"))
            .search(&Filter::new().kind(kind))
            .map(|r| r.events)
            .unwrap_or_default()
    }

    async fn stop(self) {
        self.gw.shutdown(Duration::from_secs(5)).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends one SMTP conversation; returns every reply's last line.
async fn talk(addr: SocketAddr, lines: &[&str]) -> Vec<String> {
    let s = TcpStream::connect(addr).await.unwrap();
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    let mut out = Vec::new();
    let read = async |r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>| loop {
        let mut l = String::new();
        if r.read_line(&mut l).await.unwrap_or(0) == 0 {
            return l;
        }
        if l.as_bytes().get(3) != Some(&b'-') {
            return l;
        }
    };
    out.push(read(&mut r).await);
    for l in lines {
        if w.write_all(l.as_bytes()).await.is_err() {
            break;
        }
        out.push(read(&mut r).await);
    }
    out
}

/// A whole message from `from` to `to` (RCPT parameters may follow the address).
async fn mail(addr: SocketAddr, from: &str, to: &[&str], subject: &str) -> Vec<String> {
    let mut lines = vec![
        "EHLO client.test\r\n".to_owned(),
        format!("MAIL FROM:{from}\r\n"),
    ];
    lines.extend(to.iter().map(|t| format!("RCPT TO:{t}\r\n")));
    lines.push("DATA\r\n".into());
    lines.push(format!("Subject: {subject}\r\nMessage-ID: <{subject}@client.test>\r\n\r\nbody of {subject}\r\n.\r\n"));
    lines.push("QUIT\r\n".into());
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    talk(addr, &refs).await
}

/// The contents of the files in `dir`, sorted; hidden (in-progress `.tmp`) files left out.
fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Waits (up to 15 s) for mail in `who`'s Maildir and returns the first message; fails
/// the test with "no `what`" if none comes.
async fn first_mail(h: &Harness, who: &str, what: &str) -> String {
    let dir = h.maildir(who);
    assert!(
        wait_until(Duration::from_secs(15), || !files(&dir).is_empty()).await,
        "no {what}"
    );
    files(&dir).swap_remove(0)
}

/// The admin API's client for `h`, with the token the gateway created.
fn api(h: &Harness) -> Client {
    let token = std::fs::read_to_string(h.dir.join("admin.token")).unwrap();
    Client::new(
        Endpoint::Tcp(h.gw.admin_addr().unwrap()),
        Some(token.trim().to_owned()),
    )
}

/// `GET path` on `h`'s admin API (a blocking client: off the runtime).
async fn api_get<T: serde::de::DeserializeOwned + Send + 'static>(h: &Harness, path: &str) -> T {
    let (c, path) = (api(h), path.to_owned());
    tokio::task::spawn_blocking(move || c.get(&path).unwrap())
        .await
        .unwrap()
}

/// `method path` with a JSON `body` on `h`'s admin API.
async fn api_send<T: serde::de::DeserializeOwned + Send + 'static>(
    h: &Harness,
    method: &'static str,
    path: &str,
    body: serde_json::Value,
) -> T {
    let (c, path) = (api(h), path.to_owned());
    tokio::task::spawn_blocking(move || c.send(method, &path, &body).unwrap())
        .await
        .unwrap()
}

async fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    cond()
}

fn refuse_bad(rcpt: &str) -> u16 {
    if rcpt.starts_with("bad") { 550 } else { 250 }
}

fn always_busy(_: &str) -> u16 {
    450
}

fn accept(_: &str) -> u16 {
    250
}

// ---- notices ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_notice_to_sender_with_admin_copy() {
    let s = sink(refuse_bad).await;
    let h = start("fail", &s, "").await;
    let r = mail(
        h.addr(),
        "<jo@localhost> ENVID=env-42 RET=HDRS",
        &[
            "<bad@remote.test> ORCPT=rfc822;Bad@Remote.test",
            "<good@remote.test>",
        ],
        "failing",
    )
    .await;
    assert!(r.iter().any(|l| l.contains("queued as")), "{r:?}");
    let notice = first_mail(&h, "jo", "notice").await;
    for needle in [
        "Return-Path: <>",
        "Content-Type: multipart/report",
        "report-type=delivery-status",
        "Original-Envelope-Id: env-42",
        "Original-Recipient: rfc822;Bad@Remote.test",
        "Final-Recipient: rfc822; bad@remote.test\r\nAction: failed\r\nStatus: 5.0.0",
        "Diagnostic-Code: smtp; 550 5.0.0 as scripted",
        "Subject: failing",
        "could not be delivered",
    ] {
        assert!(notice.contains(needle), "missing {needle:?} in\n{notice}");
    }
    assert!(
        !notice.contains("body of failing"),
        "RET=HDRS returns the header only"
    );
    assert!(
        !notice.contains("good@remote.test"),
        "only the failed recipient is reported"
    );
    // The administrator's copy.
    first_mail(&h, "postmaster", "copy for postmaster").await;
    assert!(!h.events(EventKind::DsnGenerated).is_empty());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_never_and_notices_about_notices() {
    let s = sink(refuse_bad).await;
    let h = start(
        "never",
        &s,
        "[notifications]\ncopy_failures_to_administrator = false\n",
    )
    .await;
    mail(
        h.addr(),
        "<jo@localhost>",
        &["<bad@remote.test> NOTIFY=NEVER"],
        "quiet",
    )
    .await;
    // A notice itself (null sender) that fails is absorbed, never answered.
    mail(h.addr(), "<>", &["<bad2@remote.test>"], "bounce").await;
    assert!(
        wait_until(Duration::from_secs(15), || !h
            .events(EventKind::DsnAbsorbed)
            .is_empty())
        .await,
        "the failed notice is absorbed"
    );
    assert!(
        wait_until(Duration::from_secs(10), || h
            .events(EventKind::Failed)
            .len()
            >= 2)
        .await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        files(&h.maildir("jo")).is_empty(),
        "NOTIFY=NEVER: no notice"
    );
    assert!(h.events(EventKind::DsnGenerated).is_empty());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_notice_on_schedule() {
    let s = sink(always_busy).await;
    let h = start_with("delay", &s, "delay_notices = [\"1s\"]\n", "").await;
    mail(
        h.addr(),
        "<jo@localhost>",
        &["<slow@remote.test>"],
        "waiting",
    )
    .await;
    let notice = first_mail(&h, "jo", "delay notice").await;
    assert!(
        notice.contains("Action: delayed\r\nStatus: 4.0.0"),
        "{notice}"
    );
    assert!(
        notice.contains("Subject: Delivery Status Notification (Delay)"),
        "{notice}"
    );
    assert!(notice.contains("will keep trying"));
    assert!(
        files(&h.maildir("postmaster")).is_empty(),
        "delay copies are off by default"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_notice_when_asked() {
    let s = sink(accept).await;
    let h = start("success", &s, "").await;
    mail(
        h.addr(),
        "<jo@localhost> ENVID=ok-1",
        &[
            "<al@localhost> NOTIFY=SUCCESS",
            "<x@remote.test> NOTIFY=SUCCESS,FAILURE",
            "<bo@localhost>",
        ],
        "hello",
    )
    .await;
    assert!(
        wait_until(Duration::from_secs(15), || files(&h.maildir("jo")).len()
            >= 2)
        .await,
        "two success notices (local and remote destinations)"
    );
    let all = files(&h.maildir("jo")).join("\n");
    assert!(
        all.contains("Final-Recipient: rfc822; al@localhost\r\nAction: delivered\r\nStatus: 2.0.0"),
        "{all}"
    );
    assert!(
        all.contains("Final-Recipient: rfc822; x@remote.test\r\nAction: relayed"),
        "{all}"
    );
    assert!(
        !all.contains("bo@localhost\r\nAction"),
        "no NOTIFY, no success notice"
    );
    assert!(all.contains("Subject: Delivery Status Notification (Success)"));
    h.stop().await;
}

// ---- restrictions and transfer modes ----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_restrictions() {
    let s = sink(accept).await;
    let h = start(
        "restrict",
        &s,
        "[[restriction]]\nreject_from = [\"spammer@*\"]\n\
         [[restriction]]\nconnector = \"out\"\naccept_from = [\"boss@*\"]\n",
    )
    .await;
    let r = mail(h.addr(), "<spammer@x.test>", &["<jo@localhost>"], "s1").await;
    assert!(r[3].starts_with("550 5.7.1"), "{r:?}");
    let r = mail(
        h.addr(),
        "<clerk@x.test>",
        &["<jo@localhost>", "<far@remote.test>"],
        "s2",
    )
    .await;
    assert!(
        r[3].starts_with("250"),
        "local mail is not restricted: {r:?}"
    );
    assert!(
        r[4].starts_with("550 5.7.1") && r[4].contains("out"),
        "{r:?}"
    );
    let r = mail(h.addr(), "<boss@x.test>", &["<far@remote.test>"], "s3").await;
    assert!(r[3].starts_with("250"), "{r:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_modes_hold_and_release() {
    let s = sink(accept).await;
    let h = start("mode", &s, "[transfer]\nmode = \"inbound\"\n").await;
    let r = mail(h.addr(), "<jo@localhost>", &["<far@remote.test>"], "held").await;
    assert!(r[5].starts_with("250"), "{r:?}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        s.got.lock().unwrap().is_empty(),
        "outbound is held in mode inbound"
    );
    assert_eq!(h.gw.context().queue.local().unwrap().len(), 1);
    // "none" refuses new sessions; set as `postern transfer-mode` does, through the API
    // (in force when it answers).
    let set: TransferModeBody = api_send(
        &h,
        "PUT",
        "/api/v1/transfer-mode",
        serde_json::json!({"mode": "none"}),
    )
    .await;
    assert_eq!(set.mode, "none");
    assert_eq!(h.gw.context().transfer_mode().name(), "none");
    let r = talk(h.addr(), &[]).await;
    assert!(r[0].starts_with("421 4.3.2"), "{r:?}");
    let _: TransferModeBody = api_send(
        &h,
        "PUT",
        "/api/v1/transfer-mode",
        serde_json::json!({"mode": "both"}),
    )
    .await;
    assert!(
        wait_until(Duration::from_secs(10), || !s
            .got
            .lock()
            .unwrap()
            .is_empty())
        .await,
        "released"
    );
    h.stop().await;
}

// ---- archive, pickup, status, protocol log ----------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_both_directions() {
    let s = sink(accept).await;
    let h = start("archive", &s, "[archive]\nenabled = true\n").await;
    mail(h.addr(), "<jo@localhost>", &["<far@remote.test>"], "kept").await;
    assert!(
        wait_until(Duration::from_secs(10), || !s
            .got
            .lock()
            .unwrap()
            .is_empty())
        .await
    );
    let day_dirs: Vec<PathBuf> = std::fs::read_dir(h.dir.join("archive"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(day_dirs.len(), 1);
    // Both copies, whole (a copy in progress is a hidden `.tmp` file). Under heavy load a
    // delivery can be repeated (at least once), which adds an outbound copy: allow it.
    let both = || {
        let copies = files(&day_dirs[0]).join("\n");
        copies.contains("X-Postern-Direction: inbound")
            && copies.contains("X-Postern-Direction: outbound")
    };
    assert!(
        wait_until(Duration::from_secs(15), both).await,
        "one inbound and one outbound copy: {:?}",
        files(&day_dirs[0])
    );
    let copies = files(&day_dirs[0]).join("\n");
    assert!(
        copies.contains("X-Postern-Direction: inbound")
            && copies.contains("X-Postern-Direction: outbound")
    );
    assert!(copies.contains("X-Envelope-From: <jo@localhost>\r\nX-Envelope-To: <far@remote.test>"));
    assert!(copies.contains("Subject: kept"));
    // Each copy is tracked just after its file is in place: allow for that.
    assert!(
        wait_until(Duration::from_secs(15), || h
            .events(EventKind::Archived)
            .len()
            >= 2)
        .await,
        "{:?}",
        h.events(EventKind::Archived)
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pickup_folder_submits_and_sets_aside() {
    let s = sink(accept).await;
    let h = start(
        "pickup",
        &s,
        "[pickup]\nenabled = true\ninterval = \"100ms\"\n",
    )
    .await;
    let pickup = h.dir.join("pickup");
    std::fs::create_dir_all(&pickup).unwrap();
    std::fs::write(
        pickup.join("a.tmp"),
        "X-Sender: jo@localhost\r\nX-Receiver: al@localhost\r\n\r\nSubject: dropped\r\n\r\nhi\r\n",
    )
    .unwrap();
    std::fs::rename(pickup.join("a.tmp"), pickup.join("a.eml")).unwrap();
    std::fs::write(pickup.join("b.eml"), "no headers at all").unwrap();
    let picked_up = first_mail(&h, "al", "picked-up message").await;
    assert!(picked_up.contains("Subject: dropped"), "{picked_up}");
    assert!(
        !pickup.join("a.eml").exists(),
        "submitted files are removed"
    );
    assert!(wait_until(Duration::from_secs(5), || pickup.join("bad/b.eml").exists()).await);
    let reason = std::fs::read_to_string(pickup.join("bad/b.eml.reason")).unwrap();
    assert!(reason.contains("no sender"), "{reason}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_metrics() {
    let s = sink(refuse_bad).await;
    let h = start("status", &s, "[status]\nmetrics_listen = \"127.0.0.1:0\"\n").await;
    mail(
        h.addr(),
        "<jo@localhost>",
        &["<al@localhost>", "<bad@remote.test>"],
        "counted",
    )
    .await;
    let mut status: Status = api_get(&h, "/api/v1/status").await;
    for _ in 0..400 {
        if status.counters.recipients_failed_total == 1
            && status
                .recent_delivered
                .iter()
                .any(|e| e.recipient == "al@localhost")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        status = api_get(&h, "/api/v1/status").await;
    }
    assert_eq!(status.counters.recipients_failed_total, 1, "{status:?}");
    assert!(
        status
            .recent_delivered
            .iter()
            .any(|e| e.recipient == "al@localhost"),
        "{status:?}"
    );
    assert_eq!(status.transfer_mode, "both");
    assert_eq!(status.recent_failed[0].recipient, "bad@remote.test");
    let mut m = TcpStream::connect(h.gw.metrics_addr().unwrap())
        .await
        .unwrap();
    m.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    m.read_to_string(&mut body).await.unwrap();
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    assert!(
        body.contains("postern_messages_accepted_total 1\n"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE postern_queue_messages gauge"),
        "{body}"
    );
    // The same text on the admin API's listener.
    let c = api(&h);
    let (code, text) = tokio::task::spawn_blocking(move || c.request("GET", "/metrics", None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, 200);
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("postern_messages_accepted_total 1\n"),
        "{text}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_log_redacts_and_joins_tracking() {
    let s = sink(accept).await;
    let hash = {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let params = argon2::Params::new(64, 1, 1, None).unwrap();
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        a.hash_password(b"secret", &salt).unwrap().to_string()
    };
    let security = format!(
        "auth_without_tls = true\n[[security.user]]\nname = \"jo\"\npassword_hash = \"{hash}\"\n"
    );
    let h = start_full(
        "protolog",
        &s,
        &security,
        "",
        "[protocol_log]\nenabled = true\n",
    )
    .await;
    let r = talk(
        h.addr(),
        &[
            "EHLO client.test\r\n",
            "AUTH PLAIN AGpvAHNlY3JldA==\r\n",
            "MAIL FROM:<jo@localhost>\r\n",
            "RCPT TO:<al@localhost>\r\n",
            "DATA\r\n",
            "Subject: private matter\r\n\r\nsecret text\r\n.\r\n",
            "QUIT\r\n",
        ],
    )
    .await;
    assert!(r[2].starts_with("235"), "{r:?}");
    assert!(r[6].starts_with("250"), "{r:?}");
    let id = r[6].split_whitespace().last().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = files(&h.dir.join("protocol")).join("");
    assert!(log.contains("> AUTH PLAIN ****"), "{log}");
    assert!(
        log.contains("> EHLO client.test") && log.contains("< 250 2.0.0 Ok: queued as"),
        "{log}"
    );
    assert!(log.contains(&format!("* queued as {id}")), "{log}");
    assert!(
        !log.contains("AGpvAHNlY3JldA")
            && !log.contains("secret text")
            && !log.contains("private matter"),
        "{log}"
    );
    assert!(log.contains("[message data: "), "{log}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restriction_skips_the_backup_connector_and_mail_waits_for_primary() {
    let s = sink(accept).await;
    // A closed port: take one and let it go.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = temp_dir("reroute-restrict");
    let text = format!(
        "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n\
         [security]\nrelay_networks = [\"127.0.0.1/32\"]\n\
         [administrator]\nmailbox = \"postmaster@localhost\"\n\
         [notifications]\ncopy_failures_to_administrator = false\n\
         [timeouts]\nconnect_secs = 2\n\
         [retry]\nintervals = [\"1s\"]\nbackoff_first = \"300ms\"\npoll_interval = \"100ms\"\n\
         [[connector]]\nname = \"local\"\nkind = \"maildir\"\n\
         [[connector.address_space]]\npattern = \"localhost\"\n\
         [[connector]]\nname = \"primary\"\nsmart_hosts = [\"127.0.0.1:{}\"]\n\
         [[connector.address_space]]\npattern = \"remote.test\"\ncost = 1\n\
         [[connector]]\nname = \"backup\"\nsmart_hosts = [\"127.0.0.1:{}\"]\n\
         [[connector.address_space]]\npattern = \"remote.test\"\ncost = 50\n\
         [[restriction]]\nconnector = \"backup\"\naccept_from = [\"boss@*\"]\n",
        dir.display(),
        closed.port(),
        s.addr.port()
    );
    let h = Harness {
        gw: Gateway::start(Config::from_toml_str(&text).unwrap())
            .await
            .unwrap(),
        dir,
    };
    // Accepted at RCPT: "primary" may take it. Restrictions steer routing (issue 22
    // item 8), so "backup", which refuses this sender, is never a candidate: with
    // primary down the mail waits for it (deferred, retried) instead of failing.
    let r = mail(
        h.addr(),
        "<jo@localhost>",
        &["<far@remote.test>"],
        "rerouted",
    )
    .await;
    assert!(r.iter().any(|l| l.contains("queued as")), "{r:?}");
    let deferred = || {
        h.gw.context()
            .queue
            .local()
            .unwrap()
            .messages()
            .first()
            .is_some_and(|m| {
                matches!(
                    m.state.recipients[0],
                    postern_queue::RecipientState::Deferred { .. }
                )
            })
    };
    assert!(
        wait_until(Duration::from_secs(15), deferred).await,
        "deferred after trying primary"
    );
    assert!(
        s.got.lock().unwrap().is_empty(),
        "nothing went out through backup"
    );
    assert!(files(&h.maildir("jo")).is_empty(), "no failure notice");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_control_on_the_live_gateway() {
    let s = sink(accept).await;
    let h = start("control", &s, "").await;
    // Hold the destination (as `postern queue hold --destination remote.test` does).
    let answer: ActionResult = api_send(
        &h,
        "POST",
        "/api/v1/queue/actions/hold",
        serde_json::json!({"destination": "remote.test"}),
    )
    .await;
    assert!(answer.message.starts_with("held"), "{answer:?}");
    mail(
        h.addr(),
        "<jo@localhost>",
        &["<far@remote.test>"],
        "on-hold",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(s.got.lock().unwrap().is_empty(), "held");
    let status: Status = api_get(&h, "/api/v1/status").await;
    let row = status
        .queue
        .destinations
        .iter()
        .find(|d| d.destination == "remote.test");
    assert_eq!(
        row.map(|d| d.messages),
        Some(1),
        "the status shows the held message by destination: {status:?}"
    );
    assert_eq!(status.queue.held_destinations, ["remote.test"]);
    let page: postern_gateway::api::model::QueuePage =
        api_get(&h, "/api/v1/queue?state=held").await;
    assert_eq!(page.total, 1, "{page:?}");
    // Release it: delivered at once.
    let _: ActionResult = api_send(
        &h,
        "POST",
        "/api/v1/queue/actions/release",
        serde_json::json!({"destination": "remote.test"}),
    )
    .await;
    assert!(
        wait_until(Duration::from_secs(10), || !s
            .got
            .lock()
            .unwrap()
            .is_empty())
        .await,
        "released"
    );
    h.stop().await;
}
