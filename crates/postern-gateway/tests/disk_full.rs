//! A full disk under load (issue 25 item 1). The gateway's data directory is a 1 MiB tmpfs
//! mounted in a private mount namespace, most of it taken by a filler file. Clients send
//! mail over SMTP to a gateway relaying it to a recording smart host until the gateway
//! answers `451`; then the filler goes, and without a restart:
//!
//! * while the disk is full, a message due for a next hop that is down waits without the
//!   gateway spinning on it;
//! * new mail is accepted again;
//! * every message answered `250` reaches the smart host exactly once, and no message
//!   answered `451` reaches it at all;
//! * after a restart on the same data directory nothing is delivered again.
//!
//! The test re-runs itself under `unshare -m` (root only, as on the project's machines).
//! Run it inside `../shared/tools/netns-run` like every socket test.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postern_gateway::{Config, Gateway};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const CHILD_ENV: &str = "POSTERN_GATEWAY_DISK_FULL_CHILD";
const NAME: &str = "full_disk_recovers_without_restart_and_delivers_once";

#[test]
fn full_disk_recovers_without_restart_and_delivers_once() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return tokio::runtime::Runtime::new().unwrap().block_on(child());
    }
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
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("unshare");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(
        text.contains("full disk checked"),
        "child did not run:\n{text}"
    );
    println!("{text}");
}

fn mount_tmpfs(dir: &Path, size: &str) {
    std::fs::create_dir_all(dir).unwrap();
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

/// Message-IDs the smart host received, with how many times.
type Received = Arc<Mutex<HashMap<String, usize>>>;

/// A smart host that accepts everything and counts each Message-ID it receives.
async fn sink() -> (SocketAddr, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Received = Arc::default();
    let g = Arc::clone(&got);
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(serve(sock, Arc::clone(&g)));
        }
    });
    (addr, got)
}

async fn serve(sock: TcpStream, got: Received) {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    let _ = w.write_all(b"220 sink.test ESMTP\r\n").await;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink.test\r\n250 8BITMIME\r\n",
            "DATA" => {
                let _ = w.write_all(b"354 go ahead\r\n").await;
                let mut body = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    body.push_str(&line);
                }
                if let Some(mid) = body.lines().find_map(|l| l.strip_prefix("Message-ID: ")) {
                    *got.lock().unwrap().entry(mid.to_owned()).or_default() += 1;
                }
                b"250 2.0.0 queued\r\n"
            }
            "QUIT" => {
                let _ = w.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"250 ok\r\n",
        };
        if w.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// Sends one message over a fresh connection; the reply code to the end of its data (or
/// to the first command refused).
async fn send(gw: SocketAddr, mid: &str) -> u16 {
    send_to(gw, mid, "b@example.test").await
}

/// [`send`] to `rcpt`.
async fn send_to(gw: SocketAddr, mid: &str, rcpt: &str) -> u16 {
    let mut s = TcpStream::connect(gw).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut reply = async |s: &mut TcpStream, line: Option<&[u8]>| -> u16 {
        if let Some(l) = line {
            s.write_all(l).await.unwrap();
        }
        let mut text = String::new();
        loop {
            let n = s.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                return 0;
            }
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
            // The last line of a reply has a space after its code.
            if let Some(last) = text.trim_end().lines().last()
                && last.len() >= 4
                && &last[3..4] == " "
                && text.ends_with("\r\n")
            {
                return last[..3].parse().unwrap_or(0);
            }
        }
    };
    let body = format!(
        "From: a@src.test\r\nTo: {rcpt}\r\nMessage-ID: {mid}\r\nSubject: fill\r\n\r\n{}.\r\n",
        "0123456789 filling the disk, line after line of it.\r\n".repeat(80)
    );
    let rcpt_cmd = format!("RCPT TO:<{rcpt}>\r\n");
    let steps: [&[u8]; 4] = [
        b"EHLO c.test\r\n",
        b"MAIL FROM:<a@src.test>\r\n",
        rcpt_cmd.as_bytes(),
        b"DATA\r\n",
    ];
    if reply(&mut s, None).await != 220 {
        return 0;
    }
    for (step, want) in steps.into_iter().zip([250, 250, 250, 354]) {
        let code = reply(&mut s, Some(step)).await;
        if code != want {
            return code;
        }
    }
    let code = reply(&mut s, Some(body.as_bytes())).await;
    let _ = s.write_all(b"QUIT\r\n").await;
    code
}

