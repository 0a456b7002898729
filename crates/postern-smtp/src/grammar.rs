//! The ESMTP command grammar's tokens as nom parsers over a command line's octets: verbs
//! and their arguments, `esmtp-param`s (RFC 5321 §4.1.2) and the values of the parameters
//! postern interprets (RFC 1870, 3030, 3461, 4954, 6152, 6710).
//!
//! The parsers work on `&[u8]` and hand back sub-slices of the line (zero-copy); callers
//! turn a token back into `&str` with [`text`]. Every character class treats all octets
//! beyond ASCII alike, so a token never ends inside a UTF-8 sequence and [`text`] never
//! splits a character. Errors carry no detail (`()`): each caller knows which SMTP error a
//! failed token means, and building nom's error records would only cost time.

use nom::branch::alt;
use nom::bytes::complete::{take_while_m_n, take_while1};
use nom::character::complete::{char, one_of};
use nom::combinator::{eof, map, opt, recognize, value};
use nom::sequence::{preceded, terminated};
use nom::{IResult, Parser};

use crate::class;
use crate::line_text;
use crate::param_values::{Body, Notify, Ret};

/// The result of every parser here: the rest of the input and the token, or `()`.
pub(crate) type Res<'a, O> = IResult<&'a [u8], O, ()>;

/// The `&str` of `s` that `part` (a sub-slice of `s`'s octets) covers.
#[inline(always)]
pub(crate) fn text<'a>(s: &'a str, part: &[u8]) -> &'a str {
    let start = part.as_ptr() as usize - s.as_ptr() as usize;
    line_text::sub(s, start, start + part.len())
}

/// A space or tab: what separates a command's words.
#[inline(always)]
fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// True when one of the four octets is a space or a tab (the exact zero-octet test on
/// the word xor each blank).
#[inline(always)]
fn has_blank(four: [u8; 4]) -> bool {
    const LOW7: u32 = 0x7f7f_7f7f;
    let w = u32::from_le_bytes(four);
    let zero_in = |x: u32| !(((x & LOW7) + LOW7) | x | LOW7) != 0;
    zero_in(w ^ 0x2020_2020) || zero_in(w ^ 0x0909_0909)
}

/// Zero or more blanks.
#[inline(always)]
pub(crate) fn blanks(i: &[u8]) -> Res<'_, &[u8]> {
    let n = i.iter().take_while(|&&c| is_blank(c)).count();
    Ok((&i[n..], &i[..n]))
}

/// The end of a word: a blank or the end of the line (not consumed).
#[inline(always)]
pub(crate) fn at_word_end(i: &[u8]) -> bool {
    i.first().is_none_or(|&c| is_blank(c))
}

/// A run of octets of character class `c` (see [`class`]), possibly empty.
#[inline(always)]
fn run(c: u8) -> impl Fn(&[u8]) -> Res<'_, &[u8]> {
    move |i: &[u8]| {
        let n = class::scan(i, 0, c);
        Ok((&i[n..], &i[..n]))
    }
}

/// A non-empty run of octets of character class `c`.
#[inline(always)]
fn run1(c: u8) -> impl Fn(&[u8]) -> Res<'_, &[u8]> {
    move |i: &[u8]| match class::scan(i, 0, c) {
        0 => Err(nom::Err::Error(())),
        n => Ok((&i[n..], &i[..n])),
    }
}

/// `verb [blanks]`: the first word of the line and the start of its argument.
#[inline(always)]
pub(crate) fn verb(i: &[u8]) -> Res<'_, &[u8]> {
    // Nearly every line starts with a four-letter verb and one space: a word test for
    // blanks in the first four octets replaces the octet loop (~35 instructions a line).
    if let (Some(four), Some(b' ')) = (i.first_chunk::<4>(), i.get(4)) {
        if !has_blank(*four) {
            return Ok((blanks(&i[5..])?.0, &i[..4]));
        }
    }
    let n = i.iter().position(|&c| is_blank(c)).unwrap_or(i.len());
    let (verb, rest) = i.split_at(n);
    Ok((blanks(rest)?.0, verb))
}

