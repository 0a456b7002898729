//! Content-Type and Content-Disposition values: the media type or disposition, and the
//! parameters, decoded.
//!
//! Parameters follow RFC 2045 and RFC 2231 leniently:
//! - `name=token` or `name="quoted string"` (backslash escapes undone, line breaks
//!   removed); an unquoted value runs to the next `;` (so `name=my file.txt` works) with
//!   a trailing `(comment)` dropped; anything between a closing quote and the next `;`
//!   is ignored; segments without `=` are ignored;
//! - RFC 2231 continuations (`name*0`, `name*1*`, …) are joined in numeric order,
//!   `%XX` escapes decoded in the `*` segments, and the `charset'language'` prefix applied;
//!   when a name has both a plain and an RFC 2231 form, the RFC 2231 form wins;
//! - RFC 2047 encoded words inside a value (a common non-standard way to send non-ASCII
//!   file names) are decoded;
//! - parameter names compare case-insensitively; the first occurrence of a name wins;
//! - at most [`MAX_PARAMS`] `name=value` segments are read per header, the rest ignored
//!   (keeps pathological headers from costing quadratic time).

use std::borrow::Cow;

use crate::{charset, encoded_word};

/// Most `name=value` segments read from one header (RFC 2231 sections included).
pub const MAX_PARAMS: usize = 256;

/// One decoded parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param<'a> {
    /// The name, lower-cased, without RFC 2231 `*` markers.
    pub name: Cow<'a, str>,
    /// The decoded value.
    pub value: Cow<'a, str>,
    /// The RFC 2231 language tag, when one was given.
    pub language: Option<String>,
}

/// A parsed Content-Type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType<'a> {
    ty: Cow<'a, str>,
    sub: Cow<'a, str>,
    /// The decoded parameters in order.
    pub params: Vec<Param<'a>>,
}

impl<'a> ContentType<'a> {
    /// `text/plain` with no parameters (the RFC 2045 default).
    pub fn text_plain() -> Self {
        Self::new("text", "plain")
    }

    /// A media type with no parameters; `ty` and `sub` must be lower-case.
    pub fn new(ty: &'a str, sub: &'a str) -> Self {
        ContentType {
            ty: Cow::Borrowed(ty),
            sub: Cow::Borrowed(sub),
            params: Vec::new(),
        }
    }

    /// Parses a raw Content-Type value. Returns `None` when there is no valid
    /// `type/subtype` (then RFC 2045 says to treat the part as `text/plain`).
    pub fn parse(raw: &'a [u8]) -> Option<Self> {
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
        let is_token =
            |s: &[u8]| !s.is_empty() && s.iter().all(|&b| b.is_ascii_graphic() && b != b'/');
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

    /// The top-level type, lower-case (`text`).
    pub fn ty(&self) -> &str {
        &self.ty
    }

    /// The subtype, lower-case (`plain`).
    pub fn subtype(&self) -> &str {
        &self.sub
    }

    /// `type/subtype`, lower-case.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.ty, self.sub)
    }

    /// Whether this is `ty/sub` (arguments in lower case).
    pub fn is(&self, ty: &str, sub: &str) -> bool {
        self.ty == ty && self.sub == sub
    }

    /// The media type as a [`mime::Mime`] (without parameters), when the mime crate
    /// accepts it.
    pub fn to_mime(&self) -> Option<mime::Mime> {
        self.essence().parse().ok()
    }

    /// A parameter's decoded value, by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name)
    }
}

/// A parsed Content-Disposition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentDisposition<'a> {
    kind: Cow<'a, str>,
    /// The decoded parameters in order.
    pub params: Vec<Param<'a>>,
}

