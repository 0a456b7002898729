//! The client side of an SMTP session, sans-IO.
//!
//! [`ClientSession`] runs one connection to a server: greeting, EHLO (HELO as a fallback),
//! STARTTLS and AUTH as configured, then any number of messages, then QUIT. It never
//! touches a socket or a clock. The application:
//!
//! 1. passes every byte read from the server to [`ClientSession::receive`]
//!    (and [`ClientSession::on_eof`] when the server closes);
//! 2. writes [`ClientSession::pending_output`] to the server and reports how much went
//!    with [`ClientSession::consume_output`];
//! 3. handles each [`ClientEvent`] from [`ClientSession::poll_event`];
//! 4. arms a timer for [`ClientSession::timeout`] after each of these steps and calls
//!    [`ClientSession::on_timeout`] when it fires before the next read.
//!
//! ```
//! use postern_smtp::client::{ClientConfig, ClientEvent, ClientSession, TlsPolicy};
//!
//! let mut config = ClientConfig::new("client.example");
//! config.tls = TlsPolicy::Off;
//! let mut session = ClientSession::new(config);
//! // Nothing is sent before the server's greeting.
//! assert!(session.pending_output().is_empty());
//! assert!(session.poll_event().is_none());
//! assert!(!session.is_closed());
//! ```
//!
//! Replies are matched to commands in order, so MAIL, every RCPT and DATA go out in one
//! write when the server offers PIPELINING (RFC 2920), and one at a time otherwise.

mod body;
mod config;
mod envelope;
mod error;
mod event;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::command::{AuthInitial, Command};
use crate::data::{DataEncoder, write_bdat};
use crate::ehlo::Capabilities;
use crate::params::{Body, MailParams, Orcpt, RcptParams};
use crate::path::{ForwardPath, ReversePath};
use crate::reply::{EnhancedCode, Reply, ReplyParser};
use crate::xtext::{XText, encode_xtext};

use body::{BodyWriter, Chunker};
pub use config::{ClientConfig, Credentials, Timeouts, TlsPolicy};
pub use envelope::{Envelope, OriginalRecipient, Recipient};
pub use error::{SendError, SessionError};
pub use event::{ClientEvent, RcptStatus, RecipientResult, Rejection};

/// The command whose reply comes next; replies are matched to commands in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    AuthPlain,
    /// AUTH LOGIN: 0 after the command, 1 after the user name, 2 after the password.
    AuthLogin(u8),
    Rset,
    Mail,
    Rcpt(usize),
    Data,
    /// The reply to the final `.`.
    DataEnd,
    Bdat {
        last: bool,
    },
    Quit,
}

/// Where the session is, beyond the replies it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Greeting, EHLO, STARTTLS, AUTH.
    Setup,
    /// STARTTLS accepted: waiting for the application's handshake.
    TlsHandshake,
    /// Ready for a message.
    Idle,
    /// A message is under way.
    Transaction,
    /// QUIT sent.
    Quitting,
    Closed,
}

/// The message under way.
#[derive(Debug)]
struct Transaction {
    envelope: Envelope,
    /// Each recipient's RCPT reply, once it arrived.
    results: Vec<Option<RcptStatus>>,
    accepted: usize,
    /// MAIL was refused (its RCPT and DATA replies only follow from that).
    mail_failed: Option<Reply>,
    /// Next RCPT to write when not pipelining.
    next_rcpt: usize,
    pipelined: bool,
    bdat: bool,
    /// Set once the body may be written.
    body: Option<BodyWriter>,
    /// `finish_body` was called.
    body_finished: bool,
    /// The app offered more than a BDAT chunk could take; tell it when there is room.
    body_blocked: bool,
    /// BDAT commands whose replies are outstanding.
    bdat_outstanding: usize,
    /// `BDAT … LAST` was written.
    bdat_last_sent: bool,
    /// A BDAT chunk was refused; no more are sent.
    bdat_failed: Option<Reply>,
    /// The server said 354 though nothing can be delivered: a lone `.` was sent and its
    /// reply means nothing (RFC 2920 §3.1).
    discard_data: bool,
}

