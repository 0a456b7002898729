//! Every message of the shared corpus parses, and every accessor runs on every part,
//! without panicking; structural invariants hold.

use std::path::{Path, PathBuf};

use postern_message::{Message, PartKind};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/mail-parser-eml")
}

fn messages(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("corpus directory readable") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            messages(&path, out);
        } else if path.extension().is_some_and(|e| e == "eml") {
            out.push(path);
        }
    }
}

/// Reads everything a client could ask of a message.
fn exercise(msg: &Message<'_>) {
    let input = msg.input();
    for (i, part) in msg.parts().iter().enumerate() {
        for h in part.headers() {
            let _ = h.value();
            let _ = h.unfolded();
        }
        let _ = part.filename();
        let _ = part.disposition();
        let _ = part.text();
        let _ = part.content_type().to_mime();
        let span = part.span();
        assert!(span.start <= span.end && span.end <= input.len());
        for &c in part.children() {
            assert_eq!(msg.parts()[c].parent(), Some(i));
            assert!(
                c > i,
                "children come after their parent (depth-first order)"
            );
        }
        match part.kind() {
            PartKind::Leaf => {
                let decoded = part.decoded_body();
                assert!(decoded.len() <= part.raw_body().len() + 3);
            }
            PartKind::Message => assert_eq!(part.children().len(), 1),
            PartKind::Multipart {
                preamble, epilogue, ..
            } => {
                assert!(preamble.end <= input.len() && epilogue.end <= input.len());
            }
            _ => {}
        }
        assert_eq!(msg.find_path(&msg.path(i)), Some(i));
    }
    let _ = (
        msg.subject(),
        msg.from(),
        msg.to(),
        msg.cc(),
        msg.date(),
        msg.message_id(),
        msg.references(),
    );
    for a in msg.attachments() {
        let _ = (a.filename(), a.content());
    }
}

#[test]
fn whole_corpus_parses() {
    let dir = corpus_dir();
    assert!(dir.is_dir(), "corpus missing at {}", dir.display());
    let mut files = Vec::new();
    messages(&dir, &mut files);
    assert!(
        files.len() >= 100,
        "expected the 107 corpus messages, found {}",
        files.len()
    );
    let mut multipart = 0;
    for path in &files {
        let data = std::fs::read(path).expect("read message");
        let msg = Message::parse(&data);
        exercise(&msg);
        if msg.root().is_multipart() {
            multipart += 1;
        }
        // Every prefix of a message (a truncated transfer) parses too.
        for cut in [data.len() / 3, data.len() / 2, data.len().saturating_sub(7)] {
            exercise(&Message::parse(&data[..cut]));
        }
    }
    assert!(
        multipart > 30,
        "most corpus messages are multipart, found {multipart}"
    );
}

#[test]
fn known_corpus_structures() {
    let data = std::fs::read(corpus_dir().join("malformed/013.eml")).expect("read");
    let msg = Message::parse(&data);
    // Nested multiparts that reuse the outer boundary: the outer owns every `--1` line.
    assert_eq!(msg.parts().len(), 9);
    let data = std::fs::read(corpus_dir().join("rfc/008.eml")).expect("read");
    let msg = Message::parse(&data);
    let attached = &msg.parts()[2];
    assert_eq!(attached.filename().as_deref(), Some("attached_email.eml"));
    let inner = Message::parse(&attached.decoded_body())
        .subject()
        .map(|s| s.into_owned());
    assert_eq!(inner.as_deref(), Some("HTML test"));
}
