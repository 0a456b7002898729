//! The `postern` command. Each crate's work adds its subcommands under `src/cli/`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

/// The gateway allocates and frees per command and per message on every worker thread;
/// mimalloc's thread-local free lists cost less CPU per message than glibc's malloc here
/// (BENCHMARKS.md, "Relay, fifth round").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// postern: mail-transport toolkit and reference gateway.
#[derive(Debug, Parser)]
#[command(name = "postern", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (with no -c: 127.0.0.1:2525, mail for localhost into ./postern-data).
    ///
    /// SIGHUP (or `postern reload`) re-reads the -c file and puts it in force for new sessions and deliveries
    /// (sessions under way keep their settings); a file that is refused is reported on
    /// stderr and the running settings stay. Listeners, data directory, [retry],
    /// [tracking], [archive], [protocol_log], [log] and [status] metrics_listen need a restart.
    /// SIGINT or SIGTERM stop it.
    Serve(cli::serve::ServeArgs),
    /// The live gateway: sessions, queue by destination, recent deliveries and failures.
    Status(cli::status::StatusArgs),
    /// Change the running gateway's transfer mode (both, inbound, outbound, none).
    TransferMode(cli::status::TransferModeArgs),
    /// Make the running gateway re-read its config file (as SIGHUP does); prints its answer.
    Reload(cli::status::ReloadArgs),
    /// Check a configuration file; hash passwords for it.
    #[command(subcommand)]
    Config(cli::config::ConfigCmd),
    /// Parse, inspect, extract and convert messages.
    #[command(subcommand)]
    Message(cli::message::MessageCmd),
    /// uuencode and uudecode, byte-compatible with GNU sharutils.
    #[command(subcommand)]
    Uu(cli::uu::UuCmd),
    /// Show routing decisions.
    #[command(subcommand)]
    Route(cli::route::RouteCmd),
    /// Inspect and manage the mail queue.
    #[command(subcommand)]
    Queue(cli::queue::QueueCmd),
    /// Search the message-tracking log.
    #[command(subcommand)]
    Track(cli::track::TrackCmd),
}

fn main() -> ExitCode {
    match Args::parse().command {
        Command::Serve(args) => cli::serve::run(args),
        Command::Config(cmd) => cli::config::run(cmd),
        Command::Status(args) => cli::status::status(args),
        Command::TransferMode(args) => cli::status::transfer_mode(args),
        Command::Reload(args) => cli::status::reload(args),
        Command::Message(cmd) => cli::message::run(cmd),
        Command::Uu(cmd) => cli::uu::run(cmd),
        Command::Route(cmd) => cli::route::run(cmd),
        Command::Queue(cmd) => cli::queue::run(cmd),
        Command::Track(cmd) => cli::track::run(cmd),
    }
}
