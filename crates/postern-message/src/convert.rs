//! Conversions over a parsed message, each writing a new one, as the Exchange IMS did per
//! e-mail domain:
//!
//! * [`mime_to_uuencode`] / [`mime_to_uuencode_with`]: the text becomes a single plain
//!   body (in the domain's *non-MIME charset*) and every attachment (and nested message)
//!   a uuencoded block after it, for domains set to uuencode (Microsoft Mail 3.x gateways
//!   and the like).
//! * [`uuencode_to_mime`]: text parts carrying uuencoded blocks become `multipart/mixed`
//!   with the text and real attachments.
//! * [`translate_charset`] / [`translate_charset_with`]: body text re-encoded in a target
//!   charset, `Content-Type` updated. Characters the target cannot represent are counted
//!   in [`Report::unrepresentable`] and follow an [`Unrepresentable`] rule: the part is
//!   kept in its own charset, or they become `?`, or their ASCII spelling — never
//!   mislabelled, never silently dropped.
//! * [`downgrade_to_7bit`]: 8bit/binary parts re-encoded as quoted-printable (mostly
//!   ASCII text) or base64, raw 8-bit header fields RFC 2047-encoded, for peers without
//!   8BITMIME. Text carrying uuencoded blocks is never made quoted-printable (a non-MIME
//!   reader's `uudecode` would get `=3D`): its text is transliterated around the blocks.
//!
//! **Decoded content is never changed** by a transfer encoding: text is written in
//! canonical form (CRLF line ends) only when it is line-oriented (an ASCII-compatible
//! charset, no NUL or bare CR, and for a text file sent as an attachment, CRLF already);
//! a UTF-16 part or a text file with Unix line ends keeps every octet (base64).
//!
//! **Protected parts are never altered.** `multipart/signed`, `multipart/encrypted`,
//! `application/(x-)pkcs7-mime`, `application/pgp-encrypted` and text carrying inline PGP
//! (`-----BEGIN PGP`) are copied byte for byte by every conversion; a message that *is*
//! protected at the top is returned unchanged. [`mime_to_uuencode`], which would have to
//! take such a part apart, leaves any message containing one unchanged. The
//! [`Report`] says what was protected (and, for the 7bit downgrade, what had to stay
//! 8-bit because of it).
//!
//! Parts a conversion does not need to touch are copied byte for byte too; multipart
//! containers that are rebuilt get a new boundary and lose their preamble and epilogue.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

use crate::builder::{Body, PartSpec as OutPart, write_body, write_field, write_raw_field};
use crate::charset;
use crate::encode::{MAX_LINE, WireCheck, encode_unstructured};
use crate::header::Header;
use crate::message::{Message, Part, PartKind};
use crate::mime_types::MimeTypes;
use crate::transfer::TransferEncoding;
use crate::uuencode::{self, Format, Strictness};

/// A converted message and what the conversion did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    /// The new message (CRLF line ends where written anew).
    pub message: Vec<u8>,
    /// What was done.
    pub report: Report,
}

/// What a conversion did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Whether the output differs from the input at all.
    pub changed: bool,
    /// Parts re-encoded or rewritten.
    pub parts_converted: usize,
    /// Files moved into or out of uuencoded blocks.
    pub attachments: usize,
    /// Characters the target charset cannot represent, whatever was done with them (see
    /// [`Unrepresentable`]): replaced, transliterated, or left in a part kept in its own
    /// charset.
    pub unrepresentable: usize,
    /// Text parts left in their own charset (correctly labelled) because the target
    /// cannot hold all their characters and the rule is [`Unrepresentable::Keep`].
    pub kept_charset: usize,
    /// Header fields RFC 2047-encoded (7bit downgrade).
    pub headers_encoded: usize,
    /// Signed or encrypted parts copied unaltered.
    pub protected_parts: usize,
    /// Parts that still need 8BITMIME after a 7bit downgrade (inside protected parts).
    pub left_8bit: usize,
}

/// What a conversion does with characters the target charset cannot hold. Whatever the
/// rule, the output is never mislabelled and the characters are counted in
/// [`Report::unrepresentable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Unrepresentable {
    /// The text stays in a charset that holds it, correctly labelled: a part is left in
    /// its own charset (a uuencode body goes as UTF-8). Nothing is lost; the reader must
    /// know that charset. The default.
    #[default]
    Keep,
    /// Each such character becomes `?`.
    Replace,
    /// Each such character becomes its closest ASCII spelling (`é` → `e`, `€` → `EUR`,
    /// see [`crate::translit`]), `?` where there is none.
    Transliterate,
}

impl Unrepresentable {
    /// The rule named `keep`, `replace` or `transliterate` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Unrepresentable> {
        match name.trim().to_ascii_lowercase().as_str() {
            "keep" => Some(Unrepresentable::Keep),
            "replace" => Some(Unrepresentable::Replace),
            "transliterate" => Some(Unrepresentable::Transliterate),
            _ => None,
        }
    }

    /// The rule's name, as [`Unrepresentable::from_name`] takes it.
    pub fn name(self) -> &'static str {
        match self {
            Unrepresentable::Keep => "keep",
            Unrepresentable::Replace => "replace",
            Unrepresentable::Transliterate => "transliterate",
        }
    }
}

/// Why a conversion could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// The target charset label is unknown (or one encoding_rs cannot encode to).
    #[error("unknown or unsupported target charset {0:?}")]
    UnknownCharset(String),
}

/// Header fields a conversion regenerates (they describe the content).
fn is_content_field(h: &Header<'_>) -> bool {
    let n = h.name();
    n.len() > 8 && n[..8].eq_ignore_ascii_case("content-") || h.is("mime-version")
}

/// True for a part that no conversion may alter.
fn is_protected(part: &Part<'_>) -> bool {
    let ct = part.content_type();
    ct.is("multipart", "signed")
        || ct.is("multipart", "encrypted")
        || ct.is("application", "pkcs7-mime")
        || ct.is("application", "x-pkcs7-mime")
        || ct.is("application", "pgp-encrypted")
        || ct.ty() == "text"
            && matches!(part.kind(), PartKind::Leaf)
            && PGP_ARMOR.find(part.raw_body()).is_some()
}

/// The start of an OpenPGP armour block: a text part holding one is never converted.
/// Built once: every converted message's text parts are searched for it.
static PGP_ARMOR: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"-----BEGIN PGP"));

fn contains_protected(msg: &Message<'_>, i: usize) -> bool {
    let p = &msg.parts()[i];
    is_protected(p) || p.children().iter().any(|&c| contains_protected(msg, c))
}

/// The part's bytes as they were, header block and body, without the line break that
/// belongs to the next boundary.
fn raw_part<'a>(msg: &Message<'a>, i: usize) -> &'a [u8] {
    let span = msg.parts()[i].span();
    let bytes = &msg.input()[span];
    if i == 0 {
        return bytes;
    }
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

/// Writes the top-level fields other than the content fields, then `MIME-Version` (when
/// `mime`), then the body.
fn write_message(
    msg: &Message<'_>,
    body: &OutPart,
    mime: bool,
    encode_8bit: bool,
    report: &mut Report,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.input().len() + 1024);
    write_fields(
        msg.headers().iter().filter(|h| !is_content_field(h)),
        encode_8bit,
        report,
        &mut out,
    );
    if mime {
        write_field("MIME-Version", "1.0", &mut out);
    }
    write_body(body, &mut out);
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Address fields, rebuilt from their parsed mailboxes when they must be encoded.
const ADDRESS_FIELDS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "sender",
    "resent-from",
    "resent-to",
    "resent-cc",
    "resent-sender",
];

