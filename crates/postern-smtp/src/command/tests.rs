//! Tests of command parsing and formatting.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;
use crate::params::{Body, Notify, Orcpt, Param, Ret};
use crate::path::Mailbox;
use crate::xtext::XText;

fn parse(line: &str) -> Result<Command<'_>, CommandError> {
    Command::parse(line.as_bytes(), &Limits::default())
}

fn ok(line: &str) -> Command<'_> {
    parse(line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

fn wire(cmd: &Command<'_>) -> String {
    String::from_utf8(cmd.to_vec()).expect("UTF-8")
}

fn mb<'a>(local_part: &'a str, domain: &'a str) -> Mailbox<'a> {
    Mailbox {
        local_part,
        domain: Domain::Name(domain),
    }
}

/// Limits so wide that only syntax matters (for re-parsing canonical output).
fn wide() -> Limits {
    Limits {
        max_command_line: usize::MAX,
        max_local_part: usize::MAX,
        max_domain: usize::MAX,
        max_path: usize::MAX,
        ..Limits::default()
    }
}

#[test]
fn helo_and_ehlo() {
    assert_eq!(
        ok("HELO mail.example.com"),
        Command::Helo {
            domain: Domain::Name("mail.example.com")
        }
    );
    assert_eq!(
        ok("ehlo [192.0.2.1]"),
        Command::Ehlo {
            domain: Domain::Ipv4(Ipv4Addr::new(192, 0, 2, 1))
        }
    );
    assert_eq!(
        ok("EhLo [IPv6:::1]  "),
        Command::Ehlo {
            domain: Domain::Ipv6(Ipv6Addr::LOCALHOST)
        }
    );
    assert_eq!(ok("EHLO my_pc").verb(), "EHLO");
    for bad in [
        "EHLO",
        "EHLO  ",
        "EHLO a b",
        "EHLO a..b",
        "EHLO [1.2.3]",
        "HELO <a>",
    ] {
        assert!(matches!(parse(bad), Err(CommandError::Syntax(_))), "{bad}");
    }
    assert_eq!(
        parse(&format!("EHLO {}", "a".repeat(256))),
        Err(CommandError::AddressTooLong {
            what: "domain",
            limit: 255
        })
    );
    assert_eq!(wire(&ok("ehlo [IPv6:0:0::1]")), "EHLO [IPv6:::1]\r\n");
}

#[test]
fn mail() {
    assert_eq!(
        ok("MAIL FROM:<a@b.example>"),
        Command::Mail {
            from: ReversePath::Mailbox(mb("a", "b.example")),
            params: MailParams::default()
        }
    );
    // What real clients send: lower case, a space after the colon, trailing blanks.
    assert_eq!(ok("mail from: <a@b> \t"), ok("MAIL FROM:<a@b>"));
    assert_eq!(
        ok("MAIL FROM:<>"),
        Command::Mail {
            from: ReversePath::Null,
            params: MailParams::default()
        }
    );
    let Command::Mail { params, .. } = ok("MAIL FROM:<a@b>  SIZE=10\tBODY=8BITMIME X-Z=1") else {
        panic!()
    };
    assert_eq!(params.size, Some(10));
    assert_eq!(params.body, Some(Body::EightBitMime));
    assert_eq!(
        params.other,
        vec![Param {
            keyword: "X-Z",
            value: Some("1")
        }]
    );
    assert_eq!(
        wire(&ok("mail from:<a@b> body=8bitmime size=10")),
        "MAIL FROM:<a@b> SIZE=10 BODY=8BITMIME\r\n"
    );
    // The source route is accepted and dropped.
    assert_eq!(
        wire(&ok("MAIL FROM:<@relay.example:a@b>")),
        "MAIL FROM:<a@b>\r\n"
    );
}

#[test]
fn mail_errors() {
    let cases: &[(&str, CommandError)] = &[
        ("MAIL", CommandError::Syntax("expected FROM:<reverse-path>")),
        (
            "MAIL TO:<a@b>",
            CommandError::Syntax("expected FROM:<reverse-path>"),
        ),
        (
            "MAIL FROM<a@b>",
            CommandError::Syntax("expected FROM:<reverse-path>"),
        ),
        (
            "MAIL FROM:a@b",
            CommandError::BadAddress("sender path must be enclosed in <>"),
        ),
        (
            "MAIL FROM:<Postmaster>",
            CommandError::BadAddress("sender address has no @domain"),
        ),
        (
            "MAIL FROM:<a@b>SIZE=1",
            CommandError::Syntax("expected a space after the path"),
        ),
        ("MAIL FROM:<a@b> SIZE=x", CommandError::BadParameter("SIZE")),
        ("MAIL FROM:<ü@b>", CommandError::Utf8NotAllowed),
        ("MAIL FROM:<a@bü> SIZE=1", CommandError::Utf8NotAllowed),
    ];
    for (line, err) in cases {
        assert_eq!(parse(line).as_ref(), Err(err), "{line}");
    }
    let r = parse("MAIL FROM:<a>").unwrap_err().reply();
    assert_eq!(r.enhanced.unwrap().to_string(), "5.1.7");
    let r = parse("MAIL FROM:<ü@b>").unwrap_err().reply();
    assert_eq!(
        (r.code, r.enhanced.unwrap().to_string()),
        (553, "5.6.7".into())
    );
}

#[test]
fn mail_utf8_with_smtputf8() {
    let Command::Mail { from, params } = ok("MAIL FROM:<用户@例子.广告> SMTPUTF8") else {
        panic!()
    };
    assert!(params.smtputf8);
    assert_eq!(from, ReversePath::Mailbox(mb("用户", "例子.广告")));
}

#[test]
fn rcpt() {
    assert_eq!(
        ok("RCPT TO:<Postmaster>"),
        Command::Rcpt {
            to: ForwardPath::Postmaster,
            params: RcptParams::default()
        }
    );
    assert_eq!(ok("rcpt to: <postmaster>"), ok("RCPT TO:<Postmaster>"));
    assert_eq!(
        ok("RCPT TO:<postmaster@x.example>"),
        Command::Rcpt {
            to: ForwardPath::Mailbox(mb("postmaster", "x.example")),
            params: RcptParams::default()
        }
    );
    // RCPT takes UTF-8 paths; the session decides.
    assert_eq!(
        ok("RCPT TO:<ü@b>"),
        Command::Rcpt {
            to: ForwardPath::Mailbox(mb("ü", "b")),
            params: RcptParams::default()
        }
    );
    let Command::Rcpt { params, .. } =
        ok("RCPT TO:<\"a b\"@[IPv6:2001:db8::1]> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+2By@z")
    else {
        panic!()
    };
    assert_eq!(
        params.notify,
        Some(Notify::On {
            success: true,
            failure: true,
            delay: false
        })
    );
    assert_eq!(
        params.orcpt,
        Some(Orcpt {
            addr_type: "rfc822",
            address: XText("x+2By@z")
        })
    );
    assert_eq!(
        wire(&ok("rcpt to:<\"a b\"@c> orcpt=rfc822;a notify=never")),
        "RCPT TO:<\"a b\"@c> NOTIFY=NEVER ORCPT=rfc822;a\r\n"
    );
    for (line, err) in [
        (
            "RCPT TO:<>",
            CommandError::BadAddress("recipient path may not be null"),
        ),
        (
            "RCPT FROM:<a@b>",
            CommandError::Syntax("expected TO:<forward-path>"),
        ),
        (
            "RCPT TO:<a@b> NOTIFY=NEVER,DELAY",
            CommandError::BadParameter("NOTIFY"),
        ),
        (
            "RCPT TO:<a@b> ORCPT=rfc822;a+4",
            CommandError::BadParameter("ORCPT"),
        ),
    ] {
        assert_eq!(parse(line), Err(err), "{line}");
    }
    assert_eq!(
        parse("RCPT TO:<a>")
            .unwrap_err()
            .reply()
            .enhanced
            .unwrap()
            .to_string(),
        "5.1.3"
    );
}

#[test]
fn commands_without_arguments() {
    assert_eq!(ok("DATA"), Command::Data);
    assert_eq!(ok("rset "), Command::Rset);
    assert_eq!(ok("Quit"), Command::Quit);
    assert_eq!(ok("STARTTLS"), Command::StartTls);
    assert_eq!(ok("starttls"), Command::StartTls);
    for bad in ["DATA x", "RSET now", "QUIT bye", "STARTTLS x"] {
        assert_eq!(
            parse(bad),
            Err(CommandError::Syntax("this command takes no argument")),
            "{bad}"
        );
    }
    for c in [
        Command::Data,
        Command::Rset,
        Command::Quit,
        Command::StartTls,
    ] {
        assert_eq!(wire(&c), format!("{}\r\n", c.verb()));
    }
}

#[test]
fn bdat() {
    assert_eq!(
        ok("BDAT 1000"),
        Command::Bdat {
            size: 1000,
            last: false
        }
    );
    assert_eq!(
        ok("bdat 0 last"),
        Command::Bdat {
            size: 0,
            last: true
        }
    );
    assert_eq!(
        ok("BDAT 18446744073709551615 LAST"),
        Command::Bdat {
            size: u64::MAX,
            last: true
        }
    );
    assert_eq!(wire(&ok("bdat 007  last")), "BDAT 7 LAST\r\n");
    for bad in [
        "BDAT",
        "BDAT x",
        "BDAT -1",
        "BDAT 10x",
        "BDAT 10 FIRST",
        "BDAT 10 LAST x",
        "BDAT 18446744073709551616",
    ] {
        assert_eq!(
            parse(bad),
            Err(CommandError::Syntax("expected BDAT size [LAST]")),
            "{bad}"
        );
    }
}

#[test]
fn vrfy_expn_help_noop() {
    assert_eq!(ok("VRFY  Smith "), Command::Vrfy { arg: "Smith" });
    assert_eq!(ok("EXPN list one"), Command::Expn { arg: "list one" });
    assert_eq!(ok("HELP"), Command::Help { topic: None });
    assert_eq!(
        ok("help MAIL"),
        Command::Help {
            topic: Some("MAIL")
        }
    );
    assert_eq!(ok("NOOP"), Command::Noop { arg: None });
    assert_eq!(
        ok("NOOP  hello there"),
        Command::Noop {
            arg: Some("hello there")
        }
    );
    assert!(matches!(parse("VRFY"), Err(CommandError::Syntax(_))));
    assert!(matches!(parse("EXPN  "), Err(CommandError::Syntax(_))));
    assert_eq!(wire(&ok("noop   x")), "NOOP x\r\n");
    assert_eq!(wire(&ok("help")), "HELP\r\n");
}

#[test]
fn auth() {
    assert_eq!(
        ok("AUTH PLAIN"),
        Command::Auth {
            mechanism: "PLAIN",
            initial: None
        }
    );
    assert_eq!(
        ok("auth plain ="),
        Command::Auth {
            mechanism: "plain",
            initial: Some(AuthInitial::Empty)
        }
    );
    assert_eq!(
        ok("AUTH PLAIN AGFAYg=="),
        Command::Auth {
            mechanism: "PLAIN",
            initial: Some(AuthInitial::Base64("AGFAYg=="))
        }
    );
    assert_eq!(wire(&ok("AUTH XOAUTH2 =")), "AUTH XOAUTH2 =\r\n");
    for bad in [
        "AUTH",
        "AUTH PL@IN",
        "AUTH ABCDEFGHIJKLMNOPQRSTU",
        "AUTH PLAIN a b",
        "AUTH PLAIN ab===",
        "AUTH PLAIN ==",
        "AUTH PLAIN a=b",
        "AUTH PLAIN a*",
    ] {
        assert!(matches!(parse(bad), Err(CommandError::Syntax(_))), "{bad}");
    }
}

#[test]
fn auth_line_may_exceed_the_command_limit() {
    let resp = "A".repeat(1000);
    let line = format!("AUTH PLAIN {resp}");
    assert!(matches!(ok(&line), Command::Auth { .. }));
    let line = format!("AUTH PLAIN {}", "A".repeat(12288));
    assert_eq!(parse(&line), Err(CommandError::LineTooLong { limit: 512 }));
}

#[test]
fn etrn() {
    assert_eq!(
        ok("ETRN example.com"),
        Command::Etrn {
            node: "example.com"
        }
    );
    assert_eq!(
        ok("etrn @example.com"),
        Command::Etrn {
            node: "@example.com"
        }
    );
    assert_eq!(ok("ETRN #queue1"), Command::Etrn { node: "#queue1" });
    assert_eq!(wire(&ok("etrn  #q ")), "ETRN #q\r\n");
    for bad in ["ETRN", "ETRN #", "ETRN @", "ETRN a b", "ETRN a..b"] {
        assert!(matches!(parse(bad), Err(CommandError::Syntax(_))), "{bad}");
    }
}

#[test]
fn unknown_and_malformed_verbs() {
    for bad in [
        "",
        "   ",
        "FROB",
        "MAILX FROM:<a@b>",
        " MAIL FROM:<a@b>",
        "MAIL:",
        "STARTTLSX",
        "M\u{e9}IL",
    ] {
        assert_eq!(parse(bad), Err(CommandError::UnknownCommand), "{bad:?}");
    }
    // The 0xDF mask must not make non-letters match.
    assert_eq!(
        Command::parse(b"\xcdAIL", &Limits::default()),
        Err(CommandError::InvalidCharacters)
    );
    assert_eq!(parse("M@IL FROM:<a@b>"), Err(CommandError::UnknownCommand));
}

#[test]
fn invalid_characters() {
    for bad in [
        &b"NOOP \0"[..],
        b"MAIL FROM:<a\0@b>",
        b"NOOP a\rb",
        b"NOOP a\nb",
        b"VRFY \xff",
        b"\xc3",
    ] {
        assert_eq!(
            Command::parse(bad, &Limits::default()),
            Err(CommandError::InvalidCharacters),
            "{bad:?}"
        );
    }
    let r = CommandError::InvalidCharacters.reply();
    assert_eq!(
        (r.code, r.enhanced.unwrap().to_string()),
        (500, "5.5.2".into())
    );
}

#[test]
fn line_length_limit() {
    let l = Limits::default();
    // 510 octets + CRLF = 512: allowed; one more is not.
    let line = format!("NOOP {}", "x".repeat(505));
    assert_eq!(line.len(), 510);
    assert!(Command::parse(line.as_bytes(), &l).is_ok());
    let line = format!("NOOP {}", "x".repeat(506));
    assert_eq!(
        Command::parse(line.as_bytes(), &l),
        Err(CommandError::LineTooLong { limit: 512 })
    );
    let tiny = Limits {
        max_command_line: 6,
        ..Limits::default()
    };
    assert_eq!(Command::parse(b"QUIT", &tiny), Ok(Command::Quit));
    assert_eq!(
        Command::parse(b"QUIT ", &tiny),
        Err(CommandError::LineTooLong { limit: 6 })
    );
    let r = CommandError::LineTooLong { limit: 512 }.reply();
    assert_eq!(
        (r.code, r.enhanced.unwrap().to_string()),
        (500, "5.5.6".into())
    );
}

#[test]
fn address_limits() {
    let local = "l".repeat(65);
    assert_eq!(
        parse(&format!("RCPT TO:<{local}@b>")),
        Err(CommandError::AddressTooLong {
            what: "local part",
            limit: 64
        })
    );
    let tight = Limits {
        max_path: 9,
        ..Limits::default()
    };
    assert!(Command::parse(b"RCPT TO:<ab@cd.e>", &tight).is_ok());
    assert_eq!(
        Command::parse(b"RCPT TO:<ab@cd.ef>", &tight),
        Err(CommandError::AddressTooLong {
            what: "path",
            limit: 9
        })
    );
    let tight = Limits {
        max_domain: 3,
        ..Limits::default()
    };
    assert_eq!(
        Command::parse(b"MAIL FROM:<a@b.cd>", &tight),
        Err(CommandError::AddressTooLong {
            what: "domain",
            limit: 3
        })
    );
}

#[test]
fn verb_names() {
    assert_eq!(ok("MAIL FROM:<>").verb(), "MAIL");
    assert_eq!(ok("RCPT TO:<Postmaster>").verb(), "RCPT");
    assert_eq!(ok("ETRN a").verb(), "ETRN");
    assert_eq!(ok("AUTH X").verb(), "AUTH");
    assert_eq!(ok("BDAT 1").verb(), "BDAT");
}

/// Inputs the fuzzer found (fuzz/fuzz_targets/command.rs), kept as regressions.
#[test]
fn fuzz_regressions() {
    // A path cut off right after `<` indexed past the end of the line.
    assert_eq!(
        parse("RCPT TO:<"),
        Err(CommandError::BadAddress(
            "recipient local part is malformed"
        ))
    );
    assert!(matches!(
        parse("MAIL FROM:<"),
        Err(CommandError::BadAddress(_))
    ));
}

/// Every prefix of valid lines is parsed without a panic (truncation is where the
/// fuzzer found an out-of-bounds index), and what parses round-trips.
#[test]
fn every_prefix_of_valid_lines_is_total() {
    let lines = [
        "MAIL FROM:<@a,@[1.2.3.4]:\"q\\\"x\"@[IPv6:2001:db8::1]> SIZE=1 BODY=7BIT ENVID=a+2B",
        "RCPT TO:<Postmaster> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+2Bb@c X-Y=z",
        "RCPT TO:<u@[tag:content]>",
        "EHLO [IPv6:::1]",
        "BDAT 100 LAST",
        "AUTH PLAIN AGFAYg==",
        "ETRN @example.com",
        "STARTTLS",
    ];
    for line in lines {
        for end in 0..=line.len() {
            let Some(prefix) = line.get(..end) else {
                continue;
            };
            if let Ok(cmd) = parse(prefix) {
                let out = cmd.to_vec();
                assert_eq!(
                    Command::parse(&out[..out.len() - 2], &wide()),
                    Ok(cmd),
                    "{prefix:?}"
                );
            }
        }
    }
}

// ---- property test: parse(format(cmd)) == cmd ----

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn text(re: &'static str) -> impl Strategy<Value = &'static str> {
    proptest::string::string_regex(re)
        .expect("regex")
        .prop_map(leak)
}

fn domain_name() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        text("[a-zA-Z0-9_-]{1,10}(\\.[a-zA-Z0-9_-]{1,10}){0,3}"),
        text("[a-zé例子]{1,5}(\\.[a-z广告]{1,5}){0,2}"),
    ]
}

