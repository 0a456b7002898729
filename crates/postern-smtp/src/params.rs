//! ESMTP parameters of MAIL and RCPT.

use std::io::Write as _;

use crate::error::CommandError;
use crate::path::class;
use crate::xtext::{self, XText};

/// `BODY=` (RFC 6152, RFC 3030).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body {
    /// `BODY=7BIT`.
    SevenBit,
    /// `BODY=8BITMIME`.
    EightBitMime,
    /// `BODY=BINARYMIME` (needs BDAT).
    BinaryMime,
}

/// `RET=` (RFC 3461): what a failure notice returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `RET=FULL`: the whole message.
    Full,
    /// `RET=HDRS`: headers only.
    Hdrs,
}

/// `NOTIFY=` (RFC 3461).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notify {
    /// `NOTIFY=NEVER`.
    Never,
    /// Any non-empty combination of SUCCESS, FAILURE, DELAY.
    On {
        /// `SUCCESS` was listed.
        success: bool,
        /// `FAILURE` was listed.
        failure: bool,
        /// `DELAY` was listed.
        delay: bool,
    },
}

/// `ORCPT=addr-type;xtext` (RFC 3461).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Orcpt<'a> {
    /// The address type, usually `rfc822` (or `utf-8`).
    pub addr_type: &'a str,
    /// The original recipient, xtext-encoded.
    pub address: XText<'a>,
}

/// A parameter postern does not interpret, kept verbatim so an application can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Param<'a> {
    /// The keyword as written (compare case-insensitively).
    pub keyword: &'a str,
    /// The value after `=`, if any.
    pub value: Option<&'a str>,
}

/// Parameters of MAIL FROM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MailParams<'a> {
    /// `SIZE=n` (RFC 1870).
    pub size: Option<u64>,
    /// `BODY=`.
    pub body: Option<Body>,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `RET=` (RFC 3461).
    pub ret: Option<Ret>,
    /// `ENVID=` (RFC 3461), xtext.
    pub envid: Option<XText<'a>>,
    /// `AUTH=` (RFC 4954 §5), xtext; `<>` is kept as the raw text `<>`.
    pub auth: Option<XText<'a>>,
    /// `MT-PRIORITY=` (RFC 6710), -9..=9.
    pub mt_priority: Option<i8>,
    /// `REQUIRETLS` (RFC 8689).
    pub requiretls: bool,
    /// Every other parameter, in order.
    pub other: Vec<Param<'a>>,
}

/// Parameters of RCPT TO.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RcptParams<'a> {
    /// `NOTIFY=` (RFC 3461).
    pub notify: Option<Notify>,
    /// `ORCPT=` (RFC 3461).
    pub orcpt: Option<Orcpt<'a>>,
    /// Every other parameter, in order.
    pub other: Vec<Param<'a>>,
}

