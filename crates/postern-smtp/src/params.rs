//! ESMTP parameters of MAIL and RCPT.

use crate::xtext::XText;

/// `BODY=` (RFC 6152, RFC 3030).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body {
    /// `BODY=7BIT`.
    SevenBit,
    /// `BODY=8BITMIME`.
    EightBitMime,
    /// `BODY=BINARYMIME` (needs BDAT).
    BinaryMime,
}

/// `RET=` (RFC 3461): what a failure notice returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `RET=FULL`: the whole message.
    Full,
    /// `RET=HDRS`: headers only.
    Hdrs,
}

/// `NOTIFY=` (RFC 3461).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notify {
    /// `NOTIFY=NEVER`.
    Never,
    /// Any non-empty combination of SUCCESS, FAILURE, DELAY.
    On {
        /// `SUCCESS` was listed.
        success: bool,
        /// `FAILURE` was listed.
        failure: bool,
        /// `DELAY` was listed.
        delay: bool,
    },
}

/// `ORCPT=addr-type;xtext` (RFC 3461).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Orcpt<'a> {
    /// The address type, usually `rfc822` (or `utf-8`).
    pub addr_type: &'a str,
    /// The original recipient, xtext-encoded.
    pub address: XText<'a>,
}

/// A parameter postern does not interpret, kept verbatim so an application can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Param<'a> {
    /// The keyword as written (compare case-insensitively).
    pub keyword: &'a str,
    /// The value after `=`, if any.
    pub value: Option<&'a str>,
}

/// Parameters of MAIL FROM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MailParams<'a> {
    /// `SIZE=n` (RFC 1870).
    pub size: Option<u64>,
    /// `BODY=`.
    pub body: Option<Body>,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `RET=` (RFC 3461).
    pub ret: Option<Ret>,
    /// `ENVID=` (RFC 3461), xtext.
    pub envid: Option<XText<'a>>,
    /// `AUTH=` (RFC 4954 §5), xtext; `<>` is kept as the raw text `<>`.
    pub auth: Option<XText<'a>>,
    /// `MT-PRIORITY=` (RFC 6710), -9..=9.
    pub mt_priority: Option<i8>,
    /// `REQUIRETLS` (RFC 8689).
    pub requiretls: bool,
    /// Every other parameter, in order.
    pub other: Vec<Param<'a>>,
}

/// Parameters of RCPT TO.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RcptParams<'a> {
    /// `NOTIFY=` (RFC 3461).
    pub notify: Option<Notify>,
    /// `ORCPT=` (RFC 3461).
    pub orcpt: Option<Orcpt<'a>>,
    /// Every other parameter, in order.
    pub other: Vec<Param<'a>>,
}
