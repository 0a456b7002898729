//! `postern message inspect/convert` on files that are not messages, and the charset
//! options of `convert` (issue 22): a warning instead of silence, and text never
//! declared in a charset it is not in.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("postern-cli-message-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn postern(args: &[&str], file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(["message"])
        .args(args)
        .arg(file)
        .output()
        .unwrap()
}

#[test]
fn empty_and_garbage_files_are_warned_about() {
    let d = dir("garbage");
    let empty = d.join("empty.eml");
    std::fs::write(&empty, b"").unwrap();
    let garbage = d.join("garbage.bin");
    // Octets that are no message: no header field, invalid UTF-8, NULs.
    let junk: Vec<u8> = (0..600u32).map(|i| (i * 167 % 251) as u8).collect();
    std::fs::write(&garbage, &junk).unwrap();
    for (file, what) in [(&empty, "is empty"), (&garbage, "has no header fields")] {
        for args in [&["inspect"][..], &["convert", "--to", "uuencode"][..]] {
            let out = postern(args, file);
            assert!(out.status.success(), "{args:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("warning") && err.contains(what),
                "{args:?}: {err}"
            );
        }
    }
    // The garbage is not declared UTF-8: its octets are kept as unknown-8bit.
    let out = postern(&["convert", "--to", "uuencode"], &garbage);
    let head = String::from_utf8_lossy(&out.stdout[..200.min(out.stdout.len())]).into_owned();
    assert!(!head.contains("charset=utf-8"), "{head}");
    assert!(head.contains("charset=unknown-8bit"), "{head}");
    // A real message gets no warning.
    let ok = d.join("ok.eml");
    std::fs::write(&ok, b"Subject: hi\r\n\r\nhello\r\n").unwrap();
    let out = postern(&["inspect"], &ok);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn convert_to_us_ascii_counts_and_never_mislabels() {
    let d = dir("ascii");
    let m = d.join("cafe.eml");
    std::fs::write(
        &m,
        "Subject: c\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCafé\r\n",
    )
    .unwrap();
    let out = postern(
        &[
            "convert",
            "--to",
            "7bit",
            "--charset",
            "us-ascii",
            "--unrepresentable",
            "replace",
        ],
        &m,
    );
    let body = String::from_utf8(out.stdout).unwrap();
    assert!(
        body.contains("charset=us-ascii") && body.ends_with("\r\n\r\nCaf?\r\n"),
        "{body}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrepresentable=1"));
    // The default (keep): still UTF-8, declared so, and counted.
    let out = postern(&["convert", "--to", "7bit", "--charset", "us-ascii"], &m);
    let body = String::from_utf8(out.stdout).unwrap();
    assert!(body.contains("charset=utf-8"), "{body}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unrepresentable=1 kept_charset=1"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}
