//! Down marks expire by time (issue 25 item 2). A smart host that refuses connections
//! gets its connector marked down; the only message for it is deleted, so nothing is
//! left to probe it. The host comes back. Within `[retry] down_expiry` (with a first
//! retry interval of an hour, so no probe is due) the mark is lifted without the host
//! having seen a single connection, and new mail flows to it at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use postern_gateway::{Config, Context, Gateway};
use postern_queue::Envelope;
use postern_route::ConnectorState;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Connections and messages a sink saw.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    messages: AtomicUsize,
}

/// A smart host on `addr` that accepts everything.
async fn sink(addr: SocketAddr) -> Arc<Seen> {
    let listener = TcpListener::bind(addr)
        .await
        .expect("the port is free again");
    let seen = Arc::new(Seen::default());
    let s = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            s.connections.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(sock, Arc::clone(&s)));
        }
    });
    seen
}

async fn serve(sock: TcpStream, seen: Arc<Seen>) {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    let _ = w.write_all(b"220 sink.test\r\n").await;
    let mut line = String::new();
    let mut in_data = false;
    loop {
        line.clear();
        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let reply: &[u8] = if in_data {
            if line != ".\r\n" {
                continue;
            }
            in_data = false;
            seen.messages.fetch_add(1, Ordering::SeqCst);
            b"250 2.0.0 queued\r\n"
        } else {
            match line.get(..4).unwrap_or("").to_ascii_uppercase().as_str() {
                "EHLO" => b"250 sink.test\r\n",
                "DATA" => {
                    in_data = true;
                    b"354 go ahead\r\n"
                }
                "QUIT" => {
                    let _ = w.write_all(b"221 bye\r\n").await;
                    return;
                }
                _ => b"250 ok\r\n",
            }
        };
        if w.write_all(reply).await.is_err() {
            return;
        }
    }
}

fn is_up(ctx: &Context, connector: &str) -> bool {
    ctx.connectors.lock().unwrap().is_available(connector)
}

async fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_down_mark_expires_with_nothing_queued_to_probe_it() {
    // A port nobody listens on (yet).
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("postern-down-expiry-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let text = format!(
        "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n\
         [timeouts]\nconnect_secs = 2\n\
         [retry]\nfirst = \"1h\"\nbackoff_first = \"200ms\"\nbackoff_max = \"200ms\"\n\
         poll_interval = \"100ms\"\ndown_expiry = \"2s\"\n\
         [[connector]]\nname = \"relay\"\nkind = \"smtp\"\nsmart_hosts = [\"[{}]:{}\"]\n\
         [[connector.address_space]]\npattern = \"*\"\n",
        dir.display(),
        addr.ip(),
        addr.port()
    );
    let gw = Gateway::start(Config::from_toml_str(&text).unwrap())
        .await
        .unwrap();
    let ctx = gw.context().clone();
    let send = |to: &str| {
        let now = ctx.now();
        let env = Envelope::new("a@src.test", [to], now);
        let body = b"Subject: hi\r\nMessage-ID: <x@src.test>\r\n\r\nhello\r\n";
        let id = ctx.queue.local().unwrap().enqueue(&env, body, now).unwrap();
        ctx.wake.notify_one();
        id
    };
    let first = send("a@one.test");
    wait_for(Duration::from_secs(10), "marked down", || {
        !is_up(&ctx, "relay")
    })
    .await;
    // Nothing is left to probe it: its only message is gone.
    ctx.queue.local().unwrap().delete(first).unwrap();
    assert!(ctx.queue.local().unwrap().is_empty());
    let seen = sink(addr).await;
    // The first retry interval is an hour: only the expiry can lift the mark.
    wait_for(Duration::from_secs(10), "mark lifted", || {
        is_up(&ctx, "relay")
    })
    .await;
    assert_eq!(
        seen.connections.load(Ordering::SeqCst),
        0,
        "nothing probed the host"
    );
    let second = send("b@two.test");
    wait_for(Duration::from_secs(10), "new mail delivered", || {
        seen.messages.load(Ordering::SeqCst) == 1
    })
    .await;
    wait_for(Duration::from_secs(5), "queue empty", || {
        ctx.queue.local().unwrap().message(second).is_none()
    })
    .await;
    drop(ctx);
    gw.shutdown(Duration::from_secs(2)).await;
    let _ = std::fs::remove_dir_all(&dir);
}
