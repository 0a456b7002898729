#![no_main]
//! Encodes arbitrary bytes as a DATA body, once whole and once split at a fuzzer-chosen
//! point: both must give the same octets, which must carry no bare CR or LF and end with
//! the `.` line; the DATA decoder (rejecting bare line ends, no line limit) must read
//! them back to the end marker exactly, and encoding what it read must give the same
//! octets again (the encoder's window scan and its line-by-line path agree).
use libfuzzer_sys::fuzz_target;
use postern_smtp::{BareLinePolicy, DataDecoder, DataEncoder, DataStatus, Limits};

fn encode(pieces: &[&[u8]]) -> Vec<u8> {
    let mut enc = DataEncoder::new();
    let mut out = Vec::new();
    for p in pieces {
        enc.encode(p, &mut out);
    }
    enc.finish(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (head, input) = data.split_at(2);
    let split_at = usize::from(u16::from_le_bytes([head[0], head[1]])) % (input.len() + 1);
    let wire = encode(&[input]);
    assert_eq!(encode(&[&input[..split_at], &input[split_at..]]), wire);
    assert!(wire.ends_with(b".\r\n"));
    for (i, &b) in wire.iter().enumerate() {
        match b {
            b'\r' => assert_eq!(wire.get(i + 1), Some(&b'\n'), "bare CR at {i}"),
            b'\n' => assert!(i > 0 && wire[i - 1] == b'\r', "bare LF at {i}"),
            _ => {}
        }
    }
    let mut limits = Limits::default();
    limits.max_data_line = usize::MAX;
    limits.max_message_size = u64::MAX;
    let mut dec = DataDecoder::new(&limits, BareLinePolicy::Reject);
    let mut content = Vec::new();
    let (used, status) = dec.decode_into(&wire, &mut content);
    assert_eq!(used, wire.len());
    assert!(matches!(status, DataStatus::Done(Ok(n)) if n == content.len() as u64));
    assert_eq!(encode(&[&content]), wire);
});
