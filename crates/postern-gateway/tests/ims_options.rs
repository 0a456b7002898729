//! The IMS "Advanced" and "MIME Types" options end to end (issue 20): a gateway relays
//! through a smart host to an in-test recording SMTP sink, with `[[domain_options]]`
//! and `[[mime_types]]`; what the sink got (judged by Python's `email` package where
//! content matters) and the tracking log say whether each option did its work.
//!
//! * `rich_text = "never"`: a TNEF part arrives as ordinary attachments, same names,
//!   same bytes, with the TNEF body text; `"always"` leaves it as it was.
//! * `send_display_names = false`: From/Sender/Reply-To without names.
//! * `auto_replies = "drop"`: an out-of-office reply is not sent, not bounced, and
//!   tracked as `dropped` with the reason; the same reply to another domain goes.
//! * `[[mime_types]]`: a part without a file name gets the configured extension when a
//!   domain takes uuencode.

mod common;
#[path = "../../postern-message/tests/tnef_writer/mod.rs"]
mod tnef_writer;

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postern_gateway::{Config, Gateway};
use postern_queue::Envelope;
use postern_smtp::ReversePath;
use postern_smtp::server::{Event, ServerConfig, ServerSession};
use postern_track::{EventKind, Filter, Reader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the sink received: (sender, recipients, body).
type Received = Arc<Mutex<Vec<(String, Vec<String>, Vec<u8>)>>>;

async fn sink() -> (SocketAddr, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received: Received = Arc::default();
    let rec = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(serve(sock, Arc::clone(&rec)));
        }
    });
    (addr, received)
}

async fn serve(mut sock: tokio::net::TcpStream, rec: Received) {
    let mut session = ServerSession::new(ServerConfig::new("sink.test"));
    session.greet();
    let mut buf = vec![0u8; 16 * 1024];
    let (mut from, mut rcpts, mut body) = (String::new(), Vec::new(), Vec::new());
    loop {
        let out = session.pending_output().to_vec();
        if !out.is_empty() {
            if sock.write_all(&out).await.is_err() {
                return;
            }
            session.consume_output(out.len());
        }
        if session.is_closed() {
            return;
        }
        let n = match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        session.receive(&buf[..n]);
        while let Some(ev) = session.poll_event() {
            match ev {
                Event::Mail { from: f, .. } => {
                    from = match f {
                        ReversePath::Null => String::new(),
                        ReversePath::Mailbox(m) => m.to_string(),
                    };
                    rcpts.clear();
                    body.clear();
                }
                Event::Rcpt { to, .. } => {
                    rcpts.push(to.to_string().trim_matches(['<', '>']).to_string())
                }
                Event::DataChunk(b) => body.extend_from_slice(b),
                Event::MessageEnd { .. } => {
                    rec.lock()
                        .unwrap()
                        .push((from.clone(), rcpts.clone(), body.clone()));
                }
                _ => {}
            }
            if session.pending_decision().is_some() {
                let _ = session.accept();
            }
        }
    }
}

/// A running gateway relaying everything to a sink, with `extra` configuration.
struct Harness {
    gw: Gateway,
    received: Received,
    dir: std::path::PathBuf,
}

impl Harness {
    async fn start(tag: &str, extra: &str) -> Harness {
        let (addr, received) = sink().await;
        let dir = common::temp_dir("ims_options", tag);
        std::fs::create_dir_all(&dir).unwrap();
        let text = format!(
            "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n\
             [connections]\nlisten = [\"127.0.0.1:0\"]\n\
             [timeouts]\nconnect_secs = 2\ngreeting_secs = 5\ncommand_secs = 5\n\
             [retry]\nintervals = [\"1s\"]\n\
             [[connector]]\nname = \"relay\"\nkind = \"smtp\"\nsmart_hosts = [\"[{}]:{}\"]\n\
             [[connector.address_space]]\npattern = \"*\"\ncost = 1\n{extra}\n",
            dir.display(),
            addr.ip(),
            addr.port()
        );
        let gw = Gateway::start(Config::from_toml_str(&text).unwrap())
            .await
            .unwrap();
        Harness { gw, received, dir }
    }

    fn send(&self, to: &str, raw: &[u8]) {
        let ctx = self.gw.context();
        let now = ctx.now();
        ctx.queue
            .local()
            .unwrap()
            .enqueue(&Envelope::new("a@src.test", [to], now), raw, now)
            .unwrap();
        ctx.wake.notify_one();
    }

