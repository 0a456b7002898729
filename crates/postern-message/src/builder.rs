//! A message builder that writes correct RFC 5322 / MIME.
//!
//! [`MessageBuilder`] covers the usual message: from, to, cc, reply-to, subject, date,
//! message-id, a text and/or HTML body, attachments and nested messages. Underneath,
//! [`PartSpec`] is a general MIME tree (leaves, multiparts, nested messages, and parts copied
//! byte for byte) that [`write_message`] writes; the conversions use it directly.
//!
//! The builder's types are named for what they are, descriptions of what to write —
//! [`MailboxSpec`], [`PartSpec`] — so they never collide with the parser's
//! [`Mailbox`](crate::Mailbox) and [`Part`](crate::Part), which borrow from a parsed
//! message. Both can be imported side by side.
//!
//! What it writes:
//! * CRLF line ends; header fields folded at white space to at most 78 characters where
//!   the value allows (a single word longer than that is left whole, within RFC 5322's 998);
//!   CR and LF inside header values are replaced by spaces (no header injection).
//! * Non-ASCII words in unstructured fields and display names as RFC 2047 encoded words;
//!   non-ASCII or long parameters (file names) in RFC 2231 form.
//! * For each leaf, a transfer encoding chosen by content: `7bit` when the data already
//!   qualifies, quoted-printable for mostly-ASCII text, base64 otherwise.
//! * Multipart boundaries derived from a hash of the content, checked against every
//!   child's bytes and changed until no child contains them, so they cannot collide.
//!
//! The builder reads no clock and draws no random numbers: set the date yourself. Without
//! [`MessageBuilder::message_id`], a Message-ID is derived from a hash of the message, so
//! the same message always gets the same one.

use chrono::{DateTime, FixedOffset};
use memchr::memmem;

use crate::encode::{
    LineEnding, TransferEncoding, choose_transfer_encoding, encode_param, encode_phrase,
    encode_unstructured, transfer_encode,
};

/// Longest header line the builder aims for, without CRLF (RFC 5322 §2.1.1 "SHOULD").
pub const HEADER_LINE: usize = 78;

/// A mailbox: an address with an optional display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxSpec {
    /// The display name, any Unicode (encoded as needed when written).
    pub name: Option<String>,
    /// The address, `local@domain`, written as given.
    pub address: String,
}

impl MailboxSpec {
    /// A mailbox with no display name.
    pub fn new(address: impl Into<String>) -> Self {
        MailboxSpec {
            name: None,
            address: address.into(),
        }
    }

    /// A mailbox with a display name.
    pub fn with_name(name: impl Into<String>, address: impl Into<String>) -> Self {
        MailboxSpec {
            name: Some(name.into()),
            address: address.into(),
        }
    }

    /// The mailbox as written in a header: `Name <addr>` or `addr`.
    pub fn to_header(&self) -> String {
        match &self.name {
            Some(n) if !n.is_empty() => format!("{} <{}>", encode_phrase(n), self.address),
            _ => self.address.clone(),
        }
    }
}

impl From<&str> for MailboxSpec {
    fn from(address: &str) -> Self {
        MailboxSpec::new(address)
    }
}

impl From<(&str, &str)> for MailboxSpec {
    fn from((name, address): (&str, &str)) -> Self {
        MailboxSpec::with_name(name, address)
    }
}

/// The content of a [`PartSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A leaf's decoded octets; written in `encoding`, or in the one chosen by content.
    Data {
        /// The octets (for text, in any line-ending convention; written as CRLF).
        bytes: Vec<u8>,
        /// Force a transfer encoding (it must suit the data; `None` chooses).
        encoding: Option<TransferEncoding>,
    },
    /// The children of a multipart.
    Parts(Vec<PartSpec>),
    /// A nested message (`message/rfc822`), as raw RFC 5322 octets.
    Message(Vec<u8>),
    /// A whole part, header and body, already formatted: copied byte for byte. For parts no
    /// conversion may alter (signed or encrypted); the part's other fields are ignored.
    Raw(Vec<u8>),
}

