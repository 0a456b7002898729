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

use nom::branch::alt;
use nom::bytes::complete::{tag, take, take_till, take_till1};
use nom::character::complete::{char, one_of};
use nom::combinator::{map, map_opt, recognize, value};
use nom::multi::fold_many0;
use nom::sequence::{preceded, separated_pair};
use nom::{IResult, Parser};

use crate::lexical::{self, Escapes, comment, is_ws};
use crate::{charset, encoded_word};

#[cfg(test)]
mod oracle;

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
        // When no comment or line break was stripped, the head is a prefix of `raw` and
        // the type, subtype and any parameters in it borrow from the input.
        let mut ct = match strip_comments(head) {
            Cow::Borrowed(head) => {
                let (ty, sub, extra) = media_type(head)?;
                ContentType {
                    ty: lower_raw(ty),
                    sub: lower_raw(sub),
                    params: parse_params(extra),
                }
            }
            Cow::Owned(head) => {
                let (ty, sub, extra) = media_type(&head)?;
                ContentType {
                    ty: Cow::Owned(lower_owned(ty)),
                    sub: Cow::Owned(lower_owned(sub)),
                    params: to_owned_params(parse_params(extra)),
                }
            }
        };
        if ct.params.is_empty() {
            ct.params = parse_params(rest);
        } else {
            for p in parse_params(rest) {
                if ct.params.iter().all(|q| q.name != p.name) {
                    ct.params.push(p);
                }
            }
        }
        Some(ct)
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

/// `type "/" subtype`, blanks allowed around the `/`, each a run of visible ASCII other
/// than `/`. What follows the subtype after a blank, when the `;` was forgotten
/// (`multipart/mixed boundary=x`), is returned as parameter text and must hold a `=`.
fn media_type(head: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    // Hand-written (it was a nom sequence): it runs once per part of every message.
    fn blanks(head: &[u8], i: usize) -> usize {
        i + head[i..].iter().take_while(|&&b| is_ws(b)).count()
    }
    fn token(head: &[u8], i: usize) -> usize {
        i + head[i..]
            .iter()
            .take_while(|&&b| b.is_ascii_graphic() && b != b'/')
            .count()
    }
    let t0 = blanks(head, 0);
    let t1 = token(head, t0);
    let slash = blanks(head, t1);
    if t1 == t0 || head.get(slash) != Some(&b'/') {
        return None;
    }
    let s0 = blanks(head, slash + 1);
    let s1 = token(head, s0);
    // The subtype ends at the end or at a blank.
    if s1 == s0 || head.get(s1).is_some_and(|&b| !is_ws(b)) {
        return None;
    }
    let extra = head[s1..].trim_ascii();
    (extra.is_empty() || lexical::find1(b'=', extra).is_some()).then_some((
        &head[t0..t1],
        &head[s0..s1],
        extra,
    ))
}

/// Splits at the first `;` outside quotes.
fn split_head(raw: &[u8]) -> (&[u8], &[u8]) {
    let (rest, head) = segment(raw);
    (head, rest.get(1..).unwrap_or_default())
}

/// The text up to the first `;` outside a quoted string (or the end): the rest (from
/// the `;`, or empty) and the segment. A quoted string runs to its closing quote, a `\`
/// escaping the byte after it; an unclosed one runs to the end. A memchr scan rather than
/// a nom grammar: it runs on every parameter of every Content-Type, and this is the
/// parse's hot path on small messages.
fn segment(input: &[u8]) -> (&[u8], &[u8]) {
    let mut i = 0;
    while let Some(k) = lexical::find2(b'"', b';', &input[i..]) {
        let at = i + k;
        if input[at] == b';' {
            return (&input[at..], &input[..at]);
        }
        i = quoted_end(input, at + 1);
    }
    (&input[input.len()..], input)
}

/// The offset after the quoted string whose opening quote ends just before `i`.
fn quoted_end(input: &[u8], mut i: usize) -> usize {
    while let Some(k) = lexical::find2(b'"', b'\\', &input[i..]) {
        let at = i + k;
        if input[at] == b'"' {
            return at + 1;
        }
        i = (at + 2).min(input.len());
    }
    input.len()
}

