//! The capabilities a server announces in its EHLO reply.

use crate::reply::Reply;

/// What an EHLO reply says the server supports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The first word of the first line: the server's name.
    pub domain: String,
    /// `SIZE n`; `Some(0)` means "no fixed limit".
    pub size: Option<u64>,
    /// `AUTH` mechanisms, upper-case.
    pub auth: Vec<String>,
    /// `PIPELINING` (RFC 2920).
    pub pipelining: bool,
    /// `8BITMIME` (RFC 6152).
    pub eight_bit_mime: bool,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `DSN` (RFC 3461).
    pub dsn: bool,
    /// `CHUNKING` (RFC 3030).
    pub chunking: bool,
    /// `BINARYMIME` (RFC 3030).
    pub binary_mime: bool,
    /// `STARTTLS` (RFC 3207).
    pub starttls: bool,
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    pub enhanced_status_codes: bool,
    /// `REQUIRETLS` (RFC 8689).
    pub requiretls: bool,
    /// `MT-PRIORITY` (RFC 6710).
    pub mt_priority: bool,
    /// `ETRN` (RFC 1985).
    pub etrn: bool,
    /// Every keyword line after the first, upper-cased keyword with its parameters
    /// verbatim, in order; includes the ones above.
    pub keywords: Vec<(String, String)>,
}

impl Capabilities {
    /// Reads the capabilities from a 250 EHLO reply. Tolerates an empty last line (as
    /// Postfix's smtp-sink sends), unknown keywords and odd spacing.
    pub fn from_reply(_reply: &Reply) -> Capabilities {
        todo!("helper B")
    }

    /// True when `keyword` (case-insensitive) was announced.
    pub fn has(&self, _keyword: &str) -> bool {
        todo!("helper B")
    }
}