fn write_fields<'h, 'a: 'h>(
    headers: impl Iterator<Item = &'h Header<'a>>,
    encode_8bit: bool,
    report: &mut Report,
    out: &mut Vec<u8>,
) {
    for h in headers {
        if encode_8bit && !h.raw_value().is_ascii() {
            report.headers_encoded += 1;
            let rebuilt = if ADDRESS_FIELDS.iter().any(|n| h.is(n)) {
                h.addresses()
                    .mailboxes()
                    .map(|m| {
                        crate::builder::MailboxSpec {
                            name: m.name.as_ref().map(|n| n.to_string()),
                            address: m.address.to_string(),
                        }
                        .to_header()
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                String::new()
            };
            // An address that is itself 8-bit cannot be made 7-bit (that needs SMTPUTF8):
            // such a field is encoded as text, which keeps it readable if not usable.
            let value = if !rebuilt.is_empty() && rebuilt.is_ascii() {
                rebuilt
            } else {
                encode_unstructured(&h.value())
            };
            write_field(h.name(), &value, out);
        } else {
            write_raw_field(h.name(), h.raw_value(), out);
        }
    }
}

/// The part's own fields other than Content-Type, -Transfer-Encoding and -Disposition,
/// kept as they were.
fn other_fields(part: &Part<'_>) -> Vec<(String, Vec<u8>)> {
    part.headers()
        .iter()
        .filter(|h| {
            !h.is("content-type")
                && !h.is("content-transfer-encoding")
                && !h.is("content-disposition")
                && !h.is("mime-version")
        })
        .map(|h| (h.name().to_string(), h.raw_value().to_vec()))
        .collect()
}

/// Parameters worth carrying over: those with a proper token for a name (a name with
/// 8-bit or special characters is junk no reader would understand).
fn clean_params(params: &[crate::params::Param<'_>], skip: &str) -> Vec<(String, String)> {
    params
        .iter()
        .filter(|q| {
            !q.name.is_empty()
                && !q.name.eq_ignore_ascii_case(skip)
                && q.name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=*'%".contains(&b))
        })
        .map(|q| (q.name.to_ascii_lowercase(), q.value.to_string()))
        .collect()
}

/// `type/subtype` made of ASCII token characters.
fn is_token_pair(s: &str) -> bool {
    s.split_once('/').is_some_and(|(t, u)| {
        let tok = |x: &str| {
            !x.is_empty()
                && x.bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
        };
        tok(t) && tok(u)
    })
}

/// A new leaf carrying over a parsed part's type, parameters, disposition and other
/// fields, with new content.
fn leaf_like(part: &Part<'_>, bytes: Vec<u8>) -> OutPart {
    let ct = part.content_type();
    let essence = ct.essence();
    let essence = if is_token_pair(&essence) {
        essence
    } else {
        "application/octet-stream".to_string()
    };
    let mut p = OutPart::leaf(&essence, bytes);
    p.params = clean_params(&ct.params, "");
    if let Some(d) = part.disposition() {
        let kind = d.kind().to_ascii_lowercase();
        p.disposition = Some(
            if kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !kind.is_empty() {
                kind
            } else {
                "attachment".into()
            },
        );
        p.disposition_params = clean_params(&d.params, "");
    }
    p.raw_headers = other_fields(part);
    p
}

/// A copy of part `i` exactly as it was.
fn unchanged(msg: &Message<'_>, i: usize) -> OutPart {
    OutPart::raw(raw_part(msg, i).to_vec())
}

/// The top part when nothing in it changed: its content fields and body as they were.
fn unchanged_root(msg: &Message<'_>) -> OutPart {
    let root = msg.root();
    let mut raw = Vec::new();
    for h in root.headers().iter().filter(|h| is_content_field(h)) {
        if !h.is("mime-version") {
            write_raw_field(h.name(), h.raw_value(), &mut raw);
        }
    }
    raw.extend_from_slice(b"\r\n");
    let body_start = msg.input().len() - root_body_len(msg);
    raw.extend_from_slice(&msg.input()[body_start..]);
    OutPart::raw(raw)
}

/// Length of everything after the top-level header block.
fn root_body_len(msg: &Message<'_>) -> usize {
    msg.input().len() - offset_in(msg.input(), msg.root().raw_body())
}

fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

/// Shared driver for the part-by-part conversions (charset, 7bit).
struct Walker<'m, 'a, F> {
    msg: &'m Message<'a>,
    report: Report,
    leaf: F,
    /// 7bit mode: rebuild containers whose own fields or preamble/epilogue are 8-bit, and
    /// encode 8-bit fields of nested messages.
    seven_bit: bool,
}

impl<'a, F> Walker<'_, 'a, F>
where
    F: FnMut(&Part<'a>, &mut Report) -> Option<OutPart>,
{
    /// `None` when part `i` (and everything in it) stays as it was.
    fn part(&mut self, i: usize) -> Option<OutPart> {
        let mut out = self.part_inner(i)?;
        // The top of a message (or of a nested one) has its other fields written with the
        // message's; the part keeps only its content fields.
        let parts = self.msg.parts();
        let top = parts[i]
            .parent()
            .is_none_or(|p| matches!(parts[p].kind(), PartKind::Message));
        if top {
            let content = |n: &str| n.len() > 8 && n[..8].eq_ignore_ascii_case("content-");
            out.raw_headers.retain(|(n, _)| content(n));
            out.headers.retain(|(n, _)| content(n));
        }
        if self.seven_bit {
            // 8-bit fields of the part: decoded, then written RFC 2047-encoded.
            let (eight, seven): (Vec<_>, Vec<_>) =
                out.raw_headers.drain(..).partition(|(_, v)| !v.is_ascii());
            out.raw_headers = seven;
            for (n, v) in eight {
                self.report.headers_encoded += 1;
                let value = Header::new(n.as_bytes(), &v).value().into_owned();
                out.headers.push((n, value));
            }
        }
        Some(out)
    }

    fn part_inner(&mut self, i: usize) -> Option<OutPart> {
        let part = &self.msg.parts()[i];
        if is_protected(part) {
            self.report.protected_parts += 1;
            return None;
        }
        match part.kind() {
            PartKind::Leaf => (self.leaf)(part, &mut self.report),
            PartKind::Multipart { .. } => {
                let children: Vec<usize> = part.children().to_vec();
                let converted: Vec<Option<OutPart>> =
                    children.iter().map(|&c| self.part(c)).collect();
                if converted.iter().all(Option::is_none) && !self.container_needs_7bit(part) {
                    return None;
                }
                let parts = children
                    .iter()
                    .zip(converted)
                    .map(|(&c, p)| p.unwrap_or_else(|| unchanged(self.msg, c)))
                    .collect();
                let sub = part.content_type().subtype();
                let sub = if is_token_pair(&format!("multipart/{sub}")) {
                    sub
                } else {
                    "mixed"
                };
                let mut out = OutPart::multipart(sub, parts);
                out.params = clean_params(&part.content_type().params, "boundary");
                out.raw_headers = other_fields(part);
                Some(out)
            }
            PartKind::Message => {
                let &child = part.children().first()?;
                let force = self.container_needs_7bit(part)
                    || self.seven_bit
                        && self.msg.parts()[child]
                            .headers()
                            .iter()
                            .any(|h| !h.raw_value().is_ascii());
                let nested = match self.nested(child) {
                    Some(n) => n,
                    None if force => self.nested_fields_only(child),
                    None => return None,
                };
                let mut out = leaf_like(part, Vec::new());
                out.body = Body::Message(nested);
                Some(out)
            }
        }
    }

    /// A nested message converted in place: its fields, then its converted body.
    fn nested(&mut self, child: usize) -> Option<Vec<u8>> {
        let converted = self.part(child)?;
        Some(self.write_nested(child, &converted))
    }

    /// A nested message whose body stays as it was but whose fields must be encoded.
    fn nested_fields_only(&mut self, child: usize) -> Vec<u8> {
        let inner = &self.msg.parts()[child];
        let mut raw = Vec::new();
        for h in inner.headers().iter().filter(|h| is_content_field(h)) {
            if !h.is("mime-version") {
                write_raw_field(h.name(), h.raw_value(), &mut raw);
            }
        }
        raw.extend_from_slice(b"\r\n");
        let start = offset_in(self.msg.input(), inner.raw_body());
        let end = inner.span().start + raw_part(self.msg, child).len();
        raw.extend_from_slice(&self.msg.input()[start.min(end)..end]);
        self.write_nested(child, &OutPart::raw(raw))
    }

    fn write_nested(&mut self, child: usize, body: &OutPart) -> Vec<u8> {
        let inner = &self.msg.parts()[child];
        let mut out = Vec::new();
        write_fields(
            inner.headers().iter().filter(|h| !is_content_field(h)),
            self.seven_bit,
            &mut self.report,
            &mut out,
        );
        write_field("MIME-Version", "1.0", &mut out);
        write_body(body, &mut out);
        out
    }

    /// 7bit mode: whether a container must be rebuilt for its own 8-bit octets (fields,
    /// preamble, epilogue), though its children need nothing.
    fn container_needs_7bit(&self, part: &Part<'_>) -> bool {
        if !self.seven_bit {
            return false;
        }
        let fields = part
            .headers()
            .iter()
            .filter(|h| part.parent().is_some() || is_content_field(h))
            .any(|h| !h.raw_value().is_ascii());
        let text = match part.kind() {
            PartKind::Multipart {
                preamble, epilogue, ..
            } => {
                let input = self.msg.input();
                !input[preamble.clone()].is_ascii() || !input[epilogue.clone()].is_ascii()
            }
            _ => false,
        };
        fields || text
    }
}

/// The raw header block of `part`: from the start of its span to the start of its body.
fn head_block<'a>(msg: &Message<'a>, part: &Part<'a>) -> &'a [u8] {
    let input = msg.input();
    let body_at = (part.raw_body().as_ptr() as usize).saturating_sub(input.as_ptr() as usize);
    input.get(part.span().start..body_at).unwrap_or(&[])
}

/// Runs a part-by-part conversion and writes the result (or the input unchanged).
fn walk<'a>(
    msg: &Message<'a>,
    encode_8bit_headers: bool,
    leaf: impl FnMut(&Part<'a>, &mut Report) -> Option<OutPart>,
) -> Converted {
    let (message, report) = walk_borrowed(msg, encode_8bit_headers, leaf);
    Converted {
        message: message.into_owned(),
        report,
    }
}

/// [`walk`], with the input itself (not a copy) when nothing changes.
fn walk_borrowed<'a>(
    msg: &Message<'a>,
    encode_8bit_headers: bool,
    leaf: impl FnMut(&Part<'a>, &mut Report) -> Option<OutPart>,
) -> (Cow<'a, [u8]>, Report) {
    let mut w = Walker {
        msg,
        report: Report::default(),
        leaf,
        seven_bit: encode_8bit_headers,
    };
    let root = w.part(0);
    let mut report = w.report;
    // 7bit mode: any 8-bit octet left (in a field, or in a line the parser skipped) means
    // the message must be written anew.
    let headers_need = encode_8bit_headers && !msg.input().is_ascii();
    // A protected root is never converted (`part` left it as it was), so the protection
    // matters only for the header fields: checked then alone, as it searches the body.
    if root.is_none() && (!headers_need || is_protected(msg.root())) {
        return (Cow::Borrowed(msg.input()), report);
    }
    let body = root.unwrap_or_else(|| unchanged_root(msg));
    let message = write_message(msg, &body, true, encode_8bit_headers, &mut report);
    report.changed = true;
    (Cow::Owned(message), report)
}

/// Re-encodes every 8bit or binary part (and any part whose content breaks 7bit: 8-bit
/// octets, NUL, bare CR, lines over 998) as quoted-printable or base64, whichever the
/// content suits, RFC 2047-encodes raw 8-bit header fields, and converts nested messages
/// in place (a `message/rfc822` part may not itself be encoded). Protected parts stay as
/// they were; if they need 8BITMIME, [`Report::left_8bit`] counts them. A text part
/// that is not line-oriented (UTF-16, NULs, bare CRs) keeps its octets (base64).
///
/// A `text/plain` part carrying uuencoded blocks (what [`mime_to_uuencode_with`] writes)
/// is not made quoted-printable, which `uudecode` does not undo: the blocks are copied
/// as they are and the text around them transliterated to ASCII (counted in
/// [`Report::unrepresentable`]), declared `us-ascii`. A MIME reader then reads the
/// transliteration; a non-MIME reader can still `uudecode` the files.
///
/// ```
/// use postern_message::{Message, convert::downgrade_to_7bit};
/// let raw = "Subject: café\r\nContent-Type: text/plain; charset=utf-8\r\n\
///            Content-Transfer-Encoding: 8bit\r\n\r\nVoilà le café.\r\n";
/// let out = downgrade_to_7bit(&Message::parse(raw.as_bytes()));
/// assert!(out.message.is_ascii());
/// let back = Message::parse(&out.message);
/// assert_eq!(back.subject().as_deref(), Some("café"));
/// assert_eq!(back.root().text().as_deref(), Some("Voilà le café.\r\n"));
/// ```
pub fn downgrade_to_7bit(msg: &Message<'_>) -> Converted {
    downgrade(msg, false)
}

/// [`downgrade_to_7bit`] for a message whose reader does not decode MIME (what
/// [`mime_to_uuencode_with`] writes for such a reader): every 8-bit `text/plain` leaf is
/// transliterated to ASCII and declared `us-ascii`, uuencoded blocks or none, because
/// quoted-printable would reach that reader as `=E9`. Other parts go the usual way.
///
/// ```
/// use postern_message::{Message, convert::downgrade_to_7bit_for_non_mime};
/// let raw = "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
///            Content-Transfer-Encoding: 8bit\r\n\r\nVoilà le café.\r\n";
/// let out = downgrade_to_7bit_for_non_mime(&Message::parse(raw.as_bytes()));
/// assert!(out.message.ends_with(b"\r\n\r\nVoila le cafe.\r\n"));
/// assert_eq!(out.report.unrepresentable, 2);
/// ```
pub fn downgrade_to_7bit_for_non_mime(msg: &Message<'_>) -> Converted {
    downgrade(msg, true)
}

fn downgrade(msg: &Message<'_>, non_mime: bool) -> Converted {
    let mut converted = walk(msg, true, |part, report| {
        let raw = part.raw_body();
        // Whatever the declared encoding: a base64 or QP body can carry stray 8-bit junk,
        // and decoding then re-encoding it is the only way to make it 7-bit.
        let needs = !WireCheck::of(raw).is_seven_bit();
        // The whole header block, not only the parsed fields: a line the parser skipped
        // (an mbox `From ` line, a nameless line) is copied with an unchanged part.
        let headers_8bit = !head_block(msg, part).is_ascii();
        if !needs && !headers_8bit {
            return None;
        }
        let plain = non_mime && part.content_type().is("text", "plain");
        if needs && let Some(p) = seven_bit_uuencoded(part, plain, report) {
            report.parts_converted += 1;
            return Some(p);
        }
        report.parts_converted += 1;
        Some(leaf_like(part, part.decoded_body().into_owned()))
    });
    converted.report.left_8bit = count_protected_8bit(msg);
    converted
}

/// A text leaf carrying uuencoded blocks, made 7-bit without quoted-printable (which a
/// non-MIME reader never undoes, so `uudecode` would get `=3D` for `=`): the blocks are
/// copied as they are (only a non-ASCII file name on a `begin` line is transliterated),
/// the text around them is transliterated to ASCII (each character counted in
/// [`Report::unrepresentable`]; NULs dropped, lines over 998 octets broken) and the
/// part declared `us-ascii`. A "block" that is not 7-bit itself is text. `None` when no
/// 7-bit block is left and the part is not `plain` text for a non-MIME reader; the part
/// then goes the usual way.
fn seven_bit_uuencoded(part: &Part<'_>, plain: bool, report: &mut Report) -> Option<OutPart> {
    let raw = part.raw_body();
    let blocks: Vec<_> = part
        .uuencoded_blocks()
        .into_iter()
        .filter(|b| {
            let block = &raw[b.start..b.end];
            let line_end = memchr::memchr(b'\n', block).map_or(block.len(), |n| n + 1);
            WireCheck::of(&block[line_end..]).is_seven_bit()
        })
        .collect();
    if blocks.is_empty() && !plain {
        return None;
    }
    let label = part.content_type().param("charset");
    let known = label.is_some_and(|l| charset::lookup(l.as_bytes()).is_some());
    let mut body = Vec::with_capacity(raw.len());
    let mut count = 0;
    let mut text = |bytes: &[u8], body: &mut Vec<u8>| {
        let decoded = match label {
            Some(l) if known => charset::decode(l.as_bytes(), bytes),
            _ => String::from_utf8_lossy(bytes),
        };
        let (ascii, n) = crate::translit::transliterate(&decoded);
        count += n;
        seven_bit_lines(ascii.as_bytes(), body);
    };
    let mut at = 0;
    for b in &blocks {
        text(&raw[at..b.start], &mut body);
        let block = &raw[b.start..b.end];
        let line_end = memchr::memchr(b'\n', block).map_or(block.len(), |n| n + 1);
        let (begin, rest) = block.split_at(line_end);
        // The begin line is ASCII but for the name: transliterating that keeps the
        // block's content (what uudecode writes) exactly as it was.
        text(begin, &mut body);
        crate::encode::normalize_line_endings(rest, crate::encode::LineEnding::Crlf, &mut body);
        at = b.end;
    }
    text(&raw[at..], &mut body);
    report.unrepresentable += count;
    let mut p = leaf_like(part, Vec::new());
    p.params.retain(|(n, _)| n != "charset");
    p.params.insert(0, ("charset".into(), "us-ascii".into()));
    p.body = Body::Data {
        bytes: body,
        encoding: Some(crate::TransferEncoding::SevenBit),
    };
    Some(p)
}

/// Appends ASCII text as 7bit-clean lines: CRLF line ends, no NUL, none longer than
/// [`MAX_LINE`] (longer ones are broken).
fn seven_bit_lines(ascii: &[u8], out: &mut Vec<u8>) {
    let mut line = 0;
    let mut i = 0;
    while i < ascii.len() {
        let b = ascii[i];
        i += 1;
        match b {
            0 => continue,
            b'\r' | b'\n' => {
                if b == b'\r' && ascii.get(i) == Some(&b'\n') {
                    i += 1;
                }
                out.extend_from_slice(b"\r\n");
                line = 0;
                continue;
            }
            _ => {}
        }
        if line == MAX_LINE {
            out.extend_from_slice(b"\r\n");
            line = 0;
        }
        out.push(b);
        line += 1;
    }
}

fn count_protected_8bit(msg: &Message<'_>) -> usize {
    (0..msg.parts().len())
        .filter(|&i| is_protected(&msg.parts()[i]))
        .filter(|&i| {
            let raw = raw_part(msg, i);
            !WireCheck::of(raw).is_seven_bit()
        })
        .count()
}

/// Labels that name US-ASCII (encoding_rs, after WHATWG, maps them to windows-1252).
const ASCII_LABELS: &[&str] = &[
    "us-ascii",
    "ascii",
    "ansi_x3.4-1968",
    "ansi_x3.4-1986",
    "iso-ir-6",
    "iso_646.irv:1991",
    "iso646-us",
    "us",
    "ibm367",
    "cp367",
    "csascii",
];

/// Which octets of the encoder's output the declared charset really has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fit {
    /// Whatever the encoder writes.
    Any,
    /// ISO-8859-1 proper: not windows-1252's 0x80–0x9F.
    Latin1,
    /// US-ASCII: nothing above 0x7F.
    Ascii,
}

/// A target charset: the encoder, the label to declare, and what fits.
#[derive(Debug, Clone)]
struct Target {
    enc: &'static Encoding,
    declared: String,
    fit: Fit,
}

/// The encoding to write a target charset with, and the label to declare.
fn target_encoding(label: &str) -> Result<Target, ConvertError> {
    let lower = label.trim().trim_matches('"').to_ascii_lowercase();
    let enc = charset::lookup(lower.as_bytes())
        .ok_or_else(|| ConvertError::UnknownCharset(label.to_string()))?;
    // encoding_rs encodes UTF-16 and replacement as UTF-8: refuse rather than mislabel.
    if enc.output_encoding() != enc {
        return Err(ConvertError::UnknownCharset(label.to_string()));
    }
    // A true ISO-8859-1 or US-ASCII target: encoding_rs treats both as windows-1252,
    // whose 0x80–0x9F are not in ISO-8859-1 and whose upper half is not in ASCII.
    let (declared, fit) = if ASCII_LABELS.contains(&lower.as_str()) {
        ("us-ascii".to_string(), Fit::Ascii)
    } else if enc == WINDOWS_1252 && !lower.contains("1252") {
        ("iso-8859-1".to_string(), Fit::Latin1)
    } else {
        (enc.name().to_ascii_lowercase(), Fit::Any)
    };
    Ok(Target { enc, declared, fit })
}

/// Checks that `label` names a charset the conversions can write text in (known, and
/// one encoding_rs can encode to: not UTF-16 or the replacement encoding). Returns the
/// label that would be declared (`latin1` → `iso-8859-1`, `ascii` → `us-ascii`).
///
/// ```
/// use postern_message::convert::check_target_charset;
/// assert_eq!(check_target_charset("ASCII").unwrap(), "us-ascii");
/// assert!(check_target_charset("klingon-8").is_err());
/// ```
pub fn check_target_charset(label: &str) -> Result<String, ConvertError> {
    target_encoding(label).map(|t| t.declared)
}

/// Encodes `text` in `enc`, replacing what it cannot represent by `?`; returns the bytes
/// and the number of replacements. With `strict_latin1`, windows-1252's 0x80–0x9F count
/// as not representable (a true ISO-8859-1 target).
pub fn encode_text(text: &str, enc: &'static Encoding, strict_latin1: bool) -> (Vec<u8>, usize) {
    let fit = if strict_latin1 { Fit::Latin1 } else { Fit::Any };
    encode_in(
        text,
        &Target {
            enc,
            declared: String::new(),
            fit,
        },
        Unrepresentable::Replace,
    )
}

/// Encodes `text` for `target`; a character it cannot hold becomes `?` (or, with
/// [`Unrepresentable::Transliterate`], its ASCII spelling). Returns the bytes and the
/// number of such characters. `Keep` is the caller's business: here it counts and
/// replaces like `Replace`.
fn encode_in(text: &str, target: &Target, rule: Unrepresentable) -> (Vec<u8>, usize) {
    let enc = target.enc;
    let mut out = Vec::with_capacity(text.len());
    let mut replaced = 0;
    let mut buf = [0u8; 16];
    let mut encoder = enc.new_encoder();
    // ASCII runs are copied as they are in ASCII-compatible charsets; only the other
    // characters go through the encoder, one at a time, to count what does not fit.
    let ascii_runs = enc.is_ascii_compatible();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if ascii_runs {
            let run = bytes[i..]
                .iter()
                .position(|b| !b.is_ascii())
                .unwrap_or(bytes.len() - i);
            out.extend_from_slice(&bytes[i..i + run]);
            i += run;
            if i == bytes.len() {
                break;
            }
        }
        let len = text[i..].chars().next().map_or(1, char::len_utf8);
        let piece = &text[i..i + len];
        i += len;
        if let Some(encoded) = encode_char(&mut encoder, piece, target.fit, &mut buf) {
            out.extend_from_slice(encoded);
            continue;
        }
        replaced += 1;
        let spelling = match rule {
            Unrepresentable::Transliterate => piece
                .chars()
                .next()
                .and_then(crate::translit::to_ascii)
                .unwrap_or(Cow::Borrowed("?")),
            _ => Cow::Borrowed("?"),
        };
        // ASCII spellings fit every ASCII-compatible charset; for the others each
        // character goes through the encoder too.
        for c in spelling.chars() {
            let mut tmp = [0u8; 4];
            match encode_char(&mut encoder, c.encode_utf8(&mut tmp), Fit::Any, &mut buf) {
                Some(e) => out.extend_from_slice(e),
                None => out.push(b'?'),
            }
        }
    }
    // Stateful encoders (ISO-2022-JP) end in their initial state.
    let (_, _, written) = encoder.encode_from_utf8_without_replacement("", &mut buf, true);
    out.extend_from_slice(&buf[..written]);
    (out, replaced)
}

/// One character in the encoder's charset, if it fits the declared one.
fn encode_char<'b>(
    encoder: &mut encoding_rs::Encoder,
    piece: &str,
    fit: Fit,
    buf: &'b mut [u8; 16],
) -> Option<&'b [u8]> {
    let (result, _, written) = encoder.encode_from_utf8_without_replacement(piece, buf, false);
    let encoded = &buf[..written];
    let ok = matches!(result, encoding_rs::EncoderResult::InputEmpty)
        && match fit {
            Fit::Any => true,
            Fit::Latin1 => encoded.iter().all(|&b| !(0x80..0xa0).contains(&b)),
            Fit::Ascii => encoded.is_ascii(),
        };
    ok.then_some(encoded)
}

