//! `Queue::body_reader`: the body as a `Read`, equal to `Queue::body`, and unaffected by a
//! delete and compaction that happen while it is being read.

use std::io::Read;

use postern_queue::{Envelope, Queue, QueueConfig, SpoolError, Timestamp};

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("postern-queue-t-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A body of `len` bytes that is not periodic in small strides.
fn body(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn reader_yields_the_body_in_small_reads_even_after_delete_and_compaction() {
    let dir = tmp("body-reader");
    let now = Timestamp(1_700_000_000_000);
    let (q, _) = Queue::open(&dir, QueueConfig::default(), now).unwrap();
    let want = body(300_000);
    let env = Envelope::new("a@example.org", ["b@example.com"], now);
    let id = q.enqueue(&env, &want, now).unwrap();
    let other = q.enqueue(&env, b"second\r\n", now).unwrap();

    let mut reader = q.body_reader(id).unwrap();
    let mut first = [0u8; 1000];
    reader.read_exact(&mut first).unwrap();
    // The message goes away and its space is reclaimed while the reader is half way.
    q.delete(id).unwrap();
    q.compact(u64::MAX).unwrap();
    let mut got = first.to_vec();
    let mut chunk = [0u8; 4093];
    loop {
        let n = reader.read(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the streamed body differs");

    let mut small = String::new();
    q.body_reader(other)
        .unwrap()
        .read_to_string(&mut small)
        .unwrap();
    assert_eq!(small.as_bytes(), q.body(other).unwrap());
    assert!(matches!(q.body_reader(id), Err(SpoolError::NotFound(x)) if x == id));
    drop(q);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// After a restart (the size comes from recovery) the reader yields the body; a byte
/// changed on disk inside the body then makes the reader end in `InvalidData` instead of
/// a clean end.
#[test]
fn reader_after_recovery_and_damage_is_an_error_at_the_end() {
    let dir = tmp("body-damage");
    let now = Timestamp(1_700_000_000_000);
    let mut want = b"MARKER-".to_vec();
    want.extend(body(50_000));
    let env = Envelope::new("a@example.org", ["b@example.com"], now);
    let id = {
        let (q, _) = Queue::open(&dir, QueueConfig::default(), now).unwrap();
        q.enqueue(&env, &want, now).unwrap()
    };
    let (q, _) = Queue::open(&dir, QueueConfig::default(), now).unwrap();
    let mut got = Vec::new();
    q.body_reader(id).unwrap().read_to_end(&mut got).unwrap();
    assert!(got == want, "the body read after recovery differs");

    // Damage one byte in the middle of the body, in place (same file), while open.
    let mut damaged = false;
    for entry in std::fs::read_dir(dir.join("seg")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if let Some(at) = bytes.windows(7).position(|w| w == b"MARKER-") {
            use std::os::unix::fs::FileExt;
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.write_all_at(&[bytes[at + 25_000] ^ 0x01], (at + 25_000) as u64)
                .unwrap();
            damaged = true;
        }
    }
    assert!(damaged, "the body was found in a segment");
    let mut got = Vec::new();
    let err = q
        .body_reader(id)
        .unwrap()
        .read_to_end(&mut got)
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    assert_eq!(got.len(), want.len(), "the bytes come before the error");
    drop(q);
    std::fs::remove_dir_all(&dir).unwrap();
}
