//! Attacks on a real gateway on 127.0.0.1 (issue 9, point 3): SMTP smuggling with every
//! end-of-data variant (Exim test 0900), unauthorised pipelining, STARTTLS command
//! injection (CVE-2011-0411), open-relay address tricks, recipient floods, over-long
//! lines, and hostile MIME through a uuencode domain. Each test is bounded in time and
//! asserts what the gateway answered and what it queued or delivered.

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::client::{Answer, Client};
use common::{fixture, tls_client};
use postern_gateway::{Config, Gateway};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Fails the test if `f` takes longer than `secs`.
async fn bounded<T>(secs: u64, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .unwrap_or_else(|_| panic!("test did not finish within {secs} s"))
}

// ---- set-up -------------------------------------------------------------------------

fn temp_dir(tag: &str) -> PathBuf {
    common::temp_dir("attacks", tag)
}

/// Maildir for `localhost`.
const LOCAL: &str = r#"
[[connector]]
name = "local"
kind = "maildir"
  [[connector.address_space]]
  pattern = "localhost"
"#;

/// The usual connectors: Maildir for `localhost`, SMTP (MX) for everything else.
const CONNECTORS: &str = r#"
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
"#;

/// Delivery held (every domain waits for ETRN): accepted mail stays in the queue,
/// where the test reads it. (Transfer mode `inbound` no longer does: it keeps
/// delivering to the organisation, Maildir included.)
const HOLD: &str = "[domain_defaults]\ndequeue = \"hold-for-etrn\"\n";

struct Harness {
    gw: Gateway,
    addr: SocketAddr,
    dir: PathBuf,
}

/// A gateway for `mx.test` with `body` (connectors and other sections) and extra
/// `[connections]` keys.
async fn start_with(tag: &str, connections: &str, body: &str) -> Harness {
    let dir = temp_dir(tag);
    let text = format!(
        "[server]\nhostname = \"mx.test\"\ndata_dir = \"{}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n{connections}\n\
         [tracking]\nenabled = false\n{body}\n",
        dir.display()
    );
    let config = Config::from_toml_str(&text).expect("test config is valid");
    let gw = Gateway::start(config).await.expect("gateway starts");
    let addr = gw.local_addrs()[0];
    Harness { gw, addr, dir }
}

/// The usual connectors plus `extra`.
async fn start(tag: &str, extra: &str) -> Harness {
    start_with(tag, "", &format!("{CONNECTORS}\n{extra}")).await
}

impl Harness {
    fn queued(&self) -> Vec<postern_queue::SpooledMessage> {
        self.gw.context().queue.local().unwrap().messages()
    }

    async fn client(&self) -> Client<TcpStream> {
        Client::new(TcpStream::connect(self.addr).await.unwrap())
    }

    async fn ehlo(&self) -> Client<TcpStream> {
        let mut c = self.client().await;
        c.expect(220).await;
        c.cmd("EHLO client.test", 250).await;
        c
    }