/// Removes `(comments)` (nested; `\` is not an escape here) and line breaks; borrows when
/// there are none.
fn strip_comments(s: &[u8]) -> Cow<'_, [u8]> {
    // Heads are short (`text/plain`): a plain loop beats memchr's set-up there.
    let plain = if s.len() < 32 {
        !s.iter().any(|b| matches!(b, b'(' | b'\r' | b'\n'))
    } else {
        lexical::find3(b'(', b'\r', b'\n', s).is_none()
    };
    if plain {
        return Cow::Borrowed(s);
    }
    let kept = take_till1(|b| b == b'(' || b == b'\r' || b == b'\n');
    let dropped = alt((comment(Escapes::Ignored), recognize(one_of("\r\n"))));
    let mut pieces = fold_many0(
        alt((map(kept, Some), map(dropped, |_| None))),
        || Vec::with_capacity(s.len()),
        |mut out: Vec<u8>, piece| {
            out.extend_from_slice(piece.unwrap_or_default());
            out
        },
    );
    let parsed: IResult<&[u8], Vec<u8>> = pieces.parse(s);
    Cow::Owned(parsed.map(|(_, out)| out).unwrap_or_default())
}

/// Lower-cases input bytes, borrowing when they are already lower-case UTF-8.
fn lower_raw(part: &[u8]) -> Cow<'_, str> {
    if let Some(known) = common_token(part) {
        return Cow::Borrowed(known);
    }
    lower_raw_checked(part)
}

/// [`lower_raw`] without the table of common tokens: a UTF-8 check and a case scan.
fn lower_raw_checked(part: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(part) {
        Ok(s) if !part.iter().any(u8::is_ascii_uppercase) => Cow::Borrowed(s),
        _ => Cow::Owned(lower_owned(part)),
    }
}

/// The media types, subtypes, dispositions and parameter names most mail carries, when
/// `token` is one of them exactly as written here (lower case): the same text as
/// [`lower_raw_checked`] gives, without its UTF-8 check (about 80 instructions on a short
/// token; a `match` on the bytes compares the length first, then a few words).
fn common_token(token: &[u8]) -> Option<&'static str> {
    Some(match token {
        b"text" => "text",
        b"plain" => "plain",
        b"html" => "html",
        b"multipart" => "multipart",
        b"mixed" => "mixed",
        b"alternative" => "alternative",
        b"related" => "related",
        b"report" => "report",
        b"signed" => "signed",
        b"application" => "application",
        b"octet-stream" => "octet-stream",
        b"pdf" => "pdf",
        b"image" => "image",
        b"jpeg" => "jpeg",
        b"png" => "png",
        b"gif" => "gif",
        b"message" => "message",
        b"rfc822" => "rfc822",
        b"delivery-status" => "delivery-status",
        b"inline" => "inline",
        b"attachment" => "attachment",
        b"charset" => "charset",
        b"boundary" => "boundary",
        b"name" => "name",
        b"filename" => "filename",
        b"format" => "format",
        b"type" => "type",
        b"delsp" => "delsp",
        _ => return None,
    })
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
pub fn parse_params(input: &[u8]) -> Vec<Param<'_>> {
    // Without RFC 2231 sections (the usual case) every segment is a parameter of its
    // own: decode them straight into the result, with no intermediate list.
    let mut params: Vec<Param<'_>> = Vec::new();
    let mut s = input;
    let mut read = 0;
    while !s.is_empty() && read < MAX_PARAMS {
        let (rest, seg) = segment(s);
        if let Some(r) = parse_segment(seg) {
            if r.section.is_some() || r.extended {
                return parse_params_2231(input);
            }
            read += 1;
            let name = lower_name(r.name);
            if params.iter().all(|p| p.name != name) {
                params.push(Param {
                    name,
                    value: decode_value(&r.value),
                    language: None,
                });
            }
        }
        s = rest.get(1..).unwrap_or_default();
    }
    params
}

/// [`parse_params`] when some segment is an RFC 2231 section: all segments first, then
/// the sections of each name joined.
fn parse_params_2231(mut s: &[u8]) -> Vec<Param<'_>> {
    let mut raws = Vec::new();
    while !s.is_empty() && raws.len() < MAX_PARAMS {
        let (rest, seg) = segment(s);
        if let Some(p) = parse_segment(seg) {
            raws.push(p);
        }
        s = rest.get(1..).unwrap_or_default();
    }
    assemble(raws)
}