/// The client side of one SMTP connection. See the [module documentation](self).
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    parser: ReplyParser,
    out: Vec<u8>,
    /// Octets of `out` already consumed by the application.
    out_pos: usize,
    events: VecDeque<ClientEvent>,
    expect: VecDeque<Expect>,
    phase: Phase,
    caps: Option<Capabilities>,
    tls: bool,
    starttls_tried: bool,
    authenticated: bool,
    /// The last transaction on this connection did not end with the server taking the
    /// message (a refused MAIL, RCPT, DATA or body): RSET before the next MAIL. After an
    /// accepted message the server is back at its initial state (RFC 5321 section
    /// 4.1.1.4), so the next MAIL follows at once.
    reset_due: bool,
    quit_requested: bool,
    txn: Option<Transaction>,
}

impl ClientSession {
    /// A session on a freshly opened connection; it first waits for the greeting.
    pub fn new(config: ClientConfig) -> Self {
        ClientSession {
            parser: ReplyParser::new(&config.limits),
            tls: config.implicit_tls,
            config,
            out: Vec::new(),
            out_pos: 0,
            events: VecDeque::new(),
            expect: VecDeque::from([Expect::Greeting]),
            phase: Phase::Setup,
            caps: None,
            starttls_tried: false,
            authenticated: false,
            reset_due: false,
            quit_requested: false,
            txn: None,
        }
    }

    // ---- the application's side of the I/O ----

    /// Feeds bytes read from the server. Ignored once closed, and while the TLS handshake
    /// is pending (plain-text bytes after the 220 to STARTTLS are discarded, RFC 3207 §5).
    pub fn receive(&mut self, bytes: &[u8]) {
        if matches!(self.phase, Phase::Closed | Phase::TlsHandshake) {
            return;
        }
        self.parser.feed(bytes);
        while !matches!(self.phase, Phase::Closed | Phase::TlsHandshake) {
            match self.parser.next_reply() {
                None => break,
                Some(Ok(reply)) => self.on_reply(reply),
                Some(Err(e)) => self.fail(SessionError::MalformedReply(e), false),
            }
        }
    }

    /// The server closed the connection. After QUIT this is the normal end; otherwise the
    /// session fails with [`SessionError::ConnectionClosed`].
    pub fn on_eof(&mut self) {
        match self.phase {
            Phase::Closed => {}
            Phase::Quitting => self.close(),
            _ => self.fail(SessionError::ConnectionClosed, false),
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Bytes to write to the server.
    pub fn pending_output(&self) -> &[u8] {
        &self.out[self.out_pos..]
    }

    /// Marks the first `n` octets of [`pending_output`](Self::pending_output) as written.
    pub fn consume_output(&mut self, n: usize) {
        self.out_pos = (self.out_pos + n).min(self.out.len());
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        } else if self.out_pos > 64 * 1024 && self.out_pos > self.out.len() / 2 {
            // Compact now and then rather than on every partial write.
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
    }

    /// True once the session has ended (QUIT answered, or failed). Write out any
    /// [`pending_output`](Self::pending_output) (a courtesy QUIT after some failures),
    /// then close the connection.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// How long to wait for the server in the current state (RFC 5321 §4.5.3.2); see
    /// [`Timeouts`]. `Duration::MAX` once closed.
    pub fn timeout(&self) -> Duration {
        let t = &self.config.timeouts;
        match self.phase {
            Phase::Closed => return Duration::MAX,
            Phase::Idle => return t.idle,
            Phase::TlsHandshake => return t.command,
            _ => {}
        }
        match self.expect.front() {
            Some(Expect::Greeting) => t.greeting,
            Some(Expect::Mail) => t.mail,
            Some(Expect::Rcpt(_)) => t.rcpt,
            Some(Expect::Data) => t.data_init,
            Some(Expect::DataEnd | Expect::Bdat { last: true }) => t.data_end,
            Some(Expect::Bdat { last: false }) => t.data_block,
            Some(_) => t.command,
            // Nothing awaited mid-transaction: the body is being written.
            None => t.data_block,
        }
    }

    /// The time-out from [`timeout`](Self::timeout) elapsed. When idle, the session says
    /// QUIT; while QUIT is answered it just closes; otherwise it fails with
    /// [`SessionError::Timeout`].
    pub fn on_timeout(&mut self) {
        match self.phase {
            Phase::Closed => {}
            Phase::Idle => self.write_quit(),
            Phase::Quitting => self.close(),
            _ => self.fail(SessionError::Timeout, false),
        }
    }

    // ---- the application's requests ----

    /// The transport now runs TLS (after [`ClientEvent::StartTls`]): the session forgets
    /// what it learned in plain text and sends EHLO again. Ignored at any other time.
    pub fn tls_established(&mut self) {
        if self.phase != Phase::TlsHandshake {
            return;
        }
        self.tls = true;
        self.caps = None;
        self.phase = Phase::Setup;
        self.write_ehlo(false);
    }

    /// Ends the session politely. When idle, QUIT goes out now; during setup or a
    /// message, it goes out when that is over.
    pub fn quit(&mut self) {
        match self.phase {
            Phase::Idle => self.write_quit(),
            Phase::Setup | Phase::TlsHandshake | Phase::Transaction => self.quit_requested = true,
            Phase::Quitting | Phase::Closed => {}
        }
    }

    /// The capabilities of the server's last EHLO (empty after HELO); `None` before.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.caps.as_ref()
    }

    /// True when the transport runs TLS (STARTTLS done, or implicit TLS).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// True when [`send`](Self::send) may be called.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Idle && !self.quit_requested
    }