    /// Files delivered into the Maildir folders, with their content.
    fn maildir(&self) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        walk(&self.gw.context().live().config.maildir.root, &mut out);
        out
    }

    /// Waits until the queue is empty (everything delivered or failed).
    async fn drained(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.queued().is_empty() {
            assert!(
                Instant::now() < deadline,
                "queue not drained within {limit:?}: {:?}",
                self.queued()
                    .iter()
                    .map(|m| (&m.id, &m.state))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A normal client still gets through: greeting, EHLO, one message.
    async fn still_serves(&self) {
        let mut c = self.ehlo().await;
        c.mail(
            "ok@example.com",
            "ok@localhost",
            "Subject: still here\r\n\r\nhi",
        )
        .await;
        c.cmd("QUIT", 221).await;
    }

    async fn stop(self) {
        self.gw.shutdown(Duration::from_secs(2)).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.parent().is_some_and(|d| d.ends_with("new")) {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            out.push((p, text));
        }
    }
}

/// Resident set size of this test process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn codes(answers: &[Answer]) -> Vec<u16> {
    answers.iter().map(|a| a.code).collect()
}

// ---- SMTP smuggling -------------------------------------------------------------------

/// The end-of-data look-alikes of Exim's test 0900 and the 2023 SMTP smuggling research.
const FAKE_ENDS: [&str; 5] = ["\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r\n.\r"];

/// A message from `good@example.com` whose body hides, after `end`, a second transaction
/// from `evil@example.com` to the local `victim@localhost`, then the real end.
fn smuggling_payload(end: &str, marker: &str) -> String {
    format!(
        "Subject: {marker}\r\n\r\nhello{end}MAIL FROM:<evil@example.com>\r\n\
         RCPT TO:<victim@localhost>\r\nDATA\r\nFrom: evil@example.com\r\n\
         Subject: smuggled\r\n\r\nsmuggled\r\n.\r\n"
    )
}

/// After the sessions of a smuggling test: everything accepted is delivered to the
/// Maildir as exactly the messages accepted, from `good@` to `u@localhost` only, and
/// nothing reached the victim or came from the smuggled sender.
async fn assert_no_smuggled_delivery(h: &Harness, accepted: &[String]) {
    h.drained(Duration::from_secs(10)).await;
    let files = h.maildir();
    for (path, text) in &files {
        assert!(
            !path.to_string_lossy().contains("victim"),
            "smuggled delivery to {}",
            path.display()
        );
        assert!(
            text.starts_with("Return-Path: <good@example.com>\r\nDelivered-To: u@localhost\r\n"),
            "unexpected delivery {}: {text:?}",
            path.display()
        );
        assert!(!text.contains("Return-Path: <evil"), "{text:?}");
    }
    assert_eq!(
        files.len(),
        accepted.len(),
        "one delivery per accepted message; accepted {accepted:?}"
    );
    for marker in accepted {
        let n = files.iter().filter(|(_, t)| t.contains(marker)).count();
        assert_eq!(n, 1, "{marker} delivered once");
    }
}

/// DATA, waiting for each reply as a careful client does: each fake end is either
/// refused (bare CR/LF) or taken as content; the smuggled MAIL never runs and nothing is
/// delivered to its recipient.
#[tokio::test]
async fn smuggling_with_data_stepwise_delivers_nothing_smuggled() {
    bounded(25, async {
        let h = start("smuggle-step", "").await;
        let mut accepted = Vec::new();
        for (i, end) in FAKE_ENDS.iter().enumerate() {
            let marker = format!("stepwise-{i}");
            let mut c = h.ehlo().await;
            c.cmd("MAIL FROM:<good@example.com>", 250).await;
            c.cmd("RCPT TO:<u@localhost>", 250).await;
            c.cmd("DATA", 354).await;
            c.send(smuggling_payload(end, &marker).as_bytes()).await;
            c.line("QUIT").await;
            let replies = c.replies_to_end().await;
            // Exactly one answer to the message and one to QUIT: nothing answered the
            // smuggled MAIL, RCPT or DATA.
            assert_eq!(codes(&replies), [550, 221], "{end:?}: {replies:?}");
            assert!(replies[0].text.contains("5.5.2"), "{end:?}: {replies:?}");
        }
        // A control message goes through on the same gateway, so "nothing delivered"
        // is not an artefact of a broken delivery path.
        let mut c = h.ehlo().await;
        let a = c
            .mail(
                "good@example.com",
                "u@localhost",
                "Subject: control\r\n\r\nfine",
            )
            .await;
        assert!(a.text.contains("queued as"), "{}", a.text);
        accepted.push("control".to_owned());
        assert_no_smuggled_delivery(&h, &accepted).await;
        h.stop().await;
    })
    .await;
}

/// PIPELINING-style batching: the whole attack, MAIL to the real end, in one write.
/// Content before the 354 is a synchronisation error: `554 5.5.0`, closed, nothing
/// queued. And MAIL/RCPT/DATA batched, then content and QUIT in one write, is the same
/// single refused message as the stepwise case.
#[tokio::test]
async fn smuggling_with_data_batched_delivers_nothing_smuggled() {
    bounded(25, async {
        let h = start("smuggle-batch", "").await;
        for end in FAKE_ENDS {
            let mut c = h.ehlo().await;
            let all = format!(
                "MAIL FROM:<good@example.com>\r\nRCPT TO:<u@localhost>\r\nDATA\r\n{}QUIT\r\n",
                smuggling_payload(end, "batched-all")
            );
            c.try_send(all.as_bytes()).await;
            let replies = c.replies_to_end().await;
            assert_eq!(codes(&replies), [250, 250, 554], "{end:?}: {replies:?}");
            assert!(replies[2].text.contains("5.5.0"), "{end:?}: {replies:?}");

            // Legitimate pipelining up to DATA, then the content and QUIT in one write.
            let mut c = h.ehlo().await;
            c.send(b"MAIL FROM:<good@example.com>\r\nRCPT TO:<u@localhost>\r\nDATA\r\n")
                .await;
            c.expect(250).await;
            c.expect(250).await;
            c.expect(354).await;
            let rest = format!("{}QUIT\r\n", smuggling_payload(end, "batched-content"));
            c.send(rest.as_bytes()).await;
            let replies = c.replies_to_end().await;
            assert_eq!(codes(&replies), [550, 221], "{end:?}: {replies:?}");
        }
        assert!(h.queued().is_empty());
        assert_no_smuggled_delivery(&h, &[]).await;
        h.stop().await;
    })
    .await;
}

/// BDAT: chunk octets are never commands. A LAST chunk holding a fake end and a whole
/// second transaction is one message from `good@` (its bytes kept as sent), both when
/// the client waits for each reply and when BDAT, its chunk and QUIT come in one write.
#[tokio::test]
async fn smuggling_with_bdat_yields_one_message() {
    bounded(25, async {
        let h = start("smuggle-bdat", "").await;
        let mut accepted = Vec::new();
        for (i, end) in FAKE_ENDS.iter().enumerate() {
            for batched in [false, true] {
                let marker = format!("bdat-{i}-{batched}");
                let chunk = smuggling_payload(end, &marker);
                let mut c = h.ehlo().await;
                let head = "MAIL FROM:<good@example.com>\r\nRCPT TO:<u@localhost>\r\n";
                let bdat = format!("BDAT {} LAST\r\n{chunk}", chunk.len());
                let replies = if batched {
                    c.send(format!("{head}{bdat}QUIT\r\n").as_bytes()).await;
                    c.replies_to_end().await
                } else {
                    c.cmd("MAIL FROM:<good@example.com>", 250).await;
                    c.cmd("RCPT TO:<u@localhost>", 250).await;
                    c.send(bdat.as_bytes()).await;
                    let a = c.reply().await.expect("reply to BDAT");
                    c.line("QUIT").await;
                    let mut all = vec![a];
                    all.extend(c.replies_to_end().await);
                    all
                };
                let want: &[u16] = if batched {
                    &[250, 250, 250, 221]
                } else {
                    &[250, 221]
                };
                assert_eq!(
                    codes(&replies),
                    want,
                    "{end:?} batched={batched}: {replies:?}"
                );
                accepted.push(marker);
            }
        }
        assert_no_smuggled_delivery(&h, &accepted).await;
        // Each delivered file holds the hidden transaction as body text, after the fake
        // end, exactly as sent (Maildir keeps the bytes).
        for (_, text) in h.maildir() {
            assert!(
                text.contains("MAIL FROM:<evil@example.com>\r\n"),
                "{text:?}"
            );
        }
        h.stop().await;
    })
    .await;
}

// ---- a deliberately lax SMTP sink ----------------------------------------------------

/// What the lax sink received: (MAIL FROM argument, RCPT arguments, content).
type Got = Arc<Mutex<Vec<(String, Vec<String>, Vec<u8>)>>>;

/// An SMTP server as lax as the ones smuggling exploits: DATA ends at the first of
/// `<LF>.<LF>`, `<LF>.<CR>`, `<CR>.<CR>` (so at every fake end as well as at
/// `<CR><LF>.<CR><LF>`), and what follows is read as commands. It offers neither
/// CHUNKING nor 8BITMIME, so the gateway must send DATA. If the gateway passed a fake end
/// through, this sink would see the smuggled transaction.
async fn lax_sink() -> (SocketAddr, Got) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Got = Arc::default();
    let g = got.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(lax_session(sock, g.clone()));
        }
    });
    (addr, got)
}