/// A MIME part (or, at the top, a message's body) to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSpec {
    /// Media type, `type/subtype`, lower case (`text/plain`, `multipart/mixed`).
    pub content_type: String,
    /// Content-Type parameters, decoded values (`boundary` is added for multiparts).
    pub params: Vec<(String, String)>,
    /// `inline` or `attachment`, if a Content-Disposition is to be written.
    pub disposition: Option<String>,
    /// Content-Disposition parameters, decoded values (`filename`).
    pub disposition_params: Vec<(String, String)>,
    /// Other header fields of the part (`Content-ID`, `Content-Description`, …), written
    /// with RFC 2047 encoding where needed.
    pub headers: Vec<(String, String)>,
    /// Header fields copied as they were (name, raw value with its folding), after
    /// `headers`; line ends are written as CRLF.
    pub raw_headers: Vec<(String, Vec<u8>)>,
    /// The content.
    pub body: Body,
}

impl PartSpec {
    /// A leaf of `content_type` holding `bytes`, transfer encoding chosen by content.
    pub fn leaf(content_type: &str, bytes: Vec<u8>) -> Self {
        PartSpec {
            content_type: content_type.to_ascii_lowercase(),
            params: Vec::new(),
            disposition: None,
            disposition_params: Vec::new(),
            headers: Vec::new(),
            raw_headers: Vec::new(),
            body: Body::Data {
                bytes,
                encoding: None,
            },
        }
    }

    /// A UTF-8 text leaf (`text/plain` or `text/html`, `charset=utf-8`).
    pub fn text(subtype: &str, text: &str) -> Self {
        let mut p = PartSpec::leaf(&format!("text/{subtype}"), text.as_bytes().to_vec());
        p.params.push(("charset".into(), "utf-8".into()));
        p
    }

    /// An attachment: `content_type` with `name`, disposition `attachment; filename`.
    pub fn attachment(filename: &str, content_type: &str, bytes: Vec<u8>) -> Self {
        let mut p = PartSpec::leaf(content_type, bytes);
        p.params.push(("name".into(), filename.into()));
        p.disposition = Some("attachment".into());
        p.disposition_params
            .push(("filename".into(), filename.into()));
        p
    }

    /// A `multipart/SUBTYPE` of `parts`.
    pub fn multipart(subtype: &str, parts: Vec<PartSpec>) -> Self {
        PartSpec {
            content_type: format!("multipart/{}", subtype.to_ascii_lowercase()),
            params: Vec::new(),
            disposition: None,
            disposition_params: Vec::new(),
            headers: Vec::new(),
            raw_headers: Vec::new(),
            body: Body::Parts(parts),
        }
    }

    /// A nested message (`message/rfc822`).
    pub fn message(raw: Vec<u8>) -> Self {
        PartSpec {
            content_type: "message/rfc822".into(),
            params: Vec::new(),
            disposition: None,
            disposition_params: Vec::new(),
            headers: Vec::new(),
            raw_headers: Vec::new(),
            body: Body::Message(raw),
        }
    }

    /// A part copied byte for byte (header and body, as between two boundaries).
    pub fn raw(bytes: Vec<u8>) -> Self {
        PartSpec {
            content_type: String::new(),
            params: Vec::new(),
            disposition: None,
            disposition_params: Vec::new(),
            headers: Vec::new(),
            raw_headers: Vec::new(),
            body: Body::Raw(bytes),
        }
    }
}

