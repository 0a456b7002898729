//! Property tests for the conversions: MIME → uuencode → MIME keeps every attachment byte
//! for byte (and its name); the 7bit downgrade gives a 7-bit message whose parts decode to
//! the same octets; charset translation keeps what the target can hold and turns the rest
//! into counted `?`.

use postern_message::builder::MessageBuilder;
use postern_message::convert::{
    downgrade_to_7bit, mime_to_uuencode, translate_charset, uuencode_to_mime,
};
use postern_message::{Attachment, Message};
use proptest::prelude::*;

fn files() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    proptest::collection::vec(
        (
            "[a-zA-Z0-9é_-][a-zA-Z0-9é _-]{0,20}\\.(bin|dat|zip|pdf)",
            proptest::collection::vec(any::<u8>(), 0..3000),
        ),
        1..4,
    )
}

fn attachments_of(msg: &Message<'_>) -> Vec<(String, Vec<u8>)> {
    msg.attachments()
        .iter()
        .map(|a| (a.filename().unwrap_or_default(), a.content()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn mime_uuencode_mime_keeps_attachments(
        text in "([a-zA-Z .,é]|\n){0,200}",
        html in proptest::option::of("[a-z <>/]{1,50}"),
        files in files(),
    ) {
        let mut b = MessageBuilder::new().from("a@example.org").subject("files").text(text);
        if let Some(h) = html {
            b = b.html(h);
        }
        for (n, d) in &files {
            b = b.attachment(n, "application/octet-stream", d.clone());
        }
        let raw = b.build();
        let uu = mime_to_uuencode(&Message::parse(&raw));
        prop_assert_eq!(uu.report.attachments, files.len());
        // The intermediate form is one text body whose blocks the parser finds.
        let mid = Message::parse(&uu.message);
        prop_assert_eq!(mid.parts().len(), 1);
        prop_assert_eq!(attachments_of(&mid), files.clone());
        let back = uuencode_to_mime(&mid);
        let back = Message::parse(&back.message);
        prop_assert_eq!(back.root().content_type().essence(), "multipart/mixed");
        let got: Vec<(String, Vec<u8>)> = back
            .attachments()
            .iter()
            .filter(|a| matches!(a, Attachment::Part { .. }))
            .map(|a| (a.filename().unwrap_or_default(), a.content()))
            .collect();
        prop_assert_eq!(got, files);
        prop_assert_eq!(back.subject().as_deref().map(str::to_string), Some("files".to_string()));
    }

    #[test]
    fn seven_bit_downgrade_keeps_payloads(
        texts in proptest::collection::vec("([a-zA-Zéü日€ =.]|\r\n){1,300}", 1..3),
        blobs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..500), 0..3),
        subject in "[a-zé ]{1,30}",
    ) {
        // An 8bit message as a sender with 8BITMIME would write it.
        let mut raw = format!("Subject: {subject}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n").into_bytes();
        for t in &texts {
            raw.extend_from_slice(b"--zz\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
            raw.extend_from_slice(t.as_bytes());
            raw.extend_from_slice(b"\r\n");
        }
        for (i, b) in blobs.iter().enumerate() {
            raw.extend_from_slice(format!("--zz\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=f{i}\r\nContent-Transfer-Encoding: binary\r\n\r\n").as_bytes());
            raw.extend_from_slice(b);
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"--zz--\r\n");
        let before = Message::parse(&raw);
        let out = downgrade_to_7bit(&before);
        prop_assert!(out.message.is_ascii());
        for line in out.message.split(|&c| c == b'\n') {
            prop_assert!(line.len() <= 999);
        }
        let after = Message::parse(&out.message);
        prop_assert_eq!(after.subject(), before.subject());
        let leaves = |m: &Message<'_>| -> Vec<(String, Vec<u8>)> {
            m.leaves()
                .map(|i| (m.parts()[i].content_type().essence(), m.parts()[i].decoded_body().into_owned()))
                .collect()
        };
        prop_assert_eq!(leaves(&after), leaves(&before));
    }

    #[test]
    fn charset_translation_is_visible(text in "[a-zA-Zéüß€日本 ,.]{0,120}") {
        let raw = MessageBuilder::new().text(&*text).build();
        let msg = Message::parse(&raw);
        let out = translate_charset(&msg, "iso-8859-1").unwrap();
        let expected: String = text
            .chars()
            .map(|c| if (c as u32) < 0x100 { c } else { '?' })
            .collect();
        let replaced = text.chars().filter(|&c| c as u32 >= 0x100).count();
        prop_assert_eq!(out.report.unrepresentable, replaced);
        let back = Message::parse(&out.message);
        let first = back.leaves().next().unwrap();
        // ASCII text reads the same in both charsets: the message is left as it was.
        let label = if text.is_ascii() { "utf-8" } else { "iso-8859-1" };
        prop_assert_eq!(out.report.changed, !text.is_ascii());
        prop_assert_eq!(back.parts()[first].content_type().param("charset"), Some(label));
        let got = back.parts()[first].text().unwrap().into_owned();
        let want = if expected.is_empty() { String::new() } else { expected.clone() };
        prop_assert_eq!(got.trim_end_matches("\r\n"), want.as_str());
        // And back to UTF-8: the same text, nothing lost a second time.
        let again = translate_charset(&back, "utf-8").unwrap();
        prop_assert_eq!(again.report.unrepresentable, 0);
        let again = Message::parse(&again.message);
        let first = again.leaves().next().unwrap();
        let again_text = again.parts()[first].text().unwrap().into_owned();
        prop_assert_eq!(again_text.trim_end_matches("\r\n"), want.as_str());
    }
}
