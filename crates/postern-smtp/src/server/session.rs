//! The server state machine: [`ServerSession`].

use std::io::Write as _;
use std::time::Duration;

use super::auth::{self, AuthWait, Credentials};
use super::config::ServerConfig;
use super::event::{AuthMechanism, CloseReason, Decision, DecisionError, Event};
use super::replies as r;
use crate::command::{AuthInitial, Command};
use crate::data::{DataDecoder, DataError, DataStatus};
use crate::error::CommandError;
use crate::limits::Limits;
use crate::params::{Body, MailParams, RcptParams};
use crate::path::{ForwardPath, ReversePath};
use crate::reply::{EnhancedCode, Reply};

/// One SMTP server connection, sans-IO: bytes in, events and reply bytes out.
///
/// The application owns the socket and the timer:
///
/// 1. [`greet`](Self::greet) (or [`reject_connection`](Self::reject_connection)), then
///    send [`pending_output`](Self::pending_output) and [`consume_output`](Self::consume_output)
///    what was written.
/// 2. Feed what it reads to [`receive`](Self::receive), then call
///    [`poll_event`](Self::poll_event) until it returns `None`, answering each decision
///    with [`accept`](Self::accept) or [`reply`](Self::reply) (at once or later).
/// 3. Send the pending output; once [`is_closed`](Self::is_closed), send what is left and
///    close the connection.
///
/// Replies come out in command order however the client pipelines: while a decision is
/// pending the session processes no further input. Read from the connection only while
/// [`wants_input`](Self::wants_input) is true; input given to `receive` is kept until
/// processed, up to [`Limits::max_buffered_input`](crate::Limits), beyond which the session
/// closes with `421 4.7.0`.
#[derive(Debug)]
pub struct ServerSession {
    /// Received bytes; `core.pos` marks how far they are processed. Events borrow from
    /// here, so it changes only in `receive`.
    buf: Vec<u8>,
    core: Core,
}

impl ServerSession {
    /// A session on a plain connection. Nothing is queued until [`greet`](Self::greet).
    pub fn new(config: ServerConfig) -> Self {
        ServerSession {
            buf: Vec::new(),
            core: Core::new(config, false),
        }
    }

    /// A session on a connection that is TLS from the start (port 465, RFC 8314):
    /// STARTTLS is not offered and AUTH is.
    pub fn new_tls(config: ServerConfig) -> Self {
        ServerSession {
            buf: Vec::new(),
            core: Core::new(config, true),
        }
    }

    /// Queues the `220` greeting. The application may delay it; if the client has sent
    /// anything before this call, the session instead replies `554 5.5.0` and closes
    /// (RFC 2920 §3.1: a client must wait for the greeting). A no-op after the first call
    /// or once closed.
    pub fn greet(&mut self) {
        self.core.greet();
    }

    /// Queues `reply` (for example `554 5.7.1 no service` at connect, or `421 4.3.2
    /// shutting down` at any time later) and closes the session: no further input is
    /// processed, and a pending decision is dropped. A missing enhanced code is filled in
    /// from the reply class. A no-op once closed.
    pub fn reject_connection(&mut self, reply: Reply) {
        self.core.reject_connection(reply);
    }

