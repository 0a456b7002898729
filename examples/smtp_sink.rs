//! A mail sink on `postern-smtp`'s server session: it accepts every message over SMTP and
//! throws it away, printing one line per message, like Postfix's `smtp-sink`.
//!
//! ```text
//! cargo run --release --example smtp_sink -- [--listen 127.0.0.1:2525] [--quiet]
//! ```
//!
//! Each accepted message prints `accepted BYTES bytes from SENDER for N recipient(s)` on
//! standard output (`<>` for the null sender); `--quiet` turns that off. One task per
//! connection; replies to a pipelined group go out in one write.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use postern_smtp::ReversePath;
use postern_smtp::server::{Event, ServerConfig, ServerSession};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Size of each read from a client.
const READ_BUFFER: usize = 64 * 1024;

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

/// The session settings of the sink: every extension it can take without TLS.
pub fn sink_config() -> ServerConfig {
    let mut config = ServerConfig::new("postern-sink");
    config.banner = "ESMTP postern smtp_sink".to_owned();
    config.binary_mime = true;
    config
}

/// Runs one SMTP connection to its end, calling `report` for each accepted message.
pub async fn serve_connection(
    mut sock: TcpStream,
    mut report: impl FnMut(Accepted),
) -> std::io::Result<()> {
    sock.set_nodelay(true)?;
    let mut session = ServerSession::new(sink_config());
    session.greet();
    let mut buf = vec![0u8; READ_BUFFER];
    let mut sender = String::new();
    let mut recipients = 0usize;
    loop {
        let out = session.pending_output();
        if !out.is_empty() {
            sock.write_all(out).await?;
            let n = out.len();
            session.consume_output(n);
        }
        if session.is_closed() {
            break;
        }
        let n = match tokio::time::timeout(session.timeout(), sock.read(&mut buf)).await {
            Err(_elapsed) => {
                session.on_timeout();
                continue;
            }
            Ok(result) => result?,
        };
        if n == 0 {
            break;
        }
        session.receive(&buf[..n]);
        while let Some(event) = session.poll_event() {
            match event {
                Event::Mail { from, .. } => {
                    sender = match from {
                        ReversePath::Null => "<>".to_owned(),
                        ReversePath::Mailbox(m) => m.to_string(),
                    };
                    recipients = 0;
                }
                Event::Rcpt { .. } => recipients += 1,
                Event::MessageEnd { size } => report(Accepted {
                    bytes: size,
                    sender: sender.clone(),
                    recipients,
                }),
                _ => {}
            }
            if session.pending_decision().is_some() {
                // Every decision is "yes" in a sink; the default replies fit.
                let _ = session.accept();
            }
        }
    }
    let _ = sock.shutdown().await;
    Ok(())
}

/// Accepts connections until interrupted, one task each.
async fn run(listener: TcpListener, quiet: bool) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = tokio::signal::ctrl_c() => return,
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
        tokio::spawn(async move {
            let print = |m: Accepted| {
                if !quiet {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{m}");
                    let _ = out.flush();
                }
            };
            if let Err(e) = serve_connection(sock, print).await
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
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 2525)),
        quiet: false,
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
            "-h" | "--help" => {
                return Err("usage: smtp_sink [--listen ADDR:PORT] [--quiet]".into());
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
    run(listener, args.quiet).await;
}