/// Builds a message. Every setter takes and returns the builder.
///
/// ```
/// use chrono::DateTime;
/// use postern_message::builder::{MessageBuilder, MailboxSpec};
///
/// let date = DateTime::parse_from_rfc2822("Mon, 23 Nov 2026 10:00:00 +0100").unwrap();
/// let raw = MessageBuilder::new()
///     .from(MailboxSpec::with_name("Zoë Smith", "zoe@example.org"))
///     .to("bob@example.com")
///     .subject("Grüße")
///     .date(date)
///     .message_id("1@example.org")
///     .text("Hello\n")
///     .attachment("notes.txt", "text/plain", b"notes\n".to_vec())
///     .build();
/// let text = String::from_utf8(raw).unwrap();
/// assert!(text.contains("From: =?UTF-8?Q?Zo=C3=AB_Smith?= <zoe@example.org>\r\n"));
/// assert!(text.contains("Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n"));
/// assert!(text.contains("Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n"));
/// assert!(text.contains("Content-Type: multipart/mixed; boundary="));
/// ```
#[derive(Debug, Clone, Default)]
pub struct MessageBuilder {
    from: Vec<MailboxSpec>,
    reply_to: Vec<MailboxSpec>,
    to: Vec<MailboxSpec>,
    cc: Vec<MailboxSpec>,
    subject: Option<String>,
    date: Option<DateTime<FixedOffset>>,
    message_id: Option<String>,
    in_reply_to: Option<String>,
    references: Vec<String>,
    headers: Vec<(String, String)>,
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<PartSpec>,
}

