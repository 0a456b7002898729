//! The client and server sessions talking to each other in memory: a deterministic pair,
//! in the manner of quinn-proto's test pair. No sockets and no clock — every byte crosses
//! through the test, split into chunks the test chooses, so any interleaving can be
//! replayed exactly.

use postern::smtp::client::{
    ClientConfig, ClientEvent, ClientSession, Credentials, Envelope, RcptStatus, Rejection,
    TlsPolicy,
};
use postern::smtp::server::{Event, ServerConfig, ServerSession};
use postern::smtp::{ForwardPath, Reply, ReversePath};
use proptest::prelude::*;

/// A message as the server application received it.
#[derive(Clone, PartialEq, Eq)]
struct Received {
    from: String,
    to: Vec<String>,
    content: Vec<u8>,
}

impl std::fmt::Debug for Received {
    /// Bodies can be large: show their length and start only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let head = &self.content[..self.content.len().min(60)];
        f.debug_struct("Received")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("len", &self.content.len())
            .field("head", &String::from_utf8_lossy(head))
            .finish()
    }
}

/// How the pair is set up.
#[derive(Clone)]
struct Setup {
    starttls: bool,
    auth: bool,
    chunking: bool,
    pipelining: bool,
    /// Chunk sizes cycled through when moving bytes across; 0 is treated as 1.
    cuts: Vec<usize>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            starttls: false,
            auth: false,
            chunking: true,
            pipelining: true,
            cuts: vec![usize::MAX],
        }
    }
}

struct Pair {
    client: ClientSession,
    server: ServerSession,
    setup: Setup,
    cut: usize,
    /// Messages still to send, and the body of the one in flight.
    outbox: Vec<(Envelope, Vec<u8>)>,
    body: Option<(Vec<u8>, usize)>,
    /// What the client application saw, in order.
    outcomes: Vec<ClientEvent>,
    /// What the server application kept.
    received: Vec<Received>,
    txn: Option<Received>,
    server_tls_pending: bool,
    authenticated_as: Option<String>,
}

impl Pair {
    fn new(setup: Setup, outbox: Vec<(Envelope, Vec<u8>)>) -> Pair {
        let mut sc = ServerConfig::new("mx.test");
        sc.starttls = setup.starttls;
        sc.auth = setup.auth;
        sc.chunking = setup.chunking;
        let mut cc = ClientConfig::new("client.test");
        cc.tls = if setup.starttls {
            TlsPolicy::Required
        } else {
            TlsPolicy::Off
        };
        cc.pipelining = setup.pipelining;
        if setup.auth {
            cc.credentials = Some(Credentials::new("alice", "secret"));
        }
        let mut server = ServerSession::new(sc);
        server.greet();
        let mut outbox = outbox;
        outbox.reverse();
        Pair {
            client: ClientSession::new(cc),
            server,
            setup,
            cut: 0,
            outbox,
            body: None,
            outcomes: Vec::new(),
            received: Vec::new(),
            txn: None,
            server_tls_pending: false,
            authenticated_as: None,
        }
    }

    fn next_cut(&mut self) -> usize {
        let c = self.setup.cuts[self.cut % self.setup.cuts.len()].max(1);
        self.cut += 1;
        c
    }

    /// Moves at most one chunk from the client to the server. True if bytes moved.
    fn client_to_server(&mut self) -> bool {
        let n = self.client.pending_output().len().min(self.next_cut());
        if n == 0 {
            return false;
        }
        let bytes = self.client.pending_output()[..n].to_vec();
        self.client.consume_output(n);
        self.server.receive(&bytes);
        true
    }

    /// Moves at most one chunk from the server to the client. True if bytes moved. Once
    /// the `220` to STARTTLS is out, "runs the handshake" at once, before any byte the
    /// client sends after it, as a real transport does.
    fn server_to_client(&mut self) -> bool {
        let n = self.server.pending_output().len().min(self.next_cut());
        if n > 0 {
            let bytes = self.server.pending_output()[..n].to_vec();
            self.server.consume_output(n);
            self.client.receive(&bytes);
        }
        if self.server_tls_pending && self.server.pending_output().is_empty() {
            self.server_tls_pending = false;
            assert!(self.server.tls_established());
            return true;
        }
        n > 0
    }

