#![no_main]
//! Transfer decoders: total, never growing, and base64 agrees with the base64 crate on
//! canonical input.
use libfuzzer_sys::fuzz_target;
use postern_message::TransferEncoding;

fuzz_target!(|data: &[u8]| {
    for enc in [
        TransferEncoding::Base64,
        TransferEncoding::QuotedPrintable,
        TransferEncoding::SevenBit,
    ] {
        let out = enc.decode(data);
        assert!(out.len() <= data.len());
    }
    // Lenient uudecode pads short lines to their length character (as GNU does): linear.
    assert!(TransferEncoding::UuEncode.decode(data).len() <= 64 * data.len() + 64);
    // Re-encode the decoded bytes canonically and decode again: must round-trip.
    let decoded = TransferEncoding::Base64.decode(data).into_owned();
    let mut canonical = String::new();
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for c in decoded.chunks(3) {
        let v = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            canonical.push(if i <= c.len() {
                char::from(A[(v >> (18 - 6 * i) & 63) as usize])
            } else {
                '='
            });
        }
    }
    assert_eq!(
        TransferEncoding::Base64.decode(canonical.as_bytes()),
        decoded
    );
});