    /// Starts a message. Checks first, writing nothing on error, that the server can take
    /// it: see [`SendError`]. Then writes MAIL and the RCPTs (and DATA when pipelining),
    /// preceded by RSET if the previous message on this connection was not accepted.
    ///
    /// The session then asks for the body with [`ClientEvent::SendBody`], unless no
    /// recipient was accepted, and ends the message with `Delivered` or `NotDelivered`.
    pub fn send(&mut self, envelope: Envelope) -> Result<(), SendError> {
        if !self.is_ready() {
            return Err(SendError::NotReady);
        }
        let caps = self.caps.as_ref().ok_or(SendError::NotReady)?;
        check_envelope(&envelope, caps, &self.config, self.tls)?;
        let bdat = self.config.chunking && caps.chunking;
        let pipelined = self.config.pipelining && caps.pipelining;
        let n = envelope.recipients.len();
        self.txn = Some(Transaction {
            envelope,
            results: vec![None; n],
            accepted: 0,
            mail_failed: None,
            next_rcpt: 0,
            pipelined,
            bdat,
            body: None,
            body_finished: false,
            body_blocked: false,
            bdat_outstanding: 0,
            bdat_last_sent: false,
            bdat_failed: None,
            discard_data: false,
        });
        self.phase = Phase::Transaction;
        // Cleared again when the server takes the message.
        if std::mem::replace(&mut self.reset_due, true) {
            self.write(Command::Rset, Expect::Rset);
            if !pipelined {
                return Ok(());
            }
        }
        self.write_mail();
        if pipelined {
            for i in 0..n {
                self.write_rcpt(i);
            }
            if !bdat {
                self.write(Command::Data, Expect::Data);
            }
        }
        Ok(())
    }

    /// Writes the next piece of the message body (after [`ClientEvent::SendBody`]);
    /// returns how many octets were taken. That is all of them except with BDAT to a
    /// server without PIPELINING, where the session holds at most one chunk while the
    /// previous one is answered: offer the rest after the next `SendBody`.
    ///
    /// With DATA the body is dot-stuffed and bare CR/LF become CRLF; with BDAT the same
    /// line-ending repair is made, except for `BODY=BINARYMIME`, sent verbatim.
    pub fn write_body(&mut self, data: &[u8]) -> Result<usize, SendError> {
        let Some(txn) = self.txn.as_mut() else {
            return Err(SendError::NotSendingBody);
        };
        if txn.body_finished || txn.bdat_failed.is_some() {
            return Err(SendError::NotSendingBody);
        }
        match txn.body.as_mut() {
            None => Err(SendError::NotSendingBody),
            Some(BodyWriter::Data(enc)) => {
                enc.encode(data, &mut self.out);
                Ok(data.len())
            }
            Some(BodyWriter::Bdat(_)) => Ok(self.write_bdat_body(data)),
        }
    }

