//! Any message the builder makes survives being wrapped as a base64 (or quoted-printable)
//! `message/rfc822` part: parsed with `Message::parse_nested`, the wrapper's child tree
//! equals the tree of the original parsed on its own (types, headers, decoded payloads).

use postern_message::builder::{Body, MessageBuilder, PartSpec};
use postern_message::{Encapsulated, Limits, Message, TransferEncoding};
use proptest::prelude::*;

/// One part, compared by what a reader sees of it.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    depth: usize,
    content_type: String,
    headers: Vec<(String, String)>,
    payload: Option<Vec<u8>>,
}

/// The subtree under part `top`, depth-first, depths relative to `top`.
fn subtree(msg: &Message<'_>, top: usize) -> Vec<Seen> {
    let mut out = Vec::new();
    let mut stack = vec![(top, 0)];
    while let Some((i, depth)) = stack.pop() {
        let p = &msg.parts()[i];
        out.push(Seen {
            depth,
            content_type: p.content_type().essence(),
            headers: p
                .headers()
                .iter()
                .map(|h| (h.name().to_string(), h.value().into_owned()))
                .collect(),
            payload: p
                .children()
                .is_empty()
                .then(|| p.decoded_body().into_owned()),
        });
        stack.extend(p.children().iter().rev().map(|&c| (c, depth + 1)));
    }
    out
}

fn inner_message() -> impl Strategy<Value = Vec<u8>> {
    (
        "[a-zA-Z0-9 é]{1,30}",
        proptest::option::of("([a-zé .=-]|\n){0,200}"),
        proptest::option::of("[<>a-z /\n]{0,100}"),
        proptest::collection::vec(
            (
                "[a-z]{1,10}\\.[a-z]{3}",
                proptest::collection::vec(any::<u8>(), 0..300),
            ),
            0..3,
        ),
        proptest::option::of("[a-z ]{1,20}"),
    )
        .prop_map(|(subject, text, html, files, nested)| {
            let mut b = MessageBuilder::new()
                .from("a@example.org")
                .to("b@example.com")
                .subject(subject)
                .message_id("m@example");
            if let Some(t) = text {
                b = b.text(t);
            }
            if let Some(h) = html {
                b = b.html(h);
            }
            for (name, data) in files {
                b = b.attachment(&name, "application/octet-stream", data);
            }
            if let Some(n) = nested {
                let inner = MessageBuilder::new()
                    .from("c@example.org")
                    .subject(n)
                    .text("deep\n")
                    .build();
                b = b.message(inner);
            }
            b.build()
        })
}

fn wrap(inner: Vec<u8>, encoding: TransferEncoding) -> Vec<u8> {
    let mut part = PartSpec::leaf("message/rfc822", Vec::new());
    part.body = Body::Data {
        bytes: inner,
        encoding: Some(encoding),
    };
    MessageBuilder::new()
        .from("outer@example.org")
        .subject("fwd")
        .text("see attached\n")
        .part(part)
        .build()
}

fn check(inner: &[u8], encoding: TransferEncoding) -> Result<(), TestCaseError> {
    let raw = wrap(inner.to_vec(), encoding);
    let limits = Limits::default();
    let store = Encapsulated::new(&raw, &limits);
    let outer = Message::parse_nested(&raw, &store, &limits);
    let wrapper = outer
        .parts()
        .iter()
        .position(|p| p.content_type().is("message", "rfc822"))
        .expect("the wrapper part");
    prop_assert_eq!(outer.parts()[wrapper].transfer_encoding(), encoding);
    prop_assert_eq!(outer.parts()[wrapper].children().len(), 1);
    let child = outer.parts()[wrapper].children()[0];
    let alone = Message::parse(inner);
    prop_assert_eq!(subtree(&outer, child), subtree(&alone, 0));
    prop_assert_eq!(outer.source(child), inner);
    prop_assert!(!outer.limited());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn built_message_survives_base64_rfc822_wrapping(inner in inner_message()) {
        check(&inner, TransferEncoding::Base64)?;
    }

    #[test]
    fn built_message_survives_qp_rfc822_wrapping(inner in inner_message()) {
        check(&inner, TransferEncoding::QuotedPrintable)?;
    }
}

/// Wrapping the wrapped message again, several times: every level is decoded.
#[test]
fn encoded_messages_nest_to_the_limit() {
    let mut raw = MessageBuilder::new()
        .from("a@example.org")
        .subject("core")
        .text("payload\n")
        .build();
    for _ in 0..10 {
        raw = wrap(raw, TransferEncoding::Base64);
    }
    let limits = Limits::default();
    let store = Encapsulated::new(&raw, &limits);
    let msg = Message::parse_nested(&raw, &store, &limits);
    let subjects: Vec<String> = msg
        .parts()
        .iter()
        .filter_map(|p| p.header_value("subject").map(|s| s.into_owned()))
        .collect();
    // The top message and `max_encapsulation_depth` decoded levels; the innermost two
    // wrappers stay encoded leaves.
    assert_eq!(subjects.len(), 1 + limits.max_encapsulation_depth);
    assert!(subjects.iter().all(|s| s == "fwd"));
    let mut tight = Limits::default();
    tight.max_encapsulation_depth = 11;
    let store = Encapsulated::new(&raw, &tight);
    let msg = Message::parse_nested(&raw, &store, &tight);
    let text: Vec<_> = msg
        .leaves()
        .filter_map(|i| msg.parts()[i].text().map(|t| t.into_owned()))
        .collect();
    assert_eq!(text.last().map(String::as_str), Some("payload\r\n"));
    assert_eq!(
        msg.parts()
            .iter()
            .filter(|p| p.header_value("subject").as_deref() == Some("core"))
            .count(),
        1
    );
}
