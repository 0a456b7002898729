//! Quoted local parts end to end (issue 25 item 4): a local part quoted without need is
//! the same mailbox as the unquoted one (RFC 5321 §4.1.2), decided at RCPT, so
//! `[maildir] recipients` applies to it and its mail lands in the user's own folder.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::client::Client;
use postern_gateway::{Config, Gateway};
use tokio::net::TcpStream;

async fn start(dir: &Path, maildir: &str) -> Gateway {
    let text = format!(
        "[server]\nhostname = \"mx.test\"\ndata_dir = \"{}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n\
         [maildir]\n{maildir}\n\
         [[connector]]\nname = \"local\"\nkind = \"maildir\"\n\
         [[connector.address_space]]\npattern = \"local.test\"\n",
        dir.display()
    );
    Gateway::start(Config::from_toml_str(&text).unwrap())
        .await
        .unwrap()
}

async fn session(gw: &Gateway) -> Client<TcpStream> {
    let mut c = Client::new(TcpStream::connect(gw.local_addrs()[0]).await.unwrap());
    c.expect(220).await;
    c.cmd("EHLO client.test", 250).await;
    c.cmd("MAIL FROM:<someone@elsewhere.test>", 250).await;
    c
}

/// Message files delivered into `folder`'s `new/` within 10 s (or none).
async fn delivered(folder: &Path, want: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = std::fs::read_dir(folder.join("new")).map_or(0, |d| d.count());
        if n >= want || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn quoted_local_part_meets_the_recipients_list_at_rcpt() {
    let dir = common::temp_dir("quoted", "list");
    let gw = start(&dir, "recipients = [\"bob@local.test\"]").await;
    let mut c = session(&gw).await;
    // Refused at RCPT, never accepted and bounced later (no backscatter).
    let a = c.reply_to("RCPT TO:<\"eve\"@local.test>").await;
    assert_eq!(a.code, 550, "{}", a.text);
    let a = c.reply_to("RCPT TO:<\"bob \"@local.test>").await;
    assert_eq!(a.code, 550, "a needed quote is another mailbox: {}", a.text);
    c.cmd("RCPT TO:<\"bob\"@local.test>", 250).await;
    c.cmd("RCPT TO:<\"b\\ob\"@LOCAL.TEST>", 250).await;
    c.data("Subject: quoted\r\n\r\nhello\r\n").await;
    let mail = dir.join("mail");
    assert_eq!(delivered(&mail.join("local.test").join("bob"), 2).await, 2);
    let folders: Vec<_> = std::fs::read_dir(mail.join("local.test"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(folders, ["bob"], "one mailbox, however it was spelled");
    gw.shutdown(Duration::from_secs(2)).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn quoted_local_part_goes_to_the_plain_folder() {
    let dir = common::temp_dir("quoted", "folder");
    let gw = start(&dir, "").await;
    let mut c = session(&gw).await;
    c.cmd("RCPT TO:<\"abc\"@local.test>", 250).await;
    c.data("Subject: quoted\r\n\r\nhello\r\n").await;
    let folder = dir.join("mail").join("local.test").join("abc");
    assert_eq!(delivered(&folder, 1).await, 1, "not in a folder %22abc%22");
    assert!(!dir.join("mail/local.test/%22abc%22").exists());
    gw.shutdown(Duration::from_secs(2)).await;
    let _ = std::fs::remove_dir_all(&dir);
}
