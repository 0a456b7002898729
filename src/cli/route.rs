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
        /// Ask the running gateway `-c` names (its admin API) how its live table routes
        /// an SMTP address, with the connectors' up/down state as it is now.
        #[arg(long, conflicts_with_all = ["message_id", "arrived_on", "down", "site", "location"])]
        live: bool,
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
            live,
        } => {
            if live {
                return live_test(&address, config, json);
            }
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

/// `route test --live`: the running gateway's answer (`GET /api/v1/route`). Exit
/// status 0 routed, 1 unroutable, 2 no answer.
fn live_test(address: &str, config: Option<PathBuf>, json: bool) -> ExitCode {
    use postern_gateway::api::model::RouteTest;
    let arg = super::gateway::ConfigArg { config };
    let cfg = match super::gateway::load(&arg, None) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("postern route test: {e}");
            return ExitCode::from(2);
        }
    };
    let path = format!("/api/v1/route?address={}", query_value(address));
    let test: RouteTest =
        match super::gateway::ask(&cfg, std::time::Duration::ZERO, |c| c.get(&path)) {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                eprintln!("postern route test: {e}");
                return ExitCode::from(2);
            }
            Err(why) => {
                eprintln!("postern route test: no running gateway answered ({why})");
                return ExitCode::from(2);
            }
        };
    if json {
        super::gateway::print_json(&test);
    } else {
        for c in &test.candidates {
            let state = if c.up { "up" } else { "down" };
            outln!(
                "{}  cost {}  {}:{}  {state}",
                c.connector,
                c.cost,
                c.address_type,
                c.pattern
            );
        }
        if let Some(why) = &test.unroutable {
            outln!("unroutable: {why}");
        }
    }
    if test.candidates.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `s` percent-encoded for a query string value.
fn query_value(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
