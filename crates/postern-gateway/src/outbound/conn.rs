//! One outbound SMTP connection: postern-smtp's sans-IO [`ClientSession`] driven over a
//! tokio [`Transport`], with the session's own time-outs and STARTTLS. What crosses the
//! session (both ways, after TLS too) goes to its protocol-log [`Transcript`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::task::Poll;
use std::time::Duration;

use postern_queue::FailureClass;
use postern_smtp::client::{
    ClientConfig, ClientEvent, ClientSession, Envelope, RcptStatus, RecipientResult, Rejection,
    SendError, SessionError,
};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::transport::Transport;
use crate::lazy_timer::LazyTimer;
use crate::protolog::Transcript;

/// Read buffer size: one socket read at a time, never more.
const READ_CHUNK: usize = 16 * 1024;

/// Why a connection could not be made ready for mail.
#[derive(Debug, Clone)]
pub enum SetupError {
    /// Connect, greeting or EHLO failed: the host is unreachable for mail (the reply
    /// describes it). Counts towards "every host failed" (connector failover).
    Unreachable(String),
    /// The domain requires TLS and this host cannot provide it.
    TlsUnavailable(String),
    /// The server accepted STARTTLS but the handshake failed; the connection is lost.
    TlsFailed(String),
}

impl SetupError {
    /// The reply text describing the failure.
    pub fn reply(&self) -> &str {
        match self {
            SetupError::Unreachable(r)
            | SetupError::TlsUnavailable(r)
            | SetupError::TlsFailed(r) => r,
        }
    }
}

/// What became of one message on a connection.
#[derive(Debug)]
pub enum Sent {
    /// The server answered; every recipient has a status. `temp_class` is the failure
    /// class of temporary refusals that were not per recipient (MAIL, DATA, the body).
    Answered {
        /// Each recipient in envelope order.
        recipients: Vec<RecipientResult>,
        /// The class for the transaction-wide temporary refusals.
        temp_class: FailureClass,
    },
    /// The session refused to start the message (nothing written).
    Refused(SendError),
    /// The connection failed during the message.
    Broken(SessionError),
}

/// A live connection with a session on it.
pub struct Conn {
    session: ClientSession,
    transport: Transport,
    tls: TlsConnector,
    /// The host name as the next hop named it.
    pub host: String,
    /// The address connected to.
    pub peer: SocketAddr,
    /// Messages sent over it so far.
    pub messages: usize,
    buf: Vec<u8>,
    /// The protocol log of this session (a disabled one when logging is off).
    log: Transcript,
    /// The read time-out's timer, kept for the connection's life (two reads a message).
    timer: LazyTimer,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("host", &self.host)
            .field("peer", &self.peer)
            .field("messages", &self.messages)
            .finish_non_exhaustive()
    }
}

/// Bounded wait: `Duration::MAX` (closed session) means no timer at all.
async fn within<F: Future>(d: Duration, f: F) -> Option<F::Output> {
    tokio::time::timeout(d, f).await.ok()
}

impl Conn {
    /// Connects to `peer` within `connect_timeout` and drives the session to `Ready`
    /// (greeting, EHLO, STARTTLS as `config.tls` says), recording it in `log`; a failure
    /// is noted there too.
    pub async fn open(
        host: &str,
        peer: SocketAddr,
        config: ClientConfig,
        connect_timeout: Duration,
        tls: TlsConnector,
        mut log: Transcript,
    ) -> Result<Conn, SetupError> {
        let mut unreachable = |why: String| {
            let reply = format!("451 4.4.1 {why}");
            log.note(&reply);
            SetupError::Unreachable(reply)
        };
        let stream = match within(connect_timeout, TcpStream::connect(peer)).await {
            None => return Err(unreachable(format!("connect to {host} [{peer}] timed out"))),
            Some(Err(e)) => return Err(unreachable(format!("connect to {host} [{peer}]: {e}"))),
            Some(Ok(s)) => s,
        };
        log.note("connected");
        let _ = stream.set_nodelay(true);
        let mut conn = Conn {
            session: ClientSession::new(config),
            transport: Transport::Plain(stream),
            tls,
            host: host.to_owned(),
            peer,
            messages: 0,
            buf: vec![0; READ_CHUNK],
            log,
            timer: LazyTimer::new(),
        };
        let ready = conn.until_ready().await;
        if let Err(e) = &ready {
            conn.log.note(e.reply());
        }
        conn.log.flush();
        ready.map(|()| conn)
    }

    /// Writes a note into the session's protocol log (which message it carries next).
    pub fn note(&mut self, text: &str) {
        self.log.note(text);
    }

    /// Whether the session's protocol log records (so notes are worth building).
    pub fn is_logged(&self) -> bool {
        self.log.is_recording()
    }