/// `name` (upper-case ASCII) in any case: nom's `tag_no_case` for ASCII words, trying
/// the exact form first since clients nearly always send upper case.
#[inline(always)]
fn word(name: &'static str) -> impl Fn(&[u8]) -> Res<'_, &[u8]> {
    move |i: &[u8]| match i.get(..name.len()) {
        Some(w) if w == name.as_bytes() || w.eq_ignore_ascii_case(name.as_bytes()) => {
            Ok((&i[name.len()..], w))
        }
        _ => Err(nom::Err::Error(())),
    }
}

/// `FROM:` / `TO:` in any case, and the blanks real clients put after it.
#[inline(always)]
pub(crate) fn path_prefix<'i>(prefix: &'static str, i: &'i [u8]) -> Res<'i, &'i [u8]> {
    let (rest, w) = word(prefix)(i)?;
    Ok((blanks(rest)?.0, w))
}

/// One given octet (nom's `char`, without the detour through `char`).
#[inline(always)]
fn byte(c: u8) -> impl Fn(&[u8]) -> Res<'_, u8> {
    move |i: &[u8]| match i.split_first() {
        Some((&b, rest)) if b == c => Ok((rest, b)),
        _ => Err(nom::Err::Error(())),
    }
}

/// `esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")`.
#[inline(always)]
fn esmtp_keyword(i: &[u8]) -> Res<'_, &[u8]> {
    match run1(class::KEYWORD)(i)? {
        (_, [b'-', ..]) => Err(nom::Err::Error(())),
        ok => Ok(ok),
    }
}

/// Which part of a parameter is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamFault {
    /// The keyword, or what follows a parameter without a value.
    Keyword,
    /// The value after `=`: empty, or followed by something other than a blank.
    Value,
}

/// One `esmtp-param = esmtp-keyword ["=" esmtp-value]`, which must end at a blank or the
/// end of the line. The value takes every printable octet (an `=` too: `HOLDUNTIL=a=b`
/// is kept whole) and, under SMTPUTF8, UTF-8.
///
/// The hot path of MAIL and RCPT: its steps are chained by hand rather than with nom's
/// tuple and `opt` combinators, which measured ~40% more instructions per command.
#[inline(always)]
#[allow(clippy::type_complexity)]
pub(crate) fn esmtp_param(i: &[u8]) -> Result<(&[u8], (&[u8], Option<&[u8]>)), ParamFault> {
    let (rest, kw) = esmtp_keyword(i).map_err(|_| ParamFault::Keyword)?;
    let (rest, value) = match byte(b'=')(rest) {
        Ok((after, _)) => match run1(class::VALUE)(after) {
            Ok((rest, v)) => (rest, Some(v)),
            Err(_) => return Err(ParamFault::Value),
        },
        Err(_) => (rest, None),
    };
    if at_word_end(rest) {
        Ok((rest, (kw, value)))
    } else if value.is_some() {
        Err(ParamFault::Value)
    } else {
        Err(ParamFault::Keyword)
    }
}

/// Runs `p` on the whole of `v`: anything left over is a failure.
#[inline(always)]
pub(crate) fn whole<'i, O>(
    mut p: impl Parser<&'i [u8], Output = O, Error = ()>,
    v: &'i [u8],
) -> Option<O> {
    match p.parse(v) {
        Ok(([], o)) => Some(o),
        _ => None,
    }
}

/// A decimal number that fits in a u64 (`SIZE=`, `BDAT size`).
#[inline(always)]
pub(crate) fn decimal_u64(i: &[u8]) -> Res<'_, u64> {
    let (rest, digits) = take_while1(|c: u8| c.is_ascii_digit()).parse(i)?;
    let n = digits.iter().try_fold(0u64, |n, &c| {
        n.checked_mul(10)?.checked_add(u64::from(c - b'0'))
    });
    n.map(|n| (rest, n)).ok_or(nom::Err::Error(()))
}

