//! Property tests for the encoders: base64, quoted-printable (text and binary), RFC 2047
//! encoded words and RFC 2231 parameters all round-trip through small decoders written
//! here from the RFCs, and every output respects its line-length limits.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use postern_message::encode::{
    LineEnding, MAX_ENCODED_WORD, MAX_PARAM_SEGMENT, base64_encode, encode_param, encode_phrase,
    encode_unstructured, encoded_words, qp_encode,
};
use proptest::prelude::*;

fn unhex(h: u8) -> u8 {
    match h {
        b'0'..=b'9' => h - b'0',
        b'A'..=b'F' => h - b'A' + 10,
        b'a'..=b'f' => h - b'a' + 10,
        _ => panic!("bad hex {h}"),
    }
}

/// RFC 2045 §6.7 decoding, with hard breaks written as LF.
fn qp_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let text = String::from_utf8(text.to_vec()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    for (i, line) in lines.iter().enumerate() {
        let b = line.as_bytes();
        let mut j = 0;
        let mut soft = false;
        while j < b.len() {
            if b[j] == b'=' {
                if j + 1 == b.len() {
                    soft = true;
                    break;
                }
                out.push(unhex(b[j + 1]) << 4 | unhex(b[j + 2]));
                j += 3;
            } else {
                out.push(b[j]);
                j += 1;
            }
        }
        if !soft && i + 1 < lines.len() {
            out.push(b'\n');
        }
    }
    out
}

/// RFC 2047 decoding of a header made of encoded words and plain text (white space
/// between adjacent encoded words dropped, §6.2).
fn ew_decode(s: &str) -> String {
    let mut out = Vec::new();
    let mut last_was_ew = false;
    let mut pending_ws = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        let ws = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        pending_ws.push_str(&rest[..ws]);
        rest = &rest[ws..];
        let end = rest.find([' ', '\t']).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        if word.is_empty() {
            continue;
        }
        if let Some(inner) = word
            .strip_prefix("=?UTF-8?")
            .and_then(|w| w.strip_suffix("?="))
        {
            if !last_was_ew {
                out.extend_from_slice(pending_ws.as_bytes());
            }
            let (enc, payload) = inner.split_at(2);
            if enc == "B?" {
                out.extend(STANDARD.decode(payload).unwrap());
            } else {
                let b = payload.as_bytes();
                let mut j = 0;
                while j < b.len() {
                    match b[j] {
                        b'_' => out.push(b' '),
                        b'=' => {
                            out.push(unhex(b[j + 1]) << 4 | unhex(b[j + 2]));
                            j += 2;
                        }
                        c => out.push(c),
                    }
                    j += 1;
                }
            }
            last_was_ew = true;
        } else {
            out.extend_from_slice(pending_ws.as_bytes());
            out.extend_from_slice(word.as_bytes());
            last_was_ew = false;
        }
        pending_ws.clear();
    }
    out.extend_from_slice(pending_ws.as_bytes());
    String::from_utf8(out).unwrap()
}

/// RFC 2231 decoding of the segments `encode_param` produced.
fn param_decode(segments: &[String]) -> String {
    let mut bytes = Vec::new();
    for seg in segments {
        let (lhs, value) = seg.split_once('=').unwrap();
        if lhs.ends_with('*') {
            let value = value.strip_prefix("utf-8''").unwrap_or(value);
            let b = value.as_bytes();
            let mut j = 0;
            while j < b.len() {
                if b[j] == b'%' {
                    bytes.push(unhex(b[j + 1]) << 4 | unhex(b[j + 2]));
                    j += 3;
                } else {
                    bytes.push(b[j]);
                    j += 1;
                }
            }
        } else if let Some(q) = value.strip_prefix('"') {
            let q = q.strip_suffix('"').unwrap();
            let mut esc = false;
            for c in q.bytes() {
                if !esc && c == b'\\' {
                    esc = true;
                    continue;
                }
                esc = false;
                bytes.push(c);
            }
        } else {
            bytes.extend_from_slice(value.as_bytes());
        }
    }
    String::from_utf8(bytes).unwrap()
}

fn header_text() -> impl Strategy<Value = String> {
    // Words of ASCII, Latin, CJK and emoji, with single or double spaces.
    proptest::collection::vec(
        (
            prop_oneof![
                "[a-zA-Z0-9.,:!?()-]{1,12}",
                "[a-zéüßñø]{1,12}",
                "[日本語中文한국어]{1,10}",
                "[😀🎉a]{1,6}",
                Just("=?x?q?y?=".to_string()),
            ],
            prop_oneof![Just(" "), Just("  ")],
        ),
        1..8,
    )
    .prop_map(|ws| {
        let mut s = String::new();
        for (i, (w, sp)) in ws.iter().enumerate() {
            if i > 0 {
                s.push_str(sp);
            }
            s.push_str(w);
        }
        s
    })
}

proptest! {
    #[test]
    fn base64_round_trip(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let mut out = Vec::new();
        base64_encode(&data, LineEnding::Crlf, &mut out);
        let text = String::from_utf8(out).unwrap();
        for line in text.split("\r\n") {
            prop_assert!(line.len() <= 76);
        }
        let joined: String = text.split("\r\n").collect();
        prop_assert_eq!(STANDARD.decode(joined).unwrap(), data);
    }

    #[test]
    fn qp_binary_round_trip(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut out = Vec::new();
        qp_encode(&data, true, LineEnding::Crlf, &mut out);
        for line in out.split(|&c| c == b'\n') {
            prop_assert!(line.len() <= 77, "line of {}", line.len());
            prop_assert!(!line.ends_with(b" \r") && !line.ends_with(b"\t\r"));
        }
        prop_assert!(out.iter().all(|&b| b"\r\n\t".contains(&b) || (32..127).contains(&b)));
        prop_assert_eq!(qp_decode(&out), data);
    }

    #[test]
    fn qp_text_round_trip(text in "([a-zé \t.=F]|From |\n){0,400}") {
        let mut out = Vec::new();
        qp_encode(text.as_bytes(), false, LineEnding::Crlf, &mut out);
        for line in out.split(|&c| c == b'\n') {
            prop_assert!(line.len() <= 77);
            prop_assert!(!line.ends_with(b" \r") && !line.ends_with(b"\t\r"));
            prop_assert!(!line.starts_with(b"From ") && !line.starts_with(b"."));
        }
        prop_assert_eq!(qp_decode(&out), text.as_bytes());
    }

    #[test]
    fn encoded_words_round_trip(text in "\\PC{1,120}") {
        let enc = encoded_words(&text);
        for w in enc.split(' ') {
            prop_assert!(w.len() <= MAX_ENCODED_WORD);
        }
        prop_assert_eq!(ew_decode(&enc), text);
    }

    #[test]
    fn unstructured_round_trip(text in header_text()) {
        let enc = encode_unstructured(&text);
        prop_assert!(enc.is_ascii());
        prop_assert_eq!(ew_decode(&enc), text);
    }

    #[test]
    fn phrase_is_ascii(text in header_text()) {
        let enc = encode_phrase(&text);
        prop_assert!(enc.is_ascii());
        if enc.starts_with("=?") {
            prop_assert_eq!(ew_decode(&enc), text);
        }
    }

    #[test]
    fn rfc2231_round_trip(value in "\\PC{0,150}") {
        let segs = encode_param("filename", &value);
        for s in &segs {
            prop_assert!(s.is_ascii());
            prop_assert!(s.len() <= MAX_PARAM_SEGMENT || segs.len() == 1 && !s.contains('*'), "{}", s);
        }
        prop_assert_eq!(param_decode(&segs), value);
    }
}
