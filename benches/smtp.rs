//! SMTP command parsing: postern-smtp beside smtp-proto on the same realistic session.
//!
//! Run with `cargo bench --bench smtp`. Both parsers get the same pipelined buffer of
//! command lines, each ending in CRLF, and do a full parse of every line (verb, path,
//! every parameter). Each side finds its own line ends: postern's `Command::parse_next`
//! parses the command at the front of the buffer and says how many octets it used;
//! smtp-proto's `Request::parse` consumes its iterator up to and including the LF, the
//! way its own tests and `RequestReceiver` call it. `postern-lines` is postern with a
//! separate line reader (memchr for the LF, then `Command::parse` on the line), the shape
//! of these benches up to the fifth round.
//! Throughput is in commands, so criterion's time divided by the command count is the
//! time per command.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group};
use postern_smtp::{Command, Limits};

/// One realistic transaction: EHLO, MAIL with SIZE and BODY, 20 recipients (some with
/// DSN parameters), DATA; then RSET, NOOP, a second short transaction and QUIT.
fn session() -> Vec<u8> {
    let mut s = String::new();
    s.push_str("EHLO mail-relay.client.example.org\r\n");
    s.push_str("MAIL FROM:<bounces+12345-abcd@lists.example.com> SIZE=48213 BODY=8BITMIME\r\n");
    for i in 0..20 {
        match i % 4 {
            0 => s.push_str(&format!(
                "RCPT TO:<user{i}@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;user{i}@example.net\r\n"
            )),
            1 => s.push_str(&format!("RCPT TO:<first.last{i}@mail.example.co.uk>\r\n")),
            2 => s.push_str(&format!("RCPT TO:<recipient-{i}@sub.domain.example>\r\n")),
            _ => s.push_str(&format!("RCPT TO:<Someone.Else{i}@Example.ORG> NOTIFY=NEVER\r\n")),
        }
    }
    s.push_str("DATA\r\n");
    s.push_str("RSET\r\n");
    s.push_str("NOOP\r\n");
    s.push_str("MAIL FROM:<> SIZE=1024\r\n");
    s.push_str("RCPT TO:<postmaster@example.net>\r\n");
    s.push_str("DATA\r\n");
    s.push_str("QUIT\r\n");
    s.into_bytes()
}

/// Parses every command with postern-smtp straight from the buffer
/// (`Command::parse_next` finds each line end as part of the parse, as smtp-proto's
/// `Request::parse` does); returns how many parsed. Each result is looked at in place
/// (`black_box(&result)`), as for smtp-proto below, so that neither side pays for
/// copying its command out of the `Result`.
fn postern_all(buf: &[u8], limits: &Limits) -> usize {
    let mut n = 0;
    let mut rest = buf;
    loop {
        let next = Command::parse_next(rest, limits);
        let Some((result, used)) = &next else { break };
        n += usize::from(result.is_ok());
        black_box(result);
        rest = &rest[*used..];
    }
    n
}

/// The same with a separate line reader: memchr finds each LF and `Command::parse`
/// parses the line (the shape of the benches up to the fifth round).
fn postern_lines(buf: &[u8], limits: &Limits) -> usize {
    let mut n = 0;
    let mut rest = buf;
    while let Some(lf) = memchr::memchr(b'\n', rest) {
        let line = &rest[..lf];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let result = Command::parse(line, limits);
        n += usize::from(result.is_ok());
        black_box(&result);
        rest = &rest[lf + 1..];
    }
    n
}

/// Parses every line with smtp-proto; returns how many parsed.
fn smtp_proto_all(buf: &[u8]) -> usize {
    let mut n = 0;
    let mut it = buf.iter();
    while !it.as_slice().is_empty() {
        let result = smtp_proto::Request::parse(&mut it);
        n += usize::from(result.is_ok());
        black_box(&result);
    }
    n
}

fn commands(c: &mut Criterion) {
    let buf = session();
    let count = buf.iter().filter(|&&b| b == b'\n').count();
    let limits = Limits::default();
    // Both must accept every line, or the comparison is not like for like.
    assert_eq!(postern_all(&buf, &limits), count);
    assert_eq!(postern_lines(&buf, &limits), count);
    assert_eq!(smtp_proto_all(&buf), count);

    let mut g = c.benchmark_group("smtp_commands");
    g.throughput(Throughput::Elements(count as u64));
    g.bench_function("postern", |b| {
        b.iter(|| postern_all(black_box(&buf), &limits))
    });
    g.bench_function("postern-lines", |b| {
        b.iter(|| postern_lines(black_box(&buf), &limits))
    });
    g.bench_function("smtp-proto", |b| b.iter(|| smtp_proto_all(black_box(&buf))));
    g.finish();

    // Single commands, to see where the time goes.
    let mut g = c.benchmark_group("smtp_command");
    g.throughput(Throughput::Elements(1));
    for (name, line) in SINGLES {
        assert_eq!(postern_all(line, &limits), 1);
        assert_eq!(smtp_proto_all(line), 1);
        g.bench_function(format!("postern/{name}"), |b| {
            b.iter(|| postern_all(black_box(line), &limits))
        });
        g.bench_function(format!("smtp-proto/{name}"), |b| {
            b.iter(|| smtp_proto_all(black_box(line)))
        });
    }
    g.finish();
}

/// The single command lines of the `smtp_command` group.
const SINGLES: [(&str, &[u8]); 4] = [
    ("ehlo", b"EHLO mail-relay.client.example.org\r\n"),
    (
        "mail",
        b"MAIL FROM:<bounces+12345-abcd@lists.example.com> SIZE=48213 BODY=8BITMIME\r\n",
    ),
    (
        "rcpt_dsn",
        b"RCPT TO:<user0@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;user0@example.net\r\n",
    ),
    ("rcpt", b"RCPT TO:<first.last1@mail.example.co.uk>\r\n"),
];

/// `POSTERN_CALLGRIND=SIDE/WHAT:N` runs one workload N times and exits, for instruction
/// counts that a loaded machine does not move: run it under `valgrind --tool=callgrind`
/// at two N and divide the difference by the difference of N, so set-up cancels out.
/// SIDE is `postern` (`Command::parse_next`), `postern-lines` (memchr, then
/// `Command::parse`) or `smtp-proto`; WHAT is `mix` (the 29-command session) or one of
/// the single lines (`ehlo`, `mail`, `rcpt_dsn`, `rcpt`).
fn callgrind(spec: &str) {
    let (work, n) = spec.split_once(':').expect("SIDE/WHAT:N");
    let n: usize = n.parse().expect("N");
    let (side, what) = work.split_once('/').expect("SIDE/WHAT");
    let buf = match what {
        "mix" => session(),
        w => SINGLES
            .iter()
            .find(|s| s.0 == w)
            .expect("known line")
            .1
            .to_vec(),
    };
    let limits = Limits::default();
    let mut total = 0;
    for _ in 0..n {
        total += match side {
            "postern" => postern_all(black_box(&buf), &limits),
            "postern-lines" => postern_lines(black_box(&buf), &limits),
            "smtp-proto" => smtp_proto_all(black_box(&buf)),
            _ => panic!("SIDE is postern, postern-lines or smtp-proto"),
        };
    }
    println!("{total} commands parsed");
}

criterion_group!(benches, commands);

fn main() {
    if let Ok(spec) = std::env::var("POSTERN_CALLGRIND") {
        return callgrind(&spec);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