    /// Ends the message body; the session then waits for the server's verdict.
    pub fn finish_body(&mut self) -> Result<(), SendError> {
        let Some(txn) = self.txn.as_mut() else {
            return Err(SendError::NotSendingBody);
        };
        if txn.body_finished || txn.bdat_failed.is_some() {
            return Err(SendError::NotSendingBody);
        }
        match txn.body.as_mut() {
            None => return Err(SendError::NotSendingBody),
            Some(BodyWriter::Data(enc)) => {
                enc.finish(&mut self.out);
                self.expect.push_back(Expect::DataEnd);
            }
            Some(BodyWriter::Bdat(_)) => {}
        }
        txn.body_finished = true;
        self.pump_bdat();
        Ok(())
    }

    // ---- replies ----

    fn on_reply(&mut self, reply: Reply) {
        let expect = self.expect.pop_front();
        if expect == Some(Expect::Quit) {
            return self.close();
        }
        if reply.code == 421 {
            return self.fail(SessionError::ServiceClosing(reply), false);
        }
        let Some(expect) = expect else {
            return self.unexpected(reply);
        };
        if !(200..600).contains(&reply.code) {
            return self.unexpected(reply);
        }
        match expect {
            Expect::Greeting => self.on_greeting(reply),
            Expect::Ehlo => self.on_ehlo(reply),
            Expect::Helo => self.on_helo(reply),
            Expect::StartTls => self.on_starttls(reply),
            Expect::AuthPlain => self.on_auth_done(reply),
            Expect::AuthLogin(step) => self.on_auth_login(step, reply),
            Expect::Rset => self.on_rset(reply),
            Expect::Mail => self.on_mail(reply),
            Expect::Rcpt(i) => self.on_rcpt(i, reply),
            Expect::Data => self.on_data(reply),
            Expect::DataEnd => self.on_data_end(reply),
            Expect::Bdat { last } => self.on_bdat(last, reply),
            Expect::Quit => unreachable!("handled above"),
        }
    }

    fn on_greeting(&mut self, reply: Reply) {
        if reply.code != 220 {
            // RFC 5321 §3.1: after a 554 greeting the client should still say QUIT.
            let quit = reply.is_permanent();
            return self.fail(SessionError::GreetingRefused(reply), quit);
        }
        self.write_ehlo(false);
    }

    fn on_ehlo(&mut self, reply: Reply) {
        if reply.is_positive() {
            self.caps = Some(Capabilities::from_reply(&reply));
            return self.continue_setup();
        }
        if reply.is_permanent() {
            // An old server: fall back to HELO (RFC 5321 §3.2).
            return self.write_ehlo(true);
        }
        self.refused(reply, SessionError::HeloRefused)
    }

    fn on_helo(&mut self, reply: Reply) {
        if reply.is_positive() {
            let first = reply.lines.first().map_or("", |l| l.as_str());
            self.caps = Some(Capabilities {
                domain: first.split(' ').next().unwrap_or_default().to_owned(),
                ..Capabilities::default()
            });
            return self.continue_setup();
        }
        self.refused(reply, SessionError::HeloRefused)
    }

    fn on_starttls(&mut self, reply: Reply) {
        if reply.code == 220 {
            self.phase = Phase::TlsHandshake;
            // Anything already buffered arrived in plain text after the 220: an
            // injection attempt (CVE-2011-0411). Drop it with the old parser.
            self.parser = ReplyParser::new(&self.config.limits);
            self.events.push_back(ClientEvent::StartTls);
            return;
        }
        if reply.is_positive() || reply.is_intermediate() {
            return self.unexpected(reply);
        }
        if self.config.tls == TlsPolicy::Required {
            return self.fail(SessionError::StartTlsRefused(reply), true);
        }
        self.starttls_tried = true;
        self.continue_setup();
    }

    fn on_auth_login(&mut self, step: u8, reply: Reply) {
        if step == 2 {
            return self.on_auth_done(reply);
        }
        if reply.code != 334 {
            return self.refused(reply, SessionError::AuthFailed);
        }
        let creds = self
            .config
            .credentials
            .as_ref()
            .expect("AUTH only with credentials");
        let secret = if step == 0 {
            &creds.username
        } else {
            &creds.password
        };
        let line = BASE64.encode(secret.as_bytes());
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
        self.expect.push_back(Expect::AuthLogin(step + 1));
    }

