//! `postern route …` (filled in by the route work).

use std::process::ExitCode;

/// `postern route` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RouteCmd {
    /// Placeholder until the route work lands.
    Todo,
}

/// Runs a `postern route` subcommand.
pub fn run(cmd: RouteCmd) -> ExitCode {
    match cmd {
        RouteCmd::Todo => {
            eprintln!("postern route: not implemented yet");
            ExitCode::FAILURE
        }
    }
}
