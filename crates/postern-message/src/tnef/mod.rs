//! A decoder for TNEF (`application/ms-tnef`, `winmail.dat`), the "rich text" wrapper
//! Exchange and Outlook put around a message's attachments and body.
//!
//! It is tolerant of the TNEF real clients write: attachments without a file name, long
//! and Unicode names (from the MAPI properties), attachments that are embedded messages
//! (decoded as nested [`Tnef`]), bad checksums (counted, not refused), a truncated last
//! attribute and garbage after the end (both counted in [`Tnef::trailing`]). It never
//! panics, and allocates at most about the size of its input: every count read from the
//! stream is checked against what remains and against the named limits of [`TnefLimits`].
//!
//! [`expand_message`] turns the TNEF parts of a MIME message into ordinary attachments
//! (what the gateway's `rich_text = "never"` does).
//!
//! ```
//! use postern_message::tnef::{decode, TnefError};
//! assert_eq!(decode(b"not tnef").unwrap_err(), TnefError::NotTnef);
//! ```

mod mapi;
mod mime;

pub use mime::{Expanded, expand_message, is_tnef_part};

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// The four octets every TNEF stream starts with (0x223E9F78, little-endian).
pub const SIGNATURE: u32 = 0x223E_9F78;

/// Attribute levels.
const LVL_MESSAGE: u8 = 1;
const LVL_ATTACHMENT: u8 = 2;

/// Attribute ids (the low 16 bits of the attribute tag).
const ATT_BODY: u16 = 0x800C;
const ATT_SUBJECT: u16 = 0x8004;
const ATT_ATTACH_DATA: u16 = 0x800F;
const ATT_ATTACH_TITLE: u16 = 0x8010;
const ATT_ATTACH_RENDDATA: u16 = 0x9002;
const ATT_MAPI_PROPS: u16 = 0x9003;
const ATT_ATTACHMENT: u16 = 0x9005;
const ATT_OEM_CODEPAGE: u16 = 0x9007;

/// Bounds on what one stream can make the decoder keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TnefLimits {
    /// Most attachments kept per stream (more are skipped, counted in
    /// [`Tnef::skipped`]). Default [`MAX_ATTACHMENTS`].
    pub max_attachments: usize,
    /// Most properties read from one MAPI property list. Default [`MAX_PROPERTIES`].
    pub max_properties: usize,
    /// Deepest nesting of embedded messages decoded (deeper ones stay raw data).
    /// Default [`MAX_DEPTH`].
    pub max_depth: usize,
}

/// Default [`TnefLimits::max_attachments`].
pub const MAX_ATTACHMENTS: usize = 1024;
/// Default [`TnefLimits::max_properties`].
pub const MAX_PROPERTIES: usize = 4096;
/// Default [`TnefLimits::max_depth`].
pub const MAX_DEPTH: usize = 4;

impl Default for TnefLimits {
    fn default() -> Self {
        TnefLimits {
            max_attachments: MAX_ATTACHMENTS,
            max_properties: MAX_PROPERTIES,
            max_depth: MAX_DEPTH,
        }
    }
}

/// Why a stream could not be decoded at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TnefError {
    /// The input does not start with the TNEF signature.
    #[error("not TNEF (no 0x223E9F78 signature)")]
    NotTnef,
}

/// One attachment of a TNEF stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TnefAttachment {
    /// The short (often 8.3) name of `attAttachTitle`.
    pub title: Option<String>,
    /// The long name of the MAPI property `PR_ATTACH_LONG_FILENAME` (Unicode or 8-bit).
    pub long_name: Option<String>,
    /// `PR_DISPLAY_NAME`, used to name embedded messages.
    pub display_name: Option<String>,
    /// The content type of `PR_ATTACH_MIME_TAG`.
    pub mime_tag: Option<String>,
    /// The content (`attAttachData`, or the `PR_ATTACH_DATA_OBJ` property).
    pub data: Vec<u8>,
    /// An attachment that is an embedded message, decoded.
    pub embedded: Option<Box<Tnef>>,
}

impl TnefAttachment {
    /// The file name to use: the long name, else the title, else the display name;
    /// `None` when the stream gave none (the caller names it).
    pub fn name(&self) -> Option<&str> {
        [&self.long_name, &self.title, &self.display_name]
            .into_iter()
            .flatten()
            .map(|s| s.as_str())
            .find(|s| !s.trim().is_empty())
    }
}