fn domain() -> impl Strategy<Value = Domain<'static>> {
    prop_oneof![
        domain_name().prop_map(Domain::Name),
        any::<[u8; 4]>().prop_map(|a| Domain::Ipv4(a.into())),
        any::<[u16; 8]>().prop_map(|a| Domain::Ipv6(a.into())),
        (
            text("[a-zA-Z0-9]([a-zA-Z0-9-]{0,5}[a-zA-Z0-9])?")
                .prop_filter("not IPv6", |t| !t.eq_ignore_ascii_case("IPv6")),
            text("[!-Z^-~]{1,12}"),
        )
            .prop_map(|(tag, content)| Domain::General { tag, content }),
    ]
}

fn local_part() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        text("[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,8}(\\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,8}){0,2}"),
        text("\"([ !#-\\[\\]-~]|\\\\[ -~]){0,10}\""),
        text("[a-zü用户]{1,6}"),
    ]
}

fn mailbox() -> impl Strategy<Value = Mailbox<'static>> {
    (local_part(), domain()).prop_map(|(local_part, domain)| Mailbox { local_part, domain })
}

fn xtext_value() -> impl Strategy<Value = XText<'static>> {
    text("([!-*,-<>-~]|\\+[0-9A-F]{2}){1,10}").prop_map(XText)
}

