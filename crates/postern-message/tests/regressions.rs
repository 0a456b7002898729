//! Inputs the fuzzers found, kept as regression tests (the small ones live as unit tests
//! beside the code they broke).

use postern_message::{Message, TransferEncoding};

/// An x-uuencode part whose short lines declare more octets than they carry: lenient
/// uudecode pads them (as GNU does), so the decoded size may exceed the raw size, but only
/// linearly. The fuzz target first asserted "never grows" for every encoding.
#[test]
fn uuencode_padding_is_bounded() {
    let raw = include_bytes!("fuzz/message_parse-uu-padding.bin");
    let msg = Message::parse(raw);
    let uu: Vec<_> = msg
        .parts()
        .iter()
        .filter(|p| p.transfer_encoding() == TransferEncoding::UuEncode)
        .collect();
    assert!(!uu.is_empty());
    for part in uu {
        let body = part.raw_body();
        assert!(part.decoded_body().len() <= 64 * body.len() + 64);
    }
}
