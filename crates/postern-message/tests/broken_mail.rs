//! Broken mail of the kinds other MIME parsers' test suites carry (issue 19), written for
//! this project: each message with the parts a reader must get from it, as
//! (path, content type, decoded content) for every leaf, in order.
//! The choices (where the mainstream parsers disagree) are in KNOWN-DIFFERENCES.md.

use postern_message::{Encapsulated, Limits, Message, PartKind};

/// Every part as (path, type, decoded content for leaves / `None` for containers).
fn tree(raw: &[u8]) -> Vec<(String, String, Option<Vec<u8>>)> {
    let limits = Limits::default();
    let store = Encapsulated::new(raw, &limits);
    let msg = Message::parse_nested(raw, &store, &limits);
    (0..msg.parts().len())
        .map(|i| {
            let p = &msg.parts()[i];
            let content = matches!(p.kind(), PartKind::Leaf).then(|| p.decoded_body().into_owned());
            (msg.path(i), p.content_type().essence(), content)
        })
        .collect()
}

fn leaf(path: &str, ty: &str, content: &[u8]) -> (String, String, Option<Vec<u8>>) {
    (path.into(), ty.into(), Some(content.to_vec()))
}

fn node(path: &str, ty: &str) -> (String, String, Option<Vec<u8>>) {
    (path.into(), ty.into(), None)
}

fn b64(data: &[u8]) -> String {
    let mut out = Vec::new();
    postern_message::encode::base64_encode(data, postern_message::encode::LineEnding::Lf, &mut out);
    String::from_utf8(out).unwrap()
}

// ---- 1. encoded message/rfc822 parts, at any depth ----

const INNER: &str = "From: sam@example.org\nSubject: quarterly figures\nContent-Type: multipart/mixed; boundary=in\n\n--in\nContent-Type: text/plain\n\nsee the sheet\n--in\nContent-Type: text/csv; name=q3.csv\nContent-Transfer-Encoding: base64\n\ncSwzCg==\n--in--\n";

#[test]
fn base64_rfc822_is_parsed_as_a_nested_message() {
    let raw = format!(
        "Subject: fwd\nContent-Type: multipart/mixed; boundary=out\n\n--out\n\nforwarded:\n--out\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n{}--out--\n",
        b64(INNER.as_bytes())
    );
    assert_eq!(
        tree(raw.as_bytes()),
        [
            node("", "multipart/mixed"),
            leaf("1", "text/plain", b"forwarded:"),
            node("2", "message/rfc822"),
            node("2.1", "multipart/mixed"),
            leaf("2.1.1", "text/plain", b"see the sheet"),
            leaf("2.1.2", "text/csv", b"q,3\n"),
        ]
    );
}

#[test]
fn quoted_printable_rfc822_is_parsed_as_a_nested_message() {
    let raw = "Content-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\nSubject: =C3=A9t=C3=A9\nContent-Type: text/plain; charset=utf-8\n\ncaf=C3=A9 au lait, a line that was soft-=\nbroken\n";
    let limits = Limits::default();
    let store = Encapsulated::new(raw.as_bytes(), &limits);
    let msg = Message::parse_nested(raw.as_bytes(), &store, &limits);
    assert_eq!(msg.parts().len(), 2);
    assert_eq!(
        msg.parts()[1].header_value("subject").as_deref(),
        Some("été")
    );
    assert_eq!(
        msg.parts()[1].text().as_deref(),
        Some("café au lait, a line that was soft-broken\n")
    );
}

#[test]
fn encoded_messages_nest_inside_each_other() {
    // A QP message inside a base64 message inside a multipart of a plain rfc822 message.
    let deepest = "Subject: three\n\nbottom\n";
    let qp = format!(
        "Subject: two\nContent-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\n{}",
        deepest.replace('=', "=3D")
    );
    let raw = format!(
        "Subject: top\nContent-Type: message/rfc822\n\nSubject: one\nContent-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n{}\n--z--\n",
        b64(qp.as_bytes())
    );
    assert_eq!(
        tree(raw.as_bytes()),
        [
            node("", "message/rfc822"),
            node("1", "multipart/mixed"),
            node("1.1", "message/rfc822"),
            node("1.1.1", "message/rfc822"),
            leaf("1.1.1.1", "text/plain", b"bottom\n"),
        ]
    );
}

#[test]
fn boundaries_inside_an_encoded_message_do_not_end_the_outer_part() {
    // The nested message uses the outer boundary: hidden by base64, it must not cut.
    let inner = "Content-Type: multipart/mixed; boundary=out\n\n--out\n\nin one\n--out\n\nin two\n--out--\n";
    let raw = format!(
        "Content-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n{}\n--out\n\nafter\n--out--\n",
        b64(inner.as_bytes())
    );
    assert_eq!(
        tree(raw.as_bytes()),
        [
            node("", "multipart/mixed"),
            node("1", "message/rfc822"),
            node("1.1", "multipart/mixed"),
            leaf("1.1.1", "text/plain", b"in one"),
            leaf("1.1.2", "text/plain", b"in two"),
            leaf("2", "text/plain", b"after"),
        ]
    );
}