/// The text of a part, or `None` when its charset is unknown (no label or one this
/// library does not know) and its octets are not UTF-8: text of an unknown charset
/// cannot be translated, only guessed at.
/// Whether the part's text is ASCII, told from its raw octets without decoding them:
/// no transfer encoding stands between octets and text, the octets are ASCII, and the
/// declared charset (none, or one we know) reads ASCII octets as ASCII. Such a part reads
/// the same in any ASCII-compatible charset; the check spares decoding (a copy of) every
/// plain part a relay passes on. A UTF-16 part is not one of them, though its octets can
/// all be below 0x80.
fn reads_as_ascii(part: &Part<'_>) -> bool {
    let identity = matches!(
        part.transfer_encoding(),
        TransferEncoding::SevenBit | TransferEncoding::EightBit | TransferEncoding::Binary
    );
    // An unknown label takes the general path, which counts it in the report.
    let ascii_charset = part
        .content_type()
        .param("charset")
        .is_none_or(|l| charset::lookup(l.as_bytes()).is_some_and(|e| e.is_ascii_compatible()));
    identity && ascii_charset && part.raw_body().is_ascii()
}

fn known_text<'a>(part: &Part<'a>) -> Option<Cow<'a, str>> {
    let label = part.content_type().param("charset");
    let known = label.is_some_and(|l| charset::lookup(l.as_bytes()).is_some());
    if !known && std::str::from_utf8(&part.decoded_body()).is_err() {
        return None;
    }
    part.text()
}

