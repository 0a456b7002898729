//! [`serve`]: a server session to its end, with an application [`Handler`].

use std::future::Future;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::READ_BUFFER;
use crate::params::{MailParams, RcptParams};
use crate::path::{ForwardPath, ReversePath};
use crate::reply::Reply;
use crate::server::{AuthMechanism, Event, ServerSession};

/// The application's answer to a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// The session's default positive reply (`250 2.1.0 Ok`, `354 …`, `235 …`).
    Accept,
    /// This reply instead: a refusal (4xx, 5xx) or a positive reply with its own text.
    Reply(Reply),
}

/// What a mail server decides, one method per decision of the session. Every method has
/// a default: accept MAIL, RCPT and the start of data, refuse the message at its end
/// (`451`: a handler that keeps nothing must not say it has the mail), refuse AUTH and
/// ETRN. Content arrives in [`data`](Handler::data) between `data_start` and
/// `message_end`; [`reset`](Handler::reset) says to drop whatever was collected.
///
/// The methods return futures, so a decision may wait on a database or a spool write.
/// Implement them with `async fn` in the `impl` block.
pub trait Handler: Send {
    /// `MAIL FROM`.
    fn mail(
        &mut self,
        from: &ReversePath<'_>,
        params: &MailParams<'_>,
    ) -> impl Future<Output = Verdict> + Send {
        let _ = (from, params);
        async { Verdict::Accept }
    }

    /// `RCPT TO`.
    fn rcpt(
        &mut self,
        to: &ForwardPath<'_>,
        params: &RcptParams<'_>,
    ) -> impl Future<Output = Verdict> + Send {
        let _ = (to, params);
        async { Verdict::Accept }
    }

    /// `DATA` or the first `BDAT`, with at least one recipient accepted.
    fn data_start(&mut self) -> impl Future<Output = Verdict> + Send {
        async { Verdict::Accept }
    }

    /// A piece of the message content, in order (dot-stuffing already removed).
    fn data(&mut self, chunk: &[u8]) -> impl Future<Output = ()> + Send {
        let _ = chunk;
        async {}
    }

    /// The message is complete; accept only once it is safe (written, fsynced).
    fn message_end(&mut self, size: u64) -> impl Future<Output = Verdict> + Send {
        let _ = size;
        async {
            Verdict::Reply(Reply::new(
                451,
                Some(crate::reply::EnhancedCode::new(4, 3, 0)),
                "message not kept",
            ))
        }
    }

    /// The transaction ended without a message (RSET, EHLO, refused content, or the
    /// session closed mid-message): drop what [`data`](Handler::data) collected.
    fn reset(&mut self) {}

    /// A completed AUTH exchange. Default: refuse with `535 5.7.8`.
    fn auth(
        &mut self,
        mechanism: AuthMechanism,
        username: &str,
        password: &str,
    ) -> impl Future<Output = Verdict> + Send {
        let _ = (mechanism, username, password);
        async {
            Verdict::Reply(Reply::new(
                535,
                Some(crate::reply::EnhancedCode::new(5, 7, 8)),
                "Authentication credentials invalid",
            ))
        }
    }

    /// `ETRN node`. Default: refuse with `502 5.5.1` (nothing is queued here to release).
    fn etrn(&mut self, node: &str) -> impl Future<Output = Verdict> + Send {
        let _ = node;
        async {
            Verdict::Reply(Reply::new(
                502,
                Some(crate::reply::EnhancedCode::new(5, 5, 1)),
                "ETRN not available",
            ))
        }
    }
}

/// How [`serve`] ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum Served<S> {
    /// The session is over (QUIT, closed by the session, or the client went away).
    Closed,
    /// The client sent STARTTLS and the `220` has been written: run the TLS handshake on
    /// `stream`, call [`ServerSession::tls_established`], and call [`serve`] again with the
    /// TLS stream and the same session (`*session`).
    StartTls {
        /// The plain stream, ready for the handshake.
        stream: S,
        /// The session, waiting for TLS (boxed: it is large, and `Closed` is the common end).
        session: Box<ServerSession>,
    },
}

/// Runs `session` on `stream` until it ends, asking `handler` for every decision.
///
/// Greets first unless the session already has (it was resumed after STARTTLS), so an
/// application that delays or refuses the greeting does so before calling `serve`. Reads time out after the
/// session's own [`timeout`](ServerSession::timeout).
pub async fn serve<S, H>(
    mut stream: S,
    mut session: ServerSession,
    handler: &mut H,
) -> std::io::Result<Served<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    // A no-op for a session that has greeted already (one resumed after STARTTLS).
    session.greet();
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        let mut starttls = false;
        while let Some(event) = session.poll_event() {
            let verdict = match event {
                Event::StartTls => {
                    starttls = true;
                    None
                }
                event => decide(handler, event).await,
            };
            // (No let chain: the crate keeps its 1.85 minimum.)
            match verdict {
                _ if session.pending_decision().is_none() => {}
                Some(Verdict::Accept) => {
                    let _ = session.accept();
                }
                Some(Verdict::Reply(reply)) => {
                    let _ = session.reply(reply);
                }
                None => {}
            }
        }
        flush(&mut stream, &mut session).await?;
        if starttls {
            return Ok(Served::StartTls {
                stream,
                session: Box::new(session),
            });
        }
        if session.is_closed() {
            break;
        }
        match tokio::time::timeout(session.timeout(), stream.read(&mut buf)).await {
            Err(_elapsed) => session.on_timeout(),
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => session.receive(&buf[..n]),
            Ok(Err(e)) => {
                handler.reset();
                return Err(e);
            }
        }
    }
    handler.reset();
    let _ = stream.shutdown().await;
    Ok(Served::Closed)
}

/// Hands one event to the handler; `Some` for the decisions.
async fn decide<H: Handler>(handler: &mut H, event: Event<'_>) -> Option<Verdict> {
    Some(match event {
        Event::Mail { from, params } => handler.mail(&from, &params).await,
        Event::Rcpt { to, params } => handler.rcpt(&to, &params).await,
        Event::DataStart => handler.data_start().await,
        Event::DataChunk(chunk) => {
            handler.data(chunk).await;
            return None;
        }
        Event::MessageEnd { size } => handler.message_end(size).await,
        Event::Auth {
            mechanism,
            username,
            password,
            ..
        } => handler.auth(mechanism, username, password).await,
        Event::Etrn { node } => handler.etrn(node).await,
        Event::MessageRejected { .. }
        | Event::Reset
        | Event::Helo { .. }
        | Event::Ehlo { .. }
        | Event::Quit
        | Event::Closed { .. } => {
            handler.reset();
            return None;
        }
        // VRFY/EXPN when the application decides them: the session's default replies.
        _ => Verdict::Accept,
    })
}

/// Writes everything the session has to send.
async fn flush<S: AsyncWrite + Unpin>(
    stream: &mut S,
    session: &mut ServerSession,
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
