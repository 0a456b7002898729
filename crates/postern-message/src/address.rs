//! RFC 5322 address lists, parsed tolerantly: mailboxes with or without display names,
//! groups (`team: a@x, b@y;`), comments, quoted strings, obsolete routes
//! (`<@relay:user@host>`), RFC 2047 words in display names, and the common junk (empty
//! entries, bare names, missing `>`).
//!
//! Rules for the shapes RFC 5322 does not allow:
//! - `user@host (Full Name)`: the last comment becomes the display name;
//! - a bare word without `@` (`undisclosed-recipients`) is an address; several bare words
//!   without `@` are a display name with an empty address;
//! - a missing `>` closes at the end of the entry.
//!
//! Two levels, both parsers that take an input and return the rest with what they read.
//! The lexical grammar (CFWS, atoms, quoted strings with quoted pairs, nested comments,
//! specials) is nom parsers over the bytes, giving borrowed tokens. The list grammar
//! (`address-list`, an entry with its stop, `angle-addr` with its `obs-route`, group,
//! `mailbox`) runs over the token run, where the rules above relax RFC 5322; its parsers
//! never fail, and they are plain functions in nom's shape because nom's combinators take
//! only byte or string input.

use std::borrow::Cow;

use nom::bytes::complete::take_till1;
use nom::character::complete::char;
use nom::combinator::{map, opt};
use nom::sequence::preceded;
use nom::{IResult, Parser};

use crate::charset;
use crate::encoded_word;
use crate::lexical::{Escapes, comment, is_ws};

#[cfg(test)]
mod oracle;

/// A single mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox<'a> {
    /// The decoded display name, if any.
    pub name: Option<Cow<'a, str>>,
    /// The address (`local@domain`, route removed); may be empty for a bare name.
    pub address: Cow<'a, str>,
}

/// A named group of mailboxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group<'a> {
    /// The decoded group name.
    pub name: Cow<'a, str>,
    /// The members (possibly none).
    pub members: Vec<Mailbox<'a>>,
}

/// One entry of an address list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address<'a> {
    /// A mailbox.
    Mailbox(Mailbox<'a>),
    /// A group.
    Group(Group<'a>),
}

/// A parsed address list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressList<'a> {
    /// The entries in order.
    pub entries: Vec<Address<'a>>,
}

impl<'a> AddressList<'a> {
    /// Every mailbox, group members included, in order.
    pub fn mailboxes(&self) -> impl Iterator<Item = &Mailbox<'a>> {
        self.entries.iter().flat_map(|e| match e {
            Address::Mailbox(m) => std::slice::from_ref(m),
            Address::Group(g) => g.members.as_slice(),
        })
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

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

/// Whether `b` ends an atom: whitespace or a special other than `\\` (a backslash outside
/// a quoted string is kept as atom text, as real mail has it).
fn ends_atom(b: u8) -> bool {
    is_ws(b) || (is_special(b) && b != b'\\')
}

/// Splits raw header bytes into tokens (line breaks count as whitespace).
fn tokenize(s: &[u8]) -> Vec<Tok<'_>> {
    // A token every four bytes or so (`John Doe <john@x.org>`: 5 in 21) sizes the vector
    // once for most headers; the cap bounds what a long header reserves up front.
    let mut toks = Vec::with_capacity((s.len() / 4 + 1).min(64));
    let mut input = s;
    while let Ok((rest, tok)) = token(input) {
        toks.push(tok);
        input = rest;
    }
    toks
}

/// One token after any CFWS blanks: a quoted string, a comment, a special or an atom.
/// Fails only at the end of the input. The first byte picks the alternative (what an
/// `alt` would find by trying each in turn, without the failed attempts).
fn token(input: &[u8]) -> IResult<&[u8], Tok<'_>> {
    let (input, ()) = blanks(input)?;
    match input.first() {
        Some(b'"') => map(quoted_string, Tok::Quoted).parse(input),
        Some(b'(') => map(comment(Escapes::Honoured), Tok::Comment).parse(input),
        Some(&b) if ends_atom(b) => Ok((&input[1..], Tok::Special(b))),
        _ => map(take_till1(ends_atom), Tok::Atom).parse(input),
    }
}