    /// The server application: accepts everything except recipients whose local part
    /// starts with `reject`, and passwords other than `secret`.
    fn serve(&mut self) -> bool {
        let mut progressed = false;
        while let Some(event) = self.server.poll_event() {
            progressed = true;
            let mut decision: Option<Option<Reply>> = None;
            match event {
                Event::Mail { from, .. } => {
                    let from = match from {
                        ReversePath::Null => String::new(),
                        ReversePath::Mailbox(m) => m.to_string(),
                    };
                    self.txn = Some(Received {
                        from,
                        to: Vec::new(),
                        content: Vec::new(),
                    });
                    decision = Some(None);
                }
                Event::Rcpt { to, .. } => {
                    let to = match to {
                        ForwardPath::Postmaster => "Postmaster".to_owned(),
                        ForwardPath::Mailbox(m) => m.to_string(),
                    };
                    if to.starts_with("reject") {
                        decision = Some(Some(Reply::new(550, None, "5.1.1 no such user")));
                    } else {
                        self.txn.as_mut().expect("MAIL first").to.push(to);
                        decision = Some(None);
                    }
                }
                Event::DataStart => decision = Some(None),
                Event::DataChunk(bytes) => self
                    .txn
                    .as_mut()
                    .expect("in a transaction")
                    .content
                    .extend_from_slice(bytes),
                Event::MessageEnd { size } => {
                    let txn = self.txn.take().expect("in a transaction");
                    assert_eq!(size, txn.content.len() as u64);
                    self.received.push(txn);
                    decision = Some(None);
                }
                Event::MessageRejected { .. } | Event::Reset => self.txn = None,
                Event::StartTls => self.server_tls_pending = true,
                Event::Auth {
                    username, password, ..
                } => {
                    if password == "secret" {
                        self.authenticated_as = Some(username.to_owned());
                        decision = Some(None);
                    } else {
                        decision = Some(Some(Reply::new(535, None, "5.7.8 bad credentials")));
                    }
                }
                _ => {}
            }
            match decision {
                Some(None) => self.server.accept().expect("a decision was pending"),
                Some(Some(reply)) => self.server.reply(reply).expect("a decision was pending"),
                None => {}
            }
        }
        progressed
    }

    /// The client application: sends the outbox one message at a time, then QUITs.
    fn drive_client(&mut self) -> bool {
        let mut progressed = false;
        while let Some(event) = self.client.poll_event() {
            progressed = true;
            match &event {
                ClientEvent::StartTls => self.client.tls_established(),
                ClientEvent::Ready => self.send_next(),
                ClientEvent::SendBody => {
                    let (body, at) = self.body.as_mut().expect("a body is in flight");
                    while *at < body.len() {
                        let n = self
                            .client
                            .write_body(&body[*at..])
                            .expect("sending a body");
                        if n == 0 {
                            break;
                        }
                        *at += n;
                    }
                    if *at == body.len() {
                        self.client.finish_body().expect("finishing the body");
                        self.body = None;
                    }
                }
                ClientEvent::Delivered { .. } | ClientEvent::NotDelivered { .. } => {
                    self.outcomes.push(event.clone());
                    self.send_next();
                }
                _ => self.outcomes.push(event.clone()),
            }
        }
        progressed
    }

    fn send_next(&mut self) {
        match self.outbox.pop() {
            Some((envelope, body)) => {
                self.client
                    .send(envelope)
                    .expect("the envelope is acceptable");
                self.body = Some((body, 0));
            }
            None => self.client.quit(),
        }
    }

    /// Runs until neither side can make progress.
    fn run(&mut self) {
        for _ in 0..1_000_000 {
            let mut progressed = self.drive_client();
            progressed |= self.client_to_server();
            progressed |= self.serve();
            progressed |= self.server_to_client();
            if !progressed {
                return;
            }
        }
        panic!("the pair did not settle");
    }
}

