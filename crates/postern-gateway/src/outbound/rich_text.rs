//! `rich_text = "never"`: the TNEF (`application/ms-tnef`, `winmail.dat`) parts of an
//! outbound message become ordinary MIME attachments, and the TNEF body text the
//! message's text where it has none, for domains whose clients cannot read rich text
//! (the IMS "never send rich text" option). postern-message decodes the TNEF.

use postern_message::Message;
use postern_message::mime_types::MimeTypes;
use postern_message::tnef;

/// The message with its TNEF parts expanded (files typed by `types` when the TNEF gives
/// no MIME tag), or `None` when it has no TNEF part that decodes (left as it is).
pub fn without_tnef(body: &[u8], types: &MimeTypes) -> Option<Vec<u8>> {
    // Most mail has no TNEF: skip the parse unless a part could be one.
    if !mentions_tnef(body) {
        return None;
    }
    tnef::expand_message(&Message::parse(body), types).map(|e| e.message)
}

/// Whether the octets name a TNEF type or file anywhere (ASCII case-insensitive).
fn mentions_tnef(body: &[u8]) -> bool {
    [&b"ms-tnef"[..], b"winmail.dat"].iter().any(|needle| {
        body.windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_without_tnef_is_left_alone() {
        let raw = b"Subject: x\r\nContent-Type: text/plain\r\n\r\nWINMAIL.DAT is mentioned\r\n";
        assert!(mentions_tnef(raw));
        assert_eq!(without_tnef(raw, &MimeTypes::builtin()), None);
        assert!(!mentions_tnef(b"Subject: y\r\n\r\nplain\r\n"));
    }
}
