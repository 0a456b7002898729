//! ESMTP parameters of MAIL and RCPT.

use std::io::Write as _;

use crate::error::CommandError;
use crate::grammar::{self, ParamFault};
use crate::xtext::XText;

pub use crate::param_values::{Body, Notify, Ret};

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

/// A cursor over the `esmtp-param`s after a path, which runs of blanks separate.
struct Params<'a> {
    rest: &'a [u8],
}

impl<'a> Params<'a> {
    /// The parameters in `s[i..]`.
    #[inline(always)]
    fn new(s: &'a str, i: usize) -> Self {
        Params {
            rest: &s.as_bytes()[i..],
        }
    }

    /// Skips blanks; false when nothing is left.
    #[inline(always)]
    fn more(&mut self) -> bool {
        self.rest = grammar::blanks(self.rest).map_or(self.rest, |(r, _)| r);
        !self.rest.is_empty()
    }

    /// The fast path for a parameter written the usual way: when the cursor is at
    /// `prefix` (upper-case `KEYWORD=`) and `value` takes what follows up to a blank,
    /// returns that value and moves past it. Otherwise leaves the cursor alone for
    /// [`Params::next`] (case-insensitive, with precise errors); `value` must only accept
    /// what that path would turn into the same result. It saves the second pass over
    /// the value and the keyword comparisons on nearly every MAIL and RCPT.
    #[inline(always)]
    fn fast<T>(
        &mut self,
        prefix: &[u8],
        value: impl Fn(&'a [u8]) -> grammar::Res<'a, T>,
    ) -> Option<T> {
        let (rest, v) = value(self.rest.strip_prefix(prefix)?).ok()?;
        grammar::at_word_end(rest).then(|| {
            self.rest = rest;
            v
        })
    }

    /// The next parameter, checked by [`grammar::esmtp_param`]: its keyword and raw value.
    #[inline(always)]
    #[allow(clippy::type_complexity)]
    fn next(&mut self) -> Result<(&'a [u8], Option<&'a [u8]>), CommandError> {
        match grammar::esmtp_param(self.rest) {
            Ok((rest, param)) => {
                self.rest = rest;
                Ok(param)
            }
            Err(ParamFault::Keyword) => Err(CommandError::Syntax("malformed parameter keyword")),
            Err(ParamFault::Value) => Err(CommandError::Syntax("malformed parameter value")),
        }
    }
}

/// An `ORCPT=` value's parts as text of `s`.
#[inline(always)]
fn orcpt<'a>(s: &'a str, addr_type: &[u8], address: &[u8]) -> Orcpt<'a> {
    Orcpt {
        addr_type: grammar::text(s, addr_type),
        address: XText(grammar::text(s, address)),
    }
}

/// An uninterpreted parameter, as text of `s`.
#[inline(always)]
fn other<'a>(s: &'a str, kw: &'a [u8], value: Option<&'a [u8]>) -> Param<'a> {
    Param {
        keyword: grammar::text(s, kw),
        value: value.map(|v| grammar::text(s, v)),
    }
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
fn flag(slot: &mut bool, value: Option<&[u8]>, name: &'static str) -> Result<(), CommandError> {
    if *slot {
        return Err(CommandError::DuplicateParameter(name));
    }
    if value.is_some() {
        return Err(CommandError::BadParameter(name));
    }
    *slot = true;
    Ok(())
}

/// The value of a parameter that needs one, parsed whole by `p`.
#[inline(always)]
fn value_of<'i, O>(
    p: impl nom::Parser<&'i [u8], Output = O, Error = ()>,
    value: Option<&'i [u8]>,
    name: &'static str,
) -> Result<O, CommandError> {
    value
        .and_then(|v| grammar::whole(p, v))
        .ok_or(CommandError::BadParameter(name))
}

/// An xtext value, validated.
#[inline(always)]
fn xtext_value<'a>(
    s: &'a str,
    value: Option<&'a [u8]>,
    name: &'static str,
) -> Result<XText<'a>, CommandError> {
    value_of(grammar::xtext, value, name).map(|v| XText(grammar::text(s, v)))
}

impl<'a> MailParams<'a> {
    /// Parses the parameters of MAIL FROM at `s[i..]`.
    #[inline]
    pub(crate) fn parse(s: &'a str, i: usize) -> Result<MailParams<'a>, CommandError> {
        let mut p = MailParams::default();
        let mut params = Params::new(s, i);
        while params.more() {
            if let Some(size) = params.fast(b"SIZE=", grammar::decimal_u64) {
                once(&mut p.size, size, "SIZE")?;
                continue;
            }
            if let Some(body) = params.fast(b"BODY=", grammar::body_value) {
                once(&mut p.body, body, "BODY")?;
                continue;
            }
            let (kw, value) = params.next()?;
            if is(kw, "SIZE") {
                let size = value_of(grammar::decimal_u64, value, "SIZE")?;
                once(&mut p.size, size, "SIZE")?;
            } else if is(kw, "BODY") {
                let body = value_of(grammar::body_value, value, "BODY")?;
                once(&mut p.body, body, "BODY")?;
            } else if is(kw, "SMTPUTF8") {
                flag(&mut p.smtputf8, value, "SMTPUTF8")?;
            } else if is(kw, "RET") {
                let ret = value_of(grammar::ret_value, value, "RET")?;
                once(&mut p.ret, ret, "RET")?;
            } else if is(kw, "ENVID") {
                let envid = xtext_value(s, value, "ENVID")?;
                if envid.0.len() > MAX_ENVID {
                    return Err(CommandError::ParameterTooLong {
                        name: "ENVID",
                        limit: MAX_ENVID,
                    });
                }
                once(&mut p.envid, envid, "ENVID")?;
            } else if is(kw, "AUTH") {
                once(&mut p.auth, xtext_value(s, value, "AUTH")?, "AUTH")?;
            } else if is(kw, "MT-PRIORITY") {
                let prio = value_of(grammar::priority_value, value, "MT-PRIORITY")?;
                once(&mut p.mt_priority, prio, "MT-PRIORITY")?;
            } else if is(kw, "REQUIRETLS") {
                flag(&mut p.requiretls, value, "REQUIRETLS")?;
            } else {
                p.other.push(other(s, kw, value));
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

impl<'a> RcptParams<'a> {
    /// Parses the parameters of RCPT TO at `s[i..]`.
    #[inline]
    pub(crate) fn parse(s: &'a str, i: usize) -> Result<RcptParams<'a>, CommandError> {
        let mut p = RcptParams::default();
        let mut params = Params::new(s, i);
        while params.more() {
            if let Some(notify) = params.fast(b"NOTIFY=", grammar::notify_value) {
                once(&mut p.notify, notify, "NOTIFY")?;
                continue;
            }
            if let Some((addr_type, address)) = params.fast(b"ORCPT=", grammar::orcpt_value) {
                let orcpt = orcpt(s, addr_type, address);
                once(&mut p.orcpt, orcpt, "ORCPT")?;
                continue;
            }
            let (kw, value) = params.next()?;
            if is(kw, "NOTIFY") {
                let notify = value_of(grammar::notify_value, value, "NOTIFY")?;
                once(&mut p.notify, notify, "NOTIFY")?;
            } else if is(kw, "ORCPT") {
                let (addr_type, address) = value_of(grammar::orcpt_value, value, "ORCPT")?;
                once(&mut p.orcpt, orcpt(s, addr_type, address), "ORCPT")?;
            } else {
                p.other.push(other(s, kw, value));
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
        /// Upper-case keywords give exactly what the same text with mixed-case keywords
        /// gives (the keyword comparison tries the exact form first).
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
