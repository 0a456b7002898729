//! The tokio drivers over real sockets on 127.0.0.1: `driver::send` against a server run
//! by `driver::serve` with a handler that keeps messages and refuses one recipient.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use postern_smtp::client::{ClientConfig, Envelope, RcptStatus, TlsPolicy};
use postern_smtp::driver::{self, Handler, Served, Verdict};
use postern_smtp::server::{ServerConfig, ServerSession};
use postern_smtp::{EnhancedCode, ForwardPath, RcptParams, Reply, ReversePath};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A message the test server kept.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Kept {
    from: String,
    to: Vec<String>,
    body: Vec<u8>,
}

/// Keeps every message; refuses `nobody@…` with 550 and `later@…` with 451.
#[derive(Default)]
struct Keeper {
    from: String,
    to: Vec<String>,
    body: Vec<u8>,
    kept: Arc<Mutex<Vec<Kept>>>,
}

impl Handler for Keeper {
    async fn mail(
        &mut self,
        from: &ReversePath<'_>,
        _params: &postern_smtp::MailParams<'_>,
    ) -> Verdict {
        self.from = match from {
            ReversePath::Null => String::new(),
            ReversePath::Mailbox(m) => m.to_string(),
        };
        Verdict::Accept
    }

    async fn rcpt(&mut self, to: &ForwardPath<'_>, _params: &RcptParams<'_>) -> Verdict {
        let ForwardPath::Mailbox(m) = to else {
            return Verdict::Accept;
        };
        // A lookup that takes a while: the driver must wait for it.
        tokio::time::sleep(Duration::from_millis(5)).await;
        match &*m.local_part_unquoted() {
            "nobody" => Verdict::Reply(Reply::new(
                550,
                Some(EnhancedCode::new(5, 1, 1)),
                "no such user",
            )),
            "later" => Verdict::Reply(Reply::new(
                451,
                Some(EnhancedCode::new(4, 7, 1)),
                "greylisted",
            )),
            _ => {
                self.to.push(m.to_string());
                Verdict::Accept
            }
        }
    }

    async fn data(&mut self, chunk: &[u8]) {
        self.body.extend_from_slice(chunk);
    }

    async fn message_end(&mut self, _size: u64) -> Verdict {
        self.kept.lock().unwrap().push(Kept {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            body: std::mem::take(&mut self.body),
        });
        Verdict::Accept
    }

    fn reset(&mut self) {
        self.to.clear();
        self.body.clear();
    }
}

/// Starts a server on 127.0.0.1; every connection is served by `driver::serve`.
async fn server() -> (std::net::SocketAddr, Arc<Mutex<Vec<Kept>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let kept = Arc::new(Mutex::new(Vec::new()));
    let shared = kept.clone();
    tokio::spawn(async move {
        loop {
            let (sock, _) = listener.accept().await.unwrap();
            let kept = shared.clone();
            tokio::spawn(async move {
                let mut handler = Keeper {
                    kept,
                    ..Keeper::default()
                };
                let session = ServerSession::new(ServerConfig::new("mx.test"));
                let end = driver::serve(sock, session, &mut handler).await.unwrap();
                assert!(matches!(end, Served::Closed));
            });
        }
    });
    (addr, kept)
}

fn client_config() -> ClientConfig {
    let mut config = ClientConfig::new("client.test");
    config.tls = TlsPolicy::Off;
    config
}

#[tokio::test]
async fn send_reports_each_recipient_and_the_server_keeps_the_body() {
    let (addr, kept) = server().await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let envelope = Envelope::new(
        "a@sender.test",
        ["b@rcpt.test", "nobody@rcpt.test", "later@rcpt.test"],
    );
    // A line starting with a dot travels dot-stuffed and arrives as written.
    let body = b"Subject: driver\r\n\r\n.hidden dot\r\nbye\r\n";
    let report = driver::send(stream, client_config(), envelope, body)
        .await
        .unwrap();
    assert!(report.accepted.is_some(), "{report:?}");
    assert!(!report.delivered(), "two recipients were refused");
    let statuses: Vec<_> = report
        .recipients
        .iter()
        .map(|r| match &r.status {
            RcptStatus::Accepted(_) => "accepted",
            RcptStatus::Temporary(_) => "temporary",
            RcptStatus::Permanent(_) => "permanent",
        })
        .collect();
    assert_eq!(statuses, ["accepted", "permanent", "temporary"]);
    let kept = kept.lock().unwrap().clone();
    assert_eq!(
        kept,
        [Kept {
            from: "a@sender.test".into(),
            to: vec!["b@rcpt.test".into()],
            body: body.to_vec(),
        }]
    );
}

#[tokio::test]
async fn every_recipient_refused_is_a_rejection_not_an_error() {
    let (addr, kept) = server().await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let envelope = Envelope::new("a@sender.test", ["nobody@rcpt.test"]);
    let report = driver::send(stream, client_config(), envelope, b"x\r\n")
        .await
        .unwrap();
    assert!(report.accepted.is_none());
    assert!(report.rejection.is_some());
    assert!(kept.lock().unwrap().is_empty());
}

#[tokio::test]
async fn default_handler_never_claims_to_keep_a_message() {
    struct Nothing;
    impl Handler for Nothing {}
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let session = ServerSession::new(ServerConfig::new("mx.test"));
        driver::serve(sock, session, &mut Nothing).await.unwrap();
    });
    let stream = TcpStream::connect(addr).await.unwrap();
    let envelope = Envelope::new("a@sender.test", ["b@rcpt.test"]);
    let report = driver::send(stream, client_config(), envelope, b"x\r\n")
        .await
        .unwrap();
    let reply = report.rejection.unwrap().reply().cloned().unwrap();
    assert_eq!(reply.code, 451);
}

#[tokio::test]
async fn a_client_that_goes_quiet_is_timed_out_by_the_session() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let mut config = ServerConfig::new("mx.test");
        config.timeouts.command = Duration::from_millis(200);
        let session = ServerSession::new(config);
        struct Nothing;
        impl Handler for Nothing {}
        driver::serve(sock, session, &mut Nothing).await.unwrap()
    });
    let mut client = TcpStream::connect(addr).await.unwrap();
    let mut seen = Vec::new();
    // Read until the server closes: greeting, then the 421 of the time-out.
    client.read_to_end(&mut seen).await.unwrap();
    let text = String::from_utf8(seen).unwrap();
    assert!(text.starts_with("220 mx.test"), "{text}");
    assert!(text.contains("\r\n421 4.4.2"), "{text}");
    assert!(matches!(server.await.unwrap(), Served::Closed));
    let _ = client.shutdown().await;
}

#[tokio::test]
async fn starttls_hands_the_stream_back_for_the_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let mut config = ServerConfig::new("mx.test");
        config.starttls = true;
        struct Nothing;
        impl Handler for Nothing {}
        match driver::serve(sock, ServerSession::new(config), &mut Nothing)
            .await
            .unwrap()
        {
            Served::StartTls { session, .. } => !session.is_tls(),
            _ => false,
        }
    });
    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"EHLO c.test\r\nSTARTTLS\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&seen).contains("220 2.0.0") {
        let n = client.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the STARTTLS reply");
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(
        server.await.unwrap(),
        "session handed back, waiting for TLS"
    );
}
