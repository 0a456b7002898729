//! `postern message …`: inspect, extract and convert messages.

use std::process::ExitCode;

/// `postern message` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum MessageCmd {
    /// Parse a message and print its MIME tree.
    Inspect {
        /// The message file.
        file: std::path::PathBuf,
        /// Print JSON (one object per part, children nested).
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `postern message` subcommand.
pub fn run(cmd: MessageCmd) -> ExitCode {
    match cmd {
        MessageCmd::Inspect { .. } => {
            eprintln!("postern message inspect: not implemented yet");
            ExitCode::FAILURE
        }
    }
}