/// Re-encodes the body text (`text/plain` and `text/html` parts that are not attachments)
/// in `charset`, declaring it in each Content-Type. Characters the charset cannot hold
/// become `?`, counted in [`Report::unrepresentable`] (this is
/// [`translate_charset_with`] and [`Unrepresentable::Replace`]). `iso-8859-1` and
/// `us-ascii` mean the real thing here (no windows-1252 extras, nothing above 0x7F for
/// ASCII), though decoding treats them as windows-1252 as the WHATWG standard does.
///
/// ```
/// use postern_message::{Message, convert::translate_charset};
/// let raw = "Content-Type: text/plain; charset=utf-8\r\n\r\nnaïve — 日本\r\n";
/// let out = translate_charset(&Message::parse(raw.as_bytes()), "iso-8859-1").unwrap();
/// assert_eq!(out.report.unrepresentable, 3);
/// let back = Message::parse(&out.message);
/// assert_eq!(back.root().content_type().param("charset"), Some("iso-8859-1"));
/// assert_eq!(back.root().text().as_deref(), Some("naïve ? ??\r\n"));
/// ```
pub fn translate_charset(msg: &Message<'_>, charset: &str) -> Result<Converted, ConvertError> {
    translate_charset_with(msg, charset, Unrepresentable::Replace)
}

