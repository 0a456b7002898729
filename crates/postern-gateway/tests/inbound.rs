//! End-to-end tests of the inbound side: a real gateway on 127.0.0.1 (port 0), a small
//! SMTP client, temp data directories. Delivery is not under test: mail stays queued.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::client::{Answer, Client};
use common::{fixture, quick_hash, tls_client};
use postern_gateway::{Config, Gateway};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

// ---- set-up -------------------------------------------------------------------------

fn temp_dir(tag: &str) -> PathBuf {
    common::temp_dir("inbound", tag)
}

/// A running gateway and its data directory.
struct Harness {
    gw: Gateway,
    addr: SocketAddr,
    dir: PathBuf,
}

/// Starts a gateway for `localhost` (maildir) and everything else (smtp), with
/// `connections` added to `[connections]` and `extra` appended.
async fn start(tag: &str, connections: &str, extra: &str) -> Harness {
    start_on(tag, connections, extra, &[]).await
}

/// [`start`], with sessions also on `session_runtimes` ([`Gateway::start_on`]).
async fn start_on(
    tag: &str,
    connections: &str,
    extra: &str,
    session_runtimes: &[tokio::runtime::Handle],
) -> Harness {
    let dir = temp_dir(tag);
    let text = format!(
        r#"
[server]
hostname = "mx.test"
data_dir = "{data}"

[connections]
listen = ["127.0.0.1:0"]
{connections}

[tracking]
enabled = true

[[connector]]
name = "local"
kind = "maildir"
  [[connector.address_space]]
  pattern = "localhost"

[[connector]]
name = "internet"
kind = "smtp"
  [[connector.address_space]]
  pattern = "*"

{extra}
"#,
        data = dir.display()
    );
    let config = Config::from_toml_str(&text).expect("test config is valid");
    let gw = Gateway::start_on(config, session_runtimes)
        .await
        .expect("gateway starts");
    let addr = gw.local_addrs()[0];
    Harness { gw, addr, dir }
}

impl Harness {
    fn queued(&self) -> Vec<postern_queue::SpooledMessage> {
        self.gw.context().queue.local().unwrap().messages()
    }

    /// The queued message, header fields unfolded.
    fn body(&self, id: postern_queue::QueueId) -> String {
        String::from_utf8_lossy(&self.gw.context().queue.local().unwrap().body(id).unwrap())
            .replace("\r\n\t", " ")
    }

    async fn client(&self) -> Client<TcpStream> {
        Client::new(TcpStream::connect(self.addr).await.unwrap())
    }

    /// A client past the greeting and EHLO.
    async fn ehlo(&self) -> Client<TcpStream> {
        let mut c = self.client().await;
        c.expect(220).await;
        c.cmd("EHLO client.test", 250).await;
        c
    }

    async fn stop(self) {
        self.gw.shutdown(Duration::from_secs(2)).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn queue_id(answer: &Answer) -> postern_queue::QueueId {
    let id = answer.text.trim().rsplit(' ').next().expect("queued as ID");
    id.parse()
        .unwrap_or_else(|_| panic!("no queue id in {}", answer.text))
}

fn files_contain(dir: &Path, needle: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            files_contain(&p, needle)
        } else {
            std::fs::read(&p)
                .map(|b| String::from_utf8_lossy(&b).contains(needle))
                .unwrap_or(false)
        }
    })
}

// ---- tests --------------------------------------------------------------------------

