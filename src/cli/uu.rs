//! `postern uu …`: a uuencode tool, byte-compatible with GNU sharutils.

use std::process::ExitCode;

/// `postern uu` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum UuCmd {
    /// Encode FILE as NAME (like `uuencode FILE NAME`).
    Encode {
        /// The input file.
        file: std::path::PathBuf,
        /// The name written on the `begin` line.
        name: String,
    },
}

/// Runs a `postern uu` subcommand.
pub fn run(cmd: UuCmd) -> ExitCode {
    match cmd {
        UuCmd::Encode { .. } => {
            eprintln!("postern uu encode: not implemented yet");
            ExitCode::FAILURE
        }
    }
}
