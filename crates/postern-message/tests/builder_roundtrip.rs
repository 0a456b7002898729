//! parse(build(m)) preserves what was built: header values (decoded), the MIME structure,
//! and every payload byte for byte (text modulo CRLF line ends, which the wire form uses).

use chrono::{DateTime, FixedOffset, TimeZone};
use postern_message::Message;
use postern_message::builder::{MailboxSpec, MessageBuilder};
use proptest::prelude::*;

fn phrase() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            "[a-zA-Z0-9]{1,10}",
            "[a-zäöüéßø]{1,10}",
            "[日本語한국]{1,6}",
            "[a-z]{1,4}[,.@:;\"()<>]",
        ],
        1..7,
    )
    .prop_map(|w| w.join(" "))
}

#[derive(Debug, Clone)]
struct Spec {
    from: (String, String),
    to: Vec<String>,
    cc: Vec<(String, String)>,
    subject: String,
    date: DateTime<FixedOffset>,
    id: String,
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<(String, Vec<u8>)>,
    nested: Option<String>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (phrase(), "[a-z]{1,8}@[a-z]{1,8}\\.org"),
        proptest::collection::vec("[a-z]{1,8}@example\\.com", 1..4),
        proptest::collection::vec((phrase(), "[a-z]{1,8}@example\\.net"), 0..3),
        phrase(),
        (0i64..4_000_000_000, -43_200i32 / 60..50_400 / 60),
        "[a-z0-9]{1,12}@[a-z]{1,8}\\.example",
        proptest::option::of("([a-zé日 .=-]|\n){0,300}"),
        proptest::option::of("[<>a-z /\n]{0,200}"),
        proptest::collection::vec(
            (
                "[a-zA-Zé日_-][a-zA-Zé日 _-]{0,29}\\.[a-z]{3}",
                proptest::collection::vec(any::<u8>(), 0..600),
            ),
            0..3,
        ),
        proptest::option::of("[a-z ]{1,30}"),
    )
        .prop_map(
            |(from, to, cc, subject, (secs, off_min), id, text, html, attachments, nested)| {
                let tz = FixedOffset::east_opt(off_min * 60).unwrap();
                Spec {
                    from,
                    to,
                    cc,
                    subject,
                    date: tz.timestamp_opt(secs, 0).unwrap(),
                    id,
                    text,
                    html,
                    attachments,
                    nested,
                }
            },
        )
}

fn build(s: &Spec) -> Vec<u8> {
    let mut b = MessageBuilder::new()
        .from(MailboxSpec::with_name(&s.from.0, &s.from.1))
        .subject(&s.subject)
        .date(s.date)
        .message_id(&s.id);
    for t in &s.to {
        b = b.to(t.as_str());
    }
    for (n, a) in &s.cc {
        b = b.cc(MailboxSpec::with_name(n, a));
    }
    if let Some(t) = &s.text {
        b = b.text(t);
    }
    if let Some(h) = &s.html {
        b = b.html(h);
    }
    for (n, d) in &s.attachments {
        b = b.attachment(n, "application/octet-stream", d.clone());
    }
    if let Some(n) = &s.nested {
        let inner = MessageBuilder::new()
            .from("inner@example.org")
            .subject(n)
            .message_id("inner@x")
            .text("inner body\n")
            .build();
        b = b.message(inner);
    }
    b.build()
}

fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn parse_build_preserves_everything(s in spec()) {
        let raw = build(&s);
        let msg = Message::parse(&raw);

        let subject = msg.subject().map(|v| v.into_owned());
        prop_assert_eq!(subject.as_deref(), Some(s.subject.as_str()));
        let from: Vec<_> = msg.from().mailboxes().cloned().collect();
        prop_assert_eq!(from.len(), 1);
        prop_assert_eq!(from[0].name.as_deref(), Some(s.from.0.as_str()));
        prop_assert_eq!(from[0].address.as_ref(), s.from.1.as_str());
        let to: Vec<String> = msg.to().mailboxes().map(|m| m.address.to_string()).collect();
        prop_assert_eq!(&to, &s.to);
        let cc: Vec<(String, String)> = msg
            .cc()
            .mailboxes()
            .map(|m| (m.name.as_deref().unwrap_or("").to_string(), m.address.to_string()))
            .collect();
        prop_assert_eq!(&cc, &s.cc);
        prop_assert_eq!(msg.date(), Some(s.date));
        let id = msg.message_id().map(|v| v.into_owned());
        prop_assert_eq!(id.as_deref(), Some(s.id.as_str()));

        // Structure: the leaves in order, with their payloads.
        let mut want: Vec<(String, Vec<u8>, Option<String>)> = Vec::new();
        if let Some(t) = &s.text {
            want.push(("text/plain".into(), crlf(t).into_bytes(), None));
        }
        if let Some(h) = &s.html {
            want.push(("text/html".into(), crlf(h).into_bytes(), None));
        }
        if s.text.is_none() && s.html.is_none() && s.attachments.is_empty() && s.nested.is_none() {
            want.push(("text/plain".into(), Vec::new(), None));
        }
        for (n, d) in &s.attachments {
            want.push(("application/octet-stream".into(), d.clone(), Some(n.clone())));
        }
        if s.nested.is_some() {
            want.push(("text/plain".into(), b"inner body\r\n".to_vec(), None));
        }
        // A single-part message's body is the end of the message, which always ends with a
        // line break on the wire (SMTP adds one anyway).
        let single = s.attachments.is_empty() && s.nested.is_none() && !(s.text.is_some() && s.html.is_some());
        if single && !want[0].1.is_empty() && !want[0].1.ends_with(b"\r\n") {
            want[0].1.extend_from_slice(b"\r\n");
        }
        let got: Vec<(String, Vec<u8>, Option<String>)> = msg
            .leaves()
            .map(|i| {
                let p = &msg.parts()[i];
                (p.content_type().essence(), p.decoded_body().into_owned(), p.filename().map(|f| f.into_owned()))
            })
            .collect();
        prop_assert_eq!(got, want);

        let alt = s.text.is_some() && s.html.is_some();
        let mixed = !s.attachments.is_empty() || s.nested.is_some();
        let root = msg.root().content_type().essence();
        let expect_root = if mixed { "multipart/mixed" } else if alt { "multipart/alternative" } else if s.html.is_some() && s.text.is_none() { "text/html" } else { "text/plain" };
        prop_assert_eq!(root.as_str(), expect_root);
        if let Some(n) = &s.nested {
            let inner = msg.parts().iter().position(|p| p.content_type().is("message", "rfc822")).unwrap();
            let child = msg.parts()[inner].children()[0];
            let inner_subject = msg.parts()[child].header_value("subject").map(|v| v.into_owned());
            prop_assert_eq!(inner_subject.as_deref(), Some(n.trim()));
        }
    }
}