fn other_params() -> impl Strategy<Value = Vec<Param<'static>>> {
    proptest::collection::vec(
        (
            text("X-[A-Z0-9-]{1,6}"),
            proptest::option::of(text("[!-~]{1,8}")),
        )
            .prop_map(|(keyword, value)| Param { keyword, value }),
        0..3,
    )
}

fn mail_params() -> impl Strategy<Value = MailParams<'static>> {
    (
        (
            proptest::option::of(any::<u64>()),
            proptest::option::of(prop_oneof![
                Just(Body::SevenBit),
                Just(Body::EightBitMime),
                Just(Body::BinaryMime)
            ]),
            any::<bool>(),
            proptest::option::of(prop_oneof![Just(Ret::Full), Just(Ret::Hdrs)]),
        ),
        (
            proptest::option::of(xtext_value()),
            proptest::option::of(xtext_value()),
            proptest::option::of(-9i8..=9),
            any::<bool>(),
            other_params(),
        ),
    )
        .prop_map(
            |((size, body, smtputf8, ret), (envid, auth, mt_priority, requiretls, other))| {
                MailParams {
                    size,
                    body,
                    smtputf8,
                    ret,
                    envid,
                    auth,
                    mt_priority,
                    requiretls,
                    other,
                }
            },
        )
}