impl MessageBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an author (`From`).
    pub fn from(mut self, mailbox: impl Into<MailboxSpec>) -> Self {
        self.from.push(mailbox.into());
        self
    }

    /// Adds a `Reply-To` mailbox.
    pub fn reply_to(mut self, mailbox: impl Into<MailboxSpec>) -> Self {
        self.reply_to.push(mailbox.into());
        self
    }

    /// Adds a `To` recipient.
    pub fn to(mut self, mailbox: impl Into<MailboxSpec>) -> Self {
        self.to.push(mailbox.into());
        self
    }

    /// Adds a `Cc` recipient.
    pub fn cc(mut self, mailbox: impl Into<MailboxSpec>) -> Self {
        self.cc.push(mailbox.into());
        self
    }

    /// Sets the subject (any Unicode).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets the date (the builder has no clock; without one, no `Date` is written).
    pub fn date(mut self, date: DateTime<FixedOffset>) -> Self {
        self.date = Some(date);
        self
    }

    /// Sets the Message-ID (`id-left@id-right`; angle brackets optional).
    pub fn message_id(mut self, id: impl Into<String>) -> Self {
        self.message_id = Some(id.into());
        self
    }

    /// Sets `In-Reply-To` and adds it to `References`.
    pub fn in_reply_to(mut self, id: impl Into<String>) -> Self {
        let id = id.into();
        self.references.push(id.clone());
        self.in_reply_to = Some(id);
        self
    }

    /// Adds any other header field (value encoded as unstructured text).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the plain-text body.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Sets the HTML body (with a text body, they become multipart/alternative).
    pub fn html(mut self, html: impl Into<String>) -> Self {
        self.html = Some(html.into());
        self
    }

    /// Adds an attachment.
    pub fn attachment(
        mut self,
        filename: impl AsRef<str>,
        content_type: impl AsRef<str>,
        data: Vec<u8>,
    ) -> Self {
        self.attachments.push(PartSpec::attachment(
            filename.as_ref(),
            content_type.as_ref(),
            data,
        ));
        self
    }

    /// Adds a nested message (`message/rfc822`), given as raw octets.
    pub fn message(mut self, raw: Vec<u8>) -> Self {
        self.attachments.push(PartSpec::message(raw));
        self
    }

    /// Adds any prepared part beside the attachments.
    pub fn part(mut self, part: PartSpec) -> Self {
        self.attachments.push(part);
        self
    }

    /// The body tree this builder describes.
    pub fn body(&self) -> PartSpec {
        let main = match (&self.text, &self.html) {
            (Some(t), Some(h)) => Some(PartSpec::multipart(
                "alternative",
                vec![PartSpec::text("plain", t), PartSpec::text("html", h)],
            )),
            (Some(t), None) => Some(PartSpec::text("plain", t)),
            (None, Some(h)) => Some(PartSpec::text("html", h)),
            (None, None) => None,
        };
        match (main, self.attachments.is_empty()) {
            (Some(m), true) => m,
            (None, true) => PartSpec::text("plain", ""),
            (main, false) => {
                let mut parts: Vec<PartSpec> = main.into_iter().collect();
                parts.extend(self.attachments.iter().cloned());
                PartSpec::multipart("mixed", parts)
            }
        }
    }

    /// The top-level header fields, names and ASCII (encoded, unfolded) values, in order.
    pub fn header_fields(&self) -> Vec<(String, String)> {
        let mut h = Vec::new();
        let list = |v: &[MailboxSpec]| {
            v.iter()
                .map(MailboxSpec::to_header)
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(d) = &self.date {
            h.push(("Date".into(), d.to_rfc2822()));
        }
        if !self.from.is_empty() {
            h.push(("From".into(), list(&self.from)));
        }
        if !self.reply_to.is_empty() {
            h.push(("Reply-To".into(), list(&self.reply_to)));
        }
        if !self.to.is_empty() {
            h.push(("To".into(), list(&self.to)));
        }
        if !self.cc.is_empty() {
            h.push(("Cc".into(), list(&self.cc)));
        }
        if let Some(s) = &self.subject {
            h.push(("Subject".into(), encode_unstructured(s)));
        }
        let id = match &self.message_id {
            Some(id) => angle(id),
            None => self.derived_message_id(),
        };
        h.push(("Message-ID".into(), id));
        if let Some(r) = &self.in_reply_to {
            h.push(("In-Reply-To".into(), angle(r)));
        }
        if !self.references.is_empty() {
            let refs: Vec<String> = self.references.iter().map(|r| angle(r)).collect();
            h.push(("References".into(), refs.join(" ")));
        }
        for (n, v) in &self.headers {
            h.push((n.clone(), encode_unstructured(v)));
        }
        h
    }

    fn derived_message_id(&self) -> String {
        let mut hash = Fnv::new();
        for m in self.from.iter().chain(&self.to).chain(&self.cc) {
            hash.add(m.address.as_bytes());
        }
        hash.add(self.subject.as_deref().unwrap_or("").as_bytes());
        if let Some(d) = &self.date {
            hash.add(d.to_rfc2822().as_bytes());
        }
        hash.add(self.text.as_deref().unwrap_or("").as_bytes());
        hash.add(self.html.as_deref().unwrap_or("").as_bytes());
        for a in &self.attachments {
            hash.add_part(a);
        }
        let domain = self
            .from
            .first()
            .and_then(|m| m.address.rsplit_once('@'))
            .map_or("postern.invalid", |(_, d)| d);
        format!("<{:016x}.postern@{domain}>", hash.0)
    }

    /// Writes the message: header fields, MIME-Version, and the body.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_message(&self.header_fields(), &self.body(), &mut out);
        out
    }
}

fn angle(id: &str) -> String {
    let id = id.trim();
    if id.starts_with('<') && id.ends_with('>') {
        id.to_string()
    } else {
        format!("<{id}>")
    }
}

/// Writes a message: `headers` (names and ASCII values, folded here), `MIME-Version: 1.0`,
/// then `body` (its Content-* fields and content). A [`Body::Raw`] top part is copied as
/// is after the header fields.
pub fn write_message(headers: &[(String, String)], body: &PartSpec, out: &mut Vec<u8>) {
    for (name, value) in headers {
        write_field(name, value, out);
    }
    if !matches!(body.body, Body::Raw(_)) {
        write_field("MIME-Version", "1.0", out);
    }
    // A single text body ends the message, which ends with a line break on the wire: add it
    // to the text itself, so every transfer encoding gives the same decoded text.
    if let Body::Data { bytes, encoding } = &body.body {
        if body.content_type.starts_with("text/") && !bytes.is_empty() && !bytes.ends_with(b"\n") {
            let mut terminated = body.clone();
            let mut bytes = bytes.clone();
            bytes.push(b'\n');
            terminated.body = Body::Data {
                bytes,
                encoding: *encoding,
            };
            write_part(&terminated, 0, out);
            if !out.ends_with(b"\r\n") {
                out.extend_from_slice(b"\r\n");
            }
            return;
        }
    }
    write_part(body, 0, out);
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
}