// ---- 2. boundaries ----

#[test]
fn very_long_boundary_with_unusual_characters() {
    let boundary: String = "=_Part'(+),-./:?_ x".repeat(16); // 304 characters, space included
    let raw = format!(
        "Content-Type: multipart/alternative;\n boundary=\"{boundary}\"\n\n--{boundary}\nContent-Type: text/plain\n\nplain\n--{boundary}\nContent-Type: text/html\n\n<p>html</p>\n--{boundary}--\n"
    );
    assert_eq!(
        tree(raw.as_bytes()),
        [
            node("", "multipart/alternative"),
            leaf("1", "text/plain", b"plain"),
            leaf("2", "text/html", b"<p>html</p>"),
        ]
    );
}

#[test]
fn double_boundary_nested_multipart_reusing_the_outer_boundary() {
    // The inner multipart declares the outer's boundary: every `--b` line belongs to the
    // outer one, so the inner multipart has no body parts of its own and is a leaf.
    let raw = "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/alternative; boundary=b\n\n--b\n\nfirst\n--b\n\nsecond\n--b--\n";
    assert_eq!(
        tree(raw.as_bytes()),
        [
            node("", "multipart/mixed"),
            leaf("1", "multipart/alternative", b""),
            leaf("2", "text/plain", b"first"),
            leaf("3", "text/plain", b"second"),
        ]
    );
}

#[test]
fn boundary_that_prefixes_another() {
    // `--a` must not match the inner `--ab` lines.
    let raw = "Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/alternative; boundary=ab\n\n--ab\n\nx\n--ab\n\ny\n--ab--\n--a\n\nz\n--a--\n";
    assert_eq!(
        tree(raw.as_bytes()),
        [
            node("", "multipart/mixed"),
            node("1", "multipart/alternative"),
            leaf("1.1", "text/plain", b"x"),
            leaf("1.2", "text/plain", b"y"),
            leaf("2", "text/plain", b"z"),
        ]
    );
}

#[test]
fn missing_close_boundaries_at_both_levels() {
    let raw = "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\n\nalt one\n--i\n\nalt two\n--o\n\nlast\n";
    assert_eq!(
        tree(raw.as_bytes()),
        [
            node("", "multipart/mixed"),
            node("1", "multipart/alternative"),
            leaf("1.1", "text/plain", b"alt one"),
            leaf("1.2", "text/plain", b"alt two"),
            // The line break before the end of input belongs to the missing boundary.
            leaf("2", "text/plain", b"last"),
        ]
    );
}

#[test]
fn extra_close_boundaries_are_epilogue() {
    let raw = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nonly\n--b--\n--b--\n--b\n\nnot a part\n";
    let msg = Message::parse(raw.as_bytes());
    assert_eq!(
        tree(raw.as_bytes()),
        [
            node("", "multipart/mixed"),
            leaf("1", "text/plain", b"only")
        ]
    );
    let PartKind::Multipart {
        epilogue, closed, ..
    } = msg.root().kind().clone()
    else {
        panic!("multipart")
    };
    assert!(closed);
    assert_eq!(&raw.as_bytes()[epilogue], b"--b--\n--b\n\nnot a part\n");
}

#[test]
fn inner_multipart_whose_boundary_never_appears() {
    let raw = "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/related; boundary=never\n\n<html>inner</html>\n--o\nContent-Type: image/gif\nContent-Transfer-Encoding: base64\n\nR0lGODlh\n--o--\n";
    assert_eq!(
        tree(raw.as_bytes()),
        [
            node("", "multipart/mixed"),
            leaf("1", "multipart/related", b"<html>inner</html>"),
            leaf("2", "image/gif", b"GIF89a"),
        ]
    );
}

// ---- 3. header blocks ----

#[test]
fn headers_running_into_the_body_without_a_blank_line() {
    let raw = "From: a@example.org\nSubject: no blank line\nDear all,\nthe body.\n";
    let msg = Message::parse(raw.as_bytes());
    assert_eq!(msg.headers().len(), 2);
    assert_eq!(
        tree(raw.as_bytes()),
        [leaf("", "text/plain", b"Dear all,\nthe body.\n")]
    );
}

