#![no_main]
//! TNEF: decoding never panics on any input and keeps no more than its input (every
//! attachment's data is a slice of it); a message carrying the input as a winmail.dat
//! part expands without panicking, and the expansion parses.
use libfuzzer_sys::fuzz_target;
use postern_message::Message;
use postern_message::builder::{MessageBuilder, PartSpec};
use postern_message::mime_types::MimeTypes;
use postern_message::tnef;

fn kept(t: &tnef::Tnef) -> usize {
    t.attachments
        .iter()
        .map(|a| a.data.len() + a.embedded.as_deref().map_or(0, kept))
        .sum()
}

fuzz_target!(|data: &[u8]| {
    // The signature in front, so the fuzzer explores the attributes, and as given.
    let mut signed = 0x223E_9F78u32.to_le_bytes().to_vec();
    signed.extend_from_slice(data);
    for input in [data, &signed[..]] {
        if let Ok(t) = tnef::decode(input) {
            // Embedded data is counted once per nesting level (at most MAX_DEPTH + 1).
            assert!(kept(&t) <= input.len() * (tnef::MAX_DEPTH + 1));
            assert!(t.attachments.len() <= tnef::MAX_ATTACHMENTS);
        }
    }
    let raw = MessageBuilder::new()
        .from("a@x.example")
        .part(PartSpec::attachment("winmail.dat", "application/ms-tnef", signed))
        .build();
    if let Some(e) = tnef::expand_message(&Message::parse(&raw), &MimeTypes::builtin()) {
        let back = Message::parse(&e.message);
        assert!(!back.parts().is_empty());
    }
});