/// The `esmtp-param`s after a path, split at runs of spaces, each checked for syntax.
pub(crate) struct ParamIter<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> ParamIter<'a> {
    /// Iterates the parameters in `s[i..]`.
    pub(crate) fn new(s: &'a str, i: usize) -> Self {
        ParamIter { s, i }
    }

    /// Skips blanks; false when nothing is left.
    #[inline(always)]
    fn more(&mut self) -> bool {
        let b = self.s.as_bytes();
        while matches!(b.get(self.i), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i < b.len()
    }

    /// The fast path for a parameter written the usual way: when the text at the cursor
    /// starts with `prefix` (upper-case `KEYWORD=`) and `value` accepts what follows up to
    /// a blank, returns that value and moves past it. Otherwise leaves the cursor alone,
    /// and the general path (case-insensitive, with precise errors) takes the parameter;
    /// `value` must only accept what the general path would turn into the same result.
    #[inline(always)]
    fn fast<T>(
        &mut self,
        prefix: &[u8],
        value: impl FnOnce(&'a str, usize) -> Option<(T, usize)>,
    ) -> Option<T> {
        let b = self.s.as_bytes();
        if !b[self.i..].starts_with(prefix) {
            return None;
        }
        let (v, end) = value(self.s, self.i + prefix.len())?;
        if !at_blank(b, end) {
            return None;
        }
        self.i = end;
        Some(v)
    }
}

/// Fast `SIZE=` value: digits that fit in a u64.
#[inline(always)]
fn fast_size(s: &str, i: usize) -> Option<(u64, usize)> {
    let b = s.as_bytes();
    let mut j = i;
    let mut n: u64 = 0;
    while let Some(&c @ b'0'..=b'9') = b.get(j) {
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        j += 1;
    }
    (j > i).then_some((n, j))
}

/// Fast `BODY=` value, upper-case.
#[inline(always)]
fn fast_body(s: &str, i: usize) -> Option<(Body, usize)> {
    let rest = &s.as_bytes()[i..];
    if rest.starts_with(b"8BITMIME") {
        Some((Body::EightBitMime, i + 8))
    } else if rest.starts_with(b"7BIT") {
        Some((Body::SevenBit, i + 4))
    } else if rest.starts_with(b"BINARYMIME") {
        Some((Body::BinaryMime, i + 10))
    } else {
        None
    }
}

/// Fast `NOTIFY=` value, upper-case.
#[inline(always)]
fn fast_notify(s: &str, mut i: usize) -> Option<(Notify, usize)> {
    let b = s.as_bytes();
    if b[i..].starts_with(b"NEVER") {
        return Some((Notify::Never, i + 5));
    }
    let (mut success, mut failure, mut delay) = (false, false, false);
    loop {
        let rest = &b[i..];
        if rest.starts_with(b"SUCCESS") {
            (success, i) = (true, i + 7);
        } else if rest.starts_with(b"FAILURE") {
            (failure, i) = (true, i + 7);
        } else if rest.starts_with(b"DELAY") {
            (delay, i) = (true, i + 5);
        } else {
            return None;
        }
        if b.get(i) != Some(&b',') {
            let notify = Notify::On {
                success,
                failure,
                delay,
            };
            return Some((notify, i));
        }
        i += 1;
    }
}

/// Fast `ORCPT=` value: an atom, `;`, and valid xtext.
#[inline(always)]
fn fast_orcpt(s: &str, i: usize) -> Option<(Orcpt<'_>, usize)> {
    let b = s.as_bytes();
    let semi = class::scan(b, i, class::ATEXT);
    if semi == i || b.get(semi) != Some(&b';') {
        return None;
    }
    let start = semi + 1;
    let mut j = start;
    loop {
        j = class::scan(b, j, class::XCHAR);
        match b.get(j) {
            Some(b'+')
                if xtext::hex(b.get(j + 1)).is_some() && xtext::hex(b.get(j + 2)).is_some() =>
            {
                j += 3
            }
            _ => break,
        }
    }
    let orcpt = Orcpt {
        addr_type: &s[i..semi],
        address: XText(&s[start..j]),
    };
    (j > start).then_some((orcpt, j))
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Result<Param<'a>, CommandError>;

    /// One pass per parameter: the keyword's characters, then the value's, then a blank
    /// or the end must follow.
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let b = self.s.as_bytes();
        let mut i = self.i;
        while matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        if i >= b.len() {
            return None;
        }
        let start = i;
        i = class::scan(b, i, class::KEYWORD);
        let kw_end = i;
        let mut value = None;
        if b.get(i) == Some(&b'=') {
            i += 1;
            let v = i;
            i = class::scan(b, i, class::VALUE);
            value = Some(v);
        }
        self.i = i;
        // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
        if kw_end == start || b[start] == b'-' || (value.is_none() && !at_blank(b, i)) {
            return Some(Err(CommandError::Syntax("malformed parameter keyword")));
        }
        let value = match value {
            Some(v) if v < i && at_blank(b, i) => Some(&self.s[v..i]),
            Some(_) => return Some(Err(CommandError::Syntax("malformed parameter value"))),
            None => None,
        };
        Some(Ok(Param {
            keyword: &self.s[start..kw_end],
            value,
        }))
    }
}

/// True at the end of the line or at a blank.
#[inline(always)]
fn at_blank(b: &[u8], i: usize) -> bool {
    matches!(b.get(i), None | Some(b' ' | b'\t'))
}