    /// Hands received bytes to the session. They are processed by
    /// [`poll_event`](Self::poll_event). Ignored once closed and while waiting for the TLS
    /// handshake (that plaintext must not be trusted); before the greeting they only mark
    /// the client as too eager.
    pub fn receive(&mut self, bytes: &[u8]) {
        if !self.core.accepts_input() {
            return;
        }
        if !self.core.greeted {
            if !bytes.is_empty() {
                self.core.pregreet = true;
            }
            return;
        }
        // Drop what is processed; no event can still borrow it.
        if self.core.pos == self.buf.len() {
            self.buf.clear();
        } else if self.core.pos > 0 {
            self.buf.drain(..self.core.pos);
        }
        self.core.pos = 0;
        if self.buf.len() + bytes.len() > self.core.config.limits.max_buffered_input {
            self.buf.clear();
            self.core.input_overflow();
            return;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Takes message content straight into `out`: while the session is receiving DATA
    /// content (after the `354`) and holds no unprocessed input, `bytes` are decoded
    /// into `out` ([`DataDecoder::decode_into`]) instead of being buffered and handed
    /// out as [`Event::DataChunk`]s — the same content, limits and errors, without the
    /// two copies. Returns how many octets of `bytes` it took; give the rest to
    /// [`receive`](Self::receive) (what follows the end of the data, or all of `bytes`
    /// when the session is in any other state). The end of the message and a rejection
    /// are still reported by [`poll_event`](Self::poll_event), after the content.
    ///
    /// ```
    /// use postern_smtp::server::{Event, ServerConfig, ServerSession};
    /// let mut s = ServerSession::new(ServerConfig::new("mx.test"));
    /// s.greet();
    /// s.receive(b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n");
    /// while s.poll_event().is_some() {
    ///     if s.pending_decision().is_some() {
    ///         s.accept().unwrap();
    ///     }
    /// }
    /// let mut body = Vec::new();
    /// let read = b"Subject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n";
    /// let taken = s.receive_content_into(read, &mut body);
    /// s.receive(&read[taken..]);
    /// assert_eq!(body, b"Subject: hi\r\n\r\n.dot\r\n");
    /// assert!(matches!(s.poll_event(), Some(Event::MessageEnd { size: 21 })));
    /// ```
    pub fn receive_content_into(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> usize {
        if self.core.pos < self.buf.len() || !self.core.greeted {
            return 0;
        }
        self.core.content_into(bytes, out)
    }

    /// True when the application should read more from the connection: the session is
    /// open, not waiting for a decision, and not waiting for the TLS handshake. Reading
    /// only then keeps the input buffer bounded however far ahead a client pipelines.
    pub fn wants_input(&self) -> bool {
        self.core.accepts_input() && self.core.pending.is_none()
    }

    /// Processes buffered input up to the next event. `None` when more input (or a
    /// decision) is needed, or the session is closed and every event was reported.
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        match self.core.step(&self.buf) {
            Step::Event(event) => Some(event),
            Step::Auth => Some(self.core.auth_event()),
            Step::Idle => None,
        }
    }

    /// Which decision the session waits for, if any.
    pub fn pending_decision(&self) -> Option<Decision> {
        self.core.pending.map(|p| p.decision())
    }

    /// Decides the pending decision with its default reply (see each [`Event`]).
    /// Errs with [`DecisionError::NothingPending`] (and changes nothing) when no decision
    /// is pending.
    pub fn accept(&mut self) -> Result<(), DecisionError> {
        let unread = self.buf.len() > self.core.pos;
        self.core.decide(None, unread)
    }

    /// Decides the pending decision with the application's own reply. A 2xx reply accepts
    /// (a `354` for DATA; for a BDAT data start any 2xx or 3xx, which sends nothing), a 4xx
    /// or 5xx refuses, and a `421` also closes the session. A missing enhanced code is
    /// filled in from the reply class. Errs, changing nothing, when nothing is pending or
    /// the code does not fit.
    pub fn reply(&mut self, reply: Reply) -> Result<(), DecisionError> {
        let unread = self.buf.len() > self.core.pos;
        self.core.decide(Some(reply), unread)
    }

    /// Bytes to send to the client.
    pub fn pending_output(&self) -> &[u8] {
        &self.core.out[self.core.out_pos..]
    }

    /// Marks the first `n` bytes of [`pending_output`](Self::pending_output) as sent
    /// (clamped to what is pending).
    pub fn consume_output(&mut self, n: usize) {
        let core = &mut self.core;
        core.out_pos = (core.out_pos + n).min(core.out.len());
        if core.out_pos == core.out.len() {
            core.out.clear();
            core.out_pos = 0;
        }
    }

    /// True once the session will neither process input nor reply any more: send the
    /// pending output, then close the connection.
    pub fn is_closed(&self) -> bool {
        self.core.closed
    }

    /// After [`Event::StartTls`]: the handshake succeeded and further input is decrypted.
    /// The session returns to its state right after the greeting (RFC 3207 §4.2): the
    /// client must EHLO again, STARTTLS is no longer offered, AUTH may be. Returns false
    /// (and does nothing) when the session was not waiting for TLS.
    pub fn tls_established(&mut self) -> bool {
        if self.core.closed || !matches!(self.core.phase, Phase::AwaitingTls) {
            return false;
        }
        self.buf.clear();
        self.core.pos = 0;
        self.core.tls = true;
        self.core.helo = None;
        self.core.authenticated = false;
        self.core.tx = Transaction::default();
        self.core.phase = Phase::Command;
        true
    }

    /// Input received and not yet processed (for tests of bounded buffering).
    #[cfg(test)]
    pub(super) fn buffered(&self) -> usize {
        self.buf.len() - self.core.pos
    }

    /// True on a TLS connection (from [`new_tls`](Self::new_tls) or after STARTTLS).
    pub fn is_tls(&self) -> bool {
        self.core.tls
    }

    /// True after an accepted AUTH.
    pub fn is_authenticated(&self) -> bool {
        self.core.authenticated
    }

    /// How long to wait for the client in the current state (RFC 5321 §4.5.3.2), from
    /// [`ServerConfig::timeouts`]: greeting before [`greet`](Self::greet), data block
    /// inside DATA or a BDAT chunk, data termination while the end of a message awaits
    /// its decision, command otherwise. Zero once closed.
    pub fn timeout(&self) -> Duration {
        self.core.timeout()
    }

    /// The timer of [`timeout`](Self::timeout) fired: queues `421 4.4.2 … timeout` and
    /// closes. Any message in progress is void. A no-op once closed.
    pub fn on_timeout(&mut self) {
        self.core.on_timeout();
    }
}

/// What `Core::step` found.
enum Step<'a> {
    Event(Event<'a>),
    /// The AUTH event, which borrows the credentials from the core.
    Auth,
    Idle,
}

/// Where the input stands.
#[derive(Debug)]
enum Phase {
    /// Reading command lines.
    Command,
    /// Discarding an over-long line up to its LF; then `500 5.5.6`.
    SkipLine {
        /// The limit that was exceeded, for the reply.
        limit: usize,
    },
    /// Inside DATA content.
    Data(Box<DataDecoder>),
    /// Inside a BDAT chunk.
    Bdat {
        /// Octets of the chunk still to come.
        remaining: u64,
        /// The chunk is `LAST`.
        last: bool,
        /// When set, the chunk is being thrown away and this is the reply to send after.
        discard: Option<Discard>,
    },
    /// Waiting for a line of an AUTH exchange.
    Auth(AuthWait),
    /// STARTTLS accepted; waiting for `tls_established`.
    AwaitingTls,
}

/// The reply owed for a BDAT chunk that is read only to be thrown away.
#[derive(Debug)]
enum Discard {
    /// The session refused the chunk (a protocol error, counted).
    Session(&'static [u8]),
    /// The application refused the data start; its reply, formatted.
    App(Vec<u8>),
}

/// What the pending decision is about, with what the session needs to apply it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Mail {
        smtputf8: bool,
        binary: bool,
    },
    Rcpt,
    /// `None`: DATA; `Some`: the first BDAT chunk, its size and LAST flag.
    DataStart {
        bdat: Option<(u64, bool)>,
    },
    MessageEnd,
    Auth,
    Etrn,
    Vrfy,
    Expn,
}

impl Pending {
    fn decision(self) -> Decision {
        match self {
            Pending::Mail { .. } => Decision::Mail,
            Pending::Rcpt => Decision::Rcpt,
            Pending::DataStart { .. } => Decision::DataStart,
            Pending::MessageEnd => Decision::MessageEnd,
            Pending::Auth => Decision::Auth,
            Pending::Etrn => Decision::Etrn,
            Pending::Vrfy => Decision::Vrfy,
            Pending::Expn => Decision::Expn,
        }
    }

