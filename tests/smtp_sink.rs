//! The `smtp_sink` example's connection handler over real 127.0.0.1 sockets: pipelined
//! groups, DATA and BDAT, many clients at once.

#[allow(dead_code)]
#[path = "../examples/smtp_sink.rs"]
mod sink;

use std::sync::{Arc, Mutex};

use sink::Accepted;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Starts a sink on an ephemeral port; returns its address and the reports it collects.
async fn start_sink() -> (std::net::SocketAddr, Arc<Mutex<Vec<Accepted>>>) {
    start_sink_with(true).await
}

/// [`start_sink`], offering CHUNKING or not (`--no-chunking`).
async fn start_sink_with(chunking: bool) -> (std::net::SocketAddr, Arc<Mutex<Vec<Accepted>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let collected = Arc::clone(&reports);
    tokio::spawn(async move {
        loop {
            let (sock, _) = listener.accept().await.unwrap();
            let reports = Arc::clone(&collected);
            tokio::spawn(async move {
                let push = |a: Accepted| reports.lock().unwrap().push(a);
                sink::serve_connection(sock, sink::sink_config(chunking), push)
                    .await
                    .unwrap();
            });
        }
    });
    (addr, reports)
}

/// The final lines of the replies in `text`.
fn finals(text: &str) -> Vec<String> {
    text.split("\r\n")
        .filter(|l| l.len() >= 4 && l.as_bytes()[3] == b' ')
        .map(str::to_owned)
        .collect()
}

/// Reads until `n` complete replies have arrived; returns every line read.
async fn read_text(sock: &mut TcpStream, n: usize) -> String {
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while finals(&text).len() < n || !text.ends_with("\r\n") {
        let got = sock.read(&mut buf).await.unwrap();
        assert!(got > 0, "server closed after {text:?}");
        text.push_str(std::str::from_utf8(&buf[..got]).unwrap());
    }
    text
}

/// Reads until `n` complete replies (final lines) have arrived; returns them.
async fn read_replies(sock: &mut TcpStream, n: usize) -> Vec<String> {
    finals(&read_text(sock, n).await)
}

async fn one_client(addr: std::net::SocketAddr, id: usize) {
    let mut sock = TcpStream::connect(addr).await.unwrap();
    assert!(read_replies(&mut sock, 1).await[0].starts_with("220 "));
    let group = format!(
        "EHLO c{id}\r\nMAIL FROM:<s{id}@x.test>\r\nRCPT TO:<a@y.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n"
    );
    sock.write_all(group.as_bytes()).await.unwrap();
    let replies = read_replies(&mut sock, 5).await;
    assert_eq!(
        replies[1..4],
        ["250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok"]
    );
    assert!(replies[4].starts_with("354 "));
    let body = "Subject: t\r\n\r\n".to_owned() + &"..line\r\n".repeat(10_000) + ".\r\n";
    sock.write_all(body.as_bytes()).await.unwrap();
    assert_eq!(read_replies(&mut sock, 1).await, ["250 2.0.0 Ok: queued"]);
    sock.write_all(b"MAIL FROM:<>\r\nRCPT TO:<c@y.test>\r\nBDAT 5\r\nhelloBDAT 6 LAST\r\n world")
        .await
        .unwrap();
    let replies = read_replies(&mut sock, 4).await;
    assert_eq!(replies[3], "250 2.0.0 Ok: queued");
    sock.write_all(b"QUIT\r\n").await.unwrap();
    assert_eq!(read_replies(&mut sock, 1).await, ["221 2.0.0 Bye"]);
    let mut rest = Vec::new();
    sock.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "closed after QUIT");
}

#[tokio::test]
async fn sink_over_loopback_with_concurrent_clients() {
    let (addr, reports) = start_sink().await;
    let clients: Vec<_> = (0..20)
        .map(|id| tokio::spawn(one_client(addr, id)))
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    let reports = reports.lock().unwrap();
    assert_eq!(reports.len(), 40);
    let data = reports
        .iter()
        .filter(|a| a.bytes == 14 + 7 * 10_000)
        .count();
    let bdat: Vec<_> = reports.iter().filter(|a| a.bytes == 11).collect();
    assert_eq!((data, bdat.len()), (20, 20));
    assert!(bdat.iter().all(|a| a.sender == "<>" && a.recipients == 1));
    let line = reports
        .iter()
        .find(|a| a.sender == "s7@x.test")
        .unwrap()
        .to_string();
    assert_eq!(
        line,
        "accepted 70014 bytes from s7@x.test for 2 recipient(s)"
    );
}

#[tokio::test]
async fn sink_closes_on_early_talker() {
    let (addr, reports) = start_sink().await;
    let mut sock = TcpStream::connect(addr).await.unwrap();
    // Pipelined content behind DATA, without waiting for the 354.
    sock.write_all(b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n")
        .await
        .unwrap();
    read_replies(&mut sock, 4).await;
    sock.write_all(b"DATA\r\nSubject: x\r\n\r\n.\r\n")
        .await
        .unwrap();
    let mut rest = String::new();
    sock.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "554 5.5.0 Error: SMTP protocol synchronization\r\n");
    assert!(reports.lock().unwrap().is_empty());
}

/// `--no-chunking`: the EHLO reply names neither CHUNKING nor BINARYMIME, and BDAT is
/// refused, so every client sends DATA (as to Postfix's smtp-sink).
#[tokio::test]
async fn sink_without_chunking_takes_data_only() {
    for chunking in [true, false] {
        let (addr, reports) = start_sink_with(chunking).await;
        let mut sock = TcpStream::connect(addr).await.unwrap();
        read_replies(&mut sock, 1).await;
        sock.write_all(b"EHLO c\r\n").await.unwrap();
        let ehlo = read_text(&mut sock, 1).await;
        assert_eq!(ehlo.contains("CHUNKING"), chunking, "{ehlo}");
        assert_eq!(ehlo.contains("BINARYMIME"), chunking, "{ehlo}");
        sock.write_all(b"MAIL FROM:<>\r\nRCPT TO:<c@y.test>\r\nBDAT 5 LAST\r\nhello")
            .await
            .unwrap();
        let replies = read_replies(&mut sock, 3).await;
        assert_eq!(replies[2].starts_with("250 "), chunking, "{replies:?}");
        assert_eq!(reports.lock().unwrap().len(), usize::from(chunking));
    }
}
