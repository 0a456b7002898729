//! The hand-written parameter parser the nom one replaced, kept as the oracle of the
//! differential property tests in `params.rs`.

use std::borrow::Cow;

use super::{ContentDisposition, ContentType, MAX_PARAMS, Param};
use crate::{charset, encoded_word};

pub fn content_type(raw: &[u8]) -> Option<ContentType<'_>> {
    let (head, rest) = split_head(raw);
    let head = strip_comments(head);
    // When nothing was stripped, `head` is a prefix of `raw`: offsets into it are
    // offsets into `raw`, so the type and subtype can borrow.
    let borrowed = matches!(head, Cow::Borrowed(_));
    let slash = memchr::memchr(b'/', &head)?;
    let ty = trim(&head, 0..slash);
    let after = trim(&head, slash + 1..head.len());
    // The subtype ends at a blank; what follows, when the `;` was forgotten
    // (`multipart/mixed boundary=x`), is read as parameters.
    let sub_len = head[after.clone()]
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(after.len());
    let sub = after.start..after.start + sub_len;
    let extra = trim(&head, sub.end..after.end);
    let is_token = |s: &[u8]| !s.is_empty() && s.iter().all(|&b| b.is_ascii_graphic() && b != b'/');
    if !is_token(&head[ty.clone()])
        || !is_token(&head[sub.clone()])
        || !(extra.is_empty() || head[extra.clone()].contains(&b'='))
    {
        return None;
    }
    let mut params = Vec::new();
    if !extra.is_empty() {
        params = if borrowed {
            parse_params(&raw[extra])
        } else {
            to_owned_params(parse_params(&head[extra]))
        };
    }
    for p in parse_params(rest) {
        if params.iter().all(|q| q.name != p.name) {
            params.push(p);
        }
    }
    let lower = |r: std::ops::Range<usize>| {
        if borrowed {
            lower_raw(&raw[r])
        } else {
            Cow::Owned(lower_owned(&head[r]))
        }
    };
    Some(ContentType {
        ty: lower(ty),
        sub: lower(sub),
        params,
    })
}

pub fn disposition(raw: &[u8]) -> ContentDisposition<'_> {
    let (head, rest) = split_head(raw);
    let head = strip_comments(head);
    let kind = match &head {
        Cow::Borrowed(h) => lower_raw(h.trim_ascii()),
        Cow::Owned(h) => Cow::Owned(lower_owned(h.trim_ascii())),
    };
    ContentDisposition {
        kind,
        params: parse_params(rest),
    }
}

fn to_owned_params(params: Vec<Param<'_>>) -> Vec<Param<'static>> {
    params
        .into_iter()
        .map(|p| Param {
            name: Cow::Owned(p.name.into_owned()),
            value: Cow::Owned(p.value.into_owned()),
            language: p.language,
        })
        .collect()
}

/// Splits at the first `;` outside quotes and comments.
fn split_head(raw: &[u8]) -> (&[u8], &[u8]) {
    match find_unquoted(raw, b';') {
        Some(i) => (&raw[..i], &raw[i + 1..]),
        None => (raw, &[]),
    }
}

/// Finds `needle` outside a quoted string.
fn find_unquoted(s: &[u8], needle: u8) -> Option<usize> {
    let mut in_quote = false;
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'\\' if in_quote => i += 1,
            b'"' => in_quote = !in_quote,
            b if b == needle && !in_quote => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Removes `(comments)` (nested) and line breaks; borrows when there are none.
fn strip_comments(s: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr3(b'(', b'\r', b'\n', s).is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut depth = 0usize;
    for &b in s {
        match b {
            b'(' => depth += 1,
            b')' if depth > 0 => depth -= 1,
            b'\r' | b'\n' => {}
            _ if depth == 0 => out.push(b),
            _ => {}
        }
    }
    Cow::Owned(out)
}

/// `range` of `s` without surrounding blanks.
fn trim(s: &[u8], range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let part = &s[range.clone()];
    let start = part
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(part.len());
    let end = part
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    range.start + start..range.start + end
}

/// Lower-cases input bytes, borrowing when they are already lower-case UTF-8.
fn lower_raw(part: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(part) {
        Ok(s) if !part.iter().any(u8::is_ascii_uppercase) => Cow::Borrowed(s),
        _ => Cow::Owned(lower_owned(part)),
    }
}

fn lower_owned(part: &[u8]) -> String {
    charset::decode_lenient(part).to_ascii_lowercase()
}

/// A raw `name=value` segment before RFC 2231 assembly.
struct RawParam<'a> {
    name: &'a [u8],
    section: Option<u32>,
    extended: bool,
    value: Cow<'a, [u8]>,
}

/// Parses `; a=b; c="d"` (the part after the first `;`).
pub fn parse_params(mut s: &[u8]) -> Vec<Param<'_>> {
    let mut raws = Vec::new();
    while !s.is_empty() && raws.len() < MAX_PARAMS {
        let end = find_unquoted(s, b';').unwrap_or(s.len());
        if let Some(p) = parse_segment(&s[..end]) {
            raws.push(p);
        }
        s = s.get(end + 1..).unwrap_or_default();
    }
    assemble(raws)
}

