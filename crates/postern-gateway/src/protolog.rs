//! The protocol log (the IMS "SMTP protocol logging"): a per-session transcript of what the
//! client sent and what the gateway answered, one line per command or reply, with the
//! session's queue ids so it joins the tracking log.
//!
//! Message content is not written (a line says how many octets came), and AUTH secrets
//! are redacted: the argument after `AUTH <mechanism>`, and every client line answering a
//! `334` challenge. Files are `DIR/YYYYMMDD.log` (UTC), lines
//! `TIME SESSION PEER DIR TEXT` with DIR `>` for the client and `<` for the gateway, and
//! `*` for notes such as `queued as ID`.
//!
//! Outbound sessions (the gateway delivering to another server) are logged the same way
//! in the same files, so a relayed message reads in order: their SESSION is `o` and a
//! number (`o7`), PEER the server connected to, and DIR keeps its meaning — `>` the SMTP
//! client (here the gateway), `<` the server. Notes say which host was tried for which
//! queue id and Message-ID (`* connecting to … for 0001ABC <m@x>`, `* sending 0001ABC
//! <m@x>`), and why a connection failed (refused, timed out): the transcript that tells
//! "host unreachable" from "refused by the host" (seed 001). The same redaction applies
//! to what the gateway sends.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// Longest line kept in the log; longer ones are cut and marked.
const MAX_LINE: usize = 1000;

/// The daily transcript files of one gateway.
#[derive(Debug)]
pub struct ProtocolLog {
    dir: PathBuf,
    file: Mutex<Option<(String, File)>>,
    next_session: AtomicU64,
}

impl ProtocolLog {
    /// A log writing into `dir` (created when needed).
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Arc<ProtocolLog>> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(Arc::new(ProtocolLog {
            dir,
            file: Mutex::new(None),
            next_session: AtomicU64::new(1),
        }))
    }

    /// A transcript for a new session with `peer`.
    pub fn session(self: &Arc<Self>, peer: SocketAddr) -> Transcript {
        Transcript {
            log: Some(self.clone()),
            recording: true,
            id: self.next_session.fetch_add(1, Ordering::Relaxed),
            outbound: false,
            peer,
            state: State::Command,
            partial: Vec::new(),
            lines: String::new(),
        }
    }

    /// A transcript for a new outbound session to `peer` (the gateway is the client:
    /// feed what it sends to [`Transcript::client`], what the server answers to
    /// [`Transcript::server`]).
    pub fn outbound_session(self: &Arc<Self>, peer: SocketAddr) -> Transcript {
        let mut t = self.session(peer);
        t.outbound = true;
        t
    }

    fn append(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        let day = utc_now().format("%Y%m%d").to_string();
        let mut g = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.as_ref().is_none_or(|(d, _)| *d != day) {
            let path = self.dir.join(format!("{day}.log"));
            *g = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ok()
                .map(|f| (day, f));
        }
        if let Some((_, f)) = g.as_mut() {
            // A protocol log is diagnostics: a failed write must never stop mail.
            let _ = f.write_all(text.as_bytes());
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Client lines are commands.
    Command,
    /// The next client line answers an AUTH challenge: redact it.
    AuthResponse,
    /// Message data after 354, until CRLF.CRLF; the count so far and the last 4 octets.
    Data(u64, [u8; 4]),
    /// A BDAT chunk: octets still to skip, and the count.
    Chunk(u64, u64),
}

/// One session's transcript. Lines are buffered and written when the session calls
/// [`Transcript::flush`] (after each exchange) and when it is dropped.
#[derive(Debug)]
pub struct Transcript {
    log: Option<Arc<ProtocolLog>>,
    recording: bool,
    id: u64,
    /// An outbound session (the gateway is the client): its id is written `o<id>`.
    outbound: bool,
    peer: SocketAddr,
    state: State,
    partial: Vec<u8>,
    lines: String,
}

/// The current time (chrono is built without its clock; the gateway's clock is
/// [`crate::clock::now`]).
/// A character a transcript line must not carry as it is: a control character (C0, DEL,
/// C1 such as NEL), a line or paragraph separator (U+2028, U+2029: a line break to some
/// readers), or an invisible format character (bidirectional overrides and isolates,
/// zero-width characters, the byte-order mark, tag characters) that would make a line
/// read otherwise than it is.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{0600}'..='\u{0605}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{110BD}'
                | '\u{E0001}'
                | '\u{E0020}'..='\u{E007F}'
        )
}