async fn lax_session(mut sock: TcpStream, got: Got) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut from = String::new();
    let mut to = Vec::new();
    let mut in_data = false;
    if sock.write_all(b"220 sink.test lax\r\n").await.is_err() {
        return;
    }
    loop {
        // Process everything buffered.
        loop {
            if in_data {
                // The data starts at a line start: look for the ends with an LF before.
                let mut hay = b"\n".to_vec();
                hay.extend_from_slice(&buf);
                let ends: [&[u8]; 3] = [b"\n.\n", b"\n.\r", b"\r.\r"];
                let found = ends
                    .iter()
                    .filter_map(|e| memchr::memmem::find(&hay, e).map(|i| (i, e.len())))
                    .min();
                let Some((i, len)) = found else { break };
                let mut end = i + len;
                if hay[end - 1] == b'\r' && hay.get(end) == Some(&b'\n') {
                    end += 1;
                }
                let content = hay[1..i.max(1)].to_vec();
                buf.drain(..end - 1);
                got.lock()
                    .unwrap()
                    .push((from.clone(), std::mem::take(&mut to), content));
                in_data = false;
                if sock.write_all(b"250 2.0.0 queued\r\n").await.is_err() {
                    return;
                }
                continue;
            }
            let Some(i) = memchr::memchr(b'\n', &buf) else {
                break;
            };
            let line: Vec<u8> = buf.drain(..=i).collect();
            let line = String::from_utf8_lossy(&line).trim_end().to_owned();
            let upper = line.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") {
                b"250-sink.test\r\n250 PIPELINING\r\n"
            } else if upper.starts_with("MAIL FROM:") {
                from = line[10..].to_owned();
                b"250 2.1.0 ok\r\n"
            } else if upper.starts_with("RCPT TO:") {
                to.push(line[8..].to_owned());
                b"250 2.1.5 ok\r\n"
            } else if upper == "DATA" {
                in_data = true;
                b"354 go ahead\r\n"
            } else if upper == "QUIT" {
                let _ = sock.write_all(b"221 bye\r\n").await;
                return;
            } else {
                b"250 2.0.0 ok\r\n"
            };
            if sock.write_all(reply).await.is_err() {
                return;
            }
        }
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn smart_host(addr: SocketAddr) -> String {
    format!(
        "[[connector]]\nname = \"relay\"\nkind = \"smtp\"\nsmart_hosts = [\"[{}]:{}\"]\n\
         [[connector.address_space]]\npattern = \"*\"\n",
        addr.ip(),
        addr.port()
    )
}

