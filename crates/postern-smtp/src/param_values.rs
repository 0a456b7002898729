//! The values of the MAIL parameters `BODY=` and `RET=` and the RCPT parameter
//! `NOTIFY=`: plain enums, shared by the grammar that reads them and the parameter
//! lists that hold them.

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
