//! The CLI writes to a reader that has gone away (`postern … | head`) without panicking
//! or complaining: the Rust runtime ignores SIGPIPE, so a plain `print!` would panic with
//! "Broken pipe", and a checked write would report an error no one asked for.

use std::process::{Command, Stdio};

/// Runs `postern ARGS` with standard output a pipe whose reading end is closed before
/// the command starts; it must end with status 0 and say nothing.
fn closed_stdout(args: &[&str]) {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run postern");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "postern {args:?}: status {:?}, stderr: {stderr}",
        out.status
    );
}

#[test]
fn closed_stdout_ends_quietly() {
    // `config check` prints the whole effective configuration with `out!`.
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/postern.toml");
    closed_stdout(&["config", "check", "-c", config]);
    // `uu encode` streams its output through checked writes.
    let file = std::env::temp_dir().join(format!("postern-cli-pipe-{}.bin", std::process::id()));
    std::fs::write(&file, vec![0xa5u8; 1 << 20]).unwrap();
    closed_stdout(&["uu", "encode", file.to_str().unwrap(), "data.bin"]);
    let _ = std::fs::remove_file(&file);
}