/// Skips whitespace and folding (an index scan: nom's `take_while` costs a call per
/// token on this path, 2.5% of an address parse).
fn blanks(input: &[u8]) -> IResult<&[u8], ()> {
    let n = input.iter().position(|&b| !is_ws(b)).unwrap_or(input.len());
    Ok((&input[n..], ()))
}

/// `DQUOTE *(qtext / quoted-pair) DQUOTE`, the closing quote optional (an unclosed string
/// runs to the end): the content with quoted pairs and folding removed, borrowed when
/// there are none.
fn quoted_string(input: &[u8]) -> IResult<&[u8], Cow<'_, [u8]>> {
    let (rest, (body, plain)) = preceded(char('"'), quoted_body).parse(input)?;
    let (rest, _) = opt(char('"')).parse(rest)?;
    let content = if plain {
        Cow::Borrowed(body)
    } else {
        Cow::Owned(unquote(body))
    };
    Ok((rest, content))
}

/// The raw text of a quoted string up to its closing `"` (not consumed), a `\\` taking the
/// byte after it along; and whether it holds no quoted pair or line break.
fn quoted_body(input: &[u8]) -> IResult<&[u8], (&[u8], bool)> {
    let mut i = 0;
    let mut plain = true;
    while i < input.len() && input[i] != b'"' {
        match input[i] {
            b'\\' => {
                plain = false;
                i += 2;
            }
            b'\r' | b'\n' => {
                plain = false;
                i += 1;
            }
            _ => i += 1,
        }
    }
    // A trailing `\\` steps one past the end.
    let end = i.min(input.len());
    Ok((&input[end..], (&input[..end], plain)))
}

/// A quoted string's content without its quoted pairs' backslashes and its line breaks
/// (an escaped line break is still folding, not content).
fn unquote(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut j = 0;
    while j < body.len() {
        match body[j] {
            b'\\' if j + 1 < body.len() => {
                if !matches!(body[j + 1], b'\r' | b'\n') {
                    out.push(body[j + 1]);
                }
                j += 1;
            }
            b'\r' | b'\n' => {}
            b => out.push(b),
        }
        j += 1;
    }
    out
}

/// Parses an address list from a raw header value.
///
/// `address-list = *( entry stop )`: each entry is a mailbox, or the display name of a
/// group that the next `;` (or the end) closes.
pub fn parse_list(raw: &[u8]) -> AddressList<'_> {
    let toks = tokenize(raw);
    let mut list = AddressList::default();
    let mut group: Option<Group<'_>> = None;
    let mut scan = AngleScan::new(&toks);
    let mut input = &toks[..];
    loop {
        let (rest, (e, stop)) = entry(input, group.is_some(), &mut scan);
        input = rest;
        match stop {
            Stop::GroupName => {
                group = Some(Group {
                    name: phrase(e.words),
                    members: Vec::new(),
                });
                continue;
            }
            Stop::Comma | Stop::Semicolon | Stop::End => push(&mut list, &mut group, e),
        }
        if matches!(stop, Stop::Semicolon | Stop::End) {
            if let Some(g) = group.take() {
                list.entries.push(Address::Group(g));
            }
        }
        if matches!(stop, Stop::End) {
            return list;
        }
    }
}

/// A run of tokens, the input of the list-level parsers: always a suffix of the header's
/// tokens.
type Toks<'t, 'a> = &'t [Tok<'a>];

/// What ended an entry.
#[derive(Clone, Copy)]
enum Stop {
    /// `,`: the next mailbox follows.
    Comma,
    /// `;`: the end of a group (or a stray one, read as `,`).
    Semicolon,
    /// `:` after words that are not an address: they name a group.
    GroupName,
    /// The end of the header.
    End,
}

/// One entry as read: its words (the tokens before its first `<`), the address inside
/// that `<…>`, and its last comment.
struct Entry<'t, 'a> {
    words: Words<'t, 'a>,
    angle: Option<Cow<'a, str>>,
    comment: Option<&'a [u8]>,
}

