//! Issue 14: a gateway fit to run for months.
//!
//! Point 1, a running gateway reclaims its spool space on its own: thousands of
//! messages are relayed over SMTP into Maildir while a sampler measures the spool's
//! segment files on disk; they must stay within the documented bound of the live data
//! (`2 × live + compact_dead_bytes + 2 × segment_size`), and once the gateway is idle
//! the spool must shrink to little more than one segment header. Without compaction the
//! spool grows by every message relayed (about 7 MB here), far past the bound.
//!
//! Point 4, retention runs at start; point 5, one Message-ID form in the tracking log and
//! a quoted local part delivered to the plain mailbox.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::client::Client;
use postern_gateway::{Config, Gateway};
use postern_track::{EventKind, Filter, Reader};
use tokio::net::TcpStream;

const SEGMENT: u64 = 256 << 10;
const COMPACT_DEAD: u64 = 256 << 10;
const CLIENTS: usize = 4;
const PER_CLIENT: usize = 750;

fn disk_bytes(seg_dir: &Path) -> u64 {
    std::fs::read_dir(seg_dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn maildir_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// About 2 KB of text, unique per message.
fn message(client: usize, n: usize) -> String {
    let mut m = format!(
        "From: a@localhost\r\nTo: b@localhost\r\nSubject: {client}-{n}\r\nMessage-ID: <{client}.{n}@bound.test>\r\n\r\n"
    );
    while m.len() < 2000 {
        m.push_str("The spool must not grow without bound while mail flows.\r\n");
    }
    m
}

async fn send_many(addr: std::net::SocketAddr, client: usize) {
    let mut c = Client::new(TcpStream::connect(addr).await.unwrap());
    c.expect(220).await;
    c.cmd("EHLO bound.test", 250).await;
    for n in 0..PER_CLIENT {
        c.mail("a@localhost", "b@localhost", &message(client, n))
            .await;
    }
    c.cmd("QUIT", 221).await;
}

async fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spool_stays_within_its_bound_while_relaying_thousands_of_messages() {
    let dir: PathBuf = common::temp_dir("spool-bound", "relay");
    let text = format!(
        "[server]\nhostname = \"localhost\"\ndata_dir = \"{}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n\
         [tracking]\nenabled = false\n\
         [spool]\nsegment_size = {SEGMENT}\ncompact_dead_bytes = {COMPACT_DEAD}\ncompact_idle_secs = 1\n\
         [[connector]]\nname = \"local\"\nkind = \"maildir\"\n\
         [[connector.address_space]]\npattern = \"localhost\"\n",
        dir.display()
    );
    let gw = Gateway::start(Config::from_toml_str(&text).unwrap())
        .await
        .unwrap();
    let addr = gw.local_addrs()[0];
    let ctx = gw.context().clone();
    let seg_dir = dir.join("spool/seg");

    // The sampler: the worst excess over the bound, and the largest spool seen.
    let done = Arc::new(AtomicBool::new(false));
    let worst = Arc::new(AtomicU64::new(0));
    let largest = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (done, worst, largest) = (done.clone(), worst.clone(), largest.clone());
        let (ctx, seg_dir) = (ctx.clone(), seg_dir.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let live = ctx.queue.local().unwrap().spool().stats().live_bytes;
                let disk = disk_bytes(&seg_dir);
                let bound = 2 * live + COMPACT_DEAD + 2 * SEGMENT;
                worst.fetch_max(disk.saturating_sub(bound), Ordering::Relaxed);
                largest.fetch_max(disk, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    let senders: Vec<_> = (0..CLIENTS)
        .map(|c| tokio::spawn(send_many(addr, c)))
        .collect();
    for s in senders {
        s.await.unwrap();
    }
    let total = CLIENTS * PER_CLIENT;
    let inbox = dir.join("mail/localhost/b/new");
    assert!(
        wait_for(Duration::from_secs(60), || ctx
            .queue
            .local()
            .unwrap()
            .is_empty())
        .await,
        "queue drained"
    );
    assert_eq!(maildir_count(&inbox), total, "every message delivered once");
    done.store(true, Ordering::Relaxed);
    sampler.await.unwrap();
    let largest = largest.load(Ordering::Relaxed);
    assert_eq!(
        worst.load(Ordering::Relaxed),
        0,
        "spool passed 2 × live + {COMPACT_DEAD} + 2 × {SEGMENT} (largest {largest} bytes)"
    );
    // Relaying wrote far more than the bound: compaction, not chance, kept it there.
    let written = ctx.queue.local().unwrap().spool().stats().appended;
    eprintln!(
        "spool bound: {total} messages, {written} bytes written, largest spool {largest} bytes"
    );
    assert!(
        written > 4 * largest,
        "{written} bytes written, {largest} kept"
    );

    // Idle for a second with nothing live: the spool shrinks to (nearly) nothing.
    assert!(
        wait_for(Duration::from_secs(20), || disk_bytes(&seg_dir) < 4096).await,
        "idle spool compacted: {} bytes left",
        disk_bytes(&seg_dir)
    );
    gw.shutdown(Duration::from_secs(5)).await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn local_config(dir: &Path, extra: &str) -> Config {
    Config::from_toml_str(&format!(
        "[server]\nhostname = \"localhost\"\ndata_dir = \"{}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n{extra}\n\
         [[connector]]\nname = \"local\"\nkind = \"maildir\"\n\
         [[connector.address_space]]\npattern = \"localhost\"\n",
        dir.display()
    ))
    .unwrap()
}

/// The delivery takes the Message-ID from the session's record in the body cache; with
/// the cache off it parses the spooled header. Both must track the same form.
#[tokio::test]
async fn quoted_local_part_is_the_plain_mailbox_and_message_ids_have_one_form() {
    quoted_delivery("quoted", "").await;
    quoted_delivery("quoted-nocache", "[limits]\nbody_cache_bytes = 0\n").await;
}

async fn quoted_delivery(name: &str, extra: &str) {
    let dir = common::temp_dir("long-run", name);
    let gw = Gateway::start(local_config(&dir, extra)).await.unwrap();
    let ctx = gw.context().clone();
    let mut c = Client::new(TcpStream::connect(gw.local_addrs()[0]).await.unwrap());
    c.expect(220).await;
    c.cmd("EHLO quoted.test", 250).await;
    c.mail(
        "a@localhost",
        "\"new\"@localhost",
        "Message-ID: <q.1@quoted.test>\r\nSubject: quoted\r\n\r\nhello\r\n",
    )
    .await;
    c.cmd("QUIT", 221).await;
    let inbox = dir.join("mail/localhost/new/new");
    assert!(
        wait_for(Duration::from_secs(10), || maildir_count(&inbox) == 1).await,
        "delivered to the mailbox new@localhost"
    );
    assert!(!dir.join("mail/localhost/%22new%22").exists());
    if let Some(t) = &ctx.tracker {
        t.flush().unwrap();
    }
    let events = Reader::new(dir.join("tracking"))
        .search(&Filter::new().message_id("q.1@quoted.test"))
        .unwrap()
        .events;
    let mid = |k: EventKind| {
        events
            .iter()
            .find(|e| e.kind == k)
            .and_then(|e| e.message_id.as_ref())
            .map(|m| m.to_string())
            .unwrap_or_else(|| panic!("no {k:?} event with a Message-ID: {events:?}"))
    };
    assert_eq!(mid(EventKind::Received), "<q.1@quoted.test>");
    assert_eq!(mid(EventKind::Delivered), "<q.1@quoted.test>");
    gw.shutdown(Duration::from_secs(5)).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn retention_sweeps_old_files_at_start() {
    let dir = common::temp_dir("long-run", "retention");
    let old = [
        dir.join("protocol/20200101.log"),
        dir.join("archive/2020-01-01/x-inbound.eml"),
    ];
    for f in &old {
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, b"old").unwrap();
    }
    let config = local_config(
        &dir,
        "[protocol_log]\nenabled = true\n[archive]\nenabled = true\n",
    );
    let gw = Gateway::start(config).await.unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || old.iter().all(|f| !f.exists())).await,
        "old protocol log and archive folder removed"
    );
    assert!(!dir.join("archive/2020-01-01").exists());
    gw.shutdown(Duration::from_secs(5)).await;
    let _ = std::fs::remove_dir_all(&dir);
}
