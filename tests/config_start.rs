//! A configuration you can start from (issue 26 item 6), with the real binary over real
//! sockets on 127.0.0.1: `config check` prints a file that `config check -c` and
//! `serve -c` accept unchanged; a file that names no connector still delivers for
//! `localhost` and says so at start; a port in use leaves no data directory behind.

#[allow(dead_code)] // only startup_addr is used here
mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("postern-cs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn postern(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(args)
        .output()
        .expect("run postern")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `postern serve -c config` run in `cwd`, with its stderr lines read by a thread.
fn serve(config: &Path, cwd: &Path) -> (Child, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(["serve", "--grace", "1", "-c"])
        .arg(config)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("postern serve starts");
    let err = BufReader::new(child.stderr.take().unwrap());
    let (tx, lines) = channel();
    std::thread::spawn(move || {
        for line in err.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, lines)
}

/// The lines up to and including the start-up line.
fn until_started(lines: &Receiver<String>) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no start-up line within 10 s; got {seen:?}"));
        let done = line.contains("listening on ");
        seen.push(line);
        if done {
            return seen;
        }
    }
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// `config check` output, written to a file, is accepted unchanged by `config check -c`
/// (which prints it again, byte for byte) and by `serve -c`.
#[test]
fn config_check_prints_a_file_serve_accepts_unchanged() {
    let dir = temp_dir("check");
    let first = postern(&["config", "check"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let file = dir.join("effective.toml");
    std::fs::write(&file, &first.stdout).unwrap();
    let again = postern(&["config", "check", "-c", file.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout), text(&first.stdout));

    // The embedded default's data directory is relative: serve from the temporary one.
    let (child, lines) = serve(&file, &dir);
    let started = until_started(&lines);
    stop(child);
    assert!(
        started.last().unwrap().contains("127.0.0.1:2525"),
        "{started:?}"
    );
    assert!(dir.join("postern-data").is_dir());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reads one SMTP reply (all its lines); returns its code.
fn reply(r: &mut BufReader<TcpStream>) -> u16 {
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert!(line.len() >= 4, "short reply {line:?}");
        if line.as_bytes()[3] == b' ' {
            return line[..3].parse().unwrap();
        }
    }
}

/// One message to `rcpt` over a new connection to `addr`, every reply as expected.
fn mail_to(addr: std::net::SocketAddr, rcpt: &str) {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    assert_eq!(reply(&mut r), 220);
    let mut cmd = |c: &str, want: u16| {
        w.write_all(format!("{c}\r\n").as_bytes()).unwrap();
        assert_eq!(reply(&mut r), want, "{c}");
    };
    cmd("EHLO client.test", 250);
    cmd("MAIL FROM:<a@example.com>", 250);
    cmd(&format!("RCPT TO:<{rcpt}>"), 250);
    cmd("DATA", 354);
    cmd("Subject: hi\r\n\r\nhello\r\n.", 250);
    cmd("QUIT", 221);
}

/// A file that only sets `listen` (and where data goes) keeps the default local
/// delivery: `jo@localhost` is accepted, and the start says where it came from.
#[test]
fn listen_only_file_still_delivers_to_localhost_and_says_so() {
    let dir = temp_dir("listen-only");
    let data = dir.join("data");
    let file = dir.join("p.toml");
    std::fs::write(
        &file,
        format!(
            "[server]\ndata_dir = \"{}\"\n[connections]\nlisten = [\"127.0.0.1:0\"]\n",
            data.display()
        ),
    )
    .unwrap();
    let (child, lines) = serve(&file, &dir);
    let started = until_started(&lines);
    // The start-up line comes first (tools read the address from it); the note next.
    assert_eq!(started.len(), 1, "{started:?}");
    let note = lines
        .recv_timeout(Duration::from_secs(10))
        .expect("the note follows the start-up line");
    assert!(
        note.contains("names no [[connector]]") && note.contains("\"local\""),
        "{note}"
    );
    mail_to(
        common::startup_addr(started.last().unwrap()),
        "jo@localhost",
    );
    stop(child);
    let check = postern(&["config", "check", "-c", file.to_str().unwrap()]);
    assert!(
        text(&check.stderr).contains("names no [[connector]]"),
        "{}",
        text(&check.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The listeners are bound before the data directory is made: a port in use stops the
/// start with an error naming the address, and nothing is left on disk. With several
/// threads each binding the port (`SO_REUSEPORT`) too.
#[test]
fn port_in_use_leaves_no_data_directory() {
    for threads in [1, 3] {
        let dir = temp_dir(&format!("clash-{threads}"));
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let data = dir.join("data");
        let file = dir.join("p.toml");
        std::fs::write(
            &file,
            format!(
                "[server]\ndata_dir = \"{}\"\nworker_threads = {threads}\n\
                 [connections]\nlisten = [\"{addr}\"]\n",
                data.display()
            ),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_postern"))
            .args(["serve", "-c", file.to_str().unwrap()])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains(&addr.to_string()), "{err}");
        assert!(!data.exists(), "{} was created", data.display());
        drop(taken);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// `scheduler = "per_thread"` with three threads, as `postern serve` runs it: every
/// connection is served whichever thread's socket took it, mail for `localhost` is
/// delivered, and SIGTERM stops all three threads with a clean exit.
#[test]
fn three_threads_serve_and_stop() {
    let dir = temp_dir("threads");
    let data = dir.join("data");
    let file = dir.join("p.toml");
    std::fs::write(
        &file,
        format!(
            "[server]\ndata_dir = \"{}\"\nworker_threads = 3\nscheduler = \"per_thread\"\n\
             [connections]\nlisten = [\"127.0.0.1:0\"]\n",
            data.display()
        ),
    )
    .unwrap();
    let (mut child, lines) = serve(&file, &dir);
    let addr = common::startup_addr(until_started(&lines).last().unwrap());
    for i in 0..12 {
        mail_to(addr, &format!("u{i}@localhost"));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}
