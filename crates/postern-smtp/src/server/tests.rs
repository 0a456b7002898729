//! Behaviour of the server session, driven through its public API.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::data::{BareLinePolicy, DataError};
use crate::limits::Limits;
use crate::path::{ForwardPath, ReversePath};
use crate::reply::{EnhancedCode, Reply};

/// Drives a session like an application would, recording events as strings.
struct Driver {
    s: ServerSession,
    /// One entry per event; consecutive data chunks are merged into one `chunk:` entry.
    log: Vec<String>,
    /// Decide every decision at once with the default reply.
    auto: bool,
    /// Output not yet taken by `out()`.
    sent: Vec<u8>,
    /// Feed message content through `receive_content_into` into `content` (logged as
    /// `chunk:` entries, like data chunks) instead of `receive` alone.
    direct: bool,
    content: Vec<u8>,
}

fn describe(e: &Event<'_>) -> String {
    match e {
        Event::DataChunk(c) => format!("chunk:{}", String::from_utf8_lossy(c)),
        Event::Mail { from, .. } => match from {
            ReversePath::Null => "mail:<>".into(),
            ReversePath::Mailbox(m) => format!("mail:{m}"),
        },
        Event::Rcpt { to, .. } => match to {
            ForwardPath::Postmaster => "rcpt:Postmaster".into(),
            ForwardPath::Mailbox(m) => format!("rcpt:{m}"),
        },
        Event::MessageEnd { size } => format!("end:{size}"),
        Event::Helo { .. } => "helo".into(),
        Event::Ehlo { .. } => "ehlo".into(),
        Event::DataStart => "datastart".into(),
        Event::Reset => "reset".into(),
        Event::Quit => "quit".into(),
        Event::StartTls => "starttls".into(),
        other => format!("{other:?}"),
    }
}

impl Driver {
    /// A driver of `s` (greeted or not), deciding at once; nothing sent or logged yet.
    fn of(s: ServerSession) -> Driver {
        Driver {
            s,
            log: Vec::new(),
            auto: true,
            sent: Vec::new(),
            direct: false,
            content: Vec::new(),
        }
    }

    fn with(config: ServerConfig) -> Driver {
        let mut s = ServerSession::new(config);
        s.greet();
        let mut d = Driver::of(s);
        d.drain_output();
        d.sent.clear();
        d
    }

    fn new() -> Driver {
        Driver::with(ServerConfig::new("mx.test"))
    }

    fn manual(mut self) -> Driver {
        self.auto = false;
        self
    }

    fn drain_output(&mut self) {
        let out = self.s.pending_output().to_vec();
        self.s.consume_output(out.len());
        self.sent.extend_from_slice(&out);
    }

    fn feed(&mut self, bytes: &[u8]) -> &mut Driver {
        let taken = if self.direct {
            self.s.receive_content_into(bytes, &mut self.content)
        } else {
            0
        };
        self.s.receive(&bytes[taken..]);
        self.pump();
        self
    }

    fn log_event(&mut self, d: String) {
        match (self.log.last_mut(), d.strip_prefix("chunk:")) {
            (Some(prev), Some(more)) if prev.starts_with("chunk:") => prev.push_str(more),
            _ => self.log.push(d),
        }
    }

    fn pump(&mut self) {
        if !self.content.is_empty() {
            let taken = std::mem::take(&mut self.content);
            self.log_event(format!("chunk:{}", String::from_utf8_lossy(&taken)));
        }
        while let Some(ev) = self.s.poll_event() {
            let d = describe(&ev);
            self.log_event(d);
            if self.auto && self.s.pending_decision().is_some() {
                self.s.accept().unwrap();
            }
        }
        self.drain_output();
    }

    /// Output since the last call.
    fn out(&mut self) -> String {
        self.drain_output();
        String::from_utf8(std::mem::take(&mut self.sent)).unwrap()
    }

    /// Reply codes (with enhanced code) of the output since the last call, one per reply.
    fn codes(&mut self) -> Vec<String> {
        self.out()
            .split("\r\n")
            .filter(|l| l.len() >= 4 && l.as_bytes()[3] == b' ')
            .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
            .collect()
    }

    fn ehlo(&mut self) -> &mut Driver {
        self.feed(b"EHLO client.test\r\n");
        self.out();
        self
    }