/// Case-insensitive keyword comparison; `name` is upper-case. Clients nearly always send
/// upper case, so an exact comparison (a few word compares) goes first.
#[inline(always)]
fn is<K: AsRef<[u8]> + ?Sized>(kw: &K, name: &str) -> bool {
    let kw = kw.as_ref();
    kw == name.as_bytes() || kw.eq_ignore_ascii_case(name.as_bytes())
}

/// The longest `ENVID=` value accepted, in characters as sent: RFC 3461 §4.4 limits an
/// envelope identifier to 100 characters.
pub const MAX_ENVID: usize = 100;

/// Stores `value` in an empty slot; a repeated parameter is an error.
#[inline]
fn once<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), CommandError> {
    if slot.is_some() {
        return Err(CommandError::DuplicateParameter(name));
    }
    *slot = Some(value);
    Ok(())
}

/// Sets a flag parameter, which takes no value and may appear once.
fn flag(slot: &mut bool, value: Option<&str>, name: &'static str) -> Result<(), CommandError> {
    if *slot {
        return Err(CommandError::DuplicateParameter(name));
    }
    if value.is_some() {
        return Err(CommandError::BadParameter(name));
    }
    *slot = true;
    Ok(())
}

/// The value of a parameter that needs one.
#[inline]
fn need<'a>(value: Option<&'a str>, name: &'static str) -> Result<&'a str, CommandError> {
    value.ok_or(CommandError::BadParameter(name))
}

/// An xtext value, validated.
fn xtext_value<'a>(value: Option<&'a str>, name: &'static str) -> Result<XText<'a>, CommandError> {
    let v = need(value, name)?;
    if xtext::is_valid(v) {
        Ok(XText(v))
    } else {
        Err(CommandError::BadParameter(name))
    }
}

/// A decimal number of up to 20 digits that fits in a u64.
#[inline]
fn parse_u64(v: &str, name: &'static str) -> Result<u64, CommandError> {
    let mut n: u64 = 0;
    for c in v.bytes() {
        if !c.is_ascii_digit() {
            return Err(CommandError::BadParameter(name));
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(c - b'0')))
            .ok_or(CommandError::BadParameter(name))?;
    }
    Ok(n)
}