/// The gateway as the sending hop: a message taken in by BDAT (so its bare CR/LF and
/// fake ends are kept) and relayed by DATA to a lax server reaches it as one message,
/// never as the smuggled second transaction.
#[tokio::test]
async fn relayed_bdat_message_cannot_smuggle_to_the_next_hop() {
    bounded(25, async {
        let (sink, got) = lax_sink().await;
        let h = start_with(
            "smuggle-relay",
            "",
            &format!(
                "{}\n[security]\nrelay_networks = [\"127.0.0.0/8\"]\n\
                 [retry]\nintervals = [\"1s\"]\n",
                smart_host(sink)
            ),
        )
        .await;
        for (i, end) in FAKE_ENDS.iter().enumerate() {
            let chunk = smuggling_payload(end, &format!("relay-{i}"));
            let mut c = h.ehlo().await;
            c.cmd("MAIL FROM:<good@example.com>", 250).await;
            c.cmd("RCPT TO:<friend@remote.test>", 250).await;
            c.send(format!("BDAT {} LAST\r\n{chunk}", chunk.len()).as_bytes())
                .await;
            c.expect(250).await;
            c.cmd("QUIT", 221).await;
        }
        h.drained(Duration::from_secs(15)).await;
        let got = got.lock().unwrap().clone();
        let summary: Vec<(String, Vec<String>)> =
            got.iter().map(|(f, t, _)| (f.clone(), t.clone())).collect();
        assert_eq!(got.len(), FAKE_ENDS.len(), "{summary:?}");
        for (from, to, content) in &got {
            assert_eq!(from, "<good@example.com>", "{summary:?}");
            assert_eq!(to, &["<friend@remote.test>".to_owned()], "{summary:?}");
            // A body with bare CR/LF is not 8bit-clean, so the gateway may send it in
            // base64 (issue 22): the hidden part is then content of the decoded body.
            let message = postern_message::Message::parse(content);
            let decoded = message.parts()[0].decoded_body();
            let text = String::from_utf8_lossy(&decoded);
            assert!(
                text.contains("smuggled"),
                "the hidden part stays content: {text:?}"
            );
        }
        h.stop().await;
    })
    .await;
}

// ---- unauthorised pipelining --------------------------------------------------------

/// Content sent with DATA, before the 354: `554 5.5.0`, the connection closes, nothing
/// is queued.
#[tokio::test]
async fn content_before_354_is_a_sync_error() {
    bounded(15, async {
        let h = start("sync-data", HOLD).await;
        let mut c = h.ehlo().await;
        c.try_send(
            b"MAIL FROM:<a@example.com>\r\nRCPT TO:<u@localhost>\r\nDATA\r\n\
              Subject: eager\r\n\r\nhi\r\n.\r\n",
        )
        .await;
        let replies = c.replies_to_end().await;
        assert_eq!(codes(&replies), [250, 250, 554], "{replies:?}");
        assert!(replies[2].text.contains("5.5.0"), "{replies:?}");
        // DATA alone first, the content a moment later but still before reading 354:
        // the 354 went out, so this is a normal (if impatient) client.
        assert!(h.queued().is_empty());
        h.still_serves().await;
        assert_eq!(h.queued().len(), 1);
        h.stop().await;
    })
    .await;
}

/// A client that talks before the greeting, with a whole transaction in its first
/// packet: never queued, and a `554 5.5.0` closes the session.
#[tokio::test]
async fn pre_greeting_transaction_is_refused() {
    bounded(15, async {
        let h = start("pregreet-tx", HOLD).await;
        let mut c = h.client().await;
        c.try_send(
            b"EHLO eager.test\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<u@localhost>\r\n\
              DATA\r\nSubject: eager\r\n\r\nhi\r\n.\r\nQUIT\r\n",
        )
        .await;
        let replies = c.replies_to_end().await;
        let sync = replies
            .iter()
            .position(|a| a.code == 554 && a.text.contains("5.5.0"));
        assert!(sync.is_some(), "{replies:?}");
        assert_eq!(
            sync,
            Some(replies.len() - 1),
            "closed after 554: {replies:?}"
        );
        assert!(h.queued().is_empty());
        h.still_serves().await;
        h.stop().await;
    })
    .await;
}

/// A client that sends a command before the greeting must get `554 5.5.0` as its first
/// and only reply (RFC 5321 4.3.1 / RFC 2920 3.1): the gateway waits
/// `connections.greet_delay_ms` and feeds what came to the session before it greets.
#[tokio::test]
async fn command_before_greeting_gets_554() {
    bounded(15, async {
        let body = format!("{CONNECTORS}\n{HOLD}");
        let h = start_with("pregreet", "greet_delay_ms = 300", &body).await;
        let mut c = h.client().await;
        c.try_send(b"EHLO eager.test\r\n").await;
        let a = c.reply().await.expect("a reply");
        assert_eq!(a.code, 554, "{}", a.text);
        assert!(a.text.contains("5.5.0"), "{}", a.text);
        assert!(c.reply().await.is_none(), "closed after 554");
        h.stop().await;
    })
    .await;
}

// ---- STARTTLS command injection (CVE-2011-0411) --------------------------------------

fn tls_config() -> String {
    format!(
        "[security]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
        fixture("localhost.crt").display(),
        fixture("localhost.key").display(),
    )
}