    /// Whether `code` accepts (`Some(true)`), refuses (`Some(false)`) or does not fit.
    fn judge(self, code: u16) -> Option<bool> {
        match (self, code / 100) {
            (_, 4 | 5) => Some(false),
            (Pending::DataStart { bdat: None }, 3) if code == 354 => Some(true),
            (Pending::DataStart { bdat: Some(_) }, 2 | 3) => Some(true),
            (Pending::DataStart { bdat: None }, _) => None,
            (_, 2) => Some(true),
            _ => None,
        }
    }
}

/// An event held back one step (it follows the data chunk just reported, or content
/// taken by [`ServerSession::receive_content_into`]).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Queued {
    MessageEnd(u64),
    Rejected(DataError),
    Closed(CloseReason),
}

/// Where the BDAT side of a transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum BdatState {
    /// No chunk yet.
    #[default]
    None,
    /// Chunks accepted; octets announced so far.
    Receiving(u64),
    /// A chunk was refused: later chunks are discarded until LAST or RSET.
    Failed,
}

/// The mail transaction in progress.
#[derive(Debug, Clone, Copy, Default)]
struct Transaction {
    /// MAIL was accepted.
    mail: bool,
    /// MAIL carried SMTPUTF8.
    smtputf8: bool,
    /// MAIL carried BODY=BINARYMIME.
    binary: bool,
    /// Recipients accepted.
    rcpts: usize,
    bdat: BdatState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Greeted {
    Helo,
    Ehlo,
}

/// Everything but the input buffer, so events can borrow the buffer while the state
/// changes.
#[derive(Debug)]
struct Core {
    config: ServerConfig,
    /// `config.limits` with the command-line limit raised to `max_auth_line`, for AUTH
    /// lines that carry an initial response.
    auth_limits: Limits,
    /// Processed prefix of the input buffer.
    pos: usize,
    out: Vec<u8>,
    out_pos: usize,
    phase: Phase,
    pending: Option<Pending>,
    queued: Option<Queued>,
    /// `greet` or `reject_connection` was called.
    greeted: bool,
    /// Input arrived before the greeting.
    pregreet: bool,
    closed: bool,
    helo: Option<Greeted>,
    tls: bool,
    authenticated: bool,
    tx: Transaction,
    errors: usize,
    creds: Credentials,
}

/// True when `line` starts with `AUTH` and a space, ignoring case.
fn is_auth_line(line: &[u8]) -> bool {
    line.len() >= 5 && line[..4].eq_ignore_ascii_case(b"AUTH") && line[4] == b' '
}

/// Fills in `x.0.0` when the application's reply lacks an enhanced code.
fn with_enhanced(mut reply: Reply) -> Reply {
    if reply.enhanced.is_none() && (200..600).contains(&reply.code) {
        reply.enhanced = Some(EnhancedCode::new((reply.code / 100) as u8, 0, 0));
    }
    reply
}

impl Core {
    fn new(config: ServerConfig, tls: bool) -> Self {
        let mut auth_limits = config.limits.clone();
        auth_limits.max_command_line = auth_limits.max_auth_line.max(auth_limits.max_command_line);
        Core {
            config,
            auth_limits,
            pos: 0,
            out: Vec::with_capacity(512),
            out_pos: 0,
            phase: Phase::Command,
            pending: None,
            queued: None,
            greeted: false,
            pregreet: false,
            closed: false,
            helo: None,
            tls,
            authenticated: false,
            tx: Transaction::default(),
            errors: 0,
            creds: Credentials::default(),
        }
    }

    fn accepts_input(&self) -> bool {
        !self.closed && !matches!(self.phase, Phase::AwaitingTls)
    }

    fn greet(&mut self) {
        if self.greeted || self.closed {
            return;
        }
        self.greeted = true;
        if self.pregreet {
            self.sync_violation();
            return;
        }
        let ServerConfig {
            hostname, banner, ..
        } = &self.config;
        let _ = write!(self.out, "220 {hostname} {banner}\r\n");
    }

    fn reject_connection(&mut self, reply: Reply) {
        if self.closed {
            return;
        }
        with_enhanced(reply).write_to(&mut self.out);
        self.close();
    }

    fn close(&mut self) {
        self.greeted = true;
        self.closed = true;
        self.pending = None;
        self.creds.clear();
    }

