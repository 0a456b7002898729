//! A mail sink on `postern-smtp`'s server session: it accepts every message over SMTP and
//! throws it away, printing one line per message, like Postfix's `smtp-sink`.
//!
//! ```text
//! cargo run --release --example smtp_sink -- [--listen 127.0.0.1:2525] [--quiet] [--count N] [--no-chunking]
//! ```
//!
//! Each accepted message prints `accepted BYTES bytes from SENDER for N recipient(s)` on
//! standard output (`<>` for the null sender); `--quiet` turns that off. `--count N`
//! exits once N messages were accepted, as `smtp-sink -M N` does (the relay benchmark
//! times a run by it: `SINK_BIN` in `scripts/bench-relay.sh`). `--no-chunking` leaves
//! CHUNKING (and BINARYMIME) out of the EHLO reply, so every client sends DATA, as to
//! Postfix's `smtp-sink`. One task per
//! connection; replies to a pipelined group go out in one write. The connection loop is
//! `postern_smtp::driver::serve` (feature `tokio`); the sink only says yes.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use postern_smtp::driver::{self, Handler, Verdict};
use postern_smtp::server::{ServerConfig, ServerSession};
use postern_smtp::{ForwardPath, MailParams, RcptParams, ReversePath};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// One message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Content octets.
    pub bytes: u64,
    /// The sender, `<>` for the null path.
    pub sender: String,
    /// Recipients accepted for it.
    pub recipients: usize,
}

impl std::fmt::Display for Accepted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "accepted {} bytes from {} for {} recipient(s)",
            self.bytes, self.sender, self.recipients
        )
    }
}

/// The session settings of the sink: every extension it can take without TLS, less
/// CHUNKING and BINARYMIME when `chunking` is false.
pub fn sink_config(chunking: bool) -> ServerConfig {
    let mut config = ServerConfig::new("postern-sink");
    config.banner = "ESMTP postern smtp_sink".to_owned();
    config.chunking = chunking;
    config.binary_mime = chunking;
    config
}

/// The sink's decisions: every one is "yes"; a message is counted, never kept.
struct Sink<F> {
    sender: String,
    recipients: usize,
    report: F,
}

impl<F: FnMut(Accepted) + Send> Handler for Sink<F> {
    async fn mail(&mut self, from: &ReversePath<'_>, _params: &MailParams<'_>) -> Verdict {
        self.sender = match from {
            ReversePath::Null => "<>".to_owned(),
            ReversePath::Mailbox(m) => m.to_string(),
        };
        self.recipients = 0;
        Verdict::Accept
    }

    async fn rcpt(&mut self, _to: &ForwardPath<'_>, _params: &RcptParams<'_>) -> Verdict {
        self.recipients += 1;
        Verdict::Accept
    }

    async fn message_end(&mut self, size: u64) -> Verdict {
        (self.report)(Accepted {
            bytes: size,
            sender: self.sender.clone(),
            recipients: self.recipients,
        });
        Verdict::Accept
    }
}

/// Runs one SMTP connection to its end, calling `report` for each accepted message.
/// `postern_smtp::driver::serve` runs the session's read/write/timeout loop.
pub async fn serve_connection(
    sock: TcpStream,
    config: ServerConfig,
    report: impl FnMut(Accepted) + Send,
) -> std::io::Result<()> {
    sock.set_nodelay(true)?;
    let mut sink = Sink {
        sender: String::new(),
        recipients: 0,
        report,
    };
    // The sink offers no STARTTLS, so the session can only end.
    driver::serve(sock, ServerSession::new(config), &mut sink).await?;
    Ok(())
}

/// Counts accepted messages and says when the last one wanted has arrived.
struct Counter {
    seen: AtomicU64,
    /// Exit after this many messages (`--count`); `None`: never.
    wanted: Option<u64>,
    done: Notify,
}

impl Counter {
    fn count(&self) {
        let seen = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if self.wanted == Some(seen) {
            self.done.notify_one();
        }
    }
}

/// Accepts connections until interrupted, or until `--count` messages came, one task
/// each. The runtime has one thread: once the counter says so, the connection that took
/// the last message has already written its reply (the write happens before its task
/// waits again), so returning here loses no reply.
async fn run(listener: TcpListener, args: &Args, counter: Arc<Counter>) {
    let quiet = args.quiet;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = tokio::signal::ctrl_c() => return,
            () = counter.done.notified() => return,
        };
        let sock = match accepted {
            Ok((sock, _peer)) => sock,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                eprintln!("smtp_sink: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let counter = Arc::clone(&counter);
        let config = sink_config(args.chunking);
        tokio::spawn(async move {
            let print = |m: Accepted| {
                if !quiet {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{m}");
                    let _ = out.flush();
                }
                counter.count();
            };
            if let Err(e) = serve_connection(sock, config, print).await
                && !quiet
            {
                eprintln!("smtp_sink: connection: {e}");
            }
        });
    }
}

struct Args {
    listen: SocketAddr,
    quiet: bool,
    count: Option<u64>,
    chunking: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 2525)),
        quiet: false,
        count: None,
        chunking: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--listen" => {
                let value = it.next().ok_or("--listen needs ADDR:PORT")?;
                args.listen = value
                    .parse()
                    .map_err(|e| format!("--listen {value}: {e}"))?;
            }
            "--quiet" => args.quiet = true,
            "--count" => {
                let value = it.next().ok_or("--count needs a number of messages")?;
                let n = value.parse().map_err(|e| format!("--count {value}: {e}"))?;
                args.count = Some(n);
            }
            "--no-chunking" => args.chunking = false,
            "-h" | "--help" => {
                return Err(
                    "usage: smtp_sink [--listen ADDR:PORT] [--quiet] [--count N] [--no-chunking]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other}; try --help")),
        }
    }
    Ok(args)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let listener = match TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("smtp_sink: cannot listen on {}: {e}", args.listen);
            std::process::exit(1);
        }
    };
    eprintln!("smtp_sink: listening on {}", args.listen);
    let counter = Arc::new(Counter {
        seen: AtomicU64::new(0),
        wanted: args.count,
        done: Notify::new(),
    });
    run(listener, &args, counter).await;
}
