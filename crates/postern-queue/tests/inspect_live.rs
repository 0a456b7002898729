//! `Spool::inspect` (what `postern queue list` uses) beside a spool that is being written,
//! rotated and compacted: it never fails and never reports damage that is not there.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use postern_queue::{Envelope, Spool, SpoolOptions, Timestamp};

#[test]
fn inspect_while_writing_sees_no_damage() {
    let dir = std::env::temp_dir().join(format!("postern-inspect-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut opts = SpoolOptions::default();
    opts.segment_size = 16 << 10;
    let (spool, _) = Spool::open(&dir, opts.clone()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|t| {
            let (spool, stop) = (spool.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let env = Envelope::new("s@x", ["r@d"], Timestamp(1));
                    let id = spool.enqueue(&env, &vec![b'x'; 500], Timestamp(n)).unwrap();
                    if (n + t).is_multiple_of(2) {
                        spool.remove(id).unwrap();
                    }
                    if n.is_multiple_of(50) {
                        spool.compact(1 << 20).unwrap();
                    }
                    n += 1;
                }
            })
        })
        .collect();
    let mut seen = 0;
    let start = std::time::Instant::now();
    let mut views = 0;
    while start.elapsed() < std::time::Duration::from_secs(2) || views < 20 {
        views += 1;
        let view = Spool::inspect(&dir, &opts).unwrap();
        assert!(view.quarantined.is_empty(), "{:?}", view.quarantined);
        seen = seen.max(view.messages.len());
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert!(seen > 0);
    drop(spool);
    std::fs::remove_dir_all(&dir).unwrap();
}