/// `STARTTLS` with commands behind it in the same packet: the plaintext tail is thrown
/// away. The handshake succeeds (no plaintext reply to the injected commands sits in the
/// stream), the first reply over TLS answers our EHLO, and no injected transaction is
/// open.
#[tokio::test]
async fn starttls_injection_is_discarded() {
    bounded(20, async {
        let h = start("starttls", &format!("{HOLD}{}", tls_config())).await;
        let injections = [
            "RSET\r\n",
            "MAIL FROM:<evil@example.com>\r\n",
            "MAIL FROM:<evil@example.com>\r\nRCPT TO:<u@localhost>\r\n",
            "EHLO evil.test\r\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<u@localhost>\r\nDATA\r\n",
        ];
        for injected in injections {
            let mut c = h.ehlo().await;
            c.send(format!("STARTTLS\r\n{injected}").as_bytes()).await;
            let a = c.expect(220).await;
            assert!(a.text.contains("2.0.0"), "{}", a.text);
            // Nothing else may follow the 220 in the clear.
            assert!(
                c.io.buffer().is_empty(),
                "{injected:?}: {:?}",
                c.io.buffer()
            );
            let tcp = c.io.into_inner();
            let tls = tls_client()
                .connect(ServerName::try_from("localhost").unwrap(), tcp)
                .await
                .unwrap_or_else(|e| panic!("{injected:?}: handshake failed: {e}"));
            let mut c = Client::new(tls);
            // Not EHLO first: a command the injected MAIL would have made valid.
            let a = c.reply_to("RCPT TO:<u@localhost>").await;
            assert_eq!(a.code, 503, "{injected:?}: {}", a.text);
            let a = c.reply_to("EHLO client.test").await;
            assert_eq!(a.code, 250, "{injected:?}: {}", a.text);
            assert!(
                a.text.starts_with("250-mx.test\r\n"),
                "{injected:?}: {}",
                a.text
            );
            assert!(!a.text.contains("STARTTLS"), "{}", a.text);
            // The transaction starts clean: a new MAIL is not "nested".
            c.cmd("MAIL FROM:<good@example.com>", 250).await;
            c.cmd("QUIT", 221).await;
        }
        assert!(h.queued().is_empty());
        h.stop().await;
    })
    .await;
}

// ---- open relay -----------------------------------------------------------------------

/// An unauthorised client outside `relay_networks` tries every relay trick: each RCPT is
/// refused with a 5xx, and nothing is ever queued for a non-local destination.
#[tokio::test]
async fn open_relay_variants_are_refused() {
    bounded(20, async {
        let h = start("relay", HOLD).await;
        let long = "a".repeat(300);
        let long_routed = format!("{}%remote.test", "b".repeat(200));
        let tricks: Vec<String> = vec![
            "<user@remote.test>".into(),
            "<user@REMOTE.TEST>".into(),
            "<user@remote.test.>".into(),
            "<user%remote.test@localhost>".into(),
            "<user%remote.test@LOCALHOST>".into(),
            "<remote.test!user@localhost>".into(),
            "<\"user@remote.test\"@localhost>".into(),
            "<\"user%remote.test\"@localhost>".into(),
            "<@localhost:user@remote.test>".into(),
            "<@localhost,@other.test:user@remote.test>".into(),
            "<user@[127.0.0.1]>".into(),
            "<user%remote.test@[127.0.0.1]>".into(),
            "<user@[IPv6:::1]>".into(),
            "<user@localhost.>".into(),
            "<user@sub.localhost>".into(),
            "<user@localhost@remote.test>".into(),
            "user@remote.test".into(),
            format!("<{long}@remote.test>"),
            format!("<{long_routed}@localhost>"),
        ];
        let mut seen = Vec::new();
        for rcpt in &tricks {
            // One session per trick: syntax refusals count towards `max_errors`.
            let mut c = h.ehlo().await;
            c.cmd("MAIL FROM:<a@example.com>", 250).await;
            let a = c.reply_to(&format!("RCPT TO:{rcpt}")).await;
            assert!(
                (500..600).contains(&a.code),
                "{rcpt} must be refused: {}",
                a.text
            );
            seen.push((rcpt.chars().take(40).collect::<String>(), a.code));
            // No accepted recipient: DATA has nothing to deliver to.
            let a = c.reply_to("DATA").await;
            assert!(a.code >= 500, "{rcpt}: DATA got {}", a.text);
            c.cmd("QUIT", 221).await;
        }
        eprintln!("relay tricks: {seen:?}");
        // All the tricks and one local recipient in one transaction: only the local one
        // is queued.
        let mut c = h.ehlo().await;
        c.cmd("MAIL FROM:<a@example.com>", 250).await;
        for rcpt in tricks.iter().take(8) {
            let a = c.reply_to(&format!("RCPT TO:{rcpt}")).await;
            assert!(a.code >= 500, "{rcpt}: {}", a.text);
        }
        c.cmd("RCPT TO:<user@LOCALHOST>", 250).await;
        let a = c.data("Subject: x\r\n\r\nhi").await;
        assert_eq!(a.code, 250, "{}", a.text);
        let q = h.queued();
        assert_eq!(q.len(), 1);
        let dests: Vec<(&str, &str)> = q[0]
            .envelope
            .recipients
            .iter()
            .map(|r| (r.address.as_str(), r.destination.as_str()))
            .collect();
        assert_eq!(dests, [("user@LOCALHOST", "localhost")]);
        h.stop().await;
    })
    .await;
}

