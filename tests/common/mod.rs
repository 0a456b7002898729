//! Helpers for the tests that run the real `postern` binary.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Starts `postern serve --grace GRACE -c CONFIG` with its standard error piped (the
/// first line is the start-up line, see [`startup_addr`]) and nothing on stdin or stdout.
pub fn spawn_serve(config: &Path, grace: u64) -> Child {
    Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(["serve", "--grace", &grace.to_string(), "-c"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("postern serve starts")
}

/// The first address in the start-up line (`postern: listening on ADDR, … as …`).
pub fn startup_addr(line: &str) -> SocketAddr {
    line.split("listening on ")
        .nth(1)
        .and_then(|s| s.split([' ', ',', ';']).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no address in start-up line {line:?}"))
}

/// An SMTP conversation with the gateway at `addr`: the greeting, then each of `lines`
/// (commands with their CRLF, or a whole DATA body) sent and its final reply line read,
/// waiting at most `timeout` for any reply. Returns the replies, greeting first.
#[allow(dead_code)] // not every test binary that includes this module converses
pub fn converse(addr: SocketAddr, lines: &[&str], timeout: Duration) -> Vec<String> {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut reply = || loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        if l.as_bytes().get(3) != Some(&b'-') {
            return l;
        }
    };
    let mut replies = vec![reply()];
    for l in lines {
        w.write_all(l.as_bytes()).unwrap();
        replies.push(reply());
    }
    replies
}