#[test]
fn body_starting_with_header_like_text() {
    let raw = "Subject: notes\n\nNote: this line looks like a header\nTo: whom it may concern\n";
    let msg = Message::parse(raw.as_bytes());
    assert_eq!(msg.headers().len(), 1);
    assert_eq!(
        tree(raw.as_bytes()),
        [leaf(
            "",
            "text/plain",
            b"Note: this line looks like a header\nTo: whom it may concern\n"
        )]
    );
}

#[test]
fn message_with_no_header_at_all() {
    for raw in [
        &b"Just a body line.\nAnd another.\n"[..],
        b"\nStarts with a blank line.\n",
    ] {
        let msg = Message::parse(raw);
        assert!(msg.headers().is_empty());
        let body = raw.strip_prefix(b"\n").unwrap_or(raw);
        assert_eq!(tree(raw), [leaf("", "text/plain", body)]);
    }
}

#[test]
fn bad_header_separator_ends_the_header_block() {
    // `Content-Type=` instead of `Content-Type:`: not a field, so the block ends there and
    // the part keeps the default type (as Python and MIME-tools do).
    let raw = "Subject: eq\nContent-Type= text/html\n\n<p>x</p>\n";
    let msg = Message::parse(raw.as_bytes());
    assert_eq!(msg.subject().as_deref(), Some("eq"));
    assert_eq!(
        tree(raw.as_bytes()),
        [leaf(
            "",
            "text/plain",
            b"Content-Type= text/html\n\n<p>x</p>\n"
        )]
    );
}

#[test]
fn obsolete_rfc822_syntax() {
    // Blanks before the colon, folding with a tab, a field with an empty value, a two-digit
    // year and a named zone. (Comments and blanks around `=` inside parameters belong to
    // the parameter parser, params.rs.)
    let raw = "Subject\t: old style\nContent-Type : multipart/mixed;\n\tboundary=\"q\"\nX-Empty:\nDate : Mon, 4 Jan 93 10:00:00 EST\n\n--q\nContent-Type : text/plain\n\nvintage\n--q--\n";
    let msg = Message::parse(raw.as_bytes());
    assert_eq!(msg.subject().as_deref(), Some("old style"));
    assert_eq!(msg.header("x-empty").map(|h| h.raw_value()), Some(&b""[..]));
    assert!(msg.date().is_some());
    assert_eq!(
        tree(raw.as_bytes()),
        [
            node("", "multipart/mixed"),
            leaf("1", "text/plain", b"vintage")
        ]
    );
}

// ---- 4. empty parts ----

#[test]
fn empty_parts_are_parts_with_empty_content() {
    let raw = "Content-Type: multipart/mixed; boundary=e\n\n--e\nContent-Type: application/pdf; name=empty.pdf\nContent-Transfer-Encoding: base64\n\n--e\n--e\n\n\n--e\nContent-Type: text/plain\n\nlast\n--e\n--e--\n";
    assert_eq!(
        tree(raw.as_bytes()),
        [
            node("", "multipart/mixed"),
            leaf("1", "application/pdf", b""),
            leaf("2", "text/plain", b""),
            leaf("3", "text/plain", b""),
            leaf("4", "text/plain", b"last"),
            leaf("5", "text/plain", b""),
        ]
    );
}

// ---- 5. line endings, message/partial ----

#[test]
fn base64_with_bad_line_endings_across_parts() {
    // CRLF, LF and doubled CR (`\r\r\n`, a broken conversion) mixed between the parts.
    let raw = b"Content-Type: multipart/mixed; boundary=le\r\r\n\r\r\n--le\r\r\nContent-Type: application/octet-stream\r\r\nContent-Transfer-Encoding: base64\r\r\n\r\r\nAAEC\r\r\nAwQF\r\r\n--le\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nBgcI\r\nCQ==\n--le\r\nContent-Transfer-Encoding: base64\r\n\r\naGk=\r\n--le--\r\r\n";
    assert_eq!(
        tree(raw),
        [
            node("", "multipart/mixed"),
            leaf("1", "application/octet-stream", &[0, 1, 2, 3, 4, 5]),
            leaf("2", "application/octet-stream", &[6, 7, 8, 9]),
            leaf("3", "text/plain", b"hi"),
        ]
    );
}

#[test]
fn message_partial_fragments_are_kept_as_parts() {
    // The second and third fragments of a split message are not messages on their own.
    let raw = "Content-Type: multipart/mixed; boundary=p\n\n--p\nContent-Type: message/partial; id=\"x@y\"; number=2; total=3\n\nQUJD\nREVG\n--p\nContent-Type: message/partial; id=\"x@y\"; number=3; total=3\n\nR0hJ\n--p--\n";
    assert_eq!(
        tree(raw.as_bytes()),
        [
            node("", "multipart/mixed"),
            leaf("1", "message/partial", b"QUJD\nREVG"),
            leaf("2", "message/partial", b"R0hJ"),
        ]
    );
}
