//! `Gateway::reload` end to end: a real gateway on 127.0.0.1 (port 0), the shared SMTP
//! client, temp data directories. A reload must reach new sessions and only them, carry
//! the start-only settings over, and change nothing when it fails.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::client::Client;
use common::{fixture, quick_hash};
use postern_gateway::config::TransferMode;
use postern_gateway::{Config, Gateway};
use tokio::net::TcpStream;

/// A gateway's configuration: mail for the `domains` into Maildir folders under `dir`,
/// nothing else routed, no relay networks (the test client may not relay); `extra`
/// appended. The same `dir` gives the same data directory, so that a reload changes
/// only what the test means to change.
fn config(dir: &Path, domains: &[&str], extra: &str) -> Config {
    let spaces: String = domains
        .iter()
        .map(|d| format!("  [[connector.address_space]]\n  pattern = \"{d}\"\n"))
        .collect();
    let text = format!(
        r#"
[server]
hostname = "mx.test"
data_dir = "{data}"

[connections]
listen = ["127.0.0.1:0"]

[retry]
poll_interval = "100ms"

[[connector]]
name = "local"
kind = "maildir"
{spaces}
{extra}
"#,
        data = dir.display()
    );
    Config::from_toml_str(&text).expect("test config is valid")
}

struct Harness {
    gw: Gateway,
    addr: SocketAddr,
    dir: PathBuf,
}

async fn start(tag: &str, domains: &[&str], extra: &str) -> Harness {
    let dir = common::temp_dir("reload", tag);
    let gw = Gateway::start(config(&dir, domains, extra))
        .await
        .expect("gateway starts");
    let addr = gw.local_addrs()[0];
    Harness { gw, addr, dir }
}

impl Harness {
    /// A client past the greeting and EHLO, and the EHLO reply.
    async fn ehlo(&self) -> (Client<TcpStream>, String) {
        let mut c = Client::new(TcpStream::connect(self.addr).await.unwrap());
        c.expect(220).await;
        let a = c.cmd("EHLO client.test", 250).await;
        (c, a.text)
    }

    fn reload(&self, domains: &[&str], extra: &str) -> postern_gateway::ReloadReport {
        self.gw
            .reload(config(&self.dir, domains, extra))
            .expect("reload accepted")
    }

    async fn stop(self) {
        self.gw.shutdown(Duration::from_secs(2)).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits (up to 10 s) for a message in the Maildir `new/` folder of `address`.
async fn delivered(root: &Path, address: &str) -> bool {
    let (user, domain) = address.split_once('@').unwrap();
    let new = root.join(domain).join(user).join("new");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::fs::read_dir(&new).is_ok_and(|mut d| d.next().is_some()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn new_domain_reaches_new_sessions_only() {
    let h = start("domain", &["a.test"], "").await;
    let (mut before, _) = h.ehlo().await;
    before.cmd("MAIL FROM:<s@client.test>", 250).await;
    let a = before.cmd("RCPT TO:<x@b.test>", 554).await;
    assert!(a.text.contains("5.7.1"), "{}", a.text);

    let report = h.reload(&["a.test", "b.test"], "");
    assert!(report.needs_restart.is_empty(), "{report:?}");

    // The session opened before the reload keeps the address space it started with.
    before.cmd("RCPT TO:<y@b.test>", 554).await;
    before.cmd("RCPT TO:<y@a.test>", 250).await;
    // A new one has the new address space, and delivery uses it too.
    let (mut after, _) = h.ehlo().await;
    after
        .mail("s@client.test", "x@b.test", "Subject: hi\r\n\r\nhello\r\n")
        .await;
    after.cmd("QUIT", 221).await;
    let root = h.gw.context().live().config.maildir.root.clone();
    assert!(delivered(&root, "x@b.test").await, "no mail in {root:?}");
    h.stop().await;
}

#[tokio::test]
async fn start_only_settings_are_reported_and_kept() {
    let h = start("listen", &["a.test"], "").await;
    let started = h.gw.context().live().config.connections.listen.clone();
    h.gw.context().set_transfer_mode(TransferMode::Inbound);
    let mut new = config(&h.dir, &["a.test", "b.test"], "");
    new.connections.listen = vec!["127.0.0.1:1".parse().unwrap()];
    new.server.hostname = "renamed.test".to_owned();
    let report = h.gw.reload(new).expect("reload accepted");
    assert_eq!(report.needs_restart, ["connections.listen"]);

    // Still listening where it was, and says so; the mode set at run time stays.
    let live = h.gw.context().live();
    assert_eq!(live.config.connections.listen, started);
    assert_eq!(h.gw.local_addrs(), [h.addr]);
    assert_eq!(h.gw.context().transfer_mode(), TransferMode::Inbound);
    // What may change did: the new host name greets, the new domain is taken.
    let mut c = Client::new(TcpStream::connect(h.addr).await.unwrap());
    let greeting = c.expect(220).await;
    assert!(greeting.text.contains("renamed.test"), "{}", greeting.text);
    c.cmd("EHLO client.test", 250).await;
    c.cmd("MAIL FROM:<s@client.test>", 250).await;
    c.cmd("RCPT TO:<x@b.test>", 250).await;
    h.stop().await;
}

#[tokio::test]
async fn bad_tls_key_changes_nothing() {
    let tls = |key: &Path| {
        format!(
            "[security]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            fixture("localhost.crt").display(),
            key.display()
        )
    };
    let h = start("tls", &["a.test"], &tls(&fixture("localhost.key"))).await;
    let missing = h.dir.join("no-such.key");
    let e =
        h.gw.reload(config(&h.dir, &["a.test", "b.test"], &tls(&missing)))
            .expect_err("a key that cannot be read is refused");
    let text = e.to_string();
    assert!(
        text.contains("security.tls_key") && text.contains("line ") && text.contains("no-such"),
        "{text}"
    );
    // The old settings are whole: STARTTLS still offered, b.test still not ours.
    let (mut c, ehlo) = h.ehlo().await;
    assert!(ehlo.contains("STARTTLS"), "{ehlo}");
    c.cmd("MAIL FROM:<s@client.test>", 250).await;
    c.cmd("RCPT TO:<x@b.test>", 554).await;
    h.stop().await;
}

#[tokio::test]
async fn added_user_may_auth_on_a_new_session() {
    let open = "[security]\nauth_without_tls = true\n";
    let h = start("auth", &["a.test"], open).await;
    let (mut before, ehlo) = h.ehlo().await;
    assert!(!ehlo.contains("AUTH"), "no users, no AUTH: {ehlo}");

    let user = format!(
        "{open}[[security.user]]\nname = \"alice\"\npassword_hash = \"{}\"\n",
        quick_hash("wonderland")
    );
    h.reload(&["a.test"], &user);
    // "\0alice\0wonderland" in base64.
    let plain = "AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=";
    let a = before.reply_to(plain).await;
    assert!(a.code >= 500, "the old session has no users: {}", a.text);
    let (mut after, ehlo) = h.ehlo().await;
    assert!(ehlo.contains("AUTH"), "{ehlo}");
    after.cmd(plain, 235).await;
    h.stop().await;
}
