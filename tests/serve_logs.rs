//! `postern serve` picks its log format from `--log-format`, else `[log] format`; a
//! format it does not know is a usage error.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("postern-serve-logs-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A config on a free port of 127.0.0.1 with `log` appended.
fn config(dir: &Path, log: &str) -> PathBuf {
    let file = dir.join("postern.toml");
    std::fs::write(
        &file,
        format!(
            "[server]\ndata_dir = \"{}\"\n[connections]\nlisten = [\"127.0.0.1:0\"]\n{log}",
            dir.join("data").display()
        ),
    )
    .unwrap();
    file
}

fn serve(config: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_postern"))
        .arg("serve")
        .args(extra)
        .arg("-c")
        .arg(config)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("postern serve starts")
}

/// The first stderr line, then the process stopped with SIGTERM.
fn first_line(mut child: Child) -> String {
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    assert!(child.wait().unwrap().success());
    line
}

fn is_json_start_up(line: &str) -> bool {
    line.starts_with("{\"timestamp\":\"")
        && line.contains("\"level\":\"INFO\"")
        && line.contains("\"message\":\"listening on 127.0.0.1:")
        && line.trim_end().ends_with('}')
}

#[test]
fn the_flag_and_the_config_choose_the_format() {
    let dir = temp_dir("choose");
    let plain = config(&dir, "");
    let line = first_line(serve(&plain, &["--log-format", "json"]));
    assert!(is_json_start_up(&line), "{line}");

    let json = config(&dir, "[log]\nformat = \"json\"\n");
    let line = first_line(serve(&json, &[]));
    assert!(is_json_start_up(&line), "{line}");
    // The flag wins over the file.
    let line = first_line(serve(&json, &["--log-format", "human"]));
    assert!(
        line.starts_with("postern: listening on 127.0.0.1:"),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_formats_and_levels_are_refused() {
    let dir = temp_dir("refused");
    let plain = config(&dir, "");
    let out = serve(&plain, &["--log-format", "xml"])
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a log format"), "{err}");

    let bad = config(&dir, "[log]\nlevel = \"info,[[\"\n");
    let out = serve(&bad, &[]).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("log.level"), "{err}");
    assert!(!dir.join("data").exists(), "nothing started");
    let _ = std::fs::remove_dir_all(&dir);
}
