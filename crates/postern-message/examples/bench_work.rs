//! The postern side of `benches/message.rs` as a plain program: parses every message
//! under a directory, reads every header's decoded value through its structured parser
//! and every leaf's decoded content, `--passes N` times (default 1). A driver for
//! `valgrind --tool=callgrind` (instruction counts do not depend on the machine's load)
//! and for counting allocations (`--allocs` prints how many the work made).
//!
//! ```text
//! cargo build --release -p postern-message --example bench_work
//! valgrind --tool=callgrind target/release/examples/bench_work DIR
//! target/release/examples/bench_work --allocs DIR
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use postern_message::{ContentDisposition, ContentType, Message, PartKind};

/// The system allocator, counting calls to `alloc` and `realloc`.
struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static REALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator; only counts them.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        REALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The bench's `postern_work`, unchanged.
fn postern_work(raw: &[u8]) -> usize {
    let msg = Message::parse(raw);
    let mut n = 0;
    for part in msg.parts() {
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

/// The bench's file selection: `.eml` and `.txt` files, `LICENSE*` excluded, sorted.
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
            && let Ok(bytes) = std::fs::read(&p)
        {
            out.push(bytes);
        }
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let allocs = args.first().is_some_and(|a| a == "--allocs");
    if allocs {
        args.remove(0);
    }
    let mut passes = 1;
    if args.first().is_some_and(|a| a == "--passes") {
        passes = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(1);
        args.drain(..2.min(args.len()));
    }
    let Some(dir) = args.first() else {
        eprintln!("usage: bench_work [--allocs] [--passes N] DIR");
        std::process::exit(2);
    };
    let mut files = Vec::new();
    collect(Path::new(dir), &mut files);
    let (a0, r0) = (
        ALLOCS.load(Ordering::Relaxed),
        REALLOCS.load(Ordering::Relaxed),
    );
    let mut n = 0;
    for _ in 0..passes {
        n += files.iter().map(|f| postern_work(f)).sum::<usize>();
    }
    println!("{} files, {passes} passes, checksum {n}", files.len());
    if allocs {
        println!(
            "allocs {}, reallocs {}",
            ALLOCS.load(Ordering::Relaxed) - a0,
            REALLOCS.load(Ordering::Relaxed) - r0
        );
    }
}
