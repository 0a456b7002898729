#![no_main]
//! Message parsing: any input parses (with tight limits too) and every accessor runs;
//! encoded message/rfc822 parts decoded and parsed as nested messages stay bounded.
use libfuzzer_sys::fuzz_target;
use postern_message::{Encapsulated, Limits, Message, PartKind, TransferEncoding};

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
            let raw = part.raw_body().len();
            // base64 and QP never grow; lenient uudecode pads short lines to their length
            // character (as GNU does), so it is bounded only linearly.
            if part.transfer_encoding() == TransferEncoding::UuEncode {
                assert!(decoded.len() <= 64 * raw + 64);
            } else {
                assert!(decoded.len() <= raw);
            }
        }
        assert_eq!(msg.find_path(&msg.path(i)), Some(i));
        assert!(part.span().end <= msg.source(i).len());
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
    tight.max_encapsulation_depth = 2;
    let msg = Message::parse_with(data, &tight);
    assert!(msg.parts().len() <= 5);
    exercise(&msg);
    for limits in [Limits::default(), tight] {
        let store = Encapsulated::new(data, &limits);
        let msg = Message::parse_nested(data, &store, &limits);
        assert!(msg.parts().len() <= limits.max_parts);
        exercise(&msg);
    }
});