    fn on_auth_done(&mut self, reply: Reply) {
        if reply.is_positive() {
            self.authenticated = true;
            return self.continue_setup();
        }
        self.refused(reply, SessionError::AuthFailed)
    }

    /// A 4xx/5xx ends setup with `error` (and QUIT); other codes are protocol errors.
    fn refused(&mut self, reply: Reply, error: fn(Reply) -> SessionError) {
        if reply.is_transient() || reply.is_permanent() {
            self.fail(error(reply), true)
        } else {
            self.unexpected(reply)
        }
    }

    /// After EHLO/HELO, STARTTLS and AUTH: do the next step still due, or become ready.
    fn continue_setup(&mut self) {
        let caps = self.caps.as_ref().expect("setup continues after EHLO");
        if !self.tls && !self.starttls_tried && self.config.tls != TlsPolicy::Off {
            if caps.starttls {
                return self.write(Command::StartTls, Expect::StartTls);
            }
            if self.config.tls == TlsPolicy::Required {
                return self.fail(SessionError::TlsNotOffered, true);
            }
        }
        if self.config.credentials.is_some() && !self.authenticated {
            return self.start_auth();
        }
        self.phase = Phase::Idle;
        if self.quit_requested {
            self.write_quit();
        } else {
            self.events.push_back(ClientEvent::Ready);
        }
    }

    /// AUTH PLAIN when offered, else AUTH LOGIN (RFC 4954; LOGIN is the common draft).
    fn start_auth(&mut self) {
        if !self.tls && !self.config.allow_plaintext_auth {
            return self.fail(SessionError::AuthNeedsTls, true);
        }
        let caps = self.caps.as_ref().expect("AUTH after EHLO");
        let offered = |m: &str| caps.auth.iter().any(|a| a.eq_ignore_ascii_case(m));
        let creds = self.config.credentials.as_ref().expect("checked by caller");
        if offered("PLAIN") {
            // authzid empty, then authcid and password, NUL-separated (RFC 4616).
            let mut msg = Vec::with_capacity(creds.username.len() + creds.password.len() + 2);
            msg.push(0);
            msg.extend_from_slice(creds.username.as_bytes());
            msg.push(0);
            msg.extend_from_slice(creds.password.as_bytes());
            let b64 = BASE64.encode(&msg);
            let cmd = Command::Auth {
                mechanism: "PLAIN",
                initial: Some(AuthInitial::Base64(&b64)),
            };
            cmd.write_to(&mut self.out);
            self.expect.push_back(Expect::AuthPlain);
        } else if offered("LOGIN") {
            let cmd = Command::Auth {
                mechanism: "LOGIN",
                initial: None,
            };
            self.write(cmd, Expect::AuthLogin(0));
        } else {
            self.fail(SessionError::AuthUnavailable, true);
        }
    }

    fn on_rset(&mut self, reply: Reply) {
        if !reply.is_positive() {
            return self.unexpected(reply);
        }
        if self.txn.as_ref().is_some_and(|t| !t.pipelined) {
            self.write_mail();
        }
    }

    fn on_mail(&mut self, reply: Reply) {
        if reply.is_intermediate() {
            return self.unexpected(reply);
        }
        let txn = self.txn.as_mut().expect("MAIL only in a transaction");
        let pipelined = txn.pipelined;
        if !reply.is_positive() {
            txn.mail_failed = Some(reply);
            if !pipelined {
                self.finish_txn(None);
            }
            return;
        }
        if !pipelined {
            self.write_rcpt(0);
        }
    }

    fn on_rcpt(&mut self, i: usize, reply: Reply) {
        if reply.is_intermediate() {
            return self.unexpected(reply);
        }
        let txn = self.txn.as_mut().expect("RCPT only in a transaction");
        if reply.is_positive() {
            txn.accepted += 1;
        }
        txn.results[i] = Some(RcptStatus::from_reply(reply));
        let last = i + 1 == txn.results.len();
        if !txn.pipelined && !last {
            return self.write_rcpt(i + 1);
        }
        // With DATA pipelined its reply decides; otherwise decide now.
        let data_pipelined = txn.pipelined && !txn.bdat;
        if last && !data_pipelined {
            self.after_rcpts();
        }
    }

