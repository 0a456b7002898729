#![no_main]
//! Random client bytes, in random chunks, into a server session whose application
//! accepts everything, refuses everything, or decides late. The session must not panic,
//! must make progress, and its output must stay proportional to its input. With bit 2 of
//! the mode byte the same input also goes to a second session that takes message content
//! through `receive_content_into` first: both must give the same events (content joined)
//! and the same output.
//!
//! Input layout: a mode byte, a config byte, then records `len` + `len` octets, each fed
//! with one `receive` (after `receive_content_into`, in the second session).
use libfuzzer_sys::fuzz_target;
use postern_smtp::server::{Event, ServerConfig, ServerSession};
use postern_smtp::{EnhancedCode, Reply};

fuzz_target!(|data: &[u8]| {
    let [mode, flags, rest @ ..] = data else {
        return;
    };
    let chunked = run(*mode, *flags, rest, false);
    if mode & 4 != 0 {
        assert_eq!(run(*mode, *flags, rest, true), chunked);
    }
});

/// What a run produced: each event (consecutive content joined into one), and the output.
#[derive(Debug, PartialEq)]
struct Transcript {
    events: Vec<String>,
    output: Vec<u8>,
}

impl Transcript {
    fn content(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        match self.events.last_mut() {
            Some(last) if last.starts_with("content:") => last.push_str(&text),
            _ => self.events.push(format!("content:{text}")),
        }
    }
}

fn run(mode: u8, flags: u8, rest: &[u8], direct: bool) -> Transcript {
    let mut transcript = Transcript {
        events: Vec::new(),
        output: Vec::new(),
    };
    let mut content = Vec::new();
    let mut config = ServerConfig::new("fuzz.test");
    config.starttls = flags & 1 != 0;
    config.auth = flags & 2 != 0;
    config.auth_without_tls = flags & 4 != 0;
    config.etrn = flags & 8 != 0;
    config.binary_mime = flags & 16 != 0;
    config.decide_vrfy_expn = flags & 32 != 0;
    config.limits.max_message_size = if flags & 64 != 0 { 100 } else { 1 << 20 };
    config.limits.max_recipients = 5;
    let mut session = if flags & 128 != 0 {
        ServerSession::new_tls(config)
    } else {
        ServerSession::new(config)
    };
    session.greet();
    let mut fed = 0usize;
    let mut sent = 0usize;
    let mut decisions = 0usize;
    let mut rest = rest;
    let mut round = 0usize;
    // Events over the whole run: input held back while a decision was pending comes out
    // as events in a later round, so only the total is bounded by what was fed.
    let mut total_events = 0usize;
    while let [len, tail @ ..] = rest {
        let n = (*len as usize).min(tail.len());
        let (chunk, tail) = tail.split_at(n);
        rest = tail;
        round += 1;
        // A late decision from the previous round.
        if session.pending_decision().is_some() {
            decide(&mut session, mode, round);
            decisions += 1;
        }
        let taken = if direct {
            session.receive_content_into(chunk, &mut content)
        } else {
            0
        };
        assert!(taken <= chunk.len());
        session.receive(&chunk[taken..]);
        transcript.content(&std::mem::take(&mut content));
        fed += chunk.len();
        loop {
            let (starttls, is_event) = match session.poll_event() {
                None => (false, false),
                Some(Event::DataChunk(c)) => {
                    transcript.content(c);
                    (false, true)
                }
                Some(ev) => {
                    transcript.events.push(format!("{ev:?}"));
                    (matches!(ev, Event::StartTls), true)
                }
            };
            if !is_event {
                break;
            }
            total_events += 1;
            assert!(
                total_events <= 2 * fed + 8 * round + 2 * decisions,
                "no progress"
            );
            if starttls && round % 2 == 0 {
                assert!(session.tls_established());
            }
            if session.pending_decision().is_some() && (mode & 3 != 2 || round % 3 == 0) {
                decide(&mut session, mode, round);
                decisions += 1;
            }
        }
        let out = session.pending_output().len();
        transcript.output.extend_from_slice(session.pending_output());
        sent += out;
        // Consume in two steps to exercise partial writes.
        session.consume_output(out / 2);
        session.consume_output(out - out / 2);
        assert!(session.pending_output().is_empty());
        assert!(
            sent <= 1024 + 64 * fed + 600 * decisions,
            "output {sent} for {fed} input octets"
        );
    }
    session.on_timeout();
    assert!(session.is_closed());
    transcript
}

fn decide(session: &mut ServerSession, mode: u8, round: usize) {
    let result = match mode & 3 {
        0 => session.accept(),
        1 => session.reply(Reply::new(550, Some(EnhancedCode::new(5, 7, 1)), "refused")),
        2 if round % 2 == 0 => session.accept(),
        _ => session
            .reply(Reply::new(452, None, "later"))
            .or_else(|_| session.accept()),
    };
    result.expect("a decision was pending");
}
