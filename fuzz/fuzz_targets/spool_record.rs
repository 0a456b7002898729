#![no_main]
//! The spool's record decoder and recovery scanner on arbitrary bytes.
//!
//! Checks: no panic; every record that decodes re-encodes to the very same bytes; and the
//! recovery scan of a segment accounts for every byte (header + records read + runs it
//! reports as unreadable + the zeros after the records = the whole input), so nothing is
//! skipped silently, and what it takes for zeros is zeros.
use libfuzzer_sys::fuzz_target;
use postern_queue::record::{self, Record};
use postern_queue::spool::{SEGMENT_HEADER, check_segment, segment_header_bytes};

const MAX: u32 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok((rec, used)) = record::decode(rest, MAX) {
        let mut again = Vec::new();
        match &rec {
            Record::Enqueue { id, envelope, body } => record::encode_enqueue(&mut again, *id, envelope, body),
            Record::State { id, state } => record::encode_state(&mut again, *id, state),
            Record::Remove { id } => record::encode_remove(&mut again, *id),
        }
        assert_eq!(again.as_slice(), &rest[..used], "re-encoding differs");
        rest = &rest[used..];
    }
    let mut seg = segment_header_bytes(7);
    seg.extend_from_slice(data);
    let check = check_segment(7, &seg, MAX);
    assert!(check.header_ok);
    let bad: u64 = check.bad.iter().map(|b| b.1).sum();
    assert_eq!(
        SEGMENT_HEADER + check.parsed + bad + check.zeros,
        seg.len() as u64,
        "bytes unaccounted for"
    );
    let zeros_from = seg.len() - check.zeros as usize;
    assert!(seg[zeros_from..].iter().all(|&b| b == 0), "a tail taken for zeros is not");
    let mut end = SEGMENT_HEADER;
    for (off, len, _) in &check.bad {
        assert!(*off >= end && off + len <= seg.len() as u64, "bad runs overlap or overrun");
        end = off + len;
    }
});