#[tokio::test]
async fn local_mail_is_queued_with_a_received_header() {
    let h = start("local", "", "").await;
    let mut c = h.ehlo().await;
    let a = c
        .mail(
            "sender@example.com",
            "user@localhost",
            "Subject: hello\r\nMessage-ID: <m1@example.com>\r\n\r\nbody line\r\n..dot line",
        )
        .await;
    assert!(a.text.contains("2.0.0 Ok: queued as "), "{}", a.text);
    let id = queue_id(&a);
    let queued = h.queued();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].id, id);
    let env = &queued[0].envelope;
    assert_eq!(env.sender, "sender@example.com");
    assert_eq!(env.recipients.len(), 1);
    assert_eq!(env.recipients[0].address, "user@localhost");
    assert_eq!(env.recipients[0].destination, "localhost");
    let body = h.body(id);
    assert!(
        body.starts_with("Received: from client.test ([127.0.0.1]) by mx.test (postern) with"),
        "{body}"
    );
    assert!(body.contains(" with ESMTP id "), "{body}");
    assert!(body.contains("for <user@localhost>;"), "{body}");
    assert!(
        body.ends_with(
            "Subject: hello\r\nMessage-ID: <m1@example.com>\r\n\r\nbody line\r\n.dot line\r\n"
        ),
        "{body}"
    );
    // A relayed message gets no Message-ID or Date of ours.
    assert!(!body.contains("Date:"), "{body}");
    c.cmd("QUIT", 221).await;
    let tracking = h.dir.join("tracking");
    h.gw.context().tracker.as_ref().unwrap().flush().unwrap();
    assert!(files_contain(&tracking, &id.to_string()), "tracked");
    assert!(
        files_contain(&tracking, "m1@example.com"),
        "message id tracked"
    );
    h.stop().await;
}