fn parse_segment(seg: &[u8]) -> Option<RawParam<'_>> {
    let eq = memchr::memchr(b'=', seg)?;
    let name = seg[..eq].trim_ascii();
    if name.is_empty() {
        return None;
    }
    let (name, section, extended) = split_2231_name(name);
    let v = seg[eq + 1..].trim_ascii();
    let value = if let Some(q) = v.strip_prefix(b"\"") {
        unquote(q)
    } else {
        Cow::Borrowed(strip_trailing_comment(v))
    };
    Some(RawParam {
        name,
        section,
        extended,
        value,
    })
}

/// `name*3*` → (`name`, Some(3), true); `name*` → (`name`, None, true).
fn split_2231_name(name: &[u8]) -> (&[u8], Option<u32>, bool) {
    let (name, extended) = match name.strip_suffix(b"*") {
        Some(n) => (n, true),
        None => (name, false),
    };
    if let Some(star) = memchr::memrchr(b'*', name) {
        let digits = &name[star + 1..];
        if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
            let n = std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse().ok())
                .unwrap_or(u32::MAX);
            return (&name[..star], Some(n), extended);
        }
    }
    (name, None, extended)
}

/// Undoes a quoted string (the opening quote already removed): backslash escapes, line
/// breaks; stops at the closing quote (or the end, if unterminated).
fn unquote(q: &[u8]) -> Cow<'_, [u8]> {
    let special = memchr::memchr3(b'"', b'\\', b'\r', q);
    let lf = memchr::memchr(b'\n', q);
    match (special, lf) {
        (Some(i), None) if q[i] == b'"' => return Cow::Borrowed(&q[..i]),
        (None, None) => return Cow::Borrowed(q),
        _ => {}
    }
    let mut out = Vec::with_capacity(q.len());
    let mut i = 0;
    while i < q.len() {
        match q[i] {
            b'"' => break,
            b'\\' if i + 1 < q.len() => {
                out.push(q[i + 1]);
                i += 1;
            }
            b'\r' | b'\n' => {}
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(out)
}

fn strip_trailing_comment(v: &[u8]) -> &[u8] {
    if v.ends_with(b")") {
        if let Some(open) = memchr::memchr(b'(', v) {
            return v[..open].trim_ascii();
        }
    }
    v
}

/// Joins RFC 2231 sections and decodes every value.
fn assemble(raws: Vec<RawParam<'_>>) -> Vec<Param<'_>> {
    let mut params: Vec<Param<'_>> = Vec::with_capacity(raws.len());
    let mut done = vec![false; raws.len()];
    for i in 0..raws.len() {
        if done[i] {
            continue;
        }
        let r = &raws[i];
        let name = lower_name(r.name);
        if r.section.is_none() && !r.extended {
            done[i] = true;
            if params.iter().all(|p| p.name != name) {
                params.push(Param {
                    name,
                    value: decode_value(&r.value),
                    language: None,
                });
            }
            continue;
        }
        // Gather every RFC 2231 segment of this name.
        let mut segs: Vec<(u32, usize)> = Vec::new();
        for (j, o) in raws.iter().enumerate().skip(i) {
            if !done[j]
                && (o.section.is_some() || o.extended)
                && o.name.eq_ignore_ascii_case(r.name)
            {
                segs.push((o.section.unwrap_or(0), j));
                done[j] = true;
            }
        }
        segs.sort_by_key(|s| s.0);
        let p = join_2231(name, segs.iter().map(|&(_, j)| &raws[j]));
        match params.iter_mut().find(|q| q.name == p.name) {
            Some(q) => *q = p, // RFC 2231 form beats the plain one
            None => params.push(p),
        }
    }
    params
}

fn join_2231<'a, 'r>(name: Cow<'a, str>, segs: impl Iterator<Item = &'r RawParam<'a>>) -> Param<'a>
where
    'a: 'r,
{
    let mut bytes = Vec::new();
    let mut label: Option<Vec<u8>> = None;
    let mut language = None;
    let mut first = true;
    for seg in segs {
        let mut v: &[u8] = &seg.value;
        if seg.extended {
            if first {
                // charset'language'value
                let mut it = v.splitn(3, |&b| b == b'\'');
                if let (Some(cs), Some(lang), Some(rest)) = (it.next(), it.next(), it.next()) {
                    label = Some(cs.to_vec());
                    if !lang.is_empty() {
                        language = Some(charset::decode_lenient(lang).into_owned());
                    }
                    v = rest;
                }
            }
            percent_decode(v, &mut bytes);
        } else {
            bytes.extend_from_slice(v);
        }
        first = false;
    }
    let value = match &label {
        Some(l) if !l.is_empty() => Cow::Owned(charset::decode(l, &bytes).into_owned()),
        _ => Cow::Owned(encoded_word::decode(&bytes).into_owned()),
    };
    Param {
        name,
        value,
        language,
    }
}

fn percent_decode(v: &[u8], out: &mut Vec<u8>) {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'%' && i + 2 < v.len() {
            if let (Some(h), Some(l)) = (hex(v[i + 1]), hex(v[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(v[i]);
        i += 1;
    }
}

fn lower_name(name: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(name) {
        Ok(s) if !name.iter().any(u8::is_ascii_uppercase) => Cow::Borrowed(s),
        _ => Cow::Owned(charset::decode_lenient(name).to_ascii_lowercase()),
    }
}

fn decode_value<'a>(v: &Cow<'a, [u8]>) -> Cow<'a, str> {
    match v {
        Cow::Borrowed(b) => encoded_word::decode(b),
        Cow::Owned(b) => Cow::Owned(encoded_word::decode(b).into_owned()),
    }
}
