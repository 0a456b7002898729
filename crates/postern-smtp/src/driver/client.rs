//! [`send`]: one message over a client session.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::READ_BUFFER;
use crate::client::{
    ClientConfig, ClientEvent, ClientSession, Envelope, RecipientResult, Rejection, SendError,
    SessionError,
};
use crate::reply::Reply;

/// What became of a message given to [`send`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReport {
    /// Every recipient in envelope order with the server's answer.
    pub recipients: Vec<RecipientResult>,
    /// The reply to the end of data when the message was accepted.
    pub accepted: Option<Reply>,
    /// Why the message was not delivered, when it was not.
    pub rejection: Option<Rejection>,
}

impl SendReport {
    /// True when the server accepted the message for every recipient.
    pub fn delivered(&self) -> bool {
        self.accepted.is_some() && self.recipients.iter().all(|r| r.status.is_accepted())
    }
}

/// Why [`send`] could not finish its exchange with the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriveError {
    /// Reading from or writing to the stream failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The session failed (bad greeting, timeout, connection lost, required TLS or AUTH
    /// refused…); [`SessionError::reply`] gives the reply a gateway would record.
    #[error("session failed: {0}")]
    Session(SessionError),
    /// The message cannot be sent on this session (8BITMIME not offered, too large…),
    /// found before anything of it was written.
    #[error("cannot send: {0}")]
    Send(SendError),
    /// The server offered STARTTLS and the configuration asks for it; this driver has no
    /// TLS. Set [`ClientConfig::tls`] to `TlsPolicy::Off`, or drive
    /// [`ClientSession`] yourself and run the handshake on [`ClientEvent::StartTls`].
    #[error("STARTTLS needed, and this driver does not run TLS")]
    TlsUnsupported,
}

/// Sends `body` to the envelope's recipients over `stream`, then QUIT.
///
/// Returns when the server answered the message (accepted or not) and the session
/// closed; an accepted message is reported even if the connection breaks after the
/// final `250`. The session's own timeouts apply to every wait.
pub async fn send<S>(
    mut stream: S,
    config: ClientConfig,
    envelope: Envelope,
    body: &[u8],
) -> Result<SendReport, DriveError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut session = ClientSession::new(config);
    let mut run = Run {
        envelope: Some(envelope),
        body,
        sent: 0,
        report: None,
    };
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        while let Some(event) = session.poll_event() {
            run.on_event(&mut session, event)?;
        }
        flush(&mut stream, &mut session).await?;
        if session.is_closed() {
            break;
        }
        match tokio::time::timeout(session.timeout(), stream.read(&mut buf)).await {
            Err(_elapsed) => session.on_timeout(),
            Ok(Ok(0)) => session.on_eof(),
            Ok(Ok(n)) => session.receive(&buf[..n]),
            Ok(Err(e)) if run.report.is_some() => {
                // The message was answered; only the QUIT exchange broke.
                let _ = e;
                break;
            }
            Ok(Err(e)) => return Err(e.into()),
        }
    }
    while let Some(event) = session.poll_event() {
        run.on_event(&mut session, event)?;
    }
    run.report
        .ok_or(DriveError::Session(SessionError::ConnectionClosed))
}

/// The state of the one message [`send`] carries.
struct Run<'b> {
    envelope: Option<Envelope>,
    body: &'b [u8],
    sent: usize,
    report: Option<SendReport>,
}

impl Run<'_> {
    fn on_event(
        &mut self,
        session: &mut ClientSession,
        event: ClientEvent,
    ) -> Result<(), DriveError> {
        match event {
            ClientEvent::Ready => {
                if let Some(envelope) = self.envelope.take() {
                    session.send(envelope).map_err(DriveError::Send)?;
                }
            }
            ClientEvent::SendBody => self.write_body(session)?,
            ClientEvent::Delivered { recipients, reply } => {
                self.report = Some(SendReport {
                    recipients,
                    accepted: Some(reply),
                    rejection: None,
                });
                session.quit();
            }
            ClientEvent::NotDelivered { recipients, reason } => {
                self.report = Some(SendReport {
                    recipients,
                    accepted: None,
                    rejection: Some(reason),
                });
                session.quit();
            }
            ClientEvent::Failed(e) if self.report.is_none() => return Err(DriveError::Session(e)),
            ClientEvent::StartTls => return Err(DriveError::TlsUnsupported),
            _ => {}
        }
        Ok(())
    }

    /// Offers the rest of the body; the session may take part and ask again.
    fn write_body(&mut self, session: &mut ClientSession) -> Result<(), DriveError> {
        while self.sent < self.body.len() {
            match session.write_body(&self.body[self.sent..]) {
                Ok(0) => return Ok(()),
                Ok(n) => self.sent += n,
                Err(e) => return Err(DriveError::Send(e)),
            }
        }
        session.finish_body().map_err(DriveError::Send)
    }
}

/// Writes everything the session has to send.
async fn flush<S: AsyncWrite + Unpin>(
    stream: &mut S,
    session: &mut ClientSession,
) -> std::io::Result<()> {
    let out = session.pending_output();
    if !out.is_empty() {
        let n = out.len();
        stream.write_all(out).await?;
        stream.flush().await?;
        session.consume_output(n);
    }
    Ok(())
}
