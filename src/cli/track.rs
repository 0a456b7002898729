//! `postern track …`: search the message-tracking log and trace one message across hops.
//!
//! Output is a timeline, one event per line, oldest first; `--json` prints one JSON object
//! per line instead. Exit status as grep: 0 when something was found, 1 when nothing was,
//! 2 on an error.
//!
//! The tracking directory is the `[tracking] dir` of the config `-c FILE` names (as
//! `postern serve` used it; default the embedded one's, ./postern-data/tracking), or
//! `--dir`. The log files are read directly: they are only ever appended to, so this
//! is the same whether the gateway runs or not.
//!
//! With `[storage] backend = "postgres"` in that config (and no `--dir`), the search
//! covers the whole cluster's log in the database, and every event names the node that
//! recorded it (`node=NAME` in the timeline, `"node"` in JSON).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use super::gateway::ConfigArg;
use postern_track::{
    Clock, Event, EventKind, EventSearch, Filter, IndexMode, NodeEvent, Reader, ScanStats,
    SystemClock, Text, Timestamp, TrackError,
};

/// `postern track` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TrackCmd {
    /// Search tracking events; every option given must match.
    Search(SearchArgs),
    /// Show the whole life of one message: its queue ids, notifications about it, in time order.
    Trace(TraceArgs),
}

/// Options of `postern track search`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Message-ID (angle brackets optional).
    #[arg(long, value_name = "ID")]
    message_id: Option<String>,
    /// Envelope sender (case-insensitive; "" is the null sender).
    #[arg(long, value_name = "S")]
    sender: Option<String>,
    /// One of the recipients (case-insensitive).
    #[arg(long, value_name = "R")]
    recipient: Option<String>,
    /// Event kind: a name (sent, deferred, …), an Exchange number (1011; 1030 is failed
    /// and expired) or an Exchange 2007 name (SEND; FAIL is failed and expired); repeat
    /// for several.
    #[arg(long = "event", value_name = "K")]
    events: Vec<String>,
    /// From this time (UTC): 2026-11-23, 2026-11-23T10:00[:SS[.mmm]][Z], or 2h, 30m, 7d ago.
    #[arg(long, value_name = "T")]
    since: Option<String>,
    /// Before this time (same forms; a bare date includes that whole day).
    #[arg(long, value_name = "T")]
    until: Option<String>,
    /// Queue id.
    #[arg(long, value_name = "Q")]
    queue_id: Option<String>,
    /// One JSON object per line instead of the timeline.
    #[arg(long)]
    json: bool,
    /// Do not read or build the per-day index files (always scan).
    #[arg(long)]
    no_index: bool,
    #[command(flatten)]
    config: ConfigArg,
    /// The tracking directory (overrides the config's `[tracking] dir`).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Options of `postern track trace`.
#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// The Message-ID (angle brackets optional).
    message_id: String,
    /// One JSON object per line instead of the timeline.
    #[arg(long)]
    json: bool,
    /// Do not read or build the per-day index files (always scan).
    #[arg(long)]
    no_index: bool,
    #[command(flatten)]
    config: ConfigArg,
    /// The tracking directory (overrides the config's `[tracking] dir`).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Runs a `postern track` subcommand.
pub fn run(cmd: TrackCmd) -> ExitCode {
    let result = match cmd {
        TrackCmd::Search(a) => search(a),
        TrackCmd::Trace(a) => trace(a),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("postern track: {e}");
            ExitCode::from(2)
        }
    }
}

/// The kinds `--event K` means: a number may stand for several (1030: failed and
/// expired), the Exchange 2007 name FAIL likewise.
fn kinds_of(k: &str) -> Result<Vec<EventKind>, String> {
    let unknown = || postern_track::UnknownKind(k.to_owned()).to_string();
    if let Ok(n) = k.trim().parse::<u16>() {
        let v: Vec<EventKind> = EventKind::with_exchange_number(n).collect();
        return if v.is_empty() { Err(unknown()) } else { Ok(v) };
    }
    if let Ok(one) = k.parse::<EventKind>() {
        return Ok(vec![one]);
    }
    let v: Vec<EventKind> = EventKind::ALL
        .into_iter()
        .filter(|e| {
            e.exchange2007_name()
                .is_some_and(|n| n.eq_ignore_ascii_case(k.trim()))
        })
        .collect();
    if v.is_empty() { Err(unknown()) } else { Ok(v) }
}