fn rcpt_params() -> impl Strategy<Value = RcptParams<'static>> {
    let notify = prop_oneof![
        Just(Notify::Never),
        (any::<bool>(), any::<bool>(), any::<bool>())
            .prop_filter("non-empty", |(s, f, d)| *s || *f || *d)
            .prop_map(|(success, failure, delay)| Notify::On {
                success,
                failure,
                delay
            }),
    ];
    let orcpt = (text("[a-zA-Z0-9-]{1,8}"), xtext_value())
        .prop_map(|(addr_type, address)| Orcpt { addr_type, address });
    (
        proptest::option::of(notify),
        proptest::option::of(orcpt),
        other_params(),
    )
        .prop_map(|(notify, orcpt, other)| RcptParams {
            notify,
            orcpt,
            other,
        })
}

fn free_text() -> impl Strategy<Value = &'static str> {
    text("[!-~é]([ -~]{0,15}[!-~])?")
}

fn command() -> impl Strategy<Value = Command<'static>> {
    prop_oneof![
        domain().prop_map(|domain| Command::Helo { domain }),
        domain().prop_map(|domain| Command::Ehlo { domain }),
        (
            prop_oneof![
                Just(ReversePath::Null),
                mailbox().prop_map(ReversePath::Mailbox)
            ],
            mail_params()
        )
            .prop_map(|(from, mut params)| {
                if let ReversePath::Mailbox(m) = &from {
                    params.smtputf8 |= !m.is_ascii();
                }
                Command::Mail { from, params }
            }),
        (
            prop_oneof![
                Just(ForwardPath::Postmaster),
                mailbox().prop_map(ForwardPath::Mailbox)
            ],
            rcpt_params()
        )
            .prop_map(|(to, params)| Command::Rcpt { to, params }),
        Just(Command::Data),
        (any::<u64>(), any::<bool>()).prop_map(|(size, last)| Command::Bdat { size, last }),
        Just(Command::Rset),
        free_text().prop_map(|arg| Command::Vrfy { arg }),
        free_text().prop_map(|arg| Command::Expn { arg }),
        proptest::option::of(free_text()).prop_map(|topic| Command::Help { topic }),
        proptest::option::of(free_text()).prop_map(|arg| Command::Noop { arg }),
        Just(Command::Quit),
        Just(Command::StartTls),
        (
            text("[A-Za-z0-9_-]{1,20}"),
            proptest::option::of(prop_oneof![
                Just(AuthInitial::Empty),
                text("[A-Za-z0-9+/]{1,40}={0,2}").prop_map(AuthInitial::Base64)
            ])
        )
            .prop_map(|(mechanism, initial)| Command::Auth { mechanism, initial }),
        prop_oneof![
            domain_name(),
            domain_name().prop_map(|d| leak(format!("@{d}"))),
            text("#[!-~]{1,10}"),
        ]
        .prop_map(|node| Command::Etrn { node }),
    ]
}

