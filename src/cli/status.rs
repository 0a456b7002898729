//! `postern status`, `postern transfer-mode` and `postern reload`: the live gateway's
//! Queues tab, the IMS transfer mode changed without a restart, and the configuration
//! re-read without one. All three ask the running gateway's admin API, found through
//! `-c FILE` (the config `postern serve` used) or `--data DIR`. A stopped gateway has
//! only its spool: `status` then shows what the spool files say and exits 3.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use postern_gateway::Config;
use postern_gateway::api::client::ClientError;
use postern_gateway::api::model::{
    Backoff, DestinationRow, QueueSummary, ReloadResult, SpoolSpace, Status, TransferModeBody,
};
use postern_gateway::config::TransferMode;
use postern_queue::{SpoolOptions, Target, Timestamp};

use super::gateway::{self, ConfigArg};

/// `postern status` arguments. Exit status 0 when the gateway answers, 3 when it does
/// not (the queue figures are then read from its spool files, with a warning), 69 when
/// there is not even a spool to read.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The gateway's data directory (overrides the config's `[server] data_dir`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Print the status document (JSON, the admin API's schema).
    #[arg(long)]
    json: bool,
}

/// `postern transfer-mode` arguments.
#[derive(Debug, clap::Args)]
pub struct TransferModeArgs {
    /// both, inbound (deliver to the organisation, hold mail to the Internet), outbound
    /// (deliver to the Internet, hold mail to the organisation, refuse new inbound
    /// sessions) or none.
    mode: String,
    #[command(flatten)]
    config: ConfigArg,
    /// The gateway's data directory (overrides the config's `[server] data_dir`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Seconds to wait for the running gateway's admin API to answer.
    #[arg(long, default_value_t = 10)]
    wait: u64,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
}

