#![no_main]
//! The client session fed arbitrary server bytes in arbitrary chunks, with an application
//! that reacts correctly to every event (sends up to three messages, writes a small body,
//! acknowledges TLS). Asserts: no panic, bounded output, and that the session always comes
//! to an end (closed after at most two time-outs).
//!
//! Input: byte 0 picks the config, byte 1 seeds the chunk sizes, the rest is the server.
use libfuzzer_sys::fuzz_target;
use postern_smtp::Body;
use postern_smtp::client::{
    ClientConfig, ClientEvent, ClientSession, Credentials, Envelope, SendError, TlsPolicy,
};

const BODY: &[u8] = b"Subject: fuzz\n\n.dot\r\nline\rmore\r\n";
const MAX_MESSAGES: usize = 3;
/// Commands of three small messages plus setup stay far below this.
const MAX_OUTPUT: usize = 64 * 1024;

fn config(mode: u8) -> ClientConfig {
    let mut c = ClientConfig::new("client.fuzz");
    c.tls = match mode & 3 {
        0 => TlsPolicy::Off,
        1 => TlsPolicy::Opportunistic,
        _ => TlsPolicy::Required,
    };
    if mode & 4 != 0 {
        c.credentials = Some(Credentials::new("user", "pass"));
        c.allow_plaintext_auth = mode & 8 != 0;
    }
    c.pipelining = mode & 16 == 0;
    c.chunking = mode & 32 == 0;
    c.limits.bdat_chunk_size = 16;
    c
}

fn envelope(mode: u8, n: usize) -> Envelope {
    let mut e = Envelope::new(
        if n == 1 { "" } else { "a@example.org" },
        ["b@example.net", "c@[192.0.2.1]"],
    );
    if mode & 64 != 0 {
        e.body = Some(Body::EightBitMime);
    }
    if mode & 128 != 0 {
        e.size = Some(BODY.len() as u64);
    }
    e
}

struct App {
    mode: u8,
    sent: usize,
    body_off: usize,
    output: usize,
}

impl App {
    fn next_message(&mut self, s: &mut ClientSession) {
        self.body_off = 0;
        if self.sent < MAX_MESSAGES {
            self.sent += 1;
            // Requirement errors leave the session usable. (NotReady happens when a later
            // reply in the same read already ended the session: events can be stale.)
            match s.send(envelope(self.mode, self.sent)) {
                Ok(()) => {}
                Err(SendError::NotReady) => assert!(!s.is_ready()),
                Err(_) => {
                    assert!(s.is_ready());
                    s.quit();
                }
            }
        } else {
            s.quit();
        }
    }

    fn handle(&mut self, s: &mut ClientSession) {
        let mut events = 0;
        while let Some(ev) = s.poll_event() {
            events += 1;
            assert!(events < 64, "event storm");
            match ev {
                ClientEvent::Ready | ClientEvent::Delivered { .. } => self.next_message(s),
                ClientEvent::NotDelivered { .. } => self.next_message(s),
                ClientEvent::StartTls => {
                    assert!(s.pending_output().is_empty() || self.drain(s));
                    s.tls_established();
                }
                ClientEvent::SendBody => {
                    while self.body_off < BODY.len() {
                        match s.write_body(&BODY[self.body_off..]) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => self.body_off += n,
                        }
                    }
                    if self.body_off == BODY.len() {
                        let _ = s.finish_body();
                    }
                }
                _ => {}
            }
        }
        self.drain(s);
    }

    fn drain(&mut self, s: &mut ClientSession) -> bool {
        let n = s.pending_output().len();
        self.output += n;
        assert!(self.output <= MAX_OUTPUT, "unbounded output");
        s.consume_output(n);
        true
    }
}

fuzz_target!(|data: &[u8]| {
    let [mode, seed, rest @ ..] = data else {
        return;
    };
    let mut s = ClientSession::new(config(*mode));
    let mut app = App {
        mode: *mode,
        sent: 0,
        body_off: 0,
        output: 0,
    };
    let mut rng = u32::from(*seed) | 0x100;
    let mut rest = rest;
    while !rest.is_empty() && !s.is_closed() {
        // xorshift: chunk sizes 1..=64 without spending input bytes on them.
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        let n = (rng as usize % 64 + 1).min(rest.len());
        s.receive(&rest[..n]);
        rest = &rest[n..];
        app.handle(&mut s);
    }
    // Whatever state it is in, the session ends after at most two time-outs.
    for _ in 0..2 {
        if s.is_closed() {
            break;
        }
        s.on_timeout();
        app.handle(&mut s);
    }
    assert!(s.is_closed(), "session did not end");
    // A closed session stays quiet.
    s.receive(b"250 ok\r\n");
    s.on_eof();
    s.on_timeout();
    assert!(s.poll_event().is_none());
    assert!(s.pending_output().is_empty());
});
