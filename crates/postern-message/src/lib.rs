//! # postern-message
//!
//! Parses the mail the Internet really sends (RFC 5322 headers, addresses, dates, RFC 2047
//! encoded words, RFC 2231 parameters, the MIME tree, transfer encodings, and uuencoded
//! blocks inside plain text), builds correct messages, and converts between MIME and
//! uuencode, between charsets, and from 8bit to 7bit — what the Exchange IMS did per e-mail
//! domain. The parsed message borrows from its input; decoding allocates only what it must.
//!
//! ```
//! use postern_message::Message;
//!
//! let raw = b"From: =?utf-8?q?J=C3=B6rg?= <j@example.org>\r\n\
//!             Subject: hello\r\n\
//!             Content-Type: multipart/mixed; boundary=b\r\n\r\n\
//!             --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi!\r\n\
//!             --b\r\nContent-Type: application/pdf; name=a.pdf\r\n\
//!             Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b--\r\n";
//! let msg = Message::parse(raw);
//! assert_eq!(msg.subject().as_deref(), Some("hello"));
//! let from = msg.from();
//! let sender = from.mailboxes().next().unwrap();
//! assert_eq!(sender.name.as_deref(), Some("Jörg"));
//! assert_eq!(msg.parts().len(), 3);
//! assert_eq!(msg.parts()[1].text().as_deref(), Some("Hi!"));
//! let pdf = &msg.parts()[2];
//! assert_eq!(pdf.filename().as_deref(), Some("a.pdf"));
//! assert_eq!(&pdf.decoded_body()[..], b"%PDF");
//! assert_eq!(msg.path(2), "2");
//! ```
//!
//! A runnable tour in the repository's `examples/mime_tour.rs`: build a message, parse it,
//! walk its MIME tree, save its attachments, and convert it MIME → uuencode → MIME
//! (`cargo run --example mime_tour`).
//! ## Features
//!
//! Default features: none, and the crate has no optional features: parsing, building and
//! conversion need only its listed dependencies (chrono without its default features).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod uuencode;

// Parsing (the parser work adds its modules above this line).
pub mod address;
pub mod charset;
pub mod date;
pub mod encapsulated;
pub mod encoded_word;
pub mod header;
mod lexical;
pub mod limits;
pub mod message;
pub mod msgid;
pub mod params;
pub mod transfer;

pub use address::{Address, AddressList, Group, Mailbox};
pub use encapsulated::Encapsulated;
pub use header::Header;
pub use limits::Limits;
pub use message::{Attachment, Message, Part, PartKind};
pub use params::{ContentDisposition, ContentType, Param};
pub use transfer::TransferEncoding;

// Building, encoding and conversion (the codec work).
pub mod builder;
pub mod convert;
pub mod dsn;
pub mod encode;
pub mod mime_types;
pub mod tnef;
pub mod translit;