    fn sync_violation(&mut self) {
        self.out.extend_from_slice(r::SYNC_VIOLATION);
        self.close();
        self.queued = Some(Queued::Closed(CloseReason::SyncViolation));
    }

    fn input_overflow(&mut self) {
        let host = &self.config.hostname;
        let _ = write!(
            self.out,
            "421 4.7.0 {host} Error: too much pipelined input\r\n"
        );
        self.close();
        self.queued = Some(Queued::Closed(CloseReason::InputOverflow));
    }

    fn on_timeout(&mut self) {
        if self.closed {
            return;
        }
        let host = &self.config.hostname;
        let _ = write!(self.out, "421 4.4.2 {host} Error: timeout exceeded\r\n");
        self.close();
        self.queued = Some(Queued::Closed(CloseReason::Timeout));
    }

    fn timeout(&self) -> Duration {
        let t = &self.config.timeouts;
        if self.closed {
            return Duration::ZERO;
        }
        if !self.greeted {
            return t.greeting;
        }
        if self.pending == Some(Pending::MessageEnd) {
            return t.data_termination;
        }
        match self.phase {
            Phase::Data(_) | Phase::Bdat { .. } => t.data_block,
            _ => t.command,
        }
    }

    /// Appends one of the session's own error replies and counts the error; past
    /// `max_errors` the session says `421` and closes.
    fn error(&mut self, reply: &[u8]) {
        self.out.extend_from_slice(reply);
        self.count_error();
    }

    fn error_reply(&mut self, reply: &Reply) {
        reply.write_to(&mut self.out);
        self.count_error();
    }

    fn count_error(&mut self) {
        self.errors += 1;
        if self.errors >= self.config.limits.max_errors && !self.closed {
            let host = &self.config.hostname;
            let _ = write!(self.out, "421 4.7.0 {host} Error: too many errors\r\n");
            self.close();
            self.queued = Some(Queued::Closed(CloseReason::TooManyErrors));
        }
    }

    fn auth_offered(&self) -> bool {
        self.config.auth && (self.tls || self.config.auth_without_tls)
    }

    fn auth_event(&self) -> Event<'_> {
        let (authzid, username, password) = self.creds.fields();
        Event::Auth {
            mechanism: self.creds.mechanism.unwrap_or(AuthMechanism::Plain),
            authzid,
            username,
            password,
        }
    }

