//! Sending mail with postern-smtp's sans-IO [`ClientSession`]: one connection, two
//! messages, several recipients each, MAIL/RCPT/DATA pipelined, and every recipient's own
//! result.
//!
//! ```text
//! cargo run --example send_pipelined
//! ```
//!
//! The client session never touches the socket. The loop is always the same four steps:
//! write [`ClientSession::pending_output`], read with [`ClientSession::timeout`], feed
//! the bytes to [`ClientSession::receive`], handle each [`ClientEvent`]. The events tell
//! the application when to send a message (`Ready`), when to stream its body
//! (`SendBody`) and what became of it (`Delivered` / `NotDelivered`, with one
//! [`RecipientResult`] per recipient).
//!
//! When the server announces PIPELINING, the session writes MAIL FROM, every RCPT TO and
//! DATA in one go and matches the replies to the commands in order; the program prints
//! each write so you can see it. For one message and no reuse,
//! `postern_smtp::driver::send` (feature `tokio`, see `examples/send_mail.rs`) is this
//! loop ready-made.
//!
//! To be runnable by itself, the program first starts a small server on 127.0.0.1 (with
//! `postern_smtp::driver::serve`) that refuses `nobody@` (550) and greylists `later@`
//! (450). It exits 0 when every recipient got the answer the server gave it.

use std::collections::VecDeque;
use std::io;

use postern_smtp::client::{
    ClientConfig, ClientEvent, ClientSession, Envelope, RcptStatus, RecipientResult,
};
use postern_smtp::driver::{self, Handler, Verdict};
use postern_smtp::server::{ServerConfig, ServerSession};
use postern_smtp::{EnhancedCode, ForwardPath, RcptParams, Reply};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// The messages to send on the one connection: envelope and content.
fn outbox() -> VecDeque<(Envelope, &'static [u8])> {
    let first = Envelope::new(
        "jo@client.example",
        [
            "ann@example.test",
            "nobody@example.test",
            "bea@example.test",
        ],
    );
    let second = Envelope::new(
        "jo@client.example",
        ["later@example.test", "cy@example.test"],
    );
    VecDeque::from([
        (first, &b"Subject: one\r\n\r\nFirst message.\r\n"[..]),
        (second, &b"Subject: two\r\n\r\nSecond message.\r\n"[..]),
    ])
}

/// Runs one client session over `stream` until every message is answered and the
/// server said goodbye; returns each message's per-recipient results.
async fn send_all(mut stream: TcpStream) -> io::Result<Vec<Vec<RecipientResult>>> {
    // The default TLS policy is opportunistic: STARTTLS when the server offers it. This
    // test server does not (examples/smtp_server.rs shows STARTTLS).
    let mut session = ClientSession::new(ClientConfig::new("client.example"));
    let mut outbox = outbox();
    let mut body: &[u8] = b""; // The rest of the body being sent.
    let mut results = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // 1. What happened: the session's news and requests.
        while let Some(event) = session.poll_event() {
            match event {
                // Greeted (and EHLO, STARTTLS, AUTH done as configured): the first message.
                ClientEvent::Ready => send_next(&mut session, &mut outbox, &mut body)?,
                // The server said 354 (or BDAT may start): stream the body. The session
                // takes what fits its buffer and asks again for the rest.
                ClientEvent::SendBody => {
                    while !body.is_empty() {
                        match session.write_body(body).map_err(io::Error::other)? {
                            0 => break,
                            n => body = &body[n..],
                        }
                    }
                    if body.is_empty() {
                        session.finish_body().map_err(io::Error::other)?;
                    }
                }
                // A message is answered; the session is idle again: the next one.
                ClientEvent::Delivered { recipients, reply } => {
                    println!("-- delivered: {reply}");
                    results.push(recipients);
                    send_next(&mut session, &mut outbox, &mut body)?;
                }
                ClientEvent::NotDelivered { recipients, reason } => {
                    println!("-- not delivered: {reason:?}");
                    results.push(recipients);
                    send_next(&mut session, &mut outbox, &mut body)?;
                }
                ClientEvent::Failed(e) => return Err(io::Error::other(e)),
                _ => {} // Closed (after QUIT), StartTls (not asked for here).
            }
        }
        // 2. Write what the session has to say; with PIPELINING, several commands at once.
        let out = session.pending_output();
        if !out.is_empty() {
            for line in String::from_utf8_lossy(out).lines() {
                println!("C: {line}");
            }
            println!("   ({} bytes in one write)", out.len());
            let n = out.len();
            stream.write_all(out).await?;
            session.consume_output(n);
        }
        if session.is_closed() {
            return Ok(results);
        }
        // 3. Read, with the timeout of the reply awaited (RFC 5321 §4.5.3.2).
        match tokio::time::timeout(session.timeout(), stream.read(&mut buf)).await {
            Err(_) => session.on_timeout(),
            Ok(Ok(0)) => session.on_eof(),
            Ok(Ok(n)) => session.receive(&buf[..n]),
            Ok(Err(e)) => return Err(e),
        }
    }
}

/// Starts the next message of `outbox` on the idle session, or says goodbye (QUIT).
fn send_next<'a>(
    session: &mut ClientSession,
    outbox: &mut VecDeque<(Envelope, &'a [u8])>,
    body: &mut &'a [u8],
) -> io::Result<()> {
    match outbox.pop_front() {
        Some((envelope, content)) => {
            *body = content;
            session.send(envelope).map_err(io::Error::other)
        }
        None => {
            session.quit();
            Ok(())
        }
    }
}

/// The test server's policy: `nobody@` does not exist, `later@` is greylisted.
struct Picky;

impl Handler for Picky {
    async fn rcpt(&mut self, to: &ForwardPath<'_>, _params: &RcptParams<'_>) -> Verdict {
        let to = to.to_string();
        if to.starts_with("<nobody@") {
            let code = Some(EnhancedCode::new(5, 1, 1));
            Verdict::Reply(Reply::new(550, code, "No such user"))
        } else if to.starts_with("<later@") {
            let code = Some(EnhancedCode::new(4, 7, 1));
            Verdict::Reply(Reply::new(450, code, "Greylisted, try again later"))
        } else {
            Verdict::Accept
        }
    }

    async fn message_end(&mut self, _size: u64) -> Verdict {
        Verdict::Accept // A real server keeps the message safe before saying so.
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let session = ServerSession::new(ServerConfig::new("mx.example.test"));
            tokio::spawn(async move { driver::serve(sock, session, &mut Picky).await });
        }
    });

    let results = send_all(TcpStream::connect(addr).await?).await?;
    let mut answers = Vec::new();
    for (i, recipients) in results.iter().enumerate() {
        println!("message {}:", i + 1);
        for r in recipients {
            let what = match &r.status {
                RcptStatus::Accepted(_) => "accepted",
                RcptStatus::Temporary(_) => "deferred: try again later",
                RcptStatus::Permanent(_) => "refused: send a bounce",
            };
            println!("  {:<22} {what} ({})", r.address, r.status.reply());
            answers.push((r.address.as_str(), r.status.reply().code));
        }
    }
    let expected = [
        ("ann@example.test", 250),
        ("nobody@example.test", 550),
        ("bea@example.test", 250),
        ("later@example.test", 450),
        ("cy@example.test", 250),
    ];
    assert_eq!(answers, expected);
    Ok(())
}
