//! `postern transfer-mode` returns only once the running gateway applies the mode: a
//! session opened right after the command already sees it. With no gateway it says so,
//! exits 2 and leaves nothing behind that would override `[transfer] mode` at the next
//! start (#23 item 4). Runs the real binary over real sockets on 127.0.0.1.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("postern-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `postern transfer-mode MODE --wait WAIT --data DIR` (or `-c FILE` for `how = "-c"`).
fn transfer_mode_by(how: &str, path: &Path, mode: &str, wait: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(["transfer-mode", mode, "--wait", wait, how])
        .arg(path)
        .output()
        .expect("postern transfer-mode runs")
}

fn transfer_mode(data: &Path, mode: &str, wait: &str) -> Output {
    transfer_mode_by("--data", data, mode, wait)
}

/// The greeting of a new session.
fn greeting(addr: SocketAddr) -> String {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    line
}

#[test]
fn transfer_mode_waits_for_the_gateway_and_refuses_without_one() {
    let dir = temp_dir("transfer-mode");
    let (config, data) = (dir.join("postern.toml"), dir.join("data"));
    std::fs::create_dir_all(&data).unwrap();

    // No gateway: refused, and no file left behind for the next start.
    let out = transfer_mode(&data, "none", "1");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no gateway applied it within 1 s"), "{err}");
    assert!(!data.join("transfer-mode").exists());

    std::fs::write(
        &config,
        format!(
            "[server]\ndata_dir = \"{}\"\n[connections]\nlisten = [\"127.0.0.1:0\"]\n",
            data.display()
        ),
    )
    .unwrap();
    let mut gw = common::spawn_serve(&config, 2);
    let mut err = BufReader::new(gw.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    let addr = common::startup_addr(&first);
    assert!(greeting(addr).starts_with("220"));

    // Applied by the time the command returns: the very next session is refused.
    let out = transfer_mode(&data, "none", "10");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "transfer mode is now none"
    );
    assert!(greeting(addr).starts_with("421"));
    // The config `serve` was given finds the same gateway (its admin API).
    let out = transfer_mode_by("-c", &config, "both", "10");
    assert!(out.status.success(), "{out:?}");
    assert!(greeting(addr).starts_with("220"));

    let _ = Command::new("kill")
        .args(["-TERM", &gw.id().to_string()])
        .status();
    let status = gw.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
