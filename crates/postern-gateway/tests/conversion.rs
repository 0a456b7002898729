//! Outbound content conversion judged by the recipient's own means (issue 22 items 1, 2
//! and 6): GNU `uudecode` for uuencode domains, Python's `email` package for MIME.
//!
//! * End to end: a gateway delivers through a smart host to an in-test recording SMTP
//!   sink (with or without 8BITMIME); what the sink received is handed to the judges.
//! * A property test: for any message (8-bit text in many scripts, binary attachments,
//!   a text attachment with bare LFs, a UTF-16 text part) and any domain settings
//!   (MIME or uuencode, MIME and non-MIME charsets, the unrepresentable rule, a peer
//!   with or without 8BITMIME), every attachment decodes to the same octets, and text
//!   kept under the `keep` rule reads the same.
//!
//! Both judges must be installed (`apt-get install sharutils python3`): a test that
//! skipped itself could not fail.

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postern_gateway::outbound::content::{for_domain, for_peer};
use postern_gateway::{Config, Gateway};
use postern_queue::Envelope;
use postern_route::{ContentFormat, DomainSettings, Unrepresentable};
use postern_smtp::ReversePath;
use postern_smtp::server::{Event, ServerConfig, ServerSession};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

// ---- the judges -----------------------------------------------------------------------

/// The files GNU `uudecode` writes from `body` (name → content), run in a fresh
/// directory. GNU uudecode decodes the first block of its input, so the body is cut
/// before each `begin` line and each piece given to it, as a recipient would.
fn uudecode(body: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let dir = common::temp_dir("conversion", "uu");
    std::fs::create_dir_all(&dir).unwrap();
    let mut starts: Vec<usize> = body
        .split_inclusive(|&b| b == b'\n')
        .scan(0, |at, line| {
            let start = *at;
            *at += line.len();
            Some((start, line))
        })
        .filter(|(_, line)| line.starts_with(b"begin "))
        .map(|(start, _)| start)
        .collect();
    starts.push(body.len());
    for (n, w) in starts.windows(2).enumerate() {
        let piece = format!("piece-{n}.txt");
        std::fs::write(dir.join(&piece), &body[w[0]..w[1]]).unwrap();
        let out = Command::new("uudecode")
            .arg(&piece)
            .current_dir(&dir)
            .output()
            .expect("GNU uudecode is needed (apt-get install sharutils)");
        assert!(
            out.status.success(),
            "uudecode failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(body)
        );
        std::fs::remove_file(dir.join(&piece)).unwrap();
    }
    let files = read_dir(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    files
}

fn read_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// One leaf as Python's `email` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PyPart {
    filename: String,
    content_type: String,
    charset: String,
    /// `get_payload(decode=True)`.
    payload: Vec<u8>,
    /// `get_content()` for text parts (decoded in the declared charset), if it works.
    text: Option<String>,
}

const PY_JUDGE: &str = r#"
import sys, email, email.policy
m = email.message_from_binary_file(sys.stdin.buffer, policy=email.policy.default)
for p in m.walk():
    if p.is_multipart():
        continue
    text = ""
    if p.get_content_maintype() == "text":
        try:
            text = p.get_content().encode("utf-8").hex()
        except Exception:
            text = "-"
    print("\t".join([
        (p.get_filename() or "").encode("utf-8").hex(),
        p.get_content_type(),
        p.get_content_charset() or "",
        (p.get_payload(decode=True) or b"").hex(),
        text or "",
    ]))
"#;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Every leaf of `body` as Python's `email` package decodes it.
fn python_parts(body: &[u8]) -> Vec<PyPart> {
    let mut child = Command::new("python3")
        .args(["-c", PY_JUDGE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python email failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            PyPart {
                filename: String::from_utf8(unhex(f[0])).unwrap(),
                content_type: f[1].to_string(),
                charset: f[2].to_string(),
                payload: unhex(f[3]),
                text: match f.get(4) {
                    Some(&"-") | None => None,
                    Some(t) => Some(String::from_utf8(unhex(t)).unwrap()),
                },
            }
        })
        .collect()
}

// ---- messages -------------------------------------------------------------------------

/// A message to convert, and what its recipient must get.
#[derive(Debug, Clone)]
struct Sample {
    text: String,
    /// (file name, octets), sent base64.
    files: Vec<(String, Vec<u8>)>,
    /// A text/plain attachment (bare LF line ends) `notes.txt`, sent 8bit.
    notes: Option<Vec<u8>>,
    /// An inline UTF-16LE text part, sent 8bit as some senders do (NULs and all).
    utf16: Option<String>,
}

