//! The parsed message and its MIME tree.
//!
//! [`Message::parse`] splits a message into a flat list of [`Part`]s in depth-first order
//! (the top-level message is part 0), each borrowing its headers and body from the input.
//! Nothing is decoded until asked for ([`Header::value`], [`Part::decoded_body`],
//! [`Part::text`]).
//!
//! The structure follows what Python's `email` package (and most readers) build from the
//! same bytes, so the two agree on real, broken mail:
//! - a boundary line is `--boundary`, optionally `--`, optional blanks, then the end of the
//!   line; the line break before it belongs to the boundary;
//! - a boundary of *any* enclosing multipart ends the current part, so missing end
//!   boundaries and truncated messages are tolerated;
//! - nothing between two boundary lines is an empty part (mime4j and MIME-tools keep
//!   it; Python drops it);
//! - a multipart without a boundary parameter, or whose first boundary never appears, is
//!   a leaf holding its whole body;
//! - `message/*` parts (except `message/delivery-status` and `message/partial`, whose
//!   fragments are leaves) contain a nested message; when they are base64 or
//!   quoted-printable encoded, [`Message::parse_with`] keeps them as leaves and
//!   [`Message::parse_nested`] decodes and parses them (see [`crate::encapsulated`]);
//! - without a Content-Type, a part is `text/plain`, or `message/rfc822` directly inside a
//!   `multipart/digest`; an unparseable Content-Type means `text/plain`.
//!
//! Text leaves can carry uuencoded files (`begin 644 name` … `end`); [`Message::attachments`]
//! lists them beside the MIME attachments.

use std::borrow::Cow;
use std::ops::Range;

use memchr::memmem;

use crate::address::AddressList;
use crate::charset;
use crate::encapsulated::{self, Encapsulated};
use crate::header::{self, Header};
use crate::limits::Limits;
use crate::params::{ContentDisposition, ContentType};
use crate::transfer::TransferEncoding;
use crate::uuencode;

/// What a part contains.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartKind {
    /// A leaf: its body is content.
    Leaf,
    /// A multipart: body parts are its children.
    Multipart {
        /// Offsets of the text before the first boundary (line break before it excluded).
        preamble: Range<usize>,
        /// Offsets of the text after the close boundary (empty when there is none).
        epilogue: Range<usize>,
        /// Whether the close boundary (`--boundary--`) was seen.
        closed: bool,
    },
    /// A `message/*` part: its single child is the nested message.
    Message,
}

/// One node of the MIME tree.
#[derive(Debug, Clone)]
pub struct Part<'a> {
    headers: Vec<Header<'a>>,
    content_type: ContentType<'a>,
    encoding: TransferEncoding,
    body: &'a [u8],
    span: Range<usize>,
    kind: PartKind,
    parent: Option<usize>,
    children: Vec<usize>,
    source: usize,
}

impl<'a> Part<'a> {
    /// The header fields in order.
    pub fn headers(&self) -> &[Header<'a>] {
        &self.headers
    }

