//! DATA framing throughput: postern's `DataDecoder` beside a plain memchr scan for
//! `CRLF.CRLF` (the speed ceiling of any decoder that must look at every line start) and
//! beside smtp-proto's `DataReceiver`; plus the `DataEncoder` on the same body.
//!
//! Run: `cargo bench --bench smtp_data`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group};
use postern_smtp::{BareLinePolicy, DataDecoder, DataEncoder, DataStatus, Limits};

/// Socket-sized reads, as a server would feed the decoder.
const CHUNK: usize = 64 * 1024;
const BODY_SIZE: usize = 10 * 1024 * 1024;

/// A realistic 10 MB message: a header block, then text lines of 60..=78 octets with CRLF,
/// one in 40 starting with a `.` (dot-stuffed on the wire). Returns (message, wire form).
fn message() -> (Vec<u8>, Vec<u8>) {
    let mut body = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: bench\r\n\r\n".to_vec();
    let mut seed: u32 = 0x2545_f491;
    let mut line = 0u32;
    while body.len() < BODY_SIZE {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let len = 60 + (seed % 19) as usize;
        if line.is_multiple_of(40) {
            body.push(b'.');
        }
        body.extend(
            (0..len)
                .map(|i| b"abcdefghij klmnopqrstuvwxyz0123456789 "[(i * 7 + line as usize) % 38]),
        );
        body.extend_from_slice(b"\r\n");
        line += 1;
    }
    let mut wire = Vec::with_capacity(body.len() + body.len() / 32);
    let mut enc = DataEncoder::new();
    enc.encode(&body, &mut wire);
    enc.finish(&mut wire);
    (body, wire)
}

fn limits() -> Limits {
    let mut l = Limits::default();
    l.max_message_size = 64 * 1024 * 1024;
    l
}

/// Decodes `wire` in socket-sized chunks, handing each content slice to `sink`.
fn decode(wire: &[u8], mut sink: impl FnMut(&[u8])) -> u64 {
    let mut dec = DataDecoder::new(&limits(), BareLinePolicy::Reject);
    for mut chunk in wire.chunks(CHUNK) {
        while !chunk.is_empty() {
            let step = dec.step(chunk);
            sink(step.content);
            chunk = &chunk[step.consumed..];
            if let DataStatus::Done(result) = step.status {
                return result.expect("valid body");
            }
        }
    }
    panic!("no end of data")
}

/// Decodes `wire` in socket-sized chunks straight into `out` with `decode_into`.
fn decode_into(wire: &[u8], out: &mut Vec<u8>) -> u64 {
    let mut dec = DataDecoder::new(&limits(), BareLinePolicy::Reject);
    for chunk in wire.chunks(CHUNK) {
        if let (_, DataStatus::Done(result)) = dec.decode_into(chunk, out) {
            return result.expect("valid body");
        }
    }
    panic!("no end of data")
}

fn bench(c: &mut Criterion) {
    let (body, wire) = message();
    let finder = memchr::memmem::Finder::new(b"\r\n.\r\n");
    assert_eq!(finder.find(&wire), Some(wire.len() - 5));
    assert_eq!(decode(&wire, |_| {}), body.len() as u64);

    let mut g = c.benchmark_group("smtp_data");
    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.sample_size(30);

    g.bench_function("memchr_scan_crlf_dot_crlf", |b| {
        b.iter(|| black_box(finder.find(black_box(&wire))))
    });
    g.bench_function("postern_decode", |b| {
        b.iter(|| {
            let mut n = 0usize;
            black_box(decode(black_box(&wire), |s| n += s.len()));
            n
        })
    });
    let mut out = Vec::with_capacity(wire.len());
    assert_eq!(decode_into(&wire, &mut out), body.len() as u64);
    assert_eq!(out, body);
    g.bench_function("postern_decode_into_vec", |b| {
        b.iter(|| {
            out.clear();
            black_box(decode_into(black_box(&wire), &mut out));
        })
    });
    g.bench_function("postern_step_extend_into_vec", |b| {
        b.iter(|| {
            out.clear();
            black_box(decode(black_box(&wire), |s| out.extend_from_slice(s)));
        })
    });
    g.bench_function("smtp_proto_data_receiver_into_vec", |b| {
        b.iter(|| {
            out.clear();
            let mut rx = smtp_proto::request::receiver::DataReceiver::new();
            for chunk in black_box(&wire).chunks(CHUNK) {
                if rx.ingest(&mut chunk.iter(), &mut out) {
                    break;
                }
            }
            black_box(out.len())
        })
    });

    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("postern_encode", |b| {
        b.iter(|| {
            out.clear();
            let mut enc = DataEncoder::new();
            for piece in black_box(&body).chunks(CHUNK) {
                enc.encode(piece, &mut out);
            }
            enc.finish(&mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

/// `POSTERN_CALLGRIND=SIDE:N` decodes the 10 MB body into a `Vec` N times and exits, for
/// instruction counts under `valgrind --tool=callgrind` (two N, divide the difference).
/// SIDE is `postern` (`decode_into`), `postern-step` (`step`, each content slice appended
/// with `extend_from_slice`) or `smtp-proto`.
fn callgrind(spec: &str) {
    let (side, n) = spec.split_once(':').expect("SIDE:N");
    let n: usize = n.parse().expect("N");
    let (_, wire) = message();
    let mut out = Vec::with_capacity(wire.len());
    for _ in 0..n {
        out.clear();
        match side {
            "postern" => {
                decode_into(black_box(&wire), &mut out);
            }
            "postern-step" => {
                decode(black_box(&wire), |s| out.extend_from_slice(s));
            }
            "smtp-proto" => {
                let mut rx = smtp_proto::request::receiver::DataReceiver::new();
                for chunk in black_box(&wire).chunks(CHUNK) {
                    if rx.ingest(&mut chunk.iter(), &mut out) {
                        break;
                    }
                }
            }
            _ => panic!("SIDE is postern, postern-step or smtp-proto"),
        }
    }
    println!("{} octets of content", out.len());
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(spec) = std::env::var("POSTERN_CALLGRIND") {
        return callgrind(&spec);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