/// A decoded TNEF stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tnef {
    /// The `attSubject` or `PR_SUBJECT` of the message.
    pub subject: Option<String>,
    /// The plain-text body (`attBody` or `PR_BODY`).
    pub body: Option<String>,
    /// The HTML body (`PR_BODY_HTML`, string or binary).
    pub body_html: Option<Vec<u8>>,
    /// The compressed RTF body (`PR_RTF_COMPRESSED`), as stored.
    pub rtf_compressed: Option<Vec<u8>>,
    /// The attachments, in stream order.
    pub attachments: Vec<TnefAttachment>,
    /// Attributes whose checksum did not match (kept all the same).
    pub bad_checksums: usize,
    /// Octets after the last whole attribute (a truncated attribute, or garbage).
    pub trailing: usize,
    /// Attachments or properties left out by [`TnefLimits`].
    pub skipped: usize,
}

/// Decodes a TNEF stream with the default [`TnefLimits`].
pub fn decode(input: &[u8]) -> Result<Tnef, TnefError> {
    decode_with(input, &TnefLimits::default())
}

/// Decodes a TNEF stream within `limits`.
pub fn decode_with(input: &[u8], limits: &TnefLimits) -> Result<Tnef, TnefError> {
    decode_depth(input, limits, 0)
}

fn decode_depth(input: &[u8], limits: &TnefLimits, depth: usize) -> Result<Tnef, TnefError> {
    let mut r = Reader::new(input);
    if r.u32() != Some(SIGNATURE) {
        return Err(TnefError::NotTnef);
    }
    // The legacy key: read and ignored.
    let _ = r.u16();
    let mut st = State {
        tnef: Tnef::default(),
        codepage: WINDOWS_1252,
        limits,
        depth,
        in_attachment: false,
    };
    while let Some(attr) = next_attribute(&mut r) {
        if !attr.checksum_ok {
            st.tnef.bad_checksums += 1;
        }
        st.apply(&attr);
    }
    st.tnef.trailing = r.remaining();
    Ok(st.tnef)
}

/// One attribute as read.
struct Attribute<'a> {
    level: u8,
    id: u16,
    data: &'a [u8],
    checksum_ok: bool,
}

/// Reads the next whole attribute, or `None` at the end, at a truncated attribute, or at
/// bytes that are no attribute (an unknown level): the reader is then left where the
/// bad bytes start, so the caller can count them.
fn next_attribute<'a>(r: &mut Reader<'a>) -> Option<Attribute<'a>> {
    let start = r.pos;
    let parsed = (|| {
        let level = r.u8()?;
        if level != LVL_MESSAGE && level != LVL_ATTACHMENT {
            return None;
        }
        let tag = r.u32()?;
        let len = r.u32()? as usize;
        let data = r.take(len)?;
        let checksum = r.u16()?;
        let sum = data.iter().fold(0u16, |s, &b| s.wrapping_add(u16::from(b)));
        Some(Attribute {
            level,
            id: (tag & 0xFFFF) as u16,
            data,
            checksum_ok: sum == checksum,
        })
    })();
    if parsed.is_none() {
        r.pos = start;
    }
    parsed
}

/// The decoder's state while reading attributes.
struct State<'l> {
    tnef: Tnef,
    codepage: &'static Encoding,
    limits: &'l TnefLimits,
    depth: usize,
    in_attachment: bool,
}

