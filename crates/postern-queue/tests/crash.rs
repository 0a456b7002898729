//! Crash test: a child process enqueues, updates and removes messages in a loop and is
//! killed with SIGKILL at random moments, many times. After each kill the spool is
//! recovered and checked: every enqueue that returned `Ok` is present and byte-identical,
//! no acknowledged state went backwards, no acknowledged removal came back, and every
//! unreadable run of bytes was copied to `quarantine/` rather than dropped.
//!
//! The child is this test binary re-invoked with `POSTERN_QUEUE_CRASH_CHILD` set; it
//! prints one line per acknowledged operation, written before the next operation starts.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postern_queue::{
    Envelope, MessageState, QueueId, RecipientState, Spool, SpoolOptions, Timestamp,
};

const CHILD_ENV: &str = "POSTERN_QUEUE_CRASH_CHILD";
const ROUNDS: usize = 60;
const TIME_LIMIT: Duration = Duration::from_secs(45);

fn opts() -> SpoolOptions {
    let mut opts = SpoolOptions::default();
    opts.segment_size = 256 << 10;
    opts
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The body of the message tagged `tag` (the tag is in the envelope's sender).
fn body_for(tag: u64) -> Vec<u8> {
    let mut rng = Rng(tag.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let len = 64 + rng.below(2000) as usize;
    (0..len).map(|_| rng.next() as u8).collect()
}

fn tag_of(env: &Envelope) -> u64 {
    env.sender
        .trim_start_matches('t')
        .split('@')
        .next()
        .and_then(|t| t.parse().ok())
        .expect("tagged sender")
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    (t.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32) | 1
}

fn child(dir: &Path) {
    let (spool, rec) = Spool::open(dir, opts()).expect("child recovery");
    let live: Arc<Mutex<Vec<(QueueId, MessageState)>>> = Arc::new(Mutex::new(
        rec.messages.into_iter().map(|m| (m.id, m.state)).collect(),
    ));
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let say = |out: &Mutex<std::io::Stdout>, line: String| {
        let mut o = out.lock().unwrap();
        o.write_all(line.as_bytes()).unwrap();
        o.flush().unwrap();
    };
    say(&out, "READY\n".to_string());
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (spool, live, out) = (spool.clone(), Arc::clone(&live), Arc::clone(&out));
            std::thread::spawn(move || {
                let mut rng = Rng(seed() ^ (t + 1).wrapping_mul(0xA24B_AED4_963E_E407));
                loop {
                    match rng.below(10) {
                        0..=2 => {
                            let tag = rng.next() >> 12;
                            let n = 1 + rng.below(3) as usize;
                            let env = Envelope::new(
                                format!("t{tag}@x"),
                                (0..n).map(|i| format!("r{i}@d{}", rng.below(4))),
                                Timestamp(1),
                            );
                            let id = spool
                                .enqueue(&env, &body_for(tag), Timestamp::now())
                                .expect("enqueue");
                            say(&out, format!("E {id} {tag}\n"));
                            live.lock().unwrap().push((id, MessageState::new(n)));
                        }
                        3..=5 => {
                            let picked = {
                                let mut l = live.lock().unwrap();
                                if l.is_empty() {
                                    continue;
                                }
                                let i = rng.below(l.len() as u64) as usize;
                                l.swap_remove(i)
                            };
                            let (id, mut state) = picked;
                            let attempts = state.recipients[0].attempts() + 1;
                            state.recipients[0] = RecipientState::Deferred {
                                attempts,
                                first_failure: Timestamp(1),
                                last_gap: Duration::from_secs(60),
                                next_attempt: Timestamp(2),
                                last_reply: format!("451 try {attempts}"),
                            };
                            spool.update(id, &mut state).expect("update");
                            say(&out, format!("S {id} {}\n", state.version));
                            live.lock().unwrap().push((id, state));
                        }
                        6..=8 => {
                            let picked = {
                                let mut l = live.lock().unwrap();
                                if l.is_empty() {
                                    continue;
                                }
                                let i = rng.below(l.len() as u64) as usize;
                                l.swap_remove(i)
                            };
                            say(&out, format!("r {}\n", picked.0));
                            spool.remove(picked.0).expect("remove");
                            say(&out, format!("R {}\n", picked.0));
                        }
                        _ => {
                            if rng.below(5) == 0 {
                                // Half the time as the gateway does when idle: a new
                                // head first, so the old head is compacted too.
                                if rng.below(2) == 0 {
                                    spool.rotate().expect("rotate");
                                }
                                spool.compact(4 << 20).expect("compact");
                            }
                        }
                    }
                }
            })
        })
        .collect();
    drop(threads); // the workers never return; the parent kills this process
    loop {
        std::thread::park();
    }
}

/// Entry point of the child (a no-op in a normal test run).
#[test]
fn crash_child() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(Path::new(&dir));
    }
}

