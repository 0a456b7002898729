//! postern-queue benches.
//!
//! * `spool_enqueue_10_writers`: durable enqueues per second from 10 concurrent writers,
//!   postern's group-committed spool beside the naive one-file-per-message spool (create,
//!   write, fsync, rename, fsync the directory) on the same disk, in the same run. Every
//!   enqueue is durable before it returns in both.
//! * `scheduler_1m`: insert and pop-due with one million jobs queued.
//! * `recovery_100k`: opening a queue of 100,000 messages (reading the spool, rebuilding the
//!   schedule).
//! * Memory per queued recipient is printed (resident-set growth; Linux `/proc`).
//!
//! Run: `cargo bench --bench queue` (or `scripts/bench-queue.sh`). Spools go under
//! `target/queue-bench/` and are removed afterwards.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use postern::queue::{
    Envelope, Queue, QueueConfig, QueueId, Scheduler, Spool, SpoolOptions, Timestamp,
};

const WRITERS: u64 = 10;
const BODY: usize = 4096;

fn bench_root() -> PathBuf {
    let root = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("queue-bench");
    fs::create_dir_all(&root).unwrap();
    root
}

fn fresh(name: &str) -> PathBuf {
    let d = bench_root().join(name);
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn envelope() -> Envelope {
    Envelope::new(
        "sender@example.org",
        ["alice@example.com", "bob@example.net"],
        Timestamp(1),
    )
}

fn body() -> Vec<u8> {
    (0..BODY)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz\r\n"[i % 28])
        .collect()
}

/// The naive spool: one file per message, durable before return.
fn naive_enqueue(dir: &Path, n: u64, payload: &[u8]) {
    let tmp = dir.join(format!("tmp.{n}"));
    let mut f = File::create(&tmp).unwrap();
    f.write_all(payload).unwrap();
    f.sync_all().unwrap();
    fs::rename(&tmp, dir.join(format!("msg.{n}"))).unwrap();
    File::open(dir).unwrap().sync_all().unwrap();
}

/// Runs `iters` operations spread over `WRITERS` threads; returns the wall time.
fn run_parallel(iters: u64, op: Arc<dyn Fn(u64) + Send + Sync>) -> Duration {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (next, op) = (Arc::clone(&next), Arc::clone(&op));
            std::thread::spawn(move || {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= iters {
                        break;
                    }
                    op(n);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    start.elapsed()
}

fn naive_op(dir: PathBuf) -> Arc<dyn Fn(u64) + Send + Sync> {
    let mut payload = Vec::new();
    postern::queue::record::encode_enqueue(
        &mut payload,
        QueueId { millis: 1, seq: 0 },
        &envelope(),
        &body(),
    );
    Arc::new(move |n| naive_enqueue(&dir, n, &payload))
}

fn spool_op(spool: Spool) -> Arc<dyn Fn(u64) + Send + Sync> {
    let (env, b) = (envelope(), body());
    Arc::new(move |_| {
        spool.enqueue(&env, &b, Timestamp::now()).unwrap();
    })
}

fn enqueue(c: &mut Criterion) {
    let mut g = c.benchmark_group("spool_enqueue_10_writers");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(1));
    let naive_dir = fresh("naive");
    let op = naive_op(naive_dir.clone());
    g.bench_function("naive_file_per_message", |b| {
        b.iter_custom(|iters| run_parallel(iters, Arc::clone(&op)))
    });
    let spool_dir = fresh("spool");
    let (spool, _) = Spool::open(&spool_dir, SpoolOptions::default()).unwrap();
    let op = spool_op(spool.clone());
    g.bench_function("postern_group_commit", |b| {
        b.iter_custom(|iters| run_parallel(iters, Arc::clone(&op)))
    });
    g.finish();
    drop(spool);

    // The same comparison once more as one plain line, for the report.
    let n = 3000;
    let naive = run_parallel(n, naive_op(fresh("naive")));
    let spool_dir = fresh("spool");
    let (spool, _) = Spool::open(&spool_dir, SpoolOptions::default()).unwrap();
    let ours = run_parallel(n, spool_op(spool.clone()));
    let (rn, ro) = (
        n as f64 / naive.as_secs_f64(),
        n as f64 / ours.as_secs_f64(),
    );
    println!(
        "summary: {n} durable enqueues x {WRITERS} writers, {BODY}-byte bodies: naive {rn:.0}/s, postern {ro:.0}/s, ratio {:.1}x",
        ro / rn
    );
    drop(spool);
    let _ = fs::remove_dir_all(bench_root().join("naive"));
    let _ = fs::remove_dir_all(bench_root().join("spool"));
}

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 16
    }
}

