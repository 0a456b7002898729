#![no_main]
//! uuencode: lenient decoding and block finding never panic on any input; strict decoding
//! of our own encoding gives the input back, in both formats; streaming in pieces agrees
//! with decoding whole.
use libfuzzer_sys::fuzz_target;
use postern_message::uuencode::{
    Decoder, Format, Strictness, decode, encode, find_blocks, parse_begin_line,
};

fuzz_target!(|data: &[u8]| {
    for format in [Format::Classic, Format::Base64] {
        let mut whole = Vec::new();
        decode(data, format, Strictness::Lenient, &mut whole).expect("lenient never fails");
        let _ = decode(data, format, Strictness::Strict, &mut Vec::new());

        // Feeding line-aligned pieces gives the same octets.
        let mut d = Decoder::new(format, Strictness::Lenient);
        let mut pieces = Vec::new();
        let cut = data.len() / 2;
        let cut = data[..cut]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |i| i + 1);
        d.feed(&data[..cut], &mut pieces).unwrap();
        d.feed(&data[cut..], &mut pieces).unwrap();
        d.finish(&mut pieces).unwrap();
        assert_eq!(whole, pieces);

        let mut text = Vec::new();
        encode(data, 0o644, "f", format, &mut text);
        let block = find_blocks(&text).next().expect("our own block is found");
        let mut back = Vec::new();
        block
            .decode(Strictness::Strict, &mut back)
            .expect("strict accepts our encoding");
        assert_eq!(back, data);
    }
    for block in find_blocks(data) {
        assert!(block.start < block.end && block.end <= data.len());
        let _ = block.decode(Strictness::Lenient, &mut Vec::new());
    }
    let _ = parse_begin_line(data);
});