fn messages() -> Vec<(Envelope, Vec<u8>)> {
    let first =
        b"Subject: one\r\n\r\nHello.\r\n.leading dot\r\n..two dots\r\n.\r\nlast line without CRLF"
            .to_vec();
    let second = b"Subject: two\r\n\r\nbare LF line\nand a bare CR\rend\r\n".to_vec();
    let third =
        b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n.\r\n".repeat(1200);
    vec![
        (
            Envelope::new(
                "a@example.com",
                ["b@example.net", "reject-me@example.net", "c@example.net"],
            ),
            first,
        ),
        (Envelope::new("", ["postmaster@example.org"]), second),
        (
            Envelope::new("big@example.com", ["reject@example.net"]),
            third.clone(),
        ),
        (Envelope::new("big@example.com", ["d@example.net"]), third),
    ]
}

/// What each body looks like after the client's line-ending repair.
fn on_the_wire(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\r' if body.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn check(setup: Setup) -> Pair {
    let msgs = messages();
    let mut pair = Pair::new(setup, msgs.clone());
    pair.run();
    assert!(
        pair.client.is_closed(),
        "client closed after QUIT; outcomes {:?}",
        pair.outcomes
    );
    assert!(pair.server.is_closed());

    let expected: Vec<Received> = vec![
        Received {
            from: "a@example.com".into(),
            to: vec!["b@example.net".into(), "c@example.net".into()],
            content: on_the_wire(&msgs[0].1),
        },
        Received {
            from: String::new(),
            to: vec!["postmaster@example.org".into()],
            content: on_the_wire(&msgs[1].1),
        },
        Received {
            from: "big@example.com".into(),
            to: vec!["d@example.net".into()],
            content: on_the_wire(&msgs[3].1),
        },
    ];
    assert_eq!(pair.received, expected);

    // The client's view: delivered, delivered, nobody accepted, delivered, closed.
    let kinds: Vec<&str> = pair
        .outcomes
        .iter()
        .map(|e| match e {
            ClientEvent::Delivered { .. } => "delivered",
            ClientEvent::NotDelivered {
                reason: Rejection::NoRecipients,
                ..
            } => "no-recipients",
            ClientEvent::Closed => "closed",
            other => panic!("unexpected client event {other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "delivered",
            "delivered",
            "no-recipients",
            "delivered",
            "closed"
        ]
    );
    let ClientEvent::Delivered { recipients, .. } = &pair.outcomes[0] else {
        unreachable!()
    };
    let statuses: Vec<bool> = recipients.iter().map(|r| r.status.is_accepted()).collect();
    assert_eq!(statuses, [true, false, true]);
    assert!(matches!(&recipients[1].status, RcptStatus::Permanent(r) if r.code == 550));
    pair
}

#[test]
fn pipelined_bdat_whole_buffers() {
    check(Setup::default());
}

#[test]
fn data_without_chunking_or_pipelining() {
    check(Setup {
        chunking: false,
        pipelining: false,
        ..Setup::default()
    });
}

#[test]
fn starttls_then_auth() {
    let pair = check(Setup {
        starttls: true,
        auth: true,
        ..Setup::default()
    });
    assert_eq!(pair.authenticated_as.as_deref(), Some("alice"));
    assert!(pair.server.is_tls() && pair.client.is_tls());
}

#[test]
fn one_byte_at_a_time() {
    check(Setup {
        starttls: true,
        auth: true,
        chunking: false,
        cuts: vec![1],
        ..Setup::default()
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// However the bytes are cut in either direction, the same messages arrive and the
    /// client sees the same outcomes.
    #[test]
    fn any_chunking_gives_the_same_result(
        cuts in proptest::collection::vec(1usize..700, 1..16),
        starttls in any::<bool>(),
        chunking in any::<bool>(),
        pipelining in any::<bool>(),
    ) {
        check(Setup { starttls, auth: starttls, chunking, pipelining, cuts });
    }
}
