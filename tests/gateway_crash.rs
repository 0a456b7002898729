//! The gateway under load, killed with SIGKILL at random moments and restarted: every
//! message a client saw acknowledged with 250 must reach its Maildir (at-least-once:
//! duplicates are counted, never losses). Ends with SIGTERM, which must stop the gateway
//! cleanly. Runs the real `postern serve` binary over real sockets on 127.0.0.1.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("postern-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Starts `postern serve` and returns it with the address from its start-up line.
fn start(config: &Path) -> (Child, SocketAddr) {
    let mut child = common::spawn_serve(config, 5);
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    if !line.contains("listening on ") {
        // Not left running after the test fails.
        let _ = child.kill();
        let _ = child.wait();
    }
    let addr = common::startup_addr(&line);
    // Keep draining stderr so the gateway never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = err.read_to_end(&mut sink);
    });
    (child, addr)
}

struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Conn {
    fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut c = Conn {
            r: BufReader::new(s.try_clone()?),
            w: s,
        };
        c.expect("220")?;
        c.cmd("EHLO load.test", "250")?;
        Ok(c)
    }

    /// Reads one (multi-line) reply; its last line.
    fn reply(&mut self) -> std::io::Result<String> {
        loop {
            let mut line = String::new();
            if self.r.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(line);
            }
        }
    }

    fn expect(&mut self, code: &str) -> std::io::Result<String> {
        let r = self.reply()?;
        if r.starts_with(code) {
            Ok(r)
        } else {
            Err(std::io::Error::other(r))
        }
    }

    fn cmd(&mut self, line: &str, code: &str) -> std::io::Result<String> {
        self.w.write_all(format!("{line}\r\n").as_bytes())?;
        self.expect(code)
    }

    /// Sends one message; Ok(true) only when the gateway answered 250 to the data.
    fn send(&mut self, tag: &str) -> std::io::Result<bool> {
        self.cmd("MAIL FROM:<load@example.com>", "250")?;
        self.cmd("RCPT TO:<box@localhost>", "250")?;
        self.cmd("DATA", "354")?;
        let body = format!(
            "From: load@example.com\r\nTo: box@localhost\r\nSubject: {tag}\r\n\r\n{}\r\n.\r\n",
            "a line of text to make the message a little longer\r\n".repeat(20)
        );
        self.w.write_all(body.as_bytes())?;
        Ok(self.reply()?.starts_with("250"))
    }
}

/// A client thread: sends messages tagged `c<id>-<n>` until `stop`, reconnecting
/// whenever the gateway goes away, and records every tag acknowledged with 250.
fn client(
    id: usize,
    addr: Arc<Mutex<SocketAddr>>,
    acked: Arc<Mutex<HashSet<String>>>,
    stop: Arc<AtomicBool>,
) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let a = *addr.lock().unwrap();
        let Ok(mut conn) = Conn::open(a) else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let tag = format!("c{id}-{n}");
            match conn.send(&tag) {
                Ok(true) => {
                    acked.lock().unwrap().insert(tag);
                }
                Ok(false) => {}
                Err(_) => break,
            }
        }
    }
}

/// Subject tags found in the Maildir `new/` folder, with their counts.
fn delivered(dir: &Path) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        if let Some(tag) = text
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .map(str::trim)
        {
            *out.entry(tag.to_owned()).or_default() += 1;
        }
    }
    out
}

fn pseudo_random(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Tiny spool segments make the gateway compact all the time (issue 14), so the kills
/// land during compactions too. Default spool: fsyncs led from tokio's blocking pool.
#[test]
fn sigkill_under_load_loses_no_acknowledged_message() {
    kill_and_restart_under_load("crash", "", "");
}

/// The same with `commit_thread = true` (a thread of the spool's own leads the group
/// commits) on a runtime of one worker thread.
#[test]
fn sigkill_with_commit_thread_on_one_worker_loses_nothing() {
    kill_and_restart_under_load(
        "crash-thread",
        "worker_threads = 1\n",
        "commit_thread = true\n",
    );
}

/// Four clients send while the gateway is killed eight times; every acknowledged message
/// must arrive. `server` and `spool` are extra lines for those sections.
fn kill_and_restart_under_load(name: &str, server: &str, spool: &str) {
    let dir = temp_dir(name);
    let config = dir.join("postern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndata_dir = \"{}\"\n{server}[connections]\nlisten = [\"127.0.0.1:0\"]\n\
             [retry]\nintervals = [\"1s\"]\npoll_interval = \"100ms\"\n\
             [spool]\nsegment_size = 8192\ncompact_dead_bytes = 8192\ncompact_idle_secs = 1\n\
             {spool}[[connector]]\nname = \"local\"\nkind = \"maildir\"\n\
             [[connector.address_space]]\npattern = \"localhost\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let (mut gw, first) = start(&config);
    let addr = Arc::new(Mutex::new(first));
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (a, k, s) = (addr.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || client(i, a, k, s))
        })
        .collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ u64::from(std::process::id());
    let kills = 8;
    for _ in 0..kills {
        std::thread::sleep(Duration::from_millis(150 + pseudo_random(&mut seed) % 350));
        gw.kill().unwrap();
        gw.wait().unwrap();
        let (g, a) = start(&config);
        gw = g;
        *addr.lock().unwrap() = a;
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "too little load got through: {}",
        acked.len()
    );
    let maildir = dir.join("data/mail/localhost/box/new");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut missing: Vec<String>;
    loop {
        let got = delivered(&maildir);
        missing = acked
            .iter()
            .filter(|t| !got.contains_key(*t))
            .cloned()
            .collect();
        if missing.is_empty() || Instant::now() > deadline {
            let dups: usize = got.values().map(|n| n - 1).sum();
            let segs: Vec<String> = std::fs::read_dir(dir.join("data/spool/seg"))
                .map(|d| {
                    d.filter_map(Result::ok)
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            eprintln!(
                "{kills} kills: {} acknowledged, {} delivered, {} duplicate(s), {} missing; \
                 {} spool segment file(s), the newest {:?}",
                acked.len(),
                got.len(),
                dups,
                missing.len(),
                segs.len(),
                segs.iter().max()
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        missing.is_empty(),
        "acknowledged but lost: {:?}",
        &missing[..missing.len().min(10)]
    );
    // SIGTERM: a clean stop with exit status 0.
    let status = Command::new("kill")
        .args(["-TERM", &gw.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(s) = gw.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "gateway still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "exit after SIGTERM: {code:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