    /// Waits for the sink to hold `n` messages and the queue to be empty.
    async fn wait_for(&self, n: usize) -> Vec<(String, Vec<String>, Vec<u8>)> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= n && self.gw.context().queue.local().unwrap().is_empty() {
                return got;
            }
            assert!(Instant::now() < deadline, "sink has {} of {n}", got.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn events(&self, kind: EventKind) -> Vec<postern_track::Event> {
        if let Some(t) = &self.gw.context().tracker {
            t.flush().unwrap();
        }
        Reader::new(self.dir.join("tracking"))
            .search(&Filter::new().kind(kind))
            .unwrap()
            .events
    }

    async fn stop(self) {
        self.gw.shutdown(Duration::from_secs(5)).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every leaf as Python's `email` sees it: (file name, content type, decoded payload).
fn python_leaves(body: &[u8]) -> Vec<(String, String, Vec<u8>)> {
    const JUDGE: &str = r#"
import sys, email, email.policy
m = email.message_from_binary_file(sys.stdin.buffer, policy=email.policy.default)
for p in m.walk():
    if p.is_multipart():
        continue
    print("\t".join([(p.get_filename() or "").encode().hex(), p.get_content_type(),
                     (p.get_payload(decode=True) or b"").hex()]))
"#;
    let mut child = Command::new("python3")
        .args(["-c", JUDGE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let unhex = |s: &str| -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    };
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                String::from_utf8(unhex(f[0])).unwrap(),
                f[1].to_string(),
                unhex(f.get(2).copied().unwrap_or("")),
            )
        })
        .collect()
}

fn tnef_message(to: &str) -> (Vec<u8>, Vec<u8>) {
    use postern_message::builder::{MessageBuilder, PartSpec};
    use tnef_writer::{Att, Writer};
    let pdf: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let stream = Writer {
        body: Some("Rich text body from Outlook".into()),
        atts: vec![
            Att {
                title: Some(b"QUARTE~1.PDF".to_vec()),
                long_name: Some("Quarterly résumé.pdf".into()),
                unicode_name: true,
                data: pdf.clone(),
                embedded: None,
            },
            Att {
                title: Some(b"NOTES.TXT".to_vec()),
                data: b"notes\r\n".to_vec(),
                ..Att::default()
            },
        ],
        ..Writer::default()
    }
    .build();
    let raw = MessageBuilder::new()
        .from(("Fred Rodriguez", "fredro@src.test"))
        .to(to)
        .subject("figures")
        .part(PartSpec::attachment(
            "winmail.dat",
            "application/ms-tnef",
            stream,
        ))
        .build();
    (raw, pdf)
}

#[tokio::test]
async fn rich_text_never_sends_tnef_as_attachments() {
    let h = Harness::start(
        "richtext",
        "[[domain_options]]\npattern = \"plain.test\"\nrich_text = \"never\"\n",
    )
    .await;
    let (raw, pdf) = tnef_message("b@plain.test");
    h.send("b@plain.test", &raw);
    let got = h.wait_for(1).await;
    let leaves = python_leaves(&got[0].2);
    assert_eq!(leaves.len(), 3, "{leaves:?}");
    assert_eq!(leaves[0].1, "text/plain");
    assert_eq!(
        String::from_utf8_lossy(&leaves[0].2).trim_end(),
        "Rich text body from Outlook"
    );
    assert_eq!(leaves[1].0, "Quarterly résumé.pdf");
    assert_eq!(leaves[1].1, "application/pdf");
    assert_eq!(leaves[1].2, pdf);
    assert_eq!(leaves[2].0, "NOTES.TXT");
    assert_eq!(leaves[2].2, b"notes\r\n");
    assert!(!leaves.iter().any(|l| l.1.contains("tnef")));
    h.stop().await;
}

#[tokio::test]
async fn rich_text_always_is_the_default_and_leaves_tnef() {
    let h = Harness::start("richalways", "").await;
    let (raw, _) = tnef_message("b@any.test");
    h.send("b@any.test", &raw);
    let got = h.wait_for(1).await;
    let leaves = python_leaves(&got[0].2);
    assert_eq!(leaves.len(), 1);
    assert_eq!(leaves[0].0, "winmail.dat");
    assert_eq!(leaves[0].1, "application/ms-tnef");
    h.stop().await;
}

#[tokio::test]
async fn display_names_left_out_per_domain() {
    let h = Harness::start(
        "names",
        "[[domain_options]]\npattern = \"*.bare.test\"\nsend_display_names = false\n",
    )
    .await;
    let raw = b"From: \"Fred Rodriguez\" <fredro@src.test>\r\nSender: Desk <desk@src.test>\r\n\
Reply-To: Fred R <fredro@src.test>\r\nTo: Ann <ann@x.bare.test>\r\nSubject: hi\r\n\r\nbody\r\n";
    h.send("ann@x.bare.test", raw);
    let got = h.wait_for(1).await;
    h.send("ann@named.test", raw);
    let got2 = h.wait_for(2).await;
    let text = String::from_utf8(got[0].2.clone()).unwrap();
    assert!(text.contains("From: fredro@src.test\r\n"), "{text}");
    assert!(text.contains("Sender: desk@src.test\r\n"), "{text}");
    assert!(text.contains("Reply-To: fredro@src.test\r\n"), "{text}");
    assert!(text.contains("To: Ann <ann@x.bare.test>\r\n"), "{text}");
    let other = got2
        .iter()
        .find(|m| m.1.iter().any(|r| r.contains("named.test")))
        .unwrap();
    assert!(
        String::from_utf8_lossy(&other.2).contains("From: \"Fred Rodriguez\" <fredro@src.test>")
    );
    h.stop().await;
}

#[tokio::test]
async fn auto_replies_dropped_with_a_tracking_event_not_bounced() {
    let h = Harness::start(
        "autoreply",
        "[[domain_options]]\npattern = \"strict.test\"\nauto_replies = \"drop\"\n",
    )
    .await;
    let ooo = b"From: fredro@src.test\r\nTo: x@strict.test\r\nSubject: Out of office\r\n\
Auto-Submitted: auto-replied\r\n\r\nI am away.\r\n";
    let legacy =
        b"From: fredro@src.test\r\nSubject: Away\r\nX-Auto-Response-Suppress: All\r\n\r\nAway.\r\n";
    h.send("x@strict.test", ooo);
    h.send("y@strict.test", legacy);
    // The same reply to a domain without the setting goes, and so does ordinary mail.
    h.send("z@open.test", ooo);
    h.send(
        "w@strict.test",
        b"From: fredro@src.test\r\nSubject: real\r\n\r\nhello\r\n",
    );
    let got = h.wait_for(2).await;
    let mut to: Vec<String> = got.iter().flat_map(|m| m.1.clone()).collect();
    to.sort();
    assert_eq!(to, ["w@strict.test", "z@open.test"]);
    // No bounce went back (it would reach the sink from <>).
    assert!(got.iter().all(|m| !m.0.is_empty()));
    let dropped = h.events(EventKind::Dropped);
    let mut why: Vec<(String, String)> = dropped
        .iter()
        .map(|e| {
            (
                e.recipients[0].to_string(),
                e.reason.as_ref().unwrap().to_string(),
            )
        })
        .collect();
    why.sort();
    assert_eq!(
        why,
        [
            (
                "x@strict.test".to_string(),
                "auto-reply: Auto-Submitted: auto-replied".to_string()
            ),
            (
                "y@strict.test".to_string(),
                "auto-reply: X-Auto-Response-Suppress".to_string()
            ),
        ]
    );
    assert!(h.events(EventKind::Failed).is_empty());
    assert!(h.events(EventKind::DsnGenerated).is_empty());
    h.stop().await;
}

#[tokio::test]
async fn mime_types_table_names_uuencoded_files() {
    let h = Harness::start(
        "mimetypes",
        "[[domain]]\npattern = \"old.test\"\ncontent_format = \"uuencode\"\n\
         [[mime_types]]\ntype = \"application/x-report\"\nextension = \"rpt\"\n",
    )
    .await;
    let raw = b"From: a@src.test\r\nSubject: r\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\nSee the report.\r\n\
--q\r\nContent-Type: application/x-report\r\nContent-Transfer-Encoding: base64\r\n\r\nAQID\r\n\
--q\r\nContent-Type: application/msword\r\nContent-Transfer-Encoding: base64\r\n\r\nBAUG\r\n--q--\r\n";
    h.send("b@old.test", raw);
    let got = h.wait_for(1).await;
    let text = String::from_utf8_lossy(&got[0].2).into_owned();
    assert!(text.contains("begin 644 part2.rpt\r\n"), "{text}");
    assert!(text.contains("begin 644 part3.doc\r\n"), "{text}");
    h.stop().await;
}
