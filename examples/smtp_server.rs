//! A complete SMTP server on postern-smtp's sans-IO [`ServerSession`], on tokio: STARTTLS
//! (with tokio-rustls), PIPELINING and CHUNKING (`BDAT`), a recipient policy, and mail
//! handed to the application only once it is whole.
//!
//! ```text
//! cargo run --example smtp_server
//! ```
//!
//! The session never touches the socket: the loop below reads bytes and feeds them to
//! [`ServerSession::receive`], takes [`Event`]s from [`ServerSession::poll_event`],
//! answers each decision with `accept` or `reply`, and writes
//! [`ServerSession::pending_output`]. That loop is all the I/O there is, so you can see
//! where STARTTLS swaps the stream. (The `tokio` feature's `postern_smtp::driver::serve`
//! is this loop ready-made; `examples/smtp_sink.rs` uses it.)
//!
//! The session itself answers PIPELINING (replies to a group of commands go out in one
//! write), CHUNKING (`BDAT n [LAST]` chunks arrive as data events like `DATA` does) and
//! throws away anything a client pipelined after `STARTTLS` (the CVE-2011-0411 attack).
//!
//! To be runnable by itself, the program then connects to its own server and speaks
//! SMTP by hand, printing the dialogue: EHLO, STARTTLS, the TLS handshake, EHLO again,
//! and MAIL, two RCPTs and a `BDAT … LAST` in one write. It exits 0 when the server
//! received the message over TLS for the one recipient it accepts.

use std::io;
use std::sync::Arc;

use postern_smtp::server::{Event, ServerConfig, ServerSession};
use postern_smtp::{EnhancedCode, ForwardPath, Reply};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite};
use tokio::io::{AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::{TlsAcceptor, TlsConnector};

// A certificate for `localhost` signed by a test CA, from the gateway's test fixtures.
const CERT: &str = include_str!("../crates/postern-gateway/tests/fixtures/mx.crt");
const KEY: &str = include_str!("../crates/postern-gateway/tests/fixtures/mx.key");
const CA: &str = include_str!("../crates/postern-gateway/tests/fixtures/test-ca.crt");

/// The domain this server accepts mail for.
const OUR_DOMAIN: &str = "example.test";

/// A message the server accepted.
#[derive(Debug, Default)]
struct Mail {
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
    over_tls: bool,
}

// ---------------------------------------------------------------- the server

/// Serves one connection: plain text until STARTTLS, then the same session over TLS.
async fn serve(tcp: TcpStream, tls: TlsAcceptor, inbox: mpsc::Sender<Mail>) -> io::Result<()> {
    let mut config = ServerConfig::new("mx.example.test");
    config.starttls = true; // CHUNKING is on by default; PIPELINING always is.
    let mut session = ServerSession::new(config);
    session.greet(); // Queues the 220 greeting; the loop writes it.
    let mut mail = Mail::default();
    let mut tcp = tcp;
    if let Next::StartTls = run(&mut tcp, &mut session, &mut mail, &inbox).await? {
        // The session wrote `220 Ready to start TLS` and dropped any pipelined input.
        let mut stream = tls.accept(tcp).await?;
        session.tls_established(); // Back to the start: the client must EHLO again.
        run(&mut stream, &mut session, &mut mail, &inbox).await?;
        stream.shutdown().await?;
    }
    Ok(())
}

/// Why [`run`] returned.
enum Next {
    StartTls,
    Closed,
}

/// The sans-IO loop: write what the session has to say, read only when it waits for
/// the client, and answer every decision. Generic over the stream, so the same code
/// runs before and after STARTTLS.
async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    session: &mut ServerSession,
    mail: &mut Mail,
    inbox: &mpsc::Sender<Mail>,
) -> io::Result<Next> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let mut starttls = false;
        while let Some(event) = session.poll_event() {
            let decision = match event {
                Event::Mail { from, .. } => {
                    *mail = Mail::default();
                    mail.from = from.to_string();
                    None // The default: 250 2.1.0 Ok.
                }
                Event::Rcpt { to, .. } => recipient_policy(&to, &mut mail.to),
                Event::DataChunk(chunk) => {
                    mail.data.extend_from_slice(chunk);
                    None
                }
                Event::MessageEnd { .. } => {
                    // Answer 250 only once the mail is safe: here, in the application's
                    // hands. A real server fsyncs it to its queue first.
                    mail.over_tls = session.is_tls();
                    let _ = inbox.send(std::mem::take(mail)).await;
                    None
                }
                // RSET, a refused message, a new EHLO: forget the transaction.
                Event::Reset | Event::MessageRejected { .. } | Event::Ehlo { .. } => {
                    *mail = Mail::default();
                    None
                }
                Event::StartTls => {
                    starttls = true;
                    None
                }
                _ => None,
            };
            // Only some events are decisions; the others are news.
            if session.pending_decision().is_some() {
                match decision {
                    Some(reply) => session.reply(reply),
                    None => session.accept(),
                }
                .expect("a decision is pending");
            }
        }
        let out = session.pending_output();
        if !out.is_empty() {
            let n = out.len();
            stream.write_all(out).await?;
            stream.flush().await?;
            session.consume_output(n);
        }
        if starttls {
            return Ok(Next::StartTls);
        }
        if session.is_closed() {
            return Ok(Next::Closed);
        }
        // Each state has its own timeout (RFC 5321 §4.5.3.2); the session picks it.
        match tokio::time::timeout(session.timeout(), stream.read(&mut buf)).await {
            Err(_) => session.on_timeout(), // Queues a 421 and closes.
            Ok(Ok(0)) => return Ok(Next::Closed),
            Ok(Ok(n)) => session.receive(&buf[..n]),
            Ok(Err(e)) => return Err(e),
        }
    }
}

