//! The TNEF decoder against TNEF of our own making and against the Debian `tnef` tool
//! (`apt-get install tnef`; scripts/test.sh installs it): same files, same bytes.

mod tnef_writer;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use postern_message::Message;
use postern_message::mime_types::MimeTypes;
use postern_message::tnef::{self, TnefError};
use tnef_writer::{Att, Writer};

fn att(title: Option<&str>, long: Option<&str>, unicode: bool, data: &[u8]) -> Att {
    Att {
        title: title.map(|t| t.as_bytes().to_vec()),
        long_name: long.map(str::to_string),
        unicode_name: unicode,
        data: data.to_vec(),
        embedded: None,
    }
}

/// The streams both decoders are judged on.
fn samples() -> Vec<(&'static str, Vec<u8>)> {
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    vec![
        (
            "title-only",
            Writer {
                body: Some("Hello".into()),
                atts: vec![att(
                    Some("REPORT.TXT"),
                    None,
                    false,
                    b"line 1\r\nline 2\r\n",
                )],
                ..Writer::default()
            },
        ),
        (
            "long-names",
            Writer {
                atts: vec![
                    att(
                        Some("QUARTE~1.XLS"),
                        Some("Quarterly figures 2026.xls"),
                        false,
                        &binary,
                    ),
                    att(
                        Some("NOTES~1.DOC"),
                        Some("meeting notes, final.doc"),
                        false,
                        b"\x00\x01doc",
                    ),
                ],
                ..Writer::default()
            },
        ),
        (
            "unicode-name",
            Writer {
                atts: vec![att(
                    Some("RESUME~1.PDF"),
                    Some("résumé-Ωmega.pdf"),
                    true,
                    b"%PDF-1.4 fake",
                )],
                ..Writer::default()
            },
        ),
        // (Trailing garbage is judged on our side only: tnef 1.4.18 aborts on it.)
        (
            "bad-checksum",
            Writer {
                atts: vec![att(Some("A.BIN"), None, false, &binary[..1000])],
                bad_checksum: true,
                ..Writer::default()
            },
        ),
        (
            "empty-file",
            Writer {
                atts: vec![att(Some("EMPTY.DAT"), None, false, b"")],
                ..Writer::default()
            },
        ),
    ]
    .into_iter()
    .map(|(n, w)| (n, w.build()))
    .collect()
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("postern-tnef-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// What the Debian tool extracts: file name → bytes.
fn debian_tnef(tag: &str, stream: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let dir = scratch(tag);
    let file = dir.join("winmail.dat");
    std::fs::write(&file, stream).unwrap();
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let status = Command::new("tnef")
        .args(["-K", "--ignore-cruft", "--overwrite", "-f"])
        .arg(&file)
        .arg("-C")
        .arg(&out_dir)
        .status()
        .expect("the Debian `tnef` tool is needed (apt-get install -y tnef)");
    assert!(status.success(), "{tag}: tnef exited with {status}");
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(&out_dir).unwrap() {
        let e = e.unwrap();
        files.insert(
            e.file_name().to_string_lossy().into_owned(),
            std::fs::read(e.path()).unwrap(),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    files
}

#[test]
fn same_files_same_bytes_as_debian_tnef() {
    for (tag, stream) in samples() {
        let ours: BTreeMap<String, Vec<u8>> = tnef::decode(&stream)
            .unwrap()
            .attachments
            .iter()
            .map(|a| (a.name().unwrap().to_string(), a.data.clone()))
            .collect();
        let theirs = debian_tnef(tag, &stream);
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{tag}: file names"
        );
        assert!(ours == theirs, "{tag}: file contents differ");
    }
}

#[test]
fn tolerant_of_real_client_quirks() {
    let w = Writer {
        body: Some("Body text".into()),
        atts: vec![att(None, None, false, b"nameless")],
        bad_checksum: true,
        garbage: vec![7; 5],
    };
    let t = tnef::decode(&w.build()).unwrap();
    assert_eq!(t.body.as_deref(), Some("Body text"));
    assert_eq!(t.attachments.len(), 1);
    assert_eq!(t.attachments[0].name(), None);
    assert_eq!(t.attachments[0].data, b"nameless");
    assert_eq!(t.bad_checksums, 1);
    assert_eq!(t.trailing, 5);
    // A truncated stream keeps what came before the cut.
    let full = w.build();
    let cut = &full[..full.len() - 12];
    let t = tnef::decode(cut).unwrap();
    assert!(t.trailing > 0);
    assert_eq!(t.body.as_deref(), Some("Body text"));
    assert_eq!(tnef::decode(b"\x78\x9f").unwrap_err(), TnefError::NotTnef);
}

#[test]
fn embedded_message_is_decoded() {
    let inner = Writer {
        body: Some("inner body".into()),
        atts: vec![att(Some("IN.TXT"), None, false, b"inside")],
        ..Writer::default()
    }
    .build();
    let outer = Writer {
        atts: vec![Att {
            long_name: Some("Forwarded".into()),
            embedded: Some(inner),
            ..Att::default()
        }],
        ..Writer::default()
    };
    let t = tnef::decode(&outer.build()).unwrap();
    let e = t.attachments[0].embedded.as_ref().unwrap();
    assert_eq!(e.body.as_deref(), Some("inner body"));
    assert_eq!(e.attachments[0].data, b"inside");
}

#[test]
fn lying_counts_cost_no_allocation() {
    // A MAPI property list claiming 4 billion properties in 12 octets.
    let mut s = 0x223E_9F78u32.to_le_bytes().to_vec();
    s.extend_from_slice(&[1, 0]);
    let data = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x1E, 0, 0x07, 0x37, 0xFF, 0xFF, 0xFF, 0x7F,
    ];
    s.push(2);
    s.extend_from_slice(&0x0006_9005u32.to_le_bytes());
    s.extend_from_slice(&(data.len() as u32).to_le_bytes());
    s.extend_from_slice(&data);
    s.extend_from_slice(&[0, 0]);
    let t = tnef::decode(&s).unwrap();
    assert_eq!(t.attachments.len(), 1);
    assert!(t.attachments[0].long_name.is_none());
}

#[test]
fn tnef_part_becomes_attachments_and_body_text() {
    let stream = Writer {
        body: Some("The rich text body".into()),
        atts: vec![
            att(Some("A.PDF"), Some("annual report.pdf"), false, b"%PDF"),
            att(None, None, false, b"?"),
        ],
        ..Writer::default()
    }
    .build();
    let b64 = base64_lines(&stream);
    let raw = format!(
        "From: a@x.example\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n--BB\r\nContent-Type: application/ms-tnef\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=winmail.dat\r\n\r\n{b64}--BB--\r\n"
    );
    let out = tnef::expand_message(&Message::parse(raw.as_bytes()), &MimeTypes::builtin()).unwrap();
    assert_eq!((out.tnef_parts, out.attachments), (1, 2));
    let back = Message::parse(&out.message);
    assert!(!back.parts().iter().any(tnef::is_tnef_part));
    let leaves: Vec<_> = back.leaves().map(|i| &back.parts()[i]).collect();
    assert_eq!(
        leaves[0].text().as_deref().map(str::trim_end),
        Some("The rich text body")
    );
    assert_eq!(leaves[1].filename().as_deref(), Some("annual report.pdf"));
    assert_eq!(leaves[1].content_type().essence(), "application/pdf");
    assert_eq!(&leaves[1].decoded_body()[..], b"%PDF");
    assert_eq!(leaves[2].filename().as_deref(), Some("attachment-2.bin"));
    assert_eq!(back.subject().as_deref(), Some("s"));
}

fn base64_lines(data: &[u8]) -> String {
    use base64::Engine;
    let s = base64::engine::general_purpose::STANDARD.encode(data);
    s.as_bytes()
        .chunks(76)
        .map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap()))
        .collect()
}