/// `BODY=` value: `7BIT`, `8BITMIME` or `BINARYMIME`, any case.
#[inline(always)]
pub(crate) fn body_value(i: &[u8]) -> Res<'_, Body> {
    // nom's `alt` of the three, unrolled: this runs on nearly every MAIL.
    for (name, body) in [
        ("8BITMIME", Body::EightBitMime),
        ("7BIT", Body::SevenBit),
        ("BINARYMIME", Body::BinaryMime),
    ] {
        if let Ok((rest, _)) = word(name)(i) {
            return Ok((rest, body));
        }
    }
    Err(nom::Err::Error(()))
}

/// `RET=` value: `FULL` or `HDRS`, any case.
#[inline(always)]
pub(crate) fn ret_value(i: &[u8]) -> Res<'_, Ret> {
    alt((
        value(Ret::Full, word("FULL")),
        value(Ret::Hdrs, word("HDRS")),
    ))
    .parse(i)
}

/// `MT-PRIORITY=` value: `["-"] NZDIGIT / "0"` (RFC 6710 §3), -9..=9.
pub(crate) fn priority_value(i: &[u8]) -> Res<'_, i8> {
    let digit = |c: char| c as i8 - b'0' as i8;
    alt((
        map(preceded(char('-'), one_of("123456789")), move |c| -digit(c)),
        map(one_of("0123456789"), digit),
    ))
    .parse(i)
}

/// One `NOTIFY=` list item as a bit: SUCCESS 1, FAILURE 2, DELAY 4.
#[inline(always)]
fn notify_item(i: &[u8]) -> Res<'_, u8> {
    for (name, bit) in [("SUCCESS", 1), ("FAILURE", 2), ("DELAY", 4)] {
        if let Ok((rest, _)) = word(name)(i) {
            return Ok((rest, bit));
        }
    }
    Err(nom::Err::Error(()))
}

/// `NOTIFY=` value: `NEVER`, or a comma-separated non-empty list of SUCCESS, FAILURE and
/// DELAY (NEVER in a list is refused, as RFC 3461 §4.1 says).
#[inline(always)]
pub(crate) fn notify_value(i: &[u8]) -> Res<'_, Notify> {
    // The caller checks what follows (`NEVER,DELAY` is refused there).
    if let Ok((rest, _)) = word("NEVER")(i) {
        return Ok((rest, Notify::Never));
    }
    let (mut rest, mut bits) = notify_item(i)?;
    while let Ok((after, _)) = byte(b',')(rest) {
        let (after, bit) = notify_item(after)?;
        (rest, bits) = (after, bits | bit);
    }
    let notify = Notify::On {
        success: bits & 1 != 0,
        failure: bits & 2 != 0,
        delay: bits & 4 != 0,
    };
    Ok((rest, notify))
}

/// `xtext` (RFC 3461 §4): xchars and `+XX` escapes (hex digits in either case), at
/// least one octet.
#[inline(always)]
pub(crate) fn xtext(i: &[u8]) -> Res<'_, &[u8]> {
    // nom's `escaped(run1(XCHAR), '+', hex2)`, chained by hand: fewer instructions on
    // every ORCPT.
    let hex2 = |i| take_while_m_n(2, 2, |c: u8| c.is_ascii_hexdigit()).parse(i);
    let mut rest = i;
    loop {
        rest = run(class::XCHAR)(rest)?.0;
        match byte(b'+')(rest) {
            Ok((after, _)) => rest = hex2(after)?.0,
            Err(_) => break,
        }
    }
    match i.len() - rest.len() {
        0 => Err(nom::Err::Error(())),
        n => Ok((rest, &i[..n])),
    }
}

/// `ORCPT=` value: `addr-type ";" xtext`, where addr-type is an atom.
#[inline(always)]
pub(crate) fn orcpt_value(i: &[u8]) -> Res<'_, (&[u8], &[u8])> {
    let (rest, addr_type) = run1(class::ATEXT)(i)?;
    let (rest, _) = byte(b';')(rest)?;
    let (rest, address) = xtext(rest)?;
    Ok((rest, (addr_type, address)))
}