/// An accepted domain (`[inbound] domains`) routed to a smart host (the internal
/// server) is open to anyone, and nothing more: sub-domains, look-alikes, trailing-dot
/// and case games, `%`/`!`/quoted-`@` local parts and source routes through it are
/// refused for a client that may not relay; only the real recipients reach the
/// internal server, and nothing is ever queued for another destination.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_relay_tricks_against_an_accepted_domain() {
    bounded(30, async {
        let (internal, got) = lax_sink().await;
        let body = format!(
            "[inbound]\ndomains = [\"corp.test\", \"*.branch.test\"]\n\
             [[connector]]\nname = \"internal\"\nsmart_hosts = [\"[127.0.0.1]:{}\"]\n\
             [[connector.address_space]]\npattern = \"corp.test\"\n\
             [[connector.address_space]]\npattern = \"*.branch.test\"\n\
             [[connector]]\nname = \"internet\"\n\
             [[connector.address_space]]\npattern = \"*\"\ncost = 10\n",
            internal.port()
        );
        let h = start_with("relay-accepted", "", &body).await;
        let tricks = [
            "<user@remote.test>",
            "<user@x.corp.test>",
            "<user@branch.test>",
            "<user@corp.test.remote.test>",
            "<user@evilcorp.test>",
            "<user@corp.test.>",
            "<user%remote.test@corp.test>",
            "<user%remote.test@CORP.TEST>",
            "<remote.test!user@corp.test>",
            "<\"user@remote.test\"@corp.test>",
            "<\"user%remote.test\"@a.branch.test>",
            "<user%remote.test@a.branch.test>",
            "<@corp.test:user@remote.test>",
            "<@corp.test,@a.branch.test:user@remote.test>",
            "<user@corp.test@remote.test>",
            "<user@[127.0.0.1]>",
        ];
        for rcpt in tricks {
            let mut c = h.ehlo().await;
            c.cmd("MAIL FROM:<a@example.com>", 250).await;
            let a = c.reply_to(&format!("RCPT TO:{rcpt}")).await;
            assert!(
                (500..600).contains(&a.code),
                "{rcpt} must be refused: {}",
                a.text
            );
            c.cmd("QUIT", 221).await;
        }
        // The real ones, case and all, go in and through.
        let mut c = h.ehlo().await;
        c.cmd("MAIL FROM:<a@example.com>", 250).await;
        for rcpt in tricks.iter().take(8) {
            let a = c.reply_to(&format!("RCPT TO:{rcpt}")).await;
            assert!(a.code >= 500, "{rcpt}: {}", a.text);
        }
        c.cmd("RCPT TO:<Jo@CORP.test>", 250).await;
        c.cmd("RCPT TO:<al@a.Branch.test>", 250).await;
        let a = c.data("Subject: inward\r\n\r\nhi").await;
        assert_eq!(a.code, 250, "{}", a.text);
        c.cmd("QUIT", 221).await;
        h.drained(Duration::from_secs(10)).await;
        let got = got.lock().unwrap().clone();
        // One delivery per destination domain.
        let mut rcpts: Vec<String> = got.iter().flat_map(|g| g.1.clone()).collect();
        rcpts.sort();
        assert_eq!(rcpts, ["<Jo@CORP.test>", "<al@a.Branch.test>"]);
        h.stop().await;
    })
    .await;
}

// ---- floods and over-long input ------------------------------------------------------

/// 10,000 RCPTs pipelined in one transaction: the first `max_recipients` are accepted,
/// the rest get `452 4.5.3`; the gateway answers every one (or closes cleanly), memory
/// stays bounded, and the message goes to the accepted recipients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_recipients() {
    bounded(25, async {
        let h = start(
            "rcpt-flood",
            &format!("{HOLD}[limits]\nmax_recipients = 1000\n"),
        )
        .await;
        let before = rss_kib();
        let c = h.ehlo().await;
        let (rd, mut wr) = tokio::io::split(c.io.into_inner());
        let mut rd = Client::new(ReadOnly(rd));
        wr.write_all(b"MAIL FROM:<a@example.com>\r\n")
            .await
            .unwrap();
        rd.expect(250).await;
        let writer = tokio::spawn(async move {
            let mut batch = String::new();
            for i in 0..10_000 {
                batch.push_str(&format!("RCPT TO:<u{i}@localhost>\r\n"));
            }
            wr.write_all(batch.as_bytes()).await.unwrap();
            wr
        });
        let mut accepted = 0;
        let mut too_many = 0;
        let mut other = Vec::new();
        for _ in 0..10_000 {
            let Some(a) = rd.reply().await else { break };
            match a.code {
                250 => accepted += 1,
                452 => {
                    assert!(a.text.contains("4.5.3"), "{}", a.text);
                    too_many += 1;
                }
                _ => {
                    other.push(a.text);
                    break;
                }
            }
        }
        let mut wr = writer.await.unwrap();
        let grown = rss_kib().saturating_sub(before);
        eprintln!(
            "10,000 RCPTs: {accepted} accepted, {too_many} x 452, other {other:?}, \
             RSS +{grown} KiB"
        );
        assert_eq!(accepted, 1000);
        assert!(grown < 64 * 1024, "RSS grew by {grown} KiB");
        assert!(
            other.is_empty(),
            "every RCPT beyond the limit gets 452 4.5.3, the session stays open \
             ({too_many} x 452, then {other:?})"
        );
        assert_eq!(too_many, 9000);
        // The transaction still works.
        wr.write_all(b"DATA\r\n").await.unwrap();
        rd.expect(354).await;
        wr.write_all(b"Subject: many\r\n\r\nhi\r\n.\r\n")
            .await
            .unwrap();
        rd.expect(250).await;
        let q = h.queued();
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].envelope.recipients.len(), 1000);
        h.stop().await;
    })
    .await;
}

