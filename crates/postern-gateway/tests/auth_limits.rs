//! Password guessing against a real gateway on 127.0.0.1: failed AUTH closes the session
//! at its limit, a guessing address is refused for a while, and the real user from
//! another address (127.0.0.2) still logs in.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use common::client::Client;
use common::quick_hash;
use postern_gateway::{Config, Gateway};
use tokio::net::{TcpSocket, TcpStream};

/// `\0alice\0wonderland`: the right password.
const RIGHT: &str = "AGFsaWNlAHdvbmRlcmxhbmQ=";
/// `\0alice\0rabbit`: a wrong one.
const WRONG: &str = "AGFsaWNlAHJhYmJpdA==";
/// `\0mallory\0guess`: a user that does not exist.
const NOBODY: &str = "AG1hbGxvcnkAZ3Vlc3M=";

struct Harness {
    gw: Gateway,
    addr: SocketAddr,
    dir: PathBuf,
}

/// A gateway offering AUTH without TLS, with short delays so the tests stay quick.
async fn start(tag: &str) -> Harness {
    let dir = common::temp_dir("auth_limits", tag);
    let text = format!(
        r#"
[server]
hostname = "mx.test"
data_dir = "{data}"

[connections]
listen = ["127.0.0.1:0"]

[security]
auth_without_tls = true
auth_max_failures_per_session = 3
auth_max_failures_per_client = 5
auth_failure_window = "10m"
auth_failure_delay = "50ms"
auth_failure_delay_max = "100ms"
  [[security.user]]
  name = "alice"
  password_hash = "{hash}"

[[connector]]
name = "local"
kind = "maildir"
  [[connector.address_space]]
  pattern = "localhost"
"#,
        data = dir.display(),
        hash = quick_hash("wonderland"),
    );
    let config = Config::from_toml_str(&text).expect("test config is valid");
    let gw = Gateway::start(config).await.expect("gateway starts");
    let addr = gw.local_addrs()[0];
    Harness { gw, addr, dir }
}

impl Harness {
    /// A client from `from` (a loopback address), past the greeting and EHLO.
    async fn client_from(&self, from: [u8; 4]) -> Client<TcpStream> {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((from, 0))).unwrap();
        let mut c = Client::new(socket.connect(self.addr).await.unwrap());
        c.expect(220).await;
        c.cmd("EHLO client.test", 250).await;
        c
    }

    async fn stop(self) {
        self.gw.shutdown(Duration::from_secs(2)).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn the_session_closes_after_its_failure_limit() {
    let h = start("session").await;
    let mut c = h.client_from([127, 0, 0, 1]).await;
    c.cmd(&format!("AUTH PLAIN {WRONG}"), 535).await;
    c.cmd(&format!("AUTH PLAIN {NOBODY}"), 535).await;
    c.cmd(&format!("AUTH PLAIN {WRONG}"), 535).await;
    let closing = c.expect(421).await;
    assert!(closing.text.contains("4.7.0"), "{}", closing.text);
    assert!(c.reply().await.is_none(), "connection closed");
    // A new session may try again (the address is not blocked yet: 3 of 5).
    let mut c = h.client_from([127, 0, 0, 1]).await;
    c.cmd(&format!("AUTH PLAIN {RIGHT}"), 235).await;
    h.stop().await;
}

#[tokio::test]
async fn a_guessing_address_is_refused_but_the_user_elsewhere_logs_in() {
    let h = start("client").await;
    let mut c = h.client_from([127, 0, 0, 1]).await;
    c.cmd(&format!("AUTH PLAIN {WRONG}"), 535).await;
    c.cmd(&format!("AUTH PLAIN {WRONG}"), 535).await;
    let mut c = h.client_from([127, 0, 0, 1]).await;
    c.cmd(&format!("AUTH PLAIN {WRONG}"), 535).await;
    c.cmd(&format!("AUTH PLAIN {WRONG}"), 535).await;
    let mut c = h.client_from([127, 0, 0, 1]).await;
    c.cmd(&format!("AUTH PLAIN {WRONG}"), 535).await;
    // Five failures from 127.0.0.1: even the right password is not checked from there.
    let refused = c.cmd(&format!("AUTH PLAIN {RIGHT}"), 454).await;
    assert!(refused.text.contains("4.7.0"), "{}", refused.text);
    // The real user, from another address, is not locked out by the guesser.
    let mut c = h.client_from([127, 0, 0, 2]).await;
    c.cmd(&format!("AUTH PLAIN {RIGHT}"), 235).await;
    let stats = h.gw.context().auth_guard.stats();
    assert_eq!((stats.failures, stats.blocked), (5, 1));
    h.stop().await;
}