    /// The first field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&Header<'a>> {
        self.headers.iter().find(|h| h.is(name))
    }

    /// The decoded value of the first field called `name`.
    pub fn header_value(&self, name: &str) -> Option<Cow<'a, str>> {
        self.header(name).map(Header::value)
    }

    /// The effective content type (defaults applied).
    pub fn content_type(&self) -> &ContentType<'a> {
        &self.content_type
    }

    /// The Content-Transfer-Encoding.
    pub fn transfer_encoding(&self) -> TransferEncoding {
        self.encoding
    }

    /// The parsed Content-Disposition, if the part has one.
    pub fn disposition(&self) -> Option<ContentDisposition<'a>> {
        self.header("content-disposition")
            .map(|h| ContentDisposition::parse(h.raw_value()))
    }

    /// The file name: the disposition's `filename`, else the content type's `name`
    /// (decoded, RFC 2231 and RFC 2047 both understood, surrounding blanks trimmed).
    pub fn filename(&self) -> Option<Cow<'a, str>> {
        let from_disposition = self
            .disposition()
            .and_then(|d| take_param(d.params, "filename"));
        from_disposition
            .or_else(|| {
                self.content_type
                    .param("name")
                    .map(|n| Cow::Owned(n.to_string()))
            })
            .map(|n| match n {
                Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
                Cow::Owned(o) => Cow::Owned(o.trim().to_string()),
            })
    }

    /// Whether this part is an attachment: a leaf with `Content-Disposition: attachment`,
    /// or a non-text leaf with a file name.
    pub fn is_attachment(&self) -> bool {
        if !matches!(self.kind, PartKind::Leaf) {
            return false;
        }
        if self.disposition().is_some_and(|d| d.is_attachment()) {
            return true;
        }
        self.content_type.ty() != "text" && self.filename().is_some()
    }

    /// What the part contains.
    pub fn kind(&self) -> &PartKind {
        &self.kind
    }

    /// Whether this is a multipart with children.
    pub fn is_multipart(&self) -> bool {
        matches!(self.kind, PartKind::Multipart { .. })
    }

    /// The index of the enclosing part, `None` for the top-level message.
    pub fn parent(&self) -> Option<usize> {
        self.parent
    }

    /// The indices of the child parts, in order.
    pub fn children(&self) -> &[usize] {
        &self.children
    }

    /// The raw body: for a leaf, the still-encoded content; for a container, everything
    /// after its header block.
    pub fn raw_body(&self) -> &'a [u8] {
        self.body
    }

    /// Offsets of the whole part in its source ([`Message::source`]: the input, or the
    /// decoded content of an encoded message part), header block included.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The body with its transfer encoding undone (borrowed for 7bit/8bit/binary).
    pub fn decoded_body(&self) -> Cow<'a, [u8]> {
        self.encoding.decode(self.body)
    }

    /// For a `text/*` leaf, the decoded body as text, in the charset the part declares
    /// (see [`crate::charset`]); unlabelled text is UTF-8 when valid, else windows-1252.
    pub fn text(&self) -> Option<Cow<'a, str>> {
        if self.content_type.ty() != "text" || !matches!(self.kind, PartKind::Leaf) {
            return None;
        }
        let label = self.content_type.param("charset");
        Some(match self.decoded_body() {
            Cow::Borrowed(b) => match label {
                Some(l) => charset::decode(l.as_bytes(), b),
                None => charset::decode_lenient(b),
            },
            Cow::Owned(v) => Cow::Owned(charset::decode_owned(label.map(str::as_bytes), v)),
        })
    }

    /// The uuencoded blocks in a `text/plain` leaf sent as 7bit, 8bit or binary (the way
    /// uuencoded mail travels); empty for other parts.
    pub fn uuencoded_blocks(&self) -> Vec<uuencode::Block<'a>> {
        let identity = matches!(
            self.encoding,
            TransferEncoding::SevenBit | TransferEncoding::EightBit | TransferEncoding::Binary
        );
        if !identity
            || !self.content_type.is("text", "plain")
            || !matches!(self.kind, PartKind::Leaf)
        {
            return Vec::new();
        }
        uuencode::find_blocks(self.body).collect()
    }
}

fn take_param<'a>(params: Vec<crate::params::Param<'a>>, name: &str) -> Option<Cow<'a, str>> {
    params
        .into_iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .map(|p| p.value)
}

/// An attachment: a MIME leaf part, or a uuencoded block inside a text part.
#[derive(Debug, Clone)]
pub enum Attachment<'m, 'a> {
    /// A MIME part (see [`Part::is_attachment`]).
    Part {
        /// The part's index.
        index: usize,
        /// The part.
        part: &'m Part<'a>,
    },
    /// A uuencoded block in the text part `index`.
    Uuencoded {
        /// The index of the text part holding the block.
        index: usize,
        /// The block.
        block: uuencode::Block<'a>,
    },
}

impl Attachment<'_, '_> {
    /// The file name, if known.
    pub fn filename(&self) -> Option<String> {
        match self {
            Attachment::Part { part, .. } => part.filename().map(Cow::into_owned),
            Attachment::Uuencoded { block, .. } => {
                Some(charset::decode_lenient(block.name).into_owned())
            }
        }
    }

    /// The decoded content.
    pub fn content(&self) -> Vec<u8> {
        match self {
            Attachment::Part { part, .. } => part.decoded_body().into_owned(),
            Attachment::Uuencoded { block, .. } => {
                let mut out = Vec::with_capacity(block.body.len() / 4 * 3);
                // Lenient decoding keeps what it can; errors only come from strict mode.
                let _ = uuencode::decode(
                    block.body,
                    block.format,
                    uuencode::Strictness::Lenient,
                    &mut out,
                );
                out
            }
        }
    }
}

/// A parsed message, borrowing from its input.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    input: &'a [u8],
    parts: Vec<Part<'a>>,
    limited: bool,
    store: Option<&'a Encapsulated>,
}

impl<'a> Message<'a> {
    /// Parses a message with the default [`Limits`]. Never fails: any input gives a tree.
    pub fn parse(input: &'a [u8]) -> Self {
        Self::parse_with(input, &Limits::default())
    }

    /// Parses a message with explicit limits.
    pub fn parse_with(input: &'a [u8], limits: &Limits) -> Self {
        Self::parse_store(input, None, limits)
    }

    /// Parses a message whose base64- or quoted-printable-encoded `message/*` parts were
    /// decoded into `store` (built from the same `input` with [`Encapsulated::new`]): each
    /// becomes a [`PartKind::Message`] part whose raw body is still the encoded text and
    /// whose child is the decoded message, parsed like any other.
    pub fn parse_nested(input: &'a [u8], store: &'a Encapsulated, limits: &Limits) -> Self {
        Self::parse_store(input, Some(store), limits)
    }

