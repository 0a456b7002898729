#![no_main]
//! Feeds arbitrary bytes to `ReplyParser` in fuzzer-chosen chunks: it must never panic,
//! must keep its buffer within the limits, must give the same replies as a one-shot
//! feed, and `Capabilities::from_reply` must accept every reply it produces.
mod chunks;

use chunks::chunks;
use libfuzzer_sys::fuzz_target;
use postern_smtp::{Capabilities, Limits, Reply, ReplyError, ReplyParser};

fn parse(limits: &Limits, input: &[u8], chunk_seed: u8) -> Vec<Result<Reply, ReplyError>> {
    let mut p = ReplyParser::new(limits);
    let mut out = Vec::new();
    // Chunk lengths of 1..=64 octets (or all at once for seed 0).
    for chunk in chunks(input, chunk_seed, 64) {
        p.feed(chunk);
        assert!(p.buffered() <= limits.max_reply_line * (limits.max_reply_lines + 1));
        while let Some(r) = p.next_reply() {
            if let Ok(reply) = &r {
                assert!(!reply.lines.is_empty());
                assert!((200..600).contains(&reply.code));
                let caps = Capabilities::from_reply(reply);
                let _ = caps.has("SIZE");
            }
            out.push(r);
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, rest)) = data.split_first() else {
        return;
    };
    let Some((&chunk_seed, input)) = rest.split_first() else {
        return;
    };
    let limits = if config & 1 == 0 {
        Limits::default()
    } else {
        let mut l = Limits::default();
        l.max_reply_line = usize::from(config >> 1) % 64;
        l.max_reply_lines = usize::from(config >> 4) % 6;
        l
    };
    let chunked = parse(&limits, input, chunk_seed);
    let whole = parse(&limits, input, 0);
    assert_eq!(chunked, whole);
});