proptest! {
    #[test]
    fn format_then_parse_round_trips(cmd in command()) {
        let out = cmd.to_vec();
        let line = out.strip_suffix(b"\r\n").expect("CRLF");
        prop_assert!(!line.contains(&b'\n'));
        let back = Command::parse(line, &wide());
        prop_assert_eq!(back.as_ref(), Ok(&cmd), "{}", String::from_utf8_lossy(line));
    }

    #[test]
    fn parse_never_panics(line in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(cmd) = Command::parse(&line, &Limits::default()) {
            let out = cmd.to_vec();
            let again = Command::parse(&out[..out.len() - 2], &wide());
            prop_assert_eq!(again, Ok(cmd));
        }
    }
}

/// Small limits, so that the length checks take part in the differential below.
fn tight() -> Limits {
    Limits {
        max_command_line: 40,
        max_local_part: 6,
        max_domain: 12,
        max_path: 20,
        max_auth_line: 60,
        ..Limits::default()
    }
}

/// One edit of a command line: insert, delete or replace an octet, or flip a letter's case.
fn edit() -> impl Strategy<Value = (prop::sample::Index, u8, u8)> {
    let octets: &[u8] = b" \t=,;+:<>@#-._AaZzFfLlEe09\x00\r\n\xc3\xa9\x7f\"\\[]";
    (
        any::<prop::sample::Index>(),
        0u8..4,
        prop::sample::select(octets.to_vec()),
    )
}