/// A tracking directory that does not exist (or is not a directory) is an error, not
/// "nothing found": a mistyped `--dir` must not look like an empty log.
fn check_dir(dir: &std::path::Path) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(format!("{}: not a directory", dir.display())),
        Err(e) => Err(format!(
            "tracking directory {}: {e} (give the gateway's config with -c, or its [tracking] dir with --dir)",
            dir.display()
        )),
    }
}

/// `--dir`, or the config's `[tracking] dir`.
fn tracking_dir(config: &ConfigArg, dir: Option<PathBuf>) -> Result<PathBuf, String> {
    match dir {
        Some(d) => Ok(d),
        None => Ok(super::gateway::load(config, None)?.tracking.dir),
    }
}

fn reader(dir: PathBuf, no_index: bool) -> Reader {
    Reader::new(dir).index_mode(if no_index {
        IndexMode::Off
    } else {
        IndexMode::Auto
    })
}

/// Runs `f` on the cluster's tracking search when the config names a shared database
/// (and `--dir` does not override it); `None` for the local backend.
fn in_cluster<T>(
    config: &ConfigArg,
    dir: Option<&PathBuf>,
    f: impl FnOnce(&dyn EventSearch) -> Result<T, TrackError>,
) -> Result<Option<T>, String> {
    if dir.is_some() {
        return Ok(None);
    }
    let c = super::gateway::load(config, None)?;
    if c.storage.backend == postern_gateway::storage::Backend::Local {
        return Ok(None);
    }
    // The search blocks on this runtime from this (non-runtime) thread.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let search = rt
        .block_on(postern_gateway::storage::cluster_search(&c))
        .map_err(|e| e.to_string())?;
    match search {
        Some(s) => f(s.as_ref()).map(Some).map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

/// Events with the node that recorded each (`None` from the local daily files) as JSON
/// lines or timeline lines, the latter timed from `start` when given.
fn event_lines<'e>(
    events: &[(&'e Event, Option<&'e Text>)],
    json: bool,
    start: Option<Timestamp>,
) -> String {
    let mut out = String::new();
    for &(ev, node) in events {
        if json {
            json_line(&mut out, ev, node);
        } else {
            timeline_line(&mut out, ev, node, start);
        }
    }
    out
}

/// A cluster search's events with their nodes.
fn with_nodes(events: &[NodeEvent]) -> Vec<(&Event, Option<&Text>)> {
    events.iter().map(|e| (&e.event, e.node.as_ref())).collect()
}

/// Local events, which name no node.
fn without_nodes(events: &[Event]) -> Vec<(&Event, Option<&Text>)> {
    events.iter().map(|e| (e, None)).collect()
}

fn search(a: SearchArgs) -> Result<bool, String> {
    let f = filter(&a)?;
    // (output, events found, truncated, scan counters of the local files)
    let (out, found, truncated, stats) =
        match in_cluster(&a.config, a.dir.as_ref(), |s| s.search(&f))? {
            Some(res) => {
                let out = event_lines(&with_nodes(&res.events), a.json, None);
                (out, res.events.len(), res.truncated, None)
            }
            None => {
                let dir = tracking_dir(&a.config, a.dir)?;
                check_dir(&dir)?;
                let res = reader(dir, a.no_index)
                    .search(&f)
                    .map_err(|e| e.to_string())?;
                let out = event_lines(&without_nodes(&res.events), a.json, None);
                (out, res.events.len(), res.truncated, Some(res.stats))
            }
        };
    out!("{out}");
    if truncated {
        eprintln!("postern track: stopped at {found} events; narrow the search");
    }
    if let Some(s) = &stats {
        warn_skipped(s);
    }
    Ok(found > 0)
}

/// The filter the options of `postern track search` say.
fn filter(a: &SearchArgs) -> Result<Filter, String> {
    let mut f = Filter::new();
    f.message_id = a.message_id.as_deref().map(Text::from);
    f.sender = a.sender.as_deref().map(Text::from);
    f.recipient = a.recipient.as_deref().map(Text::from);
    f.queue_id = a.queue_id.as_deref().map(Text::from);
    for k in &a.events {
        f.kinds.extend(kinds_of(k)?);
    }
    f.since = a
        .since
        .as_deref()
        .map(|s| parse_time(s, false))
        .transpose()?;
    f.until = a
        .until
        .as_deref()
        .map(|s| parse_time(s, true))
        .transpose()?;
    Ok(f)
}

fn trace(a: TraceArgs) -> Result<bool, String> {
    let mid = Text::from(a.message_id.as_str());
    // (output, events found, truncated, scan counters of the local files)
    let (out, found, truncated, stats) =
        match in_cluster(&a.config, a.dir.as_ref(), |s| s.trace(&mid))? {
            Some(tr) => {
                let events = with_nodes(&tr.events);
                let out = trace_text(&tr.message_ids, &tr.queue_ids, &events, a.json);
                (out, events.len(), tr.truncated, None)
            }
            None => {
                let dir = tracking_dir(&a.config, a.dir)?;
                check_dir(&dir)?;
                let tr = reader(dir, a.no_index)
                    .trace(a.message_id.as_str())
                    .map_err(|e| e.to_string())?;
                let events = without_nodes(&tr.events);
                let out = trace_text(&tr.message_ids, &tr.queue_ids, &events, a.json);
                (out, events.len(), tr.truncated, Some(tr.stats))
            }
        };
    out!("{out}");
    if found == 0 {
        eprintln!("postern track: no events for {}", a.message_id);
    }
    if truncated {
        eprintln!("postern track: trace cut short at its limits");
    }
    if let Some(s) = &stats {
        warn_skipped(s);
    }
    Ok(found > 0)
}

/// A trace as JSON lines, or as its head and a timeline timed from its first event.
fn trace_text(
    message_ids: &[Text],
    queue_ids: &[Text],
    events: &[(&Event, Option<&Text>)],
    json: bool,
) -> String {
    if json {
        return event_lines(events, true, None);
    }
    let Some(&(first, _)) = events.first() else {
        return String::new();
    };
    let mut out = String::new();
    trace_head(&mut out, message_ids, queue_ids);
    out.push_str(&event_lines(events, false, Some(first.time)));
    out
}

/// A trace's first lines: the message-ids and queue ids it covers.
fn trace_head(out: &mut String, message_ids: &[Text], queue_ids: &[Text]) {
    let list = |v: &[Text]| v.iter().map(Text::to_string).collect::<Vec<_>>().join(", ");
    let _ = writeln!(out, "message-ids: {}", list(message_ids));
    let _ = writeln!(out, "queue ids:   {}", list(queue_ids));
}

fn warn_skipped(s: &ScanStats) {
    if s.malformed_lines + s.torn_lines > 0 {
        eprintln!(
            "postern track: skipped {} malformed and {} torn line(s)",
            s.malformed_lines, s.torn_lines
        );
    }
}

/// Absolute UTC times, or a relative `N[smhd]` meaning that long ago. For `until`, a bare
/// date means the end of that day.
fn parse_time(s: &str, until: bool) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Some(t) = Timestamp::parse(s.as_bytes()) {
        let bare_date = s.len() == 10;
        return Ok(if until && bare_date {
            t.saturating_add_ms(86_400_000)
        } else {
            t
        });
    }
    let unit = match s.as_bytes().last() {
        Some(b's') => 1_000,
        Some(b'm') => 60_000,
        Some(b'h') => 3_600_000,
        Some(b'd') => 86_400_000,
        _ => 0,
    };
    let n: Option<i64> = s
        .get(..s.len().saturating_sub(1))
        .and_then(|n| n.trim_start_matches('-').parse().ok());
    match (unit, n) {
        (u, Some(n)) if u > 0 => Ok(SystemClock.now().saturating_add_ms(-n.saturating_mul(u))),
        _ => Err(format!(
            "bad time {s:?}: use 2026-11-23, 2026-11-23T10:00:00Z, or 2h / 30m / 7d (ago)"
        )),
    }
}