    fn parse_store(input: &'a [u8], store: Option<&'a Encapsulated>, limits: &Limits) -> Self {
        let mut p = Parser {
            input,
            limits,
            parts: Vec::with_capacity(4),
            bounds: Vec::new(),
            limited: false,
            finder: std::cell::OnceCell::new(),
            store,
            source: 0,
        };
        p.part(0, None, 0, ContentType::text_plain());
        Message {
            input,
            parts: p.parts,
            limited: p.limited,
            store,
        }
    }

    /// The bytes that part `index`'s offsets ([`Part::span`], preamble, epilogue) refer
    /// to: the input, or for a part inside an encoded message, that message's decoded
    /// content.
    pub fn source(&self, index: usize) -> &'a [u8] {
        let k = self.parts[index].source;
        self.store.and_then(|s| s.source(k)).unwrap_or(self.input)
    }

    /// The input this message borrows from.
    pub fn input(&self) -> &'a [u8] {
        self.input
    }

    /// Every part in depth-first order; index 0 is the message itself.
    pub fn parts(&self) -> &[Part<'a>] {
        &self.parts
    }

    /// The top-level part (the message itself).
    pub fn root(&self) -> &Part<'a> {
        &self.parts[0]
    }

    /// Whether a [`Limits`] bound was reached (part of the input was left unstructured).
    pub fn limited(&self) -> bool {
        self.limited
    }

    /// The top-level header fields.
    pub fn headers(&self) -> &[Header<'a>] {
        self.root().headers()
    }

    /// The first top-level field called `name`.
    pub fn header(&self, name: &str) -> Option<&Header<'a>> {
        self.root().header(name)
    }

    /// The decoded Subject.
    pub fn subject(&self) -> Option<Cow<'a, str>> {
        self.root().header_value("subject")
    }

    /// The From addresses.
    pub fn from(&self) -> AddressList<'a> {
        self.addresses("from")
    }

    /// The To addresses.
    pub fn to(&self) -> AddressList<'a> {
        self.addresses("to")
    }

    /// The Cc addresses.
    pub fn cc(&self) -> AddressList<'a> {
        self.addresses("cc")
    }

    /// The addresses of every top-level field called `name`, concatenated.
    pub fn addresses(&self, name: &str) -> AddressList<'a> {
        let mut list = AddressList::default();
        for h in self.headers().iter().filter(|h| h.is(name)) {
            list.entries.extend(h.addresses().entries);
        }
        list
    }

    /// The Date.
    pub fn date(&self) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        self.header("date").and_then(Header::date)
    }

    /// The Message-ID, without angle brackets.
    pub fn message_id(&self) -> Option<Cow<'a, str>> {
        self.header("message-id")
            .and_then(|h| h.message_ids().into_iter().next())
    }

    /// The References ids, oldest first.
    pub fn references(&self) -> Vec<Cow<'a, str>> {
        self.header("references")
            .map(Header::message_ids)
            .unwrap_or_default()
    }

    /// The In-Reply-To ids.
    pub fn in_reply_to(&self) -> Vec<Cow<'a, str>> {
        self.header("in-reply-to")
            .map(Header::message_ids)
            .unwrap_or_default()
    }

    /// The IMAP-style path of part `index`: `""` for the message, `"1"`, `"1.2"`, … (the
    /// nested message of a `message/rfc822` part is its child `.1`).
    pub fn path(&self, index: usize) -> String {
        let mut nums = Vec::new();
        let mut i = index;
        while let Some(parent) = self.parts[i].parent {
            let pos = self.parts[parent]
                .children
                .iter()
                .position(|&c| c == i)
                .unwrap_or(0);
            nums.push((pos + 1).to_string());
            i = parent;
        }
        nums.reverse();
        nums.join(".")
    }

    /// The index of the part at an IMAP-style `path` (see [`Message::path`]).
    pub fn find_path(&self, path: &str) -> Option<usize> {
        let mut i = 0;
        for n in path.split('.').filter(|s| !s.is_empty()) {
            let n: usize = n.parse().ok()?;
            i = *self.parts[i].children.get(n.checked_sub(1)?)?;
        }
        Some(i)
    }

    /// Indices of the leaf parts, in order.
    pub fn leaves(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.parts.len()).filter(|&i| matches!(self.parts[i].kind, PartKind::Leaf))
    }

    /// The attachments: MIME attachment parts and uuencoded blocks in text parts, in
    /// document order.
    pub fn attachments(&self) -> Vec<Attachment<'_, 'a>> {
        let mut out = Vec::new();
        for i in self.leaves() {
            let part = &self.parts[i];
            if part.is_attachment() {
                out.push(Attachment::Part { index: i, part });
            } else {
                out.extend(
                    part.uuencoded_blocks()
                        .into_iter()
                        .map(|block| Attachment::Uuencoded { index: i, block }),
                );
            }
        }
        out
    }
}

/// A boundary line found in the input.
#[derive(Debug, Clone, Copy)]
struct BoundaryHit {
    /// Offset of the `--`.
    line: usize,
    /// Offset after the line (and its line break).
    next: usize,
    /// Which entry of the boundary stack matched.
    level: usize,
    /// Whether it is a close delimiter (`--b--`).
    close: bool,
}

