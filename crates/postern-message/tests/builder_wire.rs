//! Property tests for the builder's wire form, independent of the parser: every line ends
//! in CRLF, header lines stay within 78 characters (values here have no word longer than
//! that), the message is ASCII, and no boundary delimiter occurs inside a part.

use postern_message::builder::{MailboxSpec, MessageBuilder};
use proptest::prelude::*;

fn words() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            "[a-zA-Z0-9]{1,20}",
            "[a-zäöüéß]{1,12}",
            "[日本語]{1,8}",
            "[,;:\"<>@()]{1,3}"
        ],
        0..12,
    )
    .prop_map(|w| w.join(" "))
}

fn builder() -> impl Strategy<Value = MessageBuilder> {
    (
        words(),
        words(),
        proptest::option::of("(\\PC|\n){0,300}"),
        proptest::option::of("[<>a-z \n]{0,200}"),
        proptest::collection::vec(
            (
                "[a-zé ]{1,40}\\.bin",
                proptest::collection::vec(any::<u8>(), 0..400),
            ),
            0..3,
        ),
        proptest::option::of("(--=_pst[0-9a-f_]{0,20}|[a-z]|\n){0,50}"),
    )
        .prop_map(|(subject, name, text, html, atts, nested)| {
            let mut b = MessageBuilder::new()
                .from(MailboxSpec::with_name(name, "a@example.org"))
                .to("b@example.org")
                .subject(subject);
            if let Some(t) = text {
                b = b.text(t);
            }
            if let Some(h) = html {
                b = b.html(h);
            }
            for (n, d) in atts {
                b = b.attachment(n, "application/octet-stream", d);
            }
            if let Some(n) = nested {
                let raw = format!("Subject: inner\r\n\r\n{n}\r\n");
                b = b.message(raw.into_bytes());
            }
            b
        })
}

proptest! {
    #[test]
    fn wire_form_is_clean(b in builder()) {
        let raw = b.build();
        prop_assert!(raw.is_ascii());
        prop_assert!(raw.ends_with(b"\r\n"));
        let text = String::from_utf8(raw).unwrap();
        // No bare LF or CR.
        prop_assert!(!text.replace("\r\n", "").contains(['\r', '\n']));
        let (head, _) = text.split_once("\r\n\r\n").unwrap();
        for line in head.split("\r\n") {
            prop_assert!(line.len() <= 78, "header line of {}: {}", line.len(), line);
        }
        for line in text.split("\r\n") {
            prop_assert!(line.len() <= 998);
        }
        // Every boundary declared is used only as a delimiter line.
        for decl in text.match_indices("boundary=\"") {
            let start = decl.0 + "boundary=\"".len();
            let end = start + text[start..].find('"').unwrap();
            let boundary = &text[start..end];
            let delim = format!("--{boundary}");
            for (i, _) in text.match_indices(&delim) {
                prop_assert!(i == 0 || text[..i].ends_with("\r\n"));
                let after = &text[i + delim.len()..];
                prop_assert!(after.starts_with("\r\n") || after.starts_with("--\r\n"));
            }
        }
    }
}
