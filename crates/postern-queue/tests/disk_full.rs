//! A full disk, for real (issue 25 item 1): the spool lives on a 640 KiB tmpfs mounted in a
//! private mount namespace. Writers fill it until enqueues fail; states recorded meanwhile
//! fail too. Once space is freed the spool must carry on without being reopened: new
//! enqueues succeed, and every change that failed (other than the refused enqueues) is
//! on disk after the next flush. A reopen then finds exactly the acknowledged messages,
//! with their latest states, and nothing quarantined.
//!
//! The test re-runs itself under `unshare -m` (root only, as on the project's machines);
//! `POSTERN_QUEUE_DISK_FULL_CHILD` marks the run inside the namespace.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use postern_queue::{
    Envelope, MessageState, QueueId, RecipientState, Spool, SpoolError, SpoolOptions, Timestamp,
};

const CHILD_ENV: &str = "POSTERN_QUEUE_DISK_FULL_CHILD";
const TMPFS_SIZE: &str = "640k";

fn env(tag: usize) -> Envelope {
    Envelope::new(
        format!("t{tag}@x.example"),
        ["a@d1.example", "b@d2.example"],
        Timestamp(1),
    )
}

fn body(tag: usize) -> Vec<u8> {
    format!("message {tag}\n").repeat(150).into_bytes()
}

fn delivered(reply: &str) -> RecipientState {
    RecipientState::Delivered {
        at: Timestamp(9),
        reply: reply.to_owned(),
    }
}

#[test]
fn spool_recovers_from_a_full_disk_without_reopening() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return child();
    }
    run_child("spool_recovers_from_a_full_disk_without_reopening");
}

/// Runs the test `name` again in a private mount namespace (it needs root).
fn run_child(name: &str) {
    let uid = Command::new("id").arg("-u").output().expect("id -u");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "this test mounts a tmpfs in a private mount namespace: run it as root"
    );
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["-m", "--"])
        .arg(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("unshare");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{text}");
    let line = text.lines().find(|l| l.contains("disk full checked"));
    println!("{}", line.expect("the child ran"));
}

fn mount_tmpfs(dir: &Path) {
    mount_tmpfs_sized(dir, TMPFS_SIZE);
}

fn mount_tmpfs_sized(dir: &Path, size: &str) {
    std::fs::create_dir_all(dir).unwrap();
    // Keep the mount private so it never shows outside this namespace.
    let st = Command::new("mount")
        .args(["--make-rprivate", "/"])
        .status()
        .unwrap();
    assert!(st.success());
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status()
        .unwrap();
    assert!(st.success(), "mount tmpfs");
}

fn seg_count(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("seg")).unwrap().count()
}

