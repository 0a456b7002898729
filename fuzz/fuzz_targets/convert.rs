#![no_main]
//! Conversions never panic on any parsed input, and what they write parses again; the
//! 7bit downgrade output is ASCII unless protected parts had to stay as they were (or
//! the parser hit a limit).
use libfuzzer_sys::fuzz_target;
use postern_message::Message;
use postern_message::convert::{
    downgrade_to_7bit, mime_to_uuencode, translate_charset, uuencode_to_mime,
};

fuzz_target!(|data: &[u8]| {
    let msg = Message::parse(data);
    let seven = downgrade_to_7bit(&msg);
    if seven.report.protected_parts == 0 && !msg.limited() {
        assert!(seven.message.is_ascii(), "7bit output has 8-bit octets");
    }
    for out in [
        seven,
        mime_to_uuencode(&msg),
        uuencode_to_mime(&msg),
        translate_charset(&msg, "iso-8859-1").unwrap(),
        translate_charset(&msg, "utf-8").unwrap(),
    ] {
        let again = Message::parse(&out.message);
        let _ = again.parts().len();
    }
});