impl State<'_> {
    fn apply(&mut self, a: &Attribute<'_>) {
        match (a.level, a.id) {
            (LVL_MESSAGE, ATT_OEM_CODEPAGE) => {
                if let Some(cp) = Reader::new(a.data).u32() {
                    self.codepage = codepage(cp);
                }
            }
            (LVL_MESSAGE, ATT_SUBJECT) => self.tnef.subject = Some(self.string(a.data)),
            (LVL_MESSAGE, ATT_BODY) => self.tnef.body = Some(self.string(a.data)),
            (LVL_MESSAGE, ATT_MAPI_PROPS) => {
                let props = mapi::read_props(a.data, self.limits, &mut self.tnef.skipped);
                self.message_props(&props);
            }
            (LVL_ATTACHMENT, ATT_ATTACH_RENDDATA) => self.new_attachment(),
            (LVL_ATTACHMENT, id) => self.attachment_attribute(id, a.data),
            _ => {}
        }
    }

    fn new_attachment(&mut self) {
        if self.tnef.attachments.len() >= self.limits.max_attachments {
            self.tnef.skipped += 1;
            self.in_attachment = false;
            return;
        }
        self.tnef.attachments.push(TnefAttachment::default());
        self.in_attachment = true;
    }

    /// An attachment attribute; one before any `attAttachRenddata` opens an attachment
    /// (some writers leave it out).
    fn attachment_attribute(&mut self, id: u16, data: &[u8]) {
        if self.tnef.attachments.is_empty() {
            self.new_attachment();
        }
        if !self.in_attachment {
            return;
        }
        let text = matches!(id, ATT_ATTACH_TITLE).then(|| self.string(data));
        let props = (id == ATT_ATTACHMENT)
            .then(|| mapi::read_props(data, self.limits, &mut self.tnef.skipped));
        let (limits, depth) = (self.limits, self.depth);
        let Some(att) = self.tnef.attachments.last_mut() else {
            return;
        };
        match id {
            ATT_ATTACH_TITLE => att.title = text,
            ATT_ATTACH_DATA => att.data = data.to_vec(),
            ATT_ATTACHMENT => attachment_props(
                att,
                &props.unwrap_or_default(),
                limits,
                depth,
                self.codepage,
            ),
            _ => {}
        }
    }

    fn message_props(&mut self, props: &[mapi::Prop<'_>]) {
        for p in props {
            match p.id {
                mapi::PR_SUBJECT if self.tnef.subject.is_none() => {
                    self.tnef.subject = p.string(self.codepage);
                }
                mapi::PR_BODY if self.tnef.body.is_none() => {
                    self.tnef.body = p.string(self.codepage);
                }
                mapi::PR_BODY_HTML => {
                    self.tnef.body_html = p.bytes().map(<[u8]>::to_vec);
                }
                mapi::PR_RTF_COMPRESSED => {
                    self.tnef.rtf_compressed = p.bytes().map(<[u8]>::to_vec);
                }
                _ => {}
            }
        }
    }

    /// An 8-bit string in the stream's code page, without its terminating NULs.
    fn string(&self, data: &[u8]) -> String {
        decode_8bit(data, self.codepage)
    }
}

/// The attachment's MAPI properties: long name, display name, MIME tag, and the data
/// (an embedded message is decoded when it is TNEF and the depth allows).
fn attachment_props(
    att: &mut TnefAttachment,
    props: &[mapi::Prop<'_>],
    limits: &TnefLimits,
    depth: usize,
    cp: &'static Encoding,
) {
    for p in props {
        match p.id {
            mapi::PR_ATTACH_LONG_FILENAME => att.long_name = p.string(cp),
            mapi::PR_DISPLAY_NAME => att.display_name = p.string(cp),
            mapi::PR_ATTACH_MIME_TAG => att.mime_tag = p.string(cp),
            mapi::PR_ATTACH_DATA_OBJ => {
                let Some(bytes) = p.bytes() else { continue };
                if p.is_object() {
                    // An object value starts with the 16-octet interface id.
                    let inner = bytes.get(16..).unwrap_or_default();
                    if depth < limits.max_depth {
                        att.embedded = decode_depth(inner, limits, depth + 1).ok().map(Box::new);
                    }
                    att.data = inner.to_vec();
                } else {
                    att.data = bytes.to_vec();
                }
            }
            _ => {}
        }
    }
}

/// The encoding for a Windows code page number; Windows-1252 for one not known.
fn codepage(cp: u32) -> &'static Encoding {
    match cp {
        65001 => UTF_8,
        932 => encoding_rs::SHIFT_JIS,
        936 => encoding_rs::GBK,
        949 => encoding_rs::EUC_KR,
        950 => encoding_rs::BIG5,
        874 | 1250..=1258 => {
            let label = format!("windows-{cp}");
            Encoding::for_label(label.as_bytes()).unwrap_or(WINDOWS_1252)
        }
        _ => WINDOWS_1252,
    }
}

/// 8-bit text without its trailing NULs, decoded in `enc`.
fn decode_8bit(data: &[u8], enc: &'static Encoding) -> String {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    enc.decode_without_bom_handling(&data[..end]).0.into_owned()
}

/// A little-endian reader that never reads past its input.
struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(input: &'a [u8]) -> Self {
        Reader { input, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.remaining() {
            return None;
        }
        let s = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Some(s)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Skips to the next multiple of 4 (MAPI values are padded so).
    fn align4(&mut self) {
        let pad = (4 - self.pos % 4) % 4;
        self.pos = (self.pos + pad).min(self.input.len());
    }
}
