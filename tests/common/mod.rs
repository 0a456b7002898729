//! Helpers for the tests that run the real `postern` binary.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

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
