//! Two gateways on one PostgreSQL (issue 15): a message accepted by node a is delivered
//! by node b. Needs `POSTERN_PG_URL` (scripts/pg-dev.sh run; scripts/test.sh does it) and
//! the `postgres` feature; without a database it prints why it is skipped and passes.
#![cfg(feature = "postgres")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use postern_gateway::api::client::{Client, Endpoint};
use postern_gateway::api::model::{TrackSearch, TrackTrace};
use postern_gateway::{Config, Gateway};
use postern_queue::Target;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("postern-pgc-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
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

/// A node: Maildir for corp.test, storage in the schema `schema` of the test database.
async fn node(url: &str, name: &str, dir: &Path) -> Gateway {
    Gateway::start(
        Config::from_toml_str(&format!(
            "[server]\nhostname = \"{name}.test\"\ndata_dir = \"{}\"\n\
             [connections]\nlisten = [\"127.0.0.1:0\"]\n\
             [storage]\nbackend = \"postgres\"\nurl = \"{url}\"\nnode = \"{name}\"\n\
             [[connector]]\nname = \"boxes\"\nkind = \"maildir\"\n\
             [[connector.address_space]]\npattern = \"corp.test\"\n",
            dir.display(),
        ))
        .unwrap(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_accepted_by_one_node_is_delivered_by_the_other() {
    let url = match std::env::var("POSTERN_PG_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "skipped: no PostgreSQL (set POSTERN_PG_URL, e.g. scripts/pg-dev.sh run cargo test)"
            );
            return;
        }
    };
    // A schema of its own.
    let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c.batch_execute("DROP SCHEMA IF EXISTS gw_cluster CASCADE; CREATE SCHEMA gw_cluster")
        .await
        .unwrap();
    let url = format!("{url}?options=-c%20search_path%3Dgw_cluster");
    // The administrator holds the cluster's queue, so node a only accepts.
    let admin = postern_pg::PgQueue::open(
        &postern_pg::PgSettings::new(url.clone(), "admin"),
        postern_pg::PgQueueConfig::default(),
    )
    .await
    .unwrap();
    admin.hold(&Target::All).await.unwrap();

    let (dir_a, dir_b) = (temp_dir("a"), temp_dir("b"));
    let a = node(&url, "node-a", &dir_a).await;
    let line = a.startup_line();
    assert!(
        line.contains("spool postgres (node node-a)") && line.contains("tracking postgres"),
        "{line}"
    );
    let replies = send(
        a.local_addrs()[0],
        &[
            "EHLO client.test\r\n",
            "MAIL FROM:<s@client.test>\r\n",
            "RCPT TO:<jo@corp.test>\r\n",
            "DATA\r\n",
            "Message-ID: <cluster-1@client.test>\r\nSubject: shared\r\n\r\none queue\r\n.\r\n",
            "QUIT\r\n",
        ],
    )
    .await;
    assert!(replies[5].starts_with("250 "), "{replies:?}");
    assert_eq!(admin.len().await.unwrap(), 1, "queued in the database");
    // Node a goes away; node b starts and the hold is released: b delivers a's message.
    a.shutdown(Duration::from_secs(5)).await;
    let b = node(&url, "node-b", &dir_b).await;
    admin.release(&Target::All).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let files = loop {
        let f = maildir_files(&dir_b.join("mail/corp.test/jo/new"));
        if !f.is_empty() {
            break f;
        }
        assert!(Instant::now() < deadline, "node b never delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(files[0].contains("Subject: shared"), "{}", files[0]);
    assert!(maildir_files(&dir_a.join("mail/corp.test/jo/new")).is_empty());
    assert_eq!(admin.len().await.unwrap(), 0, "done for the cluster");
    // One tracking search: both nodes' hops of the message, each named (the events
    // reach the database in batches, within `tracking_flush_ms`).
    let want = vec!["node-a".to_string(), "node-b".to_string()];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = c
            .query(
                "SELECT DISTINCT node FROM gw_cluster.postern_events
                 WHERE message_id = 'cluster-1@client.test' AND
                     (node = 'node-a' OR kind = 'delivered') ORDER BY node",
                &[],
            )
            .await
            .unwrap();
        let nodes: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        if nodes == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "events of {nodes:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The admin API's tracking JSON names them too, event by event.
    let api = Client::new(Endpoint::Tcp(b.admin_addr().unwrap()), None);
    let (found, trace) = tokio::task::spawn_blocking(move || {
        let q = "message_id=%3Ccluster-1%40client.test%3E";
        (
            api.get::<TrackSearch>(&format!("/api/v1/track/search?{q}"))
                .unwrap(),
            api.get::<TrackTrace>(&format!("/api/v1/track/trace?{q}"))
                .unwrap(),
        )
    })
    .await
    .unwrap();
    for events in [&found.events, &trace.events] {
        let first = events.first().expect("events found");
        assert_eq!(
            first.node.as_deref(),
            Some("node-a"),
            "accepted by a: {events:?}"
        );
        let delivered: Vec<_> = events.iter().filter(|e| e.kind == "delivered").collect();
        assert!(!delivered.is_empty(), "{events:?}");
        for e in delivered {
            assert_eq!(e.node.as_deref(), Some("node-b"), "delivered by b: {e:?}");
        }
    }
    b.shutdown(Duration::from_secs(5)).await;
    let _ = std::fs::remove_dir_all(&dir_a);
    let _ = std::fs::remove_dir_all(&dir_b);
}
