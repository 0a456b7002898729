#![no_main]
//! Conversions never panic on any parsed input, and what they write parses again; the
//! 7bit downgrade output is ASCII unless protected parts had to stay as they were (or
//! the parser hit a limit); and a uuencode body made 7-bit keeps every block's decoded
//! content (the blocks are never quoted-printable encoded).
use libfuzzer_sys::fuzz_target;
use postern_message::Message;
use postern_message::convert::{
    Unrepresentable, UuencodeOptions, downgrade_to_7bit, mime_to_uuencode,
    mime_to_uuencode_with, translate_charset, translate_charset_with, uuencode_to_mime,
};
use postern_message::encode::ContentStats;
use postern_message::uuencode::Strictness;

/// The decoded content of every well-formed uuencoded block in the message's top text:
/// 7-bit clean from its `begin` line to its `end` line, which it has (an encoded line
/// with 8-bit octets or a bare CR is no uuencode a `uudecode` could read, and cannot
/// cross a 7-bit path as it is; a block without its `end` ends at the first line that
/// does not look encoded, and the 7bit downgrade can make an 8-bit line look encoded).
fn blocks(raw: &[u8]) -> Vec<Vec<u8>> {
    let msg = Message::parse(raw);
    let text = msg.root().decoded_body();
    msg.root()
        .uuencoded_blocks()
        .iter()
        .filter(|b| {
            text.get(b.start..b.end).is_some_and(|span| {
                ContentStats::of(span).is_seven_bit() && span.trim_ascii_end().ends_with(b"end")
            })
        })
        .map(|b| {
            let mut out = Vec::new();
            let _ = b.decode(Strictness::Lenient, &mut out);
            out
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let msg = Message::parse(data);
    let seven = downgrade_to_7bit(&msg);
    if seven.report.protected_parts == 0 && !msg.limited() {
        assert!(seven.message.is_ascii(), "7bit output has 8-bit octets");
    }
    let ascii = UuencodeOptions {
        charset: "us-ascii".into(),
        unrepresentable: Unrepresentable::Keep,
    };
    let uu = mime_to_uuencode_with(&msg, &ascii).unwrap();
    if uu.report.changed {
        let before = blocks(&uu.message);
        let down = downgrade_to_7bit(&Message::parse(&uu.message));
        // Every block still decodes the same, in order (text transliterated around them
        // may, rarely, come to look like a block too).
        let after = blocks(&down.message);
        let mut rest = after.iter();
        for b in &before {
            assert!(rest.any(|a| a == b), "7bit changed a uuencoded block");
        }
    }
    for out in [
        seven,
        uu,
        mime_to_uuencode(&msg),
        uuencode_to_mime(&msg),
        translate_charset(&msg, "iso-8859-1").unwrap(),
        translate_charset(&msg, "utf-8").unwrap(),
        translate_charset_with(&msg, "us-ascii", Unrepresentable::Transliterate).unwrap(),
        translate_charset_with(&msg, "us-ascii", Unrepresentable::Keep).unwrap(),
    ] {
        let again = Message::parse(&out.message);
        let _ = again.parts().len();
    }
});