/// A valid command's wire form (without CRLF) with a few edits: near-valid lines are
/// where the two parsers' error choices can part.
fn edited_line() -> impl Strategy<Value = Vec<u8>> {
    (command(), proptest::collection::vec(edit(), 0..4)).prop_map(|(cmd, edits)| {
        let mut v = cmd.to_vec();
        v.truncate(v.len() - 2);
        for (at, op, octet) in edits {
            let i = at.index(v.len() + 1);
            match op {
                0 => v.insert(i, octet),
                1 if i < v.len() => {
                    v.remove(i);
                }
                2 if i < v.len() => v[i] = octet,
                _ if i < v.len() => v[i] ^= u8::from(v[i].is_ascii_alphabetic()) << 5,
                _ => {}
            }
        }
        v
    })
}

/// A line built from verbs, prefixes, parameter keywords and value pieces.
fn fragment_line() -> impl Strategy<Value = Vec<u8>> {
    let verb = prop::sample::select(vec![
        "MAIL FROM:<a@b>",
        "mail from: <>",
        "RCPT TO:<u@x.y>",
        "rcpt to:<Postmaster>",
        "BDAT",
        "bdat ",
        "AUTH",
        "AUTH PLAIN",
        "ETRN",
        "ETRN @",
        "ETRN #",
        "EHLO",
        "VRFY",
        "NOOP",
    ]);
    let frag = prop::sample::select(vec![
        " ",
        "\t",
        "SIZE=",
        "size=",
        "BODY=",
        "RET=",
        "ENVID=",
        "AUTH=",
        "NOTIFY=",
        "notify=",
        "ORCPT=",
        "MT-PRIORITY=",
        "SMTPUTF8",
        "REQUIRETLS",
        "8BITMIME",
        "7bit",
        "BINARYMIME",
        "FULL",
        "hdrs",
        "SUCCESS",
        "failure",
        "DELAY",
        "NEVER",
        ",",
        ";",
        "rfc822",
        "+2B",
        "+4",
        "=",
        "-",
        "-9",
        "12",
        "99999999999999999999",
        "LAST",
        "last",
        "x",
        "X-Y",
        "<>",
        "dGVzdA==",
        "#q",
        "\u{e9}",
        "a.b",
        "[1.2.3.4]",
    ]);
    (verb, proptest::collection::vec(frag, 0..10))
        .prop_map(|(verb, frags)| format!("{verb}{}", frags.concat()).into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// The nom grammar gives exactly what the hand-written parser it replaced gave (kept
    /// in `legacy` as the oracle): the same command or the same error, on near-valid
    /// lines, on lines built from the grammar's pieces and on arbitrary octets, under the
    /// default limits and under tight ones.
    #[test]
    fn nom_parser_matches_the_hand_written_one(
        line in prop_oneof![edited_line(), fragment_line(), proptest::collection::vec(any::<u8>(), 0..60)]
    ) {
        for limits in [Limits::default(), tight(), wide()] {
            let new = Command::parse(&line, &limits);
            let old = legacy::parse(&line, &limits);
            prop_assert_eq!(new, old, "{:?}", String::from_utf8_lossy(&line));
        }
    }
}

// ---- parse_next: the command at the front of a receive buffer ----

/// The reference of [`Command::parse_next`]: a line reader (the first LF ends the line,
/// one CR before it is dropped), then [`Command::parse`] of the line.
fn line_then_parse<'a>(
    buf: &'a [u8],
    limits: &Limits,
) -> Option<(Result<Command<'a>, CommandError>, usize)> {
    let lf = buf.iter().position(|&c| c == b'\n')?;
    let line = &buf[..lf];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((Command::parse(line, limits), lf + 1))
}

