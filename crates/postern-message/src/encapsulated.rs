//! Decoded copies of `message/rfc822` parts sent base64- or quoted-printable-encoded.
//!
//! RFC 2045 §6.4 allows only 7bit, 8bit and binary for `message/rfc822`, but senders
//! (forwarding MUAs, virus scanners, list software) base64- or QP-encode it anyway. The
//! mainstream parsers (mime4j, MIME-tools, mail-parser) decode such a part and parse the
//! result as the nested message it is; so does postern, through this store.
//!
//! A [`crate::Message`] borrows everything from its input, so the decoded bytes must live
//! outside it: [`Encapsulated::new`] decodes every such part (and those inside them, down
//! to [`crate::Limits::max_encapsulation_depth`] levels) into owned buffers, and
//! [`crate::Message::parse_nested`] then parses the input with the store, making each
//! encoded message part a [`crate::PartKind::Message`] whose child is the decoded message.
//!
//! ```
//! use postern_message::{Encapsulated, Limits, Message, PartKind};
//!
//! let raw = b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n\
//!             U3ViamVjdDogaW5uZXIKCmJvZHkK\n";
//! let limits = Limits::default();
//! let store = Encapsulated::new(raw, &limits);
//! let msg = Message::parse_nested(raw, &store, &limits);
//! assert_eq!(msg.root().kind(), &PartKind::Message);
//! assert_eq!(msg.parts()[1].header_value("subject").as_deref(), Some("inner"));
//! assert_eq!(msg.parts()[1].raw_body(), b"body\n");
//! ```

use std::collections::HashMap;

/// The decoded content of every encoded `message/*` part of one input (see the module
/// documentation). Memory: each nesting level holds at most as many bytes as the input, so
/// at most [`crate::Limits::max_encapsulation_depth`] times the input in all.
#[derive(Debug, Clone, Default)]
pub struct Encapsulated {
    /// The decoded contents (nested messages). Source number `k` is `buffers[k - 1]`;
    /// source 0 is the input itself.
    pub(crate) buffers: Vec<Vec<u8>>,
    /// (source holding the encoded body, offset of the body in it) → index in `buffers`,
    /// so lookups stay O(1) however many there are.
    pub(crate) index: HashMap<(usize, usize), usize>,
}

impl Encapsulated {
    /// Whether no part needed decoding (then [`crate::Message::parse_nested`] gives the
    /// same tree as [`crate::Message::parse_with`]).
    pub fn is_empty(&self) -> bool {
        self.buffers.is_empty()
    }

    /// Finds the decoded buffer for an encoded body starting at `offset` in `source`:
    /// its source number and bytes.
    pub(crate) fn find(&self, source: usize, offset: usize) -> Option<(usize, &[u8])> {
        self.index
            .get(&(source, offset))
            .map(|&k| (k + 1, self.buffers[k].as_slice()))
    }

    /// The bytes of source `k` (0 is not a buffer: the caller holds the input).
    pub(crate) fn source(&self, k: usize) -> Option<&[u8]> {
        self.buffers.get(k.checked_sub(1)?).map(Vec::as_slice)
    }
}

/// Whether a message subtype holds a nested message (`delivery-status` holds header
/// blocks that are not a message; a `partial` fragment is only a piece of one).
pub(crate) fn nests(subtype: &str) -> bool {
    !matches!(subtype, "delivery-status" | "partial")
}