/// Like [`translate_charset`], with `rule` for the characters `charset` cannot hold:
/// with [`Unrepresentable::Keep`] such a part stays exactly as it was, in its own
/// (correctly declared) charset, counted in [`Report::kept_charset`]. Text of an unknown
/// charset (unlabelled or unknown label, not UTF-8) is never relabelled: with `Keep` it
/// stays as it was; otherwise it is read as windows-1252, as everywhere in this library.
///
/// ```
/// use postern_message::{Message, convert::{translate_charset_with, Unrepresentable}};
/// let raw = "Content-Type: text/plain; charset=utf-8\r\n\r\nCafé 5 €\r\n";
/// let msg = Message::parse(raw.as_bytes());
/// let kept = translate_charset_with(&msg, "us-ascii", Unrepresentable::Keep).unwrap();
/// assert_eq!(kept.message, raw.as_bytes());
/// assert_eq!((kept.report.unrepresentable, kept.report.kept_charset), (2, 1));
/// let t = translate_charset_with(&msg, "us-ascii", Unrepresentable::Transliterate).unwrap();
/// let back = Message::parse(&t.message);
/// assert_eq!(back.root().content_type().param("charset"), Some("us-ascii"));
/// assert_eq!(back.root().text().as_deref(), Some("Cafe 5 EUR\r\n"));
/// ```
pub fn translate_charset_with(
    msg: &Message<'_>,
    charset: &str,
    rule: Unrepresentable,
) -> Result<Converted, ConvertError> {
    let (message, report) = translate_charset_borrowed(msg, charset, rule)?;
    Ok(Converted {
        message: message.into_owned(),
        report,
    })
}

/// [`translate_charset_with`] for a relay that translates every message it sends: when
/// the message stays as it is (`report.changed` false, the usual case), the message is
/// the input itself rather than a copy of it.
///
/// ```
/// use std::borrow::Cow;
/// use postern_message::{Message, convert::{translate_charset_borrowed, Unrepresentable}};
/// let raw = b"Subject: plain\r\n\r\nNothing to translate.\r\n";
/// let (out, report) =
///     translate_charset_borrowed(&Message::parse(raw), "iso-8859-1", Unrepresentable::Keep)
///         .unwrap();
/// assert!(matches!(out, Cow::Borrowed(b) if b == raw) && !report.changed);
/// ```
pub fn translate_charset_borrowed<'a>(
    msg: &Message<'a>,
    charset: &str,
    rule: Unrepresentable,
) -> Result<(Cow<'a, [u8]>, Report), ConvertError> {
    let target = target_encoding(charset)?;
    let enc = target.enc;
    Ok(walk_borrowed(msg, false, |part, report| {
        let ct = part.content_type();
        if !(ct.is("text", "plain") || ct.is("text", "html")) || part.is_attachment() {
            return None;
        }
        let current = ct.param("charset").map(str::to_ascii_lowercase);
        if current.as_deref() == Some(target.declared.as_str()) {
            return None;
        }
        if enc.is_ascii_compatible() && reads_as_ascii(part) {
            return None;
        }
        let text = match known_text(part) {
            Some(t) => t,
            None if rule == Unrepresentable::Keep => {
                report.kept_charset += 1;
                return None;
            }
            None => part.text().unwrap_or(Cow::Borrowed("")),
        };
        // ASCII text reads the same in any ASCII-compatible charset: leave the part (and
        // so the message) exactly as it is.
        if text.is_ascii() && enc.is_ascii_compatible() {
            return None;
        }
        let (bytes, replaced) = if enc == UTF_8 {
            (text.as_bytes().to_vec(), 0)
        } else {
            encode_in(&text, &target, rule)
        };
        report.unrepresentable += replaced;
        if replaced > 0 && rule == Unrepresentable::Keep {
            report.kept_charset += 1;
            return None;
        }
        report.parts_converted += 1;
        let mut p = leaf_like(part, bytes);
        p.params.retain(|(n, _)| n != "charset");
        p.params
            .insert(0, ("charset".into(), target.declared.clone()));
        Some(p)
    }))
}

