//! The CLI writes to a reader that has gone away (`postern … | head`) without panicking.

use std::process::{Command, Stdio};

/// `config check` prints the whole effective configuration. With the reading end of its
/// standard output closed before it writes, it must end quietly with status 0 — the Rust
/// runtime ignores SIGPIPE, so a plain `print!` would panic with "Broken pipe".
#[test]
fn closed_stdout_ends_quietly() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/postern.toml");
    for _ in 0..5 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_postern"))
            .args(["config", "check", "-c", config])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run postern");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait for postern");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "stderr: {stderr}");
        assert!(
            out.status.success(),
            "status {:?}, stderr: {stderr}",
            out.status
        );
    }
}
