//! Message tracking: events appended per second, and message-id lookups over a generated
//! 10-million-event log, with and without the per-day index, beside GNU `grep -F`.
//!
//! Run with `cargo bench --bench track`. The log (ten UTC days of a busy gateway, one
//! million events a day, five events per message) is generated once into
//! `$TMPDIR/postern-track-bench-10m/` through the real [`Writer`] and reused by later runs
//! (delete the directory to regenerate; set `POSTERN_TRACK_BENCH_EVENTS` for another
//! size). Generation and index-building times are printed, not measured by criterion.
//!
//! * `append`: events through `Writer::record` (queue blocking when full, so nothing is
//!   dropped) until `flush` returns — the rate at which the writer thread formats and
//!   writes; throughput in events.
//! * `lookup/indexed`: `Reader::search` by message-id over all ten days, indexes present.
//! * `lookup/scan`: the same with `IndexMode::Off`: a memmem pass over every file's bytes;
//!   throughput in bytes, so criterion shows the scan speed.
//! * `lookup/grep -F`: GNU grep over the same files for the same needle (the peer).
//! * `trace/indexed`: the whole life of one message, through the indexes.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use postern_track::{
    Event, EventKind, Filter, IndexMode, ManualClock, Overflow, Reader, Timestamp, Writer,
    WriterConfig,
};

const DAYS: u64 = 10;
const PER_MESSAGE: u64 = 5;

fn start() -> Timestamp {
    Timestamp::parse(b"2026-11-01T00:00:00Z").unwrap()
}

/// The events of message `n`, spread evenly over the days.
fn message_events(n: u64, messages: u64) -> [Event; PER_MESSAGE as usize] {
    let span = DAYS as i64 * 86_400_000 - 10_000;
    let t0 = start().saturating_add_ms(span * n as i64 / messages as i64);
    let at = |ms| t0.saturating_add_ms(ms);
    let qid = format!("{:012X}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16);
    let mid = format!("<{n}.{:x}@mail.example.org>", n.wrapping_mul(2_654_435_761));
    let sender = format!("user{}@example.org", n % 5000);
    let rcpt = format!("rcpt{}@dest{}.example.net", n % 7919, n % 97);
    let ev = |ms, k| {
        Event::new(at(ms), k)
            .queue_id(qid.as_str())
            .message_id(mid.as_str())
    };
    [
        ev(0, EventKind::Received)
            .sender(sender.as_str())
            .recipient(rcpt.as_str())
            .size(2000 + n % 50_000)
            .remote_host("client.example.org")
            .remote_ip("192.0.2.10".parse().unwrap()),
        ev(1, EventKind::Routed)
            .recipient(rcpt.as_str())
            .connector("internet"),
        ev(2, EventKind::Queued).recipient(rcpt.as_str()),
        ev(900, EventKind::Sent)
            .recipient(rcpt.as_str())
            .remote_host(format!("mx.dest{}.example.net", n % 97))
            .attempt(1)
            .dsn_status("2.0.0")
            .reply("250 2.0.0 Ok: queued"),
        ev(901, EventKind::Archived).reason("journal"),
    ]
}

fn writer(dir: &Path) -> Writer {
    let mut cfg = WriterConfig::new(dir);
    cfg.overflow = Overflow::Block;
    cfg.queue_capacity = 65_536;
    cfg.retention.max_age_days = None;
    cfg.retention.max_total_bytes = None;
    Writer::with_clock(cfg, ManualClock::new(start())).unwrap()
}

/// Generates the big log once (reused across runs), and builds its indexes.
fn big_log() -> (PathBuf, u64, u64) {
    let events: u64 = std::env::var("POSTERN_TRACK_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let messages = events / PER_MESSAGE;
    let dir = std::env::temp_dir().join(format!("postern-track-bench-{}m", events / 1_000_000));
    let done = dir.join("GENERATED");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let t = Instant::now();
        let w = writer(&dir);
        for n in 0..messages {
            for ev in message_events(n, messages) {
                w.record(ev).unwrap();
            }
        }
        let stats = w.shutdown().unwrap();
        let secs = t.elapsed().as_secs_f64();
        eprintln!(
            "generated {} events in {secs:.1} s ({:.0} events/s)",
            stats.written,
            stats.written as f64 / secs
        );
        let t = Instant::now();
        Reader::new(&dir).build_indexes().unwrap();
        eprintln!("built indexes in {:.1} s", t.elapsed().as_secs_f64());
        std::fs::write(&done, b"").unwrap();
    }
    let bytes: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    eprintln!("log: {events} events, {bytes} bytes in {}", dir.display());
    (dir, messages, bytes)
}

fn append(c: &mut Criterion) {
    let dir =
        std::env::temp_dir().join(format!("postern-track-bench-append-{}", std::process::id()));
    let w = writer(&dir);
    let batch: Vec<Event> = (0..20_000)
        .flat_map(|n| message_events(n, 20_000))
        .collect();
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("record+flush", |b| {
        b.iter_batched(
            || batch.clone(),
            |evs| {
                for ev in evs {
                    w.record(ev).unwrap();
                }
                w.flush().unwrap();
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
    w.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

fn lookup(c: &mut Criterion) {
    let (dir, messages, bytes) = big_log();
    // A message in the middle of the sixth day.
    let n = messages * 11 / 20;
    let mid = message_events(n, messages)[0].message_id.clone().unwrap();
    let indexed = Reader::new(&dir);
    let scan = Reader::new(&dir).index_mode(IndexMode::Off);
    let filter = Filter::new().message_id(mid.clone());
    assert_eq!(
        indexed.search(&filter).unwrap().events.len(),
        PER_MESSAGE as usize
    );
    assert_eq!(
        scan.search(&filter).unwrap().events.len(),
        PER_MESSAGE as usize
    );

    let mut g = c.benchmark_group("lookup");
    g.bench_function("indexed", |b| {
        b.iter(|| black_box(indexed.search(&filter).unwrap()))
    });
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("scan", |b| {
        b.iter(|| black_box(scan.search(&filter).unwrap()))
    });
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    let needle = mid.to_string();
    let grep_ok = std::process::Command::new("grep")
        .arg("--version")
        .output()
        .is_ok();
    if grep_ok {
        g.bench_function("grep -F", |b| {
            b.iter(|| {
                let out = std::process::Command::new("grep")
                    .env("LC_ALL", "C")
                    .arg("-F")
                    .arg("-h")
                    .arg(&needle)
                    .args(&logs)
                    .output()
                    .unwrap();
                assert_eq!(
                    out.stdout.iter().filter(|&&b| b == b'\n').count(),
                    PER_MESSAGE as usize
                );
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("trace");
    g.bench_function("indexed", |b| {
        b.iter(|| black_box(indexed.trace(mid.clone()).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, append, lookup);
criterion_main!(benches);