impl Sample {
    fn raw(&self) -> Vec<u8> {
        let mut m =
            b"From: a@src.test\r\nTo: b@dst.test\r\nSubject: files\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"=-=sample=-=\"\r\n\r\n--=-=sample=-=\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                .to_vec();
        m.extend_from_slice(self.text.replace('\n', "\r\n").as_bytes());
        m.extend_from_slice(b"\r\n");
        if let Some(t) = &self.utf16 {
            m.extend_from_slice(
                b"--=-=sample=-=\r\nContent-Type: text/plain; charset=utf-16le\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\n",
            );
            m.extend(t.encode_utf16().flat_map(u16::to_le_bytes));
            m.extend_from_slice(b"\r\n");
        }
        if let Some(n) = &self.notes {
            m.extend_from_slice(
                b"--=-=sample=-=\r\nContent-Type: text/plain; charset=us-ascii\r\n\
Content-Disposition: attachment; filename=\"notes.txt\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
            );
            m.extend_from_slice(n);
            m.extend_from_slice(b"\r\n");
        }
        for (name, data) in &self.files {
            m.extend_from_slice(
                format!(
                    "--=-=sample=-=\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\n\
Content-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                )
                .as_bytes(),
            );
            let mut b64 = Vec::new();
            postern_message::encode::base64_encode(
                data,
                postern_message::encode::LineEnding::Crlf,
                &mut b64,
            );
            m.extend_from_slice(&b64);
        }
        m.extend_from_slice(b"--=-=sample=-=--\r\n");
        m
    }

    /// The attachments the recipient must be able to save, by name.
    fn attachments(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out: BTreeMap<String, Vec<u8>> = self.files.iter().cloned().collect();
        if let Some(n) = &self.notes {
            out.insert("notes.txt".into(), n.clone());
        }
        out
    }
}

/// Judges what a recipient under `settings` got: every attachment decodes to the same
/// octets; with the `keep` rule MIME text reads the same (line ends aside); nothing is
/// 8-bit for a peer without 8BITMIME.
fn judge(sample: &Sample, settings: &DomainSettings, peer_8bit: bool, got: &[u8]) {
    if !peer_8bit {
        assert!(got.is_ascii(), "8-bit octets for a 7-bit peer");
    }
    if settings.content_format == ContentFormat::Uuencode {
        assert!(
            !String::from_utf8_lossy(got).contains("quoted-printable"),
            "a uuencode body was QP-encoded"
        );
        assert_eq!(uudecode(got), sample.attachments(), "uudecode's files");
        return;
    }
    let parts = python_parts(got);
    let files: BTreeMap<String, Vec<u8>> = parts
        .iter()
        .filter(|p| !p.filename.is_empty())
        .map(|p| (p.filename.clone(), p.payload.clone()))
        .collect();
    assert_eq!(files, sample.attachments(), "python's attachments");
    let texts: Vec<&PyPart> = parts.iter().filter(|p| p.filename.is_empty()).collect();
    assert_eq!(texts.len(), 1 + usize::from(sample.utf16.is_some()));
    for (i, p) in texts.iter().enumerate() {
        // A text in some charset is never declared as another: Python's decoding in the
        // declared charset would then fail (or, with `keep`, differ).
        let Some(read) = &p.text else {
            panic!("python could not read {p:?}");
        };
        if settings.unrepresentable == Unrepresentable::Keep {
            let want = if i == 0 {
                &sample.text
            } else {
                sample.utf16.as_ref().unwrap()
            };
            let read = read.replace("\r\n", "\n");
            assert_eq!(read.trim_end_matches('\n'), want.trim_end_matches('\n'));
        }
    }
    if let Some(t) = &sample.utf16 {
        // A UTF-16 part that kept its charset keeps every octet (no CR slipped in).
        if let Some(p) = texts.iter().find(|p| p.charset.starts_with("utf-16")) {
            let want: Vec<u8> = t.encode_utf16().flat_map(u16::to_le_bytes).collect();
            assert_eq!(p.payload, want, "UTF-16 octets");
        }
    }
}

fn convert(raw: &[u8], settings: &DomainSettings, peer_8bit: bool) -> Vec<u8> {
    let body = for_domain(raw, settings);
    for_peer(&body, peer_8bit, settings.content_format)
        .0
        .into_owned()
}

// ---- property test ----------------------------------------------------------------------

const CHARSETS: &[&str] = &[
    "us-ascii",
    "iso-8859-1",
    "iso-8859-15",
    "windows-1252",
    "utf-8",
    "koi8-r",
    "shift_jis",
];

fn settings() -> impl Strategy<Value = DomainSettings> {
    (
        prop_oneof![Just(ContentFormat::Mime), Just(ContentFormat::Uuencode)],
        proptest::sample::select(CHARSETS),
        proptest::sample::select(CHARSETS),
        prop_oneof![
            Just(Unrepresentable::Keep),
            Just(Unrepresentable::Replace),
            Just(Unrepresentable::Transliterate)
        ],
    )
        .prop_map(|(format, charset, non_mime, rule)| DomainSettings {
            content_format: format,
            charset: charset.into(),
            non_mime_charset: non_mime.into(),
            unrepresentable: rule,
            ..DomainSettings::default()
        })
}

fn sample() -> impl Strategy<Value = Sample> {
    (
        "([a-zA-Z =.,]|é|ß|ü|€|—|日本|Привет|\n){1,80}",
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1500), 0..3),
        proptest::option::of("([ -~]|\n){1,200}"),
        proptest::option::of("([a-z ]|é|日|\n){1,40}"),
    )
        .prop_map(|(text, blobs, notes, utf16)| Sample {
            text,
            files: blobs
                .into_iter()
                .enumerate()
                .map(|(i, b)| (format!("f{i}.bin"), b))
                .collect(),
            // A text file with Unix line ends, ending in one.
            notes: notes.map(|n| format!("{n}\n").into_bytes()),
            utf16,
        })
        .prop_filter("something to convert", |s| {
            !s.files.is_empty() || s.notes.is_some() || s.utf16.is_some()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn every_attachment_decodes_to_the_same_bytes(
        s in sample(),
        settings in settings(),
        peer_8bit in any::<bool>(),
    ) {
        let got = convert(&s.raw(), &settings, peer_8bit);
        judge(&s, &settings, peer_8bit, &got);
    }
}

// ---- end to end through a gateway -----------------------------------------------------

/// What a recording sink received: sender, body.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A recording SMTP sink on 127.0.0.1 that accepts everything; `eight_bit` false hides
/// 8BITMIME from its EHLO reply.
async fn sink(eight_bit: bool) -> (SocketAddr, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received: Received = Arc::default();
    let rec = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(serve(sock, Arc::clone(&rec), eight_bit));
        }
    });
    (addr, received)
}

