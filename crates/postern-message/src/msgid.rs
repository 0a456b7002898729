//! Message-ID, In-Reply-To and References: lists of `<id>`.
//!
//! Ids are returned without the angle brackets. Comments and phrases between ids (old
//! In-Reply-To style) are skipped. A value with no `<…>` at all is split on whitespace
//! (some senders omit the brackets).

use std::borrow::Cow;

use crate::charset;

/// Parses the ids in a raw header value.
pub fn parse_list(raw: &[u8]) -> Vec<Cow<'_, str>> {
    let mut ids = Vec::new();
    let mut rest = raw;
    while let Some(open) = memchr::memchr(b'<', rest) {
        let after = &rest[open + 1..];
        let Some(close) = memchr::memchr(b'>', after) else {
            break;
        };
        let id = after[..close].trim_ascii();
        if !id.is_empty() {
            ids.push(clean(id));
        }
        rest = &after[close + 1..];
    }
    if ids.is_empty() && memchr::memchr(b'<', raw).is_none() {
        ids.extend(
            raw.split(u8::is_ascii_whitespace)
                .filter(|w| !w.is_empty())
                .map(clean),
        );
    }
    ids
}

/// Decodes an id, dropping any folding inside it.
fn clean(id: &[u8]) -> Cow<'_, str> {
    if id.iter().any(u8::is_ascii_whitespace) {
        let joined: Vec<u8> = id
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        return Cow::Owned(charset::decode_lenient(&joined).into_owned());
    }
    charset::decode_lenient(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(parse_list(b"<a@b>"), ["a@b"]);
        assert_eq!(
            parse_list(b"<a@b>\r\n <c@d> (comment) <e@f>"),
            ["a@b", "c@d", "e@f"]
        );
        assert_eq!(parse_list(b"Your message of \"x\" <a@b>"), ["a@b"]);
        assert_eq!(parse_list(b"a@b c@d"), ["a@b", "c@d"]);
        assert_eq!(parse_list(b"<a@\r\n b>"), ["a@b"]);
        assert!(parse_list(b"<unterminated").is_empty());
        assert!(parse_list(b"").is_empty());
    }
}
