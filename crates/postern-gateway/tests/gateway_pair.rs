//! Two gateways on 127.0.0.1: the edge relays to the hub through a smart host with
//! `tls = "required"`, so the message can only cross over STARTTLS. The hub delivers it
//! into Maildir; its Received field says ESMTPS, and the edge tracks the send as TLS.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use postern_gateway::{Config, Gateway};
use postern_queue::RecipientState;
use postern_track::{EventKind, Filter, Reader};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("postern-pair-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

async fn send(addr: std::net::SocketAddr, lines: &[&str]) -> Vec<String> {
    let s = TcpStream::connect(addr).await.unwrap();
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    let mut out = Vec::new();
    let read = async |r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>| loop {
        let mut l = String::new();
        r.read_line(&mut l).await.unwrap();
        if l.as_bytes().get(3) != Some(&b'-') {
            return l;
        }
    };
    out.push(read(&mut r).await);
    for l in lines {
        w.write_all(l.as_bytes()).await.unwrap();
        out.push(read(&mut r).await);
    }
    out
}

fn maildir_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The hub: STARTTLS with the fixture `cert`.crt/.key, Maildir for corp.test.
async fn start_hub(tag: &str, cert: &str) -> (Gateway, PathBuf) {
    let dir = temp_dir(tag);
    let hub = Gateway::start(
        Config::from_toml_str(&format!(
            "[server]\nhostname = \"hub.test\"\ndata_dir = \"{}\"\n\
             [connections]\nlisten = [\"127.0.0.1:0\"]\n\
             [security]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n\
             [[connector]]\nname = \"boxes\"\nkind = \"maildir\"\n\
             [[connector.address_space]]\npattern = \"corp.test\"\n",
            dir.display(),
            fixture(&format!("{cert}.crt")),
            fixture(&format!("{cert}.key")),
        ))
        .unwrap(),
    )
    .await
    .unwrap();
    (hub, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_relays_to_hub_over_required_starttls() {
    let (hub, hub_dir) = start_hub("hub", "localhost").await;
    let hub_addr = hub.local_addrs()[0];

    let edge_dir = temp_dir("edge");
    let edge = Gateway::start(
        Config::from_toml_str(&format!(
            "[server]\nhostname = \"edge.test\"\ndata_dir = \"{}\"\n\
             [connections]\nlisten = [\"127.0.0.1:0\"]\n\
             [security]\nrelay_networks = [\"127.0.0.1/32\"]\n\
             [retry]\nintervals = [\"1s\"]\nbackoff_first = \"500ms\"\n\
             [[connector]]\nname = \"to-hub\"\nsmart_hosts = [\"127.0.0.1:{}\"]\n\
             [[connector.address_space]]\npattern = \"corp.test\"\n\
             [[domain]]\npattern = \"corp.test\"\ntls = \"required\"\n",
            edge_dir.display(),
            hub_addr.port(),
        ))
        .unwrap(),
    )
    .await
    .unwrap();

    let replies = send(
        edge.local_addrs()[0],
        &[
            "EHLO client.test\r\n",
            "MAIL FROM:<a@client.test> ENVID=pair-env\r\n",
            "RCPT TO:<jo@corp.test> NOTIFY=SUCCESS ORCPT=rfc822;jo@corp.test\r\n",
            "DATA\r\n",
            "Message-ID: <pair-1@client.test>\r\nSubject: across\r\n\r\nover TLS\r\n.\r\n",
            "QUIT\r\n",
        ],
    )
    .await;
    assert!(replies[5].starts_with("250 "), "{replies:?}");

    let new = hub_dir.join("mail/corp.test/jo/new");
    let deadline = Instant::now() + Duration::from_secs(20);
    let files = loop {
        let f = maildir_files(&new);
        if !f.is_empty() {
            break f;
        }
        assert!(
            Instant::now() < deadline,
            "the hub never delivered the message"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let msg = &files[0];
    assert!(
        msg.contains("Subject: across") && msg.contains("over TLS"),
        "{msg}"
    );
    // The hub's Received field: from the edge, over ESMTPS.
    let hub_received = msg
        .lines()
        .find(|l| l.starts_with("Received: from edge.test"))
        .unwrap_or_else(|| panic!("no Received from the edge:\n{msg}"));
    assert!(msg.contains("with ESMTPS"), "{hub_received}\n{msg}");

    if let Some(t) = &edge.context().tracker {
        t.flush().unwrap();
    }
    let events = Reader::new(edge_dir.join("tracking"))
        .search(&Filter::new().message_id("pair-1@client.test"))
        .unwrap()
        .events;
    let sent = events
        .iter()
        .find(|e| e.kind == EventKind::Sent)
        .expect("a sent event on the edge");
    let tls = sent.tls.as_ref().map(|t| t.to_string()).unwrap_or_default();
    assert!(tls.contains("TLS"), "tracked TLS {tls:?}");
    // RFC 3461 relaying: the edge passed NOTIFY/ORCPT/ENVID on to the hub (which
    // announces DSN), so the hub issues the success notice and the edge issues none.
    let hub_notices = || {
        if let Some(t) = &hub.context().tracker {
            t.flush().unwrap();
        }
        Reader::new(hub_dir.join("tracking"))
            .search(&Filter::new().kind(EventKind::DsnGenerated))
            .map(|r| r.events)
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while hub_notices().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the hub issued no success notice"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let edge_notices = Reader::new(edge_dir.join("tracking"))
        .search(&Filter::new().kind(EventKind::DsnGenerated))
        .unwrap()
        .events;
    assert!(
        edge_notices.is_empty(),
        "the edge must not also send a 'relayed' notice"
    );
    // Each gateway kept the accepted body in memory for its delivery, and let go of it
    // once the message left its queue.
    let deadline = Instant::now() + Duration::from_secs(10);
    while edge.context().bodies.bytes() + hub.context().bodies.bytes() > 0 {
        assert!(
            Instant::now() < deadline,
            "bodies still cached after delivery"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    edge.shutdown(Duration::from_secs(5)).await;
    hub.shutdown(Duration::from_secs(5)).await;
    let _ = std::fs::remove_dir_all(&edge_dir);
    let _ = std::fs::remove_dir_all(&hub_dir);
}

/// `tls = "verify"`: the edge sends only to a hub whose certificate chains to its
/// `trusted_roots` and names the host connected to (here the smart host's address,
/// 127.0.0.1, in the certificate's subjectAltName). With another root the mail waits,
/// deferred with 4.7.5, and is never sent in the clear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_sends_only_to_certificates_from_trusted_roots() {
    let (hub, hub_dir) = start_hub("verify-hub", "mx").await;
    let hub_port = hub.local_addrs()[0].port();
    // test-ca.crt issued mx.crt; localhost.crt is an unrelated self-signed root.
    for (tag, roots, trusted) in [
        ("trusted", fixture("test-ca.crt"), true),
        ("untrusted", fixture("localhost.crt"), false),
    ] {
        let edge_dir = temp_dir(&format!("verify-edge-{tag}"));
        let edge = Gateway::start(
            Config::from_toml_str(&format!(
                "[server]\nhostname = \"edge.test\"\ndata_dir = \"{}\"\n\
                 [connections]\nlisten = [\"127.0.0.1:0\"]\n\
                 [security]\nrelay_networks = [\"127.0.0.1/32\"]\ntrusted_roots = \"{roots}\"\n\
                 [retry]\nintervals = [\"1s\"]\nbackoff_first = \"500ms\"\n\
                 [[connector]]\nname = \"to-hub\"\nsmart_hosts = [\"127.0.0.1:{hub_port}\"]\n\
                 [[connector.address_space]]\npattern = \"corp.test\"\n\
                 [[domain]]\npattern = \"corp.test\"\ntls = \"verify\"\n",
                edge_dir.display(),
            ))
            .unwrap(),
        )
        .await
        .unwrap();
        let rcpt = format!("RCPT TO:<{tag}@corp.test>\r\n");
        let replies = send(
            edge.local_addrs()[0],
            &[
                "EHLO client.test\r\n",
                "MAIL FROM:<a@client.test>\r\n",
                &rcpt,
                "DATA\r\n",
                "Subject: verified\r\n\r\nonly to the right server\r\n.\r\n",
                "QUIT\r\n",
            ],
        )
        .await;
        assert!(replies[5].starts_with("250 "), "{replies:?}");
        let inbox = hub_dir.join(format!("mail/corp.test/{tag}/new"));
        let deadline = Instant::now() + Duration::from_secs(20);
        if trusted {
            while maildir_files(&inbox).is_empty() {
                assert!(Instant::now() < deadline, "never delivered to the hub");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        } else {
            let deferred = || {
                edge.context().queue.local().unwrap().messages().iter().any(|m| {
                    m.state.recipients.iter().any(|r| matches!(r,
                        RecipientState::Deferred { last_reply, .. }
                            if last_reply.starts_with("451 4.7.5") && last_reply.contains("certificate")))
                })
            };
            while !deferred() {
                assert!(
                    Instant::now() < deadline,
                    "not deferred for the certificate: {:?}",
                    edge.context().queue.local().unwrap().messages()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert!(maildir_files(&inbox).is_empty(), "sent despite the root");
        }
        edge.shutdown(Duration::from_secs(5)).await;
        let _ = std::fs::remove_dir_all(&edge_dir);
    }
    hub.shutdown(Duration::from_secs(5)).await;
    let _ = std::fs::remove_dir_all(&hub_dir);
    // Roots that cannot be read stop the start, naming the file, when a domain verifies.
    let dir = temp_dir("verify-noroots");
    let Err(e) = Gateway::start(
        Config::from_toml_str(&format!(
            "[server]\nhostname = \"edge.test\"\ndata_dir = \"{}\"\n\
             [connections]\nlisten = [\"127.0.0.1:0\"]\n\
             [security]\ntrusted_roots = \"{}/no-such-roots.pem\"\n\
             [[domain]]\npattern = \"corp.test\"\ntls = \"verify\"\n",
            dir.display(),
            dir.display(),
        ))
        .unwrap(),
    )
    .await
    else {
        panic!("no roots, no start");
    };
    assert!(e.to_string().contains("no-such-roots.pem"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