/// Writes one header field, folded at white space to at most 78 characters per line where
/// the value allows; CR and LF in the value become spaces.
///
/// ```
/// use postern_message::builder::write_field;
/// let mut out = Vec::new();
/// write_field("To", &"someone@example.com, ".repeat(5), &mut out);
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.lines().all(|l| l.len() <= 78));
/// assert!(text.contains("\r\n someone"));
/// ```
pub fn write_field(name: &str, value: &str, out: &mut Vec<u8>) {
    let value: String = value
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    let value = value.trim_end();
    out.extend_from_slice(name.as_bytes());
    out.push(b':');
    let mut col = name.len() + 1;
    // Tokens start at white space (the fold points); the first gets its leading space.
    let mut rest = value.trim_start();
    let mut first = true;
    while !rest.is_empty() {
        let ws = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        let word_end = rest[ws..].find([' ', '\t']).map_or(rest.len(), |i| ws + i);
        let token = &rest[..word_end];
        rest = &rest[word_end..];
        let token_text = if first {
            format!(" {token}")
        } else {
            token.to_string()
        };
        // Fold before the token if it would overflow (even the first: `Name:` CRLF SP is
        // legal folding white space).
        if col + token_text.len() > HEADER_LINE && (ws > 0 || first) {
            out.extend_from_slice(b"\r\n");
            col = 0;
        }
        out.extend_from_slice(token_text.as_bytes());
        col += token_text.len();
        first = false;
    }
    out.extend_from_slice(b"\r\n");
}

/// The Content-Type (or Content-Disposition) value: `value; p1=v1; p2=v2`, parameters in
/// RFC 2231 form as needed.
fn with_params(value: &str, params: &[(String, String)]) -> String {
    let mut s = value.to_string();
    for (n, v) in params {
        for seg in encode_param(n, v) {
            s.push_str("; ");
            s.push_str(&seg);
        }
    }
    s
}

/// True when a leaf's content is text whose line ends may be rewritten as CRLF without
/// changing what it says: a `text/*` type in an ASCII-compatible charset, no NUL and no
/// bare CR; and, for an attachment (a file the recipient saves), line ends that are
/// already CRLF. Everything else is written octet for octet (base64 where 7bit would
/// not keep it).
pub fn is_line_text(part: &PartSpec, bytes: &[u8]) -> bool {
    if !part.content_type.starts_with("text/") {
        return false;
    }
    let ascii_compatible = part
        .params
        .iter()
        .find(|(n, _)| n == "charset")
        .is_none_or(|(_, label)| charset_is_ascii_compatible(label));
    if !ascii_compatible {
        return false;
    }
    let stats = crate::encode::ContentStats::of(bytes);
    if stats.nul > 0 || stats.bare_cr > 0 {
        return false;
    }
    let attachment = part.disposition.as_deref() == Some("attachment")
        || part.disposition_params.iter().any(|(n, _)| n == "filename")
        || part.params.iter().any(|(n, _)| n == "name");
    !attachment || stats.bare_lf == 0
}

/// Whether a charset label names an ASCII-compatible charset; unknown labels are taken
/// as compatible unless they name a UTF-16/32 or UCS form.
fn charset_is_ascii_compatible(label: &str) -> bool {
    match crate::charset::lookup(label.as_bytes()) {
        Some(enc) => enc.is_ascii_compatible(),
        None => {
            let l = label.trim().to_ascii_lowercase();
            !(l.starts_with("utf-16")
                || l.starts_with("utf-32")
                || l.starts_with("ucs")
                || l.starts_with("utf16")
                || l.starts_with("utf32"))
        }
    }
}