async fn serve(mut sock: tokio::net::TcpStream, rec: Received, eight_bit: bool) {
    let mut session = ServerSession::new(ServerConfig::new("sink.test"));
    session.greet();
    let mut buf = vec![0u8; 16 * 1024];
    let mut body = Vec::new();
    let mut from = String::new();
    loop {
        let out = session.pending_output().to_vec();
        if !out.is_empty() {
            let mut text = String::from_utf8_lossy(&out).into_owned();
            if !eight_bit {
                text = text
                    .replace("250-8BITMIME\r\n", "")
                    .replace("250 8BITMIME\r\n", "250 OK\r\n");
            }
            if sock.write_all(text.as_bytes()).await.is_err() {
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
                    body.clear();
                }
                Event::DataChunk(b) => body.extend_from_slice(b),
                Event::MessageEnd { .. } => {
                    rec.lock().unwrap().push((from.clone(), body.clone()));
                }
                _ => {}
            }
            if session.pending_decision().is_some() {
                let _ = session.accept();
            }
        }
    }
}

/// Starts a gateway relaying everything to `sink` with these `[[domain]]` settings for
/// `dst.test`, hands it `raw`, and returns what the sink got.
async fn deliver(tag: &str, eight_bit: bool, domain: &str, raw: &[u8]) -> Vec<u8> {
    let (addr, received) = sink(eight_bit).await;
    let dir = common::temp_dir("conversion", tag);
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!(
        "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n\
         [timeouts]\nconnect_secs = 2\ngreeting_secs = 5\ncommand_secs = 5\n\
         [retry]\nintervals = [\"1s\"]\n\
         [[connector]]\nname = \"relay\"\nkind = \"smtp\"\nsmart_hosts = [\"[{}]:{}\"]\n\
         [[connector.address_space]]\npattern = \"*\"\ncost = 1\n\
         [[domain]]\npattern = \"dst.test\"\n{domain}\n",
        dir.display(),
        addr.ip(),
        addr.port()
    );
    let gw = Gateway::start(Config::from_toml_str(&text).unwrap())
        .await
        .unwrap();
    let ctx = gw.context().clone();
    let now = ctx.now();
    let env = Envelope::new("a@src.test", ["b@dst.test"], now);
    ctx.queue.local().unwrap().enqueue(&env, raw, now).unwrap();
    ctx.wake.notify_one();
    let deadline = Instant::now() + Duration::from_secs(15);
    let body = loop {
        if let Some((_, b)) = received.lock().unwrap().first() {
            break b.clone();
        }
        assert!(Instant::now() < deadline, "nothing delivered to the sink");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    drop(ctx);
    gw.shutdown(Duration::from_secs(5)).await;
    let _ = std::fs::remove_dir_all(&dir);
    body
}

fn grusse(text: &str) -> Sample {
    Sample {
        text: text.into(),
        files: vec![("data.bin".into(), (0..=255u8).cycle().take(3000).collect())],
        notes: None,
        utf16: None,
    }
}

fn uuencode_settings() -> DomainSettings {
    DomainSettings {
        content_format: ContentFormat::Uuencode,
        ..DomainSettings::default()
    }
}

#[tokio::test]
async fn uuencode_domain_with_8bit_text_and_8bitmime_peer() {
    let s = grusse("Grüße aus Köln\nZeile zwei\n");
    let domain = "content_format = \"uuencode\"\nnon_mime_charset = \"iso-8859-1\"\n";
    let got = deliver("uu8", true, domain, &s.raw()).await;
    // The text in the non-MIME charset, 8-bit as it is; the block decodes the same.
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("charset=iso-8859-1"), "{text}");
    assert!(got.windows(9).any(|w| w == b"Gr\xfc\xdfe aus"), "{text}");
    judge(&s, &uuencode_settings(), true, &got);
    // Characters Latin-1 lacks, under the default keep rule: the text goes as UTF-8,
    // declared so; the blocks are the same.
    let s = grusse("Grüße — 5 € 日本\n");
    let got = deliver("uu8-keep", true, domain, &s.raw()).await;
    assert!(String::from_utf8_lossy(&got).contains("charset=utf-8"));
    assert!(String::from_utf8_lossy(&got).contains("Grüße — 5 € 日本\r\n"));
    judge(&s, &uuencode_settings(), true, &got);
}

