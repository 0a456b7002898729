#![no_main]
//! Feeds arbitrary bytes to `codec::ServerCodec` in fuzzer-chosen chunks: it must never
//! panic, never hold more than one line's limit of a line it is discarding, and give the
//! same lines as a one-shot feed.
mod chunks;

use bytes::BytesMut;
use chunks::chunks;
use libfuzzer_sys::fuzz_target;
use postern_smtp::Limits;
use postern_smtp::codec::{CommandLine, ServerCodec};
use tokio_util::codec::Decoder;

fn frame(input: &[u8], chunk_seed: u8) -> Vec<CommandLine> {
    let mut limits = Limits::default();
    limits.max_command_line = 64;
    let mut codec = ServerCodec::new(&limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks(input, chunk_seed, 100) {
        buf.extend_from_slice(chunk);
        while let Some(line) = codec.decode(&mut buf).expect("framing never fails") {
            if let CommandLine::Line(l) = &line {
                assert!(l.len() < 64 && !l.contains(&b'\n'));
            }
            out.push(line);
        }
        assert!(buf.len() <= 64, "unbounded buffering: {}", buf.len());
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    assert_eq!(frame(input, seed), frame(input, 0));
});
