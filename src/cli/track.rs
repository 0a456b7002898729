//! `postern track …` (filled in by the track work).

use std::process::ExitCode;

/// `postern track` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TrackCmd {
    /// Placeholder until the track work lands.
    Todo,
}

/// Runs a `postern track` subcommand.
pub fn run(cmd: TrackCmd) -> ExitCode {
    match cmd {
        TrackCmd::Todo => {
            eprintln!("postern track: not implemented yet");
            ExitCode::FAILURE
        }
    }
}