struct Parser<'a, 'l> {
    input: &'a [u8],
    limits: &'l Limits,
    parts: Vec<Part<'a>>,
    /// Boundaries of the enclosing multiparts, outermost first.
    bounds: Vec<Vec<u8>>,
    limited: bool,
    /// The `\n--` searcher, built on the first search (messages without a multipart
    /// never search).
    finder: std::cell::OnceCell<memmem::Finder<'static>>,
    /// Decoded encoded-message parts, when parsing with [`Message::parse_nested`].
    store: Option<&'a Encapsulated>,
    /// Which source `input` is (0: the message; `k`: buffer `k` of the store).
    source: usize,
}

impl<'a> Parser<'a, '_> {
    /// Parses the part whose header block starts at `start`; returns the offset where it
    /// stopped: the start of a boundary line of an enclosing multipart, or the input end.
    fn part(
        &mut self,
        start: usize,
        parent: Option<usize>,
        depth: usize,
        default: ContentType<'a>,
    ) -> usize {
        let input = self.input;
        // Room for a typical header block up front, instead of growing 4, 8, 16, ….
        let mut headers = Vec::with_capacity(16);
        let end = header::parse_block(
            input,
            start,
            input.len(),
            self.limits,
            |p| self.boundary_at(p).is_some(),
            &mut headers,
        );
        self.limited |= end.limited;
        let body_start = end.body_start;
        let content_type = match headers.iter().find(|h| h.is("content-type")) {
            Some(h) => ContentType::parse(h.raw_value()).unwrap_or_else(ContentType::text_plain),
            None => default,
        };
        let encoding = headers
            .iter()
            .find(|h| h.is("content-transfer-encoding"))
            .map_or(TransferEncoding::SevenBit, |h| {
                TransferEncoding::parse(h.raw_value())
            });
        let index = self.parts.len();
        self.parts.push(Part {
            headers,
            content_type,
            encoding,
            body: &[],
            span: start..start,
            kind: PartKind::Leaf,
            parent,
            children: Vec::new(),
            source: self.source,
        });
        if let Some(p) = parent {
            self.parts[p].children.push(index);
        }
        let stop = self.body(index, body_start, depth);
        let part = &mut self.parts[index];
        part.span = start..stop;
        stop
    }

    /// Parses the body of part `index` according to its type; returns where it stopped.
    fn body(&mut self, index: usize, body_start: usize, depth: usize) -> usize {
        let ct = &self.parts[index].content_type;
        let container_ok =
            depth < self.limits.max_depth && self.parts.len() < self.limits.max_parts;
        if ct.ty() == "multipart" {
            let boundary = ct
                .param("boundary")
                .map(|b| b.trim_end().as_bytes().to_vec());
            if let Some(b) = boundary.filter(|b| !b.is_empty()) {
                if depth < self.limits.max_depth {
                    return self.multipart(index, body_start, b, depth);
                } else {
                    self.limited = true;
                }
            }
        } else if ct.ty() == "message" && encapsulated::nests(ct.subtype()) {
            let identity = !matches!(
                self.parts[index].encoding,
                TransferEncoding::Base64 | TransferEncoding::QuotedPrintable
            );
            if !identity {
                return self.encoded_message(index, body_start, depth, container_ok);
            }
            if identity && container_ok {
                self.parts[index].kind = PartKind::Message;
                let stop = self.part(
                    body_start,
                    Some(index),
                    depth + 1,
                    ContentType::text_plain(),
                );
                self.parts[index].body = &self.input[body_start..stop];
                return stop;
            } else if identity {
                self.limited = true;
            }
        }
        self.leaf(index, body_start)
    }

    /// A base64/QP `message/*` part: a leaf, or with its decoded content in the store, a
    /// message part whose child is parsed from that content (enclosing boundaries do not
    /// apply inside it: the encoding hid them).
    fn encoded_message(
        &mut self,
        index: usize,
        body_start: usize,
        depth: usize,
        container_ok: bool,
    ) -> usize {
        let stop = self.leaf(index, body_start);
        let Some((source, bytes)) = self.store.and_then(|s| s.find(self.source, body_start)) else {
            return stop;
        };
        if !container_ok {
            self.limited = true;
            return stop;
        }
        self.parts[index].kind = PartKind::Message;
        let input = std::mem::replace(&mut self.input, bytes);
        let bounds = std::mem::take(&mut self.bounds);
        let outer = std::mem::replace(&mut self.source, source);
        self.part(0, Some(index), depth + 1, ContentType::text_plain());
        self.input = input;
        self.bounds = bounds;
        self.source = outer;
        stop
    }

    fn leaf(&mut self, index: usize, body_start: usize) -> usize {
        let (stop, hit) = match self.find_boundary(body_start) {
            Some(hit) => (hit.line, true),
            None => (self.input.len(), false),
        };
        let end = if hit || !self.bounds.is_empty() {
            strip_eol(self.input, body_start, stop)
        } else {
            stop
        };
        self.parts[index].body = &self.input[body_start..end];
        stop
    }

    fn multipart(
        &mut self,
        index: usize,
        body_start: usize,
        boundary: Vec<u8>,
        depth: usize,
    ) -> usize {
        let input = self.input;
        self.bounds.push(boundary);
        let own = self.bounds.len() - 1;
        // Preamble: up to the first boundary line.
        let first = self.find_boundary_ordered(body_start, true);
        let Some(hit) = first.filter(|h| h.level == own && !h.close) else {
            // No start boundary: the whole body is content.
            self.bounds.pop();
            return match first {
                Some(h) if h.level == own => {
                    // A close delimiter before any separator: content up to it, the rest
                    // (to an enclosing boundary) is dropped, as Python does.
                    self.parts[index].body =
                        &input[body_start..strip_eol(input, body_start, h.line)];
                    self.find_boundary(h.next).map_or(input.len(), |h| h.line)
                }
                _ => self.leaf(index, body_start),
            };
        };
        let preamble = body_start..strip_eol(input, body_start, hit.line);
        let mut at = hit;
        let mut closed = false;
        loop {
            // A boundary line right after the separator ends an empty part.
            let child_start = at.next;
            if self.parts.len() >= self.limits.max_parts {
                self.limited = true;
                match self.skip_to_close(child_start, own) {
                    Some(h) => at = h,
                    None => break,
                }
            } else {
                let default = if self.parts[index].content_type.is("multipart", "digest") {
                    ContentType::new("message", "rfc822")
                } else {
                    ContentType::text_plain()
                };
                let stop = self.part(child_start, Some(index), depth + 1, default);
                match self.boundary_at(stop) {
                    Some(h) => at = h,
                    None => break, // end of input
                }
            }
            if at.level != own {
                break; // an enclosing boundary ends this multipart without a close
            }
            if at.close {
                closed = true;
                break;
            }
        }
        self.bounds.pop();
        let (stop, epilogue) = if closed {
            let from = at.next;
            let stop = self.find_boundary(from).map_or(input.len(), |h| h.line);
            let end = if stop < input.len() || !self.bounds.is_empty() {
                strip_eol(input, from, stop)
            } else {
                stop
            };
            (stop, from..end.max(from))
        } else {
            let stop = if at.level != own {
                at.line
            } else {
                input.len()
            };
            (stop, stop..stop)
        };
        let part = &mut self.parts[index];
        part.kind = PartKind::Multipart {
            preamble,
            epilogue,
            closed,
        };
        part.body = &input[body_start..stop];
        stop
    }

    /// With the part limit reached: finds this multipart's close delimiter or an enclosing
    /// boundary, skipping the remaining body parts.
    fn skip_to_close(&self, mut from: usize, own: usize) -> Option<BoundaryHit> {
        loop {
            let h = self.find_boundary(from)?;
            if h.level != own || h.close {
                return Some(h);
            }
            from = h.next;
        }
    }

    /// The first boundary line (of any enclosing multipart) at or after line start `from`.
    fn find_boundary(&self, from: usize) -> Option<BoundaryHit> {
        self.find_boundary_ordered(from, false)
    }

    /// [`Self::find_boundary`]; with `outer_first`, the innermost boundary is tried last
    /// (while a multipart looks for its first boundary, enclosing boundaries take
    /// precedence, as in Python's parser: this decides which multipart owns a line when
    /// nested multiparts share a boundary).
    fn find_boundary_ordered(&self, from: usize, outer_first: bool) -> Option<BoundaryHit> {
        if self.bounds.is_empty() || from >= self.input.len() {
            return None;
        }
        if let Some(h) = self.boundary_at_ordered(from, outer_first) {
            return Some(h);
        }
        let mut pos = from;
        let finder = self.finder.get_or_init(|| memmem::Finder::new(b"\n--"));
        while let Some(i) = finder.find(&self.input[pos..]) {
            let line = pos + i + 1;
            if let Some(h) = self.boundary_at_ordered(line, outer_first) {
                return Some(h);
            }
            pos = line;
        }
        None
    }

    /// Whether a boundary line starts at `line` (innermost multipart checked first).
    fn boundary_at(&self, line: usize) -> Option<BoundaryHit> {
        self.boundary_at_ordered(line, false)
    }

    fn boundary_at_ordered(&self, line: usize, outer_first: bool) -> Option<BoundaryHit> {
        let rest = self.input.get(line..)?.strip_prefix(b"--")?;
        let top = self.bounds.len().checked_sub(1)?;
        for k in 0..=top {
            // Innermost first; with `outer_first`, the innermost goes last instead.
            let level = if outer_first {
                (top + top - k) % (top + 1)
            } else {
                top - k
            };
            let b = &self.bounds[level];
            let Some(after) = rest.strip_prefix(b.as_slice()) else {
                continue;
            };
            let (close, after) = match after.strip_prefix(b"--") {
                Some(a) => (true, a),
                None => (false, after),
            };
            let ws = after
                .iter()
                .take_while(|&&c| c == b' ' || c == b'\t')
                .count();
            let tail = &after[ws..];
            // The line break: LF, CRLF, a bare CR, or CRs doubled by a broken CRLF
            // conversion (`\r\r\n`), which all count as one.
            let crs = tail.iter().take_while(|&&c| c == b'\r').count();
            let eol = match tail.get(crs) {
                Some(b'\n') => crs + 1,
                Some(_) if crs == 0 => continue,
                _ => crs,
            };
            let next = self.input.len() - tail.len() + eol;
            return Some(BoundaryHit {
                line,
                next,
                level,
                close,
            });
        }
        None
    }
}