fn child() {
    let root = std::env::temp_dir().join(format!("postern-disk-full-{}", std::process::id()));
    mount_tmpfs(&root);
    let dir = root.join("spool");
    let mut opts = SpoolOptions::default();
    opts.segment_size = 64 << 10;
    let (spool, _) = Spool::open(&dir, opts.clone()).unwrap();
    // Space to give back later.
    let filler = root.join("filler");
    std::fs::write(&filler, vec![0u8; 160 << 10]).unwrap();

    let mut acked: BTreeMap<QueueId, usize> = BTreeMap::new();
    let mut states: BTreeMap<QueueId, MessageState> = BTreeMap::new();
    let mut refused = 0;
    let mut failed_updates = 0;
    let mut files_at_first_refusal = 0;
    // Fill the disk: enqueue, and record an outcome for every other message.
    for tag in 0..2000 {
        match spool.enqueue(&env(tag), &body(tag), Timestamp(1)) {
            Ok(id) => {
                acked.insert(id, tag);
                if tag % 2 == 0 {
                    let mut st = MessageState::new(2);
                    st.recipients[0] = delivered(&format!("250 {tag}"));
                    if let Err(e) = spool.update(id, &mut st) {
                        assert!(matches!(e, SpoolError::Poisoned(_)), "{e}");
                        failed_updates += 1;
                    }
                    states.insert(id, st);
                }
            }
            Err(e) => {
                assert!(matches!(e, SpoolError::Poisoned(_)), "{e}");
                refused += 1;
                if refused == 1 {
                    files_at_first_refusal = seg_count(&dir);
                }
                if refused >= 5 {
                    break;
                }
            }
        }
    }
    assert!(refused >= 5, "the disk never filled up");
    // While full: outcomes for messages already queued fail but are kept.
    for (id, tag) in acked.iter().take(10) {
        let mut st = states.get(id).cloned().unwrap_or(MessageState::new(2));
        st.recipients[1] = delivered(&format!("250 second {tag}"));
        if spool.update(*id, &mut st).is_err() {
            failed_updates += 1;
        }
        states.insert(*id, st);
    }
    assert!(failed_updates > 0, "no outcome failed to be written");
    assert!(spool.is_failing());
    // Each refused enqueue tried a fresh segment; the failed ones do not pile up.
    let seg_files = seg_count(&dir);
    assert!(
        seg_files <= files_at_first_refusal + 1,
        "{seg_files} segment files while full, {files_at_first_refusal} at the first refusal"
    );
    let len_before = spool.len();
    assert_eq!(len_before, acked.len(), "refused enqueues are withdrawn");

    // Space returns: the spool carries on by itself.
    std::fs::remove_file(&filler).unwrap();
    let late = spool
        .enqueue(&env(9999), &body(9999), Timestamp(1))
        .expect("new mail is accepted again without reopening");
    acked.insert(late, 9999);
    assert!(!spool.is_failing());
    // Removals work again.
    let first = *acked.keys().next().unwrap();
    spool.remove(first).unwrap();
    acked.remove(&first);
    states.remove(&first);
    drop(spool);

    let (spool, rec) = Spool::open(&dir, opts).unwrap();
    assert!(rec.quarantined.is_empty(), "{:?}", rec.quarantined);
    let found: BTreeSet<QueueId> = rec.messages.iter().map(|m| m.id).collect();
    let want: BTreeSet<QueueId> = acked.keys().copied().collect();
    assert_eq!(found, want, "exactly the acknowledged messages");
    for m in &rec.messages {
        let tag = acked[&m.id];
        assert_eq!(m.envelope.sender, format!("t{tag}@x.example"));
        if let Some(st) = states.get(&m.id) {
            assert_eq!(&m.state, st, "every outcome of {tag} is on disk");
        }
        assert_eq!(spool.read(m.id).unwrap().1, body(tag));
    }
    println!(
        "disk full checked: {} acknowledged, {refused} refused, {failed_updates} outcomes written late",
        acked.len()
    );
}

