//! `postern track trace` shows a relayed message's whole life: received, the deferral
//! after the remote server's 4xx, and the send that succeeded on retry, with the remote
//! host and reply (KB Q164175: tracking must cover outbound SMTP). Runs the real
//! `postern serve` binary against a scripted SMTP server on 127.0.0.1.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A scripted SMTP server: the first RCPT it ever sees gets `451`, later ones `250`.
/// Records the message bodies it accepts.
fn scripted_sink() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let rcpts = Arc::new(AtomicUsize::new(0));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        for sock in listener.incoming().flatten() {
            let (kept, rcpts) = (kept.clone(), rcpts.clone());
            std::thread::spawn(move || {
                let _ = serve(sock, &kept, &rcpts);
            });
        }
    });
    (addr, bodies)
}

fn serve(sock: TcpStream, kept: &Mutex<Vec<String>>, rcpts: &AtomicUsize) -> std::io::Result<()> {
    let mut w = sock.try_clone()?;
    let mut r = BufReader::new(sock);
    w.write_all(b"220 sink.test ESMTP\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 sink.test\r\n",
            "MAIL" | "RSET" | "NOOP" => b"250 2.0.0 Ok\r\n",
            "RCPT" if rcpts.fetch_add(1, Ordering::SeqCst) == 0 => b"451 4.3.0 Try again later\r\n",
            "RCPT" => b"250 2.1.5 Ok\r\n",
            "DATA" => {
                w.write_all(b"354 go ahead\r\n")?;
                let mut body = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    body.push_str(&line);
                }
                kept.lock().unwrap().push(body);
                b"250 2.0.0 Ok: queued as SINK1\r\n"
            }
            "QUIT" => {
                w.write_all(b"221 2.0.0 Bye\r\n")?;
                return Ok(());
            }
            _ => b"500 5.5.1 What?\r\n",
        };
        w.write_all(reply)?;
    }
}

#[test]
fn trace_covers_received_deferred_and_sent() {
    let dir = std::env::temp_dir().join(format!("postern-trace-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (sink, bodies) = scripted_sink();
    let config = dir.join("postern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n\
             [connections]\nlisten = [\"127.0.0.1:0\"]\n\
             [security]\nrelay_networks = [\"127.0.0.1/32\"]\n\
             [retry]\nintervals = [\"1s\"]\npoll_interval = \"100ms\"\nbackoff_first = \"500ms\"\n\
             [[connector]]\nname = \"out\"\nsmart_hosts = [\"127.0.0.1:{}\"]\n\
             [[connector.address_space]]\npattern = \"remote.test\"\n",
            dir.join("data").display(),
            sink.port()
        ),
    )
    .unwrap();
    let mut gw = common::spawn_serve(&config, 10);
    let mut err = BufReader::new(gw.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
    });
    let addr = common::startup_addr(&first);

    let replies = common::converse(
        addr,
        &[
            "EHLO client.test\r\n",
            "MAIL FROM:<a@client.test>\r\n",
            "RCPT TO:<b@remote.test>\r\n",
            "DATA\r\n",
            "Message-ID: <trace-1@client.test>\r\nSubject: trace me\r\n\r\nhello\r\n.\r\n",
            "QUIT\r\n",
        ],
        Duration::from_secs(10),
    );
    assert!(replies[5].starts_with("250 "), "{replies:?}");

    let deadline = Instant::now() + Duration::from_secs(30);
    while bodies.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the sink never got the message");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(bodies.lock().unwrap()[0].contains("Subject: trace me"));

    // The tracking writer flushes off the SMTP path: poll until the trace is complete.
    let tracking = dir.join("data/tracking");
    let mut out = String::new();
    while Instant::now() < deadline {
        let o = Command::new(env!("CARGO_BIN_EXE_postern"))
            .args(["track", "trace", "--no-index", "--dir"])
            .arg(&tracking)
            .arg("trace-1@client.test")
            .output()
            .unwrap();
        out = String::from_utf8_lossy(&o.stdout).into_owned();
        if ["received", "deferred", "sent"]
            .iter()
            .all(|k| out.contains(k))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = gw.kill();
    let _ = gw.wait();
    for kind in ["received", "deferred", "sent"] {
        assert!(out.contains(kind), "no {kind:?} in the trace:\n{out}");
    }
    assert!(
        out.contains("451 4.3.0"),
        "the deferral's reply is in the trace:\n{out}"
    );
    assert!(
        out.contains("SINK1"),
        "the remote reply of the send is in the trace:\n{out}"
    );
    let received = out.find("received").unwrap();
    let sent = out.rfind("sent").unwrap();
    assert!(received < sent, "time order:\n{out}");
    let _ = std::fs::remove_dir_all(PathBuf::from(&dir));
}
