//! `postern queue …` (filled in by the queue work).

use std::process::ExitCode;

/// `postern queue` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum QueueCmd {
    /// Placeholder until the queue work lands.
    Todo,
}

/// Runs a `postern queue` subcommand.
pub fn run(cmd: QueueCmd) -> ExitCode {
    match cmd {
        QueueCmd::Todo => {
            eprintln!("postern queue: not implemented yet");
            ExitCode::FAILURE
        }
    }
}
