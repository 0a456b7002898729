//! The hand-written address-list parser that the nom tokenizer replaced, kept unchanged
//! (test-only) as the oracle of the differential tests in `address.rs`.

use std::borrow::Cow;

use super::{Address, AddressList, Group, Mailbox};
use crate::charset;
use crate::encoded_word;

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Atom(&'a [u8]),
    Quoted(Cow<'a, [u8]>),
    Comment(&'a [u8]),
    Special(u8),
}

fn is_special(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b',' | b';' | b':' | b'"' | b'\\'
    )
}

/// Splits raw header bytes into tokens (line breaks count as whitespace).
fn tokenize(s: &[u8]) -> Vec<Tok<'_>> {
    let mut toks = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'"' {
            let (q, next) = quoted(s, i + 1);
            toks.push(Tok::Quoted(q));
            i = next;
        } else if b == b'(' {
            let (c, next) = comment(s, i + 1);
            toks.push(Tok::Comment(c));
            i = next;
        } else if is_special(b) && b != b'\\' {
            toks.push(Tok::Special(b));
            i += 1;
        } else {
            let start = i;
            while i < s.len() && !s[i].is_ascii_whitespace() && (!is_special(s[i]) || s[i] == b'\\')
            {
                i += 1;
            }
            toks.push(Tok::Atom(&s[start..i]));
        }
    }
    toks
}

/// A quoted string starting after the `"`: its content and the offset after the close.
fn quoted(s: &[u8], start: usize) -> (Cow<'_, [u8]>, usize) {
    let mut i = start;
    let mut plain = true;
    while i < s.len() && s[i] != b'"' {
        if matches!(s[i], b'\\' | b'\r' | b'\n') {
            plain = false;
        }
        i += if s[i] == b'\\' { 2 } else { 1 };
    }
    let end = i.min(s.len());
    let next = (end + 1).min(s.len()).max(end);
    if plain {
        return (Cow::Borrowed(&s[start..end]), next);
    }
    let mut out = Vec::with_capacity(end - start);
    let mut j = start;
    while j < end {
        match s[j] {
            b'\\' if j + 1 < end => {
                // An escaped line break is still folding, not content.
                if !matches!(s[j + 1], b'\r' | b'\n') {
                    out.push(s[j + 1]);
                }
                j += 1;
            }
            b'\r' | b'\n' => {}
            b => out.push(b),
        }
        j += 1;
    }
    (Cow::Owned(out), next)
}

/// A comment starting after the `(` (nested, escapes skipped): its content and the offset
/// after the close.
fn comment(s: &[u8], start: usize) -> (&[u8], usize) {
    let mut depth = 1;
    let mut i = start;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return (&s[start..i], i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    (&s[start..], s.len())
}

/// Parses an address list from a raw header value.
pub fn parse_list(raw: &[u8]) -> AddressList<'_> {
    let toks = tokenize(raw);
    let mut list = AddressList::default();
    let mut group: Option<Group<'_>> = None;
    let mut entry = Entry::default();
    let mut scan = AngleScan::default();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Special(b'<') => {
                let (addr, next) = angle(&toks, i + 1, &mut scan);
                entry.angle.get_or_insert(addr);
                i = next;
                continue;
            }
            Tok::Special(b':') if group.is_none() && entry.angle.is_none() && !entry.has_at() => {
                group = Some(Group {
                    name: phrase(&entry.words),
                    members: Vec::new(),
                });
                entry = Entry::default();
            }
            Tok::Special(b',') => push(&mut list, &mut group, std::mem::take(&mut entry)),
            Tok::Special(b';') => {
                push(&mut list, &mut group, std::mem::take(&mut entry));
                if let Some(g) = group.take() {
                    list.entries.push(Address::Group(g));
                }
            }
            Tok::Comment(c) => entry.comment = Some(c),
            Tok::Atom(_) | Tok::Quoted(_) if entry.angle.is_none() => entry.words.push(&toks[i]),
            _ => {}
        }
        i += 1;
    }
    push(&mut list, &mut group, entry);
    if let Some(g) = group {
        list.entries.push(Address::Group(g));
    }
    list
}

#[derive(Default)]
struct Entry<'t, 'a> {
    words: Vec<&'t Tok<'a>>,
    angle: Option<Cow<'a, str>>,
    comment: Option<&'a [u8]>,
}

impl Entry<'_, '_> {
    fn has_at(&self) -> bool {
        self.words
            .iter()
            .any(|w| matches!(w, Tok::Atom(a) if memchr::memchr(b'@', a).is_some()))
    }
}

fn push<'a>(list: &mut AddressList<'a>, group: &mut Option<Group<'a>>, entry: Entry<'_, 'a>) {
    let Some(mb) = mailbox(entry) else { return };
    match group {
        Some(g) => g.members.push(mb),
        None => list.entries.push(Address::Mailbox(mb)),
    }
}