/// A file name for a part that has none, from its path and type; the extension from
/// the MIME types table (`txt`/`eml`/`bin` for text, messages and unknown types).
fn default_name(msg: &Message<'_>, i: usize, types: &MimeTypes) -> String {
    let part = &msg.parts()[i];
    let ct = part.content_type();
    let ext = match types.extension_for(&ct.essence()) {
        Some(e) => e,
        None if ct.ty() == "text" => "txt",
        None if ct.ty() == "message" => "eml",
        None => "bin",
    };
    let path = msg.path(i);
    let stem = if path.is_empty() {
        "part".to_string()
    } else {
        format!("part{}", path.replace('.', "-"))
    };
    format!("{stem}.{ext}")
}

/// A name fit for a `begin` line: one line, no surrounding blanks.
fn begin_name(name: &str) -> String {
    let n: String = name
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect();
    let n = n.trim();
    if n.is_empty() {
        "attachment".into()
    } else {
        n.to_string()
    }
}

/// Body text gathered for [`mime_to_uuencode_with`].
enum TextPiece {
    /// Text read in its declared charset (or UTF-8).
    Known(String),
    /// Octets of an unknown charset (unlabelled, not UTF-8): never relabelled.
    Unknown(Vec<u8>),
}

/// Collects the body text and the files of part `i` for [`mime_to_uuencode`].
fn collect_uu(
    msg: &Message<'_>,
    i: usize,
    types: &MimeTypes,
    texts: &mut Vec<TextPiece>,
    files: &mut Vec<(String, Vec<u8>)>,
) {
    let part = &msg.parts()[i];
    match part.kind() {
        PartKind::Multipart { .. } if part.content_type().is("multipart", "alternative") => {
            let children = part.children();
            let plain = children
                .iter()
                .find(|&&c| msg.parts()[c].content_type().is("text", "plain"));
            if let Some(&c) = plain.or(children.last()) {
                collect_uu(msg, c, types, texts, files);
            }
        }
        PartKind::Multipart { .. } => {
            for &c in part.children() {
                collect_uu(msg, c, types, texts, files);
            }
        }
        PartKind::Message => {
            let name = part
                .filename()
                .map_or_else(|| default_name(msg, i, types), Cow::into_owned);
            let nested = part
                .children()
                .first()
                .map_or(&[][..], |&c| raw_part(msg, c));
            files.push((begin_name(&name), nested.to_vec()));
        }
        _ => {
            if part.content_type().is("text", "plain") && !part.is_attachment() {
                texts.push(match known_text(part) {
                    Some(t) => TextPiece::Known(t.into_owned()),
                    None => TextPiece::Unknown(part.decoded_body().into_owned()),
                });
            } else {
                let name = part
                    .filename()
                    .map_or_else(|| default_name(msg, i, types), Cow::into_owned);
                files.push((begin_name(&name), part.decoded_body().into_owned()));
            }
        }
    }
}

/// How [`mime_to_uuencode_with`] writes the text: the IMS's *non-MIME charset* of the
/// domain, and the rule for characters it cannot hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UuencodeOptions {
    /// The charset of the plain-text body (the IMS default was `us-ascii`).
    pub charset: String,
    /// What to do with characters `charset` cannot hold.
    pub unrepresentable: Unrepresentable,
}

impl Default for UuencodeOptions {
    fn default() -> Self {
        UuencodeOptions {
            charset: "utf-8".into(),
            unrepresentable: Unrepresentable::Keep,
        }
    }
}

/// The text pieces as one body in `target`, line ends CRLF; returns the octets, the
/// label to declare, and the characters the target could not hold.
fn uu_text(
    texts: &[TextPiece],
    target: &Target,
    rule: Unrepresentable,
) -> (Vec<u8>, String, usize) {
    let mut joined = String::new();
    let mut unknown = false;
    for t in texts {
        match t {
            TextPiece::Known(s) => joined.push_str(s),
            // Unknown octets: each 8-bit one is a character no charset can be claimed
            // for. Kept as they are (then the body says `unknown-8bit`), or replaced.
            TextPiece::Unknown(b) => {
                unknown |= !b.is_ascii();
                joined.push_str(&String::from_utf8_lossy(b));
            }
        }
        if !joined.is_empty() && !joined.ends_with('\n') {
            joined.push('\n');
        }
    }
    let keep = rule == Unrepresentable::Keep;
    let (encoded, mut declared, count) = if target.enc == UTF_8 {
        (joined.into_bytes(), "utf-8".to_string(), 0)
    } else {
        let (bytes, count) = encode_in(&joined, target, rule);
        if count > 0 && keep {
            (joined.into_bytes(), "utf-8".to_string(), count)
        } else {
            (bytes, target.declared.clone(), count)
        }
    };
    let mut bytes = if unknown && keep {
        // Rebuild from the raw octets: lossy UTF-8 above was only for counting.
        declared = "unknown-8bit".into();
        let mut raw = Vec::new();
        for t in texts {
            match t {
                TextPiece::Known(s) => raw.extend_from_slice(s.as_bytes()),
                TextPiece::Unknown(b) => raw.extend_from_slice(b),
            }
            if !raw.is_empty() && !raw.ends_with(b"\n") {
                raw.push(b'\n');
            }
        }
        raw
    } else {
        encoded
    };
    let mut crlf = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    crate::encode::normalize_line_endings(&bytes, crate::encode::LineEnding::Crlf, &mut crlf);
    bytes = crlf;
    (bytes, declared, count)
}

/// A `begin` line's file name in the body's charset: as it is when the body is UTF-8 (or
/// of unknown charset), else encoded like the text — a name the charset cannot hold is
/// transliterated even under `Keep` (a file name may be approximated; the file's
/// content never is).
fn uu_name(name: &str, declared: &str, target: &Target, rule: Unrepresentable) -> Vec<u8> {
    if declared == "utf-8" || declared == "unknown-8bit" || !target.enc.is_ascii_compatible() {
        let (ascii, _) = if declared == "utf-8" {
            (name.to_string(), 0)
        } else {
            crate::translit::transliterate(name)
        };
        return ascii.into_bytes();
    }
    let rule = match rule {
        Unrepresentable::Keep => Unrepresentable::Transliterate,
        r => r,
    };
    let (bytes, _) = encode_in(name, target, rule);
    let bytes: Vec<u8> = bytes
        .into_iter()
        .map(|b| if b < 0x20 || b == 0x7f { b'_' } else { b })
        .collect();
    if bytes.is_empty() {
        b"attachment".to_vec()
    } else {
        bytes
    }
}

/// Turns a MIME message into the form uuencode domains expect: one plain-text body (the
/// text parts, the plain alternative where there is a choice) followed by every other
/// part as a classic uuencoded block (`begin 644 NAME` … `end`), nested messages
/// included. The text is UTF-8 (this is [`mime_to_uuencode_with`] and the default
/// [`UuencodeOptions`]). Messages containing protected parts are returned unchanged.
///
/// ```
/// use postern_message::{Message, convert::mime_to_uuencode};
/// use postern_message::builder::MessageBuilder;
/// let raw = MessageBuilder::new()
///     .text("See attached.\n")
///     .attachment("a.bin", "application/octet-stream", vec![1, 2, 3])
///     .build();
/// let out = mime_to_uuencode(&Message::parse(&raw));
/// let text = String::from_utf8(out.message).unwrap();
/// assert!(text.contains("See attached.\r\n\r\nbegin 644 a.bin\r\n#`0(#\r\n`\r\nend\r\n"));
/// assert!(!text.contains("MIME-Version"));
/// ```
pub fn mime_to_uuencode(msg: &Message<'_>) -> Converted {
    match mime_to_uuencode_with(msg, &UuencodeOptions::default()) {
        Ok(c) => c,
        // UTF-8 is always a valid target.
        Err(_) => Converted {
            message: msg.input().to_vec(),
            report: Report::default(),
        },
    }
}