#[derive(Default)]
struct Model {
    enqueued: HashMap<QueueId, u64>,
    versions: HashMap<QueueId, u64>,
    removed: HashSet<QueueId>,
    removing: HashSet<QueueId>,
}

impl Model {
    fn apply(&mut self, line: &str) {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["E", id, tag] => {
                self.enqueued
                    .insert(id.parse().unwrap(), tag.parse().unwrap());
            }
            ["S", id, v] => {
                let e = self.versions.entry(id.parse().unwrap()).or_default();
                *e = (*e).max(v.parse().unwrap());
            }
            ["r", id] => {
                self.removing.insert(id.parse().unwrap());
            }
            ["R", id] => {
                self.removed.insert(id.parse().unwrap());
            }
            _ => {}
        }
    }
}

fn run_child(dir: &Path, rng: &mut Rng, model: &mut Model) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(dir.with_extension("stderr")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Mostly kill while it works; sometimes during its own recovery.
    if rng.below(5) != 0 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                // The harness prints "test crash_child ... " without a newline first.
                Ok(l) if l.ends_with("READY") => break,
                Ok(l) => model.apply(&l),
                Err(mpsc::RecvTimeoutError::Disconnected) | Err(_) if Instant::now() > deadline => {
                    let err =
                        std::fs::read_to_string(dir.with_extension("stderr")).unwrap_or_default();
                    panic!(
                        "child never became ready (status {:?}): {err}",
                        child.try_wait()
                    )
                }
                Err(_) => {}
            }
        }
        std::thread::sleep(Duration::from_millis(rng.below(150)));
    } else {
        std::thread::sleep(Duration::from_millis(rng.below(30)));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    for l in rx.try_iter() {
        model.apply(&l);
    }
}

fn verify(dir: &Path, model: &Model, seen_versions: &mut HashMap<QueueId, u64>) -> usize {
    let (spool, rec) = Spool::open(dir, opts()).expect("recovery");
    let present: HashMap<QueueId, &postern_queue::SpooledMessage> =
        rec.messages.iter().map(|m| (m.id, m)).collect();
    for (id, tag) in &model.enqueued {
        if model.removed.contains(id) {
            assert!(
                !present.contains_key(id),
                "acknowledged removal of {id} came back"
            );
            continue;
        }
        let Some(m) = present.get(id) else {
            // Only a removal the child had started (and was killed before acknowledging)
            // may take an acknowledged message away.
            assert!(
                model.removing.contains(id),
                "acknowledged message {id} lost"
            );
            continue;
        };
        assert_eq!(tag_of(&m.envelope), *tag, "{id}: envelope changed");
        let (_, body) = spool.read(*id).expect("read body");
        assert!(body == body_for(*tag), "{id}: body differs");
    }
    for m in &rec.messages {
        let (_, body) = spool.read(m.id).expect("read body");
        assert!(
            body == body_for(tag_of(&m.envelope)),
            "{}: body differs",
            m.id
        );
        let acked = model.versions.get(&m.id).copied().unwrap_or(0);
        assert!(
            m.state.version >= acked,
            "{}: state went back from v{acked} to v{}",
            m.id,
            m.state.version
        );
        let before = seen_versions.insert(m.id, m.state.version).unwrap_or(0);
        assert!(
            m.state.version >= before,
            "{}: state went back between recoveries",
            m.id
        );
        assert_eq!(
            m.state.recipients[0].attempts() as u64,
            m.state.version,
            "{}: state content",
            m.id
        );
    }
    for q in &rec.quarantined {
        let copy = q.copy.as_ref().expect("recovery copies unreadable bytes");
        assert_eq!(std::fs::metadata(copy).unwrap().len(), q.len, "{q:?}");
    }
    rec.quarantined.len()
}

fn tmpdir() -> PathBuf {
    let base = option_env!("CARGO_TARGET_TMPDIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = base.join(format!("postern-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn sigkill_at_random_moments_loses_nothing() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tmpdir();
    let mut rng = Rng(seed());
    let mut model = Model::default();
    let mut seen = HashMap::new();
    let start = Instant::now();
    let mut rounds = 0;
    let mut quarantined = 0;
    while rounds < ROUNDS && start.elapsed() < TIME_LIMIT {
        run_child(&dir, &mut rng, &mut model);
        quarantined += verify(&dir, &model, &mut seen);
        rounds += 1;
    }
    assert!(rounds >= 10, "only {rounds} rounds");
    assert!(
        model.enqueued.len() > 100,
        "child made too little progress: {}",
        model.enqueued.len()
    );
    eprintln!(
        "crash test: {rounds} kills, {} acknowledged enqueues, {} acknowledged removals, {quarantined} quarantined runs reported",
        model.enqueued.len(),
        model.removed.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(dir.with_extension("stderr"));
}