/// The first `max` characters of `text` for a transcript: each character of
/// [`needs_escape`] written as `\u{HEX}`, and a backslash as `\\`, so the line is
/// one line and says exactly what was sent (issue 25).
fn escape(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars().take(max) {
        if c == '\\' {
            out.push_str("\\\\");
        } else if needs_escape(c) {
            out.push_str(&format!("\\u{{{:X}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

fn utc_now() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(crate::clock::now().0 as i64).unwrap_or_default()
}

fn now_text() -> String {
    utc_now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl Transcript {
    /// A transcript that records nothing (protocol logging off).
    pub fn disabled() -> Transcript {
        Transcript {
            log: None,
            recording: false,
            id: 0,
            outbound: false,
            peer: SocketAddr::from(([0, 0, 0, 0], 0)),
            state: State::Command,
            partial: Vec::new(),
            lines: String::new(),
        }
    }

    /// A transcript kept in memory only (for tests and fuzzing): read it with
    /// [`Transcript::take_lines`].
    pub fn in_memory() -> Transcript {
        let mut t = Transcript::disabled();
        t.recording = true;
        t
    }

    /// Whether the next client bytes start a command line (not message data, a BDAT
    /// chunk, the rest of a partial line, or an answer to an AUTH challenge).
    pub fn expects_command(&self) -> bool {
        self.state == State::Command && self.partial.is_empty()
    }

    /// The lines recorded and not yet written, taken out.
    pub fn take_lines(&mut self) -> String {
        std::mem::take(&mut self.lines)
    }

    fn line(&mut self, dir: char, text: &str) {
        let cut = if text.chars().nth(MAX_LINE - 1).is_some() {
            " [cut]"
        } else {
            ""
        };
        let text = escape(text, MAX_LINE);
        let o = if self.outbound { "o" } else { "" };
        self.lines.push_str(&format!(
            "{} {o}{} {} {dir} {text}{cut}\n",
            now_text(),
            self.id,
            self.peer
        ));
    }

    /// Whether this transcript records anything (callers skip building notes when not).
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// Records a note (`connected`, `queued as ID`, `TLS established`).
    pub fn note(&mut self, text: &str) {
        if self.recording {
            self.line('*', text);
        }
    }

    /// [`Transcript::note`] for a formatted note: it is only formatted when recorded, so
    /// a gateway without the protocol log pays nothing for it.
    pub fn note_fmt(&mut self, args: std::fmt::Arguments<'_>) {
        if self.recording {
            self.line('*', &args.to_string());
        }
    }

    /// Records what the gateway sent.
    pub fn server(&mut self, bytes: &[u8]) {
        if !self.recording {
            return;
        }
        for raw in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let text = String::from_utf8_lossy(raw.strip_suffix(b"\r").unwrap_or(raw)).into_owned();
            if text.starts_with("354") {
                // The CRLF that ended the DATA command counts for the end marker: an
                // empty message is just ".CRLF".
                self.state = State::Data(0, [0, 0, b'\r', b'\n']);
            } else if text.starts_with("334") {
                self.state = State::AuthResponse;
            }
            self.line('<', &text);
        }
    }

    /// Records what the client sent.
    pub fn client(&mut self, mut bytes: &[u8]) {
        if !self.recording {
            return;
        }
        while !bytes.is_empty() {
            bytes = match self.state {
                State::Data(n, tail) => self.data(bytes, n, tail),
                State::Chunk(left, n) => self.chunk(bytes, left, n),
                State::Command | State::AuthResponse => self.command_bytes(bytes),
            };
        }
    }

    fn data<'b>(&mut self, bytes: &'b [u8], n: u64, mut tail: [u8; 4]) -> &'b [u8] {
        for (i, b) in bytes.iter().enumerate() {
            tail = [tail[1], tail[2], tail[3], *b];
            // The content ends with the CRLF before ".CRLF" (RFC 5321 4.1.1.4): the size
            // is everything read so far but the final ".CRLF".
            if &tail == b"\n.\r\n" {
                let size = (n + i as u64 + 1).saturating_sub(3);
                self.line('>', &format!("[message data: {size} octets]"));
                self.line('>', ".");
                self.state = State::Command;
                return &bytes[i + 1..];
            }
        }
        self.state = State::Data(n + bytes.len() as u64, tail);
        &[]
    }

    fn chunk<'b>(&mut self, bytes: &'b [u8], left: u64, n: u64) -> &'b [u8] {
        let take = (left.min(bytes.len() as u64)) as usize;
        if take as u64 == left {
            self.line('>', &format!("[chunk data: {n} octets]"));
            self.state = State::Command;
        } else {
            self.state = State::Chunk(left - take as u64, n);
        }
        &bytes[take..]
    }

    fn command_bytes<'b>(&mut self, bytes: &'b [u8]) -> &'b [u8] {
        let Some(i) = memchr::memchr(b'\n', bytes) else {
            // Bounded: a client line longer than the cap is logged cut.
            if self.partial.len() < 4 * MAX_LINE {
                self.partial.extend_from_slice(bytes);
            }
            return &[];
        };
        self.partial.extend_from_slice(&bytes[..i]);
        let raw = std::mem::take(&mut self.partial);
        let text = String::from_utf8_lossy(raw.strip_suffix(b"\r").unwrap_or(&raw)).into_owned();
        self.client_line(&text);
        &bytes[i + 1..]
    }

    fn client_line(&mut self, text: &str) {
        if self.state == State::AuthResponse {
            self.state = State::Command;
            self.line('>', "****");
            return;
        }
        // Wherever "AUTH " appears (even after junk a server would refuse), what follows
        // the mechanism may be a secret.
        let upper = text.to_ascii_uppercase();
        let auth = upper.match_indices("AUTH").map(|(i, _)| i).find(|&i| {
            text.as_bytes()
                .get(i + 4)
                .is_some_and(u8::is_ascii_whitespace)
        });
        if let Some(at) = auth {
            let after = &text[at + 5..];
            let mech = after.split_ascii_whitespace().next().unwrap_or("");
            let more = after.split_ascii_whitespace().nth(1).is_some();
            let secret = if more { " ****" } else { "" };
            self.line('>', &format!("{}AUTH {mech}{secret}", &text[..at]));
            return;
        }
        let verb = text
            .split_ascii_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match verb.as_str() {
            "BDAT" => {
                self.line('>', text);
                if let Some(n) = text
                    .split_ascii_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    self.state = if n == 0 {
                        State::Command
                    } else {
                        State::Chunk(n, n)
                    };
                }
            }
            _ => self.line('>', text),
        }
    }

    /// Writes the buffered lines.
    pub fn flush(&mut self) {
        if let Some(log) = &self.log {
            log.append(&self.lines);
        }
        self.lines.clear();
    }
}