    /// Every RCPT is answered and DATA was not pipelined: start the body or give up.
    fn after_rcpts(&mut self) {
        let txn = self.txn.as_mut().expect("in a transaction");
        if txn.mail_failed.is_some() || txn.accepted == 0 {
            return self.finish_txn(None);
        }
        if txn.bdat {
            let binary = txn.envelope.body == Some(Body::BinaryMime);
            let chunker = Chunker::new(self.config.limits.bdat_chunk_size, binary);
            txn.body = Some(BodyWriter::Bdat(chunker));
            self.events.push_back(ClientEvent::SendBody);
        } else {
            self.write(Command::Data, Expect::Data);
        }
    }

    fn on_data(&mut self, reply: Reply) {
        let txn = self.txn.as_mut().expect("DATA only in a transaction");
        if reply.code == 354 {
            if txn.mail_failed.is_some() || txn.accepted == 0 {
                // RFC 2920 §3.1: DATA accepted with nothing to deliver: send an empty
                // message and ignore its reply.
                txn.discard_data = true;
                self.out.extend_from_slice(b".\r\n");
                self.expect.push_back(Expect::DataEnd);
                return;
            }
            txn.body = Some(BodyWriter::Data(DataEncoder::new()));
            self.events.push_back(ClientEvent::SendBody);
            return;
        }
        if reply.is_positive() || reply.is_intermediate() {
            return self.unexpected(reply);
        }
        if txn.mail_failed.is_some() || txn.accepted == 0 {
            return self.finish_txn(None);
        }
        self.finish_txn(Some(Err(Rejection::Data(reply))));
    }

    fn on_data_end(&mut self, reply: Reply) {
        if reply.is_intermediate() {
            return self.unexpected(reply);
        }
        let txn = self
            .txn
            .as_ref()
            .expect("end of data only in a transaction");
        if txn.discard_data {
            return self.finish_txn(None);
        }
        if reply.is_positive() {
            self.finish_txn(Some(Ok(reply)));
        } else {
            self.finish_txn(Some(Err(Rejection::Message(reply))));
        }
    }

    fn on_bdat(&mut self, last: bool, reply: Reply) {
        if reply.is_intermediate() {
            return self.unexpected(reply);
        }
        let txn = self.txn.as_mut().expect("BDAT only in a transaction");
        txn.bdat_outstanding = txn.bdat_outstanding.saturating_sub(1);
        if !reply.is_positive() && txn.bdat_failed.is_none() {
            // RFC 3030 §2: after a refused chunk, send no more.
            txn.bdat_failed = Some(reply.clone());
        }
        if let Some(failed) = txn.bdat_failed.clone() {
            let done = txn.bdat_outstanding == 0;
            if done {
                self.finish_txn(Some(Err(Rejection::Message(failed))));
            }
            return;
        }
        if last {
            return self.finish_txn(Some(Ok(reply)));
        }
        self.pump_bdat();
        let txn = self.txn.as_mut().expect("still in the transaction");
        if txn.body_blocked {
            if let Some(BodyWriter::Bdat(c)) = &txn.body {
                if !c.is_full() {
                    txn.body_blocked = false;
                    self.events.push_back(ClientEvent::SendBody);
                }
            }
        }
    }

    /// Ends the transaction. `outcome`: `Ok(final reply)`, `Err(why)`, or `None` when MAIL
    /// or every RCPT was refused (the reason follows from the recorded replies).
    fn finish_txn(&mut self, outcome: Option<Result<Reply, Rejection>>) {
        let txn = self.txn.take().expect("in a transaction");
        let outcome = outcome.unwrap_or_else(|| match txn.mail_failed.clone() {
            Some(r) => Err(Rejection::Mail(r)),
            None => Err(Rejection::NoRecipients),
        });
        let recipients = txn
            .envelope
            .recipients
            .into_iter()
            .zip(txn.results)
            .map(|(r, res)| RecipientResult {
                address: r.address,
                status: recipient_status(&outcome, res),
            })
            .collect();
        self.reset_due = outcome.is_err();
        self.events.push_back(match outcome {
            Ok(reply) => ClientEvent::Delivered { recipients, reply },
            Err(reason) => ClientEvent::NotDelivered { recipients, reason },
        });
        self.phase = Phase::Idle;
        if self.quit_requested {
            self.write_quit();
        }
    }