impl<'a> MailParams<'a> {
    /// Parses the parameters of MAIL FROM at `s[i..]`.
    #[inline]
    pub(crate) fn parse(s: &'a str, i: usize) -> Result<MailParams<'a>, CommandError> {
        let mut p = MailParams::default();
        let mut it = ParamIter::new(s, i);
        while it.more() {
            if let Some(size) = it.fast(b"SIZE=", fast_size) {
                once(&mut p.size, size, "SIZE")?;
                continue;
            }
            if let Some(body) = it.fast(b"BODY=", fast_body) {
                once(&mut p.body, body, "BODY")?;
                continue;
            }
            let Some(param) = it.next() else { break };
            let Param { keyword: kw, value } = param?;
            if is(kw, "SIZE") {
                once(
                    &mut p.size,
                    parse_u64(need(value, "SIZE")?, "SIZE")?,
                    "SIZE",
                )?;
            } else if is(kw, "BODY") {
                let v = need(value, "BODY")?;
                let body = if is(v, "8BITMIME") {
                    Body::EightBitMime
                } else if is(v, "7BIT") {
                    Body::SevenBit
                } else if is(v, "BINARYMIME") {
                    Body::BinaryMime
                } else {
                    return Err(CommandError::BadParameter("BODY"));
                };
                once(&mut p.body, body, "BODY")?;
            } else if is(kw, "SMTPUTF8") {
                flag(&mut p.smtputf8, value, "SMTPUTF8")?;
            } else if is(kw, "RET") {
                let v = need(value, "RET")?;
                let ret = if is(v, "FULL") {
                    Ret::Full
                } else if is(v, "HDRS") {
                    Ret::Hdrs
                } else {
                    return Err(CommandError::BadParameter("RET"));
                };
                once(&mut p.ret, ret, "RET")?;
            } else if is(kw, "ENVID") {
                let envid = xtext_value(value, "ENVID")?;
                if envid.0.len() > MAX_ENVID {
                    return Err(CommandError::ParameterTooLong {
                        name: "ENVID",
                        limit: MAX_ENVID,
                    });
                }
                once(&mut p.envid, envid, "ENVID")?;
            } else if is(kw, "AUTH") {
                once(&mut p.auth, xtext_value(value, "AUTH")?, "AUTH")?;
            } else if is(kw, "MT-PRIORITY") {
                let prio = parse_priority(need(value, "MT-PRIORITY")?)?;
                once(&mut p.mt_priority, prio, "MT-PRIORITY")?;
            } else if is(kw, "REQUIRETLS") {
                flag(&mut p.requiretls, value, "REQUIRETLS")?;
            } else {
                p.other.push(Param { keyword: kw, value });
            }
        }
        Ok(p)
    }

    /// Appends ` KEY=value` for each parameter, known ones first in a fixed order.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        if let Some(size) = self.size {
            let _ = write!(out, " SIZE={size}");
        }
        if let Some(body) = self.body {
            out.extend_from_slice(match body {
                Body::SevenBit => b" BODY=7BIT".as_slice(),
                Body::EightBitMime => b" BODY=8BITMIME",
                Body::BinaryMime => b" BODY=BINARYMIME",
            });
        }
        if self.smtputf8 {
            out.extend_from_slice(b" SMTPUTF8");
        }
        if let Some(ret) = self.ret {
            out.extend_from_slice(match ret {
                Ret::Full => b" RET=FULL",
                Ret::Hdrs => b" RET=HDRS",
            });
        }
        if let Some(envid) = self.envid {
            write_kv(out, "ENVID", envid.0);
        }
        if let Some(auth) = self.auth {
            write_kv(out, "AUTH", auth.0);
        }
        if let Some(prio) = self.mt_priority {
            // Out-of-range values (only possible when built by hand) are clamped so the
            // line stays valid.
            let _ = write!(out, " MT-PRIORITY={}", prio.clamp(-9, 9));
        }
        if self.requiretls {
            out.extend_from_slice(b" REQUIRETLS");
        }
        write_other(out, &self.other);
    }
}

/// `MT-PRIORITY` value: `["-"] NZDIGIT / "0"` (RFC 6710 §3).
fn parse_priority(v: &str) -> Result<i8, CommandError> {
    match v.as_bytes() {
        [d @ b'0'..=b'9'] => Ok((d - b'0') as i8),
        [b'-', d @ b'1'..=b'9'] => Ok(-((d - b'0') as i8)),
        _ => Err(CommandError::BadParameter("MT-PRIORITY")),
    }
}

impl<'a> RcptParams<'a> {
    /// Parses the parameters of RCPT TO at `s[i..]`.
    #[inline]
    pub(crate) fn parse(s: &'a str, i: usize) -> Result<RcptParams<'a>, CommandError> {
        let mut p = RcptParams::default();
        let mut it = ParamIter::new(s, i);
        while it.more() {
            if let Some(notify) = it.fast(b"NOTIFY=", fast_notify) {
                once(&mut p.notify, notify, "NOTIFY")?;
                continue;
            }
            if let Some(orcpt) = it.fast(b"ORCPT=", fast_orcpt) {
                once(&mut p.orcpt, orcpt, "ORCPT")?;
                continue;
            }
            let Some(param) = it.next() else { break };
            let Param { keyword: kw, value } = param?;
            if is(kw, "NOTIFY") {
                once(
                    &mut p.notify,
                    parse_notify(need(value, "NOTIFY")?)?,
                    "NOTIFY",
                )?;
            } else if is(kw, "ORCPT") {
                once(&mut p.orcpt, parse_orcpt(need(value, "ORCPT")?)?, "ORCPT")?;
            } else {
                p.other.push(Param { keyword: kw, value });
            }
        }
        Ok(p)
    }

    /// Appends ` KEY=value` for each parameter, known ones first.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        match self.notify {
            Some(Notify::Never) => out.extend_from_slice(b" NOTIFY=NEVER"),
            // An empty combination (only possible when built by hand) is left out rather
            // than written as an invalid `NOTIFY=`.
            Some(Notify::On {
                success,
                failure,
                delay,
            }) if success || failure || delay => {
                out.extend_from_slice(b" NOTIFY=");
                let mut sep = "";
                for (on, name) in [(success, "SUCCESS"), (failure, "FAILURE"), (delay, "DELAY")] {
                    if on {
                        out.extend_from_slice(sep.as_bytes());
                        out.extend_from_slice(name.as_bytes());
                        sep = ",";
                    }
                }
            }
            _ => {}
        }
        if let Some(orcpt) = self.orcpt {
            out.extend_from_slice(b" ORCPT=");
            out.extend_from_slice(orcpt.addr_type.as_bytes());
            out.push(b';');
            out.extend_from_slice(orcpt.address.0.as_bytes());
        }
        write_other(out, &self.other);
    }
}

