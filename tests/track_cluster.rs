//! `postern track search|trace` on a cluster's log in PostgreSQL (issue 15): the real
//! `postern serve` with `[storage] backend = "postgres"` accepts and delivers a message,
//! then the CLI, given the same config, finds its events in the database and names the
//! node that recorded each one, in the timeline (`node=NAME`) and in JSON (`"node"`).
//! Needs `POSTERN_PG_URL` (`scripts/pg-dev.sh run cargo test --test track_cluster`);
//! without it the test prints why it is skipped and passes.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Sends one message to `corp.test` and quits; returns the replies (index 5: to its end
/// of data).
fn send(addr: std::net::SocketAddr, message_id: &str) -> Vec<String> {
    let data = format!("Message-ID: {message_id}\r\nSubject: cluster\r\n\r\nhi\r\n.\r\n");
    let lines = [
        "EHLO client.test\r\n",
        "MAIL FROM:<s@client.test>\r\n",
        "RCPT TO:<jo@corp.test>\r\n",
        "DATA\r\n",
        &data,
        "QUIT\r\n",
    ];
    common::converse(addr, &lines, Duration::from_secs(30))
}

/// `postern track ARGS -c CONFIG`: (exit code, stdout).
fn track(config: &Path, args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_postern"))
        .arg("track")
        .args(args)
        .arg("-c")
        .arg(config)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

#[test]
fn track_names_the_node_of_each_event() {
    let url = match std::env::var("POSTERN_PG_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "skipped: no PostgreSQL (set POSTERN_PG_URL, e.g. \
                 scripts/pg-dev.sh run cargo test --test track_cluster)"
            );
            return;
        }
    };
    let dir = std::env::temp_dir().join(format!("postern-track-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("postern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n\
             [connections]\nlisten = [\"127.0.0.1:0\"]\n\
             [storage]\nbackend = \"postgres\"\nurl = \"{url}\"\nnode = \"gw-cli\"\n\
             [[connector]]\nname = \"boxes\"\nkind = \"maildir\"\n\
             [[connector.address_space]]\npattern = \"corp.test\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let mut serve = common::spawn_serve(&config, 1);
    let mut first = String::new();
    let mut log = BufReader::new(serve.stderr.take().unwrap());
    log.read_line(&mut first).unwrap();
    // Keep reading its log: a closed pipe would end it at its next line.
    std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
    let addr = common::startup_addr(&first);
    let mid = format!("<track-cluster-{}@client.test>", std::process::id());
    let replies = send(addr, &mid);
    assert!(replies[5].starts_with("250 "), "{first} {replies:?}");

    // The events reach the database in batches: wait for the delivery's.
    let deadline = Instant::now() + Duration::from_secs(30);
    let json = loop {
        let (code, out) = track(&config, &["search", "--message-id", &mid, "--json"]);
        if code == 0 && out.contains("\"event\":\"delivered\"") {
            break out;
        }
        assert!(
            Instant::now() < deadline,
            "no delivered event: {code} {out}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let lines: Vec<&str> = json.lines().collect();
    assert!(lines.len() >= 2, "{json}");
    for l in &lines {
        assert!(l.contains("\"node\":\"gw-cli\""), "{l}");
    }
    let (code, text) = track(&config, &["trace", &mid]);
    assert_eq!(code, 0, "{text}");
    let events: Vec<&str> = text.lines().filter(|l| l.starts_with("20")).collect();
    assert_eq!(events.len(), lines.len(), "{text}");
    for l in &events {
        assert!(l.contains("  node=gw-cli"), "{l}");
    }
    let (code, _) = track(
        &config,
        &["search", "--message-id", "<nothing@client.test>"],
    );
    assert_eq!(code, 1, "nothing found in the cluster's log");

    let _ = serve.kill();
    let _ = serve.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