fn write_part(part: &PartSpec, depth: usize, out: &mut Vec<u8>) {
    match &part.body {
        Body::Raw(bytes) => out.extend_from_slice(bytes),
        Body::Data { bytes, encoding } => {
            // Text travels in canonical form, CRLF line ends, whatever the encoding
            // (RFC 2045 §6.8: base64 of text encodes CRLF) — but only text that is
            // safely line-oriented: anything else (UTF-16, NULs, bare CRs, a text file
            // sent as an attachment) keeps its octets exactly, as non-text does.
            let is_text = is_line_text(part, bytes);
            let canonical;
            let bytes = if is_text {
                let mut v = Vec::with_capacity(bytes.len() + bytes.len() / 32);
                crate::encode::normalize_line_endings(bytes, LineEnding::Crlf, &mut v);
                canonical = v;
                &canonical
            } else {
                bytes
            };
            let enc = encoding.unwrap_or_else(|| choose_transfer_encoding(bytes, is_text));
            write_content_fields(part, &part.params, Some(enc), out);
            out.extend_from_slice(b"\r\n");
            transfer_encode(bytes, enc, is_text, LineEnding::Crlf, out);
        }
        Body::Message(raw) => {
            let mut body = Vec::with_capacity(raw.len());
            crate::encode::normalize_line_endings(raw, LineEnding::Crlf, &mut body);
            let stats = crate::encode::ContentStats::of(&body);
            let enc = if stats.is_seven_bit() {
                TransferEncoding::SevenBit
            } else if stats.nul == 0 && stats.longest_line <= crate::encode::MAX_LINE {
                TransferEncoding::EightBit
            } else {
                TransferEncoding::Binary
            };
            write_content_fields(part, &part.params, Some(enc), out);
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&body);
        }
        Body::Parts(children) => {
            let rendered: Vec<Vec<u8>> = children
                .iter()
                .map(|c| {
                    let mut v = Vec::new();
                    write_part(c, depth + 1, &mut v);
                    v
                })
                .collect();
            let boundary = choose_boundary(depth, &rendered);
            let mut params = part.params.clone();
            params.retain(|(n, _)| !n.eq_ignore_ascii_case("boundary"));
            params.push(("boundary".into(), boundary.clone()));
            write_content_fields(part, &params, None, out);
            out.extend_from_slice(b"\r\n");
            for child in &rendered {
                out.extend_from_slice(b"--");
                out.extend_from_slice(boundary.as_bytes());
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(child);
                // The CRLF before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"--");
            out.extend_from_slice(boundary.as_bytes());
            out.extend_from_slice(b"--\r\n");
        }
    }
}

fn write_content_fields(
    part: &PartSpec,
    params: &[(String, String)],
    enc: Option<TransferEncoding>,
    out: &mut Vec<u8>,
) {
    write_field(
        "Content-Type",
        &with_params(&part.content_type, params),
        out,
    );
    if let Some(enc) = enc {
        write_field("Content-Transfer-Encoding", enc.as_str(), out);
    }
    if let Some(d) = &part.disposition {
        write_field(
            "Content-Disposition",
            &with_params(d, &part.disposition_params),
            out,
        );
    }
    for (n, v) in &part.headers {
        write_field(n, &encode_unstructured(v), out);
    }
    for (n, v) in &part.raw_headers {
        write_raw_field(n, v, out);
    }
}

/// Writes a header field as it was: `Name: raw-value` CRLF, the value's own line breaks
/// (folding) written as CRLF.
pub fn write_raw_field(name: &str, raw: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    crate::encode::normalize_line_endings(raw, LineEnding::Crlf, out);
    out.extend_from_slice(b"\r\n");
}