const DESTS: [&str; 8] = [
    "a.example",
    "b.example",
    "c.example",
    "d.example",
    "e.example",
    "f.example",
    "g.example",
    "h.example",
];

fn filled_scheduler(n: u64) -> Scheduler {
    let mut s = Scheduler::new();
    let mut rng = Lcg(7);
    for i in 0..n {
        s.schedule(
            QueueId { millis: i, seq: 0 },
            DESTS[(i % 8) as usize],
            Timestamp(rng.next() % 1_000_000_000),
        );
    }
    s
}

fn rss_bytes() -> u64 {
    let statm = fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn scheduler(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    let before = rss_bytes();
    let mut s = filled_scheduler(N);
    let after = rss_bytes();
    println!(
        "memory: scheduler with {N} jobs: {:.0} bytes per job (RSS growth)",
        (after - before) as f64 / N as f64
    );
    let mut g = c.benchmark_group("scheduler_1m");
    g.throughput(Throughput::Elements(1));
    let mut rng = Lcg(99);
    let mut next_id = N;
    g.bench_function("insert_and_remove", |b| {
        b.iter(|| {
            next_id += 1;
            let id = QueueId {
                millis: next_id,
                seq: 0,
            };
            s.schedule(
                id,
                DESTS[(next_id % 8) as usize],
                Timestamp(rng.next() % 1_000_000_000),
            );
            s.unschedule(id, DESTS[(next_id % 8) as usize])
        })
    });
    g.bench_function("pop_due_and_reschedule", |b| {
        b.iter(|| {
            let job = s.pop_due(Timestamp(u64::MAX), 1).pop().unwrap();
            s.schedule(
                job.id,
                &job.destination,
                Timestamp(job.due.0 + 1_000_000_000),
            );
        })
    });
    g.finish();
    assert_eq!(s.len() as u64, N);
}

const MEMORY_PROBE: &str = "POSTERN_QUEUE_BENCH_MEMORY_PROBE";

/// In the probe process: open the queue, print the resident-set growth, exit.
fn memory_probe(_: &mut Criterion) {
    let Some(dir) = std::env::var_os(MEMORY_PROBE) else {
        return;
    };
    let before = rss_bytes();
    let (q, rec) = Queue::open(&dir, QueueConfig::default(), Timestamp::now()).unwrap();
    let n = rec.messages.len() as u64;
    drop(rec);
    let after = rss_bytes();
    let rcpts: u64 = q
        .messages()
        .iter()
        .map(|m| m.envelope.recipients.len() as u64)
        .sum();
    println!(
        "memory: queue holding {n} messages / {rcpts} recipients (envelopes, states, schedule): {:.0} bytes per queued recipient (RSS growth in a fresh process)",
        after.saturating_sub(before) as f64 / rcpts as f64
    );
    std::process::exit(0);
}

fn recovery(c: &mut Criterion) {
    const N: u64 = 100_000;
    let dir = fresh("recovery");
    {
        let (spool, _) = Spool::open(&dir, SpoolOptions::default()).unwrap();
        let small: Vec<u8> = body()[..1024].to_vec();
        let env = envelope();
        let op: Arc<dyn Fn(u64) + Send + Sync> = Arc::new(move |_| {
            spool.enqueue(&env, &small, Timestamp::now()).unwrap();
        });
        let t = run_parallel(N, op);
        println!(
            "setup: {N} messages (2 recipients, 1 KiB) enqueued in {:.1} s",
            t.as_secs_f64()
        );
    }
    // Memory is measured in a fresh process (this bench re-run with MEMORY_PROBE set), so
    // earlier phases' freed memory cannot hide the queue's own growth.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--bench", "memory-probe-only"])
        .env(MEMORY_PROBE, &dir)
        .output()
        .unwrap();
    print!(
        "{}",
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("memory:"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    let mut g = c.benchmark_group("recovery_100k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N));
    g.bench_with_input(BenchmarkId::new("queue_open", N), &dir, |b, dir| {
        b.iter(|| Queue::open(dir, QueueConfig::default(), Timestamp::now()).unwrap())
    });
    g.finish();
    let _ = fs::remove_dir_all(&dir);
}

criterion_group!(benches, memory_probe, enqueue, scheduler, recovery);
criterion_main!(benches);