fn mailbox<'a>(e: Entry<'_, 'a>) -> Option<Mailbox<'a>> {
    let comment_name = || {
        e.comment
            .map(|c| encoded_word::decode(c))
            .filter(|c| !c.trim().is_empty())
    };
    if let Some(address) = e.angle {
        let name = (!e.words.is_empty())
            .then(|| phrase(&e.words))
            .filter(|n| !n.is_empty());
        return Some(Mailbox { name, address });
    }
    match e.words.as_slice() {
        [] => None,
        [Tok::Atom(a)] => Some(Mailbox {
            name: comment_name(),
            address: charset::decode_lenient(a),
        }),
        words
            if e.words
                .iter()
                .any(|w| matches!(w, Tok::Atom(a) if a.contains(&b'@'))) =>
        {
            Some(Mailbox {
                name: comment_name(),
                address: Cow::Owned(join_addr(words)),
            })
        }
        words => Some(Mailbox {
            name: Some(phrase(words)),
            address: Cow::Borrowed(""),
        }),
    }
}

/// Where the current `<…>` ends and its last `:` (the end of an obsolete route), found
/// once and reused by later `<` in the same stretch, so that `<` and `,` soup stays linear.
#[derive(Default)]
struct AngleScan {
    /// Index of the next `>` (or the token count); valid for starts up to it.
    close: usize,
    /// Index of the last `:` before `close`.
    last_colon: Option<usize>,
    valid: bool,
}

impl AngleScan {
    fn at(&mut self, toks: &[Tok<'_>], start: usize) -> (usize, Option<usize>) {
        if !self.valid || start > self.close {
            self.close = toks[start..]
                .iter()
                .position(|t| matches!(t, Tok::Special(b'>')))
                .map_or(toks.len(), |p| start + p);
            self.last_colon = toks[start..self.close]
                .iter()
                .rposition(|t| matches!(t, Tok::Special(b':')))
                .map(|p| start + p);
            self.valid = true;
        }
        (self.close, self.last_colon.filter(|&c| c >= start))
    }
}

/// Reads an angle address from after `<` to `>` (or, when `>` is missing, to the end of
/// the entry); an obsolete route (everything up to the last `:`) is dropped.
fn angle<'a>(toks: &[Tok<'a>], start: usize, scan: &mut AngleScan) -> (Cow<'a, str>, usize) {
    let (close, last_colon) = scan.at(toks, start);
    // A `,` or `;` not followed by the route's `:` ends a malformed address early.
    let end = (start..close)
        .find(|&i| {
            i > start
                && matches!(toks[i], Tok::Special(b',' | b';'))
                && last_colon.is_none_or(|c| i > c)
        })
        .unwrap_or(close);
    let parts_start = last_colon.filter(|&c| c < end).map_or(start, |c| c + 1);
    let words: Vec<&Tok<'a>> = toks[parts_start..end]
        .iter()
        .filter(|t| !matches!(t, Tok::Comment(_)))
        .collect();
    let addr = match words.as_slice() {
        [Tok::Atom(a)] => charset::decode_lenient(a),
        ws => Cow::Owned(join_addr(ws)),
    };
    let next = if end == close && close < toks.len() {
        close + 1
    } else {
        end
    };
    (addr, next)
}

/// Joins address tokens without spaces, re-quoting quoted local parts that need it.
fn join_addr(words: &[&Tok<'_>]) -> String {
    let mut out = String::new();
    for w in words {
        match w {
            Tok::Atom(a) => out.push_str(&charset::decode_lenient(a)),
            Tok::Quoted(q) => {
                let q = charset::decode_lenient(q);
                if q.bytes().any(|b| b == b' ' || is_special(b) || b == b'@') {
                    out.push('"');
                    out.push_str(&q.replace('\\', "\\\\").replace('"', "\\\""));
                    out.push('"');
                } else {
                    out.push_str(&q);
                }
            }
            Tok::Special(b) => out.push(char::from(*b)),
            Tok::Comment(_) => {}
        }
    }
    out
}

/// Decodes a display-name phrase: words joined by one space, RFC 2047 words decoded
/// (no space between two adjacent encoded words), quoted strings unquoted.
fn phrase<'a>(words: &[&Tok<'a>]) -> Cow<'a, str> {
    if let [Tok::Quoted(Cow::Borrowed(q)) | Tok::Atom(q)] = words {
        if memchr::memmem::find(q, b"=?").is_none() {
            return charset::decode_lenient(q);
        }
    }
    let mut out = String::new();
    let mut prev_encoded = false;
    for w in words {
        let bytes: &[u8] = match w {
            Tok::Atom(a) => a,
            Tok::Quoted(q) => q,
            _ => continue,
        };
        let encoded = bytes.starts_with(b"=?") && encoded_word::parse_word(bytes).is_some();
        if !(out.is_empty() || (encoded && prev_encoded)) {
            out.push(' ');
        }
        out.push_str(&encoded_word::decode(bytes));
        prev_encoded = encoded;
    }
    Cow::Owned(out)
}