/// Accepts recipients in [`OUR_DOMAIN`] (and postmaster); refuses the rest, which is
/// what keeps a server from being an open relay. `None` means "accept".
fn recipient_policy(to: &ForwardPath<'_>, accepted: &mut Vec<String>) -> Option<Reply> {
    let ours = match to {
        ForwardPath::Postmaster => true,
        ForwardPath::Mailbox(m) => m.domain.to_string().eq_ignore_ascii_case(OUR_DOMAIN),
    };
    if !ours {
        let code = Some(EnhancedCode::new(5, 7, 1));
        return Some(Reply::new(550, code, "Relay access denied"));
    }
    accepted.push(to.to_string());
    None
}

/// The server's TLS settings: the fixture certificate for `localhost` and its key.
fn tls_acceptor() -> TlsAcceptor {
    let certs = CertificateDer::pem_slice_iter(CERT.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("fixture certificate");
    let key = PrivateKeyDer::from_pem_slice(KEY.as_bytes()).expect("fixture key");
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .expect("a valid certificate and key");
    TlsAcceptor::from(Arc::new(config))
}

// ------------------------------------------------- a client to try it with

/// Speaks SMTP by hand so the dialogue shows on the terminal.
async fn client(addr: std::net::SocketAddr) -> io::Result<()> {
    let mut plain = BufReader::new(TcpStream::connect(addr).await?);
    replies(&mut plain, 1).await?; // 220 greeting
    say(&mut plain, b"EHLO client.example\r\n", 1).await?;
    say(&mut plain, b"STARTTLS\r\n", 1).await?;
    // The handshake runs on the bare socket; the client trusts the test CA.
    let connector = tls_connector();
    let name = ServerName::try_from("localhost").expect("a valid name");
    let tls = connector.connect(name, plain.into_inner()).await?;
    println!("-- TLS established");
    let mut tls = BufReader::new(tls);
    say(&mut tls, b"EHLO client.example\r\n", 1).await?;
    // PIPELINING: the envelope and the whole message (one BDAT chunk) in one write,
    // then the four replies in order. The second recipient is refused.
    let body = b"Subject: hello\r\n\r\nSent over TLS with BDAT.\r\n";
    let mut group = b"MAIL FROM:<jo@client.example>\r\nRCPT TO:<bo@example.test>\r\n".to_vec();
    group.extend_from_slice(b"RCPT TO:<someone@elsewhere.example>\r\n");
    group.extend_from_slice(format!("BDAT {} LAST\r\n", body.len()).as_bytes());
    group.extend_from_slice(body);
    say(&mut tls, &group, 4).await?;
    say(&mut tls, b"QUIT\r\n", 1).await?;
    Ok(())
}

/// Writes `bytes` (printing them) and reads `n` replies.
async fn say<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    bytes: &[u8],
    n: usize,
) -> io::Result<()> {
    for line in String::from_utf8_lossy(bytes).lines() {
        println!("C: {line}");
    }
    s.get_mut().write_all(bytes).await?;
    s.get_mut().flush().await?;
    replies(s, n).await
}

/// Reads and prints `n` replies; a reply ends with a line `NNN text` (`NNN-` continues).
async fn replies<S: AsyncRead + Unpin>(s: &mut BufReader<S>, n: usize) -> io::Result<()> {
    let mut done = 0;
    while done < n {
        let mut line = String::new();
        if s.read_line(&mut line).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        print!("S: {line}");
        done += usize::from(line.as_bytes().get(3) != Some(&b'-'));
    }
    Ok(())
}

/// The client's TLS settings: it trusts the test CA that signed the server's certificate.
fn tls_connector() -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(CA.as_bytes()).expect("fixture CA"))
        .expect("a usable root");
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (inbox, mut received) = mpsc::channel(16);
    let acceptor = tls_acceptor();
    // The accept loop of a real server: one task per connection.
    tokio::spawn(async move {
        while let Ok((tcp, _peer)) = listener.accept().await {
            let (tls, inbox) = (acceptor.clone(), inbox.clone());
            tokio::spawn(async move {
                if let Err(e) = serve(tcp, tls, inbox).await {
                    eprintln!("connection: {e}");
                }
            });
        }
    });

    client(addr).await?;
    let mail = received
        .recv()
        .await
        .expect("the server received a message");
    println!("-- received from {} for {:?}", mail.from, mail.to);
    assert!(mail.over_tls, "the message came over TLS");
    assert_eq!(mail.to, ["<bo@example.test>"]);
    assert!(mail.data.ends_with(b"Sent over TLS with BDAT.\r\n"));
    Ok(())
}
