//! The conversion defects of issue 22, as the library sees them: uuencoded blocks never
//! QP-encoded (the text around them goes in the non-MIME charset, or transliterated for
//! 7 bit), `us-ascii` is not Latin-1 and what a charset cannot hold follows a rule and is
//! counted, 7bit conversion never changes the octets of text that is not line-oriented,
//! and text of an unknown charset is never declared UTF-8. The end-to-end versions, with
//! GNU uudecode and Python as judges, are in postern-gateway's `tests/conversion.rs`.

use postern_message::Message;
use postern_message::builder::MessageBuilder;
use postern_message::convert::{
    Unrepresentable, UuencodeOptions, downgrade_to_7bit, mime_to_uuencode_with,
    translate_charset_with,
};
use postern_message::uuencode::Strictness;
use proptest::prelude::*;

/// The decoded content of each uuencoded block of the message's top text.
fn blocks(raw: &[u8]) -> Vec<(String, Vec<u8>)> {
    let msg = Message::parse(raw);
    msg.root()
        .uuencoded_blocks()
        .iter()
        .map(|b| {
            let mut out = Vec::new();
            let _ = b.decode(Strictness::Lenient, &mut out);
            (String::from_utf8_lossy(b.name).into_owned(), out)
        })
        .collect()
}

fn opts(charset: &str, rule: Unrepresentable) -> UuencodeOptions {
    UuencodeOptions {
        charset: charset.into(),
        unrepresentable: rule,
    }
}

#[test]
fn uuencode_with_8bit_text_is_never_quoted_printable() {
    let data: Vec<u8> = (0..=255u8).cycle().take(2000).collect();
    let raw = MessageBuilder::new()
        .subject("x")
        .text("Grüße aus Köln\n")
        .attachment("a.bin", "application/octet-stream", data.clone())
        .build();
    let msg = Message::parse(&raw);
    let uu = mime_to_uuencode_with(&msg, &opts("iso-8859-1", Unrepresentable::Keep)).unwrap();
    assert_eq!(blocks(&uu.message), [("a.bin".to_string(), data.clone())]);
    let down = downgrade_to_7bit(&Message::parse(&uu.message));
    assert!(down.message.is_ascii());
    let text = String::from_utf8(down.message.clone()).unwrap();
    assert!(!text.contains("quoted-printable"), "{text}");
    assert!(text.contains("charset=us-ascii"), "{text}");
    assert!(text.contains("\r\n\r\nGrusse aus Koln\r\n"), "{text}");
    assert_eq!(down.report.unrepresentable, 3);
    assert_eq!(blocks(&down.message), [("a.bin".to_string(), data)]);
}

#[test]
fn uuencode_names_follow_the_body_charset() {
    let raw = MessageBuilder::new()
        .text("plain\n")
        .attachment("Grüße.txt", "application/octet-stream", vec![1])
        .build();
    let msg = Message::parse(&raw);
    let ascii = mime_to_uuencode_with(&msg, &opts("us-ascii", Unrepresentable::Keep)).unwrap();
    assert_eq!(blocks(&ascii.message)[0].0, "Grusse.txt");
    assert!(ascii.message.is_ascii());
    let latin = mime_to_uuencode_with(&msg, &opts("latin1", Unrepresentable::Keep)).unwrap();
    assert!(
        latin
            .message
            .windows(14)
            .any(|w| w == b"begin 644 Gr\xfc\xdf")
    );
    let back = Message::parse(&latin.message);
    assert_eq!(
        back.root().content_type().param("charset"),
        Some("iso-8859-1")
    );
}

#[test]
fn uuencode_text_rules() {
    let raw = MessageBuilder::new().text("5 € — 日本\n").build();
    let msg = Message::parse(&raw);
    let keep = mime_to_uuencode_with(&msg, &opts("us-ascii", Unrepresentable::Keep)).unwrap();
    let back = Message::parse(&keep.message);
    assert_eq!(back.root().content_type().param("charset"), Some("utf-8"));
    assert_eq!(back.root().text().as_deref(), Some("5 € — 日本\r\n"));
    assert_eq!(
        (keep.report.unrepresentable, keep.report.kept_charset),
        (4, 1)
    );
    let rep = mime_to_uuencode_with(&msg, &opts("us-ascii", Unrepresentable::Replace)).unwrap();
    assert!(rep.message.ends_with(b"\r\n\r\n5 ? ? ??\r\n"));
    let tr =
        mime_to_uuencode_with(&msg, &opts("us-ascii", Unrepresentable::Transliterate)).unwrap();
    assert!(tr.message.ends_with(b"\r\n\r\n5 EUR -- ??\r\n"));
    assert!(mime_to_uuencode_with(&msg, &opts("klingon-8", Unrepresentable::Keep)).is_err());
}

