//! `postern route …`: show routing decisions, like `postmap -q` or `exim -bt`.

use std::path::PathBuf;
use std::process::ExitCode;

use postern_route::{ConnectorStatus, RouteRequest, RoutingConfig};

/// Used when no `-c` is given: one connector taking every SMTP address by DNS MX, like the
/// gateway's built-in default.
const DEFAULT_CONFIG: &str = r#"
[[connector]]
name = "internet"
[[connector.address_space]]
type = "SMTP"
pattern = "*"
"#;

/// `postern route` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RouteCmd {
    /// Show the routing decision for an address and why.
    ///
    /// Exit status: 0 routed, 1 unroutable, 2 bad config or arguments.
    Test {
        /// The address to route (`user@example.com`, `c=US;p=Org;s=Smith;`, …).
        address: String,
        /// The address type: SMTP, X400, MS or a custom type name.
        #[arg(long = "type", default_value = "SMTP")]
        address_type: String,
        /// The config file (TOML); without it, one `internet` connector for all SMTP.
        #[arg(short = 'c', long = "config")]
        config: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Message id (equal-cost connectors are ordered by its hash).
        #[arg(long)]
        message_id: Option<String>,
        /// The connector the message arrived on (excluded: loop prevention).
        #[arg(long)]
        arrived_on: Option<String>,
        /// Treat this connector as down (repeatable).
        #[arg(long = "down", value_name = "CONNECTOR")]
        down: Vec<String>,
        /// The sender's site (for site- and location-scoped address spaces).
        #[arg(long)]
        site: Option<String>,
        /// The sender's location.
        #[arg(long)]
        location: Option<String>,
    },
}

/// Runs a `postern route` subcommand.
pub fn run(cmd: RouteCmd) -> ExitCode {
    match cmd {
        RouteCmd::Test {
            address,
            address_type,
            config,
            json,
            message_id,
            arrived_on,
            down,
            site,
            location,
        } => {
            let text = match &config {
                Some(path) => match std::fs::read_to_string(path) {
                    Ok(t) => t,
                    Err(e) => {
                        eprintln!("postern route test: {}: {e}", path.display());
                        return ExitCode::from(2);
                    }
                },
                None => DEFAULT_CONFIG.to_owned(),
            };
            let cfg = match RoutingConfig::from_toml_str(&text) {
                Ok(c) => c,
                Err(e) => {
                    let name = config
                        .as_ref()
                        .map_or("built-in config".into(), |p| p.display().to_string());
                    eprintln!("postern route test: {name}: {e}");
                    return ExitCode::from(2);
                }
            };
            let mut req = RouteRequest::new(&address_type, &address);
            if let Some(id) = &message_id {
                req = req.message_id(id);
            }
            if let Some(c) = &arrived_on {
                req = req.arrived_on(c);
            }
            if let Some(s) = &site {
                req = req.origin(s, location.as_deref());
            }
            let mut state = ConnectorStatus::new();
            for c in &down {
                state.set_down(c, true);
            }
            let report = cfg.report(&req, &state);
            if json {
                outln!("{}", report.to_json());
            } else {
                out!("{report}");
            }
            if report.is_routed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}