/// `2026-11-24 00:00:05.000  sent (1011)  Q1  <m1@x>  alice@x -> bob@y  …`
/// One event of the timeline; `node`: the cluster node that recorded it, if known.
fn timeline_line(out: &mut String, ev: &Event, node: Option<&Text>, start: Option<Timestamp>) {
    let t = ev.time.to_string();
    let _ = write!(out, "{} {}", &t[..10], &t[11..23]);
    if let Some(s) = start {
        let d = ev.time.unix_ms() - s.unix_ms();
        let _ = write!(out, " {:>+10}", format!("+{}.{:03}s", d / 1000, d % 1000));
    }
    let kind = match ev.kind.exchange_number() {
        Some(n) => format!("{} ({n})", ev.kind),
        None => ev.kind.to_string(),
    };
    let _ = write!(out, "  {kind:<26} {:<12}", opt(&ev.queue_id));
    if let Some(m) = &ev.message_id {
        let _ = write!(out, " {m}");
    }
    if ev.sender.is_some() || !ev.recipients.is_empty() {
        let from = ev.sender.as_ref().map_or("-".to_string(), |s| {
            if s.is_empty() {
                "<>".into()
            } else {
                s.to_string()
            }
        });
        let to: Vec<String> = ev.recipients.iter().map(Text::to_string).collect();
        let _ = write!(
            out,
            "  {from} -> {}",
            if to.is_empty() {
                "-".into()
            } else {
                to.join(", ")
            }
        );
    }
    let host = match (&ev.remote_host, ev.remote_ip) {
        (Some(h), Some(ip)) => Some(format!("{h} [{ip}]")),
        (Some(h), None) => Some(h.to_string()),
        (None, Some(ip)) => Some(format!("[{ip}]")),
        (None, None) => None,
    };
    let details = [
        ("node", node.map(Text::to_string)),
        ("via", ev.connector.as_ref().map(Text::to_string)),
        ("host", host),
        ("size", ev.size.map(|s| s.to_string())),
        ("priority", ev.priority.as_ref().map(Text::to_string)),
        ("tls", ev.tls.as_ref().map(Text::to_string)),
        ("attempt", ev.attempt.map(|a| a.to_string())),
        ("status", ev.dsn_status.as_ref().map(Text::to_string)),
        ("reply", ev.reply.as_ref().map(|r| format!("\"{r}\""))),
        ("next-retry", ev.next_retry.map(|t| t.to_string())),
        ("reason", ev.reason.as_ref().map(|r| format!("\"{r}\""))),
        ("about", ev.related_queue_id.as_ref().map(Text::to_string)),
        ("subject", ev.subject.as_ref().map(|s| format!("\"{s}\""))),
    ];
    for (k, v) in details {
        if let Some(v) = v {
            let _ = write!(out, "  {k}={v}");
        }
    }
    out.push('\n');
}