/// A reader half usable by `Client` (writes are not used).
struct ReadOnly<R>(R);

impl<R: AsyncRead + Unpin> AsyncRead for ReadOnly<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<R: Unpin> AsyncWrite for ReadOnly<R> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Err(std::io::ErrorKind::Unsupported.into()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A 1 MB command line gets `500 5.5.6` and the session goes on; so does a 1 MB line
/// without any line end yet (it is dropped as it arrives, not buffered). A 1 MB header
/// line inside DATA refuses that message with `500 5.5.6` after its end; the session and
/// the gateway go on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn megabyte_lines() {
    bounded(25, async {
        let h = start("long-lines", HOLD).await;
        let before = rss_kib();
        let mb = "x".repeat(1024 * 1024);

        let mut c = h.ehlo().await;
        let a = c.reply_to(&format!("NOOP {mb}")).await;
        assert_eq!(a.code, 500, "{}", a.text);
        assert!(a.text.contains("5.5.6"), "{}", a.text);
        c.cmd("NOOP", 250).await;

        // 1 MB of a line and then a pause: the session must not hold it.
        c.send(format!("MAIL FROM:<{mb}").as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.send(b">\r\n").await;
        let a = c.expect(500).await;
        assert!(a.text.contains("5.5.6"), "{}", a.text);

        c.cmd("MAIL FROM:<a@example.com>", 250).await;
        c.cmd("RCPT TO:<u@localhost>", 250).await;
        let a = c
            .data(&format!("Subject: {mb}\r\nX-Other: y\r\n\r\nbody"))
            .await;
        assert_eq!(a.code, 500, "{}", a.text);
        assert!(a.text.contains("5.5.6"), "{}", a.text);
        assert!(h.queued().is_empty());
        // Same session, a normal message.
        c.mail("a@example.com", "u@localhost", "Subject: ok\r\n\r\nhi")
            .await;
        c.cmd("QUIT", 221).await;
        h.still_serves().await;
        assert_eq!(h.queued().len(), 2);
        let grown = rss_kib().saturating_sub(before);
        eprintln!("1 MB lines: RSS +{grown} KiB");
        assert!(grown < 64 * 1024, "RSS grew by {grown} KiB");
        h.stop().await;
    })
    .await;
}

/// 16 MB of one command line with no line end at all, then a close: the session drops
/// it as it comes (it never holds more than `max_buffered_input`) and the gateway keeps
/// serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_line_is_not_buffered() {
    bounded(25, async {
        let h = start("endless", HOLD).await;
        let before = rss_kib();
        let mut c = h.ehlo().await;
        let block = vec![b'y'; 1024 * 1024];
        for _ in 0..16 {
            assert!(c.try_send(&block).await, "the gateway keeps reading");
        }
        c.send(b"\r\n").await;
        let a = c.expect(500).await;
        assert!(a.text.contains("5.5.6"), "{}", a.text);
        drop(c);
        h.still_serves().await;
        let grown = rss_kib().saturating_sub(before);
        eprintln!("16 MB line: RSS +{grown} KiB");
        assert!(grown < 32 * 1024, "RSS grew by {grown} KiB");
        h.stop().await;
    })
    .await;
}

// ---- hostile MIME through a uuencode domain -----------------------------------------

fn nested_multiparts(depth: usize) -> String {
    let mut s = String::from("From: a@example.com\r\nSubject: nested\r\nMIME-Version: 1.0\r\n");
    for i in 0..depth {
        s.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
        ));
    }
    s.push_str("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n");
    for i in (0..depth).rev() {
        s.push_str(&format!("--b{i}--\r\n"));
    }
    s
}

fn nested_rfc822(depth: usize) -> String {
    let mut s = String::from("From: a@example.com\r\nSubject: nested822\r\nMIME-Version: 1.0\r\n");
    for _ in 0..depth {
        s.push_str("Content-Type: message/rfc822\r\n\r\nSubject: inner\r\nMIME-Version: 1.0\r\n");
    }
    s.push_str("Content-Type: text/plain\r\n\r\ncore\r\n");
    s
}

/// A base64 attachment of `mb` MiB of zeros (so it decodes to `mb` MiB that uuencode
/// re-inflates), in 76-character lines.
fn big_base64(mb: usize) -> String {
    let mut s = String::from(
        "From: a@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\n\
         Content-Type: text/plain\r\n\r\nsee attached\r\n--B\r\n\
         Content-Type: application/octet-stream; name=\"zeros.bin\"\r\n\
         Content-Disposition: attachment; filename=\"zeros.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n",
    );
    let line = "A".repeat(76) + "\r\n";
    for _ in 0..(mb * 1024 * 1024 / 57) {
        s.push_str(&line);
    }
    s.push_str("--B--\r\n");
    s
}