#[test]
fn us_ascii_is_not_latin1() {
    let raw = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCafé\r\n";
    let msg = Message::parse(raw.as_bytes());
    let out = translate_charset_with(&msg, "us-ascii", Unrepresentable::Replace).unwrap();
    assert_eq!(out.report.unrepresentable, 1);
    let back = Message::parse(&out.message);
    assert_eq!(
        back.root().content_type().param("charset"),
        Some("us-ascii")
    );
    assert_eq!(back.root().text().as_deref(), Some("Caf?\r\n"));
    assert!(out.message.is_ascii());
    // keep: untouched, still UTF-8 and declared so; counted.
    let out = translate_charset_with(&msg, "ascii", Unrepresentable::Keep).unwrap();
    assert_eq!(out.message, raw.as_bytes());
    assert_eq!(
        (out.report.unrepresentable, out.report.kept_charset),
        (1, 1)
    );
    // Latin-1 proper holds é but not windows-1252's €.
    let raw = "Content-Type: text/plain; charset=utf-8\r\n\r\nCafé €\r\n";
    let out = translate_charset_with(
        &Message::parse(raw.as_bytes()),
        "iso-8859-1",
        Unrepresentable::Transliterate,
    )
    .unwrap();
    let back = Message::parse(&out.message);
    assert_eq!(back.root().text().as_deref(), Some("Café EUR\r\n"));
}

#[test]
fn unknown_charset_text_is_never_declared_utf8() {
    let raw = b"Subject: x\r\n\r\nna\xefve \xff\xfe\r\n";
    let msg = Message::parse(raw);
    let keep = translate_charset_with(&msg, "utf-8", Unrepresentable::Keep).unwrap();
    assert_eq!(keep.message, raw.to_vec());
    assert_eq!(keep.report.kept_charset, 1);
    let uu = mime_to_uuencode_with(&msg, &opts("utf-8", Unrepresentable::Keep)).unwrap();
    let back = Message::parse(&uu.message);
    assert_eq!(
        back.root().content_type().param("charset"),
        Some("unknown-8bit")
    );
    assert!(uu.message.ends_with(b"na\xefve \xff\xfe\r\n"));
}

#[test]
fn utf16_text_keeps_its_octets_in_7bit() {
    let utf16: Vec<u8> = "e\nf\r\ng\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let mut raw =
        b"Content-Type: text/plain; charset=utf-16le\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            .to_vec();
    raw.extend_from_slice(&utf16);
    let out = downgrade_to_7bit(&Message::parse(&raw));
    assert!(out.message.is_ascii());
    let back = Message::parse(&out.message);
    assert_eq!(&back.root().decoded_body()[..], &utf16[..]);
}

#[test]
fn text_attachment_with_bare_lf_keeps_its_octets() {
    let file = b"one\ntwo\n".to_vec();
    let raw = MessageBuilder::new()
        .text("see file\n")
        .attachment("notes.txt", "text/plain", file.clone())
        .build();
    let back = Message::parse(&raw);
    assert_eq!(back.attachments()[0].content(), file);
    // Line-oriented body text is still written in canonical (CRLF) form.
    assert_eq!(back.parts()[1].text().as_deref(), Some("see file\r\n"));
}

