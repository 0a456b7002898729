//! The protocol-log transcript over any interleaving of client and server bytes: never a
//! panic, bounded output, and an AUTH secret never appears.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut t = postern_gateway::protolog::Transcript::in_memory();
    // First byte of each record: bit 0 = server side, the rest = length.
    let mut rest = data;
    while let Some((&head, tail)) = rest.split_first() {
        let n = usize::from(head >> 1).min(tail.len());
        let (chunk, after) = tail.split_at(n);
        if head & 1 == 1 {
            t.server(chunk);
        } else {
            t.client(chunk);
        }
        rest = after;
    }
    // End any partial line; then, if the session is back at a command (not inside message
    // data or a BDAT chunk, where the bytes are not a command at all), an AUTH line's
    // secret must never be written.
    t.client(b"\r\n");
    let at_command = t.expects_command();
    t.client(b"AUTH PLAIN c2VjcmV0Zm9yZnV6eg==\r\n");
    let lines = t.take_lines();
    assert!(lines.len() <= 64 * data.len() + 4096);
    if at_command {
        assert!(!lines.contains("c2VjcmV0Zm9yZnV6eg"), "{lines}");
    }
});