impl Drop for Transcript {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript() -> (Arc<ProtocolLog>, Transcript, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "postern-protolog-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        let _ = fs::remove_dir_all(&dir);
        let log = ProtocolLog::open(&dir).unwrap();
        let t = log.session("127.0.0.1:4000".parse().unwrap());
        (log, t, dir)
    }

    fn rand_suffix() -> u64 {
        static N: AtomicU64 = AtomicU64::new(0);
        N.fetch_add(1, Ordering::Relaxed)
    }

    fn read(dir: &PathBuf) -> String {
        let mut out = String::new();
        for e in fs::read_dir(dir).unwrap() {
            out.push_str(&fs::read_to_string(e.unwrap().path()).unwrap());
        }
        out
    }

    #[test]
    fn transcript_redacts_secrets_and_skips_content() {
        let (_log, mut t, dir) = transcript();
        t.server(b"220 gw ESMTP\r\n");
        t.client(b"EHLO c\r\nAUTH PLAIN AGpvAHNlY3JldA==\r\n");
        t.server(b"250-gw\r\n250 AUTH PLAIN LOGIN\r\n235 2.7.0 ok\r\n");
        t.client(b"AUTH LOGIN\r\n");
        t.server(b"334 VXNlcm5hbWU6\r\n");
        t.client(b"am8=\r\n");
        t.server(b"334 UGFzc3dvcmQ6\r\n");
        t.client(b"c2VjcmV0\r\n");
        t.client(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
        t.server(b"250 ok\r\n250 ok\r\n354 go\r\n");
        t.client(b"Subject: private\r\n\r\nsecret body\r");
        t.client(b"\n.\r\nQUIT\r\n");
        t.note("queued as 0001");
        t.server(b"354 go\r\n");
        t.client(b".\r\n");
        t.client(b"BDAT 5 LAST\r\nhello");
        drop(t);
        let text = read(&dir);
        assert!(
            !text.contains("AGpvAHNlY3JldA")
                && !text.contains("am8=")
                && !text.contains("c2VjcmV0"),
            "{text}"
        );
        assert!(text.contains("> AUTH PLAIN ****\n") && text.contains("> AUTH LOGIN\n"));
        assert_eq!(text.matches("> ****\n").count(), 2, "{text}");
        assert!(
            !text.contains("private") && !text.contains("secret body"),
            "{text}"
        );
        assert!(text.contains("> [message data: 33 octets]\n"), "{text}");
        assert!(text.contains("> [message data: 0 octets]\n"), "{text}");
        assert!(text.contains("> QUIT\n") && text.contains("* queued as 0001\n"));
        assert!(
            text.contains("> BDAT 5 LAST\n")
                && text.contains("[chunk data: 5 octets]")
                && !text.contains("hello")
        );
        assert!(text.contains(" 127.0.0.1:4000 < 220 gw ESMTP\n"));
        fs::remove_dir_all(&dir).unwrap();
    }

    /// An outbound session: the gateway's own AUTH (PLAIN, and LOGIN answers to 334) is
    /// redacted, the message content is counted not written, the id is `o<n>`.
    #[test]
    fn outbound_transcript_redacts_the_gateways_secrets() {
        let (_log, _inbound, dir) = transcript();
        let log = ProtocolLog::open(&dir).unwrap();
        let mut t = log.outbound_session("127.0.0.1:25".parse().unwrap());
        t.note("connecting to mx.test [127.0.0.1:25] for 0001ABC <m@x>");
        t.server(b"220 mx ESMTP\r\n");
        t.client(b"EHLO gw\r\n");
        t.server(b"250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
        t.client(b"AUTH PLAIN AHUAc2VjcmV0LXB3\r\n");
        t.server(b"535 5.7.8 no\r\n");
        t.client(b"AUTH LOGIN\r\n");
        t.server(b"334 VXNlcm5hbWU6\r\n");
        t.client(b"dXNlcg==\r\n");
        t.server(b"334 UGFzc3dvcmQ6\r\n");
        t.client(b"c2VjcmV0LXB3\r\n");
        t.server(b"235 ok\r\n");
        t.client(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
        t.server(b"250 ok\r\n250 ok\r\n354 go\r\n");
        t.client(b"Subject: private\r\n\r\nbody\r\n.\r\n");
        t.server(b"250 2.0.0 queued\r\n");
        drop(t);
        let text = read(&dir);
        assert!(
            !text.contains("AHUAc2VjcmV0LXB3") && !text.contains("c2VjcmV0LXB3"),
            "{text}"
        );
        assert!(
            !text.contains("dXNlcg==") && !text.contains("private"),
            "{text}"
        );
        assert!(
            text.contains(" o1 127.0.0.1:25 > AUTH PLAIN ****\n"),
            "{text}"
        );
        assert!(text.contains(" o1 127.0.0.1:25 < 220 mx ESMTP\n"), "{text}");
        assert!(text.contains("> [message data: 26 octets]\n"), "{text}");
        assert!(text.contains("* connecting to mx.test"), "{text}");
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Found by the protocol_log fuzz target: AUTH after other bytes on the line.
    #[test]
    fn auth_after_junk_is_redacted() {
        let mut t = Transcript::in_memory();
        t.client(b"220 gw\rAUTH PLAIN c2VjcmV0MQ==\r\nx\tauth\tLOGIN c2VjcmV0Mg==\r\n");
        let text = t.take_lines();
        assert!(
            !text.contains("c2VjcmV0MQ") && !text.contains("c2VjcmV0Mg"),
            "{text}"
        );
        assert_eq!(text.matches("****").count(), 2, "{text}");
    }

    /// The log lines without their time stamps.
    fn lines_of(t: &Transcript) -> Vec<String> {
        t.lines
            .lines()
            .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest).to_owned())
            .collect()
    }

    fn run(script: &[(bool, Vec<u8>)], splits: &[usize]) -> Vec<String> {
        let log = ProtocolLog::open(
            std::env::temp_dir().join(format!("postern-protolog-prop-{}", std::process::id())),
        )
        .unwrap();
        let mut t = log.session("127.0.0.1:1".parse().unwrap());
        let mut k = 0;
        for (server, bytes) in script {
            if *server {
                t.server(bytes);
                continue;
            }
            // Feed client bytes in pieces cut at the given points.
            let mut rest: &[u8] = bytes;
            while !rest.is_empty() {
                let n = splits.get(k).map_or(rest.len(), |s| 1 + s % rest.len());
                k += 1;
                t.client(&rest[..n]);
                rest = &rest[n..];
            }
        }
        let out = lines_of(&t);
        t.lines.clear();
        out
    }

    proptest::proptest! {
        /// However the client's bytes are cut into reads, the transcript is the same.
        #[test]
        fn chunking_invariance(
            splits in proptest::collection::vec(0usize..1000, 0..40),
            body in "[ -~]{0,60}",
            secret in "Zq[A-Za-z0-9+/=]{8,30}",
        ) {
            // A client dot-stuffs a line that starts with a dot.
            let body = if body.starts_with('.') { format!(".{body}") } else { body };
            let script: Vec<(bool, Vec<u8>)> = vec![
                (true, b"220 gw\r\n".to_vec()),
                (false, format!("EHLO c\r\nAUTH PLAIN {secret}\r\n").into_bytes()),
                (true, b"250 gw\r\n235 ok\r\n".to_vec()),
                (false, b"MAIL FROM:<a@b>\r\nDATA\r\n".to_vec()),
                (true, b"250 ok\r\n354 go\r\n".to_vec()),
                (false, format!("{body}\r\n..x\r\n.\r\nBDAT 3 LAST\r\nabcQUIT\r\n").into_bytes()),
            ];
            let whole = run(&script, &[]);
            let cut = run(&script, &splits);
            proptest::prop_assert_eq!(&whole, &cut);
            let text = whole.join("\n");
            proptest::prop_assert!(!text.contains(&secret), "secret leaked: {}", text);
            let size = body.len() + 2 + 5;
            let expected = format!("[message data: {size} octets]");
            proptest::prop_assert!(text.contains(&expected), "{}", text);
            proptest::prop_assert!(text.ends_with("> QUIT"), "{}", text);
        }
    }

    #[test]
    fn separators_and_invisible_characters_are_escaped() {
        // Issue 25: a raw U+2028 reached the log (a line break to many readers).
        let (_log, mut t, dir) = transcript();
        t.client("EHLO a\u{2028}b\u{2029}c\u{202E}d\u{FEFF}e\u{85}f\u{7}g\\h\r\n".as_bytes());
        drop(t);
        let text = read(&dir);
        let line = text.lines().find(|l| l.contains("EHLO")).unwrap();
        assert!(
            line.ends_with(r"EHLO a\u{2028}b\u{2029}c\u{202E}d\u{FEFF}e\u{85}f\u{7}g\\h"),
            "{line}"
        );
        assert_eq!(text.lines().count(), text.matches('\n').count());
        for c in [
            '\u{2028}', '\u{2029}', '\u{202E}', '\u{FEFF}', '\u{85}', '\u{7}',
        ] {
            assert!(!text.contains(c), "{c:?} raw in the log");
        }
        // Plain text, accents and CJK stay as they are.
        assert_eq!(escape("héllo 日本", 100), "héllo 日本");
        assert_eq!(escape(&"x".repeat(10), 4), "xxxx");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn long_lines_are_cut_and_disabled_writes_nothing() {
        let (_log, mut t, dir) = transcript();
        t.client(&vec![b'x'; 100_000]);
        t.client(b"\r\n");
        drop(t);
        let text = read(&dir);
        assert!(
            text.len() < 2 * MAX_LINE && text.contains("[cut]"),
            "{}",
            text.len()
        );
        let mut off = Transcript::disabled();
        off.client(b"EHLO x\r\n");
        assert!(off.lines.is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
