//! The `postern` command-line subcommands, one module per command family.

use std::io::{self, Write};

/// `print!` for the subcommands: a reader that went away (`postern … | head`) ends the
/// command quietly instead of panicking, because the Rust runtime ignores SIGPIPE.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::write_stdout(format_args!($($arg)*)) };
}

/// `println!` for the subcommands, with [`out!`]'s handling of a closed pipe.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::cli::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

pub mod config;
pub mod convert;
pub mod gateway;
pub mod json;
pub mod message;
pub mod queue;
pub mod route;
pub mod serve;
pub mod status;
pub mod track;
pub mod uu;

/// Writes to standard output. A closed pipe exits with status 0, as `head` has what it
/// wanted; any other write error is reported and exits with status 1.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    if let Err(e) = io::stdout().lock().write_fmt(args) {
        eprintln!("postern: cannot write to {}", stdout_failed(e));
        std::process::exit(1);
    }
}

/// The message for a failed write to standard output — except when the reader has gone
/// (`BrokenPipe`): then the command has nothing left to do and exits with status 0.
pub fn stdout_failed(e: io::Error) -> String {
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    format!("standard output: {e}")
}