impl<'a> ContentDisposition<'a> {
    /// Parses a raw Content-Disposition value.
    pub fn parse(raw: &'a [u8]) -> Self {
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

    /// The disposition type, lower-case (`inline`, `attachment`, …).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Whether the disposition is `attachment`.
    pub fn is_attachment(&self) -> bool {
        self.kind == "attachment"
    }

    /// A parameter's decoded value, by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name)
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

fn find_param<'p>(params: &'p [Param<'_>], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .map(|p| &*p.value)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn content_type_basic() {
        let ct = ContentType::parse(b"Text/HTML; Charset=\"UTF-8\"; format=flowed").unwrap();
        assert_eq!(ct.essence(), "text/html");
        assert_eq!(ct.param("charset"), Some("UTF-8"));
        assert_eq!(ct.param("FORMAT"), Some("flowed"));
        assert!(ct.to_mime().is_some());
    }

    #[test]
    fn content_type_borrows() {
        let ct = ContentType::parse(b"text/plain; charset=us-ascii").unwrap();
        assert!(matches!(ct.ty, Cow::Borrowed(_)));
        assert!(matches!(ct.params[0].value, Cow::Borrowed(_)));
    }

    #[test]
    fn content_type_invalid() {
        assert!(ContentType::parse(b"text/plain garbage").is_none());
        assert!(ContentType::parse(b"text").is_none());
        assert!(ContentType::parse(b"").is_none());
        assert!(ContentType::parse(b"a/b/c").is_none());
    }

    #[test]
    fn folded_and_commented() {
        let ct = ContentType::parse(b"multipart/mixed (a comment);\r\n\tboundary=\"abc\r\n def\"")
            .unwrap();
        assert_eq!(ct.essence(), "multipart/mixed");
        assert_eq!(ct.param("boundary"), Some("abc def"));
    }

    #[test]
    fn missing_semicolon() {
        let ct = ContentType::parse(b"multipart/mixed\r\n\tboundary=\"b\"; x=1").unwrap();
        assert_eq!(ct.essence(), "multipart/mixed");
        assert_eq!(ct.param("boundary"), Some("b"));
        assert_eq!(ct.param("x"), Some("1"));
    }

    #[test]
    fn quoted_escapes_and_semicolons() {
        let ct = ContentType::parse(br#"application/x; name="a\"b;c.txt"; x=1"#).unwrap();
        assert_eq!(ct.param("name"), Some("a\"b;c.txt"));
        assert_eq!(ct.param("x"), Some("1"));
    }

    #[test]
    fn rfc2231_continuations() {
        let cd = ContentDisposition::parse(
            b"attachment; filename*0*=utf-8'en'%E2%82%AC; filename*1=\" rate\"; filename*2*=%2Etxt",
        );
        assert!(cd.is_attachment());
        let p = &cd.params[0];
        assert_eq!(p.value, "€ rate.txt");
        assert_eq!(p.language.as_deref(), Some("en"));
    }

    #[test]
    fn rfc2231_out_of_order_and_latin1() {
        let cd = ContentDisposition::parse(b"inline; name*1=b; name*0=a; f*=iso-8859-1''caf%E9");
        assert_eq!(cd.param("name"), Some("ab"));
        assert_eq!(cd.param("f"), Some("café"));
    }

    #[test]
    fn rfc2231_wins_over_plain() {
        let cd = ContentDisposition::parse(
            b"attachment; filename=plain.txt; filename*=utf-8''better.txt",
        );
        assert_eq!(cd.param("filename"), Some("better.txt"));
    }

    #[test]
    fn rfc2047_in_param() {
        let ct = ContentType::parse(b"application/pdf; name=\"=?utf-8?B?w6kucGRm?=\"").unwrap();
        assert_eq!(ct.param("name"), Some("é.pdf"));
    }

    #[test]
    fn unquoted_with_spaces_and_comment() {
        let ct = ContentType::parse(b"text/plain; name=my file.txt; charset=us-ascii (Plain text)")
            .unwrap();
        assert_eq!(ct.param("name"), Some("my file.txt"));
        assert_eq!(ct.param("charset"), Some("us-ascii"));
    }

    #[test]
    fn first_occurrence_wins_and_junk_ignored() {
        let ct = ContentType::parse(b"text/plain; ; junk; a=1; A=2; =x").unwrap();
        assert_eq!(ct.params.len(), 1);
        assert_eq!(ct.param("a"), Some("1"));
    }

    #[test]
    fn parameter_count_is_capped() {
        let raw = "text/plain".to_string() + &"; a*1=x".repeat(100_000);
        let ct = ContentType::parse(raw.as_bytes()).unwrap();
        assert_eq!(ct.param("a").map(str::len), Some(MAX_PARAMS));
    }

    #[test]
    fn percent_edge_cases() {
        let cd = ContentDisposition::parse(b"a; f*=utf-8''%4; g*=''100%25%");
        assert_eq!(cd.param("f"), Some("%4"));
        assert_eq!(cd.param("g"), Some("100%%"));
    }

    /// A test-only RFC 2231 encoder: every byte percent-encoded, split in sections of 3.
    fn encode_2231(name: &str, value: &str) -> String {
        let enc: Vec<String> = value.bytes().map(|b| format!("%{b:02X}")).collect();
        let mut out = String::from("attachment");
        for (i, chunk) in enc.chunks(3).enumerate() {
            let prefix = if i == 0 { "utf-8''" } else { "" };
            out.push_str(&format!("; {name}*{i}*={prefix}{}", chunk.concat()));
        }
        out
    }

    proptest! {
        #[test]
        fn rfc2231_round_trips(value in "\\PC{1,30}") {
            let raw = encode_2231("filename", &value);
            let cd = ContentDisposition::parse(raw.as_bytes());
            prop_assert_eq!(cd.param("filename"), Some(value.as_str()));
        }

        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ContentType::parse(&data);
            let _ = ContentDisposition::parse(&data);
        }
    }
}