/// [`mime_to_uuencode`] with the text in `opts.charset` (the domain's non-MIME charset).
/// When the body is ASCII the result has no MIME fields at all; otherwise it declares
/// `Content-Type: text/plain; charset=…` with `Content-Transfer-Encoding: 8bit`, for
/// the readers that look. The uuencoded blocks are ASCII; their `begin` file names are
/// written in the body's charset (transliterated where it cannot hold them).
/// Characters the charset cannot hold follow `opts.unrepresentable`; with `Keep` the
/// text goes as UTF-8, so declared. Text of an unknown charset (unlabelled, not UTF-8)
/// is kept as it was under `Keep` and declared `unknown-8bit` (RFC 1428), never
/// labelled as something it may not be.
///
/// A body with 8-bit text needs 8BITMIME on the way; [`downgrade_to_7bit`] makes such a
/// body 7-bit by transliterating the text around the blocks, never by quoted-printable
/// (which `uudecode` does not undo).
///
/// ```
/// use postern_message::{Message, convert::{mime_to_uuencode_with, UuencodeOptions, Unrepresentable}};
/// use postern_message::builder::MessageBuilder;
/// let raw = MessageBuilder::new()
///     .text("Grüße\n")
///     .attachment("a.bin", "application/octet-stream", vec![1, 2, 3])
///     .build();
/// let opts = UuencodeOptions { charset: "iso-8859-1".into(), unrepresentable: Unrepresentable::Keep };
/// let out = mime_to_uuencode_with(&Message::parse(&raw), &opts).unwrap();
/// assert!(out.message.windows(7).any(|w| w == b"Gr\xfc\xdfe\r\n"));
/// let back = Message::parse(&out.message);
/// assert_eq!(back.root().content_type().param("charset"), Some("iso-8859-1"));
/// assert_eq!(back.root().uuencoded_blocks().len(), 1);
/// ```
pub fn mime_to_uuencode_with(
    msg: &Message<'_>,
    opts: &UuencodeOptions,
) -> Result<Converted, ConvertError> {
    mime_to_uuencode_types(msg, opts, &MimeTypes::builtin())
}

/// [`mime_to_uuencode_with`] with a MIME types table of the caller's: a part without a
/// file name is named `partN.EXT`, the extension the table gives its content type.
pub fn mime_to_uuencode_types(
    msg: &Message<'_>,
    opts: &UuencodeOptions,
    types: &MimeTypes,
) -> Result<Converted, ConvertError> {
    let target = target_encoding(&opts.charset)?;
    let mut report = Report::default();
    if contains_protected(msg, 0) {
        report.protected_parts = (0..msg.parts().len())
            .filter(|&i| is_protected(&msg.parts()[i]))
            .count();
        return Ok(Converted {
            message: msg.input().to_vec(),
            report,
        });
    }
    let mut texts = Vec::new();
    let mut files = Vec::new();
    collect_uu(msg, 0, types, &mut texts, &mut files);
    let (mut body, declared, unrepresentable) = uu_text(&texts, &target, opts.unrepresentable);
    report.unrepresentable = unrepresentable;
    if unrepresentable > 0 && opts.unrepresentable == Unrepresentable::Keep {
        report.kept_charset = 1;
    }
    for (name, data) in &files {
        if !body.is_empty() {
            body.extend_from_slice(b"\r\n");
        }
        let mut block = Vec::with_capacity(data.len() * 4 / 3 + 64);
        block.extend_from_slice(b"begin 644 ");
        block.extend_from_slice(&uu_name(name, &declared, &target, opts.unrepresentable));
        block.push(b'\n');
        uuencode::encode_chunk(data, Format::Classic, &mut block);
        uuencode::encode_footer(Format::Classic, &mut block);
        crate::encode::normalize_line_endings(&block, crate::encode::LineEnding::Crlf, &mut body);
    }
    report.attachments = files.len();
    report.parts_converted = texts.len() + files.len();
    report.changed = true;
    let ascii = body.is_ascii();
    let mut out = Vec::with_capacity(body.len() + 1024);
    write_fields(
        msg.headers().iter().filter(|h| !is_content_field(h)),
        false,
        &mut report,
        &mut out,
    );
    if !ascii {
        write_field("MIME-Version", "1.0", &mut out);
        write_field(
            "Content-Type",
            &format!("text/plain; charset={declared}"),
            &mut out,
        );
        write_field("Content-Transfer-Encoding", "8bit", &mut out);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    Ok(Converted {
        message: out,
        report,
    })
}

/// A media type for a file name, by extension (for files coming out of uuencode), from
/// the built-in MIME types table ([`MimeTypes::builtin`]).
pub fn media_type_for(name: &str) -> &'static str {
    static BUILTIN: std::sync::LazyLock<MimeTypes> = std::sync::LazyLock::new(MimeTypes::builtin);
    BUILTIN.type_for(name)
}