    /// Runs the state machine over `buf[pos..]` until something must be reported.
    fn step<'a>(&mut self, buf: &'a [u8]) -> Step<'a> {
        loop {
            if let Some(q) = self.queued.take() {
                return Step::Event(match q {
                    Queued::MessageEnd(size) => {
                        self.pending = Some(Pending::MessageEnd);
                        Event::MessageEnd { size }
                    }
                    Queued::Rejected(error) => Event::MessageRejected { error },
                    Queued::Closed(reason) => Event::Closed { reason },
                });
            }
            if self.closed || !self.greeted || self.pending.is_some() {
                return Step::Idle;
            }
            let progress = match self.phase {
                Phase::Command => self.command_step(buf),
                Phase::SkipLine { limit } => self.skip_step(buf, limit),
                Phase::Data(_) => self.data_step(buf),
                Phase::Bdat { .. } => self.bdat_step(buf),
                Phase::Auth(wait) => self.auth_step(buf, wait),
                Phase::AwaitingTls => return Step::Idle,
            };
            match progress {
                Progress::Continue => {}
                Progress::Done(step) => return step,
            }
        }
    }

    /// Takes the next line (without CR LF) from the input, enforcing `limit` (octets
    /// with the line ending). An over-long line without its LF yet is dropped as it
    /// arrives, never buffered whole.
    fn take_line<'a>(&mut self, buf: &'a [u8], limit: usize) -> Line<'a> {
        let avail = &buf[self.pos..];
        match memchr::memchr(b'\n', avail) {
            Some(i) => {
                self.pos += i + 1;
                if i + 1 > limit {
                    return Line::TooLong;
                }
                let line = &avail[..i];
                Line::Full(line.strip_suffix(b"\r").unwrap_or(line))
            }
            None if avail.len() >= limit => {
                self.pos = buf.len();
                self.phase = Phase::SkipLine { limit };
                Line::Partial
            }
            None => Line::Partial,
        }
    }

    fn skip_step(&mut self, buf: &[u8], limit: usize) -> Progress<'static> {
        match memchr::memchr(b'\n', &buf[self.pos..]) {
            Some(i) => {
                self.pos += i + 1;
                self.phase = Phase::Command;
                self.error_reply(&CommandError::LineTooLong { limit }.reply());
                Progress::Continue
            }
            None => {
                self.pos = buf.len();
                Progress::Done(Step::Idle)
            }
        }
    }

    fn command_step<'a>(&mut self, buf: &'a [u8]) -> Progress<'a> {
        let avail = &buf[self.pos..];
        let limits = if is_auth_line(avail) {
            &self.auth_limits
        } else {
            &self.config.limits
        };
        // `parse_next` frames the line as `take_line` does and refuses one over the
        // limit with the same `LineTooLong { limit }` (the auth limits' `max_command_line`
        // is the larger limit of an AUTH line).
        let Some((result, used)) = Command::parse_next(avail, limits) else {
            let limit = limits.max_command_line;
            if avail.len() >= limit {
                // An over-long line without its LF yet: dropped as it arrives.
                self.pos = buf.len();
                self.phase = Phase::SkipLine { limit };
            }
            return Progress::Done(Step::Idle);
        };
        self.pos += used;
        match result {
            Ok(cmd) => {
                let rest_empty = self.pos == buf.len();
                self.on_command(cmd, rest_empty, buf.len())
            }
            Err(e) => {
                self.error_reply(&e.reply());
                Progress::Continue
            }
        }
    }

    fn on_command<'a>(&mut self, cmd: Command<'a>, rest_empty: bool, end: usize) -> Progress<'a> {
        let event = match cmd {
            Command::Helo { domain } => {
                self.tx = Transaction::default();
                self.helo = Some(Greeted::Helo);
                let host = &self.config.hostname;
                let _ = write!(self.out, "250 {host}\r\n");
                Event::Helo { domain }
            }
            Command::Ehlo { domain } => {
                self.tx = Transaction::default();
                self.helo = Some(Greeted::Ehlo);
                self.write_ehlo();
                Event::Ehlo { domain }
            }
            Command::Mail { from, params } => return self.on_mail(from, params),
            Command::Rcpt { to, params } => return self.on_rcpt(to, params),
            Command::Data => return self.on_data(rest_empty),
            Command::Bdat { size, last } => return self.on_bdat(size, last),
            Command::Rset => {
                self.tx = Transaction::default();
                self.out.extend_from_slice(r::OK);
                Event::Reset
            }
            Command::Vrfy { arg } => {
                if self.config.decide_vrfy_expn {
                    self.pending = Some(Pending::Vrfy);
                } else {
                    self.out.extend_from_slice(r::VRFY_DEFAULT);
                }
                Event::Vrfy { arg }
            }
            Command::Expn { arg } => {
                if self.config.decide_vrfy_expn {
                    self.pending = Some(Pending::Expn);
                } else {
                    self.out.extend_from_slice(r::EXPN_DEFAULT);
                }
                Event::Expn { arg }
            }
            Command::Help { .. } => {
                self.out.extend_from_slice(r::HELP);
                return Progress::Continue;
            }
            Command::Noop { .. } => {
                self.out.extend_from_slice(r::OK);
                return Progress::Continue;
            }
            Command::Quit => {
                self.out.extend_from_slice(b"221 2.0.0 Bye\r\n");
                self.close();
                Event::Quit
            }
            Command::StartTls => return self.on_starttls(end),
            Command::Auth { mechanism, initial } => return self.on_auth(mechanism, initial),
            Command::Etrn { node } => {
                let refusal = if !self.config.etrn {
                    Some(r::NOT_IMPLEMENTED)
                } else if self.helo.is_none() {
                    Some(r::NEED_HELO)
                } else if self.tx.mail {
                    Some(r::IN_TRANSACTION)
                } else {
                    None
                };
                if let Some(reply) = refusal {
                    self.error(reply);
                    return Progress::Continue;
                }
                self.pending = Some(Pending::Etrn);
                Event::Etrn { node }
            }
        };
        Progress::Done(Step::Event(event))
    }

    fn write_ehlo(&mut self) {
        let c = &self.config;
        let mut keywords: [&str; 11] = [""; 11];
        let mut n = 0;
        let mut add = |k: &'static str, on: bool| {
            if on {
                keywords[n] = k;
                n += 1;
            }
        };
        add("PIPELINING", true);
        add("SIZE", true);
        add("ETRN", c.etrn);
        add("STARTTLS", c.starttls && !self.tls);
        add(
            "AUTH PLAIN LOGIN",
            c.auth && (self.tls || c.auth_without_tls),
        );
        add("ENHANCEDSTATUSCODES", true);
        add("8BITMIME", true);
        add("DSN", c.dsn);
        add("SMTPUTF8", c.smtputf8);
        add("CHUNKING", c.chunking);
        add("BINARYMIME", c.chunking && c.binary_mime);
        let _ = write!(self.out, "250-{}\r\n", c.hostname);
        for (i, k) in keywords[..n].iter().enumerate() {
            let sep = if i + 1 == n { ' ' } else { '-' };
            if *k == "SIZE" {
                let _ = write!(self.out, "250{sep}SIZE {}\r\n", c.limits.max_message_size);
            } else {
                let _ = write!(self.out, "250{sep}{k}\r\n");
            }
        }
    }

    fn on_mail<'a>(&mut self, from: ReversePath<'a>, params: MailParams<'a>) -> Progress<'a> {
        let c = &self.config;
        let binary = params.body == Some(Body::BinaryMime);
        let unsupported = (binary && !(c.binary_mime && c.chunking))
            || (params.smtputf8 && !c.smtputf8)
            || ((params.ret.is_some() || params.envid.is_some()) && !c.dsn)
            || params.mt_priority.is_some()
            || params.requiretls
            // RFC 4954 §5: AUTH= belongs to the AUTH extension; unoffered, it is unknown.
            || (params.auth.is_some() && !self.auth_offered())
            || !params.other.is_empty();
        let refusal = if self.helo.is_none() {
            Some(r::NEED_HELO)
        } else if self.tx.mail {
            Some(r::NESTED_MAIL)
        } else if unsupported {
            Some(r::UNSUPPORTED_PARAM)
        } else if params.size.is_some_and(|s| s > c.limits.max_message_size) {
            Some(r::MESSAGE_TOO_BIG)
        } else if !params.smtputf8 && matches!(&from, ReversePath::Mailbox(m) if !m.is_ascii()) {
            Some(r::UTF8_NOT_ALLOWED)
        } else {
            None
        };
        if let Some(reply) = refusal {
            self.error(reply);
            return Progress::Continue;
        }
        self.pending = Some(Pending::Mail {
            smtputf8: params.smtputf8,
            binary,
        });
        Progress::Done(Step::Event(Event::Mail { from, params }))
    }

    fn on_rcpt<'a>(&mut self, to: ForwardPath<'a>, params: RcptParams<'a>) -> Progress<'a> {
        let dsn_params = params.notify.is_some() || params.orcpt.is_some();
        let refusal = if !self.tx.mail {
            Some(r::NEED_MAIL)
        } else if self.tx.bdat != BdatState::None {
            Some(r::RCPT_AFTER_BDAT)
        } else if self.tx.rcpts >= self.config.limits.max_recipients {
            Some(r::TOO_MANY_RECIPIENTS)
        } else if (dsn_params && !self.config.dsn) || !params.other.is_empty() {
            Some(r::UNSUPPORTED_PARAM)
        } else if !self.tx.smtputf8 && matches!(&to, ForwardPath::Mailbox(m) if !m.is_ascii()) {
            Some(r::UTF8_NOT_ALLOWED)
        } else {
            None
        };
        if let Some(reply) = refusal {
            if reply == r::TOO_MANY_RECIPIENTS {
                // Not a protocol error (RFC 5321 4.5.3.1.10: the client sends the rest
                // later). Counting it would close a pipelining client's session after
                // `max_errors` of them, losing the transaction and its accepted recipients.
                self.out.extend_from_slice(reply);
            } else {
                self.error(reply);
            }
            return Progress::Continue;
        }
        self.pending = Some(Pending::Rcpt);
        Progress::Done(Step::Event(Event::Rcpt { to, params }))
    }

    fn on_data<'a>(&mut self, rest_empty: bool) -> Progress<'a> {
        // RFC 2920 §3.1: DATA ends a pipelined group; content before the 354 means the
        // client did not wait, and is exactly what SMTP smuggling relies on.
        if !rest_empty {
            self.sync_violation();
            return Progress::Continue;
        }
        let refusal = if !self.tx.mail {
            Some(r::NEED_MAIL)
        } else if self.tx.bdat != BdatState::None {
            Some(r::DATA_AFTER_BDAT)
        } else if self.tx.binary {
            Some(r::BINARYMIME_NEEDS_BDAT)
        } else if self.tx.rcpts == 0 {
            Some(r::NO_RECIPIENTS)
        } else {
            None
        };
        if let Some(reply) = refusal {
            self.error(reply);
            return Progress::Continue;
        }
        self.pending = Some(Pending::DataStart { bdat: None });
        Progress::Done(Step::Event(Event::DataStart))
    }

    fn on_bdat<'a>(&mut self, size: u64, last: bool) -> Progress<'a> {
        // Whatever the verdict, the chunk's octets are read: they are never commands.
        if let Some(reply) = self.bdat_refusal() {
            self.discard_chunk(size, last, reply);
            return Progress::Continue;
        }
        let announced = match self.tx.bdat {
            BdatState::Receiving(n) => n,
            _ => 0,
        };
        let limit = self.config.limits.max_message_size;
        if announced.saturating_add(size) > limit {
            let was_receiving = self.tx.bdat != BdatState::None;
            self.tx.bdat = BdatState::Failed;
            self.discard_chunk(size, last, r::MESSAGE_TOO_BIG);
            if was_receiving {
                let error = DataError::TooLarge { limit };
                return Progress::Done(Step::Event(Event::MessageRejected { error }));
            }
            return Progress::Continue;
        }
        if self.tx.bdat == BdatState::None {
            self.pending = Some(Pending::DataStart {
                bdat: Some((size, last)),
            });
            return Progress::Done(Step::Event(Event::DataStart));
        }
        self.tx.bdat = BdatState::Receiving(announced + size);
        self.phase = Phase::Bdat {
            remaining: size,
            last,
            discard: None,
        };
        Progress::Continue
    }

    /// Why a BDAT chunk cannot be taken, before looking at its size.
    fn bdat_refusal(&self) -> Option<&'static [u8]> {
        if !self.config.chunking {
            Some(r::NOT_IMPLEMENTED)
        } else if !self.tx.mail {
            Some(r::NEED_MAIL)
        } else if self.tx.rcpts == 0 {
            Some(r::NO_RECIPIENTS)
        } else if self.tx.bdat == BdatState::Failed {
            Some(r::BDAT_FAILED)
        } else {
            None
        }
    }

    /// Reads the next `size` octets only to drop them, then replies `reply`.
    fn discard_chunk(&mut self, size: u64, last: bool, reply: &'static [u8]) {
        self.phase = Phase::Bdat {
            remaining: size,
            last,
            discard: Some(Discard::Session(reply)),
        };
    }

    fn on_starttls<'a>(&mut self, end: usize) -> Progress<'a> {
        let refusal = if !self.config.starttls {
            Some(r::NOT_IMPLEMENTED)
        } else if self.tls {
            Some(r::TLS_ACTIVE)
        } else if self.tx.mail {
            Some(r::IN_TRANSACTION)
        } else {
            None
        };
        if let Some(reply) = refusal {
            self.error(reply);
            return Progress::Continue;
        }
        self.out.extend_from_slice(r::TLS_GO_AHEAD);
        // CVE-2011-0411: whatever followed STARTTLS in plaintext must not run after the
        // handshake as if it came over TLS.
        self.pos = end;
        self.phase = Phase::AwaitingTls;
        Progress::Done(Step::Event(Event::StartTls))
    }

    fn on_auth<'a>(&mut self, mechanism: &str, initial: Option<AuthInitial<'_>>) -> Progress<'a> {
        let refusal = if !self.auth_offered() {
            Some(r::AUTH_NOT_ENABLED)
        } else if self.helo != Some(Greeted::Ehlo) {
            Some(r::NEED_EHLO)
        } else if self.authenticated {
            Some(r::ALREADY_AUTHENTICATED)
        } else if self.tx.mail {
            Some(r::IN_TRANSACTION)
        } else {
            None
        };
        if let Some(reply) = refusal {
            self.error(reply);
            return Progress::Continue;
        }
        let initial: Option<&[u8]> = initial.map(|i| match i {
            AuthInitial::Empty => &b"="[..],
            AuthInitial::Base64(s) => s.as_bytes(),
        });
        if mechanism.eq_ignore_ascii_case("PLAIN") {
            match initial {
                Some(response) => return self.auth_response(AuthWait::PlainResponse, response),
                None => {
                    self.out.extend_from_slice(auth::PLAIN_CHALLENGE);
                    self.phase = Phase::Auth(AuthWait::PlainResponse);
                }
            }
        } else if mechanism.eq_ignore_ascii_case("LOGIN") {
            match initial {
                Some(response) => return self.auth_response(AuthWait::LoginUsername, response),
                None => {
                    self.out.extend_from_slice(auth::LOGIN_USERNAME);
                    self.phase = Phase::Auth(AuthWait::LoginUsername);
                }
            }
        } else {
            self.error(r::UNSUPPORTED_MECHANISM);
        }
        Progress::Continue
    }

    fn auth_step<'a>(&mut self, buf: &'a [u8], wait: AuthWait) -> Progress<'a> {
        let line = match self.take_line(buf, self.config.limits.max_auth_line) {
            Line::Full(line) => line,
            Line::Partial => return Progress::Done(Step::Idle),
            Line::TooLong => {
                self.phase = Phase::Command;
                let limit = self.config.limits.max_auth_line;
                self.error_reply(&CommandError::LineTooLong { limit }.reply());
                return Progress::Continue;
            }
        };
        self.phase = Phase::Command;
        if line.trim_ascii() == b"*" {
            self.creds.clear();
            self.error(r::AUTH_ABORTED);
            return Progress::Continue;
        }
        self.auth_response(wait, line)
    }

    /// Takes one client response of an exchange.
    fn auth_response<'a>(&mut self, wait: AuthWait, response: &[u8]) -> Progress<'a> {
        let result = match wait {
            AuthWait::PlainResponse => self.creds.set_plain(response),
            AuthWait::LoginUsername => self.creds.set_login_username(response),
            AuthWait::LoginPassword => self.creds.set_login_password(response),
        };
        if result.is_err() {
            self.creds.clear();
            self.error(r::AUTH_BAD_DATA);
            return Progress::Continue;
        }
        if wait == AuthWait::LoginUsername {
            self.out.extend_from_slice(auth::LOGIN_PASSWORD);
            self.phase = Phase::Auth(AuthWait::LoginPassword);
            return Progress::Continue;
        }
        self.pending = Some(Pending::Auth);
        Progress::Done(Step::Auth)
    }

    /// [`ServerSession::receive_content_into`] once the buffer is empty: only in the
    /// DATA phase with nothing to report or decide first; the end of the data (or its
    /// rejection) is queued for `poll_event`, as `data_step` leaves it.
    fn content_into(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> usize {
        if !self.accepts_input() || self.pending.is_some() || self.queued.is_some() {
            return 0;
        }
        let Phase::Data(decoder) = &mut self.phase else {
            return 0;
        };
        let (taken, status) = decoder.decode_into(bytes, out);
        match status {
            DataStatus::More => {}
            DataStatus::Done(Ok(size)) => {
                self.phase = Phase::Command;
                self.queued = Some(Queued::MessageEnd(size));
            }
            DataStatus::Done(Err(error)) => {
                self.data_rejected(&error);
                self.queued = Some(Queued::Rejected(error));
            }
        }
        taken
    }

    fn data_step<'a>(&mut self, buf: &'a [u8]) -> Progress<'a> {
        let Phase::Data(decoder) = &mut self.phase else {
            return Progress::Continue;
        };
        let step = decoder.step(&buf[self.pos..]);
        self.pos += step.consumed;
        let content = step.content;
        match step.status {
            DataStatus::More if !content.is_empty() => {
                Progress::Done(Step::Event(Event::DataChunk(content)))
            }
            DataStatus::More if step.consumed == 0 => Progress::Done(Step::Idle),
            DataStatus::More => Progress::Continue,
            DataStatus::Done(Ok(size)) => {
                self.phase = Phase::Command;
                if content.is_empty() {
                    self.pending = Some(Pending::MessageEnd);
                    Progress::Done(Step::Event(Event::MessageEnd { size }))
                } else {
                    self.queued = Some(Queued::MessageEnd(size));
                    Progress::Done(Step::Event(Event::DataChunk(content)))
                }
            }
            DataStatus::Done(Err(error)) => {
                self.data_rejected(&error);
                Progress::Done(Step::Event(Event::MessageRejected { error }))
            }
        }
    }

    /// The DATA decoder refused the message: the transaction is over and the client
    /// gets the error's reply (the application hears of it as `MessageRejected`).
    fn data_rejected(&mut self, error: &DataError) {
        self.phase = Phase::Command;
        self.tx = Transaction::default();
        error.reply().write_to(&mut self.out);
    }

    fn bdat_step<'a>(&mut self, buf: &'a [u8]) -> Progress<'a> {
        let Phase::Bdat {
            remaining,
            last,
            discard,
        } = &mut self.phase
        else {
            return Progress::Continue;
        };
        let avail = (buf.len() - self.pos) as u64;
        let take = (*remaining).min(avail) as usize;
        if take == 0 && *remaining > 0 {
            return Progress::Done(Step::Idle);
        }
        let chunk = &buf[self.pos..self.pos + take];
        self.pos += take;
        *remaining -= take as u64;
        if *remaining > 0 {
            return match discard {
                Some(_) => Progress::Continue,
                None => Progress::Done(Step::Event(Event::DataChunk(chunk))),
            };
        }
        // The chunk is complete.
        let last = *last;
        let discard = discard.take();
        self.phase = Phase::Command;
        if let Some(discard) = discard {
            if last && self.tx.bdat == BdatState::Failed {
                self.tx = Transaction::default();
            }
            match discard {
                Discard::Session(reply) => self.error(reply),
                Discard::App(reply) => self.out.extend_from_slice(&reply),
            }
            return Progress::Continue;
        }
        let BdatState::Receiving(total) = self.tx.bdat else {
            return Progress::Continue;
        };
        if last {
            if chunk.is_empty() {
                self.pending = Some(Pending::MessageEnd);
                return Progress::Done(Step::Event(Event::MessageEnd { size: total }));
            }
            self.queued = Some(Queued::MessageEnd(total));
        } else {
            let _ = write!(self.out, "250 2.0.0 Ok: {total} octets received\r\n");
        }
        if chunk.is_empty() {
            Progress::Continue
        } else {
            Progress::Done(Step::Event(Event::DataChunk(chunk)))
        }
    }

    /// Applies a decision: `reply` is the application's, or `None` for the default.
    /// `unread` says whether input waits behind the command being decided.
    fn decide(&mut self, reply: Option<Reply>, unread: bool) -> Result<(), DecisionError> {
        let pending = self.pending.ok_or(DecisionError::NothingPending)?;
        let accepted = match &reply {
            None => true,
            Some(rep) if (200..600).contains(&rep.code) => pending
                .judge(rep.code)
                .ok_or(DecisionError::UnsuitableReply { code: rep.code })?,
            Some(rep) => return Err(DecisionError::UnsuitableReply { code: rep.code }),
        };
        self.pending = None;
        if pending == (Pending::DataStart { bdat: None }) && unread {
            // Content arrived while the DATA decision was open, i.e. before our 354.
            self.sync_violation();
            return Ok(());
        }
        let default: &'static [u8] = match pending {
            Pending::Mail { smtputf8, binary } => {
                if accepted {
                    self.tx.mail = true;
                    self.tx.smtputf8 = smtputf8;
                    self.tx.binary = binary;
                }
                r::MAIL_OK
            }
            Pending::Rcpt => {
                if accepted {
                    self.tx.rcpts += 1;
                }
                r::RCPT_OK
            }
            Pending::DataStart { bdat: None } => {
                if accepted {
                    let decoder =
                        DataDecoder::new(&self.config.limits, self.config.bare_line_policy);
                    self.phase = Phase::Data(Box::new(decoder));
                }
                r::DATA_GO_AHEAD
            }
            Pending::DataStart {
                bdat: Some((size, last)),
            } => {
                // The chunk's own reply comes once its octets are read.
                self.start_bdat(size, last, reply.filter(|_| !accepted));
                return Ok(());
            }
            Pending::MessageEnd => {
                self.tx = Transaction::default();
                r::QUEUED
            }
            Pending::Auth => {
                self.authenticated = accepted;
                self.creds.clear();
                r::AUTH_OK
            }
            Pending::Etrn => r::ETRN_OK,
            Pending::Vrfy => r::VRFY_DEFAULT,
            Pending::Expn => r::EXPN_DEFAULT,
        };
        match reply {
            None => self.out.extend_from_slice(default),
            Some(rep) => {
                let closing = rep.code == 421;
                with_enhanced(rep).write_to(&mut self.out);
                if closing {
                    self.close();
                }
            }
        }
        Ok(())
    }

    /// After the first BDAT chunk's decision: read it, or (with the application's
    /// refusal) read it only to drop it and fail the transaction.
    fn start_bdat(&mut self, size: u64, last: bool, refusal: Option<Reply>) {
        let discard = match refusal {
            Some(rep) if rep.code == 421 => {
                with_enhanced(rep).write_to(&mut self.out);
                self.close();
                return;
            }
            Some(rep) => {
                self.tx.bdat = BdatState::Failed;
                let mut bytes = Vec::new();
                with_enhanced(rep).write_to(&mut bytes);
                Some(Discard::App(bytes))
            }
            None => {
                self.tx.bdat = BdatState::Receiving(size);
                None
            }
        };
        self.phase = Phase::Bdat {
            remaining: size,
            last,
            discard,
        };
    }
}

/// One line read by `take_line`.
enum Line<'a> {
    Full(&'a [u8]),
    /// No complete line yet (or an over-long one is being skipped).
    Partial,
    /// A complete line over the limit, consumed.
    TooLong,
}

/// What one state's step did.
enum Progress<'a> {
    /// State changed or input consumed; look again.
    Continue,
    Done(Step<'a>),
}
