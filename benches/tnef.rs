//! TNEF decoding (`postern_message::tnef`): a winmail.dat with a 4 MB attachment and one
//! with 200 small attachments with Unicode names, decoded; and a message carrying the
//! first expanded into MIME attachments (what `rich_text = "never"` does per message).
//!
//! Run: `cargo bench --bench tnef`.

#[path = "../crates/postern-message/tests/tnef_writer/mod.rs"]
mod tnef_writer;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use postern_message::Message;
use postern_message::builder::{MessageBuilder, PartSpec};
use postern_message::mime_types::MimeTypes;
use postern_message::tnef;
use tnef_writer::{Att, Writer};

fn big() -> Vec<u8> {
    let data: Vec<u8> = (0..4u32 << 20).map(|i| (i * 31 % 251) as u8).collect();
    Writer {
        body: Some("Quarterly figures attached.".into()),
        atts: vec![Att {
            title: Some(b"FIGURE~1.XLS".to_vec()),
            long_name: Some("Quarterly figures.xls".into()),
            unicode_name: true,
            data,
            embedded: None,
        }],
        ..Writer::default()
    }
    .build()
}

fn many() -> Vec<u8> {
    Writer {
        atts: (0..200)
            .map(|i| Att {
                title: Some(format!("FILE{i}.TXT").into_bytes()),
                long_name: Some(format!("Protokoll Sitzung Nr. {i} – Zusammenfassung.txt")),
                unicode_name: true,
                data: vec![b'x'; 2048],
                embedded: None,
            })
            .collect(),
        ..Writer::default()
    }
    .build()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("tnef");
    for (name, stream) in [("decode_4mb", big()), ("decode_200_files", many())] {
        g.throughput(Throughput::Bytes(stream.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| tnef::decode(black_box(&stream)).unwrap())
        });
    }
    let raw = MessageBuilder::new()
        .from("a@x.example")
        .part(PartSpec::attachment(
            "winmail.dat",
            "application/ms-tnef",
            big(),
        ))
        .build();
    let types = MimeTypes::builtin();
    g.throughput(Throughput::Bytes(raw.len() as u64));
    g.bench_function("expand_message_4mb", |b| {
        b.iter(|| tnef::expand_message(&Message::parse(black_box(&raw)), &types).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
