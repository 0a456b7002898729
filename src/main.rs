//! The `postern` command. Subcommands arrive with the crates that implement them
//! (see DESIGN.md); today it reports its version and what it will do.

use std::process::ExitCode;

const USAGE: &str = "\
postern — mail-transport toolkit and reference gateway

usage: postern <command> [args]

commands available in this build:
  version        print the version

Planned (see the project's issues): serve, queue, track, route, message, uu, config.
Until `postern serve` lands, run the SMTP sink example:
  cargo run --release --example smtp_sink -- --listen 127.0.0.1:2525
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("version" | "--version" | "-V") => {
            println!("postern {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        None | Some("help" | "--help" | "-h") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("postern: unknown command `{other}`\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
