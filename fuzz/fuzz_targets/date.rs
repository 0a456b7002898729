#![no_main]
//! Dates: any bytes parse to a valid instant or None, and a parsed date survives a
//! round trip through its RFC 2822 rendering.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(d) = postern_message::date::parse(data) {
        let again = postern_message::date::parse(d.to_rfc2822().as_bytes());
        assert_eq!(again, Some(d));
    }
});
