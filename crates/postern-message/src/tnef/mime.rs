//! TNEF parts of a MIME message turned into ordinary MIME attachments.
//!
//! Each `application/ms-tnef` part (or an `application/octet-stream` named
//! `winmail.dat`) is replaced, where it stands, by one part per TNEF attachment; an
//! embedded message becomes a `message/rfc822` part. When the message has no body text
//! of its own, the TNEF body text goes in front as `text/plain`. The other parts keep
//! their octets. A part that does not decode as TNEF is left as it was.

use super::{Tnef, TnefAttachment, decode};
use crate::TransferEncoding;
use crate::builder::{Body, PartSpec, write_body, write_field, write_message, write_raw_field};
use crate::encode::encode_unstructured;
use crate::message::{Message, Part, PartKind};
use crate::mime_types::MimeTypes;

/// The result of [`expand_message`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Expanded {
    /// The rewritten message.
    pub message: Vec<u8>,
    /// TNEF parts replaced.
    pub tnef_parts: usize,
    /// Attachments written in their place.
    pub attachments: usize,
}

/// Whether a part is TNEF: `application/ms-tnef` (or `vnd.ms-tnef`), or an
/// `application/octet-stream` leaf named `winmail.dat` (how some relays relabel it).
pub fn is_tnef_part(part: &Part<'_>) -> bool {
    if !matches!(part.kind(), PartKind::Leaf) {
        return false;
    }
    let ct = part.content_type();
    ct.is("application", "ms-tnef")
        || ct.is("application", "vnd.ms-tnef")
        || (ct.is("application", "octet-stream")
            && part
                .filename()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case("winmail.dat")))
}

/// Rewrites the TNEF parts of `msg` as ordinary MIME parts (files typed by `types` when
/// the TNEF gives no MIME tag). `None` when the message has no TNEF part that decodes.
pub fn expand_message(msg: &Message<'_>, types: &MimeTypes) -> Option<Expanded> {
    let has_text = msg.parts().iter().enumerate().any(|(i, p)| {
        !is_tnef_part(p)
            && !p.is_attachment()
            && matches!(p.kind(), PartKind::Leaf)
            && (p.content_type().ty() == "text"
                || (i == 0 && p.content_type().essence().is_empty()))
    });
    let mut found: Vec<(usize, Tnef)> = msg
        .parts()
        .iter()
        .enumerate()
        .filter(|(_, p)| is_tnef_part(p))
        .filter_map(|(i, p)| decode(&p.decoded_body()).ok().map(|t| (i, t)))
        .collect();
    if found.is_empty() {
        return None;
    }
    let mut out = Expanded {
        message: Vec::new(),
        tnef_parts: found.len(),
        attachments: 0,
    };
    let mut body_text_added = has_text;
    let mut replacements = Vec::new();
    for (i, t) in &found {
        let mut specs = Vec::new();
        let body = t.body.as_deref().filter(|b| !b.trim().is_empty());
        if let (false, Some(body)) = (body_text_added, body) {
            specs.push(PartSpec::text("plain", body));
            body_text_added = true;
        }
        let files = files_of(t, types, 0);
        out.attachments += files.len();
        specs.extend(files);
        replacements.push((*i, specs));
    }
    if found[0].0 == 0 {
        // The whole message is TNEF: a new multipart/mixed body under its fields.
        let specs = replacements.pop().map(|(_, s)| s).unwrap_or_default();
        out.message = whole_message(msg, specs);
        return Some(out);
    }
    out.message = splice(msg, &replacements);
    found.clear();
    Some(out)
}

/// The parts for a TNEF stream's attachments; unnamed ones get `attachment-N.EXT`.
fn files_of(t: &Tnef, types: &MimeTypes, depth: usize) -> Vec<PartSpec> {
    t.attachments
        .iter()
        .enumerate()
        .map(|(n, a)| file_part(a, n + 1, types, depth))
        .collect()
}