/// `stop` minus one trailing line break (CRLF, LF or CR), never before `start`.
fn strip_eol(input: &[u8], start: usize, stop: usize) -> usize {
    let s = &input[start..stop];
    if s.ends_with(b"\r\n") {
        stop - 2
    } else if s.ends_with(b"\n") || s.ends_with(b"\r") {
        stop - 1
    } else {
        stop
    }
}

// ---- building the store of encoded message parts -------------------------------------
// Here rather than in `encapsulated`, which holds only the store, so that the store's
// module does not import this one (imports run one way).

impl Encapsulated {
    /// Decodes the encoded message parts of `input` and of the messages inside them.
    /// Cheap when there are none (one parse of the input, no copies).
    pub fn new(input: &[u8], limits: &Limits) -> Self {
        let mut store = Encapsulated::default();
        store.collect(input, 0, 0, limits);
        store
    }

    fn collect(&mut self, src: &[u8], source: usize, level: usize, limits: &Limits) {
        if level >= limits.max_encapsulation_depth {
            return;
        }
        let msg = Message::parse_with(src, limits);
        for part in msg.parts().iter().filter(|p| is_encoded_message(p)) {
            // The body is a subslice of `src`; its offset keys the buffer.
            let offset = (part.raw_body().as_ptr() as usize).wrapping_sub(src.as_ptr() as usize);
            let bytes = part.decoded_body().into_owned();
            self.index.insert((source, offset), self.buffers.len());
            // Pushed before recursing so the numbering is fixed; filled in after, since
            // the recursion reads `bytes` while it pushes more buffers.
            self.buffers.push(Vec::new());
            let k = self.buffers.len();
            self.collect(&bytes, k, level + 1, limits);
            self.buffers[k - 1] = bytes;
        }
    }
}