    /// EHLO, MAIL, RCPT accepted; output and log cleared.
    fn in_transaction(&mut self) -> &mut Driver {
        self.feed(b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n");
        self.out();
        self.log.clear();
        self
    }
}

#[test]
fn full_transaction() {
    let mut s = ServerSession::new(ServerConfig::new("mx.test"));
    assert!(s.pending_output().is_empty(), "nothing before greet");
    s.greet();
    let mut d = Driver::of(s);
    assert_eq!(d.out(), "220 mx.test ESMTP postern\r\n");
    d.feed(b"EHLO client.test\r\n");
    let ehlo = d.out();
    assert!(ehlo.starts_with("250-mx.test\r\n250-PIPELINING\r\n250-SIZE 36700160\r\n"));
    for k in [
        "ENHANCEDSTATUSCODES",
        "8BITMIME",
        "SMTPUTF8",
        "DSN",
        "CHUNKING",
    ] {
        assert!(ehlo.contains(k), "{k} in {ehlo}");
    }
    assert!(ehlo.ends_with("250 CHUNKING\r\n"), "{ehlo}");
    assert!(!ehlo.contains("STARTTLS") && !ehlo.contains("AUTH") && !ehlo.contains("ETRN"));
    d.feed(b"MAIL FROM:<alice@a.test> SIZE=100\r\n");
    assert_eq!(d.out(), "250 2.1.0 Ok\r\n");
    d.feed(b"RCPT TO:<bob@b.test>\r\n");
    assert_eq!(d.out(), "250 2.1.5 Ok\r\n");
    d.feed(b"DATA\r\n");
    assert_eq!(d.out(), "354 End data with <CR><LF>.<CR><LF>\r\n");
    d.feed(b"Subject: hi\r\n\r\n..dot\r\nbody\r\n.\r\n");
    assert_eq!(d.out(), "250 2.0.0 Ok: queued\r\n");
    d.feed(b"QUIT\r\n");
    assert_eq!(d.out(), "221 2.0.0 Bye\r\n");
    assert!(d.s.is_closed());
    assert_eq!(
        d.log,
        [
            "ehlo",
            "mail:alice@a.test",
            "rcpt:bob@b.test",
            "datastart",
            "chunk:Subject: hi\r\n\r\n.dot\r\nbody\r\n",
            "end:27",
            "quit"
        ]
    );
    d.feed(b"NOOP\r\n");
    assert_eq!(d.out(), "", "nothing after QUIT");
}

#[test]
fn pipelined_group_replies_in_order() {
    let mut d = Driver::new();
    d.feed(b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<x@y.test>\r\nRCPT TO:<Postmaster>\r\nDATA\r\n");
    let out = d.out();
    let tail = out.split_once("250 CHUNKING\r\n").unwrap().1;
    assert_eq!(
        tail,
        "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
    );
    assert_eq!(
        d.log,
        [
            "ehlo",
            "mail:<>",
            "rcpt:x@y.test",
            "rcpt:Postmaster",
            "datastart"
        ]
    );
}

#[test]
fn deferred_decisions_keep_reply_order() {
    let mut d = Driver::new().manual();
    d.feed(
        b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<r1@x.test>\r\nRCPT TO:<r2@x.test>\r\nNOOP\r\n",
    );
    assert_eq!(d.log, ["ehlo", "mail:a@b.test"]);
    assert_eq!(d.s.pending_decision(), Some(Decision::Mail));
    d.out();
    // While MAIL is undecided nothing else moves, even with more input.
    d.feed(b"RSET\r\n");
    assert_eq!(d.out(), "");
    assert_eq!(d.log.len(), 2);
    d.s.accept().unwrap();
    d.pump();
    assert_eq!(d.log.last().unwrap(), "rcpt:r1@x.test");
    d.s.reply(Reply::new(
        550,
        Some(EnhancedCode::new(5, 1, 1)),
        "no such user",
    ))
    .unwrap();
    d.pump();
    assert_eq!(d.s.pending_decision(), Some(Decision::Rcpt));
    // An app reply without an enhanced code gets one from its class.
    d.s.reply(Reply::new(250, None, "fine")).unwrap();
    d.pump();
    assert_eq!(
        d.out(),
        "250 2.1.0 Ok\r\n550 5.1.1 no such user\r\n250 2.0.0 fine\r\n250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n"
    );
    assert_eq!(d.log.last().unwrap(), "reset");
}

#[test]
fn decision_misuse_is_an_error_not_a_panic() {
    let mut d = Driver::new().manual();
    assert_eq!(d.s.accept(), Err(DecisionError::NothingPending));
    assert_eq!(
        d.s.reply(Reply::new(250, None, "x")),
        Err(DecisionError::NothingPending)
    );
    d.feed(b"EHLO c\r\nMAIL FROM:<a@b.test>\r\n");
    for code in [354, 100, 999, 0] {
        assert_eq!(
            d.s.reply(Reply::new(code, None, "x")),
            Err(DecisionError::UnsuitableReply { code })
        );
    }
    assert_eq!(
        d.s.pending_decision(),
        Some(Decision::Mail),
        "still pending"
    );
    d.s.accept().unwrap();
    assert_eq!(d.s.accept(), Err(DecisionError::NothingPending));
    d.feed(b"RCPT TO:<c@d.test>\r\n");
    d.s.accept().unwrap();
    d.feed(b"DATA\r\n");
    assert_eq!(d.s.pending_decision(), Some(Decision::DataStart));
    assert_eq!(
        d.s.reply(Reply::new(250, None, "x")),
        Err(DecisionError::UnsuitableReply { code: 250 })
    );
    d.s.reply(Reply::new(451, Some(EnhancedCode::new(4, 3, 0)), "later"))
        .unwrap();
    d.pump();
    assert!(d.out().ends_with("451 4.3.0 later\r\n"));
}

#[test]
fn app_reply_421_closes() {
    let mut d = Driver::new().manual();
    d.feed(b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n");
    d.s.reply(Reply::new(421, None, "shutting down")).unwrap();
    d.pump();
    assert!(d.s.is_closed());
    assert!(d.out().ends_with("421 4.0.0 shutting down\r\n"));
    assert_eq!(d.log, ["ehlo", "mail:a@b.test"]);
}

#[test]
fn sequencing_errors() {
    let mut config = ServerConfig::new("mx.test");
    config.binary_mime = true;
    let cases: &[(&[u8], &str)] = &[
        (b"MAIL FROM:<a@b.test>\r\n", "503 5.5.1"),
        (b"EHLO c\r\nRCPT TO:<a@b.test>\r\n", "503 5.5.1"),
        (b"EHLO c\r\nDATA\r\n", "503 5.5.1"),
        (b"EHLO c\r\nBDAT 3 LAST\r\nabc", "503 5.5.1"),
        (b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nMAIL FROM:<a@b.test>\r\n", "503 5.5.1"),
        (b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nDATA\r\n", "554 5.5.1"),
        (b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nBDAT 3\r\nabc", "554 5.5.1"),
        (
            b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 1\r\nxDATA\r\n",
            "503 5.5.1",
        ),
        (
            b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 1\r\nxRCPT TO:<e@f.test>\r\n",
            "503 5.5.1",
        ),
        (
            b"EHLO c\r\nMAIL FROM:<a@b.test> BODY=BINARYMIME\r\nRCPT TO:<c@d.test>\r\nDATA\r\n",
            "503 5.5.1",
        ),
        (b"FROB\r\n", "500 5.5.1"),
        (b"EHLO c\r\nETRN example.org\r\n", "502 5.5.1"),
        (b"EHLO c\r\nSTARTTLS\r\n", "502 5.5.1"),
        (b"EHLO c\r\nAUTH PLAIN\r\n", "503 5.5.1"),
    ];
    for (input, want) in cases {
        let mut d = Driver::with(config.clone());
        d.feed(input);
        let codes = d.codes();
        assert_eq!(
            codes.last().map(String::as_str),
            Some(*want),
            "{}: {codes:?}",
            String::from_utf8_lossy(input)
        );
        assert!(!d.s.is_closed());
        assert!(!d.log.iter().any(|e| e.starts_with("end:")));
    }
}

#[test]
fn rejected_bdat_chunk_is_never_read_as_commands() {
    let mut d = Driver::new();
    d.feed(b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nBDAT 23 LAST\r\nRCPT TO:<evil@x.test>\r\nNOOP\r\n");
    assert_eq!(d.codes()[1..], ["250 2.1.0", "554 5.5.1", "250 2.0.0"]);
    assert!(!d.log.iter().any(|e| e.contains("evil")));
}

#[test]
fn data_before_354_is_a_sync_violation() {
    let mut d = Driver::new();
    d.in_transaction();
    d.feed(b"DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n");
    assert_eq!(
        d.out(),
        "554 5.5.0 Error: SMTP protocol synchronization\r\n"
    );
    assert!(d.s.is_closed());
    assert_eq!(
        d.log,
        [format!(
            "{:?}",
            Event::Closed {
                reason: CloseReason::SyncViolation
            }
        )]
    );
}

#[test]
fn data_while_data_start_undecided_is_a_sync_violation() {
    let mut d = Driver::new();
    d.in_transaction();
    d.auto = false;
    d.feed(b"DATA\r\n");
    assert_eq!(d.s.pending_decision(), Some(Decision::DataStart));
    d.feed(b"body\r\n.\r\n");
    d.s.accept().unwrap();
    d.pump();
    assert_eq!(
        d.out(),
        "554 5.5.0 Error: SMTP protocol synchronization\r\n"
    );
    assert!(d.s.is_closed());
}

#[test]
fn talking_before_the_greeting_is_a_sync_violation() {
    let mut s = ServerSession::new(ServerConfig::new("mx.test"));
    s.receive(b"EHLO early\r\n");
    assert_eq!(s.poll_event(), None);
    s.greet();
    assert_eq!(
        s.poll_event(),
        Some(Event::Closed {
            reason: CloseReason::SyncViolation
        })
    );
    assert_eq!(
        s.pending_output(),
        b"554 5.5.0 Error: SMTP protocol synchronization\r\n"
    );
    assert!(s.is_closed());
    assert_eq!(s.poll_event(), None);
}

#[test]
fn reject_connection_closes() {
    let mut s = ServerSession::new(ServerConfig::new("mx.test"));
    s.reject_connection(Reply::new(554, None, "mx.test no SMTP service here"));
    assert_eq!(
        s.pending_output(),
        b"554 5.0.0 mx.test no SMTP service here\r\n"
    );
    assert!(s.is_closed());
    s.greet();
    s.receive(b"EHLO x\r\n");
    assert_eq!(s.poll_event(), None);
    assert_eq!(s.pending_output().len(), 40, "nothing added");
}

fn tls_config() -> ServerConfig {
    let mut c = ServerConfig::new("mx.test");
    c.starttls = true;
    c.auth = true;
    c
}

#[test]
fn starttls_discards_injected_commands() {
    let mut d = Driver::with(tls_config());
    d.feed(b"EHLO c\r\n");
    let ehlo = d.out();
    assert!(ehlo.contains("250-STARTTLS\r\n"));
    assert!(!ehlo.contains("AUTH"), "no AUTH in clear text");
    d.feed(b"STARTTLS\r\nMAIL FROM:<x@y.test>\r\n");
    assert_eq!(d.out(), "220 2.0.0 Ready to start TLS\r\n");
    assert_eq!(d.log, ["ehlo", "starttls"]);
    // Plaintext arriving before the handshake completes is dropped too.
    d.feed(b"RCPT TO:<z@y.test>\r\n");
    assert!(d.s.tls_established());
    assert!(d.s.is_tls());
    assert!(!d.s.tls_established(), "only once");
    d.pump();
    assert_eq!(d.out(), "");
    // Back to the post-greeting state: EHLO again first.
    d.feed(b"MAIL FROM:<x@y.test>\r\n");
    assert_eq!(d.codes(), ["503 5.5.1"]);
    d.feed(b"EHLO c\r\n");
    let ehlo = d.out();
    assert!(!ehlo.contains("STARTTLS"));
    assert!(ehlo.contains("250-AUTH PLAIN LOGIN\r\n"));
    d.feed(b"STARTTLS\r\n");
    assert_eq!(d.codes(), ["554 5.5.1"]);
    assert_eq!(d.log, ["ehlo", "starttls", "ehlo"]);
}

#[test]
fn starttls_refused_in_transaction() {
    let mut d = Driver::with(tls_config());
    d.in_transaction();
    d.feed(b"STARTTLS\r\n");
    assert_eq!(d.codes(), ["503 5.5.1"]);
}

fn b64(s: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn auth_driver() -> Driver {
    let mut s = ServerSession::new_tls(tls_config());
    s.greet();
    let mut d = Driver::of(s).manual();
    d.ehlo();
    d.log.clear();
    d
}

#[test]
fn auth_plain_initial_response() {
    let mut d = auth_driver();
    let line = format!("AUTH PLAIN {}\r\n", b64(b"\0alice\0secret"));
    d.s.receive(line.as_bytes());
    match d.s.poll_event() {
        Some(Event::Auth {
            mechanism,
            authzid,
            username,
            password,
        }) => {
            assert_eq!(mechanism, AuthMechanism::Plain);
            assert_eq!((authzid, username, password), ("", "alice", "secret"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(d.s.pending_decision(), Some(Decision::Auth));
    d.s.accept().unwrap();
    assert!(d.s.is_authenticated());
    assert_eq!(d.out(), "235 2.7.0 Authentication successful\r\n");
    d.feed(b"AUTH PLAIN\r\n");
    assert_eq!(d.codes(), ["503 5.5.1"]);
}

#[test]
fn auth_plain_challenge_and_refusal() {
    let mut d = auth_driver();
    d.feed(b"AUTH PLAIN\r\n");
    assert_eq!(d.out(), "334 \r\n");
    d.s.receive(format!("{}\r\n", b64(b"admin\0bob\0pw")).as_bytes());
    let Some(Event::Auth {
        authzid, username, ..
    }) = d.s.poll_event()
    else {
        panic!("no auth event")
    };
    assert_eq!((authzid, username), ("admin", "bob"));
    d.s.reply(Reply::new(
        535,
        Some(EnhancedCode::new(5, 7, 8)),
        "Authentication credentials invalid",
    ))
    .unwrap();
    assert!(!d.s.is_authenticated());
    assert_eq!(d.out(), "535 5.7.8 Authentication credentials invalid\r\n");
    // A failed AUTH may be retried.
    d.feed(b"AUTH PLAIN\r\n");
    assert_eq!(d.out(), "334 \r\n");
    d.feed(b"*\r\n");
    assert_eq!(d.codes(), ["501 5.7.0"]);
    d.feed(b"AUTH PLAIN !!!notbase64\r\n");
    assert_eq!(d.codes(), ["501 5.5.4"], "the parser refuses it");
    d.feed(b"AUTH PLAIN YWJj\r\n");
    assert_eq!(d.codes(), ["501 5.5.2"], "base64 but no NULs");
    d.feed(b"AUTH CRAM-MD5\r\n");
    assert_eq!(d.codes(), ["504 5.5.4"]);
}

#[test]
fn auth_login_exchange() {
    let mut d = auth_driver();
    d.feed(b"AUTH LOGIN\r\n");
    assert_eq!(d.out(), "334 VXNlcm5hbWU6\r\n");
    d.feed(format!("{}\r\n", b64(b"carol")).as_bytes());
    assert_eq!(d.out(), "334 UGFzc3dvcmQ6\r\n");
    d.s.receive(format!("{}\r\n", b64(b"hunter2")).as_bytes());
    match d.s.poll_event() {
        Some(Event::Auth {
            mechanism: AuthMechanism::Login,
            authzid: "",
            username: "carol",
            password: "hunter2",
        }) => {}
        other => panic!("{other:?}"),
    }
    d.s.accept().unwrap();
    assert!(d.s.is_authenticated());
    // LOGIN with the user name as initial response, pipelined with the password.
    let mut d = auth_driver();
    d.s.receive(format!("AUTH LOGIN {}\r\n{}\r\n", b64(b"dave"), b64(b"pw")).as_bytes());
    assert!(matches!(
        d.s.poll_event(),
        Some(Event::Auth {
            username: "dave",
            password: "pw",
            ..
        })
    ));
    assert_eq!(d.out(), "334 UGFzc3dvcmQ6\r\n");
    // Cancel at the user name prompt.
    let mut d = auth_driver();
    d.feed(b"AUTH LOGIN\r\n*\r\n");
    assert_eq!(d.codes(), ["334 VXNlcm5hbWU6", "501 5.7.0"]);
}

#[test]
fn auth_only_over_tls_by_default() {
    let mut d = Driver::with(tls_config());
    d.ehlo();
    d.feed(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    assert_eq!(d.codes(), ["503 5.5.1"]);
    let mut c = tls_config();
    c.auth_without_tls = true;
    let mut d = Driver::with(c);
    d.feed(b"HELO c\r\n");
    d.feed(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    assert_eq!(d.codes()[1..], ["503 5.5.1"], "AUTH needs EHLO");
    d.feed(b"EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    assert!(d.out().ends_with("235 2.7.0 Authentication successful\r\n"));
}

#[test]
fn auth_line_limit() {
    let mut d = auth_driver();
    // Longer than a command line but within max_auth_line: fine.
    let long = b64(&[b'x'; 3000]);
    d.feed(format!("AUTH PLAIN {long}\r\n").as_bytes());
    assert_eq!(d.codes(), ["501 5.5.2"], "reaches the decoder");
    let huge = "A".repeat(20_000);
    d.feed(b"AUTH LOGIN\r\n");
    d.out();
    d.feed(huge.as_bytes());
    d.feed(b"\r\n");
    assert_eq!(d.codes(), ["500 5.5.6"]);
    d.feed(b"NOOP\r\n");
    assert_eq!(d.codes(), ["250 2.0.0"], "exchange over");
}

#[test]
fn recipient_limit() {
    let mut d = Driver::new();
    d.in_transaction();
    let mut input = Vec::new();
    for i in 1..1001 {
        input.extend_from_slice(format!("RCPT TO:<r{i}@x.test>\r\n").as_bytes());
    }
    d.feed(&input);
    let codes = d.codes();
    assert_eq!(codes.len(), 1000);
    assert!(codes[..999].iter().all(|c| c == "250 2.1.5"));
    assert_eq!(codes[999], "452 4.5.3");
    // Recipients beyond the limit are not protocol errors: the session stays open past
    // `max_errors` of them, and the transaction goes on.
    let mut input = Vec::new();
    for i in 0..100 {
        input.extend_from_slice(format!("RCPT TO:<more{i}@x.test>\r\n").as_bytes());
    }
    d.feed(&input);
    let codes = d.codes();
    assert_eq!(codes.len(), 100);
    assert!(codes.iter().all(|c| c == "452 4.5.3"), "{codes:?}");
    d.feed(b"NOOP\r\n");
    assert_eq!(d.codes(), ["250 2.0.0"]);
}

#[test]
fn size_and_utf8_checks_at_mail_and_rcpt() {
    let mut d = Driver::new();
    d.ehlo();
    d.feed(b"MAIL FROM:<a@b.test> SIZE=36700161\r\n");
    assert_eq!(d.codes(), ["552 5.3.4"]);
    d.feed(b"MAIL FROM:<a@b.test> SIZE=36700160\r\n");
    assert_eq!(d.codes(), ["250 2.1.0"]);
    d.feed("RCPT TO:<j\u{f6}rg@x.test>\r\n".as_bytes());
    assert_eq!(d.codes(), ["553 5.6.7"]);
    d.feed(b"RSET\r\n");
    d.out();
    d.feed("MAIL FROM:<a@b.test> SMTPUTF8\r\nRCPT TO:<j\u{f6}rg@x.test>\r\n".as_bytes());
    assert_eq!(d.codes(), ["250 2.1.0", "250 2.1.5"]);
    d.feed(b"RSET\r\nMAIL FROM:<a@b.test> MT-PRIORITY=3\r\n");
    assert_eq!(d.codes(), ["250 2.0.0", "555 5.5.4"]);
}

#[test]
fn long_command_line_is_skipped_without_buffering() {
    let mut d = Driver::new();
    d.ehlo();
    for _ in 0..100 {
        d.feed(&[b'N'; 1000]);
        assert!(d.s.buffered() <= 1000, "buffered {}", d.s.buffered());
    }
    d.feed(b"OOP\r\nNOOP\r\n");
    assert_eq!(d.codes(), ["500 5.5.6", "250 2.0.0"]);
    // Exactly at the limit (512 with CRLF) is fine; one more is not.
    let at = format!("NOOP {}\r\n", "x".repeat(512 - 7));
    let over = format!("NOOP {}\r\n", "x".repeat(512 - 6));
    d.feed(at.as_bytes()).feed(over.as_bytes());
    assert_eq!(d.codes(), ["250 2.0.0", "500 5.5.6"]);
}

#[test]
fn too_many_errors_closes() {
    let mut d = Driver::new();
    d.feed(&b"FROB\r\n".repeat(25));
    let codes = d.codes();
    assert_eq!(codes.len(), 21, "{codes:?}");
    assert_eq!(codes[20], "421 4.7.0");
    assert!(d.s.is_closed());
    assert_eq!(
        d.log,
        [format!(
            "{:?}",
            Event::Closed {
                reason: CloseReason::TooManyErrors
            }
        )]
    );
}

#[test]
fn timeouts_follow_the_state() {
    let t = Timeouts::default();
    let mut s = ServerSession::new(ServerConfig::new("mx.test"));
    assert_eq!(s.timeout(), t.greeting);
    s.greet();
    assert_eq!(s.timeout(), Duration::from_secs(300));
    s.receive(b"EHLO c\r\nMAIL FROM:<a@b.test>\r\n");
    while s.poll_event().is_some() {
        let _ = s.accept();
    }
    s.receive(b"RCPT TO:<c@d.test>\r\n");
    while s.poll_event().is_some() {
        let _ = s.accept();
    }
    s.receive(b"DATA\r\n");
    while s.poll_event().is_some() {
        let _ = s.accept();
    }
    assert_eq!(s.timeout(), Duration::from_secs(180));
    s.receive(b"x\r\n.\r\n");
    assert!(matches!(s.poll_event(), Some(Event::DataChunk(b"x\r\n"))));
    assert!(matches!(
        s.poll_event(),
        Some(Event::MessageEnd { size: 3 })
    ));
    assert_eq!(s.timeout(), Duration::from_secs(600));
    s.accept().unwrap();
    assert_eq!(s.timeout(), t.command);
    s.consume_output(usize::MAX);
    s.on_timeout();
    assert!(s.is_closed());
    assert_eq!(
        s.pending_output(),
        b"421 4.4.2 mx.test Error: timeout exceeded\r\n"
    );
    assert_eq!(
        s.poll_event(),
        Some(Event::Closed {
            reason: CloseReason::Timeout
        })
    );
    assert_eq!(s.timeout(), Duration::ZERO);
}

#[test]
fn vrfy_expn_defaults_and_app_decisions() {
    let mut d = Driver::new();
    d.feed(b"VRFY bob\r\nEXPN staff\r\nHELP\r\nNOOP\r\n");
    assert_eq!(
        d.codes(),
        ["252 2.5.2", "502 5.5.1", "214 2.0.0", "250 2.0.0"]
    );
    assert_eq!(d.s.pending_decision(), None);
    let mut c = ServerConfig::new("mx.test");
    c.decide_vrfy_expn = true;
    c.etrn = true;
    let mut d = Driver::with(c).manual();
    d.feed(b"VRFY bob\r\n");
    assert_eq!(d.s.pending_decision(), Some(Decision::Vrfy));
    d.s.reply(Reply::new(
        250,
        Some(EnhancedCode::new(2, 1, 5)),
        "Bob <bob@x.test>",
    ))
    .unwrap();
    d.feed(b"EHLO c\r\nETRN @example.org\r\n");
    assert_eq!(d.s.pending_decision(), Some(Decision::Etrn));
    d.s.accept().unwrap();
    let out = d.out();
    assert!(out.starts_with("250 2.1.5 Bob <bob@x.test>\r\n"));
    assert!(out.contains("250-ETRN\r\n"));
    assert!(out.ends_with("250 2.0.0 Queuing started\r\n"));
}

/// The smuggling payload hides a second transaction behind a line ending that is not
/// CRLF; the session must never see two messages.
#[test]
fn smuggling_variants_never_produce_two_messages() {
    let ends: &[&[u8]] = &[
        b"\n.\n",
        b"\n.\r\n",
        b"\r.\r",
        b"\r.\r\n",
        b"\r\n.\n",
        b"\r\n.\r",
        b"\n.\r",
        b"\r\n\x00.\r\n",
    ];
    for policy in [BareLinePolicy::Reject, BareLinePolicy::Normalize] {
        for end in ends {
            let mut config = ServerConfig::new("mx.test");
            config.bare_line_policy = policy;
            let mut d = Driver::with(config);
            d.in_transaction();
            d.feed(b"DATA\r\n");
            let mut body = b"Subject: one\r\n\r\nhello".to_vec();
            body.extend_from_slice(end);
            body.extend_from_slice(
                b"MAIL FROM:<evil@x.test>\r\nRCPT TO:<victim@y.test>\r\nDATA\r\nSubject: two\r\n\r\nsmuggled\r\n.\r\n",
            );
            d.feed(&body);
            let mails = d.log.iter().filter(|e| e.starts_with("mail:")).count();
            let ends = d
                .log
                .iter()
                .filter(|e| e.starts_with("end:") || e.starts_with("MessageRejected"))
                .count();
            assert_eq!((mails, ends), (0, 1), "{policy:?} {end:?}: {:?}", d.log);
        }
    }
}

#[test]
fn bare_lf_rejected_after_end_of_data() {
    let mut d = Driver::new();
    d.in_transaction();
    d.feed(b"DATA\r\n");
    d.out();
    d.feed(b"a\nb\r\n.\r\nNOOP\r\n");
    assert_eq!(d.codes(), ["550 5.5.2", "250 2.0.0"]);
    assert_eq!(
        d.log.last().unwrap(),
        &format!(
            "{:?}",
            Event::MessageRejected {
                error: DataError::BareLineEnding
            }
        )
    );
    // The transaction is over.
    d.feed(b"RCPT TO:<x@y.test>\r\n");
    assert_eq!(d.codes(), ["503 5.5.1"]);
}

#[test]
fn oversized_data_is_rejected_at_the_end() {
    let mut config = ServerConfig::new("mx.test");
    config.limits.max_message_size = 10;
    let mut d = Driver::with(config);
    d.in_transaction();
    d.feed(b"DATA\r\n");
    d.out();
    d.feed(b"0123456789\r\nabcdef\r\n.\r\n");
    assert_eq!(d.codes(), ["552 5.3.4"]);
    assert!(d.log.last().unwrap().starts_with("MessageRejected"));
}

#[test]
fn bdat_chunks_split_across_receives() {
    let mut d = Driver::new();
    d.in_transaction();
    for piece in [
        &b"BDAT 10\r\n0123"[..],
        b"",
        b"456789BD",
        b"AT 5\r\n\r\n.\r\n",
        b"BDAT 3 LAST\r",
        b"\nab",
        b"c",
    ] {
        d.feed(piece);
    }
    assert_eq!(
        d.log,
        ["datastart", "chunk:0123456789\r\n.\r\nabc", "end:18"]
    );
    assert_eq!(
        d.out(),
        "250 2.0.0 Ok: 10 octets received\r\n250 2.0.0 Ok: 15 octets received\r\n250 2.0.0 Ok: queued\r\n"
    );
    // A new transaction can follow, and BDAT 0 LAST ends an empty message.
    d.feed(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 0 LAST\r\n");
    assert_eq!(d.codes(), ["250 2.1.0", "250 2.1.5", "250 2.0.0"]);
    assert_eq!(d.log.last().unwrap(), "end:0");
}

#[test]
fn bdat_refused_start_discards_the_rest_of_the_transaction() {
    let mut d = Driver::new();
    d.in_transaction();
    d.auto = false;
    d.feed(b"BDAT 4\r\nabcdBDAT 4 LAST\r\nefghMAIL FROM:<a@b.test>\r\n");
    assert_eq!(d.s.pending_decision(), Some(Decision::DataStart));
    d.s.reply(Reply::new(
        452,
        Some(EnhancedCode::new(4, 3, 1)),
        "no space",
    ))
    .unwrap();
    d.pump();
    assert_eq!(d.s.pending_decision(), Some(Decision::Mail));
    d.s.accept().unwrap();
    assert_eq!(d.codes(), ["452 4.3.1", "503 5.5.1", "250 2.1.0"]);
    assert_eq!(d.log, ["datastart", "mail:a@b.test"]);
}

#[test]
fn bdat_over_size_limit() {
    let mut config = ServerConfig::new("mx.test");
    config.limits.max_message_size = 8;
    let mut d = Driver::with(config);
    d.in_transaction();
    d.feed(b"BDAT 5\r\nabcdeBDAT 5\r\nfghijBDAT 1 LAST\r\nk");
    assert_eq!(d.codes(), ["250 2.0.0", "552 5.3.4", "503 5.5.1"]);
    assert_eq!(d.log[..2], ["datastart", "chunk:abcde"]);
    assert!(d.log[2].starts_with("MessageRejected"));
    assert_eq!(d.log.len(), 3);
    // The failed transaction ended with LAST.
    d.feed(b"MAIL FROM:<a@b.test>\r\n");
    assert_eq!(d.codes(), ["250 2.1.0"]);
}

#[test]
fn binarymime_with_bdat() {
    let mut config = ServerConfig::new("mx.test");
    config.binary_mime = true;
    let mut d = Driver::with(config);
    d.feed(b"EHLO c\r\n");
    assert!(d.out().contains("250 BINARYMIME\r\n"));
    d.feed(
        b"MAIL FROM:<a@b.test> BODY=BINARYMIME\r\nRCPT TO:<c@d.test>\r\nBDAT 4 LAST\r\n\x00\r\n\n",
    );
    assert_eq!(d.log.last().unwrap(), "end:4");
    // Not offered by default.
    let mut d = Driver::new();
    d.feed(b"EHLO c\r\nMAIL FROM:<a@b.test> BODY=BINARYMIME\r\n");
    assert_eq!(d.codes().last().unwrap(), "555 5.5.4");
}

/// A client's stream in segments; each segment must arrive only after the replies to the
/// previous one (after DATA, a conforming client waits for the 354).
fn client_script() -> Vec<Vec<u8>> {
    vec![
        b"EHLO client.test\r\nMAIL FROM:<a@b.test> SIZE=50\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@f.test> NOTIFY=NEVER\r\nDATA\r\n".to_vec(),
        b"Subject: one\r\n\r\n..leading dot\r\nline\r\n.\r\n".to_vec(),
        b"MAIL FROM:<>\r\nRCPT TO:<Postmaster>\r\nBDAT 7\r\n\r\n.\r\nxyBDAT 0\r\nBDAT 5 LAST\r\n12345NOOP\r\nVRFY x\r\nFROB\r\nRSET\r\n".to_vec(),
        b"MAIL FROM:<g@h.test>\r\nRCPT TO:<i@j.test>\r\nDATA\r\n".to_vec(),
        b"bare\nlf\r\n.\r\nRSET\r\nNOOP hello\r\nQUIT\r\n".to_vec(),
    ]
}

fn run_split(segments: &[Vec<u8>], cuts: &[usize]) -> (Vec<String>, String) {
    run_split_as(segments, cuts, false)
}

/// [`run_split`]; `direct`: content through `receive_content_into`.
fn run_split_as(segments: &[Vec<u8>], cuts: &[usize], direct: bool) -> (Vec<String>, String) {
    let mut d = Driver::new();
    d.direct = direct;
    for seg in segments {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (seg.len() + 1)).collect();
        points.sort_unstable();
        let mut prev = 0;
        for p in points.into_iter().chain([seg.len()]) {
            d.feed(&seg[prev..p]);
            prev = p;
        }
    }
    let out = d.out();
    (d.log, out)
}

/// Pieces of client input: SMTP commands and framing, or noise.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    let words: Vec<&'static [u8]> = vec![
        b"EHLO c\r\n",
        b"HELO c\r\n",
        b"MAIL FROM:<a@b.test>\r\n",
        b"MAIL FROM:<> BODY=8BITMIME SIZE=20\r\n",
        b"RCPT TO:<c@d.test>\r\n",
        b"DATA\r\n",
        b"BDAT 3\r\n",
        b"BDAT 2 LAST\r\n",
        b"RSET\r\n",
        b"\r\n.\r\n",
        b".\r\n",
        b"\n.\n",
        b"QUIT\r\n",
        b"NOOP\r\n",
        b"AUTH PLAIN\r\n",
        b"*\r\n",
        b"\r\n",
        b"\n",
    ];
    prop_oneof![
        proptest::sample::select(words).prop_map(<[u8]>::to_vec),
        proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

proptest! {
    #[test]
    fn chunking_invariance(cuts in proptest::collection::vec(any::<usize>(), 0..40)) {
        let script = client_script();
        let whole = run_split(&script, &[]);
        let split = run_split(&script, &cuts);
        prop_assert_eq!(&split, &whole);
        prop_assert!(whole.0.contains(&"end:36".to_string()), "{:?}", whole.0);
        prop_assert!(whole.0.contains(&"end:12".to_string()), "{:?}", whole.0);
        prop_assert!(whole.1.ends_with("221 2.0.0 Bye\r\n"));
    }

    /// Content taken by `receive_content_into` is what the data chunks would have held,
    /// with the same events around it and the same replies, in any chunking.
    #[test]
    fn content_into_matches_data_chunks(cuts in proptest::collection::vec(any::<usize>(), 0..40)) {
        let script = client_script();
        prop_assert_eq!(run_split_as(&script, &cuts, true), run_split(&script, &cuts));
    }

    /// The same on random commands, framing and noise (bare line ends, dots, limits).
    #[test]
    fn content_into_matches_data_chunks_on_noise(
        pieces in proptest::collection::vec(fragment(), 0..40),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut script = vec![b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n".to_vec()];
        script.extend(pieces);
        prop_assert_eq!(run_split_as(&script, &cuts, true), run_split(&script, &cuts));
    }

    #[test]
    fn random_input_never_panics(pieces in proptest::collection::vec(fragment(), 0..40)) {
        let mut d = Driver::new();
        for p in &pieces {
            d.feed(p);
            // Decisions are taken at once, so only a partial line (at most an AUTH line)
            // may wait in the buffer.
            if !d.s.is_closed() {
                prop_assert!(d.s.buffered() <= Limits::default().max_auth_line);
            }
        }
    }
}

#[test]
fn bdat_start_refused_with_421_closes_at_once() {
    let mut d = Driver::new();
    d.in_transaction();
    d.auto = false;
    d.feed(b"BDAT 1000\r\nabc");
    d.s.reply(Reply::new(421, None, "mx.test shutting down"))
        .unwrap();
    d.pump();
    assert!(d.s.is_closed());
    assert_eq!(d.out(), "421 4.0.0 mx.test shutting down\r\n");
}

#[test]
fn wants_input_only_while_no_decision_is_pending() {
    let mut s = ServerSession::new(ServerConfig::new("mx.test"));
    s.greet();
    assert!(s.wants_input());
    s.receive(b"EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
    while let Some(e) = s.poll_event() {
        if matches!(e, Event::Mail { .. }) {
            break;
        }
    }
    assert_eq!(s.pending_decision(), Some(Decision::Mail));
    assert!(!s.wants_input());
    s.accept().unwrap();
    assert!(s.wants_input());
}

#[test]
fn input_beyond_the_buffer_limit_closes_with_421() {
    let mut config = ServerConfig::new("mx.test");
    config.limits.max_buffered_input = 4096;
    let mut s = ServerSession::new(config);
    s.greet();
    s.receive(b"EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
    // The application reads on although MAIL waits for its decision.
    while let Some(e) = s.poll_event() {
        if matches!(e, Event::Mail { .. }) {
            break;
        }
    }
    let rcpt = b"RCPT TO:<someone@example.net>\r\n".repeat(200);
    s.receive(&rcpt[..2000]);
    assert!(!s.is_closed());
    s.receive(&rcpt[2000..]);
    assert!(s.is_closed());
    let out = String::from_utf8_lossy(s.pending_output()).into_owned();
    assert!(
        out.ends_with("421 4.7.0 mx.test Error: too much pipelined input\r\n"),
        "{out}"
    );
    assert_eq!(
        s.poll_event(),
        Some(Event::Closed {
            reason: CloseReason::InputOverflow
        })
    );
    assert_eq!(s.poll_event(), None);
}

#[test]
fn auth_parameter_only_where_auth_is_offered() {
    // No AUTH offered (plain session without TLS): AUTH= is an unknown parameter.
    let mut d = Driver::new();
    d.ehlo();
    d.feed(b"MAIL FROM:<a@b.test> AUTH=<>\r\n");
    assert_eq!(d.codes(), ["555 5.5.4"]);
    // Offered: accepted.
    let mut c = tls_config();
    c.auth_without_tls = true;
    let mut d = Driver::with(c);
    d.ehlo();
    d.feed(b"MAIL FROM:<a@b.test> AUTH=<>\r\n");
    assert_eq!(d.codes(), ["250 2.1.0"]);
}

#[test]
fn duplicate_and_overlong_parameters_say_so() {
    let mut d = Driver::new();
    d.ehlo();
    d.feed(b"MAIL FROM:<a@b.test> SIZE=10 SIZE=10\r\n");
    assert_eq!(d.out(), "501 5.5.4 duplicate parameter SIZE\r\n");
    let envid = "e".repeat(101);
    d.feed(format!("MAIL FROM:<a@b.test> ENVID={envid}\r\n").as_bytes());
    assert_eq!(
        d.out(),
        "501 5.5.4 parameter ENVID too long (limit 100 characters)\r\n"
    );
}