/// `name = value`: a quoted value is unquoted, an unquoted one loses a trailing comment.
fn parse_segment(seg: &[u8]) -> Option<RawParam<'_>> {
    let eq = lexical::find1(b'=', seg)?;
    let (name, v) = (&seg[..eq], &seg[eq + 1..]);
    let name = name.trim_ascii();
    if name.is_empty() {
        return None;
    }
    let (name, section, extended) = split_2231_name(name);
    let v = v.trim_ascii();
    let value = match v.strip_prefix(b"\"") {
        Some(q) => unquote(q),
        None => Cow::Borrowed(strip_trailing_comment(v)),
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
    if let Some(star) = name.iter().rposition(|&b| b == b'*') {
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
/// breaks; stops at the closing quote (or the end, if unterminated). Borrows when there
/// is nothing to undo.
fn unquote(q: &[u8]) -> Cow<'_, [u8]> {
    let special = lexical::find3(b'"', b'\\', b'\r', q);
    let lf = lexical::find1(b'\n', q);
    match (special, lf) {
        (Some(i), None) if q[i] == b'"' => return Cow::Borrowed(&q[..i]),
        (None, None) => return Cow::Borrowed(q),
        _ => {}
    }
    let escaped = preceded(char('\\'), take(1usize));
    let line_break = value(&b""[..], one_of("\r\n"));
    let plain = take_till1(|b| matches!(b, b'"' | b'\\' | b'\r' | b'\n'));
    // A `\` that ends the input stands for itself.
    let lone_backslash = tag("\\");
    let mut content = fold_many0(
        alt((escaped, line_break, plain, lone_backslash)),
        || Vec::with_capacity(q.len()),
        |mut out: Vec<u8>, piece| {
            out.extend_from_slice(piece);
            out
        },
    );
    let parsed: IResult<&[u8], Vec<u8>> = content.parse(q);
    Cow::Owned(parsed.map(|(_, out)| out).unwrap_or_default())
}

fn strip_trailing_comment(v: &[u8]) -> &[u8] {
    if v.ends_with(b")") {
        if let Some(open) = lexical::find1(b'(', v) {
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
                if let Some((rest, (cs, lang))) = charset_language(v) {
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

/// The charset and language of an RFC 2231 prefix (either may be empty).
type CharsetLanguage<'a> = (&'a [u8], &'a [u8]);

/// The RFC 2231 `charset'language'` prefix of a first extended section: the rest, then
/// the charset and language.
fn charset_language(v: &[u8]) -> Option<(&[u8], CharsetLanguage<'_>)> {
    let quote = || char('\'');
    let field = || take_till(|b| b == b'\'');
    let parsed: IResult<&[u8], _> = (separated_pair(field(), quote(), field()), quote()).parse(v);
    parsed.ok().map(|(rest, (cs_lang, _))| (rest, cs_lang))
}

/// Appends `v` with its `%XX` escapes decoded; a `%` not followed by two hex digits
/// stands for itself.
fn percent_decode(v: &[u8], out: &mut Vec<u8>) {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let escape = map_opt(preceded(char('%'), take(2usize)), |h: &[u8]| {
        Some(Piece::Byte(hex(h[0])? << 4 | hex(h[1])?))
    });
    let plain = map(take_till1(|b| b == b'%'), Piece::Bytes);
    let percent = map(tag("%"), Piece::Bytes);
    let mut pieces = fold_many0(
        alt((escape, plain, percent)),
        || (),
        |(), piece| match piece {
            Piece::Byte(b) => out.push(b),
            Piece::Bytes(b) => out.extend_from_slice(b),
        },
    );
    let _: IResult<&[u8], ()> = pieces.parse(v);
}

/// A decoded piece of a value: one byte from an escape, or bytes as they stand.
enum Piece<'a> {
    Byte(u8),
    Bytes(&'a [u8]),
}

/// Parameter names common enough to be worth recognising without a UTF-8 check or,
/// when written in capitals, a lower-cased copy.
const COMMON_NAMES: [&str; 8] = [
    "charset",
    "boundary",
    "name",
    "filename",
    "format",
    "type",
    "delsp",
    "reply-type",
];

fn lower_name(name: &[u8]) -> Cow<'_, str> {
    if let Some(known) = common_token(name) {
        return Cow::Borrowed(known);
    }
    if let Some(known) = COMMON_NAMES
        .iter()
        .find(|k| k.len() == name.len() && name.eq_ignore_ascii_case(k.as_bytes()))
    {
        return Cow::Borrowed(known);
    }
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

    proptest! {
        /// The table of common tokens changes no answer: `lower_raw` and `lower_name`
        /// give what the checked path gives, for the table's tokens in any case, with a
        /// byte added or cut, and for arbitrary bytes.
        #[test]
        fn common_tokens_match_checked_path(
            pick in 0usize..40,
            flips in any::<u64>(),
            edit in 0u8..4,
            extra in any::<u8>(),
            junk in proptest::collection::vec(any::<u8>(), 0..12),
        ) {
            const TOKENS: [&str; 30] = [
                "text", "plain", "html", "multipart", "mixed", "alternative", "related",
                "report", "signed", "application", "octet-stream", "pdf", "image", "jpeg",
                "png", "gif", "message", "rfc822", "delivery-status", "inline",
                "attachment", "charset", "boundary", "name", "filename", "format", "type",
                "delsp", "reply-type", "x-unknown",
            ];
            let mut t: Vec<u8> = match TOKENS.get(pick) {
                Some(t) => t.as_bytes().to_vec(),
                None => junk,
            };
            for (i, b) in t.iter_mut().enumerate() {
                if flips >> (i % 64) & 1 == 1 {
                    b.make_ascii_uppercase();
                }
            }
            match edit {
                1 => t.push(extra),
                2 => { t.pop(); }
                _ => {}
            }
            prop_assert_eq!(lower_raw(&t), lower_raw_checked(&t));
            let checked = match std::str::from_utf8(&t) {
                Ok(s) if !t.iter().any(u8::is_ascii_uppercase) => s.to_string(),
                _ => charset::decode_lenient(&t).to_ascii_lowercase(),
            };
            prop_assert_eq!(lower_name(&t), checked);
        }
    }

    #[test]
    fn common_tokens_are_lower_case_and_borrowed() {
        for t in [
            &b"text"[..],
            b"plain",
            b"delivery-status",
            b"charset",
            b"delsp",
        ] {
            let got = lower_raw(t);
            assert!(matches!(got, Cow::Borrowed(_)));
            assert_eq!(got.as_bytes(), t);
        }
        assert_eq!(lower_raw(b"TEXT"), "text");
        assert!(common_token(b"Text").is_none());
    }

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

    /// Parameter-shaped bytes: the grammar's punctuation, names and values, shuffled.
    fn params_like() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"text/plain".to_vec()),
            Just(b"Multipart/Mixed".to_vec()),
            Just(b"attachment".to_vec()),
            Just(b"/".to_vec()),
            Just(b";".to_vec()),
            Just(b"; ".to_vec()),
            Just(b"=".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"\\".to_vec()),
            Just(b"'".to_vec()),
            Just(b"%".to_vec()),
            Just(b"%E2%82".to_vec()),
            Just(b"(".to_vec()),
            Just(b")".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\r\n\t".to_vec()),
            Just(b"name".to_vec()),
            Just(b"Name*".to_vec()),
            Just(b"*0*".to_vec()),
            Just(b"*1".to_vec()),
            Just(b"utf-8''".to_vec()),
            Just(b"iso-8859-1'en'".to_vec()),
            Just(b"=?utf-8?q?a?=".to_vec()),
            Just(b"boundary".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..3),
        ];
        proptest::collection::vec(piece, 0..20).prop_map(|ps| ps.concat())
    }

    proptest! {
        #[test]
        fn nom_parser_agrees_with_the_hand_written_one(raw in params_like()) {
            prop_assert_eq!(ContentType::parse(&raw), oracle::content_type(&raw));
            prop_assert_eq!(ContentDisposition::parse(&raw), oracle::disposition(&raw));
            prop_assert_eq!(parse_params(&raw), oracle::parse_params(&raw));
        }

        #[test]
        fn nom_parser_agrees_after_a_media_type(raw in params_like()) {
            let raw = [b"text/plain; ".as_slice(), &raw].concat();
            prop_assert_eq!(ContentType::parse(&raw), oracle::content_type(&raw));
        }

        #[test]
        fn nom_parser_agrees_on_any_bytes(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(ContentType::parse(&raw), oracle::content_type(&raw));
            prop_assert_eq!(ContentDisposition::parse(&raw), oracle::disposition(&raw));
        }

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
