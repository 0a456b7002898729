//! `postern status`, `postern transfer-mode` and `postern reload`: the live gateway's
//! Queues tab, the IMS transfer mode changed without a restart, and the configuration
//! re-read without one. All three talk to the gateway through files in its data
//! directory, as the queue commands do through the spool's `control/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use postern_gateway::admin::{
    reload_answer_file, reload_request_file, status_file, transfer_mode_ack_file,
    transfer_mode_file,
};
use postern_gateway::config::TransferMode;

/// `postern status` arguments. Exit status 0 when the gateway is running, 3 when it is
/// not (it stopped, or its status file is more than 10 s old: the figures are printed
/// with a warning saying how old they are), 69 when there is no status file.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The gateway's data directory.
    #[arg(long, default_value = "./postern-data")]
    data: PathBuf,
    /// Print the status document (JSON) as the gateway wrote it.
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
    /// The gateway's data directory.
    #[arg(long, default_value = "./postern-data")]
    data: PathBuf,
    /// Seconds to wait for the running gateway to apply the mode.
    #[arg(long, default_value_t = 10)]
    wait: u64,
}

/// `postern reload` arguments.
#[derive(Debug, clap::Args)]
pub struct ReloadArgs {
    /// The gateway's data directory.
    #[arg(long, default_value = "./postern-data")]
    data: PathBuf,
    /// Seconds to wait for the gateway's answer.
    #[arg(long, default_value_t = 10)]
    wait: u64,
}

/// Runs `postern reload`: asks the running gateway to re-read its `-c` file (as SIGHUP
/// does) and prints its answer. Exit status 0 reloaded, 1 refused, 2 no answer.
pub fn reload(args: ReloadArgs) -> ExitCode {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let token = format!("{}-{nanos}", std::process::id());
    if let Err(e) = write_atomically(&reload_request_file(&args.data), &token) {
        eprintln!("postern reload: {e}");
        return ExitCode::from(2);
    }
    let answer = reload_answer_file(&args.data);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(args.wait);
    while std::time::Instant::now() < deadline {
        let text = std::fs::read_to_string(&answer).unwrap_or_default();
        if let Some((t, line)) = text.split_once('\n')
            && t == token
        {
            let line = line.trim_end();
            outln!("{line}");
            return if line.contains(" refused: ") {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = std::fs::remove_file(reload_request_file(&args.data));
    eprintln!(
        "postern reload: no answer within {} s: is `postern serve` running with its data in {}?",
        args.wait,
        args.data.display()
    );
    ExitCode::from(2)
}

/// Runs `postern status`.
pub fn status(args: StatusArgs) -> ExitCode {
    let path = status_file(&args.data);
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "postern status: no {} (is a gateway running on this data directory?)",
            path.display()
        );
        return ExitCode::from(69);
    };
    let stopped = not_running(&text, now_ms());
    if args.json {
        out!("{text}");
    } else {
        out!("{}", render(&text, stopped.is_none()));
    }
    match stopped {
        None => ExitCode::SUCCESS,
        Some(why) => {
            eprintln!("postern status: {why}");
            ExitCode::from(NOT_RUNNING)
        }
    }
}

/// Exit status when the gateway is not running (the figures shown are its last ones),
/// as an LSB init script's `status` says "program is not running".
const NOT_RUNNING: u8 = 3;

/// A status file not rewritten for this long (the gateway rewrites it every second)
/// belongs to a gateway that is not running, or is hung.
const STALE_MS: u64 = 10_000;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Why the status in `text` is not that of a running gateway (it said so when it
/// stopped, or it is stale at `now_ms`), with the age of the data; `None` when live.
fn not_running(text: &str, now_ms: u64) -> Option<String> {
    let written = field(text, "time_ms").parse::<u64>().ok();
    let age = written.map(|t| now_ms.saturating_sub(t) / 1000);
    let age_text = age.map_or("of unknown age".to_owned(), |a| format!("{a} s old"));
    if field(text, "running") == "false" {
        return Some(format!(
            "the gateway is not running: it stopped; these figures are its last, {age_text}"
        ));
    }
    match written {
        Some(t) if now_ms.saturating_sub(t) <= STALE_MS => None,
        _ => Some(format!(
            "the gateway is not running (or hung): its status was last written {}; these \
             figures are {age_text}",
            age.map_or("at an unknown time".to_owned(), |a| format!("{a} s ago"))
        )),
    }
}

/// The value of `"key":` in a flat JSON text (numbers and simple strings).
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\":");
    text.find(&pat)
        .map(|i| {
            let rest = &text[i + pat.len()..];
            let end = if let Some(stripped) = rest.strip_prefix('"') {
                stripped.find('"').map_or(rest.len(), |e| e + 2)
            } else {
                rest.find([',', '}']).unwrap_or(rest.len())
            };
            rest[..end].trim_matches('"')
        })
        .unwrap_or("-")
}

