//! Scripted-server tests of the client session: each test feeds the server's replies as
//! bytes and asserts exactly what the client writes and reports.

use std::collections::VecDeque;

use proptest::prelude::*;

use super::*;
use crate::params::Notify;

const GREETING: &[u8] = b"220 mx.example ESMTP\r\n";
const EHLO_PLAIN: &[u8] = b"250-mx.example\r\n250-SIZE 1000\r\n250 8BITMIME\r\n";
const EHLO_PIPE: &[u8] =
    b"250-mx.example greets you\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n";
const BODY: &[u8] = b"Subject: hi\r\n\r\n.dot\nline\r\n";
const BODY_DATA: &str = "Subject: hi\r\n\r\n..dot\r\nline\r\n.\r\n";

/// An application that reacts correctly to every event, recording what the session
/// wrote and reported.
struct Driver {
    s: ClientSession,
    wire: Vec<u8>,
    events: Vec<ClientEvent>,
    outbox: VecDeque<Envelope>,
    body: Vec<u8>,
    body_off: usize,
    quit_when_done: bool,
}

impl Driver {
    fn new(config: ClientConfig, outbox: Vec<Envelope>) -> Self {
        Driver {
            s: ClientSession::new(config),
            wire: Vec::new(),
            events: Vec::new(),
            outbox: outbox.into(),
            body: BODY.to_vec(),
            body_off: 0,
            quit_when_done: true,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.s.receive(bytes);
        self.pump();
    }

    /// Feeds `bytes` and returns what the client wrote in response.
    fn round(&mut self, bytes: &[u8]) -> String {
        let before = self.wire.len();
        self.feed(bytes);
        String::from_utf8_lossy(&self.wire[before..]).into_owned()
    }

    fn pump(&mut self) {
        while let Some(ev) = self.s.poll_event() {
            self.events.push(ev.clone());
            match ev {
                ClientEvent::Ready | ClientEvent::Delivered { .. } => self.next_message(),
                ClientEvent::NotDelivered { .. } => self.next_message(),
                ClientEvent::StartTls => {
                    self.drain();
                    self.s.tls_established();
                }
                ClientEvent::SendBody => self.write_body(),
                _ => {}
            }
        }
        self.drain();
    }

    fn next_message(&mut self) {
        self.body_off = 0;
        if let Some(env) = self.outbox.pop_front() {
            self.s.send(env).expect("send");
        } else if self.quit_when_done {
            self.s.quit();
        }
    }

    fn write_body(&mut self) {
        while self.body_off < self.body.len() {
            let n = self.s.write_body(&self.body[self.body_off..]).unwrap();
            if n == 0 {
                return;
            }
            self.body_off += n;
        }
        self.s.finish_body().unwrap();
    }

    fn drain(&mut self) {
        let out = self.s.pending_output().to_vec();
        self.s.consume_output(out.len());
        self.wire.extend_from_slice(&out);
    }

    fn wire(&self) -> String {
        String::from_utf8_lossy(&self.wire).into_owned()
    }
}

fn config() -> ClientConfig {
    let mut c = ClientConfig::new("client.example");
    c.tls = TlsPolicy::Off;
    c
}

fn env(to: &[&str]) -> Envelope {
    Envelope::new("alice@example.org", to.iter().copied())
}

fn reply_of(status: &RcptStatus) -> u16 {
    status.reply().code
}

fn codes(recipients: &[RecipientResult]) -> Vec<u16> {
    recipients.iter().map(|r| reply_of(&r.status)).collect()
}

fn delivered(ev: &ClientEvent) -> (&[RecipientResult], &Reply) {
    match ev {
        ClientEvent::Delivered { recipients, reply } => (recipients, reply),
        other => panic!("expected Delivered, got {other:?}"),
    }
}

fn not_delivered(ev: &ClientEvent) -> (&[RecipientResult], &Rejection) {
    match ev {
        ClientEvent::NotDelivered { recipients, reason } => (recipients, reason),
        other => panic!("expected NotDelivered, got {other:?}"),
    }
}

/// Greets and EHLOs a driver with the given EHLO reply.
fn established(config: ClientConfig, ehlo: &[u8], outbox: Vec<Envelope>) -> Driver {
    let mut d = Driver::new(config, outbox);
    assert_eq!(d.round(GREETING), "EHLO client.example\r\n");
    d.feed(ehlo);
    d
}

#[test]
fn full_transaction_one_command_at_a_time() {
    let mut d = Driver::new(config(), vec![env(&["bob@example.net"])]);
    assert_eq!(d.s.timeout(), Duration::from_secs(300));
    assert_eq!(d.round(GREETING), "EHLO client.example\r\n");
    assert_eq!(d.round(EHLO_PLAIN), "MAIL FROM:<alice@example.org>\r\n");
    assert_eq!(d.s.capabilities().unwrap().size, Some(1000));
    assert_eq!(
        d.round(b"250 2.1.0 ok\r\n"),
        "RCPT TO:<bob@example.net>\r\n"
    );
    assert_eq!(d.round(b"250 2.1.5 ok\r\n"), "DATA\r\n");
    assert_eq!(d.s.timeout(), Duration::from_secs(120));
    assert_eq!(d.round(b"354 go ahead\r\n"), BODY_DATA);
    assert_eq!(d.s.timeout(), Duration::from_secs(600));
    assert_eq!(d.round(b"250 2.0.0 queued as X\r\n"), "QUIT\r\n");
    assert!(!d.s.is_closed());
    assert_eq!(d.round(b"221 2.0.0 bye\r\n"), "");
    assert!(d.s.is_closed());
    assert_eq!(d.s.timeout(), Duration::MAX);

    assert_eq!(d.events.len(), 4, "{:?}", d.events);
    assert_eq!(d.events[0], ClientEvent::Ready);
    assert_eq!(d.events[1], ClientEvent::SendBody);
    let (rcpts, reply) = delivered(&d.events[2]);
    assert_eq!(reply.code, 250);
    assert_eq!(rcpts.len(), 1);
    assert_eq!(rcpts[0].address, "bob@example.net");
    assert!(rcpts[0].status.is_accepted());
    assert_eq!(d.events[3], ClientEvent::Closed);
}

#[test]
fn pipelines_mail_rcpts_and_data_in_one_group() {
    let mut d = Driver::new(config(), vec![env(&["b@example.net", "c@example.net"])]);
    d.feed(GREETING);
    assert_eq!(
        d.round(EHLO_PIPE),
        "MAIL FROM:<alice@example.org>\r\nRCPT TO:<b@example.net>\r\n\
         RCPT TO:<c@example.net>\r\nDATA\r\n"
    );
    assert_eq!(d.s.timeout(), Duration::from_secs(300));
    let out = d.round(b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n354 go\r\n");
    assert_eq!(out, BODY_DATA);
    assert_eq!(d.round(b"250 2.0.0 ok\r\n"), "QUIT\r\n");
    let (rcpts, _) = delivered(&d.events[2]);
    assert_eq!(codes(rcpts), [250, 250]);
}

#[test]
fn mixed_recipient_results() {
    let to = ["a@example.net", "b@example.net", "c@example.net"];
    let mut d = established(config(), EHLO_PIPE, vec![env(&to)]);
    let out = d.round(b"250 ok\r\n250 ok\r\n451 4.2.1 later\r\n550 5.1.1 unknown\r\n354 go\r\n");
    assert_eq!(out, BODY_DATA);
    d.feed(b"250 2.0.0 ok\r\n");
    let (rcpts, _) = delivered(&d.events[2]);
    assert!(matches!(rcpts[0].status, RcptStatus::Accepted(_)));
    assert!(matches!(rcpts[1].status, RcptStatus::Temporary(_)));
    assert!(matches!(rcpts[2].status, RcptStatus::Permanent(_)));
    assert_eq!(reply_of(&rcpts[2].status), 550);
    assert_eq!(rcpts[2].address, "c@example.net");
}

#[test]
fn no_accepted_recipient_sends_no_body() {
    // Pipelined: DATA is refused by the server.
    let mut d = established(config(), EHLO_PIPE, vec![env(&["a@example.net"])]);
    let out = d.round(b"250 ok\r\n550 5.1.1 no\r\n554 5.5.1 no valid recipients\r\n");
    assert_eq!(out, "QUIT\r\n");
    let (rcpts, reason) = not_delivered(&d.events[1]);
    assert_eq!(*reason, Rejection::NoRecipients);
    assert_eq!(codes(rcpts), [550]);

    // Pipelined, and the server wrongly says 354: an empty message ends the data.
    let mut d = established(config(), EHLO_PIPE, vec![env(&["a@example.net"])]);
    assert_eq!(d.round(b"250 ok\r\n550 no\r\n354 go\r\n"), ".\r\n");
    assert_eq!(d.round(b"554 no recipients\r\n"), "QUIT\r\n");
    assert!(!d.events.contains(&ClientEvent::SendBody));
    assert_eq!(*not_delivered(&d.events[1]).1, Rejection::NoRecipients);

    // One at a time: DATA is never sent.
    let mut d = established(config(), EHLO_PLAIN, vec![env(&["a@example.net"])]);
    d.feed(b"250 ok\r\n");
    assert_eq!(d.round(b"550 5.1.1 no\r\n"), "QUIT\r\n");
    assert!(!d.wire().contains("DATA"));
    assert_eq!(*not_delivered(&d.events[1]).1, Rejection::NoRecipients);
}

#[test]
fn helo_fallback_when_ehlo_is_refused() {
    let mut d = Driver::new(config(), vec![env(&["b@example.net"])]);
    d.feed(GREETING);
    assert_eq!(d.round(b"502 5.5.1 what?\r\n"), "HELO client.example\r\n");
    assert_eq!(
        d.round(b"250 mx.example\r\n"),
        "MAIL FROM:<alice@example.org>\r\n"
    );
    let caps = d.s.capabilities().unwrap();
    assert_eq!(caps.domain, "mx.example");
    assert!(!caps.pipelining);

    // HELO refused too: failure.
    let mut d = Driver::new(config(), vec![]);
    d.feed(GREETING);
    d.feed(b"500 no\r\n");
    assert_eq!(d.round(b"550 go away\r\n"), "QUIT\r\n");
    assert!(matches!(
        d.events[0],
        ClientEvent::Failed(SessionError::HeloRefused(_))
    ));
    assert!(d.s.is_closed());
}

#[test]
fn greeting_refused() {
    let mut d = Driver::new(config(), vec![]);
    assert_eq!(d.round(b"554 5.7.1 no service\r\n"), "QUIT\r\n");
    assert!(
        matches!(d.events[0], ClientEvent::Failed(SessionError::GreetingRefused(ref r)) if r.code == 554)
    );
    assert!(d.s.is_closed());
    let mut d = Driver::new(config(), vec![]);
    assert_eq!(d.round(b"421 4.3.2 busy\r\n"), "");
    assert!(matches!(
        d.events[0],
        ClientEvent::Failed(SessionError::ServiceClosing(_))
    ));
}

#[test]
fn starttls_required_but_not_offered_sends_no_mail() {
    let mut c = config();
    c.tls = TlsPolicy::Required;
    let mut d = Driver::new(c, vec![env(&["b@example.net"])]);
    d.feed(GREETING);
    assert_eq!(d.round(EHLO_PIPE), "QUIT\r\n");
    assert_eq!(d.events, [ClientEvent::Failed(SessionError::TlsNotOffered)]);
    assert!(d.s.is_closed());
    assert!(!d.wire().contains("MAIL"));
}

#[test]
fn starttls_then_ehlo_again_and_injected_bytes_dropped() {
    let mut c = config();
    c.tls = TlsPolicy::Required;
    let mut d = Driver::new(c, vec![env(&["b@example.net"])]);
    d.feed(GREETING);
    let ehlo = b"250-mx.example\r\n250-STARTTLS\r\n250 PIPELINING\r\n";
    assert_eq!(d.round(ehlo), "STARTTLS\r\n");
    // The 220 and a forged reply in the same read: the forgery must be ignored.
    assert_eq!(
        d.round(b"220 2.0.0 ready\r\n250 forged\r\n"),
        "EHLO client.example\r\n"
    );
    assert!(d.s.is_tls());
    assert_eq!(d.events, [ClientEvent::StartTls]);
    assert_eq!(
        d.round(b"250-mx.example\r\n250 PIPELINING\r\n"),
        "MAIL FROM:<alice@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
    );
}

#[test]
fn starttls_refused_opportunistic_goes_on_required_fails() {
    let ehlo = b"250-mx.example\r\n250 STARTTLS\r\n";
    let mut c = config();
    c.tls = TlsPolicy::Opportunistic;
    let mut d = Driver::new(c.clone(), vec![env(&["b@example.net"])]);
    d.feed(GREETING);
    d.feed(ehlo);
    assert_eq!(
        d.round(b"454 4.7.0 TLS not available\r\n"),
        "MAIL FROM:<alice@example.org>\r\n"
    );
    assert!(!d.s.is_tls());

    c.tls = TlsPolicy::Required;
    let mut d = Driver::new(c, vec![]);
    d.feed(GREETING);
    d.feed(ehlo);
    assert_eq!(d.round(b"454 4.7.0 TLS not available\r\n"), "QUIT\r\n");
    assert!(matches!(
        d.events[0],
        ClientEvent::Failed(SessionError::StartTlsRefused(_))
    ));
}

fn auth_config() -> ClientConfig {
    let mut c = config();
    c.implicit_tls = true;
    c.credentials = Some(Credentials::new("user", "pass"));
    c
}

#[test]
fn auth_plain_when_offered() {
    let mut d = Driver::new(auth_config(), vec![]);
    d.feed(GREETING);
    let out = d.round(b"250-mx.example\r\n250 AUTH LOGIN PLAIN\r\n");
    // base64("\0user\0pass")
    assert_eq!(out, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
    assert!(d.events.is_empty());
    assert_eq!(d.round(b"235 2.7.0 ok\r\n"), "QUIT\r\n");
    assert_eq!(d.events, [ClientEvent::Ready]);
}

#[test]
fn auth_login_when_plain_not_offered() {
    let mut d = Driver::new(auth_config(), vec![]);
    d.feed(GREETING);
    assert_eq!(
        d.round(b"250-mx.example\r\n250 AUTH LOGIN\r\n"),
        "AUTH LOGIN\r\n"
    );
    assert_eq!(d.round(b"334 VXNlcm5hbWU6\r\n"), "dXNlcg==\r\n");
    assert_eq!(d.round(b"334 UGFzc3dvcmQ6\r\n"), "cGFzcw==\r\n");
    assert_eq!(d.round(b"235 2.7.0 ok\r\n"), "QUIT\r\n");
    assert_eq!(d.events, [ClientEvent::Ready]);
}

#[test]
fn auth_failures() {
    // Refused credentials.
    let mut d = Driver::new(auth_config(), vec![]);
    d.feed(GREETING);
    d.feed(b"250-mx.example\r\n250 AUTH PLAIN\r\n");
    assert_eq!(d.round(b"535 5.7.8 bad credentials\r\n"), "QUIT\r\n");
    assert!(
        matches!(d.events[0], ClientEvent::Failed(SessionError::AuthFailed(ref r)) if r.code == 535)
    );

    // No usable mechanism.
    let mut d = Driver::new(auth_config(), vec![]);
    d.feed(GREETING);
    assert_eq!(
        d.round(b"250-mx.example\r\n250 AUTH CRAM-MD5\r\n"),
        "QUIT\r\n"
    );
    assert_eq!(
        d.events,
        [ClientEvent::Failed(SessionError::AuthUnavailable)]
    );

    // No TLS: the password is not sent.
    let mut c = auth_config();
    c.implicit_tls = false;
    let mut d = Driver::new(c.clone(), vec![]);
    d.feed(GREETING);
    assert_eq!(d.round(b"250-mx.example\r\n250 AUTH PLAIN\r\n"), "QUIT\r\n");
    assert_eq!(d.events, [ClientEvent::Failed(SessionError::AuthNeedsTls)]);

    // ... unless the config allows it.
    c.allow_plaintext_auth = true;
    let mut d = Driver::new(c, vec![]);
    d.feed(GREETING);
    let out = d.round(b"250-mx.example\r\n250 AUTH PLAIN\r\n");
    assert!(out.starts_with("AUTH PLAIN "), "{out}");
}

#[test]
fn bdat_pipelined_in_bounded_chunks() {
    let mut c = config();
    c.limits.bdat_chunk_size = 64;
    let ehlo = b"250-mx.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n";
    let mut d = Driver::new(c, vec![env(&["b@example.net"])]);
    d.body = b"line of text\n".repeat(12);
    d.feed(GREETING);
    // No DATA in the group: the body waits for the RCPT replies.
    assert_eq!(
        d.round(ehlo),
        "MAIL FROM:<alice@example.org>\r\nRCPT TO:<b@example.net>\r\n"
    );
    let out = d.round(b"250 ok\r\n250 ok\r\n");
    let chunks = parse_bdat(out.as_bytes());
    assert!(chunks.len() >= 3, "{out}");
    for (i, (data, last)) in chunks.iter().enumerate() {
        assert!(data.len() <= 64);
        assert_eq!(*last, i + 1 == chunks.len());
    }
    let body: Vec<u8> = chunks.iter().flat_map(|c| c.0.clone()).collect();
    assert_eq!(body, b"line of text\r\n".repeat(12));
    let replies = "250 2.0.0 chunk ok\r\n".repeat(chunks.len() - 1) + "250 2.0.0 queued\r\n";
    assert_eq!(d.round(replies.as_bytes()), "QUIT\r\n");
    let (rcpts, reply) = delivered(&d.events[2]);
    assert_eq!(reply.code, 250);
    assert_eq!(codes(rcpts), [250]);
}

#[test]
fn bdat_without_pipelining_waits_for_each_chunk() {
    let mut c = config();
    c.limits.bdat_chunk_size = 64;
    let ehlo = b"250-mx.example\r\n250 CHUNKING\r\n";
    let mut d = Driver::new(c, vec![env(&["b@example.net"])]);
    d.body = b"x".repeat(200);
    d.feed(GREETING);
    d.feed(ehlo);
    d.feed(b"250 ok\r\n");
    let mut out = d.round(b"250 ok\r\n");
    let mut total = Vec::new();
    loop {
        let chunks = parse_bdat(out.as_bytes());
        assert_eq!(chunks.len(), 1, "one BDAT at a time: {out:?}");
        total.extend_from_slice(&chunks[0].0);
        if chunks[0].1 {
            break;
        }
        out = d.round(b"250 ok\r\n");
    }
    // The last line lacked its CRLF: BDAT adds one, as DATA does.
    let mut expected = b"x".repeat(200);
    expected.extend_from_slice(b"\r\n");
    assert_eq!(total, expected);
    assert_eq!(d.round(b"250 delivered\r\n"), "QUIT\r\n");
    assert!(
        d.events
            .iter()
            .any(|e| matches!(e, ClientEvent::Delivered { .. }))
    );
}

#[test]
fn bdat_refused_chunk_ends_the_message() {
    let mut c = config();
    c.limits.bdat_chunk_size = 64;
    let ehlo = b"250-mx.example\r\n250 CHUNKING\r\n";
    let mut d = Driver::new(c, vec![env(&["b@example.net"])]);
    d.body = b"x".repeat(200);
    d.feed(GREETING);
    d.feed(ehlo);
    d.feed(b"250 ok\r\n");
    d.feed(b"250 ok\r\n");
    assert_eq!(d.round(b"552 5.3.4 too big\r\n"), "QUIT\r\n");
    let (rcpts, reason) = not_delivered(d.events.last().unwrap());
    assert!(matches!(reason, Rejection::Message(r) if r.code == 552));
    assert_eq!(codes(rcpts), [552]);
}

/// Splits BDAT output into (chunk, last) pairs.
fn parse_bdat(mut out: &[u8]) -> Vec<(Vec<u8>, bool)> {
    let mut chunks = Vec::new();
    while !out.is_empty() {
        let eol = out.windows(2).position(|w| w == b"\r\n").expect("line");
        let line = std::str::from_utf8(&out[..eol]).unwrap();
        let mut words = line.split(' ');
        assert_eq!(words.next(), Some("BDAT"), "{line}");
        let n: usize = words.next().unwrap().parse().unwrap();
        let last = words.next() == Some("LAST");
        out = &out[eol + 2..];
        chunks.push((out[..n].to_vec(), last));
        out = &out[n..];
    }
    chunks
}

#[test]
fn binarymime_goes_verbatim_over_bdat() {
    let ehlo = b"250-mx.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 BINARYMIME\r\n";
    let mut e = env(&["b@example.net"]);
    e.body = Some(Body::BinaryMime);
    let mut d = established(config(), ehlo, vec![e]);
    d.body = b"\0\n\r".to_vec();
    assert!(
        d.wire()
            .contains("MAIL FROM:<alice@example.org> BODY=BINARYMIME\r\n")
    );
    let out = d.round(b"250 ok\r\n250 ok\r\n");
    assert_eq!(out.as_bytes(), b"BDAT 3 LAST\r\n\0\n\r");
}

#[test]
fn mail_refused() {
    let mut d = established(
        config(),
        EHLO_PLAIN,
        vec![env(&["a@example.net", "b@example.net"])],
    );
    assert_eq!(d.round(b"550 5.7.1 sender denied\r\n"), "QUIT\r\n");
    assert!(!d.wire().contains("RCPT"));
    let (rcpts, reason) = not_delivered(&d.events[1]);
    assert!(matches!(reason, Rejection::Mail(r) if r.code == 550));
    assert_eq!(codes(rcpts), [550, 550]);
    assert!(
        rcpts
            .iter()
            .all(|r| matches!(r.status, RcptStatus::Permanent(_)))
    );

    // Pipelined: a 4xx MAIL makes every recipient temporary despite their 503s.
    let mut d = established(config(), EHLO_PIPE, vec![env(&["a@example.net"])]);
    d.feed(b"451 4.3.0 try later\r\n503 5.5.1 no MAIL\r\n503 5.5.1 no valid rcpt\r\n");
    let (rcpts, reason) = not_delivered(&d.events[1]);
    assert!(matches!(reason, Rejection::Mail(r) if r.code == 451));
    assert!(matches!(rcpts[0].status, RcptStatus::Temporary(_)));
}

#[test]
fn data_refused_and_message_refused() {
    let mut d = established(config(), EHLO_PLAIN, vec![env(&["a@example.net"])]);
    d.feed(b"250 ok\r\n250 ok\r\n");
    d.feed(b"451 4.3.0 no resources\r\n");
    let (rcpts, reason) = not_delivered(&d.events[1]);
    assert!(matches!(reason, Rejection::Data(r) if r.code == 451));
    assert!(matches!(rcpts[0].status, RcptStatus::Temporary(_)));

    let mut d = established(config(), EHLO_PIPE, vec![env(&["a@example.net"])]);
    d.feed(b"250 ok\r\n250 ok\r\n354 go\r\n");
    d.feed(b"554 5.7.1 spam\r\n");
    let (rcpts, reason) = not_delivered(&d.events[2]);
    assert!(matches!(reason, Rejection::Message(r) if r.code == 554));
    assert!(matches!(rcpts[0].status, RcptStatus::Permanent(_)));
}

#[test]
fn service_closing_mid_session() {
    let mut d = established(config(), EHLO_PLAIN, vec![env(&["a@example.net"])]);
    d.feed(b"250 ok\r\n");
    assert_eq!(d.round(b"421 4.3.2 shutting down\r\n"), "");
    assert!(
        matches!(d.events[1], ClientEvent::Failed(SessionError::ServiceClosing(ref r)) if r.code == 421)
    );
    assert!(d.s.is_closed());
    // Later bytes are ignored; nothing more happens.
    assert_eq!(d.round(b"250 ok\r\n"), "");
    assert_eq!(d.events.len(), 2);

    // 421 while idle (server time-out) is reported the same way.
    let mut d2 = Driver::new(config(), vec![]);
    d2.quit_when_done = false;
    d2.feed(GREETING);
    d2.feed(EHLO_PLAIN);
    assert!(d2.s.is_ready());
    d2.feed(b"421 4.4.2 idle too long\r\n");
    assert!(matches!(
        d2.events[1],
        ClientEvent::Failed(SessionError::ServiceClosing(_))
    ));
}

/// Two messages for a server with PIPELINING, the first one's body written: the session
/// waits for the reply to its end of data.
fn first_of_two_sent() -> Driver {
    let e1 = env(&["a@example.net"]);
    let e2 = Envelope::new("", ["b@example.net"]);
    let mut d = established(config(), EHLO_PIPE, vec![e1, e2]);
    d.feed(b"250 ok\r\n250 ok\r\n354 go\r\n");
    d
}

#[test]
fn a_message_after_an_accepted_one_needs_no_rset() {
    let mut d = first_of_two_sent();
    // The end of data's 250 put the server back at its initial state.
    let out = d.round(b"250 2.0.0 first queued\r\n");
    assert_eq!(out, "MAIL FROM:<>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
    d.feed(b"250 ok\r\n250 ok\r\n354 go\r\n");
    assert_eq!(d.round(b"250 2.0.0 second queued\r\n"), "QUIT\r\n");
    let delivered_count = d
        .events
        .iter()
        .filter(|e| matches!(e, ClientEvent::Delivered { .. }))
        .count();
    assert_eq!(delivered_count, 2);
}

#[test]
fn a_message_after_a_refused_one_starts_with_rset() {
    // Pipelined: the refused body leaves the server's state unknown, RSET goes first.
    let mut d = first_of_two_sent();
    let out = d.round(b"554 5.7.1 content refused\r\n");
    assert_eq!(
        out,
        "RSET\r\nMAIL FROM:<>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
    );
    d.feed(b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    assert_eq!(d.round(b"250 2.0.0 second queued\r\n"), "QUIT\r\n");

    // Without pipelining RSET is answered before MAIL.
    let e1 = env(&["a@example.net"]);
    let e2 = env(&["b@example.net"]);
    let mut d = established(config(), EHLO_PLAIN, vec![e1, e2]);
    d.feed(b"250 ok\r\n");
    assert_eq!(d.round(b"550 no\r\n"), "RSET\r\n");
    assert_eq!(d.round(b"250 ok\r\n"), "MAIL FROM:<alice@example.org>\r\n");
}

#[test]
fn requirement_errors_write_nothing() {
    let mut d = Driver::new(config(), vec![]);
    d.quit_when_done = false;
    d.feed(GREETING);
    d.feed(b"250-mx.example\r\n250 SIZE 1000\r\n");
    let before = d.wire.len();
    let mut e = env(&["a@example.net"]);
    e.body = Some(Body::EightBitMime);
    assert_eq!(d.s.send(e), Err(SendError::EightBitMimeNotOffered));
    let mut e = env(&["a@example.net"]);
    e.body = Some(Body::BinaryMime);
    assert_eq!(d.s.send(e), Err(SendError::BinaryMimeNotOffered));
    let e = env(&["josé@example.net"]);
    assert_eq!(d.s.send(e), Err(SendError::SmtpUtf8NotOffered));
    let mut e = env(&["a@example.net"]);
    e.smtputf8 = true;
    assert_eq!(d.s.send(e), Err(SendError::SmtpUtf8NotOffered));
    let mut e = env(&["a@example.net"]);
    e.size = Some(1001);
    assert_eq!(
        d.s.send(e),
        Err(SendError::TooLarge {
            size: 1001,
            max: 1000
        })
    );
    let mut e = env(&["a@example.net"]);
    e.requiretls = true;
    assert_eq!(d.s.send(e), Err(SendError::RequireTlsUnavailable));
    assert_eq!(d.s.send(env(&[])), Err(SendError::NoRecipients));
    let mut e = env(&["a@example.net"]);
    e.mt_priority = Some(10);
    assert_eq!(d.s.send(e), Err(SendError::BadParameter("MT-PRIORITY")));
    assert_eq!(
        d.s.send(env(&["a@example.net>\r\nDATA"])),
        Err(SendError::InvalidAddress("a@example.net>\r\nDATA".into()))
    );
    assert_eq!(d.wire.len(), before, "nothing written");
    assert!(d.s.is_ready());
    assert_eq!(SendError::SmtpUtf8NotOffered.reply().code, 553);
    assert_eq!(
        SendError::EightBitMimeNotOffered.reply().enhanced,
        Some(EnhancedCode::new(5, 6, 3))
    );
    // A fitting message goes out.
    let mut e = env(&["a@example.net"]);
    e.size = Some(1000);
    d.s.send(e).unwrap();
    d.drain();
    assert!(
        d.wire()
            .ends_with("MAIL FROM:<alice@example.org> SIZE=1000\r\n")
    );
    // And not before the session is ready.
    assert_eq!(d.s.send(env(&["a@example.net"])), Err(SendError::NotReady));
    let mut fresh = ClientSession::new(config());
    assert_eq!(
        fresh.send(env(&["a@example.net"])),
        Err(SendError::NotReady)
    );
}

#[test]
fn optional_parameters_only_when_offered() {
    let mut e = env(&["a@example.net"]);
    e.ret = Some(crate::params::Ret::Hdrs);
    e.envid = Some("id 1".into());
    e.mt_priority = Some(3);
    e.body = Some(Body::SevenBit);
    e.recipients[0].notify = Some(Notify::Never);
    e.recipients[0].orcpt = Some(OriginalRecipient {
        addr_type: "rfc822".into(),
        address: "a@example.net".into(),
    });
    let d = established(config(), b"250 mx.example\r\n", vec![e.clone()]);
    assert!(
        d.wire().ends_with("MAIL FROM:<alice@example.org>\r\n"),
        "{}",
        d.wire()
    );

    let ehlo =
        b"250-mx.example\r\n250-DSN\r\n250-8BITMIME\r\n250-MT-PRIORITY\r\n250 PIPELINING\r\n";
    let d = established(config(), ehlo, vec![e]);
    let w = d.wire();
    let mail = w.lines().find(|l| l.starts_with("MAIL")).unwrap();
    for p in ["RET=HDRS", "ENVID=id+201", "MT-PRIORITY=3", "BODY=7BIT"] {
        assert!(mail.contains(p), "{p} missing in {mail}");
    }
    let rcpt = w.lines().find(|l| l.starts_with("RCPT")).unwrap();
    assert!(rcpt.contains("NOTIFY=NEVER"), "{rcpt}");
    assert!(rcpt.contains("ORCPT=rfc822;a@example.net"), "{rcpt}");
}

#[test]
fn smtputf8_sent_when_needed_and_offered() {
    let ehlo = b"250-mx.example\r\n250 SMTPUTF8\r\n";
    let d = established(config(), ehlo, vec![env(&["josé@example.net"])]);
    assert!(
        d.wire()
            .ends_with("MAIL FROM:<alice@example.org> SMTPUTF8\r\n")
    );
}

#[test]
fn malformed_reply_fails_the_session() {
    let mut d = Driver::new(config(), vec![]);
    assert_eq!(d.round(b"hello there\r\n"), "");
    assert!(matches!(
        d.events[0],
        ClientEvent::Failed(SessionError::MalformedReply(_))
    ));
    assert!(d.s.is_closed());

    // An unexpected code: 354 to MAIL.
    let mut d = established(config(), EHLO_PLAIN, vec![env(&["a@example.net"])]);
    d.feed(b"354 what\r\n");
    assert!(matches!(
        d.events[1],
        ClientEvent::Failed(SessionError::UnexpectedReply(_))
    ));
}

#[test]
fn timeouts_and_eof() {
    let mut s = ClientSession::new(config());
    s.receive(GREETING);
    s.receive(EHLO_PLAIN);
    assert_eq!(s.poll_event(), Some(ClientEvent::Ready));
    assert_eq!(s.timeout(), s.config.timeouts.idle);
    s.consume_output(usize::MAX);
    s.on_timeout();
    assert_eq!(s.pending_output(), b"QUIT\r\n");
    assert_eq!(s.timeout(), s.config.timeouts.command);
    s.on_eof();
    assert_eq!(s.poll_event(), Some(ClientEvent::Closed));
    assert!(s.is_closed());

    let mut s = ClientSession::new(config());
    s.on_timeout();
    assert_eq!(
        s.poll_event(),
        Some(ClientEvent::Failed(SessionError::Timeout))
    );
    assert!(s.is_closed());

    let mut s = ClientSession::new(config());
    s.receive(GREETING);
    s.on_eof();
    assert_eq!(
        s.poll_event(),
        Some(ClientEvent::Failed(SessionError::ConnectionClosed))
    );
}

#[test]
fn invalid_helo_name_fails_at_greeting() {
    let mut s = ClientSession::new(ClientConfig::new("bad name\r\nMAIL"));
    s.receive(GREETING);
    assert!(matches!(
        s.poll_event(),
        Some(ClientEvent::Failed(SessionError::InvalidHeloName(_)))
    ));
    assert_eq!(s.pending_output(), b"QUIT\r\n");
}

/// A conversation as rounds of server bytes, each round answering what the client wrote.
fn script() -> (ClientConfig, Vec<Envelope>, Vec<&'static [u8]>) {
    let mut c = config();
    c.tls = TlsPolicy::Opportunistic;
    c.credentials = Some(Credentials::new("user", "pass"));
    let rounds: Vec<&'static [u8]> = vec![
        b"220-mx.example ESMTP\r\n220 welcome\r\n",
        b"250-mx.example\r\n250-STARTTLS\r\n250-PIPELINING\r\n250 AUTH LOGIN\r\n",
        b"220 2.0.0 go ahead\r\n",
        b"250-mx.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 AUTH LOGIN\r\n",
        b"334 VXNlcm5hbWU6\r\n",
        b"334 UGFzc3dvcmQ6\r\n",
        b"235 2.7.0 ok\r\n",
        b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n450 4.2.0 busy\r\n354 go\r\n",
        b"250 2.0.0 queued\r\n",
        // No RSET after an accepted message: MAIL, RCPT and DATA are answered.
        b"250 ok\r\n550 5.1.1 nobody\r\n554 5.5.1 no recipients\r\n",
        b"221 2.0.0 bye\r\n",
    ];
    let e1 = env(&["a@example.net", "b@example.net"]);
    let e2 = env(&["c@example.net"]);
    (c, vec![e1, e2], rounds)
}

fn run_script(split: impl Fn(usize, &[u8]) -> Vec<usize>) -> (String, Vec<ClientEvent>) {
    let (c, outbox, rounds) = script();
    let mut d = Driver::new(c, outbox);
    for (r, bytes) in rounds.iter().enumerate() {
        let mut at = 0;
        for cut in split(r, bytes) {
            let cut = cut.clamp(at, bytes.len());
            d.feed(&bytes[at..cut]);
            at = cut;
        }
        d.feed(&bytes[at..]);
    }
    (d.wire(), d.events)
}

#[test]
fn scripted_conversation_whole() {
    let (wire, events) = run_script(|_, _| vec![]);
    assert_eq!(
        wire,
        "EHLO client.example\r\nSTARTTLS\r\nEHLO client.example\r\nAUTH LOGIN\r\n\
         dXNlcg==\r\ncGFzcw==\r\n\
         MAIL FROM:<alice@example.org>\r\nRCPT TO:<a@example.net>\r\nRCPT TO:<b@example.net>\r\n\
         DATA\r\nSubject: hi\r\n\r\n..dot\r\nline\r\n.\r\n\
         MAIL FROM:<alice@example.org>\r\nRCPT TO:<c@example.net>\r\nDATA\r\nQUIT\r\n"
    );
    assert_eq!(events.len(), 6, "{events:?}");
    assert_eq!(events[0], ClientEvent::StartTls);
    assert_eq!(events[1], ClientEvent::Ready);
    assert_eq!(events[2], ClientEvent::SendBody);
    assert_eq!(codes(delivered(&events[3]).0), [250, 450]);
    assert_eq!(*not_delivered(&events[4]).1, Rejection::NoRecipients);
    assert_eq!(events[5], ClientEvent::Closed);
}

#[test]
fn replies_split_at_every_byte_boundary() {
    let whole = run_script(|_, _| vec![]);
    let bytewise = run_script(|_, b| (1..b.len()).collect());
    assert_eq!(whole, bytewise);
    let (_, _, rounds) = script();
    for (r, bytes) in rounds.iter().enumerate() {
        for cut in 1..bytes.len() {
            let split = run_script(|i, _| if i == r { vec![cut] } else { vec![] });
            assert_eq!(whole, split, "round {r} split at {cut}");
        }
    }
}

proptest! {
    #[test]
    fn replies_in_any_chunking_give_the_same_result(
        cuts in proptest::collection::vec(proptest::collection::vec(0usize..120, 0..8), 11)
    ) {
        let whole = run_script(|_, _| vec![]);
        let split = run_script(|r, _| {
            let mut c = cuts[r].clone();
            c.sort_unstable();
            c
        });
        prop_assert_eq!(whole, split);
    }
}

#[test]
fn ready_can_be_stale_when_the_same_read_ends_the_session() {
    // Found by the fuzz target's application model: a reply nobody asked for right after
    // the EHLO reply ends the session before the application sees Ready.
    let mut s = ClientSession::new(config());
    s.receive(GREETING);
    let mut ehlo = EHLO_PLAIN.to_vec();
    ehlo.extend_from_slice(b"250 unsolicited\r\n");
    s.receive(&ehlo);
    assert_eq!(s.poll_event(), Some(ClientEvent::Ready));
    assert_eq!(s.send(env(&["a@example.net"])), Err(SendError::NotReady));
    assert!(matches!(
        s.poll_event(),
        Some(ClientEvent::Failed(SessionError::UnexpectedReply(_)))
    ));
    assert!(s.is_closed());
}