/// `postern reload` arguments.
#[derive(Debug, clap::Args)]
pub struct ReloadArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The gateway's data directory (overrides the config's `[server] data_dir`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Seconds to wait for the running gateway's admin API to answer.
    #[arg(long, default_value_t = 10)]
    wait: u64,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit status when the gateway is not running (the figures shown are its spool's),
/// as an LSB init script's `status` says "program is not running".
const NOT_RUNNING: u8 = 3;

/// How long `status` waits for the API before reading the spool instead: it asks
/// once (a gateway writes its API address before it starts serving).
const STATUS_WAIT: Duration = Duration::ZERO;

fn config_or_exit(
    what: &str,
    config: &ConfigArg,
    data: Option<&PathBuf>,
) -> Result<Config, ExitCode> {
    gateway::load(config, data.map(PathBuf::as_path)).map_err(|e| {
        eprintln!("postern {what}: {e}");
        ExitCode::from(2)
    })
}

/// Runs `postern reload`: asks the running gateway to re-read its `-c` file (as SIGHUP
/// does) and prints its answer. Exit status 0 reloaded, 1 refused, 2 no answer.
pub fn reload(args: ReloadArgs) -> ExitCode {
    let config = match config_or_exit("reload", &args.config, args.data.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // A refusal comes as 422 with a ReloadResult: read the body whatever the status.
    let answer = gateway::ask(&config, Duration::from_secs(args.wait), |c| {
        let (code, body) = c.request("POST", "/api/v1/reload", None)?;
        match serde_json::from_slice::<ReloadResult>(&body) {
            Ok(r) => Ok(r),
            Err(_) => Err(match serde_json::from_slice(&body) {
                Ok(e) => ClientError::Api(e),
                Err(_) => ClientError::Garbled(format!("status {code}")),
            }),
        }
    });
    match answer {
        Ok(Ok(r)) => {
            if args.json {
                gateway::print_json(&r);
            } else {
                outln!("{}", r.message);
            }
            if r.reloaded {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Ok(Err(e)) => {
            eprintln!("postern reload: {e}");
            ExitCode::FAILURE
        }
        Err(why) => {
            eprintln!(
                "postern reload: no answer within {} s: is `postern serve` running with its data in {}? ({why})",
                args.wait,
                config.server.data_dir.display()
            );
            ExitCode::from(2)
        }
    }
}

/// Runs `postern status`.
pub fn status(args: StatusArgs) -> ExitCode {
    let config = match config_or_exit("status", &args.config, args.data.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let why = match gateway::ask(&config, STATUS_WAIT, |c| c.get::<Status>("/api/v1/status")) {
        Ok(Ok(s)) => {
            show(&s, args.json);
            return ExitCode::SUCCESS;
        }
        Ok(Err(e)) => e.to_string(),
        Err(why) => why.to_string(),
    };
    let spool = config.spool_dir();
    let Some(s) = from_spool(&config) else {
        eprintln!(
            "postern status: the gateway is not running ({why}), and there is no spool in {}",
            spool.display()
        );
        return ExitCode::from(69);
    };
    show(&s, args.json);
    eprintln!(
        "postern status: the gateway is not running ({why}); these figures are read from its spool files in {}",
        spool.display()
    );
    ExitCode::from(NOT_RUNNING)
}

fn show(s: &Status, json: bool) {
    if json {
        gateway::print_json(s);
    } else {
        out!("{}", render(s));
    }
}

/// What the spool files of a stopped gateway say, in the status document's shape
/// (counters, connectors and recent events are only known to a running gateway).
fn from_spool(config: &Config) -> Option<Status> {
    let dir = config.spool_dir();
    if !dir.is_dir() {
        return None;
    }
    let rec = postern_queue::Spool::inspect(&dir, &SpoolOptions::default()).ok()?;
    let now = Timestamp::now();
    let s = postern_queue::summary::summarize(
        rec.messages.iter().map(|m| (&m.envelope, &m.state)),
        now,
    );
    let holds = postern_queue::queue::read_holds(&dir);
    let published = postern_queue::wait::read_published(&dir);
    Some(Status {
        time_ms: now.0,
        running: false,
        hostname: config.server.hostname.clone(),
        transfer_mode: config.transfer_mode.name().to_owned(),
        counters: Default::default(),
        queue: QueueSummary {
            messages: s.messages,
            held_messages: s.held_messages,
            pending: s.states.pending,
            deferred: s.states.deferred,
            oldest_secs: s.oldest.as_secs(),
            destinations: s
                .destinations
                .iter()
                .map(|d| DestinationRow {
                    destination: d.destination.clone(),
                    messages: d.messages,
                    recipients: d.recipients,
                    deferred: d.deferred,
                    oldest_secs: d.oldest.as_secs(),
                })
                .collect(),
            backoff: published
                .backoff
                .iter()
                .filter(|(_, e)| e.until > now)
                .map(|(d, e)| Backoff {
                    destination: d.clone(),
                    failures: e.failures,
                    until_ms: e.until.0,
                })
                .collect(),
            all_held: holds.iter().any(|t| matches!(t, Target::All)),
            held_destinations: holds
                .iter()
                .filter_map(|t| match t {
                    Target::Destination(d) => Some(d.clone()),
                    _ => None,
                })
                .collect(),
        },
        spool: SpoolSpace {
            segments: rec.segments as u64,
            bytes: rec.bytes,
            live_bytes: rec.live_bytes,
            dead_bytes: rec.bytes.saturating_sub(rec.live_bytes),
        },
        connectors: Vec::new(),
        recent_delivered: Vec::new(),
        recent_failed: Vec::new(),
    })
}

fn render(s: &Status) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let state = if s.running { "" } else { "  NOT RUNNING" };
    let _ = writeln!(
        o,
        "gateway {}  transfer mode {}{state}",
        s.hostname, s.transfer_mode
    );
    let c = &s.counters;
    if s.running {
        let _ = writeln!(
            o,
            "sessions open {}  (since start: {} sessions, {} messages accepted)",
            c.sessions_open, c.sessions_total, c.messages_accepted_total
        );
        let _ = writeln!(
            o,
            "recipients delivered {}, deferred {}, failed {}; notices {}",
            c.recipients_delivered_total,
            c.recipients_deferred_total,
            c.recipients_failed_total,
            c.notices_total
        );
        let down: Vec<&str> = s
            .connectors
            .iter()
            .filter(|c| !c.up)
            .map(|c| c.name.as_str())
            .collect();
        if down.is_empty() {
            o.push_str("connectors: all up\n");
        } else {
            let _ = writeln!(o, "connectors down: {}", down.join(", "));
        }
    }
    let q = &s.queue;
    let _ = writeln!(
        o,
        "queue: {} message(s), {} pending, {} deferred, {} held; oldest {} s",
        q.messages, q.pending, q.deferred, q.held_messages, q.oldest_secs
    );
    if q.all_held {
        o.push_str("held: everything\n");
    } else if !q.held_destinations.is_empty() {
        let _ = writeln!(o, "held: {}", q.held_destinations.join(", "));
    }
    let sp = &s.spool;
    let _ = writeln!(
        o,
        "spool: {} bytes in {} segment(s), {} live, {} dead",
        sp.bytes, sp.segments, sp.live_bytes, sp.dead_bytes
    );
    for d in &q.destinations {
        let _ = writeln!(
            o,
            "  {:<40} {:>6} msg {:>6} rcpt {:>6} deferred  oldest {:>6} s",
            d.destination, d.messages, d.recipients, d.deferred, d.oldest_secs
        );
    }
    // Destinations that failed to connect or greet: left alone until the time shown.
    for b in &q.backoff {
        let _ = writeln!(
            o,
            "  backoff {:<32} {} failure(s), next attempt in {} s",
            b.destination,
            b.failures,
            b.until_ms.saturating_sub(s.time_ms).div_ceil(1000)
        );
    }
    if s.running {
        for (title, list) in [
            ("recent deliveries", &s.recent_delivered),
            ("recent failures", &s.recent_failed),
        ] {
            let _ = writeln!(o, "{title}: {}", list.len());
            for it in list.iter().rev().take(10) {
                let _ = writeln!(o, "  {}  {}  {}", it.queue_id, it.recipient, it.reply);
            }
        }
    }
    o
}

/// Runs `postern transfer-mode`: puts the mode in force in the running gateway through
/// its admin API and returns once it is (until the gateway stops: a restart starts in
/// `[transfer] mode`). With no gateway answering within `--wait` nothing changes and the exit
/// status is 2: for the next start, `[transfer] mode` in the config says it.
pub fn transfer_mode(args: TransferModeArgs) -> ExitCode {
    let Some(mode) = TransferMode::from_name(&args.mode) else {
        eprintln!(
            "postern transfer-mode: {:?}: want both, inbound, outbound or none",
            args.mode
        );
        return ExitCode::from(2);
    };
    let config = match config_or_exit("transfer-mode", &args.config, args.data.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let body = TransferModeBody {
        mode: mode.name().to_owned(),
    };
    let answer = gateway::ask(&config, Duration::from_secs(args.wait), |c| {
        c.send::<_, TransferModeBody>("PUT", "/api/v1/transfer-mode", &body)
    });
    match answer {
        Ok(Ok(m)) => {
            if args.json {
                gateway::print_json(&m);
            } else {
                outln!("transfer mode is now {}", m.mode);
            }
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("postern transfer-mode: {e}");
            ExitCode::FAILURE
        }
        Err(why) => {
            eprintln!(
                "postern transfer-mode: no gateway applied it within {} s (is `postern serve` running with its data in {}? {why}); nothing changed — for the next start, set [transfer] mode in the config",
                args.wait,
                config.server.data_dir.display()
            );
            ExitCode::from(2)
        }
    }
}
