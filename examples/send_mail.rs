//! Sends one message file over SMTP with postern's sans-IO client session on tokio.
//!
//! ```text
//! cargo run --example send_mail -- --server 127.0.0.1:2525 --from a@example.org \
//!     --to b@example.net [--to c@example.net …] [--helo NAME] message.eml
//! ```
//!
//! Prints each recipient's result and the server's final reply. Exits 0 only when every
//! recipient was accepted and the message delivered; 1 when the server refused something;
//! 2 on bad arguments or I/O errors.
//!
//! The example speaks plain SMTP only (`TlsPolicy::Off`): `driver::send` runs no TLS.
//! With TLS, drive `ClientSession` yourself: run the handshake on `ClientEvent::StartTls`
//! and call `session.tls_established()` (`examples/smtp_server.rs` does, and
//! `examples/send_pipelined.rs` shows the client session's loop by hand).

use std::process::ExitCode;

use postern_smtp::Body;
use postern_smtp::client::{ClientConfig, Envelope, RcptStatus, TlsPolicy};
use postern_smtp::driver;
use tokio::net::TcpStream;

struct Args {
    server: String,
    from: String,
    to: Vec<String>,
    helo: String,
    file: String,
}

const USAGE: &str =
    "usage: send_mail --server HOST:PORT --from ADDR --to ADDR [--to ADDR…] [--helo NAME] FILE";

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut server, mut from, mut to, mut helo, mut file) = (None, None, Vec::new(), None, None);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--server" => server = Some(value()?),
            "--from" => from = Some(value()?),
            "--to" => to.push(value()?),
            "--helo" => helo = Some(value()?),
            "-h" | "--help" => return Err(USAGE.into()),
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            _ if file.is_none() => file = Some(arg),
            _ => return Err("only one FILE".into()),
        }
    }
    if to.is_empty() {
        return Err("at least one --to".into());
    }
    Ok(Args {
        server: server.ok_or("--server is required")?,
        from: from.ok_or("--from is required")?,
        to,
        helo: helo.unwrap_or_else(|| "localhost".into()),
        file: file.ok_or("FILE is required")?,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let message = match std::fs::read(&args.file) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("cannot read {}: {e}", args.file);
            return ExitCode::from(2);
        }
    };
    match run(&args, &message).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs one session; true when the message was delivered to every recipient.
/// `postern_smtp::driver::send` runs the client session's read/write/timeout loop.
async fn run(args: &Args, message: &[u8]) -> Result<bool, driver::DriveError> {
    let stream = TcpStream::connect(&args.server).await?;
    let mut config = ClientConfig::new(args.helo.clone());
    config.tls = TlsPolicy::Off;
    let mut envelope = Envelope::new(args.from.clone(), args.to.iter().cloned());
    envelope.size = Some(message.len() as u64);
    if !message.is_ascii() {
        envelope.body = Some(Body::EightBitMime);
    }
    let report = driver::send(stream, config, envelope, message).await?;
    let all = print_results(&report.recipients);
    match (&report.accepted, &report.rejection) {
        (Some(reply), _) => println!("delivered: {reply}"),
        (None, Some(reason)) => match reason.reply() {
            Some(r) => println!("not delivered: {r}"),
            None => println!("not delivered: no recipient accepted"),
        },
        (None, None) => println!("not delivered"),
    }
    Ok(all && report.accepted.is_some())
}

/// Prints one line per recipient; true when all were accepted.
fn print_results(recipients: &[postern_smtp::client::RecipientResult]) -> bool {
    for r in recipients {
        let (what, reply) = match &r.status {
            RcptStatus::Accepted(reply) => ("accepted", reply),
            RcptStatus::Temporary(reply) => ("deferred", reply),
            RcptStatus::Permanent(reply) => ("refused", reply),
        };
        println!("{}: {what}: {reply}", r.address);
    }
    recipients.iter().all(|r| r.status.is_accepted())
}