/// `BDAT size [LAST]` after the verb (RFC 3030 §3).
pub(crate) fn bdat_args(i: &[u8]) -> Res<'_, (u64, bool)> {
    let last = preceded(take_while1(is_blank), word("LAST"));
    terminated((decimal_u64, map(opt(last), |l| l.is_some())), eof).parse(i)
}

/// `sasl-mech = 1*20mech-char` (RFC 4954 §4), lower case tolerated; a blank or the end
/// must follow.
pub(crate) fn sasl_mech(i: &[u8]) -> Res<'_, &[u8]> {
    let mech_char = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    let (rest, mech) = take_while_m_n(1, 20, mech_char).parse(i)?;
    if !at_word_end(rest) {
        return Err(nom::Err::Error(()));
    }
    Ok((rest, mech))
}

/// The initial response of AUTH: `=` (empty) or one base64 word with at most two `=`
/// of padding. `None` inside the result stands for `=`.
pub(crate) fn auth_initial(i: &[u8]) -> Res<'_, Option<&[u8]>> {
    let b64 = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    let word = recognize((take_while1(b64), take_while_m_n(0, 2, |c| c == b'=')));
    terminated(alt((map(word, Some), value(None, char('=')))), eof).parse(i)
}

/// `ETRN #queue`: a `#` and printable octets.
pub(crate) fn etrn_queue(i: &[u8]) -> Res<'_, &[u8]> {
    recognize((char('#'), run1(class::VALUE), eof)).parse(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_split_into_keyword_and_value() {
        assert_eq!(
            esmtp_param(b"SIZE=10 X"),
            Ok((&b" X"[..], (&b"SIZE"[..], Some(&b"10"[..]))))
        );
        assert_eq!(esmtp_param(b"A-1"), Ok((&b""[..], (&b"A-1"[..], None))));
        assert_eq!(esmtp_param(b"-A"), Err(ParamFault::Keyword));
        assert_eq!(esmtp_param(b"A_B"), Err(ParamFault::Keyword));
        assert_eq!(esmtp_param(b"A= "), Err(ParamFault::Value));
        assert_eq!(esmtp_param(b"A=b\x01"), Err(ParamFault::Value));
    }

    /// The verb's fast path (four octets and a space) splits every line as the octet
    /// loop does, blanks and high octets anywhere included.
    #[test]
    fn verb_fast_path_matches_the_loop() {
        fn slow(i: &[u8]) -> (&[u8], &[u8]) {
            let n = i.iter().position(|&c| is_blank(c)).unwrap_or(i.len());
            let rest = &i[n..];
            let m = rest.iter().take_while(|&&c| is_blank(c)).count();
            (&rest[m..], &i[..n])
        }
        let octets = [b'A', b'z', b' ', b'\t', 0x80, 0xa0, 0x89, 0x00, b'.'];
        for &a in &octets {
            for &b in &octets {
                for &c in &octets {
                    for tail in [&b" x"[..], b"  x", b" ", b"\tx", b"x", b""] {
                        let mut line = vec![a, b, c, b'D'];
                        line.extend_from_slice(tail);
                        assert_eq!(verb(&line), Ok(slow(&line)), "{line:?}");
                        line.swap(0, 3);
                        assert_eq!(verb(&line), Ok(slow(&line)), "{line:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn values() {
        assert_eq!(whole(decimal_u64, b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(whole(decimal_u64, b"18446744073709551616"), None);
        assert_eq!(whole(priority_value, b"-9"), Some(-9));
        assert_eq!(whole(priority_value, b"-0"), None);
        assert_eq!(whole(xtext, b"a+2Bb"), Some(&b"a+2Bb"[..]));
        assert_eq!(whole(xtext, b"a+2"), None);
        assert_eq!(whole(auth_initial, b"="), Some(None));
        assert_eq!(
            whole(auth_initial, b"dGVzdA=="),
            Some(Some(&b"dGVzdA=="[..]))
        );
        assert_eq!(whole(auth_initial, b"dGVzdA==="), None);
        assert_eq!(whole(bdat_args, b"12 last"), Some((12, true)));
        assert_eq!(whole(bdat_args, b"12 LASTX"), None);
    }
}