/// How two lines of a buffer are joined: CRLF, bare LF, nothing (the lines run
/// together), CR CR LF, or a bare CR (inside one line).
fn line_end() -> impl Strategy<Value = &'static [u8]> {
    prop::sample::select(vec![
        &b"\r\n"[..],
        &b"\r\n"[..],
        &b"\n"[..],
        &b""[..],
        &b"\r\r\n"[..],
        &b"\r"[..],
    ])
}

/// A receive buffer: a few lines (near-valid, built from pieces, arbitrary octets,
/// long runs past the tight limits, non-ASCII text), each with a line end.
fn receive_buffer() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        3 => edited_line(),
        2 => fragment_line(),
        1 => proptest::collection::vec(any::<u8>(), 0..40),
        1 => (0usize..80).prop_map(|n| format!("NOOP {}", "x".repeat(n)).into_bytes()),
        1 => (0usize..80).prop_map(|n| format!("AUTH PLAIN {}", "A".repeat(n)).into_bytes()),
        1 => Just("VRFY b\u{fc}cher".as_bytes().to_vec()),
    ];
    proptest::collection::vec((line, line_end()), 0..6).prop_map(|lines| {
        lines
            .into_iter()
            .flat_map(|(mut l, end)| {
                l.extend_from_slice(end);
                l
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// `parse_next` is "find the line, then `Command::parse`" on any buffer cut at any
    /// point: the front of every cut (incomplete lines give `None`), the rest after
    /// every cut (a buffer may start anywhere), and the whole buffer consumed command by
    /// command; under the default, tight and wide limits.
    #[test]
    fn parse_next_is_line_then_parse(buf in receive_buffer()) {
        for limits in [Limits::default(), tight(), wide()] {
            for cut in 0..=buf.len() {
                let (front, back) = buf.split_at(cut);
                prop_assert_eq!(
                    Command::parse_next(front, &limits),
                    line_then_parse(front, &limits),
                    "{:?}", String::from_utf8_lossy(front)
                );
                prop_assert_eq!(
                    Command::parse_next(back, &limits),
                    line_then_parse(back, &limits),
                    "{:?}", String::from_utf8_lossy(back)
                );
            }
            let mut rest = &buf[..];
            while let Some((result, used)) = Command::parse_next(rest, &limits) {
                prop_assert_eq!(Some((result, used)), line_then_parse(rest, &limits));
                prop_assert!(used > 0 && used <= rest.len() && rest[used - 1] == b'\n');
                rest = &rest[used..];
            }
            prop_assert!(!rest.contains(&b'\n'));
        }
    }
}

#[test]
fn parse_next_frames_lines_like_the_line_reader() {
    let l = Limits::default();
    let next = |buf| Command::parse_next(buf, &l);
    assert_eq!(next(b""), None);
    assert_eq!(next(b"QUIT"), None);
    assert_eq!(next(b"QUIT\r"), None);
    assert_eq!(next(b"QUIT\r\n"), Some((Ok(Command::Quit), 6)));
    assert_eq!(next(b"QUIT\nNOOP\r\n"), Some((Ok(Command::Quit), 5)));
    // Only one CR is dropped; a second is a bare CR inside the line.
    assert_eq!(
        next(b"QUIT\r\r\n"),
        Some((Err(CommandError::InvalidCharacters), 7))
    );
    assert_eq!(
        next(b"NOOP a\rb\r\nQUIT\r\n"),
        Some((Err(CommandError::InvalidCharacters), 10))
    );
    // Not UTF-8, before and after the first 16 octets.
    assert_eq!(
        next(b"VRFY \xff\r\n"),
        Some((Err(CommandError::InvalidCharacters), 8))
    );
    assert_eq!(
        next(b"VRFY abcdefghijklmnopqrstuvwxyz\xff\r\n"),
        Some((Err(CommandError::InvalidCharacters), 34))
    );
    let utf8 = "VRFY abcdefghijklmnopqrstuvwxyz b\u{fc}cher\r\nQUIT\r\n";
    assert_eq!(
        next(utf8.as_bytes()),
        Some((
            Ok(Command::Vrfy {
                arg: "abcdefghijklmnopqrstuvwxyz b\u{fc}cher"
            }),
            utf8.len() - 6
        ))
    );
    // A high octet after the LF is not part of the line.
    assert_eq!(
        next(b"EHLO a.example\r\n\xff\xff\xff\xff"),
        Some((
            Ok(Command::Ehlo {
                domain: Domain::Name("a.example")
            }),
            16
        ))
    );
    // Over-long lines are used up all the same; AUTH lines have their own limit.
    let long = format!("NOOP {}\r\nQUIT\r\n", "x".repeat(506));
    assert_eq!(
        next(long.as_bytes()),
        Some((Err(CommandError::LineTooLong { limit: 512 }), 513))
    );
    let auth = format!("AUTH PLAIN {}\r\n", "A".repeat(600));
    assert!(matches!(
        next(auth.as_bytes()),
        Some((Ok(Command::Auth { .. }), 613))
    ));
}
