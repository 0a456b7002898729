//! `postern config …`: check a configuration file; make password hashes for it.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// `postern config` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCmd {
    /// Validate a config file and print the effective settings (defaults filled in) as a
    /// TOML config file that `postern serve -c` accepts unchanged. Exit status: 0 valid,
    /// 2 invalid (the error names the key and line).
    Check {
        /// The config file; without it, the embedded default `postern serve` uses.
        #[arg(short = 'c', long = "config")]
        config: Option<PathBuf>,
    },
    /// Read a password from the first line of standard input and print its Argon2 hash,
    /// for `[[security.user]] password_hash`.
    HashPassword,
}

/// Runs a `postern config` subcommand.
pub fn run(cmd: ConfigCmd) -> ExitCode {
    match cmd {
        ConfigCmd::Check { config } => match super::serve::load(config.as_ref()) {
            Ok(c) => {
                if let (Some(p), true) = (&config, c.inherits_default_connector()) {
                    eprintln!("{}", postern_gateway::gateway::inherited_connector_note(p));
                }
                out!("{}", postern_gateway::effective::effective_settings(&c));
                if !database_answers(&c) {
                    return ExitCode::from(2);
                }
                let name = config.map_or("embedded default".into(), |p| p.display().to_string());
                eprintln!("postern config check: {name}: OK");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("postern config check: {e}");
                ExitCode::from(2)
            }
        },
        ConfigCmd::HashPassword => hash_password(),
    }
}

/// For a shared-database backend, connects and says whether the database answers
/// (issue 15); true for the local backend.
fn database_answers(c: &postern_gateway::config::Config) -> bool {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("postern config check: cannot start a runtime: {e}");
            return false;
        }
    };
    match rt.block_on(postern_gateway::storage::check_database(c)) {
        None => true,
        Some(Ok(version)) => {
            eprintln!("postern config check: the database answers ({version})");
            true
        }
        Some(Err(e)) => {
            eprintln!("postern config check: the database does not answer: {e}");
            false
        }
    }
}

fn hash_password() -> ExitCode {
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err()
        || line.trim_end_matches(['\r', '\n']).is_empty()
    {
        eprintln!("postern config hash-password: give the password on standard input");
        return ExitCode::from(2);
    }
    match postern_gateway::auth::hash_password(line.trim_end_matches(['\r', '\n'])) {
        Ok(h) => {
            outln!("{h}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("postern config hash-password: {e}");
            ExitCode::FAILURE
        }
    }
}
