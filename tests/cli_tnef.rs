//! `postern message extract` expands TNEF parts (`winmail.dat`) into their files, and
//! `message inspect --json` shows those files as children of the TNEF part (issue 20).

#[path = "../crates/postern-message/tests/tnef_writer/mod.rs"]
mod tnef_writer;

use std::path::PathBuf;
use std::process::Command;

use postern_message::builder::{MessageBuilder, PartSpec};
use tnef_writer::{Att, Writer};

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("postern-cli-tnef-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A message with a text part and a winmail.dat holding a named file, a nameless one
/// and an embedded message with a file of its own.
fn message() -> Vec<u8> {
    let inner = Writer {
        body: Some("inner".into()),
        atts: vec![Att {
            title: Some(b"INNER.TXT".to_vec()),
            data: b"from the embedded message".to_vec(),
            ..Att::default()
        }],
        ..Writer::default()
    }
    .build();
    let stream = Writer {
        atts: vec![
            Att {
                title: Some(b"LONGNA~1.DOC".to_vec()),
                long_name: Some("Long name.doc".into()),
                unicode_name: true,
                data: vec![0xD0, 0xCF, 0x11, 0xE0, 0, 1, 2],
                embedded: None,
            },
            Att {
                data: b"nameless".to_vec(),
                ..Att::default()
            },
            Att {
                long_name: Some("Forwarded".into()),
                embedded: Some(inner),
                ..Att::default()
            },
        ],
        ..Writer::default()
    }
    .build();
    MessageBuilder::new()
        .from("a@x.example")
        .to("b@y.example")
        .subject("tnef")
        .text("See attached.\n")
        .part(PartSpec::attachment(
            "winmail.dat",
            "application/ms-tnef",
            stream,
        ))
        .build()
}

#[test]
fn extract_writes_the_files_inside_winmail_dat() {
    let d = dir("extract");
    let file = d.join("m.eml");
    std::fs::write(&file, message()).unwrap();
    let out_dir = d.join("out");
    let out = Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(["message", "extract", "--out"])
        .arg(&out_dir)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |n: &str| std::fs::read(out_dir.join(n)).unwrap_or_else(|e| panic!("{n}: {e}"));
    assert_eq!(
        read("2.tnef1-Long name.doc"),
        [0xD0, 0xCF, 0x11, 0xE0, 0, 1, 2]
    );
    assert_eq!(
        read("2.tnef3.tnef1-INNER.TXT"),
        b"from the embedded message"
    );
    assert!(read("2-winmail.dat").starts_with(&[0x78, 0x9F, 0x3E, 0x22]));
    let nameless: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bin") && n.contains("tnef"))
        .collect();
    // Named by path as `inspect --json` shows it (`2.tnef2`), as every extracted file is.
    assert_eq!(nameless, ["2.tnef2.bin"]);
    assert_eq!(read(&nameless[0]), b"nameless");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn inspect_json_shows_tnef_files_as_children() {
    let d = dir("inspect");
    let file = d.join("m.eml");
    std::fs::write(&file, message()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(["message", "inspect", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let json = String::from_utf8(out.stdout).unwrap();
    // Judged by Python's json module: the TNEF part's children, nested.
    let script = r#"
import json, sys
root = json.load(sys.stdin)
tnef = [c for c in root["children"] if c["content_type"] == "application/ms-tnef"][0]
kids = tnef["children"]
print(len(kids), kids[0]["path"], kids[0]["filename"], kids[0]["decoded_size"],
      kids[1]["filename"], kids[2]["content_type"], kids[2]["children"][0]["filename"])
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json.as_bytes())
        .unwrap();
    let r = child.wait_with_output().unwrap();
    assert!(r.status.success(), "{json}");
    assert_eq!(
        String::from_utf8(r.stdout).unwrap().trim(),
        "3 2.tnef1 Long name.doc 7 None message/rfc822 INNER.TXT"
    );
    let _ = std::fs::remove_dir_all(&d);
}
