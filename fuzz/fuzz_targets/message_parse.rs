#![no_main]
//! Message parsing: any input parses (with tight limits too) and every accessor runs.
use libfuzzer_sys::fuzz_target;
use postern_message::{Limits, Message, PartKind};

fn exercise(msg: &Message<'_>) {
    for (i, part) in msg.parts().iter().enumerate() {
        for h in part.headers() {
            let _ = h.value();
            let _ = h.addresses();
            let _ = h.date();
            let _ = h.message_ids();
        }
        let _ = part.filename();
        let _ = part.text();
        let _ = part.uuencoded_blocks();
        if matches!(part.kind(), PartKind::Leaf) {
            let decoded = part.decoded_body();
            // Decoding never expands (uuencode and base64 shrink, QP never grows).
            assert!(decoded.len() <= part.raw_body().len());
        }
        assert_eq!(msg.find_path(&msg.path(i)), Some(i));
    }
    for a in msg.attachments() {
        let _ = a.content();
    }
}

fuzz_target!(|data: &[u8]| {
    let msg = Message::parse(data);
    exercise(&msg);
    assert!(msg.parts().len() <= Limits::default().max_parts);
    let mut tight = Limits::default();
    tight.max_depth = 3;
    tight.max_parts = 5;
    tight.max_headers = 4;
    tight.max_header_block = 64;
    let msg = Message::parse_with(data, &tight);
    assert!(msg.parts().len() <= 5);
    exercise(&msg);
});