    // ---- writing ----

    fn write(&mut self, cmd: Command<'_>, expect: Expect) {
        cmd.write_to(&mut self.out);
        self.expect.push_back(expect);
    }

    fn write_ehlo(&mut self, helo: bool) {
        let limits = &self.config.limits;
        let Some(domain) = envelope::parse_domain(&self.config.helo_name, limits) else {
            let name = self.config.helo_name.clone();
            return self.fail(SessionError::InvalidHeloName(name), true);
        };
        if helo {
            Command::Helo { domain }.write_to(&mut self.out);
            self.expect.push_back(Expect::Helo);
        } else {
            Command::Ehlo { domain }.write_to(&mut self.out);
            self.expect.push_back(Expect::Ehlo);
        }
    }

    fn write_quit(&mut self) {
        self.write(Command::Quit, Expect::Quit);
        self.phase = Phase::Quitting;
    }

    fn write_mail(&mut self) {
        let txn = self.txn.as_ref().expect("in a transaction");
        let caps = self.caps.as_ref().expect("ready");
        let env = &txn.envelope;
        let limits = &self.config.limits;
        // Checked by `send`; an error here would be a bug, so write the null path.
        let from = match env.sender.as_str() {
            "" => ReversePath::Null,
            a => envelope::mailbox(a, limits).map_or(ReversePath::Null, ReversePath::Mailbox),
        };
        let envid = caps
            .dsn
            .then(|| env.envid.as_ref().map(|e| encode_xtext(e.as_bytes())))
            .flatten();
        let params = MailParams {
            size: env.size.filter(|_| caps.size.is_some()),
            body: env
                .body
                .filter(|b| *b != Body::SevenBit || caps.eight_bit_mime),
            smtputf8: env.smtputf8 || env.has_utf8_address(),
            ret: env.ret.filter(|_| caps.dsn),
            envid: envid.as_deref().map(XText),
            auth: None,
            mt_priority: env.mt_priority.filter(|_| caps.mt_priority),
            requiretls: env.requiretls,
            other: Vec::new(),
        };
        Command::Mail { from, params }.write_to(&mut self.out);
        self.expect.push_back(Expect::Mail);
    }

    fn write_rcpt(&mut self, i: usize) {
        let txn = self.txn.as_mut().expect("in a transaction");
        txn.next_rcpt = i + 1;
        let caps = self.caps.as_ref().expect("ready");
        let rcpt = &txn.envelope.recipients[i];
        let to = if rcpt.address.eq_ignore_ascii_case("postmaster") {
            ForwardPath::Postmaster
        } else {
            match envelope::mailbox(&rcpt.address, &self.config.limits) {
                Ok(m) => ForwardPath::Mailbox(m),
                // Checked by `send`.
                Err(_) => ForwardPath::Postmaster,
            }
        };
        let orcpt = caps
            .dsn
            .then(|| {
                rcpt.orcpt
                    .as_ref()
                    .map(|o| (o.addr_type.as_str(), encode_xtext(o.address.as_bytes())))
            })
            .flatten();
        let params = RcptParams {
            notify: rcpt.notify.filter(|_| caps.dsn),
            orcpt: orcpt.as_ref().map(|(t, a)| Orcpt {
                addr_type: t,
                address: XText(a),
            }),
            other: Vec::new(),
        };
        Command::Rcpt { to, params }.write_to(&mut self.out);
        self.expect.push_back(Expect::Rcpt(i));
    }

    /// Takes body octets into BDAT chunks, sending full ones while allowed.
    fn write_bdat_body(&mut self, data: &[u8]) -> usize {
        let mut taken = 0;
        loop {
            let Some(Transaction {
                body: Some(BodyWriter::Bdat(c)),
                ..
            }) = self.txn.as_mut()
            else {
                return taken;
            };
            taken += c.push(&data[taken..]);
            self.pump_bdat();
            let Some(Transaction {
                body: Some(BodyWriter::Bdat(c)),
                body_blocked,
                ..
            }) = self.txn.as_mut()
            else {
                return taken;
            };
            if taken == data.len() {
                return taken;
            }
            if c.is_full() {
                *body_blocked = true;
                return taken;
            }
        }
    }