    /// Runs the setup phase until the session says `Ready`.
    async fn until_ready(&mut self) -> Result<(), SetupError> {
        loop {
            while let Some(ev) = self.session.poll_event() {
                match ev {
                    ClientEvent::Ready => return Ok(()),
                    ClientEvent::StartTls => {
                        if let Err(e) = self.start_tls().await {
                            return Err(SetupError::TlsFailed(format!(
                                "451 4.7.5 TLS handshake with {} failed: {e}",
                                self.host
                            )));
                        }
                        let tls = self.tls_description().unwrap_or_default();
                        self.log.note(&format!("TLS established ({tls})"));
                        self.session.tls_established();
                    }
                    ClientEvent::Failed(e) => return Err(self.setup_error(&e)),
                    _ => {}
                }
            }
            if self.session.is_closed() {
                return Err(SetupError::Unreachable(format!(
                    "451 4.4.2 {} closed the session",
                    self.host
                )));
            }
            if let Err(e) = self.pump().await {
                return Err(SetupError::Unreachable(format!(
                    "451 4.4.2 {}: {e}",
                    self.host
                )));
            }
        }
    }

    fn setup_error(&self, e: &SessionError) -> SetupError {
        match e {
            SessionError::TlsNotOffered | SessionError::StartTlsRefused(_) => {
                SetupError::TlsUnavailable(format!(
                    "451 4.7.10 TLS required for this domain but {} [{}]: {e}",
                    self.host, self.peer
                ))
            }
            _ => SetupError::Unreachable(format!(
                "{} (from {} [{}])",
                e.reply(),
                self.host,
                self.peer
            )),
        }
    }

    /// Writes what the session has to send, within its time-out.
    async fn flush(&mut self) -> io::Result<()> {
        let out = self.session.pending_output();
        if out.is_empty() {
            return Ok(());
        }
        let n = out.len();
        self.log.client(out);
        match within(self.session.timeout(), self.transport.write_all(out)).await {
            None => return Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")),
            Some(r) => r?,
        }
        self.session.consume_output(n);
        within(self.session.timeout(), self.transport.flush())
            .await
            .unwrap_or(Ok(()))
    }

    /// Flushes, then waits for one read (or the session's time-out) and feeds it in. An
    /// I/O error ends the session (as EOF) and is returned.
    async fn pump(&mut self) -> io::Result<()> {
        let r = self.pump_once().await;
        if r.is_err() {
            self.session.on_eof();
        }
        r
    }

    async fn pump_once(&mut self) -> io::Result<()> {
        self.flush().await?;
        if self.session.is_closed() {
            return Ok(());
        }
        let read = self
            .timer
            .within(self.session.timeout(), self.transport.read(&mut self.buf));
        match read.await {
            None => {
                self.log.note("timed out waiting for the server");
                self.session.on_timeout();
            }
            Some(Ok(0)) => {
                self.log.note("connection closed by the server");
                self.session.on_eof();
            }
            Some(Ok(n)) => {
                self.log.server(&self.buf[..n]);
                self.session.receive(&self.buf[..n]);
            }
            Some(Err(e)) => {
                self.log.note(&format!("read failed: {e}"));
                self.log.flush();
                return Err(e);
            }
        }
        self.log.flush();
        Ok(())
    }

    /// Runs the TLS handshake on the transport after the server's 220 to STARTTLS.
    async fn start_tls(&mut self) -> io::Result<()> {
        self.flush().await?;
        let Transport::Plain(tcp) = std::mem::replace(&mut self.transport, Transport::Gone) else {
            return Err(io::Error::other("STARTTLS on a connection already in TLS"));
        };
        let name =
            ServerName::try_from(self.host.trim_matches(|c| c == '[' || c == ']').to_owned())
                .unwrap_or_else(|_| ServerName::IpAddress(self.peer.ip().into()));
        let handshake = self.tls.connect(name, tcp);
        let stream = within(self.session.timeout(), handshake)
            .await
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
        self.transport = Transport::Tls(Box::new(stream));
        Ok(())
    }

    /// True when the session can take a message now.
    pub fn is_ready(&self) -> bool {
        self.session.is_ready()
    }

    /// The server announced DSN (RFC 3461): notice parameters are passed on to it.
    pub fn dsn(&self) -> bool {
        self.session.capabilities().is_some_and(|c| c.dsn)
    }

    /// Whether the server offered 8BITMIME.
    pub fn eight_bit_mime(&self) -> bool {
        self.session
            .capabilities()
            .is_some_and(|c| c.eight_bit_mime)
    }

    /// The TLS in use, if any (for tracking).
    pub fn tls_description(&self) -> Option<String> {
        self.transport.tls_description()
    }