/// `entry = *( angle-addr / comment / word / stray ) stop`, the stop consumed: the first
/// `<…>` is the address (later ones are skipped), words after it are dropped, the last
/// comment is kept (a name for `addr (Name)`), and `:` names a group unless one is open,
/// the entry has its address, or its words hold an `@`. Never fails: at worst the entry
/// runs to the end.
fn entry<'t, 'a>(
    input: Toks<'t, 'a>,
    group_open: bool,
    scan: &mut AngleScan<'t, 'a>,
) -> (Toks<'t, 'a>, (Entry<'t, 'a>, Stop)) {
    let mut angle = None;
    let mut words_end = None;
    let mut comment = None;
    let mut i = 0;
    let stop = loop {
        let Some(tok) = input.get(i) else {
            break Stop::End;
        };
        match tok {
            Tok::Special(b'<') => {
                let (rest, addr) = angle_addr(&input[i + 1..], scan);
                if angle.is_none() {
                    angle = Some(addr);
                    words_end = Some(i);
                }
                i = input.len() - rest.len();
                continue;
            }
            Tok::Special(b':')
                if !group_open && angle.is_none() && !Words(&input[..i]).has_at() =>
            {
                break Stop::GroupName;
            }
            Tok::Special(b',') => break Stop::Comma,
            Tok::Special(b';') => break Stop::Semicolon,
            Tok::Comment(c) => comment = Some(*c),
            _ => {}
        }
        i += 1;
    };
    let rest = input.get(i + 1..).unwrap_or_default();
    let e = Entry {
        words: Words(&input[..words_end.unwrap_or(i)]),
        angle,
        comment,
    };
    (rest, (e, stop))
}

/// The display-name or addr-spec words of an entry: the atoms and quoted strings of a
/// stretch of tokens that may also hold comments and stray specials (skipped). A view, so
/// an entry costs no allocation of its own.
#[derive(Clone, Copy)]
struct Words<'t, 'a>(&'t [Tok<'a>]);

impl<'t, 'a> Words<'t, 'a> {
    fn iter(self) -> impl Iterator<Item = &'t Tok<'a>> + Clone {
        self.0
            .iter()
            .filter(|t| matches!(t, Tok::Atom(_) | Tok::Quoted(_)))
    }

    fn is_empty(self) -> bool {
        self.iter().next().is_none()
    }

    /// The word, when there is exactly one.
    fn single(self) -> Option<&'t Tok<'a>> {
        let mut words = self.iter();
        let first = words.next()?;
        words.next().is_none().then_some(first)
    }

    /// Whether an atom holds an `@` (the words are an address, not a name).
    fn has_at(self) -> bool {
        self.iter()
            .any(|w| matches!(w, Tok::Atom(a) if memchr::memchr(b'@', a).is_some()))
    }
}

fn push<'a>(list: &mut AddressList<'a>, group: &mut Option<Group<'a>>, entry: Entry<'_, 'a>) {
    let Some(mb) = mailbox(entry) else {
        return;
    };
    match group {
        Some(g) => g.members.push(mb),
        None => list.entries.push(Address::Mailbox(mb)),
    }
}

/// `mailbox = name-addr / addr-spec`, and the tolerated shapes (see the module docs).
fn mailbox<'a>(e: Entry<'_, 'a>) -> Option<Mailbox<'a>> {
    let words = e.words;
    let comment_name = || {
        e.comment
            .map(|c| encoded_word::decode(c))
            .filter(|c| !c.trim().is_empty())
    };
    if let Some(address) = e.angle {
        let name = (!words.is_empty())
            .then(|| phrase(words))
            .filter(|n| !n.is_empty());
        return Some(Mailbox { name, address });
    }
    if words.is_empty() {
        return None;
    }
    if let Some(Tok::Atom(a)) = words.single() {
        return Some(Mailbox {
            name: comment_name(),
            address: charset::decode_lenient(a),
        });
    }
    if words.has_at() {
        return Some(Mailbox {
            name: comment_name(),
            address: Cow::Owned(join_addr(words.iter())),
        });
    }
    Some(Mailbox {
        name: Some(phrase(words)),
        address: Cow::Borrowed(""),
    })
}

