//! `postern serve`: run the gateway; SIGHUP reloads the config file, SIGINT/SIGTERM
//! stop it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use postern_gateway::config::Scheduler;
use postern_gateway::logging::{self, LogFormat};
use postern_gateway::{Config, gateway};

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
    if let Err(e) = logging::init_batched(format, &config.log.level, config.log.batch) {
        eprintln!("postern serve: {e}");
        return ExitCode::from(2);
    }
    let grace = Duration::from_secs(args.grace);
    let path = args.config.as_deref();
    let served = match config.server.scheduler {
        Scheduler::Shared => serve_shared(config, path, grace),
        Scheduler::PerThread => serve_per_thread(config, path, grace),
    };
    let code = match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("serve: {e}");
            ExitCode::FAILURE
        }
    };
    // Lines still gathered would be lost at exit.
    postern_gateway::log_writer::flush();
    code
}

/// The number of threads `[server] worker_threads` asks for (0: half the cores, at
/// least one; see its documentation for why).
fn threads(config: &Config) -> usize {
    match config.server.worker_threads {
        0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
        n => n,
    }
}

/// `scheduler = "shared"`: one multi-thread runtime.
fn serve_shared(config: Config, path: Option<&Path>, grace: Duration) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads(&config))
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(gateway::serve(config, path, grace))
        .map_err(|e| e.to_string())
}

/// `scheduler = "per_thread"`: a single-thread runtime on this thread (deliveries, the
/// gateway's own tasks, its share of sessions) and one on each further thread (sessions
/// only). Those threads run until the gateway has stopped.
fn serve_per_thread(config: Config, path: Option<&Path>, grace: Duration) -> Result<(), String> {
    let single = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))
    };
    let main = single()?;
    let mut others = Vec::new();
    for i in 1..threads(&config) {
        let rt = single()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("postern-sessions-{i}"))
            .spawn(move || {
                let _ = rt.block_on(stopped);
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        others.push((handle, stop, thread));
    }
    let handles: Vec<_> = others.iter().map(|(h, _, _)| h.clone()).collect();
    let served = main.block_on(gateway::serve_on(config, path, grace, &handles));
    for (_, stop, thread) in others {
        let _ = stop.send(());
        let _ = thread.join();
    }
    served.map_err(|e| e.to_string())
}
