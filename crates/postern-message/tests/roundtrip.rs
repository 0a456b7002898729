//! Property: a message written from a random MIME tree (with a small test-only writer)
//! parses back to the same tree, content types, file names and decoded payloads.

use base64::Engine as _;
use postern_message::Message;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Enc {
    Base64,
    Qp,
    SevenBit,
}

#[derive(Debug, Clone)]
enum Node {
    Leaf {
        ct: &'static str,
        enc: Enc,
        data: Vec<u8>,
        filename: Option<String>,
    },
    Multi {
        sub: &'static str,
        children: Vec<Node>,
    },
    Rfc822(Box<Node>),
}

fn leaf() -> impl Strategy<Value = Node> {
    let enc = prop_oneof![Just(Enc::Base64), Just(Enc::Qp), Just(Enc::SevenBit)];
    let ct = prop_oneof![
        Just("text/plain"),
        Just("application/octet-stream"),
        Just("image/png")
    ];
    (
        ct,
        enc,
        proptest::collection::vec(any::<u8>(), 0..300),
        proptest::option::of("[a-zA-Z0-9éü€][a-zA-Z0-9 éü€]{0,11}\\.[a-z]{3}"),
        "[a-zA-Z0-9 ]{0,60}",
    )
        .prop_map(|(ct, enc, bytes, filename, text)| {
            let data = match enc {
                Enc::SevenBit => text.replace("  ", " \r\n").into_bytes(),
                _ => bytes,
            };
            Node::Leaf {
                ct,
                enc,
                data,
                filename,
            }
        })
}

fn tree() -> impl Strategy<Value = Node> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            (
                prop_oneof![Just("mixed"), Just("alternative"), Just("related")],
                proptest::collection::vec(inner.clone(), 1..4)
            )
                .prop_map(|(sub, children)| Node::Multi { sub, children }),
            inner.prop_map(|n| Node::Rfc822(Box::new(n))),
        ]
    })
}

fn qp(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut col = 0;
    for &b in data {
        if col >= 72 {
            out.extend_from_slice(b"=\r\n");
            col = 0;
        }
        if (b'!'..=b'~').contains(&b) && b != b'=' {
            out.push(b);
            col += 1;
        } else {
            out.extend_from_slice(format!("={b:02X}").as_bytes());
            col += 3;
        }
    }
    out
}

/// Writes `node` (headers and body); `counter` makes boundaries unique.
fn write(node: &Node, counter: &mut usize, out: &mut Vec<u8>) {
    match node {
        Node::Leaf {
            ct,
            enc,
            data,
            filename,
        } => {
            out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
            if let Some(name) = filename {
                let enc: String = name.bytes().map(|b| format!("%{b:02X}")).collect();
                out.extend_from_slice(
                    format!("Content-Disposition: attachment;\r\n filename*=utf-8''{enc}\r\n")
                        .as_bytes(),
                );
            }
            let (name, body) = match enc {
                Enc::Base64 => {
                    let b = base64::engine::general_purpose::STANDARD.encode(data);
                    let lines: Vec<&[u8]> = b.as_bytes().chunks(76).collect();
                    ("base64", lines.join(&b"\r\n"[..]))
                }
                Enc::Qp => ("quoted-printable", qp(data)),
                Enc::SevenBit => ("7bit", data.clone()),
            };
            out.extend_from_slice(format!("Content-Transfer-Encoding: {name}\r\n\r\n").as_bytes());
            out.extend_from_slice(&body);
        }
        Node::Multi { sub, children } => {
            *counter += 1;
            let b = format!("=_b{counter}_");
            out.extend_from_slice(
                format!("Content-Type: multipart/{sub};\r\n\tboundary=\"{b}\"\r\n\r\npreamble\r\n")
                    .as_bytes(),
            );
            for c in children {
                out.extend_from_slice(format!("\r\n--{b}\r\n").as_bytes());
                write(c, counter, out);
            }
            out.extend_from_slice(format!("\r\n--{b}--\r\nepilogue").as_bytes());
        }
        Node::Rfc822(inner) => {
            out.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n");
            write(inner, counter, out);
        }
    }
}

/// Depth-first (type, filename, payload) list, the order the parser stores parts in.
/// (content type, file name, decoded payload of a leaf).
type Summary = (String, Option<String>, Option<Vec<u8>>);

fn expected(node: &Node, out: &mut Vec<Summary>) {
    match node {
        Node::Leaf {
            ct, data, filename, ..
        } => out.push((ct.to_string(), filename.clone(), Some(data.clone()))),
        Node::Multi { sub, children } => {
            out.push((format!("multipart/{sub}"), None, None));
            children.iter().for_each(|c| expected(c, out));
        }
        Node::Rfc822(inner) => {
            out.push(("message/rfc822".into(), None, None));
            expected(inner, out);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn parse_recovers_written_tree(node in tree()) {
        let mut raw = b"From: a@example.org\r\nMIME-Version: 1.0\r\n".to_vec();
        write(&node, &mut 0, &mut raw);
        let msg = Message::parse(&raw);
        let mut want = Vec::new();
        expected(&node, &mut want);
        let got: Vec<_> = msg
            .parts()
            .iter()
            .map(|p| {
                let payload = (p.children().is_empty()).then(|| p.decoded_body().into_owned());
                (p.content_type().essence(), p.filename().map(|f| f.into_owned()), payload)
            })
            .collect();
        prop_assert_eq!(got, want);
        prop_assert!(!msg.limited());
    }
}