/// Where the current `<…>` ends and its last `:` (the end of an obsolete route), found
/// once and reused by later `<` in the same stretch, so that `<` and `,` soup stays linear.
/// Positions are indices into the header's tokens, which it holds.
struct AngleScan<'t, 'a> {
    toks: Toks<'t, 'a>,
    /// Index of the next `>` (or the token count); valid for starts up to it.
    close: usize,
    /// Index of the last `:` before `close`.
    last_colon: Option<usize>,
    valid: bool,
}

impl<'t, 'a> AngleScan<'t, 'a> {
    fn new(toks: Toks<'t, 'a>) -> Self {
        AngleScan {
            toks,
            close: 0,
            last_colon: None,
            valid: false,
        }
    }

    fn at(&mut self, start: usize) -> (usize, Option<usize>) {
        let toks = self.toks;
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

/// `angle-addr` after its `<`: `[obs-route] addr-spec ">"`, the route (everything up to
/// the last `:`) dropped; when `>` is missing, the address ends with the entry (a `,` or
/// `;` not followed by the route's `:`). Never fails.
fn angle_addr<'t, 'a>(
    input: Toks<'t, 'a>,
    scan: &mut AngleScan<'t, 'a>,
) -> (Toks<'t, 'a>, Cow<'a, str>) {
    let toks = scan.toks;
    let start = toks.len() - input.len();
    let (close, last_colon) = scan.at(start);
    // A `,` or `;` not followed by the route's `:` ends a malformed address early.
    let end = (start..close)
        .find(|&i| {
            i > start
                && matches!(toks[i], Tok::Special(b',' | b';'))
                && last_colon.is_none_or(|c| i > c)
        })
        .unwrap_or(close);
    let parts_start = last_colon.filter(|&c| c < end).map_or(start, |c| c + 1);
    let mut parts = toks[parts_start..end]
        .iter()
        .filter(|t| !matches!(t, Tok::Comment(_)));
    let addr = match (parts.clone().next(), parts.clone().nth(1)) {
        (Some(Tok::Atom(a)), None) => charset::decode_lenient(a),
        _ => Cow::Owned(join_addr(&mut parts)),
    };
    let next = if end == close && close < toks.len() {
        close + 1
    } else {
        end
    };
    (&toks[next..], addr)
}

/// Joins address tokens without spaces, re-quoting quoted local parts that need it.
fn join_addr<'t, 'a: 't>(words: impl Iterator<Item = &'t Tok<'a>>) -> String {
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
fn phrase<'a>(words: Words<'_, 'a>) -> Cow<'a, str> {
    if let Some(Tok::Quoted(Cow::Borrowed(q)) | Tok::Atom(q)) = words.single() {
        if memchr::memmem::find(q, b"=?").is_none() {
            return charset::decode_lenient(q);
        }
    }
    let mut out = String::new();
    let mut prev_encoded = false;
    for w in words.iter() {
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

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    /// Whether two parses agree, borrowed-ness (zero copy) included.
    fn same(new: &AddressList<'_>, old: &AddressList<'_>) -> bool {
        fn borrowed(l: &AddressList<'_>) -> Vec<(bool, Option<bool>)> {
            l.mailboxes()
                .map(|m| {
                    (
                        matches!(m.address, Cow::Borrowed(_)),
                        m.name.as_ref().map(|n| matches!(n, Cow::Borrowed(_))),
                    )
                })
                .collect()
        }
        new == old && borrowed(new) == borrowed(old)
    }

    /// Address-list-shaped bytes: the grammar's pieces (atoms, quoted strings with quoted
    /// pairs, nested and unclosed comments, angle brackets, routes, groups, folding,
    /// encoded words), shuffled, with stray bytes.
    fn address_like() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"john".to_vec()),
            Just(b"john.doe@example.org".to_vec()),
            Just(b"@".to_vec()),
            Just(b"x.org".to_vec()),
            Just(b"John Doe".to_vec()),
            Just(b"\"Doe, John\"".to_vec()),
            Just(b"\"a\\\"b\\\\c\"".to_vec()),
            Just(b"\"a\\\r\n b\"".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"\\".to_vec()),
            Just(b"(comment)".to_vec()),
            Just(b"(a (nested \\) one) c)".to_vec()),
            Just(b"(".to_vec()),
            Just(b")".to_vec()),
            Just(b"<".to_vec()),
            Just(b">".to_vec()),
            Just(b"<@relay1,@relay2:".to_vec()),
            Just(b",".to_vec()),
            Just(b";".to_vec()),
            Just(b":".to_vec()),
            Just(b"Group:".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\r\n\t".to_vec()),
            Just(b"=?utf-8?q?J=C3=B6rg?=".to_vec()),
            Just(b"=?iso-8859-1?b?R3L8bg==?=".to_vec()),
            Just(b"Gr\xfcn".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..3),
        ];
        proptest::collection::vec(piece, 0..16).prop_map(|ps| ps.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn nom_parser_agrees_with_the_hand_written_one(raw in address_like()) {
            let (new, old) = (parse_list(&raw), oracle::parse_list(&raw));
            let shown = String::from_utf8_lossy(&raw);
            prop_assert!(same(&new, &old), "{shown:?}: {new:?} vs {old:?}");
        }

        #[test]
        fn nom_parser_agrees_on_any_bytes(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            let (new, old) = (parse_list(&raw), oracle::parse_list(&raw));
            prop_assert!(same(&new, &old), "{:?}: {new:?} vs {old:?}", raw);
        }
    }

    /// Every header of every message in the shared corpus and, when
    /// `POSTERN_SPAM_CORPUS` names it, the SpamAssassin set: both parsers agree on each
    /// header value read as an address list (address headers or not: more shapes).
    #[test]
    fn nom_parser_agrees_on_the_corpus() {
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut dirs = vec![manifest.join("../../../shared/corpus")];
        if let Some(spam) = std::env::var_os("POSTERN_SPAM_CORPUS") {
            dirs.push(spam.into());
        }
        let mut values = 0usize;
        for dir in dirs {
            let mut stack = vec![dir];
            while let Some(p) = stack.pop() {
                if p.is_dir() {
                    let entries = std::fs::read_dir(&p).expect("corpus directory readable");
                    stack.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
                    continue;
                }
                let Ok(bytes) = std::fs::read(&p) else {
                    continue;
                };
                let msg = crate::Message::parse(&bytes);
                for part in msg.parts() {
                    for h in part.headers() {
                        let raw = h.raw_value();
                        let (new, old) = (parse_list(raw), oracle::parse_list(raw));
                        assert!(
                            same(&new, &old),
                            "{}: {:?}",
                            p.display(),
                            String::from_utf8_lossy(raw)
                        );
                        values += 1;
                    }
                }
            }
        }
        assert!(
            values > 1000,
            "only {values} header values read: corpus missing?"
        );
    }

    fn mbs(raw: &str) -> Vec<(Option<String>, String)> {
        parse_list(raw.as_bytes())
            .mailboxes()
            .map(|m| {
                (
                    m.name.as_ref().map(|n| n.to_string()),
                    m.address.to_string(),
                )
            })
            .collect()
    }

    fn one(name: Option<&str>, addr: &str) -> Vec<(Option<String>, String)> {
        vec![(name.map(String::from), addr.to_string())]
    }

    #[test]
    fn plain_and_named() {
        assert_eq!(mbs("a@b.c"), one(None, "a@b.c"));
        assert_eq!(
            mbs("John Doe <john@x.org>"),
            one(Some("John Doe"), "john@x.org")
        );
        assert_eq!(
            mbs("\"Doe, John\" <john@x.org>"),
            one(Some("Doe, John"), "john@x.org")
        );
        assert_eq!(mbs("<john@x.org>"), one(None, "john@x.org"));
    }

    #[test]
    fn borrowed_when_simple() {
        let l = parse_list(b"John <john@x.org>");
        let Address::Mailbox(m) = &l.entries[0] else {
            panic!()
        };
        assert!(matches!(m.address, Cow::Borrowed(_)));
        assert!(matches!(m.name, Some(Cow::Borrowed(_))));
    }

    #[test]
    fn comments() {
        assert_eq!(
            mbs("john@x.org (John Doe)"),
            one(Some("John Doe"), "john@x.org")
        );
        assert_eq!(
            mbs("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
            one(Some("Pete"), "pete@silly.test")
        );
    }

    #[test]
    fn groups() {
        let l =
            parse_list(b"A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, x@y");
        assert_eq!(l.entries.len(), 2);
        let Address::Group(g) = &l.entries[0] else {
            panic!()
        };
        assert_eq!(g.name, "A Group");
        assert_eq!(g.members.len(), 3);
        assert_eq!(g.members[1].address, "joe@where.test");
        let l = parse_list(b"Undisclosed recipients:;");
        let Address::Group(g) = &l.entries[0] else {
            panic!()
        };
        assert!(g.members.is_empty());
    }

    #[test]
    fn obsolete_route_and_spaces() {
        assert_eq!(
            mbs("Joe <@relay1,@relay2:joe@x.org>"),
            one(Some("Joe"), "joe@x.org")
        );
        assert_eq!(mbs("joe @ x . org"), one(None, "joe@x.org"));
    }

    #[test]
    fn encoded_display_names() {
        assert_eq!(
            mbs("=?utf-8?q?J=C3=B6rg?= =?utf-8?q?_M?= <j@x>"),
            one(Some("Jörg M"), "j@x")
        );
        assert_eq!(
            mbs("\"=?utf-8?q?J=C3=B6rg?=\" <j@x>"),
            one(Some("Jörg"), "j@x")
        );
        assert_eq!(mbs("Gr\u{fc}n <g@x>"), one(Some("Grün"), "g@x"));
    }

    #[test]
    fn junk() {
        assert_eq!(mbs(", ,a@b,,"), one(None, "a@b"));
        assert_eq!(mbs("Joe <joe@x.org"), one(Some("Joe"), "joe@x.org"));
        assert_eq!(
            mbs("undisclosed-recipients"),
            one(None, "undisclosed-recipients")
        );
        assert_eq!(mbs("John Doe"), one(Some("John Doe"), ""));
        assert_eq!(
            mbs("\"quoted local\"@x.org"),
            one(None, "\"quoted local\"@x.org")
        );
        assert!(parse_list(b"").is_empty());
        let _ = parse_list(b"<<<>>>:;:;\"(((");
    }

    #[test]
    fn fuzz_escaped_line_break_in_quoted_local_part() {
        let raw = [
            0x41, 0x20, 0x47, 0x6f, 0x68, 0x40, 0x22, 0x20, 0x77, 0x65, 0x1, 0x0, 0xec, 0x68, 0x65,
            0x74, 0x27, 0x5c, 0x5c, 0x5c, 0x5c, 0x5c, 0x5c, 0xf4, 0x2c, 0x65, 0x74, 0x27, 0x5c,
            0x5c, 0x5c, 0x5c, 0x5c, 0x5c, 0xf4, 0x2c, 0x65, 0x2e, 0x65, 0x1, 0x27, 0x5c, 0x5c,
            0x5c, 0x5c, 0x5c, 0x5c, 0x28, 0x5c, 0x68, 0x65, 0x74, 0x27, 0x5c, 0x5c, 0x5c, 0x5c,
            0x5c, 0x5c, 0x5c, 0x5c, 0x23, 0x5c, 0x5c, 0x5c, 0x5c, 0x5c, 0x5c, 0x5c, 0xa, 0x0, 0x0,
            0x0, 0x0, 0x0, 0x0, 0x0, 0x5c, 0x5c, 0x5d, 0x5c, 0x1, 0xb9, 0x3e, 0x3b,
        ];
        for m in parse_list(&raw).mailboxes() {
            assert!(!m.address.contains('\n'));
        }
        assert_eq!(mbs("\"a\\\nb\"@x"), one(None, "ab@x"));
    }

    #[test]
    fn angle_soup_stays_linear() {
        let soup = "<a,".repeat(50_000);
        assert_eq!(parse_list(soup.as_bytes()).mailboxes().count(), 50_000);
        let soup = "<".repeat(100_000) + ":" + &",".repeat(100_000);
        let _ = parse_list(soup.as_bytes());
    }

    #[test]
    fn multiple() {
        let got = mbs("a@b, \"B\" <b@c>,\r\n\tC <c@d>");
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], (Some("C".into()), "c@d".into()));
    }
}