fn render(text: &str, running: bool) -> String {
    let mut o = String::new();
    let state = if running { "" } else { "  NOT RUNNING" };
    o.push_str(&format!(
        "gateway {}  transfer mode {}{state}\n",
        field(text, "hostname"),
        field(text, "transfer_mode")
    ));
    o.push_str(&format!(
        "sessions open {}  (since start: {} sessions, {} messages accepted)\n",
        field(text, "sessions_open"),
        field(text, "sessions_total"),
        field(text, "messages_accepted_total")
    ));
    o.push_str(&format!(
        "recipients delivered {}, deferred {}, failed {}; notices {}\n",
        field(text, "recipients_delivered_total"),
        field(text, "recipients_deferred_total"),
        field(text, "recipients_failed_total"),
        field(text, "notices_total")
    ));
    let down = text
        .find("\"connectors_down\":[")
        .map(|i| &text[i + "\"connectors_down\":[".len()..])
        .and_then(|s| s.find(']').map(|e| &s[..e]))
        .unwrap_or("");
    if down.is_empty() {
        o.push_str("connectors: all up\n");
    } else {
        o.push_str(&format!("connectors down: {}\n", down.replace('"', "")));
    }
    let q = text.find("\"queue\":").map_or("", |i| &text[i..]);
    o.push_str(&format!(
        "queue: {} message(s), {} pending, {} deferred, {} held; oldest {} s\n",
        field(q, "messages"),
        field(q, "pending"),
        field(q, "deferred"),
        field(q, "held_messages"),
        field(q, "oldest_secs")
    ));
    if let Some(i) = text.find("\"spool\":") {
        let sp = &text[i..];
        o.push_str(&format!(
            "spool: {} bytes in {} segment(s), {} live, {} dead\n",
            field(sp, "bytes"),
            field(sp, "segments"),
            field(sp, "live_bytes"),
            field(sp, "dead_bytes")
        ));
    }
    for d in q.split("{\"destination\":").skip(1) {
        let name = d.split('"').nth(1).unwrap_or("?");
        o.push_str(&format!(
            "  {name:<40} {:>6} msg {:>6} rcpt {:>6} deferred  oldest {:>6} s\n",
            field(d, "messages"),
            field(d, "recipients"),
            field(d, "deferred"),
            field(d, "oldest_secs")
        ));
    }
    // Destinations that failed to connect or greet: left alone until the time shown.
    let now_ms: u64 = field(text, "time_ms").parse().unwrap_or(0);
    for b in q.split("{\"backed_off\":").skip(1) {
        let name = b.split('"').nth(1).unwrap_or("?");
        let until: u64 = field(b, "until_ms").parse().unwrap_or(0);
        o.push_str(&format!(
            "  backoff {name:<32} {} failure(s), next attempt in {} s\n",
            field(b, "failures"),
            until.saturating_sub(now_ms).div_ceil(1000)
        ));
    }
    for (title, key) in [
        ("recent deliveries", "recent_delivered"),
        ("recent failures", "recent_failed"),
    ] {
        let list = text
            .find(&format!("\"{key}\":["))
            .map(|i| &text[i..])
            .and_then(|s| s.find(']').map(|e| &s[..e]))
            .unwrap_or("");
        let items: Vec<&str> = list.split("{\"time_ms\":").skip(1).collect();
        o.push_str(&format!("{title}: {}\n", items.len()));
        for it in items.iter().rev().take(10) {
            o.push_str(&format!(
                "  {}  {}  {}\n",
                field(it, "queue_id"),
                field(it, "recipient"),
                field(it, "reply")
            ));
        }
    }
    o
}

/// Runs `postern transfer-mode`: writes the mode file atomically with a token, and
/// returns only once the running gateway has applied the mode and acknowledged the token
/// (it then keeps the mode across restarts until changed). With no gateway answering
/// within `--wait`, the previous file is put back — a mode nobody applied must not
/// silently override `[transfer] mode` at the next start — and the exit status is 2.
pub fn transfer_mode(args: TransferModeArgs) -> ExitCode {
    let Some(mode) = TransferMode::from_name(&args.mode) else {
        eprintln!(
            "postern transfer-mode: {:?}: want both, inbound, outbound or none",
            args.mode
        );
        return ExitCode::from(2);
    };
    let path = transfer_mode_file(&args.data);
    let before = std::fs::read_to_string(&path).ok();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let token = format!("{}-{nanos}", std::process::id());
    if let Err(e) = write_atomically(&path, &format!("{}\n{token}", mode.name())) {
        eprintln!("postern transfer-mode: {e}");
        return ExitCode::FAILURE;
    }
    let ack = transfer_mode_ack_file(&args.data);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(args.wait);
    while std::time::Instant::now() < deadline {
        let text = std::fs::read_to_string(&ack).unwrap_or_default();
        if let Some((t, answer)) = text.split_once('\n')
            && t == token
        {
            let answer = answer.trim_end();
            outln!("{answer}");
            return if answer.starts_with("error") {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Nobody applied it: take it back.
    let restored = match &before {
        Some(old) => write_atomically(&path, old.trim_end()),
        None => match std::fs::remove_file(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            r => r,
        },
    };
    if let Err(e) = restored {
        eprintln!("postern transfer-mode: cannot take the request back: {e}");
    }
    eprintln!(
        "postern transfer-mode: no gateway applied it within {} s (is `postern serve` running with its data in {}?); nothing changed — for the next start, set [transfer] mode in the config",
        args.wait,
        args.data.display()
    );
    ExitCode::from(2)
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{text}\n"))?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)
}