/// `NOTIFY=NEVER` or a comma-separated, non-empty set of SUCCESS, FAILURE, DELAY.
#[inline]
fn parse_notify(v: &str) -> Result<Notify, CommandError> {
    if is(v, "NEVER") {
        return Ok(Notify::Never);
    }
    let (mut success, mut failure, mut delay) = (false, false, false);
    for item in v.as_bytes().split(|&c| c == b',') {
        if is(item, "SUCCESS") {
            success = true;
        } else if is(item, "FAILURE") {
            failure = true;
        } else if is(item, "DELAY") {
            delay = true;
        } else {
            // Includes NEVER in a list, which RFC 3461 forbids.
            return Err(CommandError::BadParameter("NOTIFY"));
        }
    }
    Ok(Notify::On {
        success,
        failure,
        delay,
    })
}

/// `ORCPT=addr-type;xtext`, where addr-type is an atom.
#[inline]
fn parse_orcpt(v: &str) -> Result<Orcpt<'_>, CommandError> {
    let b = v.as_bytes();
    // addr-type is an atom: the first non-atext octet must be the `;`.
    let semi = class::scan(b, 0, class::ATEXT);
    if semi == 0 || b.get(semi) != Some(&b';') || !xtext::is_valid(&v[semi + 1..]) {
        return Err(CommandError::BadParameter("ORCPT"));
    }
    let (addr_type, address) = (&v[..semi], &v[semi + 1..]);
    Ok(Orcpt {
        addr_type,
        address: XText(address),
    })
}

/// Appends ` KEY=value`.
fn write_kv(out: &mut Vec<u8>, key: &str, value: &str) {
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value.as_bytes());
}

