//! `postern message extract` (issue 19): one file per leaf, empty parts as empty files,
//! named by part path so they match `postern message inspect --json`, with encoded
//! `message/rfc822` parts decoded and their parts extracted too.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("postern-cli-extract-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `path -> decoded_size` of every leaf in `inspect --json`, read with Python's `json`.
fn inspect_leaves(file: &PathBuf) -> BTreeMap<String, usize> {
    let out = Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(["message", "inspect", "--json"])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = "import json,sys\ndef walk(p):\n    if p['decoded_size'] is not None: print(p['path'] or '0', p['decoded_size'])\n    for c in p['children']: walk(c)\nwalk(json.load(sys.stdin))\n";
    let mut py = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    py.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let lines = py.wait_with_output().unwrap();
    assert!(lines.status.success());
    String::from_utf8(lines.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (p, n) = l.split_once(' ').unwrap();
            (p.to_string(), n.parse().unwrap())
        })
        .collect()
}

#[test]
fn extract_writes_empty_parts_and_names_files_by_part_path() {
    let d = dir("paths");
    let inner = b"Subject: inner\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n\r\ninner text\r\n--i\r\nContent-Type: text/csv; name=\"q3.csv\"\r\n\r\na,b\r\n--i--\r\n";
    let mut b64 = Vec::new();
    postern_message::encode::base64_encode(
        inner,
        postern_message::encode::LineEnding::Crlf,
        &mut b64,
    );
    let mut raw = b"Subject: outer\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n\r\nhello\r\n--o\r\nContent-Type: application/pdf; name=\"empty.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n--o\r\n--o\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
    raw.extend_from_slice(&b64);
    raw.extend_from_slice(b"--o--\r\n");
    let file = d.join("m.eml");
    std::fs::write(&file, &raw).unwrap();
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
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for e in std::fs::read_dir(&out_dir).unwrap() {
        let e = e.unwrap();
        files.insert(
            e.file_name().into_string().unwrap(),
            std::fs::read(e.path()).unwrap(),
        );
    }
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["1.bin", "2-empty.pdf", "3.bin", "4.1.1.bin", "4.1.2-q3.csv"]
    );
    assert_eq!(files["1.bin"], b"hello");
    assert_eq!(files["2-empty.pdf"], b"");
    assert_eq!(files["3.bin"], b"");
    assert_eq!(files["4.1.1.bin"], b"inner text");
    assert_eq!(files["4.1.2-q3.csv"], b"a,b");
    // Every leaf of inspect --json has exactly one file, found by its path, of its size.
    let leaves = inspect_leaves(&file);
    assert_eq!(leaves.len(), files.len());
    for (path, size) in leaves {
        let matching: Vec<_> = files
            .iter()
            .filter(|(n, _)| *n == &format!("{path}.bin") || n.starts_with(&format!("{path}-")))
            .collect();
        assert_eq!(matching.len(), 1, "{path}");
        assert_eq!(matching[0].1.len(), size, "{path}");
    }
    let _ = std::fs::remove_dir_all(&d);
}