fn file_part(a: &TnefAttachment, n: usize, types: &MimeTypes, depth: usize) -> PartSpec {
    if let Some(inner) = &a.embedded {
        let mut p = PartSpec::message(embedded_message(inner, types, depth + 1));
        p.disposition = Some("attachment".into());
        if let Some(name) = a.name() {
            p.disposition_params
                .push(("filename".into(), format!("{}.eml", name.trim())));
        }
        return p;
    }
    let name = match a.name() {
        Some(n) => n.trim().to_string(),
        None => {
            let ext = a
                .mime_tag
                .as_deref()
                .and_then(|t| types.extension_for(t))
                .unwrap_or("bin");
            format!("attachment-{n}.{ext}")
        }
    };
    let ty = match a.mime_tag.as_deref().map(str::trim) {
        Some(t) if t.contains('/') && t.is_ascii() => t.to_ascii_lowercase(),
        _ => types.type_for(&name).to_string(),
    };
    let mut p = PartSpec::attachment(&name, &ty, Vec::new());
    // Base64 whatever the type: a text file keeps its line ends octet for octet, as the
    // TNEF held it.
    p.body = Body::Data {
        bytes: a.data.clone(),
        encoding: Some(TransferEncoding::Base64),
    };
    p
}

/// An embedded message as an RFC 5322 message: its subject, body text and files.
fn embedded_message(t: &Tnef, types: &MimeTypes, depth: usize) -> Vec<u8> {
    let mut headers = Vec::new();
    if let Some(s) = &t.subject {
        headers.push(("Subject".to_string(), encode_unstructured(s)));
    }
    let mut parts = Vec::new();
    parts.push(PartSpec::text("plain", t.body.as_deref().unwrap_or("")));
    parts.extend(files_of(t, types, depth));
    let body = if parts.len() == 1 {
        parts.remove(0)
    } else {
        PartSpec::multipart("mixed", parts)
    };
    let mut out = Vec::new();
    write_message(&headers, &body, &mut out);
    out
}

/// The message's own fields (not its content fields) over a new `multipart/mixed` body.
fn whole_message(msg: &Message<'_>, specs: Vec<PartSpec>) -> Vec<u8> {
    let mut out = Vec::new();
    for h in msg.headers() {
        let name = h.name();
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("content-") || lower == "mime-version" {
            continue;
        }
        write_raw_field(name, h.raw_value(), &mut out);
    }
    write_field("MIME-Version", "1.0", &mut out);
    write_body(&PartSpec::multipart("mixed", specs), &mut out);
    out
}

/// The input with each TNEF part (at its span) replaced by its parts, separated by the
/// parent's boundary.
fn splice(msg: &Message<'_>, replacements: &[(usize, Vec<PartSpec>)]) -> Vec<u8> {
    let input = msg.input();
    let mut out = Vec::with_capacity(input.len() * 2);
    let mut at = 0;
    for (i, specs) in replacements {
        let part = &msg.parts()[*i];
        let span = part.span();
        let boundary = part
            .parent()
            .and_then(|p| {
                msg.parts()[p]
                    .content_type()
                    .param("boundary")
                    .map(str::to_string)
            })
            .unwrap_or_default();
        // The span may end with the line break that belongs to the next boundary.
        let mut end = span.end;
        if input[..end].ends_with(b"\n") {
            end -= 1;
            if input[..end].ends_with(b"\r") {
                end -= 1;
            }
        }
        if span.start < at || end < span.start {
            continue;
        }
        out.extend_from_slice(&input[at..span.start]);
        for (k, spec) in specs.iter().enumerate() {
            if k > 0 {
                out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
            }
            out.extend_from_slice(&render_part(spec));
        }
        at = end;
    }
    out.extend_from_slice(&input[at..]);
    out
}

/// A part's content fields and body. Nothing is cut from its end: the line break before
/// the boundary line that follows belongs to the boundary, so the content keeps its own.
fn render_part(spec: &PartSpec) -> Vec<u8> {
    let mut v = Vec::new();
    write_body(spec, &mut v);
    v
}