/// Appends the uninterpreted parameters verbatim.
fn write_other(out: &mut Vec<u8>, other: &[Param<'_>]) {
    for p in other {
        out.push(b' ');
        out.extend_from_slice(p.keyword.as_bytes());
        if let Some(v) = p.value {
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Parameter text made of fragments that exercise the fast paths and their edges.
    fn fragments() -> impl Strategy<Value = String> {
        let frag = prop::sample::select(vec![
            "SIZE=",
            "BODY=",
            "NOTIFY=",
            "ORCPT=",
            "8BITMIME",
            "7BIT",
            "BINARYMIME",
            "SUCCESS",
            "FAILURE",
            "DELAY",
            "NEVER",
            ",",
            ";",
            "rfc822",
            "a+2B",
            "+4",
            "=",
            " ",
            " ",
            "12",
            "99999999999999999999",
            "x",
            "X-Y",
            "\u{e9}",
        ]);
        prop::collection::vec(frag, 0..12).prop_map(|v| format!(" {}", v.concat()))
    }

    proptest! {
        /// The upper-case fast paths give exactly what the case-insensitive general path
        /// gives for the same text with mixed-case keywords.
        #[test]
        fn fast_paths_agree_with_the_general_path(s in fragments()) {
            // A keyword follows a blank; elsewhere the same text is part of a value.
            let slow = s
                .replace(" SIZE=", " Size=")
                .replace(" BODY=", " Body=")
                .replace(" NOTIFY=", " Notify=")
                .replace(" ORCPT=", " Orcpt=");
            // The renaming also touches unknown parameters' text; compare those without case.
            fn fold(other: &[Param<'_>]) -> Vec<String> {
                other.iter().map(|p| format!("{}={:?}", p.keyword, p.value).to_ascii_lowercase()).collect()
            }
            let (a, b) = (MailParams::parse(&s, 0), MailParams::parse(&slow, 0));
            match (a, b) {
                (Ok(mut a), Ok(mut b)) => {
                    prop_assert_eq!(fold(&a.other), fold(&b.other));
                    a.other.clear();
                    b.other.clear();
                    prop_assert_eq!(a, b);
                }
                (a, b) => prop_assert_eq!(a, b),
            }
            let (a, b) = (RcptParams::parse(&s, 0), RcptParams::parse(&slow, 0));
            match (a, b) {
                (Ok(mut a), Ok(mut b)) => {
                    prop_assert_eq!(fold(&a.other), fold(&b.other));
                    a.other.clear();
                    b.other.clear();
                    prop_assert_eq!(a, b);
                }
                (a, b) => prop_assert_eq!(a, b),
            }
        }
    }

    fn mail(s: &str) -> Result<MailParams<'_>, CommandError> {
        MailParams::parse(s, 0)
    }

    fn rcpt(s: &str) -> Result<RcptParams<'_>, CommandError> {
        RcptParams::parse(s, 0)
    }

    #[test]
    fn mail_params_all_known() {
        let p = mail(
            " size=1000 Body=8bitmime SMTPUTF8 RET=hdrs ENVID=QQ+2B1 AUTH=<> MT-PRIORITY=-3 REQUIRETLS",
        )
        .unwrap();
        assert_eq!(p.size, Some(1000));
        assert_eq!(p.body, Some(Body::EightBitMime));
        assert!(p.smtputf8 && p.requiretls);
        assert_eq!(p.ret, Some(Ret::Hdrs));
        assert_eq!(p.envid, Some(XText("QQ+2B1")));
        assert_eq!(p.auth, Some(XText("<>")));
        assert_eq!(p.mt_priority, Some(-3));
        assert!(p.other.is_empty());
        let mut out = Vec::new();
        p.write_to(&mut out);
        assert_eq!(
            out,
            b" SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2B1 AUTH=<> MT-PRIORITY=-3 REQUIRETLS"
        );
    }

    #[test]
    fn body_values() {
        assert_eq!(mail(" BODY=7BIT").unwrap().body, Some(Body::SevenBit));
        assert_eq!(
            mail(" BODY=BINARYMIME").unwrap().body,
            Some(Body::BinaryMime)
        );
        assert_eq!(mail(" BODY=8BIT"), Err(CommandError::BadParameter("BODY")));
    }

    #[test]
    fn unknown_params_are_kept_in_order() {
        let p = mail(" X-A=1 SIZE=5 XYZ X-A=2").unwrap();
        assert_eq!(p.size, Some(5));
        assert_eq!(
            p.other,
            vec![
                Param {
                    keyword: "X-A",
                    value: Some("1")
                },
                Param {
                    keyword: "XYZ",
                    value: None
                },
                Param {
                    keyword: "X-A",
                    value: Some("2")
                },
            ]
        );
        let p = mail(" HOLDUNTIL=a=b").unwrap();
        assert_eq!(p.other[0].value, Some("a=b"));
    }

    #[test]
    fn bad_mail_params() {
        let long_envid = format!(" ENVID={}", "e".repeat(MAX_ENVID + 1));
        let cases = [
            (" SIZE=1 SIZE=2", CommandError::DuplicateParameter("SIZE")),
            (" SIZE", CommandError::BadParameter("SIZE")),
            (" SIZE=12a", CommandError::BadParameter("SIZE")),
            (
                " SIZE=99999999999999999999",
                CommandError::BadParameter("SIZE"),
            ),
            (" SMTPUTF8=yes", CommandError::BadParameter("SMTPUTF8")),
            (
                " SMTPUTF8 smtputf8",
                CommandError::DuplicateParameter("SMTPUTF8"),
            ),
            (
                " REQUIRETLS REQUIRETLS",
                CommandError::DuplicateParameter("REQUIRETLS"),
            ),
            (" RET=ALL", CommandError::BadParameter("RET")),
            (" ENVID=a+4", CommandError::BadParameter("ENVID")),
            (" ENVID=a+4G", CommandError::BadParameter("ENVID")),
            (
                long_envid.as_str(),
                CommandError::ParameterTooLong {
                    name: "ENVID",
                    limit: MAX_ENVID,
                },
            ),
            (
                " ENVID=a ENVID=b",
                CommandError::DuplicateParameter("ENVID"),
            ),
            (" SIZE=1 size=1", CommandError::DuplicateParameter("SIZE")),
            (" AUTH=a=b", CommandError::BadParameter("AUTH")),
            (" MT-PRIORITY=10", CommandError::BadParameter("MT-PRIORITY")),
            (" MT-PRIORITY=-0", CommandError::BadParameter("MT-PRIORITY")),
            (" MT-PRIORITY=+1", CommandError::BadParameter("MT-PRIORITY")),
            (
                " BODY=7BIT body=7bit",
                CommandError::DuplicateParameter("BODY"),
            ),
            (" =1", CommandError::Syntax("malformed parameter keyword")),
            (" -X=1", CommandError::Syntax("malformed parameter keyword")),
            (
                " X_Y=1",
                CommandError::Syntax("malformed parameter keyword"),
            ),
            (" X=", CommandError::Syntax("malformed parameter value")),
            (
                " X=a\u{1}",
                CommandError::Syntax("malformed parameter value"),
            ),
        ];
        for (s, e) in cases {
            assert_eq!(mail(s), Err(e), "{s}");
        }
        assert_eq!(mail(" MT-PRIORITY=9").unwrap().mt_priority, Some(9));
        assert_eq!(mail(" MT-PRIORITY=0").unwrap().mt_priority, Some(0));
        assert_eq!(
            mail(" SIZE=18446744073709551615").unwrap().size,
            Some(u64::MAX)
        );
    }

    #[test]
    fn notify() {
        assert_eq!(rcpt(" NOTIFY=never").unwrap().notify, Some(Notify::Never));
        assert_eq!(
            rcpt(" NOTIFY=DELAY,success").unwrap().notify,
            Some(Notify::On {
                success: true,
                failure: false,
                delay: true
            })
        );
        for bad in [
            " NOTIFY=NEVER,DELAY",
            " NOTIFY=SUCCESS,",
            " NOTIFY=SOMETIMES",
            " NOTIFY",
        ] {
            assert_eq!(
                rcpt(bad),
                Err(CommandError::BadParameter("NOTIFY")),
                "{bad}"
            );
        }
        assert_eq!(
            rcpt(" NOTIFY=NEVER NOTIFY=NEVER"),
            Err(CommandError::DuplicateParameter("NOTIFY"))
        );
    }

    #[test]
    fn orcpt() {
        let p = rcpt(" ORCPT=rfc822;a+2Bb@example.com X-Y").unwrap();
        let o = p.orcpt.unwrap();
        assert_eq!(o.addr_type, "rfc822");
        assert_eq!(&*o.address.decode(), b"a+b@example.com");
        assert_eq!(p.other.len(), 1);
        for bad in [
            " ORCPT=rfc822",
            " ORCPT=;a@b",
            " ORCPT=rfc822;",
            " ORCPT=rfc822;a+zz",
            " ORCPT=r(x;a",
        ] {
            assert_eq!(rcpt(bad), Err(CommandError::BadParameter("ORCPT")), "{bad}");
        }
        let mut out = Vec::new();
        p.write_to(&mut out);
        assert_eq!(out, b" ORCPT=rfc822;a+2Bb@example.com X-Y");
    }

    #[test]
    fn writes_notify_combinations() {
        let p = RcptParams {
            notify: Some(Notify::On {
                success: true,
                failure: true,
                delay: false,
            }),
            ..Default::default()
        };
        let mut out = Vec::new();
        p.write_to(&mut out);
        assert_eq!(out, b" NOTIFY=SUCCESS,FAILURE");
        let p = RcptParams {
            notify: Some(Notify::On {
                success: false,
                failure: false,
                delay: false,
            }),
            ..Default::default()
        };
        out.clear();
        p.write_to(&mut out);
        assert_eq!(out, b"");
    }
}