fn opt(t: &Option<Text>) -> String {
    t.as_ref().map_or("-".into(), Text::to_string)
}

/// One event as a JSON object on one line. Values that are not UTF-8 are given with
/// U+FFFD replacements.
fn json_line(out: &mut String, ev: &Event, node: Option<&Text>) {
    out.push('{');
    let mut first = true;
    let mut key = |out: &mut String, k: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        json_str(out, k);
        out.push(':');
    };
    key(out, "time");
    json_str(out, &ev.time.to_string());
    if let Some(n) = node {
        key(out, "node");
        json_str(out, &n.to_str_lossy());
    }
    key(out, "event");
    json_str(out, ev.kind.name());
    if let Some(n) = ev.kind.exchange_number() {
        key(out, "event_id");
        let _ = write!(out, "{n}");
    }
    let texts = [
        ("queue_id", &ev.queue_id),
        ("message_id", &ev.message_id),
        ("sender", &ev.sender),
        ("priority", &ev.priority),
        ("subject", &ev.subject),
        ("connector", &ev.connector),
        ("remote_host", &ev.remote_host),
        ("tls", &ev.tls),
        ("dsn_status", &ev.dsn_status),
        ("reply", &ev.reply),
        ("reason", &ev.reason),
        ("related_queue_id", &ev.related_queue_id),
    ];
    for (k, v) in texts {
        if let Some(v) = v {
            key(out, k);
            json_str(out, &v.to_str_lossy());
        }
    }
    if !ev.recipients.is_empty() {
        key(out, "recipients");
        out.push('[');
        for (i, r) in ev.recipients.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_str(out, &r.to_str_lossy());
        }
        out.push(']');
    }
    for (k, v) in [("size", ev.size), ("attempt", ev.attempt.map(u64::from))] {
        if let Some(v) = v {
            key(out, k);
            let _ = write!(out, "{v}");
        }
    }
    if let Some(ip) = ev.remote_ip {
        key(out, "remote_ip");
        json_str(out, &ip.to_string());
    }
    if let Some(t) = ev.next_retry {
        key(out, "next_retry");
        json_str(out, &t.to_string());
    }
    out.push_str("}\n");
}