fn config_text(data: &Path, tracking: &Path, smart: SocketAddr, down: SocketAddr) -> String {
    format!(
        "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n\
         [timeouts]\nconnect_secs = 2\ngreeting_secs = 5\ncommand_secs = 5\n\
         [retry]\nintervals = [\"1s\"]\nbackoff_first = \"500ms\"\nbackoff_max = \"1s\"\n\
         [security]\nrelay_networks = [\"127.0.0.1/32\"]\n\
         [tracking]\ndir = \"{}\"\n\
         [[connector]]\nname = \"relay\"\nkind = \"smtp\"\nsmart_hosts = [\"[{}]:{}\"]\n\
         [[connector.address_space]]\npattern = \"example.test\"\n\
         [[connector]]\nname = \"down\"\nkind = \"smtp\"\nsmart_hosts = [\"[{}]:{}\"]\n\
         [[connector.address_space]]\npattern = \"later.test\"\n",
        data.display(),
        tracking.display(),
        smart.ip(),
        smart.port(),
        down.ip(),
        down.port()
    )
}

async fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn child() {
    let root = std::env::temp_dir().join(format!("postern-gw-disk-full-{}", std::process::id()));
    let data = root.join("data");
    mount_tmpfs(&data, "1m");
    // Most of the disk, to give back later.
    let filler = data.join("filler");
    std::fs::write(&filler, vec![0u8; 700 << 10]).unwrap();
    let (smart, got) = sink().await;
    // A next hop that refuses connections: mail for it stays queued, due again and again.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let text = config_text(&data, &root.join("tracking"), smart, down);
    let gw = Gateway::start(Config::from_toml_str(&text).unwrap())
        .await
        .unwrap();
    let addr = gw.local_addrs()[0];
    assert_eq!(
        send_to(addr, "<deferred@src.test>", "b@later.test").await,
        250
    );

    // Load until the disk is full: four clients at once.
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    let mut n = 0;
    while refused.len() < 8 {
        assert!(n < 2000, "the disk never filled up");
        let batch: Vec<String> = (n..n + 4).map(|i| format!("<m{i}@src.test>")).collect();
        n += 4;
        let codes = futures_join(addr, &batch).await;
        for (mid, code) in batch.into_iter().zip(codes) {
            match code {
                250 => accepted.push(mid),
                451 | 452 => refused.push(mid),
                c => panic!("unexpected reply {c} to {mid}"),
            }
        }
    }
    let full_at = accepted.len();

    // While the disk stays full, the deferred message is due but cannot be taken (its
    // outcome could not be recorded): the delivery loop must wait for the next try of the
    // spool, not spin on it (it once did, a failed flush after another).
    let ctx = gw.context().clone();
    assert!(
        ctx.queue.local().unwrap().spool().is_failing(),
        "the spool sees the full disk"
    );
    let before = cpu_ticks();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let used = cpu_ticks() - before;
    assert!(
        used < 30,
        "{used} CPU ticks (1/100 s) in 3 s with a full disk and nothing to do"
    );

    // Space returns: new mail is accepted again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    for i in 0..20 {
        let mid = format!("<after{i}@src.test>");
        assert_eq!(send(addr, &mid).await, 250, "{mid} after space returned");
        accepted.push(mid);
    }
    wait_for(Duration::from_secs(30), "queue drained", || {
        ctx.queue.local().unwrap().len() == 1
    })
    .await;
    wait_for(
        Duration::from_secs(10),
        "every accepted message delivered",
        || {
            let g = got.lock().unwrap();
            accepted.iter().all(|m| g.contains_key(m))
        },
    )
    .await;
    check_once(&got, &accepted, &refused);

    // A restart delivers nothing again.
    drop(ctx);
    gw.shutdown(Duration::from_secs(5)).await;
    let gw = Gateway::start(Config::from_toml_str(&text).unwrap())
        .await
        .unwrap();
    let recovered = gw.context().queue.local().unwrap().len();
    // Two poll intervals: anything recovered would be delivered by then.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    check_once(&got, &accepted, &refused);
    assert_eq!(
        recovered, 1,
        "only the deferred message recovered after the restart"
    );
    gw.shutdown(Duration::from_secs(5)).await;
    println!(
        "full disk checked: {full_at} accepted before the disk was full, {} refused with 451, \
         {} accepted in all, each delivered once, none again after a restart; \
         {used} CPU ticks in 3 s while full",
        refused.len(),
        accepted.len()
    );
}

/// Sends the messages at once, one connection each.
async fn futures_join(addr: SocketAddr, mids: &[String]) -> Vec<u16> {
    let tasks: Vec<_> = mids
        .iter()
        .cloned()
        .map(|m| tokio::spawn(async move { send(addr, &m).await }))
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn check_once(got: &Received, accepted: &[String], refused: &[String]) {
    let g = got.lock().unwrap();
    for m in accepted {
        assert_eq!(g.get(m), Some(&1), "{m} answered 250: delivered once");
    }
    for m in refused {
        assert_eq!(g.get(m), None, "{m} answered 451: never delivered");
    }
    assert_eq!(g.len(), accepted.len(), "nothing else delivered");
}

/// CPU time this process has used, user and system, in clock ticks (1/100 s on Linux).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}
