#![no_main]
//! Decodes arbitrary bytes as a DATA body, once whole and once split at a fuzzer-chosen
//! point: both must give the same content, status and consumed count; every step must
//! consume no more than its input and make progress; at most one `Done`. `decode_into`
//! over the same two chunks must give the same content, consumed count and status, and
//! each of its calls what stepping that chunk gives.
use libfuzzer_sys::fuzz_target;
use postern_smtp::{BareLinePolicy, DataDecoder, DataStatus, Limits};

#[derive(Debug, PartialEq)]
struct Outcome {
    content: Vec<u8>,
    status: DataStatus,
    consumed: usize,
}

fn decode(limits: &Limits, policy: BareLinePolicy, input: &[u8], split: usize) -> Outcome {
    let mut dec = DataDecoder::new(limits, policy);
    let mut out = Outcome {
        content: Vec::new(),
        status: DataStatus::More,
        consumed: 0,
    };
    for mut chunk in [&input[..split], &input[split..]] {
        let mut idle = 0;
        while !chunk.is_empty() {
            let step = dec.step(chunk);
            assert!(step.consumed <= chunk.len());
            // A step may consume nothing only when it hands back a held-over CRLF.
            if step.consumed == 0 && step.content.is_empty() {
                idle += 1;
            } else {
                idle = 0;
            }
            assert!(idle < 2, "no progress");
            assert!(step.content.len() <= chunk.len().max(2));
            out.content.extend_from_slice(step.content);
            out.consumed += step.consumed;
            chunk = &chunk[step.consumed..];
            if let DataStatus::Done(result) = step.status {
                if let Ok(size) = result {
                    assert_eq!(size, out.content.len() as u64);
                }
                out.status = DataStatus::Done(result);
                return out;
            }
        }
    }
    assert_eq!(out.consumed, input.len());
    out
}

/// The same two chunks through `decode_into`, each call checked against stepping a clone
/// of the decoder over the same chunk.
fn decode_into(limits: &Limits, policy: BareLinePolicy, input: &[u8], split: usize) -> Outcome {
    let mut dec = DataDecoder::new(limits, policy);
    let mut out = Outcome {
        content: Vec::new(),
        status: DataStatus::More,
        consumed: 0,
    };
    for chunk in [&input[..split], &input[split..]] {
        let mut by_step = dec.clone();
        let mut want = out.content.clone();
        let mut pos = 0;
        let want_status = loop {
            let step = by_step.step(&chunk[pos..]);
            want.extend_from_slice(step.content);
            pos += step.consumed;
            if matches!(step.status, DataStatus::Done(_)) || pos == chunk.len() {
                break step.status;
            }
        };
        let (n, status) = dec.decode_into(chunk, &mut out.content);
        assert_eq!((n, &status), (pos, &want_status));
        assert_eq!(out.content, want);
        assert_eq!(dec.size(), by_step.size());
        out.consumed += n;
        if let DataStatus::Done(_) = status {
            out.status = status;
            return out;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (head, input) = data.split_at(3);
    let policy = if head[0] & 1 == 0 {
        BareLinePolicy::Reject
    } else {
        BareLinePolicy::Normalize
    };
    let mut limits = Limits::default();
    if head[0] & 2 != 0 {
        limits.max_message_size = u64::from(head[0] >> 2) * 8;
        limits.max_data_line = usize::from(head[0] >> 4) * 4;
    }
    let split_at = usize::from(u16::from_le_bytes([head[1], head[2]])) % (input.len() + 1);
    let whole = decode(&limits, policy, input, input.len());
    let split = decode(&limits, policy, input, split_at);
    assert_eq!(whole, split);
    assert_eq!(decode_into(&limits, policy, input, input.len()), whole);
    assert_eq!(decode_into(&limits, policy, input, split_at), whole);
    assert!(whole.content.len() as u64 <= limits.max_message_size);
});
