//! `postern queue …`: inspect and manage the mail queue, like `mailq`/`postqueue`/`postsuper`.
//!
//! The gateway is named by `-c FILE` (the config `postern serve` used; default the
//! embedded one, data in ./postern-data): its spool is `DATA_DIR/spool` and its admin
//! API is found from the config. `--spool DIR` names a spool directly instead, to work
//! on a stopped gateway's files.
//!
//! * `list`, `show`, `summary` only read the spool (`Spool::inspect`): no lock is taken and
//!   nothing is changed, so they are safe beside a running gateway.
//! * `hold`, `release`, `retry`, `delete`, `etrn` ask the running gateway's admin API
//!   (`POST /api/v1/queue/actions/…`), which applies them and answers. When no API
//!   answers and no gateway holds the spool lock, the command opens the queue itself and
//!   applies the change durably (and says so). When a gateway holds the lock but its API
//!   does not answer within `--wait` seconds, nothing changes (exit status 75,
//!   EX_TEMPFAIL).
//!
//! `--json` prints the admin API's objects (`api::model`): a `QueuePage` for `list`, a
//! `QueuedMessage` for `show` (each unfinished recipient with `waits_for`), an
//! `ActionResult` for a change. `summary --json` is its own (it has the age buckets).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::gateway::{self, ConfigArg};
use postern_gateway::api::client::{Client, ClientError};
use postern_gateway::api::model::{ActionRequest, ActionResult, QueuePage, QueuedMessage};
use postern_queue::control::Command;
use postern_queue::queue::read_holds;
use postern_queue::summary::{AGE_BUCKETS_MINUTES, Summary, summarize};
use postern_queue::wait::{self, NextAttempt, Published};
use postern_queue::{
    Queue, QueueConfig, QueueId, RecipientState, Spool, SpoolError, SpoolOptions, SpooledMessage,
    Target, Timestamp,
};

/// Options shared by every `postern queue` subcommand.
#[derive(Debug, clap::Args)]
pub struct Opts {
    #[command(flatten)]
    config: ConfigArg,
    /// The spool directory, read or changed directly (a stopped gateway's); default
    /// the config's `DATA_DIR/spool`.
    #[arg(long = "spool", value_name = "DIR")]
    spool_arg: Option<PathBuf>,
    /// The spool directory in use (`--spool`, or from the config).
    #[arg(skip)]
    spool: PathBuf,
    /// Print JSON instead of text (`list`, `show` and the changes: the admin API's
    /// objects; `summary`: its own, with the age buckets).
    #[arg(long)]
    json: bool,
    /// Seconds to wait for a running gateway's admin API to answer a change.
    #[arg(long, default_value_t = 10)]
    wait: u64,
}

/// What a change applies to: a queue id, `--destination NAME`, or `--all`.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct TargetArgs {
    /// A queue id (18 hex digits, as `list` shows).
    id: Option<String>,
    /// Every message for this destination (domain or relay host).
    #[arg(long)]
    destination: Option<String>,
    /// Everything (hold all = the IMS transfer mode "none").
    #[arg(long)]
    all: bool,
}

/// `postern queue` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum QueueCmd {
    /// List queued messages with their recipients' states (like mailq).
    List {
        #[command(flatten)]
        opts: Opts,
    },
    /// Show one message: envelope and per-recipient state.
    Show {
        /// The queue id.
        id: String,
        #[command(flatten)]
        opts: Opts,
    },
    /// Hold a message, a destination, or everything.
    Hold {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        opts: Opts,
    },
    /// Release a hold (`--all` releases every hold).
    Release {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        opts: Opts,
    },
    /// Retry now: a message, a destination, or everything. Like ETRN: a running gateway
    /// also clears the destinations' backoff, marks their connectors up again and
    /// releases mail held for ETRN, and answers what it did.
    Retry {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        opts: Opts,
    },
    /// Ask a connector's smart hosts for our held mail now: ETRN for each of its
    /// `etrn_domains` (a running gateway sends it and answers with the replies).
    Etrn {
        /// The connector's name.
        connector: String,
        #[command(flatten)]
        opts: Opts,
    },
    /// Delete one message without notice.
    Delete {
        /// The queue id.
        id: String,
        #[command(flatten)]
        opts: Opts,
    },
    /// Counts per state and per destination, by age (like qshape).
    Summary {
        #[command(flatten)]
        opts: Opts,
    },
}

