//! How a `postern` subcommand finds the gateway it concerns: `-c FILE`, the config
//! `postern serve` used (its data directory, tracking directory and admin API address
//! and token come from it), with the path flags (`--data`, `--spool`, `--dir`) as
//! overrides for reading a stopped gateway's files directly.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use postern_gateway::Config;
use postern_gateway::api::client::{Client, ClientError};

/// `-c FILE`: the gateway's config file.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// The gateway's config file (what `postern serve -c` used); without it, the
    /// embedded default (data in ./postern-data). Paths and the admin API's address
    /// and token come from it.
    #[arg(short = 'c', long = "config")]
    pub config: Option<PathBuf>,
}

/// The config `-c` names (or the embedded one), with its data directory replaced by
/// `data` when given: the token file follows it when it lay in the data directory.
pub fn load(config: &ConfigArg, data: Option<&Path>) -> Result<Config, String> {
    let mut c = super::serve::load(config.config.as_ref())?;
    if let Some(d) = data {
        if let Ok(rest) = c.admin_api.token_file.strip_prefix(&c.server.data_dir) {
            c.admin_api.token_file = d.join(rest);
        }
        if let Ok(rest) = c.tracking.dir.strip_prefix(&c.server.data_dir) {
            c.tracking.dir = d.join(rest);
        }
        c.server.data_dir = d.to_path_buf();
    }
    Ok(c)
}

/// Why no admin API answered.
#[derive(Debug)]
pub enum NoAnswer {
    /// `[admin] listen = "off"`.
    Off,
    /// No address file (the gateway never ran here, or not with the API).
    NoAddress(PathBuf),
    /// Nothing listened there, or the connection failed.
    Unreachable(String),
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoAnswer::Off => f.write_str("the admin API is off ([admin] listen = \"off\")"),
            NoAnswer::NoAddress(p) => write!(f, "no admin API address in {}", p.display()),
            NoAnswer::Unreachable(e) => f.write_str(e),
        }
    }
}

/// The answer of a running gateway's API, or why none came: `call` is tried until it
/// reaches the API or `wait` has passed (a gateway starting up answers a moment
/// later). An answer that is an error of the API is returned as it is.
pub fn ask<T>(
    config: &Config,
    wait: Duration,
    call: impl Fn(&Client) -> Result<T, ClientError>,
) -> Result<Result<T, ClientError>, NoAnswer> {
    let deadline = Instant::now() + wait;
    loop {
        let why = match client(config) {
            Ok(c) => match call(&c) {
                Err(ClientError::Unreachable(e)) => NoAnswer::Unreachable(e.to_string()),
                r => return Ok(r),
            },
            Err(NoAnswer::Off) => return Err(NoAnswer::Off),
            Err(why) => why,
        };
        if Instant::now() >= deadline {
            return Err(why);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn client(config: &Config) -> Result<Client, NoAnswer> {
    use postern_gateway::config::AdminListen;
    if matches!(config.admin_api.listen, AdminListen::Off) {
        return Err(NoAnswer::Off);
    }
    Client::from_config(config).ok_or_else(|| {
        NoAnswer::NoAddress(postern_gateway::api::address_file(&config.server.data_dir))
    })
}

/// Prints `value` as JSON (the API's schema) on one line.
pub fn print_json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string(value) {
        Ok(s) => outln!("{s}"),
        Err(e) => eprintln!("postern: cannot write JSON: {e}"),
    }
}
