//! Property tests for the uuencode codec: round trips in both formats, block finding in
//! surrounding text, and lenient decoding of what mail transport does to encoded text.

use postern_message::uuencode::{Format, Strictness, decode, encode, encoded_len, find_blocks};
use proptest::prelude::*;

fn format() -> impl Strategy<Value = Format> {
    prop_oneof![Just(Format::Classic), Just(Format::Base64)]
}

fn encoded(data: &[u8], format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    encode(data, 0o644, "file.bin", format, &mut out);
    out
}

proptest! {
    #[test]
    fn strict_round_trip(data in proptest::collection::vec(any::<u8>(), 0..2000), f in format()) {
        let text = encoded(&data, f);
        prop_assert_eq!(text.len(), encoded_len(data.len(), 0o644, "file.bin", f));
        let blocks: Vec<_> = find_blocks(&text).collect();
        prop_assert_eq!(blocks.len(), 1);
        prop_assert_eq!(blocks[0].start, 0);
        prop_assert_eq!(blocks[0].end, text.len());
        let mut out = Vec::new();
        blocks[0].decode(Strictness::Strict, &mut out).unwrap();
        prop_assert_eq!(out, data);
    }

    #[test]
    fn found_inside_text_and_crlf(
        data in proptest::collection::vec(any::<u8>(), 0..500),
        f in format(),
        before in "[a-z ,.\n]{0,80}",
        after in "[a-z ,.\n]{0,80}",
    ) {
        let mut text = before.clone().into_bytes();
        if !text.is_empty() && !text.ends_with(b"\n") {
            text.push(b'\n');
        }
        let start = text.len();
        text.extend_from_slice(&encoded(&data, f));
        let end = text.len();
        text.extend_from_slice(after.as_bytes());
        let blocks: Vec<_> = find_blocks(&text).collect();
        prop_assert_eq!(blocks.len(), 1);
        prop_assert_eq!((blocks[0].start, blocks[0].end), (start, end));
        // The same text after a trip through a CRLF transport.
        let crlf: Vec<u8> = text.iter().flat_map(|&c| if c == b'\n' { vec![b'\r', b'\n'] } else { vec![c] }).collect();
        let block = find_blocks(&crlf).next().unwrap();
        let mut out = Vec::new();
        block.decode(Strictness::Lenient, &mut out).unwrap();
        prop_assert_eq!(out, data);
    }

    #[test]
    fn lenient_never_fails(body in proptest::collection::vec(any::<u8>(), 0..600), f in format()) {
        let mut out = Vec::new();
        prop_assert!(decode(&body, f, Strictness::Lenient, &mut out).is_ok());
        // Output stays bounded: at most 63 octets per input line, 3 per 4 base64 chars.
        prop_assert!(out.len() <= 63 * (body.len() + 1));
        let _ = decode(&body, f, Strictness::Strict, &mut out);
        let _ = find_blocks(&body).count();
    }
}
