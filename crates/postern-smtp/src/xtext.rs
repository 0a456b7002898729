//! xtext (RFC 3461 §4): `+XX` hex escapes for ENVID, ORCPT and AUTH= values.

use std::borrow::Cow;

/// An xtext value as it appears on the wire, still encoded. Decode with [`XText::decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct XText<'a>(pub &'a str);

impl<'a> XText<'a> {
    /// The decoded value; borrows when there was nothing to decode. Invalid escapes are
    /// rejected by the parser, so this cannot fail on a parsed value.
    pub fn decode(&self) -> Cow<'a, [u8]> {
        todo!("helper A")
    }
}

/// Encodes `value` as xtext: `+`, `=`, and octets outside `!`..=`~` become `+XX`.
pub fn encode_xtext(_value: &[u8]) -> String {
    todo!("helper A")
}
