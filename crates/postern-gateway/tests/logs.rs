//! The log `postern serve` writes. Each test runs this test binary again as a child
//! that installs the log subscriber ([`postern_gateway::logging::init`]) and runs
//! [`postern_gateway::gateway::serve`], as `postern serve` does; the parent reads the
//! child's stderr, sends it a message over SMTP, stops it with SIGTERM and judges the
//! lines: JSON objects whose spans carry the session's peer and id and the delivery's
//! queue id, or human lines that keep the start-up line first.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use postern_gateway::Config;
use postern_gateway::logging::{self, LogFormat};
use serde_json::Value;

/// Set in the child: `FORMAT,LEVEL:CONFIG_PATH`.
const CHILD_ENV: &str = "POSTERN_LOGS_TEST_CHILD";

/// The child's side: log to stderr in the format asked for, serve until SIGTERM.
fn child(spec: &str) {
    let (how, path) = spec.split_once(':').unwrap();
    let (format, level) = how.split_once(',').unwrap();
    logging::init(LogFormat::from_name(format).unwrap(), level).unwrap();
    let path = Path::new(path);
    let config = Config::load(path).unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(postern_gateway::gateway::serve(
            config,
            Some(path),
            Duration::from_secs(2),
        ))
        .unwrap();
}

/// A gateway child running test `name` with logs in `how` (`FORMAT,LEVEL`), and its
/// stderr lines.
fn spawn(name: &str, how: &str, dir: &Path) -> (Child, Receiver<String>) {
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("postern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n\
             [connections]\nlisten = [\"127.0.0.1:0\"]\n\
             [[connector]]\nname = \"local\"\nkind = \"maildir\"\n\
             [[connector.address_space]]\npattern = \"localhost\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{how}:{}", config.display()))
        .env_remove(logging::FILTER_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test binary runs again");
    let err = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in err.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// The next line, or a failure naming what was awaited.
fn next(lines: &Receiver<String>, what: &str, seen: &[String]) -> String {
    lines
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("no {what} within 10 s; got {seen:#?}"))
}

/// Lines up to and including the first `done` accepts.
fn until(
    lines: &Receiver<String>,
    seen: &mut Vec<String>,
    what: &str,
    done: impl Fn(&str) -> bool,
) {
    loop {
        let line = next(lines, what, seen);
        let stop = done(&line);
        seen.push(line);
        if stop {
            return;
        }
    }
}

/// The address in a start-up line (`… listening on ADDR as …`, in either format).
fn startup_addr(line: &str) -> SocketAddr {
    line.split("listening on ")
        .nth(1)
        .and_then(|s| s.split([' ', ',', ';', '"']).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

/// One message from jo@localhost to al@localhost; the client's own address and the
/// queue id from the 250.
fn send_one(addr: SocketAddr) -> (SocketAddr, String) {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let local = s.local_addr().unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut reply = || {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            assert!(r.read_line(&mut line).unwrap() > 0, "closed");
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    };
    assert!(reply().starts_with("220"));
    let mut last = String::new();
    for cmd in [
        "EHLO client.test\r\n",
        "MAIL FROM:<jo@localhost>\r\n",
        "RCPT TO:<al@localhost>\r\n",
        "DATA\r\n",
        "Subject: logged\r\n\r\nhello\r\n.\r\n",
        "QUIT\r\n",
    ] {
        w.write_all(cmd.as_bytes()).unwrap();
        let r = reply();
        if cmd.starts_with("Subject") {
            last = r;
        }
    }
    assert!(last.starts_with("250"), "{last}");
    let id = last
        .split("queued as ")
        .nth(1)
        .expect("a queue id")
        .trim()
        .to_owned();
    (local, id)
}

/// Stops the child with SIGTERM and collects its lines to the end.
fn stop(mut child: Child, lines: &Receiver<String>, seen: &mut Vec<String>) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}; {seen:#?}");
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(2)) {
        seen.push(line);
    }
}

/// The span called `name` in a JSON line's span list.
fn span<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v["spans"].as_array()?.iter().find(|s| s["name"] == name)
}

fn message(v: &Value) -> &str {
    v["fields"]["message"].as_str().unwrap_or_default()
}