    /// True when a connection kept idle is still usable: nothing arrived and the server
    /// did not close it (a `421` while idle, or EOF, makes it unusable).
    pub async fn is_alive(&mut self) -> bool {
        if !self.session.is_ready() {
            return false;
        }
        // One poll of a read, and no timer. A zero time-out would register a timer due at
        // once; a timer due before the runtime's next wake-up makes tokio wake its driver
        // with an eventfd write, once for each message sent on a kept connection.
        let polled = {
            let mut read = std::pin::pin!(self.transport.read(&mut self.buf));
            std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await
        };
        match polled {
            Poll::Pending => true,
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(n)) => {
                self.log.server(&self.buf[..n]);
                self.session.receive(&self.buf[..n]);
                self.session.is_ready()
            }
        }
    }

    /// Sends one message and waits for the verdict.
    pub async fn send(&mut self, envelope: Envelope, body: &[u8]) -> Sent {
        if let Err(e) = self.session.send(envelope) {
            return Sent::Refused(e);
        }
        self.messages += 1;
        let mut offset = 0;
        loop {
            while let Some(ev) = self.session.poll_event() {
                match ev {
                    ClientEvent::SendBody => offset = self.offer_body(body, offset),
                    ClientEvent::Delivered { recipients, reply } => {
                        // An accepted recipient's result is the reply to the end of
                        // data (it names the remote queue id), not the RCPT's 250.
                        // Refusals among delivered ones can only be RCPT replies.
                        let recipients = recipients
                            .into_iter()
                            .map(|mut r| {
                                if r.status.is_accepted() {
                                    r.status = RcptStatus::Accepted(reply.clone());
                                }
                                r
                            })
                            .collect();
                        return Sent::Answered {
                            recipients,
                            temp_class: FailureClass::Recipient,
                        };
                    }
                    ClientEvent::NotDelivered { recipients, reason } => {
                        // The server answered: a 4xx here is the message's own
                        // deferral, never a reason to back the destination off.
                        let temp_class = match reason {
                            Rejection::NoRecipients => FailureClass::Recipient,
                            _ => FailureClass::Data,
                        };
                        return Sent::Answered {
                            recipients,
                            temp_class,
                        };
                    }
                    ClientEvent::Failed(e) => return Sent::Broken(e),
                    _ => {}
                }
            }
            if self.session.is_closed() {
                return Sent::Broken(SessionError::ConnectionClosed);
            }
            // An I/O error surfaces as the session's Failed event on the next turn.
            let _ = self.pump().await;
        }
    }

    /// Offers the rest of the body from `offset`; ends it once all was taken.
    fn offer_body(&mut self, body: &[u8], mut offset: usize) -> usize {
        while offset < body.len() {
            match self.session.write_body(&body[offset..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => offset += n,
            }
        }
        if offset >= body.len() {
            let _ = self.session.finish_body();
        }
        offset
    }

    /// Says QUIT and waits briefly for the answer (bounded by the session's time-out).
    pub async fn quit(mut self) {
        self.session.quit();
        while !self.session.is_closed() {
            if self.pump().await.is_err() {
                break;
            }
        }
        let _ = self.flush().await;
        let _ = self.transport.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postern_smtp::client::TlsPolicy;
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::TcpListener;

    /// What a test server does once the client is ready (after its EHLO).
    enum Then {
        Wait,
        Close,
        SayAndClose(&'static [u8]),
    }

    /// A connection made ready with a server on 127.0.0.1 that greets, answers EHLO and
    /// then does `then`; the server's task ends when the test no longer needs it.
    async fn ready_conn(then: Then) -> (Conn, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            let mut sock = BufReader::new(sock);
            sock.write_all(b"220 test.example ready\r\n").await.unwrap();
            let mut line = String::new();
            sock.read_line(&mut line).await.unwrap();
            assert!(line.starts_with("EHLO "), "{line:?}");
            sock.write_all(b"250 test.example\r\n").await.unwrap();
            match then {
                Then::Wait => {
                    let mut rest = String::new();
                    let _ = sock.read_line(&mut rest).await;
                }
                Then::Close => {}
                Then::SayAndClose(text) => sock.write_all(text).await.unwrap(),
            }
        });
        let mut config = ClientConfig::new("client.test");
        config.tls = TlsPolicy::Off;
        let conn = Conn::open(
            "test.example",
            peer,
            config,
            Duration::from_secs(5),
            crate::tls::client_connector(),
            Transcript::disabled(),
        )
        .await
        .unwrap();
        (conn, server)
    }

    /// Polls `is_alive` until it says false, for up to five seconds: the server's close
    /// reaches the client a moment after the server's task ends.
    async fn turns_dead(conn: &mut Conn) -> bool {
        for _ in 0..500 {
            if !conn.is_alive().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    #[tokio::test]
    async fn a_quiet_kept_connection_is_alive_without_waiting() {
        let (mut conn, server) = ready_conn(Then::Wait).await;
        let started = tokio::time::Instant::now();
        for _ in 0..3 {
            assert!(conn.is_alive().await);
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(conn.is_ready(), "nothing was read or sent");
        server.abort();
    }

    #[tokio::test]
    async fn a_kept_connection_the_server_closed_is_dead() {
        let (mut conn, server) = ready_conn(Then::Close).await;
        server.await.unwrap();
        assert!(turns_dead(&mut conn).await);
    }

    #[tokio::test]
    async fn a_421_while_idle_makes_a_kept_connection_dead() {
        let (mut conn, server) =
            ready_conn(Then::SayAndClose(b"421 4.4.2 idle too long\r\n")).await;
        server.await.unwrap();
        assert!(turns_dead(&mut conn).await);
        assert!(!conn.is_ready(), "the 421 ended the session");
    }
}
