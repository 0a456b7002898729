//! # postern-message
//!
//! Parses the mail the Internet really sends (RFC 5322 headers, addresses, dates, RFC 2047
//! encoded words, RFC 2231 parameters, the MIME tree, transfer encodings, and uuencoded
//! blocks inside plain text), builds correct messages, and converts between MIME and
//! uuencode, between charsets, and from 8bit to 7bit — what the Exchange IMS did per e-mail
//! domain. The parsed message borrows from its input; decoding allocates only what it must.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod uuencode;

// Parsing (the parser work adds its modules above this line).

// Building, encoding and conversion (the codec work).
pub mod builder;
pub mod convert;
pub mod encode;