/// Whether `part` is a leaf `message/*` part whose body is base64 or quoted-printable.
fn is_encoded_message(part: &Part<'_>) -> bool {
    let ct = part.content_type();
    matches!(part.kind(), PartKind::Leaf)
        && ct.ty() == "message"
        && encapsulated::nests(ct.subtype())
        && matches!(
            part.transfer_encoding(),
            TransferEncoding::Base64 | TransferEncoding::QuotedPrintable
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(m: &Message<'_>) -> Vec<(String, String)> {
        (0..m.parts().len())
            .map(|i| (m.path(i), m.parts()[i].content_type().essence()))
            .collect()
    }

    fn t(path: &str, ty: &str) -> (String, String) {
        (path.to_string(), ty.to_string())
    }

    #[test]
    fn simple_message() {
        let m = Message::parse(b"Subject: hi\r\nFrom: a@b\r\n\r\nbody\r\n");
        assert_eq!(m.parts().len(), 1);
        assert_eq!(m.subject().as_deref(), Some("hi"));
        assert_eq!(m.root().raw_body(), b"body\r\n");
        assert_eq!(m.root().text().as_deref(), Some("body\r\n"));
        assert_eq!(m.path(0), "");
    }

    #[test]
    fn multipart_preamble_epilogue() {
        let raw = b"Content-Type: multipart/mixed; boundary=\"xx\"\r\n\r\npre\r\n--xx\r\n\r\none\r\n--xx \r\nContent-Type: text/html\r\n\r\n<b>two</b>\r\n--xx--\r\nepi\r\n";
        let m = Message::parse(raw);
        assert_eq!(
            types(&m),
            [
                t("", "multipart/mixed"),
                t("1", "text/plain"),
                t("2", "text/html")
            ]
        );
        assert_eq!(m.parts()[1].raw_body(), b"one");
        assert_eq!(m.parts()[2].raw_body(), b"<b>two</b>");
        let PartKind::Multipart {
            preamble,
            epilogue,
            closed,
        } = m.root().kind().clone()
        else {
            panic!()
        };
        assert!(closed);
        assert_eq!(&raw[preamble], b"pre");
        assert_eq!(&raw[epilogue], b"epi\r\n");
    }

    #[test]
    fn similar_lines_are_not_boundaries() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--bx\n --b\n--b-\n--b\n\nz\n--b--";
        let m = Message::parse(raw);
        assert_eq!(m.parts().len(), 3);
        assert_eq!(m.parts()[1].raw_body(), b"--bx\n --b\n--b-");
    }

    #[test]
    fn nested_missing_end_boundary() {
        let raw = b"Content-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: multipart/alternative; boundary=inner\n\n--inner\n\na\n--inner\n\nb\n--outer\n\nc\n--outer--\n";
        let m = Message::parse(raw);
        assert_eq!(
            types(&m),
            [
                t("", "multipart/mixed"),
                t("1", "multipart/alternative"),
                t("1.1", "text/plain"),
                t("1.2", "text/plain"),
                t("2", "text/plain")
            ]
        );
        assert_eq!(m.parts()[3].raw_body(), b"b");
        assert!(matches!(
            m.parts()[1].kind(),
            PartKind::Multipart { closed: false, .. }
        ));
        assert_eq!(m.parts()[4].raw_body(), b"c");
    }

    #[test]
    fn truncated_message() {
        let m = Message::parse(b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nhalf a par");
        assert_eq!(m.parts().len(), 2);
        assert_eq!(m.parts()[1].raw_body(), b"half a par");
    }

    #[test]
    fn multipart_without_boundary_is_leaf() {
        let m = Message::parse(b"Content-Type: multipart/mixed\n\n--x\n\nbody\n");
        assert_eq!(m.parts().len(), 1);
        assert_eq!(m.root().raw_body(), b"--x\n\nbody\n");
        let m = Message::parse(b"Content-Type: multipart/mixed; boundary=nope\n\n--x\n\nbody\n");
        assert_eq!(m.parts().len(), 1);
        assert_eq!(m.root().raw_body(), b"--x\n\nbody\n");
    }

    #[test]
    fn consecutive_boundaries_make_an_empty_part() {
        let m =
            Message::parse(b"Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\nx\n--b--\n");
        assert_eq!(m.parts().len(), 3);
        assert_eq!(m.parts()[1].raw_body(), b"");
        assert!(m.parts()[1].headers().is_empty());
        assert_eq!(m.parts()[2].raw_body(), b"x");
    }

    #[test]
    fn shared_boundary_belongs_to_outer_during_preamble() {
        let m = Message::parse(b"Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/mixed; boundary=a\n\n--a\n\nbody\n");
        assert_eq!(
            types(&m),
            [
                t("", "multipart/mixed"),
                t("1", "multipart/mixed"),
                t("2", "text/plain")
            ]
        );
        assert!(matches!(m.parts()[1].kind(), PartKind::Leaf));
    }

    #[test]
    fn boundary_inside_header_block_ends_part() {
        let m = Message::parse(b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html\n--b\n\nsecond\n--b--\n");
        assert_eq!(m.parts().len(), 3);
        assert_eq!(m.parts()[1].content_type().essence(), "text/html");
        assert_eq!(m.parts()[1].raw_body(), b"");
        assert_eq!(m.parts()[2].raw_body(), b"second");
    }

    #[test]
    fn nested_message_and_paths() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nintro\n--b\nContent-Type: message/rfc822\n\nSubject: inner\nContent-Type: multipart/alternative; boundary=c\n\n--c\n\nplain\n--c\nContent-Type: text/html\n\n<p>\n--c--\n\n--b--\n";
        let m = Message::parse(raw);
        assert_eq!(
            types(&m),
            [
                t("", "multipart/mixed"),
                t("1", "text/plain"),
                t("2", "message/rfc822"),
                t("2.1", "multipart/alternative"),
                t("2.1.1", "text/plain"),
                t("2.1.2", "text/html"),
            ]
        );
        assert_eq!(
            m.parts()[3].header_value("subject").as_deref(),
            Some("inner")
        );
        assert_eq!(m.find_path("2.1.2"), Some(5));
        assert_eq!(m.find_path("3"), None);
        assert_eq!(m.find_path(""), Some(0));
        assert_eq!(m.parts()[5].parent(), Some(3));
    }

    #[test]
    fn digest_defaults_to_rfc822() {
        let m = Message::parse(
            b"Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nx\n--d--\n",
        );
        assert_eq!(
            types(&m),
            [
                t("", "multipart/digest"),
                t("1", "message/rfc822"),
                t("1.1", "text/plain")
            ]
        );
    }

    #[test]
    fn encoded_rfc822_is_leaf() {
        let m = Message::parse(b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoKeQo=\n");
        assert_eq!(m.parts().len(), 1);
        assert_eq!(&m.root().decoded_body()[..], b"Subject: x\n\ny\n");
    }

    #[test]
    fn invalid_content_type_is_text_plain() {
        let m = Message::parse(b"Content-Type: garbage\n\nx");
        assert_eq!(m.root().content_type().essence(), "text/plain");
    }

    #[test]
    fn filenames_and_attachments() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/octet-stream; name=\"n.bin\"\nContent-Transfer-Encoding: base64\n\nAAEC\n--b\nContent-Disposition: attachment; filename*=utf-8''%C3%A9.txt\n\nhello\n--b--\n";
        let m = Message::parse(raw);
        assert_eq!(m.parts()[1].filename().as_deref(), Some("n.bin"));
        assert_eq!(&m.parts()[1].decoded_body()[..], [0, 1, 2]);
        assert_eq!(m.parts()[2].filename().as_deref(), Some("é.txt"));
        let att = m.attachments();
        assert_eq!(att.len(), 2);
        assert_eq!(att[1].filename().as_deref(), Some("é.txt"));
        assert_eq!(att[1].content(), b"hello");
    }

    #[test]
    fn uuencoded_blocks_are_attachments() {
        let mut body = b"Subject: files\n\nHere it is:\n\n".to_vec();
        crate::uuencode::encode(
            b"secret data",
            0o644,
            "a.txt",
            crate::uuencode::Format::Classic,
            &mut body,
        );
        body.extend_from_slice(b"\nbye\n");
        let m = Message::parse(&body);
        let att = m.attachments();
        assert_eq!(att.len(), 1);
        assert_eq!(att[0].filename().as_deref(), Some("a.txt"));
        assert_eq!(att[0].content(), b"secret data");
    }

    #[test]
    fn x_uuencode_transfer_encoding() {
        let mut raw =
            b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: x-uuencode\n\n"
                .to_vec();
        crate::uuencode::encode(
            b"\x00\x01binary",
            0o600,
            "b.bin",
            crate::uuencode::Format::Classic,
            &mut raw,
        );
        let m = Message::parse(&raw);
        assert_eq!(&m.root().decoded_body()[..], b"\x00\x01binary");
    }

    #[test]
    fn text_charsets() {
        let m = Message::parse(b"Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\ncaf=E9 =80\n");
        assert_eq!(m.root().text().as_deref(), Some("café €\n"));
        let m = Message::parse(b"Content-Type: text/plain\n\ncaf\xe9");
        assert_eq!(m.root().text().as_deref(), Some("café"));
        let m = Message::parse(b"Content-Type: image/png\n\nx");
        assert!(m.root().text().is_none());
    }

    #[test]
    fn depth_limit_makes_leaf() {
        let limits = Limits {
            max_depth: 1,
            ..Limits::default()
        };
        let raw = b"Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n--a--\n";
        let m = Message::parse_with(raw, &limits);
        assert_eq!(
            types(&m),
            [t("", "multipart/mixed"), t("1", "multipart/mixed")]
        );
        assert!(m.limited());
        assert!(matches!(m.parts()[1].kind(), PartKind::Leaf));
    }

    #[test]
    fn part_limit_skips_rest() {
        let limits = Limits {
            max_parts: 3,
            ..Limits::default()
        };
        let raw = b"Content-Type: multipart/mixed; boundary=a\n\n--a\n\n1\n--a\n\n2\n--a\n\n3\n--a\n\n4\n--a--\nepilogue";
        let m = Message::parse_with(raw, &limits);
        assert_eq!(m.parts().len(), 3);
        assert!(m.limited());
        let PartKind::Multipart {
            epilogue, closed, ..
        } = m.root().kind().clone()
        else {
            panic!()
        };
        assert!(closed);
        assert_eq!(&raw[epilogue], b"epilogue");
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut raw = Vec::new();
        for i in 0..10_000 {
            raw.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n").as_bytes(),
            );
        }
        let m = Message::parse(&raw);
        assert_eq!(m.parts().len(), Limits::default().max_depth + 1);
        assert!(m.limited());
        let mut raw = Vec::new();
        for _ in 0..10_000 {
            raw.extend_from_slice(b"Content-Type: message/rfc822\n\n");
        }
        let m = Message::parse(&raw);
        assert_eq!(m.parts().len(), Limits::default().max_depth + 1);
    }

    #[test]
    fn addresses_dates_ids() {
        let m = Message::parse(b"From: A <a@x>\nTo: b@x, Team: c@x;\nCc: d@x\nDate: Tue, 1 Jan 2002 10:00:00 +0100\nMessage-ID: <id@x>\nReferences: <r1@x> <r2@x>\nIn-Reply-To: <r2@x>\n\n");
        assert_eq!(
            m.from()
                .mailboxes()
                .next()
                .map(|m| m.address.to_string())
                .as_deref(),
            Some("a@x")
        );
        assert_eq!(m.to().mailboxes().count(), 2);
        assert_eq!(m.cc().mailboxes().count(), 1);
        assert_eq!(
            m.date().map(|d| d.to_rfc3339()).as_deref(),
            Some("2002-01-01T10:00:00+01:00")
        );
        assert_eq!(m.message_id().as_deref(), Some("id@x"));
        assert_eq!(m.references(), ["r1@x", "r2@x"]);
        assert_eq!(m.in_reply_to(), ["r2@x"]);
    }

    #[test]
    fn empty_and_junk_inputs() {
        for raw in [
            &b""[..],
            b"\n",
            b"\r\n\r\n",
            b"--",
            b":",
            b" x",
            b"Content-Type: multipart/mixed; boundary=\"\"\n\n--\n",
        ] {
            let m = Message::parse(raw);
            assert_eq!(m.parts().len(), 1);
        }
    }
}