#[tokio::test]
async fn size_limit_refuses_announced_and_actual_size() {
    let h = start("size", "", "[limits]\nmax_message_size = 2048\n").await;
    let mut c = h.ehlo().await;
    c.cmd("MAIL FROM:<a@example.com> SIZE=5000", 552).await;
    c.cmd("MAIL FROM:<a@example.com> SIZE=1000", 250).await;
    c.cmd("RCPT TO:<u@localhost>", 250).await;
    let big = "x".repeat(70) + "\r\n";
    let a = c
        .data(&format!("Subject: big\r\n\r\n{}", big.repeat(40)))
        .await;
    assert_eq!(a.code, 552, "{}", a.text);
    assert!(h.queued().is_empty());
    // The session goes on: a small message is fine.
    c.mail("a@example.com", "u@localhost", "Subject: small\r\n\r\nhi")
        .await;
    assert_eq!(h.queued().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn recipient_limit() {
    let h = start("rcpts", "", "[limits]\nmax_recipients = 2\n").await;
    let mut c = h.ehlo().await;
    c.cmd("MAIL FROM:<a@example.com>", 250).await;
    c.cmd("RCPT TO:<u1@localhost>", 250).await;
    c.cmd("RCPT TO:<u2@localhost>", 250).await;
    let a = c.cmd("RCPT TO:<u3@localhost>", 452).await;
    assert!(a.text.contains("4.5.3"), "{}", a.text);
    let a = c.data("Subject: x\r\n\r\nhi").await;
    assert_eq!(a.code, 250);
    let q = h.queued();
    let rcpts: Vec<&str> = q[0]
        .envelope
        .recipients
        .iter()
        .map(|r| r.address.as_str())
        .collect();
    assert_eq!(rcpts, ["u1@localhost", "u2@localhost"]);
    // Two recipients: the Received field names neither.
    assert!(!h.body(q[0].id).contains("for <"));
    h.stop().await;
}

#[tokio::test]
async fn hop_limit_refuses_looping_mail() {
    let h = start("hops", "", "").await;
    let mut c = h.ehlo().await;
    let hops = |n: usize| {
        let mut s = String::new();
        for i in 0..n {
            s.push_str(&format!(
                "Received: from h{i} by h{} ; Mon, 1 Jan 2024 00:00:00 +0000\r\n",
                i + 1
            ));
        }
        s + "Subject: loop\r\n\r\nbody"
    };
    c.cmd("MAIL FROM:<a@example.com>", 250).await;
    c.cmd("RCPT TO:<u@localhost>", 250).await;
    let a = c.data(&hops(31)).await;
    assert_eq!(a.code, 554, "{}", a.text);
    assert!(a.text.contains("5.4.6"), "{}", a.text);
    assert!(h.queued().is_empty());
    // 30 hops are still within the default limit.
    c.mail("a@example.com", "u@localhost", &hops(30)).await;
    assert_eq!(h.queued().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn ip_rules_most_specific_wins() {
    let reject_host = "[[connections.rule]]\nnetwork = \"127.0.0.0/8\"\naction = \"accept\"\n\
                       [[connections.rule]]\nnetwork = \"127.0.0.1/32\"\naction = \"reject\"\n";
    let h = start("rule1", "", reject_host).await;
    let mut c = h.client().await;
    let a = c.expect(521).await;
    assert!(
        a.text.contains("5.3.2") && a.text.contains("mx.test does not accept mail from you"),
        "{}",
        a.text
    );
    assert!(c.reply().await.is_none(), "closed after 521");
    h.gw.context().tracker.as_ref().unwrap().flush().unwrap();
    assert!(files_contain(&h.dir.join("tracking"), "127.0.0.1"));
    h.stop().await;

    let accept_host = "[[connections.rule]]\nnetwork = \"127.0.0.1/32\"\naction = \"accept\"\n\
                       [[connections.rule]]\nnetwork = \"127.0.0.0/8\"\naction = \"reject\"\n";
    let h = start("rule2", "", accept_host).await;
    let mut c = h.client().await;
    c.expect(220).await;
    h.stop().await;
}

#[tokio::test]
async fn per_ip_connection_limit() {
    let h = start("perip", "max_connections_per_ip = 2", "").await;
    let mut c1 = h.client().await;
    c1.expect(220).await;
    let mut c2 = h.client().await;
    c2.expect(220).await;
    let mut c3 = h.client().await;
    let a = c3.expect(421).await;
    assert!(a.text.contains("4.7.0"), "{}", a.text);
    assert!(c3.reply().await.is_none());
    c1.cmd("QUIT", 221).await;
    assert!(c1.reply().await.is_none());
    // The slot comes back once the first session has ended.
    let mut ok = false;
    for _ in 0..50 {
        let mut c = h.client().await;
        if c.reply().await.is_some_and(|a| a.code == 220) {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "a freed slot is usable again");
    h.stop().await;
}

#[tokio::test]
async fn total_connection_limit_spans_listeners() {
    let dir = temp_dir("total");
    let text = format!(
        "[server]\ndata_dir = \"{}\"\n[connections]\nlisten = [\"127.0.0.1:0\", \"127.0.0.1:0\"]\n\
         max_connections = 1\n",
        dir.display()
    );
    let gw = Gateway::start(Config::from_toml_str(&text).unwrap())
        .await
        .unwrap();
    let addrs = gw.local_addrs().to_vec();
    let mut first = Client::new(TcpStream::connect(addrs[0]).await.unwrap());
    first.expect(220).await;
    let mut second = Client::new(TcpStream::connect(addrs[1]).await.unwrap());
    let a = second.expect(421).await;
    assert!(a.text.contains("4.7.0"), "{}", a.text);
    gw.shutdown(Duration::from_secs(2)).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn relay_tricks_are_refused() {
    let h = start("tricks", "", "").await;
    let mut c = h.ehlo().await;
    c.cmd("MAIL FROM:<a@example.com>", 250).await;
    for (rcpt, code) in [
        ("<a@example.com>", 554),
        ("<a%example.com@localhost>", 550),
        ("<a!b@localhost>", 550),
        ("<\"a@example.com\"@localhost>", 550),
        ("<@localhost:a@example.com>", 554),
        ("<a@[127.0.0.1]>", 554),
        ("<a@sub.localhost>", 554),
    ] {
        let a = c.cmd(&format!("RCPT TO:{rcpt}"), code).await;
        assert!(a.text.contains("5.7.1"), "{rcpt}: {}", a.text);
    }
    // postern-smtp refuses a trailing dot as bad syntax (RFC 5321 has none); the policy
    // would take it as the local domain (unit-tested in policy::relay).
    let a = c.cmd("RCPT TO:<a@LOCALHOST.>", 501).await;
    assert!(a.text.contains("5.1.3"), "{}", a.text);
    // The local domain in another case is just local.
    c.cmd("RCPT TO:<a@LOCALHOST>", 250).await;
    let a = c.data("Subject: x\r\n\r\nhi").await;
    assert_eq!(a.code, 250);
    let q = h.queued();
    assert_eq!(q.len(), 1);
    let r = &q[0].envelope.recipients;
    assert_eq!(r.len(), 1, "only the local recipient");
    assert_eq!(r[0].address, "a@LOCALHOST");
    assert_eq!(r[0].destination, "localhost");
    h.stop().await;
}

#[tokio::test]
async fn relay_networks_may_relay() {
    let h = start(
        "relaynet",
        "",
        "[security]\nrelay_networks = [\"127.0.0.0/8\"]\n",
    )
    .await;
    let mut c = h.ehlo().await;
    c.mail(
        "a@localhost",
        "b@Example.COM",
        "Subject: out\r\nImportance: high\r\n\r\nhi",
    )
    .await;
    let q = h.queued();
    assert_eq!(q[0].envelope.recipients[0].destination, "example.com");
    assert_eq!(q[0].envelope.priority, postern_queue::Priority::Urgent);
    // Routing characters are fine for a client that may relay anyway.
    c.mail("a@localhost", "x%y@localhost", "Subject: x\r\n\r\nhi")
        .await;
    h.stop().await;
}

fn auth_config(extra: &str) -> String {
    format!(
        "[security]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n{extra}\n\
         [[security.user]]\nname = \"alice\"\npassword_hash = \"{}\"\n",
        fixture("localhost.crt").display(),
        fixture("localhost.key").display(),
        quick_hash("wonderland")
    )
}

#[tokio::test]
async fn starttls_then_auth_then_relay() {
    let h = start("tls", "", &auth_config("")).await;
    let mut c = h.client().await;
    c.expect(220).await;
    let a = c.cmd("EHLO client.test", 250).await;
    assert!(a.text.contains("STARTTLS"), "{}", a.text);
    assert!(!a.text.contains("AUTH"), "no AUTH before TLS: {}", a.text);
    let a = c.reply_to("AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=").await;
    assert!(a.code >= 500, "AUTH refused before TLS: {}", a.text);
    c.cmd("MAIL FROM:<alice@localhost>", 250).await;
    c.cmd("RCPT TO:<x@example.com>", 554).await;
    c.cmd("RSET", 250).await;
    c.cmd("STARTTLS", 220).await;
    let tcp = c.io.into_inner();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = tls_client()
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    let mut c = Client::new(tls);
    let a = c.cmd("EHLO client.test", 250).await;
    assert!(a.text.contains("AUTH PLAIN LOGIN"), "{}", a.text);
    assert!(!a.text.contains("STARTTLS"), "{}", a.text);
    let wrong = base64(b"\0alice\0rabbit-hole");
    let a = c.cmd(&format!("AUTH PLAIN {wrong}"), 535).await;
    assert!(a.text.contains("5.7.8"), "{}", a.text);
    let nobody = base64(b"\0mallory\0wonderland");
    c.cmd(&format!("AUTH PLAIN {nobody}"), 535).await;
    let right = base64(b"\0alice\0wonderland");
    c.cmd(&format!("AUTH PLAIN {right}"), 235).await;
    let a = c
        .mail(
            "alice@localhost",
            "friend@example.com",
            "Subject: via tls\r\n\r\nhi",
        )
        .await;
    let body = h.body(queue_id(&a));
    assert!(body.contains("with ESMTPSA id"), "{body}");
    // An authenticated submission lacking them gets Message-ID and Date.
    assert!(body.contains("\r\nMessage-ID: <"), "{body}");
    assert!(body.contains("\r\nDate: "), "{body}");
    c.cmd("QUIT", 221).await;
    h.stop().await;
}

#[tokio::test]
async fn require_auth_without_tls_and_auth_login() {
    let extra = auth_config("auth_without_tls = true\nrequire_auth = true");
    let h = start("reqauth", "", &extra).await;
    let mut c = h.client().await;
    c.expect(220).await;
    let a = c.cmd("EHLO client.test", 250).await;
    assert!(a.text.contains("AUTH PLAIN LOGIN"), "{}", a.text);
    let a = c.cmd("MAIL FROM:<alice@localhost>", 530).await;
    assert!(a.text.contains("5.7.0"), "{}", a.text);
    c.cmd("AUTH LOGIN", 334).await;
    c.cmd(&base64(b"alice"), 334).await;
    c.cmd(&base64(b"wonderland"), 235).await;
    c.mail("alice@localhost", "bob@localhost", "Subject: x\r\n\r\nhi")
        .await;
    let body = h.body(h.queued()[0].id);
    assert!(body.contains("with ESMTPA id"), "{body}");
    h.stop().await;
}

#[tokio::test]
async fn smuggling_never_yields_a_second_message() {
    for seq in ["\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r\n.\r"] {
        let h = start("smuggle", "", "").await;
        let mut c = h.ehlo().await;
        c.cmd("MAIL FROM:<good@example.com>", 250).await;
        c.cmd("RCPT TO:<u@localhost>", 250).await;
        c.cmd("DATA", 354).await;
        let payload = format!(
            "Subject: x\r\n\r\nhello{seq}MAIL FROM:<evil@example.com>\r\n\
             RCPT TO:<victim@localhost>\r\nDATA\r\nsmuggled\r\n.\r\n"
        );
        c.send(payload.as_bytes()).await;
        c.line("QUIT").await;
        let mut replies = Vec::new();
        while let Some(a) = c.reply().await {
            replies.push(a.code);
        }
        // One answer to the message (refused for its bare CR/LF, or taken whole), one to
        // QUIT: nothing answered the smuggled commands.
        assert_eq!(replies.len(), 2, "{seq:?}: {replies:?}");
        assert!(
            replies[0] == 250 || replies[0] >= 500,
            "{seq:?}: {replies:?}"
        );
        assert_eq!(replies[1], 221, "{seq:?}: {replies:?}");
        let q = h.queued();
        assert!(
            q.len() <= 1,
            "{seq:?}: {} messages, replies {replies:?}",
            q.len()
        );
        for m in &q {
            assert_eq!(m.envelope.sender, "good@example.com", "{seq:?}");
            assert!(
                m.envelope
                    .recipients
                    .iter()
                    .all(|r| r.address == "u@localhost"),
                "{seq:?}"
            );
        }
        h.stop().await;
    }
}

#[tokio::test]
async fn slow_client_is_cut_off() {
    let h = start(
        "slow",
        "",
        "[limits]\nmin_data_rate = 1000\nmin_data_rate_window_secs = 1\n",
    )
    .await;
    let mut c = h.ehlo().await;
    c.cmd("MAIL FROM:<a@example.com>", 250).await;
    c.cmd("RCPT TO:<u@localhost>", 250).await;
    c.cmd("DATA", 354).await;
    let started = std::time::Instant::now();
    c.send(b"Subject: slow\r\n").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.send(b"\r\na").await;
    let a = c.expect(451).await;
    assert!(a.text.contains("4.4.2"), "{}", a.text);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(c.reply().await.is_none(), "closed");
    assert!(h.queued().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn shutdown_closes_idle_sessions_and_lets_data_finish() {
    let h = start("shutdown", "", "").await;
    let mut idle = h.ehlo().await;
    let mut busy = h.ehlo().await;
    busy.cmd("MAIL FROM:<a@example.com>", 250).await;
    busy.cmd("RCPT TO:<u@localhost>", 250).await;
    busy.cmd("DATA", 354).await;
    busy.send(b"Subject: in flight\r\n\r\nfirst half\r\n").await;
    let ctx = h.gw.context().clone();
    let dir = h.dir.clone();
    let stopping = tokio::spawn(h.gw.shutdown(Duration::from_secs(5)));
    let a = idle.expect(421).await;
    assert!(a.text.contains("4.3.2"), "{}", a.text);
    assert!(idle.reply().await.is_none());
    // The message in flight is accepted, then the session is closed.
    busy.send(b"second half\r\n.\r\n").await;
    let a = busy.expect(250).await;
    assert_eq!(ctx.queue.local().unwrap().messages()[0].id, queue_id(&a));
    busy.expect(421).await;
    stopping.await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn idle_client_times_out() {
    let h = start("timeout", "", "[timeouts]\ncommand_secs = 1\n").await;
    let mut c = h.ehlo().await;
    let a = c.expect(421).await;
    assert!(a.text.contains("4.4.2"), "{}", a.text);
    assert!(c.reply().await.is_none());
    h.stop().await;
}

/// The time-out runs from the last command the gateway acted on: a transaction begun
/// every 0.6 s keeps a session with a 1 s time-out open well past its first second, and
/// it closes about a second after the last one, not at the deadline the session started
/// with. (`NOOP` and `RSET` alone, which the session answers by itself, do not count.)
#[tokio::test]
async fn time_out_moves_with_each_command() {
    let h = start("timeout-moves", "", "[timeouts]\ncommand_secs = 1\n").await;
    let mut c = h.ehlo().await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        c.cmd("MAIL FROM:<a@example.com>", 250).await;
        c.cmd("RSET", 250).await;
    }
    let last = std::time::Instant::now();
    let a = c.expect(421).await;
    assert!(a.text.contains("4.4.2"), "{}", a.text);
    let idle = last.elapsed();
    assert!(
        idle >= Duration::from_millis(900) && idle < Duration::from_secs(3),
        "timed out {idle:?} after the last command"
    );
    h.stop().await;
}

/// A shorter time-out than the one in force comes first: content stalled under a 1 s
/// `data_block_secs` ends the session after about a second although commands may idle
/// for a minute.
#[tokio::test]
async fn stalled_content_times_out_by_the_shorter_data_time_out() {
    let timeouts = "[timeouts]\ncommand_secs = 60\ndata_block_secs = 1\n";
    let h = start("timeout-data", "", timeouts).await;
    let mut c = h.ehlo().await;
    c.cmd("MAIL FROM:<a@example.com>", 250).await;
    c.cmd("RCPT TO:<u@localhost>", 250).await;
    c.cmd("DATA", 354).await;
    c.send(b"Subject: stalls\r\n\r\nthen nothing\r\n").await;
    let stalled = std::time::Instant::now();
    let a = c.expect(421).await;
    assert!(a.text.contains("4.4.2"), "{}", a.text);
    assert!(
        stalled.elapsed() < Duration::from_secs(5),
        "{:?}",
        stalled.elapsed()
    );
    assert!(h.queued().is_empty(), "an unfinished message is not queued");
    h.stop().await;
}

#[tokio::test]
async fn etrn_is_accepted() {
    let h = start("etrn", "", "").await;
    let mut c = h.ehlo().await;
    c.cmd("ETRN example.com", 250).await;
    c.cmd("ETRN @example.com", 250).await;
    c.cmd("ETRN #queue", 458).await;
    h.stop().await;
}

/// `[server] scheduler = "per_thread"` as `postern serve` runs it with two threads: a
/// second single-thread runtime has its own socket on the listen port, sessions the
/// kernel hands to it run there and queue their mail as any other, and shutdown waits
/// for them.
#[tokio::test]
async fn sessions_on_a_second_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let other = rt.handle().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let _ = rt.block_on(stopped);
    });
    let per_ip = "max_connections_per_ip = 50";
    let h = start_on("second-runtime", per_ip, "", std::slice::from_ref(&other)).await;
    let mut clients = Vec::new();
    for _ in 0..24 {
        clients.push(h.ehlo().await);
    }
    // Its listener and the sessions on it; 24 connections all hashed to the first
    // socket would happen once in 2^24 runs.
    let on_other = other.metrics().num_alive_tasks();
    assert!(on_other > 1, "{on_other} task(s) on the second runtime");
    let mut ids = std::collections::HashSet::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let queued = c
            .mail(
                "a@example.com",
                &format!("u{i}@localhost"),
                "Subject: x\r\n\r\nhi",
            )
            .await;
        ids.insert(queue_id(&queued));
    }
    assert_eq!(ids.len(), 24, "one queue id per message");
    drop(clients);
    h.stop().await;
    assert_eq!(
        other.metrics().num_alive_tasks(),
        0,
        "sessions left running"
    );
    stop.send(()).unwrap();
    thread.join().unwrap();
}