/// Runs a `postern queue` subcommand.
pub fn run(mut cmd: QueueCmd) -> ExitCode {
    if let Err(e) = resolve(&mut cmd) {
        eprintln!("postern queue: {e}");
        return ExitCode::from(2);
    }
    let result = match cmd {
        QueueCmd::List { opts } => list(&opts),
        QueueCmd::Show { id, opts } => parse_id(&id).and_then(|id| show(id, &opts)),
        QueueCmd::Summary { opts } => summary(&opts),
        QueueCmd::Hold { target, opts } => {
            to_target(target).and_then(|t| change(Command::Hold(t), &opts))
        }
        QueueCmd::Release { target, opts } => {
            to_target(target).and_then(|t| change(Command::Release(t), &opts))
        }
        QueueCmd::Retry { target, opts } => {
            to_target(target).and_then(|t| change(Command::Retry(t), &opts))
        }
        QueueCmd::Etrn { connector, opts } => change(Command::Etrn(connector), &opts),
        QueueCmd::Delete { id, opts } => {
            parse_id(&id).and_then(|id| change(Command::Delete(Target::Message(id)), &opts))
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("postern queue: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Fills in the spool directory: `--spool`, or the config's.
fn resolve(cmd: &mut QueueCmd) -> Result<(), String> {
    let opts = match cmd {
        QueueCmd::List { opts }
        | QueueCmd::Show { opts, .. }
        | QueueCmd::Hold { opts, .. }
        | QueueCmd::Release { opts, .. }
        | QueueCmd::Retry { opts, .. }
        | QueueCmd::Etrn { opts, .. }
        | QueueCmd::Delete { opts, .. }
        | QueueCmd::Summary { opts } => opts,
    };
    opts.spool = match &opts.spool_arg {
        Some(p) => p.clone(),
        None => gateway::load(&opts.config, None)?.spool_dir(),
    };
    Ok(())
}

/// The config naming the gateway whose API to ask: `-c`'s, or for `--spool DIR`
/// alone the default one with its data in the spool's parent directory.
fn api_config(opts: &Opts) -> Result<postern_gateway::Config, String> {
    let data = match (&opts.config.config, &opts.spool_arg) {
        (None, Some(spool)) => spool.parent().map(PathBuf::from),
        _ => None,
    };
    gateway::load(&opts.config, data.as_deref())
}

/// The API request doing `cmd`.
fn api_call(c: &Client, cmd: &Command) -> Result<ActionResult, ClientError> {
    let (action, target) = match cmd {
        Command::Hold(t) => ("hold", t),
        Command::Release(t) => ("release", t),
        Command::Retry(t) => ("retry", t),
        Command::Delete(t) => ("delete", t),
        Command::Etrn(connector) => {
            let path = format!("/api/v1/connectors/{}/etrn", url_segment(connector));
            return c.send("POST", &path, &serde_json::json!({}));
        }
        other => {
            return Err(ClientError::Garbled(format!(
                "{other:?}: no admin API request does this"
            )));
        }
    };
    let mut req = ActionRequest::default();
    match target {
        Target::Message(id) => req.id = Some(id.to_string()),
        Target::Destination(d) => req.destination = Some(d.clone()),
        Target::All => req.all = true,
    }
    c.send("POST", &format!("/api/v1/queue/actions/{action}"), &req)
}

/// `s` percent-encoded for a URL path segment.
fn url_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Prints the gateway's answer to a change; the exit status.
fn api_answer(answer: Result<ActionResult, ClientError>, json: bool) -> Result<ExitCode, String> {
    match answer {
        Ok(r) if json => {
            gateway::print_json(&r);
            Ok(ExitCode::SUCCESS)
        }
        Ok(r) => {
            outln!("gateway: {}", r.message);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(format!("gateway: {e}")),
    }
}

fn parse_id(s: &str) -> Result<QueueId, String> {
    s.parse().map_err(|e| format!("{e}"))
}

fn to_target(t: TargetArgs) -> Result<Target, String> {
    match (t.id, t.destination, t.all) {
        (Some(id), None, false) => Ok(Target::Message(parse_id(&id)?)),
        (None, Some(d), false) => Ok(Target::Destination(d.to_ascii_lowercase())),
        (None, None, true) => Ok(Target::All),
        _ => Err("give one of: a queue id, --destination NAME, --all".into()),
    }
}

fn inspect(opts: &Opts) -> Result<Vec<SpooledMessage>, String> {
    inspect_all(opts).map(|rec| rec.messages)
}

/// The whole read-only view (messages, and the spool's live and dead bytes).
fn inspect_all(opts: &Opts) -> Result<postern_queue::Recovered, String> {
    let rec = Spool::inspect(&opts.spool, &SpoolOptions::default())
        .map_err(|e| format!("{}: {e}", opts.spool.display()))?;
    for q in &rec.quarantined {
        eprintln!(
            "postern queue: warning: unreadable bytes in {} at {} ({} bytes): {}",
            q.segment.display(),
            q.offset,
            q.len,
            q.reason
        );
    }
    Ok(rec)
}

/// Asks the running gateway's API to make the change; applies it to the spool files
/// directly when no API answers and no gateway holds the spool.
fn change(cmd: Command, opts: &Opts) -> Result<ExitCode, String> {
    let config = api_config(opts)?;
    let why = match gateway::ask(&config, Duration::ZERO, |c| api_call(c, &cmd)) {
        Ok(answer) => return api_answer(answer, opts.json),
        Err(why) => why,
    };
    let now = Timestamp::now();
    match Queue::open(&opts.spool, QueueConfig::default(), now) {
        Ok(_) if matches!(cmd, Command::Etrn(_)) => Err(format!(
            "no gateway is running on this spool ({why}): only a running gateway sends ETRN"
        )),
        Ok((q, rec)) => {
            for q in &rec.quarantined {
                eprintln!(
                    "postern queue: quarantined {} ({})",
                    q.copy
                        .as_ref()
                        .map_or_else(String::new, |p| p.display().to_string()),
                    q.reason
                );
            }
            eprintln!(
                "postern queue: no gateway answered ({why}); changing the spool files in {} directly",
                opts.spool.display()
            );
            let answer = q.apply(&cmd, now).map_err(|e| e.to_string())?;
            if opts.json {
                gateway::print_json(&ActionResult { message: answer });
            } else {
                outln!("{answer}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(SpoolError::Locked(_)) => {
            match gateway::ask(&config, Duration::from_secs(opts.wait), |c| {
                api_call(c, &cmd)
            }) {
                Ok(answer) => api_answer(answer, opts.json),
                Err(why) => {
                    eprintln!(
                        "postern queue: a gateway holds the spool {} but its admin API did not answer within {} s ({why}); nothing changed",
                        opts.spool.display(),
                        opts.wait
                    );
                    Ok(ExitCode::from(75))
                }
            }
        }
        Err(e) => Err(format!("{}: {e}", opts.spool.display())),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a timestamp (proleptic Gregorian, UTC).
fn iso(t: Timestamp) -> String {
    let secs = t.0 / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    super::json::write_str(&mut out, s);
    out
}

/// What a running gateway published (backoff, notes), the holds, and the time to judge
/// them by.
struct Waits {
    published: Published,
    holds: Vec<Target>,
    now: Timestamp,
}

impl Waits {
    fn read(opts: &Opts) -> Waits {
        Waits {
            published: wait::read_published(&opts.spool),
            holds: read_holds(&opts.spool),
            now: Timestamp::now(),
        }
    }

    /// Why a recipient of `m` for `destination` in `state` waits, and until when.
    fn next(
        &self,
        m: &SpooledMessage,
        destination: &str,
        state: &RecipientState,
    ) -> Option<NextAttempt> {
        let held = m.state.held
            || self.holds.iter().any(|t| match t {
                Target::All => true,
                Target::Destination(d) => d.eq_ignore_ascii_case(destination),
                Target::Message(id) => *id == m.id,
            });
        wait::explain(state, destination, held, &self.published, self.now)
    }
}

/// "next 2026-01-01T10:00:00Z (retry schedule)", "due now", or a hold's reason.
fn next_text(n: &NextAttempt, now: Timestamp) -> String {
    if n.waits_for.is_hold() {
        format!("waits: {}", n.waits_for)
    } else if n.at <= now {
        "due now".into()
    } else {
        format!("next {} ({})", iso(n.at), n.waits_for)
    }
}

fn state_text(s: &RecipientState, next: Option<&NextAttempt>, now: Timestamp) -> String {
    match s {
        RecipientState::Pending => match next.filter(|n| n.at > now || n.waits_for.is_hold()) {
            Some(n) => format!("pending, {}", next_text(n, now)),
            None => "pending".into(),
        },
        RecipientState::Deferred {
            attempts,
            last_reply,
            ..
        } => {
            let next = next.map_or_else(String::new, |n| next_text(n, now));
            format!("deferred ({attempts} attempts, {next}) {last_reply}")
        }
        RecipientState::Delivered { at, reply } => format!("delivered {} {reply}", iso(*at)),
        RecipientState::Failed { at, reason, reply } => {
            format!("failed {} ({}) {reply}", iso(*at), reason.name())
        }
    }
}

/// One message in the admin API's schema ([`QueuedMessage`]), with why each unfinished
/// recipient waits and until when.
fn message_model(m: &SpooledMessage, waits: &Waits) -> QueuedMessage {
    let all = waits.holds.iter().any(|t| matches!(t, Target::All));
    let dests = waits
        .holds
        .iter()
        .filter_map(|t| match t {
            Target::Destination(d) => Some(d.clone()),
            _ => None,
        })
        .collect();
    let mut q = postern_gateway::api::views::message(m, &(all, dests));
    if !q.held
        && waits
            .holds
            .iter()
            .any(|t| matches!(t, Target::Message(id) if *id == m.id))
    {
        q.held = true;
        q.state = "held".into();
    }
    let states = m.envelope.recipients.iter().zip(&m.state.recipients);
    for (r, (e, s)) in q.recipients.iter_mut().zip(states) {
        if let Some(n) = waits.next(m, &e.destination, s) {
            r.waits_for = Some(n.waits_for.name().to_owned());
            r.next_attempt_ms = Some(n.at.0);
        }
    }
    q
}

fn message_text(m: &SpooledMessage, waits: &Waits, out: &mut String) {
    let sender = if m.envelope.sender.is_empty() {
        "<>"
    } else {
        &m.envelope.sender
    };
    let held = if m.state.held { " HELD" } else { "" };
    let _ = writeln!(
        out,
        "{}{held} {:>9} {} {sender}",
        m.id,
        m.size,
        iso(m.envelope.arrival)
    );
    for (r, s) in m.envelope.recipients.iter().zip(&m.state.recipients) {
        let next = waits.next(m, &r.destination, s);
        let _ = writeln!(
            out,
            "    {:<40} {}",
            r.address,
            state_text(s, next.as_ref(), waits.now)
        );
    }
}

fn holds_note(opts: &Opts) -> String {
    let holds: Vec<String> = read_holds(&opts.spool)
        .iter()
        .map(ToString::to_string)
        .collect();
    if holds.is_empty() {
        String::new()
    } else {
        format!("-- held: {}\n", holds.join(", "))
    }
}

/// The running gateway's destination backoff timers and notes (connectors down, ETRN,
/// transfer mode), as it published them in the spool.
fn published_note(opts: &Opts) -> String {
    let p = wait::read_published(&opts.spool);
    let now = Timestamp::now();
    let mut out = String::new();
    for (d, e) in p.backoff.iter().filter(|(_, e)| e.until > now) {
        let _ = writeln!(
            out,
            "-- backoff: {d} after {} failure(s), next attempt in {} s ({})",
            e.failures,
            e.until.since(now).as_millis().div_ceil(1000),
            iso(e.until)
        );
    }
    for n in &p.notes {
        let _ = writeln!(
            out,
            "-- waits: {}: {}",
            n.destination.as_deref().unwrap_or("all destinations"),
            n.text
        );
    }
    out
}

fn list(opts: &Opts) -> Result<ExitCode, String> {
    let msgs = inspect(opts)?;
    let waits = Waits::read(opts);
    if opts.json {
        let messages: Vec<QueuedMessage> = msgs.iter().map(|m| message_model(m, &waits)).collect();
        gateway::print_json(&QueuePage {
            total: messages.len(),
            offset: 0,
            messages,
        });
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    if msgs.is_empty() {
        out.push_str("Mail queue is empty\n");
    } else {
        out.push_str("-Queue ID-------- ----Size Arrival------------- Sender / Recipients\n");
        for m in &msgs {
            message_text(m, &waits, &mut out);
        }
        let rcpts: usize = msgs.iter().map(|m| m.envelope.recipients.len()).sum();
        let bytes: u64 = msgs.iter().map(|m| m.size).sum();
        let _ = writeln!(
            out,
            "-- {} messages, {rcpts} recipients, {bytes} bytes",
            msgs.len()
        );
    }
    out.push_str(&holds_note(opts));
    out.push_str(&published_note(opts));
    out!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn show(id: QueueId, opts: &Opts) -> Result<ExitCode, String> {
    let msgs = inspect(opts)?;
    let m = msgs
        .iter()
        .find(|m| m.id == id)
        .ok_or_else(|| format!("no message {id} in the queue"))?;
    let waits = Waits::read(opts);
    if opts.json {
        gateway::print_json(&message_model(m, &waits));
    } else {
        let mut out = String::new();
        let _ = writeln!(out, "id:        {}", m.id);
        let _ = writeln!(out, "arrival:   {}", iso(m.envelope.arrival));
        let _ = writeln!(out, "size:      {}", m.size);
        let _ = writeln!(out, "sender:    <{}>", m.envelope.sender);
        let _ = writeln!(out, "priority:  {}", m.envelope.priority.name());
        let _ = writeln!(
            out,
            "held:      {}",
            if m.state.held { "yes" } else { "no" }
        );
        let _ = writeln!(
            out,
            "notices:   {} delay notice(s) sent",
            m.state.delay_notices_sent
        );
        for (r, s) in m.envelope.recipients.iter().zip(&m.state.recipients) {
            let next = waits.next(m, &r.destination, s);
            let _ = writeln!(
                out,
                "recipient: {} via {}: {}",
                r.address,
                r.destination,
                state_text(s, next.as_ref(), waits.now)
            );
        }
        out!("{out}");
    }
    Ok(ExitCode::SUCCESS)
}

fn summary_json(s: &Summary) -> String {
    let buckets = |b: &[u64]| b.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    let dests: Vec<String> = s
        .destinations
        .iter()
        .map(|d| {
            format!(
                r#"{{"destination":{},"messages":{},"recipients":{},"deferred":{},"oldest_seconds":{},"age_buckets":[{}]}}"#,
                json_str(&d.destination),
                d.messages,
                d.recipients,
                d.deferred,
                d.oldest.as_secs(),
                buckets(&d.buckets)
            )
        })
        .collect();
    let bounds: Vec<String> = AGE_BUCKETS_MINUTES.iter().map(u64::to_string).collect();
    format!(
        r#"{{"messages":{},"held_messages":{},"recipients":{{"pending":{},"deferred":{},"delivered":{},"failed":{}}},"oldest_seconds":{},"age_bucket_upper_minutes":[{}],"age_buckets":[{}],"destinations":[{}]}}"#,
        s.messages,
        s.held_messages,
        s.states.pending,
        s.states.deferred,
        s.states.delivered,
        s.states.failed,
        s.oldest.as_secs(),
        bounds.join(","),
        buckets(&s.buckets),
        dests.join(",")
    )
}

/// The spool's bytes as a JSON object: segment files, live, dead.
fn spool_bytes_json(rec: &postern_queue::Recovered) -> String {
    format!(
        r#"{{"segments":{},"bytes":{},"live_bytes":{},"dead_bytes":{}}}"#,
        rec.segments,
        rec.bytes,
        rec.live_bytes,
        rec.bytes.saturating_sub(rec.live_bytes)
    )
}

fn summary(opts: &Opts) -> Result<ExitCode, String> {
    let rec = inspect_all(opts)?;
    let msgs = &rec.messages;
    let s = summarize(
        msgs.iter().map(|m| (&m.envelope, &m.state)),
        Timestamp::now(),
    );
    if opts.json {
        let j = summary_json(&s);
        let j = j.strip_suffix('}').unwrap_or(&j);
        outln!("{j},\"spool\":{}}}", spool_bytes_json(&rec));
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "spool: {} bytes in {} segment(s), {} live, {} dead",
        rec.bytes,
        rec.segments,
        rec.live_bytes,
        rec.bytes.saturating_sub(rec.live_bytes)
    );
    let st = &s.states;
    let _ = writeln!(
        out,
        "{} messages ({} held), recipients: {} pending, {} deferred, {} delivered, {} failed; oldest {} min",
        s.messages,
        s.held_messages,
        st.pending,
        st.deferred,
        st.delivered,
        st.failed,
        s.oldest.as_secs() / 60
    );
    let _ = write!(out, "{:>30} {:>6}", "", "T");
    for b in AGE_BUCKETS_MINUTES {
        let _ = write!(out, " {b:>5}");
    }
    let _ = writeln!(
        out,
        " {:>5}",
        format!("{}+", AGE_BUCKETS_MINUTES[AGE_BUCKETS_MINUTES.len() - 1])
    );
    let row = |out: &mut String, name: &str, total: u64, b: &[u64]| {
        let _ = write!(out, "{name:>30} {total:>6}");
        for n in b {
            let _ = write!(out, " {n:>5}");
        }
        out.push('\n');
    };
    row(&mut out, "TOTAL", s.buckets.iter().sum(), &s.buckets);
    for d in &s.destinations {
        row(&mut out, &d.destination, d.recipients, &d.buckets);
    }
    out.push_str(&holds_note(opts));
    out.push_str(&published_note(opts));
    out!("{out}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso(Timestamp(0)), "1970-01-01T00:00:00Z");
        assert_eq!(iso(Timestamp(951_782_400_000)), "2000-02-29T00:00:00Z");
        assert_eq!(iso(Timestamp(1_700_000_000_000)), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn json_escaping() {
        assert_eq!(json_str("a\"b\\c\n\u{1}é"), r#""a\"b\\c\n\u0001é""#);
    }
}
