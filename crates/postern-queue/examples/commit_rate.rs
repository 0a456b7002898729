//! Durable enqueues per second from N concurrent writers: the naive one-file-per-message
//! spool beside this crate's spool at several `max_inflight` settings, with the leader's
//! gathering wait (`max_gather`) at its default and off, and with plain appends instead of
//! the zeros written ahead (`preallocate = 0`).
//!
//! `cargo run --release -p postern-queue --example commit_rate -- DIR [MESSAGES] [WRITERS]`

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use postern_queue::{Envelope, Spool, SpoolOptions, Timestamp};

fn parallel(n: u64, writers: u64, op: Arc<dyn Fn(u64) + Send + Sync>) -> f64 {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let hs: Vec<_> = (0..writers)
        .map(|_| {
            let (next, op) = (Arc::clone(&next), Arc::clone(&op));
            std::thread::spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    op(i);
                }
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    n as f64 / start.elapsed().as_secs_f64()
}

fn fresh(p: &Path) -> PathBuf {
    let _ = fs::remove_dir_all(p);
    fs::create_dir_all(p).unwrap();
    p.to_owned()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let root = PathBuf::from(
        args.get(1)
            .cloned()
            .unwrap_or_else(|| "target/commit-rate".into()),
    );
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let writers: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let body = vec![b'x'; 4096];
    let env = Envelope::new(
        "s@example.org",
        ["a@example.com", "b@example.net"],
        Timestamp(1),
    );
    for round in 0..2 {
        let dir = fresh(&root.join("naive"));
        let payload = body.clone();
        let naive = parallel(
            n,
            writers,
            Arc::new(move |i| {
                let tmp = dir.join(format!("t{i}"));
                let mut f = File::create(&tmp).unwrap();
                f.write_all(&payload).unwrap();
                f.sync_all().unwrap();
                fs::rename(&tmp, dir.join(format!("m{i}"))).unwrap();
                File::open(&dir).unwrap().sync_all().unwrap();
            }),
        );
        print!("round {round}: naive {naive:.0}/s");
        let SpoolOptions {
            max_gather: gather,
            preallocate: zeros,
            ..
        } = SpoolOptions::default();
        let runs = [
            (1, gather, zeros),
            (1, Duration::ZERO, zeros),
            (4, gather, zeros),
            (8, gather, zeros),
            (1, gather, 0),
        ];
        for (inflight, gather, preallocate) in runs {
            let dir = fresh(&root.join("spool"));
            let mut opts = SpoolOptions::default();
            opts.max_inflight = inflight;
            opts.max_gather = gather;
            opts.preallocate = preallocate;
            let (spool, _) = Spool::open(&dir, opts).unwrap();
            let (env, body) = (env.clone(), body.clone());
            let rate = parallel(
                n,
                writers,
                Arc::new(move |_| {
                    spool.enqueue(&env, &body, Timestamp::now()).unwrap();
                }),
            );
            let how = if preallocate == 0 { " append" } else { "" };
            print!(
                ", inflight {inflight} gather {}us{how}: {rate:.0}/s ({:.1}x)",
                gather.as_micros(),
                rate / naive
            );
        }
        println!();
    }
    let _ = fs::remove_dir_all(&root);
}
