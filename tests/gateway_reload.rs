//! `postern serve -c FILE` reloads FILE on SIGHUP and on `postern reload`: a domain added
//! to the file is taken by the next session; a broken file is refused with a line naming
//! the fault and the gateway serves on with its settings; SIGINT still stops it cleanly. Runs the real
//! binary over real sockets on 127.0.0.1.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("postern-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The config: mail for `domains` into Maildir folders under `data`.
fn write_config(file: &Path, data: &Path, domains: &[&str]) {
    let mut text = format!(
        "[server]\ndata_dir = \"{}\"\n[connections]\nlisten = [\"127.0.0.1:0\"]\n\
         [[connector]]\nname = \"local\"\nkind = \"maildir\"\n",
        data.display()
    );
    for d in domains {
        text.push_str(&format!("[[connector.address_space]]\npattern = \"{d}\"\n"));
    }
    std::fs::write(file, text).unwrap();
}

/// `postern serve -c config`, its stderr lines (read by a thread), and its address.
fn start(config: &Path) -> (Child, Receiver<String>, SocketAddr) {
    let mut child = common::spawn_serve(config, 2);
    let err = BufReader::new(child.stderr.take().unwrap());
    let (tx, lines) = channel();
    std::thread::spawn(move || {
        for line in err.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = next_line(&lines);
    let addr = common::startup_addr(&first);
    (child, lines, addr)
}

fn next_line(lines: &Receiver<String>) -> String {
    lines
        .recv_timeout(Duration::from_secs(10))
        .expect("a line on stderr within 10 s")
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill -{name} failed");
}

/// The last line of the reply to `RCPT TO:<rcpt>` on a new session.
fn rcpt_reply(addr: SocketAddr, rcpt: &str) -> String {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut reply = || loop {
        let mut line = String::new();
        assert!(r.read_line(&mut line).unwrap() > 0, "connection closed");
        if line.as_bytes().get(3) != Some(&b'-') {
            return line;
        }
    };
    assert!(reply().starts_with("220"));
    for cmd in ["EHLO reload.test", "MAIL FROM:<s@reload.test>"] {
        w.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
        assert!(reply().starts_with("250"));
    }
    w.write_all(format!("RCPT TO:<{rcpt}>\r\n").as_bytes())
        .unwrap();
    let answer = reply();
    let _ = w.write_all(b"QUIT\r\n");
    answer
}

#[test]
fn sighup_reloads_and_refuses_a_broken_file() {
    let dir = temp_dir("reload-serve");
    let (config, data) = (dir.join("postern.toml"), dir.join("data"));
    write_config(&config, &data, &["a.test"]);
    let (mut gw, lines, addr) = start(&config);
    assert!(rcpt_reply(addr, "x@b.test").starts_with("554"));

    write_config(&config, &data, &["a.test", "b.test"]);
    signal(&gw, "HUP");
    let line = next_line(&lines);
    assert_eq!(line, format!("postern: reloaded {}", config.display()));
    let r = rcpt_reply(addr, "x@b.test");
    assert!(r.starts_with("250"), "{r}");

    std::fs::write(&config, "[limits]\nmax_recipients = 0\n").unwrap();
    signal(&gw, "HUP");
    let line = next_line(&lines);
    assert!(
        line.starts_with(&format!("postern: reload of {} refused:", config.display()))
            && line.contains("limits.max_recipients")
            && line.contains("line 2"),
        "{line}"
    );
    let r = rcpt_reply(addr, "x@b.test");
    assert!(r.starts_with("250"), "the settings before stay: {r}");

    // `postern reload -c FILE` asks the gateway's admin API (found from the config's
    // data directory) and prints the gateway's answer.
    write_config(&config, &data, &["a.test", "b.test", "c.test"]);
    let out = Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(["reload", "-c"])
        .arg(&config)
        .output()
        .expect("postern reload runs");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        said.trim_end(),
        format!("postern: reloaded {}", config.display())
    );
    assert_eq!(
        next_line(&lines),
        said.trim_end(),
        "the gateway logs it too"
    );
    let r = rcpt_reply(addr, "x@c.test");
    assert!(r.starts_with("250"), "{r}");

    // SIGINT (Ctrl-C) stops it as cleanly as SIGTERM (tests/gateway_crash.rs).
    signal(&gw, "INT");
    let status = gw.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// With no gateway to answer, `postern reload` gives up after `--wait`, says why, exits
/// 2 and takes its request back (a gateway started later must not act on it).
#[test]
fn reload_without_a_gateway_says_so() {
    let dir = temp_dir("reload-nobody");
    let out = Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(["reload", "--wait", "1", "--data"])
        .arg(&dir)
        .output()
        .expect("postern reload runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no answer within 1 s"));
    assert!(!dir.join("reload.request").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
