//! `postern serve`: run the gateway; SIGHUP reloads the config file, SIGINT/SIGTERM
//! stop it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use postern_gateway::Config;
use postern_gateway::logging::{self, LogFormat};

/// `postern serve` arguments.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The config file (TOML); without it, the embedded default: listen on
    /// 127.0.0.1:2525, mail for `localhost` into Maildir folders under ./postern-data/,
    /// relay nothing. SIGHUP re-reads this file (see `postern serve --help`).
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
    /// Seconds sessions and deliveries get to finish after SIGINT/SIGTERM.
    #[arg(long, default_value_t = 10)]
    grace: u64,
    /// The log's format on stderr: human or json (default: `[log] format`, else human).
    /// `RUST_LOG`, when set, replaces the filter `[log] level`.
    #[arg(long = "log-format", value_parser = parse_log_format)]
    log_format: Option<LogFormat>,
}

fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    LogFormat::from_name(s).ok_or_else(|| format!("{s:?} is not a log format (human or json)"))
}

/// Loads the config named by `-c`, or the embedded default.
pub fn load(path: Option<&PathBuf>) -> Result<Config, String> {
    match path {
        None => Ok(Config::embedded()),
        Some(p) => Config::load(p).map_err(|e| format!("{}: {e}", p.display())),
    }
}

/// Runs `postern serve`.
pub fn run(args: ServeArgs) -> ExitCode {
    let config = match load(args.config.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            // No log yet: the configuration names its format.
            eprintln!("postern serve: {e}");
            return ExitCode::from(2);
        }
    };
    let format = args.log_format.unwrap_or(config.log.format);
    if let Err(e) = logging::init(format, &config.log.level) {
        eprintln!("postern serve: {e}");
        return ExitCode::from(2);
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if config.server.worker_threads > 0 {
        builder.worker_threads(config.server.worker_threads);
    }
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("serve: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(postern_gateway::gateway::serve(
        config,
        args.config.as_deref(),
        Duration::from_secs(args.grace),
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("serve: {e}");
            ExitCode::FAILURE
        }
    }
}