/// The text of a leaf with its uuencoded blocks cut out, and the blocks as attachments.
fn split_uu(
    part: &Part<'_>,
    blocks: &[uuencode::Block<'_>],
    types: &MimeTypes,
    report: &mut Report,
) -> Vec<OutPart> {
    let raw = part.raw_body();
    let mut text = Vec::with_capacity(raw.len());
    let mut at = 0;
    let mut files = Vec::new();
    for b in blocks {
        text.extend_from_slice(&raw[at..b.start]);
        at = b.end;
        let mut data = Vec::with_capacity(b.body.len() / 4 * 3);
        // Lenient decoding never fails.
        let _ = b.decode(Strictness::Lenient, &mut data);
        let name = charset::decode_lenient(b.name).into_owned();
        let ty = types.type_for(&name);
        // A text file keeps its octets: mark it binary-safe by sending it as is.
        files.push(OutPart::attachment(&name, ty, data));
        report.attachments += 1;
    }
    text.extend_from_slice(&raw[at..]);
    let mut out = Vec::new();
    if !text.iter().all(u8::is_ascii_whitespace) {
        // The blank lines that framed the blocks go with them: end on one line break.
        let keep = text.len()
            - text
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
        text.truncate(keep);
        text.extend_from_slice(b"\r\n");
        out.push(leaf_like(part, text));
    }
    out.extend(files);
    out
}

/// Turns text parts that carry uuencoded blocks into real MIME attachments: the message
/// (or the text part, inside a multipart, nested there) becomes `multipart/mixed` holding the remaining
/// text (when there is any besides white space) and one attachment per block, typed by
/// file extension. Parts without blocks, and protected parts, are copied as they were.
///
/// ```
/// use postern_message::{Message, convert::uuencode_to_mime};
/// let raw = b"Subject: files\r\n\r\nHere:\r\nbegin 644 a.bin\r\n#`0(#\r\n`\r\nend\r\n";
/// let out = uuencode_to_mime(&Message::parse(raw));
/// let back = Message::parse(&out.message);
/// assert_eq!(back.root().content_type().essence(), "multipart/mixed");
/// let att = &back.parts()[2];
/// assert_eq!(att.filename().as_deref(), Some("a.bin"));
/// assert_eq!(&att.decoded_body()[..], &[1, 2, 3]);
/// ```
pub fn uuencode_to_mime(msg: &Message<'_>) -> Converted {
    uuencode_to_mime_types(msg, &MimeTypes::builtin())
}

/// [`uuencode_to_mime`] with a MIME types table of the caller's: each file is typed by the
/// content type the table gives its extension.
pub fn uuencode_to_mime_types(msg: &Message<'_>, types: &MimeTypes) -> Converted {
    walk(msg, false, |part, report| {
        let blocks = part.uuencoded_blocks();
        if blocks.is_empty() {
            return None;
        }
        report.parts_converted += 1;
        let parts = split_uu(part, &blocks, types, report);
        Some(OutPart::multipart("mixed", parts))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_message_is_never_altered() {
        let raw = b"Subject: s\r\nContent-Type: multipart/signed; boundary=b; protocol=\"application/pgp-signature\"\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9\r\n\
--b\r\nContent-Type: application/pgp-signature\r\n\r\nSIG\r\n--b--\r\n";
        let msg = Message::parse(raw);
        for out in [
            downgrade_to_7bit(&msg),
            translate_charset(&msg, "iso-8859-1").unwrap(),
            mime_to_uuencode(&msg),
            uuencode_to_mime(&msg),
        ] {
            assert_eq!(out.message, raw.to_vec());
            assert!(!out.report.changed);
            assert!(out.report.protected_parts >= 1);
        }
        assert_eq!(downgrade_to_7bit(&msg).report.left_8bit, 1);
    }

    /// A protected message keeps even its raw 8-bit header fields in a 7-bit downgrade
    /// (the one case where the walk checks the root's protection itself), while an
    /// unprotected one has them encoded.
    #[test]
    fn protected_root_keeps_its_8bit_fields_in_a_downgrade() {
        let signed = b"Subject: caf\xc3\xa9\r\nContent-Type: multipart/signed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pgp-signature\r\n\r\nSIG\r\n--b--\r\n";
        let armoured = b"Subject: caf\xc3\xa9\r\nContent-Type: text/plain\r\n\r\n\
-----BEGIN PGP SIGNED MESSAGE-----\r\nhi\r\n";
        for raw in [&signed[..], &armoured[..]] {
            let out = downgrade_to_7bit(&Message::parse(raw));
            assert_eq!(out.message, raw);
            assert!(!out.report.changed && out.report.protected_parts == 1);
        }
        let plain = b"Subject: caf\xc3\xa9\r\nContent-Type: text/plain\r\n\r\nhi\r\n";
        let out = downgrade_to_7bit(&Message::parse(plain));
        assert!(out.report.changed && out.message.is_ascii());
    }

    #[test]
    fn signed_part_inside_mixed_is_copied_byte_for_byte() {
        let signed = b"Content-Type: multipart/signed; boundary=s\r\n\r\n--s\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\nna\xc3\xafve\r\n--s\r\nContent-Type: application/pkcs7-signature\r\n\r\nAAAA\r\n--s--";
        let mut raw = b"Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nd\xc3\xa9j\xc3\xa0 vu, encore une fois\r\n--m\r\n".to_vec();
        raw.extend_from_slice(signed);
        raw.extend_from_slice(b"\r\n--m--\r\n");
        let msg = Message::parse(&raw);
        let out = downgrade_to_7bit(&msg);
        assert!(out.report.changed);
        assert!(memchr::memmem::find(&out.message, signed).is_some());
        let back = Message::parse(&out.message);
        assert_eq!(
            back.parts()[1].text().as_deref(),
            Some("déjà vu, encore une fois")
        );
        assert_eq!(
            back.parts()[1].transfer_encoding(),
            crate::TransferEncoding::QuotedPrintable
        );
    }

    #[test]
    fn uuencode_to_mime_shapes() {
        // Only a block: the message becomes a multipart with just the attachment.
        let raw = b"Subject: x\r\n\r\n\r\nbegin 600 f.txt\r\n#86)C\r\n`\r\nend\r\n\r\n";
        let out = uuencode_to_mime(&Message::parse(raw));
        let back = Message::parse(&out.message);
        let leaves: Vec<usize> = back.leaves().collect();
        assert_eq!(leaves.len(), 1);
        let p = &back.parts()[leaves[0]];
        assert_eq!(p.content_type().essence(), "text/plain");
        assert_eq!(p.filename().as_deref(), Some("f.txt"));
        assert_eq!(&p.decoded_body()[..], b"abc");
        // A text part inside a multipart: replaced there; its sibling copied as it was.
        let sibling = b"Content-Type: image/gif\r\nContent-Transfer-Encoding: base64\r\n\r\nR0lG";
        let mut raw = b"Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\nhello\r\nbegin 644 a.b\r\n#86)C\r\n`\r\nend\r\nbye\r\n--q\r\n".to_vec();
        raw.extend_from_slice(sibling);
        raw.extend_from_slice(b"\r\n--q--\r\n");
        let out = uuencode_to_mime(&Message::parse(&raw));
        assert_eq!(out.report.attachments, 1);
        assert!(memchr::memmem::find(&out.message, sibling).is_some());
        let back = Message::parse(&out.message);
        let texts: Vec<String> = back
            .leaves()
            .filter_map(|i| back.parts()[i].text().map(|t| t.into_owned()))
            .collect();
        assert_eq!(texts, ["hello\r\nbye\r\n"]);
        assert_eq!(back.leaves().count(), 3);
        assert_eq!(back.attachments().len(), 1);
    }

    #[test]
    fn charset_leaves_attachments_and_same_charset_alone() {
        let raw = b"Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9\r\n--q\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\n\xe2\x82\xac\r\n--q--\r\n";
        let msg = Message::parse(raw);
        let out = translate_charset(&msg, "latin1").unwrap();
        assert!(!out.report.changed);
        let out = translate_charset(&msg, "utf-8").unwrap();
        assert_eq!(out.report.parts_converted, 1);
        let back = Message::parse(&out.message);
        assert_eq!(back.parts()[1].text().as_deref(), Some("café"));
        assert_eq!(&back.parts()[2].decoded_body()[..], "€".as_bytes());
    }

    /// The ASCII shortcut must not skip text whose octets are ASCII but whose characters
    /// are not: UTF-16 (NUL octets) and ISO-2022-JP (escape sequences) take the general
    /// path, which converts the Japanese.
    #[test]
    fn ascii_octets_in_a_non_ascii_charset_are_still_converted() {
        let utf16 = b"Content-Type: text/plain; charset=utf-16le\r\nContent-Transfer-Encoding: binary\r\n\r\nh\x00i\x00";
        assert!(!reads_as_ascii(Message::parse(utf16).root()));
        let jis = b"Content-Type: text/plain; charset=iso-2022-jp\r\n\r\n\x1b$B$3$s\x1b(B\r\n";
        assert!(!reads_as_ascii(Message::parse(jis).root()));
        let out = translate_charset(&Message::parse(jis), "utf-8").unwrap();
        assert_eq!(out.report.parts_converted, 1);
        let back = Message::parse(&out.message);
        assert!(!back.root().text().unwrap().is_ascii());
        // ASCII text under an ASCII-compatible label stays exactly as it is.
        let plain = b"Content-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n";
        let out = translate_charset(&Message::parse(plain), "iso-8859-1").unwrap();
        assert!(!out.report.changed);
    }

    proptest::proptest! {
        /// What the shortcut relies on: a part it passes reads as ASCII text.
        #[test]
        fn a_part_read_as_ascii_decodes_to_ascii_text(
            body in "[\\x00-\\x7f]{0,60}",
            charset in proptest::sample::select(vec!["", "utf-8", "us-ascii", "iso-8859-1",
                "utf-16le", "utf-16be", "iso-2022-jp", "koi8-r", "shift_jis", "x-unknown"]),
            cte in proptest::sample::select(vec!["", "7bit", "8bit", "binary", "base64",
                "quoted-printable", "x-uuencode"]),
        ) {
            let mut raw = String::from("Content-Type: text/plain");
            if !charset.is_empty() {
                raw.push_str("; charset=");
                raw.push_str(charset);
            }
            raw.push_str("\r\n");
            if !cte.is_empty() {
                raw.push_str("Content-Transfer-Encoding: ");
                raw.push_str(cte);
                raw.push_str("\r\n");
            }
            raw.push_str("\r\n");
            raw.push_str(&body);
            let msg = Message::parse(raw.as_bytes());
            if reads_as_ascii(msg.root()) {
                let text = msg.root().text();
                proptest::prop_assert!(text.as_deref().is_some_and(str::is_ascii), "{:?}", text);
            }
        }
    }

    #[test]
    fn unknown_charset_is_an_error() {
        let msg = Message::parse(b"\r\nx");
        assert_eq!(
            translate_charset(&msg, "klingon"),
            Err(ConvertError::UnknownCharset("klingon".into()))
        );
        assert!(translate_charset(&msg, "utf-16le").is_err());
    }

    #[test]
    fn seven_bit_message_is_unchanged() {
        let raw = b"Subject: a\r\nContent-Type: text/plain\r\n\r\nhello\r\n";
        let out = downgrade_to_7bit(&Message::parse(raw));
        assert!(!out.report.changed);
        assert_eq!(out.message, raw.to_vec());
    }
}