/// Writes a MIME part (its Content-* fields, a blank line, and its content) on its own,
/// e.g. after header fields written with [`write_field`] and [`write_raw_field`].
pub fn write_body(part: &PartSpec, out: &mut Vec<u8>) {
    write_part(part, 0, out);
}

/// A boundary that no child contains: `=_pst` (a sequence QP and base64 output never
/// hold), the depth, and a hash of the children; on the off chance a child (7bit text, a
/// nested message) contains it, the hash is perturbed until none does.
fn choose_boundary(depth: usize, children: &[Vec<u8>]) -> String {
    let mut hash = Fnv::new();
    for c in children {
        hash.add(c);
    }
    let mut salt = 0u64;
    loop {
        let b = format!(
            "=_pst{depth}_{:016x}",
            hash.0 ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        );
        if !children
            .iter()
            .any(|c| memmem::find(c, b.as_bytes()).is_some())
        {
            return b;
        }
        salt += 1;
    }
}

/// FNV-1a, 64 bit: a stable hash for boundaries and derived Message-IDs.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn add(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        // Separate fields, so ("ab","c") and ("a","bc") differ.
        self.0 = (self.0 ^ 0xff).wrapping_mul(0x100_0000_01b3);
    }

    fn add_part(&mut self, part: &PartSpec) {
        self.add(part.content_type.as_bytes());
        for (n, v) in part.params.iter().chain(&part.disposition_params) {
            self.add(n.as_bytes());
            self.add(v.as_bytes());
        }
        match &part.body {
            Body::Data { bytes, .. } | Body::Message(bytes) | Body::Raw(bytes) => self.add(bytes),
            Body::Parts(children) => children.iter().for_each(|c| self.add_part(c)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: Vec<u8>) -> String {
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn text_only_message() {
        let m = MessageBuilder::new()
            .from("a@example.org")
            .to("b@example.org")
            .subject("hi")
            .message_id("x@y")
            .text("line one\nline two\n")
            .build();
        assert_eq!(
            s(m),
            "From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\nMessage-ID: <x@y>\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: 7bit\r\n\r\nline one\r\nline two\r\n"
        );
    }

    #[test]
    fn alternative_inside_mixed() {
        let m = s(MessageBuilder::new()
            .text("t")
            .html("<p>h</p>")
            .attachment("a.bin", "application/octet-stream", vec![0, 1, 2])
            .build());
        let mixed = m.find("multipart/mixed").unwrap();
        let alt = m.find("multipart/alternative").unwrap();
        assert!(mixed < alt);
        assert!(m.contains("Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=a.bin\r\n\r\nAAEC\r\n"));
    }

    #[test]
    fn boundary_avoids_content() {
        let b0 = choose_boundary(0, &[b"x".to_vec()]);
        let evil = format!("--{b0}\r\n").into_bytes();
        let b1 = choose_boundary(0, std::slice::from_ref(&evil));
        assert_ne!(b0, b1);
        assert!(memmem::find(&evil, b1.as_bytes()).is_none());
    }

    #[test]
    fn folding_and_injection() {
        let mut out = Vec::new();
        write_field("Subject", "a\r\nBcc: evil@example.com", &mut out);
        assert_eq!(s(out), "Subject: a  Bcc: evil@example.com\r\n");
        let mut out = Vec::new();
        write_field("X", &"word ".repeat(40), &mut out);
        let text = s(out);
        assert!(text.split("\r\n").all(|l| l.len() <= 78));
        assert_eq!(text.replace("\r\n ", " ").matches("word").count(), 40);
    }

    #[test]
    fn derived_message_id_is_stable() {
        let b = MessageBuilder::new().from("a@example.org").text("x");
        let h1 = b.header_fields();
        let h2 = b.clone().header_fields();
        assert_eq!(h1, h2);
        let id = &h1.iter().find(|(n, _)| n == "Message-ID").unwrap().1;
        assert!(id.ends_with("@example.org>"));
    }
}