/// The same under concurrency: four writers enqueue and record states while the disk
/// fills, is freed, fills again and is freed again; recovery races with other writers'
/// batches. At the end exactly the acknowledged messages are on disk, each with the last
/// state recorded for it (whether that call succeeded or was kept after an error).
#[test]
fn concurrent_writers_through_two_full_disks() {
    const NAME: &str = "concurrent_writers_through_two_full_disks";
    if std::env::var_os(CHILD_ENV).is_none() {
        return run_child(NAME);
    }
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    let root = std::env::temp_dir().join(format!("postern-disk-full2-{}", std::process::id()));
    mount_tmpfs_sized(&root, "4m");
    let dir = root.join("spool");
    let mut opts = SpoolOptions::default();
    opts.segment_size = 128 << 10;
    let (spool, _) = Spool::open(&dir, opts.clone()).unwrap();
    let fillers: Vec<_> = (0..3).map(|i| root.join(format!("filler{i}"))).collect();
    for f in &fillers {
        std::fs::write(f, vec![0u8; 1 << 20]).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let (spool, stop, refused) = (spool.clone(), stop.clone(), refused.clone());
            std::thread::spawn(move || {
                let mut acked = BTreeMap::new();
                let mut last: BTreeMap<QueueId, MessageState> = BTreeMap::new();
                let mut tag = t * 1_000_000;
                while !stop.load(SeqCst) {
                    tag += 1;
                    match spool.enqueue(&env(tag), &body(tag), Timestamp(1)) {
                        Ok(id) => {
                            acked.insert(id, tag);
                        }
                        Err(_) => {
                            refused.fetch_add(1, SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(1));
                        }
                    }
                    // An outcome for an earlier message of this writer.
                    let pick = (tag * 7919) % acked.len().max(1);
                    if let Some((&id, _)) = acked.iter().nth(pick) {
                        let mut st = last.get(&id).cloned().unwrap_or(MessageState::new(2));
                        st.recipients[tag % 2] = delivered(&format!("250 {tag}"));
                        let _ = spool.update(id, &mut st);
                        last.insert(id, st);
                    }
                }
                (acked, last)
            })
        })
        .collect();
    let wait_full = |since: usize| {
        let t0 = std::time::Instant::now();
        while refused.load(SeqCst) < since + 20 {
            assert!(t0.elapsed().as_secs() < 60, "the disk never filled up");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        refused.load(SeqCst)
    };
    let mut seen = wait_full(0);
    for f in &fillers[..2] {
        std::fs::remove_file(f).unwrap();
        seen = wait_full(seen);
    }
    stop.store(true, SeqCst);
    let mut acked = BTreeMap::new();
    let mut last = BTreeMap::new();
    for w in writers {
        let (a, l) = w.join().unwrap();
        acked.extend(a);
        last.extend(l);
    }
    std::fs::remove_file(&fillers[2]).unwrap();
    spool.sync().expect("writes again once space returns");
    assert!(!spool.is_failing());
    drop(spool);
    let (_spool, rec) = Spool::open(&dir, opts).unwrap();
    assert!(rec.quarantined.is_empty(), "{:?}", rec.quarantined);
    let found: BTreeSet<QueueId> = rec.messages.iter().map(|m| m.id).collect();
    let want: BTreeSet<QueueId> = acked.keys().copied().collect();
    assert_eq!(found, want, "exactly the acknowledged messages");
    for m in &rec.messages {
        if let Some(st) = last.get(&m.id) {
            assert_eq!(&m.state, st, "the last state of {}", acked[&m.id]);
        }
    }
    println!(
        "disk full checked: {} acknowledged, {} refused, {} with states",
        acked.len(),
        refused.load(SeqCst),
        last.len()
    );
}

/// Less room on the disk than the zeros the spool reserves ahead of its records
/// (`SpoolOptions::preallocate`, 1 MiB by default, in a 64 MiB segment): the zeros take
/// what room there is, and the records still go in, over them, until the records
/// themselves no longer fit. Once some room is back, a reopen finds every acknowledged
/// message; the only run it quarantines is the refused record's torn tail.
#[test]
fn reserved_zeros_never_cost_a_record_its_room() {
    const NAME: &str = "reserved_zeros_never_cost_a_record_its_room";
    if std::env::var_os(CHILD_ENV).is_none() {
        return run_child(NAME);
    }
    let root = std::env::temp_dir().join(format!("postern-disk-full3-{}", std::process::id()));
    mount_tmpfs(&root);
    let dir = root.join("spool");
    let opts = SpoolOptions::default();
    assert!(opts.preallocate > 640 << 10);
    // Room for the quarantine copies at the end.
    let filler = root.join("filler");
    std::fs::write(&filler, vec![0u8; 64 << 10]).unwrap();
    let (spool, _) = Spool::open(&dir, opts.clone()).unwrap();
    let mut kept = BTreeSet::new();
    let refused = loop {
        match spool.enqueue(&env(kept.len()), &body(kept.len()), Timestamp(1)) {
            Ok(id) => kept.insert(id),
            Err(e) => break e,
        };
        assert!(kept.len() < 1000, "a 640 KiB disk never filled");
    };
    assert!(
        matches!(refused, SpoolError::Io { .. } | SpoolError::Poisoned(_)),
        "{refused}"
    );
    // A record is about 1.8 KB: nearly all of the 576 KiB left went to records.
    assert!(kept.len() > 300, "only {} messages fit", kept.len());
    drop(spool);
    std::fs::remove_file(&filler).unwrap();
    let (_, rec) = Spool::open(&dir, opts).unwrap();
    assert!(rec.quarantined.len() <= 1, "{:?}", rec.quarantined);
    for q in &rec.quarantined {
        assert!(q.reason.starts_with("torn tail"), "{q:?}");
    }
    let found: BTreeSet<QueueId> = rec.messages.iter().map(|m| m.id).collect();
    assert_eq!(found, kept);
    println!("disk full checked: {} messages fit", kept.len());
}
