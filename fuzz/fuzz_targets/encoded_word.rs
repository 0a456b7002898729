#![no_main]
//! RFC 2047: decoding any header text terminates with valid UTF-8 (the type guarantees
//! it) and text without `=?` comes back unchanged when it is UTF-8.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let decoded = postern_message::encoded_word::decode(data);
    if !data.windows(2).any(|w| w == b"=?") {
        if let Ok(s) = std::str::from_utf8(data) {
            assert_eq!(decoded, s);
        }
    }
    let _ = postern_message::params::ContentType::parse(data);
    let _ = postern_message::params::ContentDisposition::parse(data);
});