/// Found by the `convert` fuzz target: a "block" in headerless text whose encoded lines
/// carry 8-bit octets and bare CRs. No `uudecode` reads that; it cannot cross a 7-bit path
/// as it is, so it goes the usual way (the octets of unknown charset are not relabelled
/// and nothing panics). A real block beside such a one is still copied as it is.
#[test]
fn a_block_with_8bit_lines_is_text() {
    let raw: &[u8] = include_bytes!("fuzz/convert-regression_uu_block_with_8bit_body");
    let msg = Message::parse(raw);
    let uu = mime_to_uuencode_with(&msg, &opts("us-ascii", Unrepresentable::Keep)).unwrap();
    let back = Message::parse(&uu.message);
    assert_eq!(
        back.root().content_type().param("charset"),
        Some("unknown-8bit")
    );
    let down = downgrade_to_7bit(&back);
    assert!(down.message.is_ascii());
    // Beside a real block.
    let mut text =
        b"Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nH\xc3\xa9\r\n".to_vec();
    text.extend_from_slice(b"begin 644 bad\r\n#\x9f\x9f\r\n`\r\nend\r\n\r\n");
    text.extend_from_slice(b"begin 644 good\r\n#86)C\r\n`\r\nend\r\n");
    let down = downgrade_to_7bit(&Message::parse(&text));
    assert!(down.message.is_ascii());
    let got = blocks(&down.message);
    assert!(
        got.contains(&("good".to_string(), b"abc".to_vec())),
        "{got:?}"
    );
    assert!(String::from_utf8_lossy(&down.message).contains("\r\n\r\nHe\r\n"));
}

/// The `convert` fuzz target's property on its seed `regression_uu_block_with_8bit_body`:
/// every well-formed block (7-bit clean from `begin` to `end`) of the uuencoded message
/// decodes the same after the 7bit downgrade. The seed's one "block" has an 8-bit name
/// and no `end`: it ends before its first 8-bit line, which the downgrade turns into `?`s
/// that look encoded, so it grows; it is not well formed, and the property leaves it out
/// (the fuzzer stopped on the seed when the block scan had come to end such blocks
/// there).
#[test]
fn clean_blocks_of_the_8bit_seed_survive_the_downgrade() {
    let clean = |raw: &[u8]| -> Vec<(String, Vec<u8>)> {
        let msg = Message::parse(raw);
        let text = msg.root().decoded_body();
        msg.root()
            .uuencoded_blocks()
            .iter()
            .filter(|b| {
                text.get(b.start..b.end).is_some_and(|span| {
                    postern_message::encode::ContentStats::of(span).is_seven_bit()
                        && span.trim_ascii_end().ends_with(b"end")
                })
            })
            .map(|b| {
                let mut out = Vec::new();
                let _ = b.decode(Strictness::Lenient, &mut out);
                (String::from_utf8_lossy(b.name).into_owned(), out)
            })
            .collect()
    };
    let raw: &[u8] = include_bytes!("fuzz/convert-regression_uu_block_with_8bit_body");
    let uu = mime_to_uuencode_with(
        &Message::parse(raw),
        &opts("us-ascii", Unrepresentable::Keep),
    )
    .unwrap();
    let mut with_good = uu.message.clone();
    with_good.extend_from_slice(b"\r\nbegin 644 good\r\n#86)C\r\n`\r\nend\r\n");
    let before = clean(&with_good);
    assert_eq!(before, [("good".to_string(), b"abc".to_vec())]);
    let after = clean(&downgrade_to_7bit(&Message::parse(&with_good)).message);
    for b in &before {
        assert!(after.contains(b), "{b:?} lost; after: {after:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the text and the non-MIME charset, a uuencode body made 7-bit keeps
    /// every block's content.
    #[test]
    fn uuencoded_blocks_survive_the_7bit_downgrade(
        text in "([a-zA-Z =.,]|é|ß|€|日本|\n){0,200}",
        files in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..800), 1..3),
        charset in proptest::sample::select(&["us-ascii", "iso-8859-1", "utf-8", "koi8-r", "shift_jis"][..]),
        rule in prop_oneof![Just(Unrepresentable::Keep), Just(Unrepresentable::Replace), Just(Unrepresentable::Transliterate)],
    ) {
        let mut b = MessageBuilder::new().subject("x").text(&*text);
        for (i, f) in files.iter().enumerate() {
            b = b.attachment(format!("f{i}.bin"), "application/octet-stream", f.clone());
        }
        let raw = b.build();
        let uu = mime_to_uuencode_with(&Message::parse(&raw), &opts(charset, rule)).unwrap();
        let want: Vec<(String, Vec<u8>)> = files
            .iter()
            .enumerate()
            .map(|(i, f)| (format!("f{i}.bin"), f.clone()))
            .collect();
        prop_assert_eq!(blocks(&uu.message), want.clone());
        let down = downgrade_to_7bit(&Message::parse(&uu.message));
        prop_assert!(down.message.is_ascii());
        prop_assert_eq!(blocks(&down.message), want);
    }
}