#[tokio::test]
async fn uuencode_domain_with_8bit_text_and_7bit_peer() {
    let s = grusse("Grüße aus Köln — 5 € 日本\nZeile zwei\n");
    let domain = "content_format = \"uuencode\"\n";
    let got = deliver("uu7", false, domain, &s.raw()).await;
    // No 8BITMIME: the text is transliterated, the block copied, nothing QP-encoded.
    assert!(got.is_ascii());
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("Grusse aus Koln -- 5 EUR ??\r\n"), "{text}");
    judge(&s, &uuencode_settings(), false, &got);
}

#[tokio::test]
async fn us_ascii_domain_replaces_and_says_so() {
    let raw = b"From: a@src.test\r\nTo: b@dst.test\r\nSubject: c\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCaf\xc3\xa9 5 \xe2\x82\xac\r\n";
    let got = deliver(
        "ascii-replace",
        true,
        "charset = \"us-ascii\"\nunrepresentable = \"replace\"\n",
        raw,
    )
    .await;
    let parts = python_parts(&got);
    assert_eq!(parts[0].charset, "us-ascii");
    assert_eq!(parts[0].text.as_deref(), Some("Caf? 5 ?\n"));
    // keep (the default): still UTF-8, and declared so.
    let got = deliver("ascii-keep", true, "charset = \"us-ascii\"\n", raw).await;
    let parts = python_parts(&got);
    assert_eq!(parts[0].charset, "utf-8");
    assert_eq!(parts[0].text.as_deref(), Some("Café 5 €\n"));
}

#[tokio::test]
async fn seven_bit_peer_gets_utf16_and_text_files_octet_for_octet() {
    let s = Sample {
        text: "hello\n".into(),
        files: vec![("zero.bin".into(), vec![0, b'\n', b'\r', 0xff])],
        notes: Some(b"line one\nline two\n".to_vec()),
        utf16: Some("e\nUTF-16 text\n".into()),
    };
    let domain = "charset = \"utf-8\"\n";
    let got = deliver("utf16", false, domain, &s.raw()).await;
    let settings = DomainSettings {
        charset: "utf-8".into(),
        ..DomainSettings::default()
    };
    judge(&s, &settings, false, &got);
    let parts = python_parts(&got);
    let utf16 = parts.iter().find(|p| p.charset == "utf-16le").unwrap();
    assert_eq!(utf16.payload.len(), 2 * "e\nUTF-16 text\n".len());
    assert!(String::from_utf8_lossy(&got).contains("Content-Transfer-Encoding: base64"));
}
