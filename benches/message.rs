//! Message parsing: postern-message beside mail-parser 0.11, doing the same work.
//!
//! Both parse each message, then read every header's decoded value (structured headers
//! through their parsers: addresses, dates, message ids, content types — what
//! mail-parser's default parser does eagerly) and every leaf part's decoded content
//! (text parts as charset-decoded text, others as transfer-decoded bytes), recursing
//! into nested messages. A lazy parser cannot win by skipping work.
//!
//! Inputs: the SpamAssassin corpus when `POSTERN_SPAM_CORPUS` names its directory (every
//! file under it), else `../shared/corpus/mail-parser-eml`; and a synthetic 10 MB
//! multipart message with text, HTML and base64 attachments.
//!
//! Run: `cargo bench --bench message` (or with `POSTERN_SPAM_CORPUS=/path/to/data`).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn collect(dir: &Path, out: &mut Vec<Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "eml" || e == "txt")
            && !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("LICENSE"))
        {
            out.push(std::fs::read(&p).expect("read corpus file"));
        }
    }
}

fn corpus() -> (String, Vec<Vec<u8>>) {
    let dir = match std::env::var_os("POSTERN_SPAM_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/mail-parser-eml"),
    };
    let mut out = Vec::new();
    collect(&dir, &mut out);
    assert!(!out.is_empty(), "no messages under {}", dir.display());
    (dir.display().to_string(), out)
}

/// A ~10 MB multipart/mixed message: QP text and HTML, four base64 attachments.
fn synthetic() -> Vec<u8> {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut m = b"From: Sender <sender@example.org>\r\nTo: a@example.org, B <b@example.org>\r\n\
Subject: =?utf-8?q?Synthetic_r=C3=A9port?=\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <synthetic@example.org>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"=_outer\"\r\n\r\n"
        .to_vec();
    let words = [
        "lorem", "ipsum", "dolor", "sit", "amet", "café", "naïve", "=", "résumé", "over",
    ];
    let mut text = String::new();
    while text.len() < 400_000 {
        text.push_str(words[(rand() % words.len() as u64) as usize]);
        text.push(if rand() % 12 == 0 { '\n' } else { ' ' });
    }
    for (ct, body) in [
        ("text/plain", text.clone()),
        ("text/html", format!("<p>{text}</p>")),
    ] {
        m.extend_from_slice(format!("--=_outer\r\nContent-Type: {ct}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n").as_bytes());
        let mut col = 0;
        for b in body.bytes() {
            if b == b'\n' {
                m.extend_from_slice(b"\r\n");
                col = 0;
                continue;
            }
            if col > 72 {
                m.extend_from_slice(b"=\r\n");
                col = 0;
            }
            if (b' '..=b'~').contains(&b) && b != b'=' {
                m.push(b);
                col += 1;
            } else {
                m.extend_from_slice(format!("={b:02X}").as_bytes());
                col += 3;
            }
        }
        m.extend_from_slice(b"\r\n");
    }
    for i in 0..4 {
        let data: Vec<u8> = (0..1_650_000).map(|_| rand() as u8).collect();
        let b64 = base64_encode(&data);
        m.extend_from_slice(format!("--=_outer\r\nContent-Type: application/octet-stream; name=\"file{i}.bin\"\r\nContent-Disposition: attachment; filename=\"file{i}.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n").as_bytes());
        for line in b64.as_bytes().chunks(76) {
            m.extend_from_slice(line);
            m.extend_from_slice(b"\r\n");
        }
    }
    m.extend_from_slice(b"--=_outer--\r\n");
    m
}

/// Standard base64 with padding (the root package has no base64 dependency).
fn base64_encode(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let v = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(A[(v >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// postern: parse, then read every header and every leaf's decoded content.
fn postern_work(raw: &[u8]) -> usize {
    use postern_message::{ContentDisposition, ContentType, Message, PartKind};
    let msg = Message::parse(raw);
    let mut n = 0;
    for part in msg.parts() {
        // The part's Content-Type was parsed while parsing the tree: reading it is free,
        // as mail-parser's eagerly parsed one is.
        let mut content_type_seen = false;
        for h in part.headers() {
            let name = h.name();
            n += if ["from", "to", "cc", "bcc", "reply-to", "sender"]
                .iter()
                .any(|k| name.eq_ignore_ascii_case(k))
            {
                h.addresses().entries.len()
            } else if name.eq_ignore_ascii_case("date") {
                usize::from(h.date().is_some())
            } else if ["message-id", "references", "in-reply-to"]
                .iter()
                .any(|k| name.eq_ignore_ascii_case(k))
            {
                h.message_ids().len()
            } else if name.eq_ignore_ascii_case("content-type") && !content_type_seen {
                content_type_seen = true;
                part.content_type().params.len()
            } else if name.eq_ignore_ascii_case("content-type") {
                ContentType::parse(h.raw_value()).map_or(0, |c| c.params.len())
            } else if name.eq_ignore_ascii_case("content-disposition") {
                ContentDisposition::parse(h.raw_value()).params.len()
            } else {
                h.value().len()
            };
        }
        if matches!(part.kind(), PartKind::Leaf) {
            n += match part.text() {
                Some(t) => t.len(),
                None => part.decoded_body().len(),
            };
        }
    }
    n
}

/// mail-parser: parse (headers and bodies are decoded eagerly), then read them all.
fn mail_parser_work(parser: &mail_parser::MessageParser, raw: &[u8]) -> usize {
    fn visit(msg: &mail_parser::Message<'_>) -> usize {
        use mail_parser::PartType;
        let mut n = 0;
        for part in &msg.parts {
            for h in &part.headers {
                n += usize::from(!matches!(
                    black_box(&h.value),
                    mail_parser::HeaderValue::Empty
                ));
            }
            n += match &part.body {
                PartType::Text(t) | PartType::Html(t) => t.len(),
                PartType::Binary(b) | PartType::InlineBinary(b) => b.len(),
                PartType::Message(inner) => visit(inner),
                PartType::Multipart(_) => 0,
            };
        }
        n
    }
    parser.parse(raw).map_or(0, |m| visit(&m))
}

fn bench_set(c: &mut Criterion, name: &str, messages: &[Vec<u8>]) {
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let parser = mail_parser::MessageParser::default();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("postern", |b| {
        b.iter(|| {
            messages
                .iter()
                .map(|m| postern_work(black_box(m)))
                .sum::<usize>()
        })
    });
    group.bench_function("mail-parser", |b| {
        b.iter(|| {
            messages
                .iter()
                .map(|m| mail_parser_work(&parser, black_box(m)))
                .sum::<usize>()
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let (dir, messages) = corpus();
    eprintln!(
        "corpus: {} messages, {} bytes from {dir}",
        messages.len(),
        messages.iter().map(Vec::len).sum::<usize>()
    );
    bench_set(c, "corpus", &messages);
    let big = synthetic();
    eprintln!("synthetic: {} bytes", big.len());
    bench_set(c, "synthetic_10mb", std::slice::from_ref(&big));
}

criterion_group!(message, benches);
criterion_main!(message);