fn many_parts(n: usize) -> String {
    let mut s = String::from(
        "From: a@example.com\r\nSubject: many\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"P\"\r\n\r\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "--P\r\nContent-Type: application/octet-stream; name=\"p{i}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\nAA==\r\n"
        ));
    }
    s.push_str("--P--\r\n");
    s
}

fn long_header_block(kib: usize) -> String {
    let mut s = String::from("From: a@example.com\r\nSubject: headers\r\nMIME-Version: 1.0\r\n");
    let mut i = 0;
    while s.len() < kib * 1024 {
        s.push_str(&format!("X-Filler-{i}: {}\r\n", "h".repeat(200)));
        i += 1;
    }
    s.push_str(
        "Content-Type: multipart/mixed; boundary=\"H\"\r\n\r\n--H\r\n\
         Content-Type: application/octet-stream; name=\"h.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--H--\r\n",
    );
    s
}

/// Hostile structures sent in by SMTP for a uuencode domain, so that postern-message's
/// MIME→uuencode conversion runs on the way out to a smart host: the gateway neither
/// panics nor hangs; each message reaches the next hop (converted or not) or is failed
/// with a notice, within the time bound; and the gateway keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_mime_through_a_uuencode_domain() {
    bounded(30, async {
        let (sink, got) = lax_sink().await;
        let h = start_with(
            "mime-bombs",
            "",
            &format!(
                "{LOCAL}\n{}\n[[domain]]\npattern = \"old.test\"\ncontent_format = \"uuencode\"\n\
                 [security]\nrelay_networks = [\"127.0.0.0/8\"]\n[retry]\nintervals = [\"1s\"]\n",
                smart_host(sink)
            ),
        )
        .await;
        let cases = [
            ("nested", nested_multiparts(10_000)),
            ("nested822", nested_rfc822(5_000)),
            ("big64", big_base64(3)),
            ("many", many_parts(6_000)),
            ("headers", long_header_block(400)),
        ];
        let started = Instant::now();
        let mut c = h.ehlo().await;
        for (tag, body) in &cases {
            c.cmd("MAIL FROM:<sender@example.com>", 250).await;
            c.cmd(&format!("RCPT TO:<{tag}@old.test>"), 250).await;
            c.cmd("DATA", 354).await;
            c.send(body.as_bytes()).await;
            c.send(b".\r\n").await;
            let a = c.reply().await.expect("a reply");
            assert_eq!(a.code, 250, "{tag}: {}", a.text);
        }
        c.cmd("QUIT", 221).await;
        h.drained(Duration::from_secs(20)).await;
        let elapsed = started.elapsed();
        let got = got.lock().unwrap().clone();
        for (tag, _) in &cases {
            let rcpt = format!("<{tag}@old.test>");
            let delivered = got.iter().any(|(_, to, _)| to.contains(&rcpt));
            let noticed = got.iter().any(|(from, to, body)| {
                from == "<>"
                    && to.contains(&"<sender@example.com>".to_owned())
                    && String::from_utf8_lossy(body).contains(&format!("{tag}@old.test"))
            });
            assert!(delivered || noticed, "{tag}: neither delivered nor failed");
            eprintln!("{tag}: delivered={delivered} notice={noticed}");
        }
        // Converted where convertible: the big attachment went out uuencoded.
        let big = got
            .iter()
            .find(|(_, to, _)| to.contains(&"<big64@old.test>".to_owned()))
            .expect("big64 delivered");
        assert!(
            String::from_utf8_lossy(&big.2).contains("begin 644 zeros.bin"),
            "big64 converted"
        );
        eprintln!("hostile MIME: all out in {elapsed:?}");
        h.still_serves().await;
        h.stop().await;
    })
    .await;
}

/// Slowloris in the command phase: a client typing `NOOP` a byte at a time, never
/// finishing a line within the command time-out, is timed out all the same (the
/// time-out runs from the last complete command, not the last byte).
#[tokio::test]
async fn trickled_command_times_out() {
    bounded(20, async {
        let body = format!("{CONNECTORS}\n[timeouts]\ncommand_secs = 1\n");
        let h = start_with("trickle", "", &body).await;
        let mut c = h.client().await;
        c.expect(220).await;
        let started = std::time::Instant::now();
        let mut closed_after = None;
        for _ in 0..40 {
            // One byte every 200 ms of a line that never ends.
            if !c.try_send(b"N").await {
                closed_after = Some(started.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            if started.elapsed() > Duration::from_millis(1500) {
                let a = c.reply().await;
                let a = a.expect("a 421 before the close");
                assert_eq!(a.code, 421, "{}", a.text);
                closed_after = Some(started.elapsed());
                break;
            }
        }
        let after = closed_after.expect("the trickling client was never cut off");
        assert!(
            after < Duration::from_secs(4),
            "cut off only after {after:?}"
        );
        h.still_serves().await;
        h.stop().await;
    })
    .await;
}