#[test]
fn json_lines_carry_the_session_and_delivery_spans() {
    const NAME: &str = "json_lines_carry_the_session_and_delivery_spans";
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        return child(&spec);
    }
    let dir = common::temp_dir("logs", "json");
    let (gw, lines) = spawn(NAME, "json,info", &dir);
    let mut seen = Vec::new();
    until(&lines, &mut seen, "start-up line", |l| {
        l.contains("listening on ")
    });
    let addr = startup_addr(seen.last().unwrap());
    let (client, id) = send_one(addr);
    until(&lines, &mut seen, "a delivered event", |l| {
        l.contains("\"message\":\"delivered\"")
    });
    stop(gw, &lines, &mut seen);

    let events: Vec<Value> = seen
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for e in &events {
        assert!(e["timestamp"].is_string() && e["level"].is_string(), "{e}");
    }
    assert!(
        message(&events[0]).starts_with("listening on 127.0.0.1:"),
        "{:#?}",
        events[0]
    );

    let accepted = events
        .iter()
        .find(|e| message(e) == "accepted")
        .unwrap_or_else(|| panic!("no accepted event in {seen:#?}"));
    assert_eq!(accepted["fields"]["queue_id"], id.as_str());
    assert_eq!(accepted["fields"]["sender"], "jo@localhost");
    let session = span(accepted, "session").expect("the accept is in the session span");
    assert_eq!(session["peer"], client.to_string().as_str());
    assert!(
        session["session"].as_str().is_some_and(|s| !s.is_empty()),
        "{session}"
    );

    let delivered = events.iter().find(|e| message(e) == "delivered").unwrap();
    assert_eq!(delivered["fields"]["recipient"], "al@localhost");
    assert_eq!(delivered["level"], "INFO");
    let delivery = span(delivered, "delivery").expect("the delivery span");
    assert_eq!(delivery["queue_id"], id.as_str());
    assert_eq!(delivery["destination"], "localhost");
    assert!(
        span(delivered, "session").is_none(),
        "a delivery is not in the session that accepted it"
    );

    let last: Vec<&str> = events.iter().rev().take(2).map(message).collect();
    assert_eq!(last, ["stopped", "shutting down"], "{seen:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn human_lines_keep_the_start_up_line_first() {
    const NAME: &str = "human_lines_keep_the_start_up_line_first";
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        return child(&spec);
    }
    let dir = common::temp_dir("logs", "human");
    let (gw, lines) = spawn(NAME, "human,info", &dir);
    let mut seen = vec![next(&lines, "start-up line", &[])];
    assert!(
        seen[0].starts_with("postern: listening on 127.0.0.1:"),
        "{seen:?}"
    );
    let (client, id) = send_one(startup_addr(&seen[0]));
    until(&lines, &mut seen, "a delivered line", |l| {
        l.starts_with("postern: delivered ")
    });
    stop(gw, &lines, &mut seen);
    assert!(seen.iter().all(|l| l.starts_with("postern: ")), "{seen:#?}");
    let accepted = seen
        .iter()
        .find(|l| l.starts_with("postern: accepted "))
        .unwrap_or_else(|| panic!("{seen:#?}"));
    assert!(accepted.contains(&format!("queue_id={id}")), "{accepted}");
    assert!(
        accepted.contains(&format!("[session peer={client} session=")),
        "{accepted}"
    );
    let delivered = seen
        .iter()
        .find(|l| l.starts_with("postern: delivered "))
        .unwrap();
    assert!(
        delivered.contains(&format!("[delivery queue_id={id} destination=localhost")),
        "{delivered}"
    );
    assert_eq!(seen.last().map(String::as_str), Some("postern: stopped"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn start_and_stop_show_at_any_level() {
    const NAME: &str = "start_and_stop_show_at_any_level";
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        return child(&spec);
    }
    let dir = common::temp_dir("logs", "warn");
    let (gw, lines) = spawn(NAME, "human,warn", &dir);
    let mut seen = vec![next(&lines, "start-up line", &[])];
    assert!(seen[0].starts_with("postern: listening on "), "{seen:?}");
    send_one(startup_addr(&seen[0]));
    // The message is delivered (its Maildir file appears) but nothing says so at warn.
    let new = dir.join("data/mail/localhost/al/new");
    let delivered = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        std::fs::read_dir(&new).is_ok_and(|d| d.count() == 1)
    });
    assert!(delivered, "no file in {}", new.display());
    stop(gw, &lines, &mut seen);
    assert_eq!(
        seen[1..],
        ["postern: shutting down", "postern: stopped"],
        "{seen:#?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