    /// Sends the BDAT chunks that are due: full ones, and the last after `finish_body`.
    /// Without PIPELINING, one at a time (RFC 3030 §4.2 allows more only with it).
    fn pump_bdat(&mut self) {
        let Some(txn) = self.txn.as_mut() else { return };
        let Some(BodyWriter::Bdat(chunker)) = txn.body.as_mut() else {
            return;
        };
        while (txn.pipelined || txn.bdat_outstanding == 0)
            && !txn.bdat_last_sent
            && txn.bdat_failed.is_none()
        {
            let last = txn.body_finished;
            if !last && !chunker.is_full() {
                break;
            }
            let chunk = if last {
                chunker.take_last()
            } else {
                chunker.take()
            };
            write_bdat(&chunk, last, &mut self.out);
            txn.bdat_outstanding += 1;
            txn.bdat_last_sent = last;
            self.expect.push_back(Expect::Bdat { last });
        }
    }

    // ---- ending ----

    fn unexpected(&mut self, reply: Reply) {
        self.fail(SessionError::UnexpectedReply(reply), false);
    }

    /// Reports `error` and closes; `quit` adds a courtesy QUIT when the server is still
    /// in a sane state (it refused something rather than broke the protocol).
    fn fail(&mut self, error: SessionError, quit: bool) {
        if quit {
            Command::Quit.write_to(&mut self.out);
        }
        self.txn = None;
        self.expect.clear();
        self.phase = Phase::Closed;
        self.events.push_back(ClientEvent::Failed(error));
    }

    fn close(&mut self) {
        self.txn = None;
        self.expect.clear();
        self.phase = Phase::Closed;
        self.events.push_back(ClientEvent::Closed);
    }
}

/// A recipient's final outcome given the transaction's.
fn recipient_status(outcome: &Result<Reply, Rejection>, rcpt: Option<RcptStatus>) -> RcptStatus {
    match (outcome, rcpt) {
        // A refused MAIL decides for everyone: the RCPT replies only follow from it.
        (Err(Rejection::Mail(r)), _) => RcptStatus::from_reply(r.clone()),
        // DATA or the body refused: the recipients that were accepted share that fate.
        (Err(Rejection::Data(r) | Rejection::Message(r)), Some(RcptStatus::Accepted(_)) | None) => {
            RcptStatus::from_reply(r.clone())
        }
        (_, Some(status)) => status,
        // Cannot happen (every RCPT is answered before the end); stay on the safe side.
        (_, None) => RcptStatus::Temporary(Reply::new(
            451,
            Some(EnhancedCode::new(4, 4, 0)),
            "no reply to RCPT",
        )),
    }
}

/// What `send` checks before writing anything: addresses, and the extensions the message
/// needs against what the server offers.
fn check_envelope(
    env: &Envelope,
    caps: &Capabilities,
    config: &ClientConfig,
    tls: bool,
) -> Result<(), SendError> {
    if env.recipients.is_empty() {
        return Err(SendError::NoRecipients);
    }
    let limits = &config.limits;
    if !env.sender.is_empty() {
        envelope::mailbox(&env.sender, limits)?;
    }
    for r in &env.recipients {
        if !r.address.eq_ignore_ascii_case("postmaster") {
            envelope::mailbox(&r.address, limits)?;
        }
    }
    match env.body {
        Some(Body::EightBitMime) if !caps.eight_bit_mime => {
            return Err(SendError::EightBitMimeNotOffered);
        }
        Some(Body::BinaryMime) if !(caps.binary_mime && caps.chunking && config.chunking) => {
            return Err(SendError::BinaryMimeNotOffered);
        }
        _ => {}
    }
    if (env.smtputf8 || env.has_utf8_address()) && !caps.smtputf8 {
        return Err(SendError::SmtpUtf8NotOffered);
    }
    if let (Some(size), Some(max)) = (env.size, caps.size) {
        if max > 0 && size > max {
            return Err(SendError::TooLarge { size, max });
        }
    }
    if env.mt_priority.is_some_and(|p| !(-9..=9).contains(&p)) {
        return Err(SendError::BadParameter("MT-PRIORITY"));
    }
    if env.requiretls && !(tls && caps.requiretls) {
        return Err(SendError::RequireTlsUnavailable);
    }
    Ok(())
}
