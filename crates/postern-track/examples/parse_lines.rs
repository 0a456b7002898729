//! A callgrind driver for the tracking-log line parser: formats a fixed set of realistic
//! events into lines once, then parses every line `ROUNDS` times (full parse, the raw
//! split a scan uses, and a recipient test), so `valgrind --tool=callgrind` counts the
//! parser's instructions and little else.
//!
//! ```text
//! cargo build --release -p postern-track --example parse_lines
//! valgrind --tool=callgrind target/release/examples/parse_lines
//! ```

use std::hint::black_box;

use postern_track::{Event, EventKind, LineView, Timestamp, format_line, parse_line};

/// Lines formatted.
const LINES: u64 = 2_000;
/// Passes over them.
const ROUNDS: usize = 20;

/// Five events of message `n`, in the shapes the gateway writes (as `benches/track.rs`),
/// with an escaped subject and reply on some.
fn events(n: u64) -> Vec<Event> {
    let t0 = Timestamp::parse(b"2026-11-01T00:00:00Z")
        .unwrap()
        .saturating_add_ms(n as i64 * 997);
    let qid = format!("{:012X}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16);
    let mid = format!("<{n}.{:x}@mail.example.org>", n.wrapping_mul(2_654_435_761));
    let rcpt = format!("rcpt{}@dest{}.example.net", n % 7919, n % 97);
    let ev = |k| {
        Event::new(t0, k)
            .queue_id(qid.as_str())
            .message_id(mid.as_str())
    };
    vec![
        ev(EventKind::Received)
            .sender(format!("user{}@example.org", n % 5000))
            .recipient(rcpt.as_str())
            .recipient(format!("\"a,b\"@x{n}.example"))
            .size(2000 + n % 50_000)
            .subject(format!("Report {n}\tweekly, \u{e9}t\u{e9}"))
            .remote_host("client.example.org")
            .remote_ip("192.0.2.10".parse().unwrap()),
        ev(EventKind::Routed)
            .recipient(rcpt.as_str())
            .connector("internet"),
        ev(EventKind::Queued).recipient(rcpt.as_str()),
        ev(EventKind::Sent)
            .recipient(rcpt.as_str())
            .remote_host(format!("mx.dest{}.example.net", n % 97))
            .remote_ip("2001:db8::25".parse().unwrap())
            .attempt(1)
            .dsn_status("2.0.0")
            .reply("250 2.0.0 Ok: queued as\r\nX"),
        ev(EventKind::Archived).reason("journal"),
    ]
}

fn main() {
    let mut text = Vec::new();
    for n in 0..LINES / 5 {
        for e in events(n) {
            format_line(&e, &mut text);
        }
    }
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let (mut parsed, mut hits) = (0usize, 0usize);
    for _ in 0..ROUNDS {
        for line in &lines {
            let ev = parse_line(black_box(line)).expect("formatted lines parse");
            parsed += ev.recipients.len();
            let view = LineView::split(black_box(line)).unwrap();
            if view
                .any_recipient(|r| r.eq_ignore_ascii_case(b"RCPT7@DEST7.EXAMPLE.NET"))
                .unwrap()
            {
                hits += 1;
            }
        }
    }
    println!(
        "{} lines x {ROUNDS}: {parsed} recipients, {hits} hits",
        lines.len()
    );
}