use super::json::write_str as json_str;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(
            parse_time("2026-11-23", true).unwrap().to_string(),
            "2026-11-24T00:00:00.000Z"
        );
        assert_eq!(
            parse_time("2026-11-23", false).unwrap().to_string(),
            "2026-11-23T00:00:00.000Z"
        );
        assert_eq!(
            parse_time("2026-11-23T10:00Z", true).unwrap().to_string(),
            "2026-11-23T10:00:00.000Z"
        );
        assert!(parse_time("2h", false).is_ok());
        assert!(parse_time("yesterday", false).is_err());
    }

    #[test]
    fn json_escapes() {
        let ev = Event::new(Timestamp::parse(b"2026-11-23").unwrap(), EventKind::Sent)
            .reply(&b"a\"b\n\x01\xff"[..])
            .recipient("x@y")
            .size(5);
        let mut s = String::new();
        json_line(&mut s, &ev, None);
        assert_eq!(
            s,
            "{\"time\":\"2026-11-23T00:00:00.000Z\",\"event\":\"sent\",\"event_id\":1011,\"reply\":\"a\\\"b\\n\\u0001\u{fffd}\",\"recipients\":[\"x@y\"],\"size\":5}\n"
        );
    }

    #[test]
    fn a_cluster_event_names_its_node() {
        let ev = Event::new(
            Timestamp::parse(b"2026-11-23T10:00:00Z").unwrap(),
            EventKind::Delivered,
        )
        .queue_id("Q1");
        let node = Text::from("gw-b");
        let mut s = String::new();
        json_line(&mut s, &ev, Some(&node));
        assert!(
            s.starts_with("{\"time\":\"2026-11-23T10:00:00.000Z\",\"node\":\"gw-b\","),
            "{s}"
        );
        let mut s = String::new();
        timeline_line(&mut s, &ev, Some(&node), None);
        assert!(s.contains("  node=gw-b"), "{s}");
        let mut s = String::new();
        timeline_line(&mut s, &ev, None, None);
        assert!(!s.contains("node="), "{s}");
    }

    #[test]
    fn timeline_is_one_line_per_event() {
        let ev = Event::new(
            Timestamp::parse(b"2026-11-23T10:00:00Z").unwrap(),
            EventKind::Deferred,
        )
        .queue_id("Q1")
        .sender("")
        .recipient("b@y")
        .reply("451 try\nlater");
        let mut s = String::new();
        timeline_line(&mut s, &ev, None, None);
        assert_eq!(s.lines().count(), 1);
        assert!(s.starts_with("2026-11-23 10:00:00.000  deferred"), "{s}");
        assert!(
            s.contains("<> -> b@y") && s.contains("reply=\"451 try\\nlater\""),
            "{s}"
        );
    }
}
