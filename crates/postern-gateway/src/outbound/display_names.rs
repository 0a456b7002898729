//! `send_display_names = false`: `From`, `Sender` and `Reply-To` go out as bare
//! addresses, without the sender's display name (the IMS Advanced option "disable
//! sending display names"). The other header fields and the body keep their octets.

use postern_message::{Address, Message};

/// The fields whose display names are left out.
pub const FIELDS: [&str; 3] = ["From", "Sender", "Reply-To"];

/// The message with the display names of [`FIELDS`] removed, or `None` when none of them
/// has one (nothing to change).
pub fn without_display_names(body: &[u8]) -> Option<Vec<u8>> {
    let msg = Message::parse(body);
    let input = msg.input();
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for h in msg.headers() {
        if !FIELDS.iter().any(|f| h.is(f)) {
            continue;
        }
        let list = h.addresses();
        let named = list.entries.iter().any(|e| match e {
            Address::Mailbox(m) => m.name.is_some(),
            Address::Group(_) => true,
        });
        let bare: Vec<&str> = list.mailboxes().map(|m| m.address.as_ref()).collect();
        // A value that is not plainly an address list is left as it is rather than lost.
        if !named || bare.is_empty() || bare.iter().any(|a| !plain(a)) {
            continue;
        }
        let raw = h.raw_value();
        let start = (raw.as_ptr() as usize).wrapping_sub(input.as_ptr() as usize);
        if start > input.len() || input.len() - start < raw.len() {
            continue;
        }
        edits.push((start, start + raw.len(), bare.join(", ")));
    }
    if edits.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0;
    for (start, end, value) in edits {
        out.extend_from_slice(&input[at..start]);
        out.extend_from_slice(value.as_bytes());
        at = end;
    }
    out.extend_from_slice(&input[at..]);
    Some(out)
}

/// Whether an address can be written bare: `local@domain`, printable ASCII, no blanks
/// or characters that would need quoting.
fn plain(address: &str) -> bool {
    address.contains('@')
        && address
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"(),:;<>[\\]".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_go_other_fields_stay() {
        let raw = b"From: \"Fred Rodriguez\" <fredro@corp.example>\r\nTo: Ann <ann@x.example>\r\nReply-To: Fred R <fredro@corp.example>,\r\n  Desk <desk@corp.example>\r\nSubject: Hi\r\n\r\nbody\r\n";
        let out = String::from_utf8(without_display_names(raw).unwrap()).unwrap();
        assert_eq!(
            out,
            "From: fredro@corp.example\r\nTo: Ann <ann@x.example>\r\nReply-To: fredro@corp.example, desk@corp.example\r\nSubject: Hi\r\n\r\nbody\r\n"
        );
        assert_eq!(
            without_display_names(b"From: a@b.example\r\n\r\nx\r\n"),
            None
        );
    }
}
