//! The gateway's log on stderr, through `tracing`: `[log]` in the configuration and the
//! subscriber `postern serve` installs.
//!
//! The gateway's code only emits spans and events (a span `session` per inbound SMTP
//! session with `peer` and `session`, a span `delivery` per delivery attempt with
//! `queue_id` and `destination`, events for accept, deliver, defer, fail, notices,
//! reload, start and stop; refused recipients at debug). The start-up line, reloads,
//! shutting down and stopped (target [`LIFECYCLE`]) pass any filter that does not name
//! that target. An embedder that installs no subscriber gets no output;
//! [`init`] installs one that writes either format:
//!
//! - `human` (the default): one line per event, `postern: MESSAGE key=value …`, then the
//!   spans it happened in as `[session peer=… session=…]`, and ` level=warn` or
//!   ` level=error` when it is one. No time stamp: stderr is usually captured by
//!   something that adds its own (journald, a supervisor), and the first line stays the
//!   start-up line `postern: listening on …` that tools read the address from.
//! - `json`: one JSON object per line with `timestamp`, `level`, `target`, `fields`
//!   (the message and the event's fields), `span` (the innermost span) and `spans` (all
//!   of them, outermost first, each with its `name` and fields).

use std::fmt::{self, Write as _};
use std::time::Duration;

use serde::Deserialize;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

pub use crate::log_writer::LogBatch;
use crate::log_writer::{self, BatchedStderr, DEFAULT_BATCH_BYTES, DEFAULT_BATCH_DELAY};

/// The environment variable whose filter, when set, replaces `[log] level`.
pub const FILTER_ENV: &str = "RUST_LOG";

/// The target of the start-up line, reloads, shutting down and stopped: logged at info
/// whatever the filter, unless the filter names this target itself (tools read the
/// start-up line; an operator at `level = "warn"` still sees the gateway start and stop).
pub const LIFECYCLE: &str = "postern::lifecycle";

/// `[log] level` by default: events at info and above.
pub const DEFAULT_LEVEL: &str = "info";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `postern: MESSAGE key=value … [span …]` (the default).
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The format called `name` (`human` or `json`).
    pub fn from_name(name: &str) -> Option<LogFormat> {
        match name.trim().to_ascii_lowercase().as_str() {
            "human" => Some(LogFormat::Human),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }

    /// Its name in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Human => "human",
            LogFormat::Json => "json",
        }
    }
}

/// `[log]`: the gateway's log on stderr. Takes effect at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSection {
    /// `format`: `human` or `json`. Default `human`; `postern serve --log-format`
    /// overrides it.
    pub format: LogFormat,
    /// `level`: a filter in the `RUST_LOG` syntax (`info`, `debug`,
    /// `warn,postern_gateway=debug`, …). Default `info`; the environment variable
    /// `RUST_LOG`, when set, overrides it.
    pub level: String,
    /// `batch_delay` and `batch_bytes`: how lines are gathered before they are written
    /// ([`crate::log_writer`]). Defaults 10 ms and 64 KiB; `batch_delay = "off"` writes
    /// each line as it is logged.
    pub batch: LogBatch,
}

impl Default for LogSection {
    fn default() -> LogSection {
        LogSection {
            format: LogFormat::Human,
            level: DEFAULT_LEVEL.to_owned(),
            batch: LogBatch::default(),
        }
    }
}

/// `[log]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogToml {
    format: Option<String>,
    level: Option<String>,
    batch_delay: Option<String>,
    batch_bytes: Option<usize>,
}

/// `[log]` validated; on error, the key and why.
pub(crate) fn log_section(t: &LogToml) -> Result<LogSection, (&'static str, String)> {
    let format = match &t.format {
        None => LogFormat::Human,
        Some(f) => LogFormat::from_name(f).ok_or_else(|| {
            (
                "format",
                format!("{f:?} is not a log format (human or json)"),
            )
        })?,
    };
    let level = t.level.clone().unwrap_or_else(|| DEFAULT_LEVEL.to_owned());
    EnvFilter::try_new(&level).map_err(|e| ("level", format!("{level:?}: {e}")))?;
    let delay = match t.batch_delay.as_deref().map(str::trim) {
        None => DEFAULT_BATCH_DELAY,
        Some("off") => Duration::ZERO,
        Some(d) => postern_queue::policy::parse_duration(d)
            .map_err(|e| ("batch_delay", format!("{e} (or \"off\")")))?,
    };
    let max_bytes = t.batch_bytes.unwrap_or(DEFAULT_BATCH_BYTES);
    Ok(LogSection {
        format,
        level,
        batch: LogBatch { delay, max_bytes },
    })
}

/// Installs the process's log subscriber: events passing `level` (or the filter in
/// `RUST_LOG` when that is set), written to stderr in `format`, gathered as
/// [`LogBatch::default`] says. Fails when a subscriber is already installed or the
/// filter does not parse.
pub fn init(format: LogFormat, level: &str) -> Result<(), String> {
    init_batched(format, level, LogBatch::default())
}

/// [`init`] with the lines gathered as `batch` says ([`crate::log_writer`]). A panic
/// writes out what is gathered before its own message.
pub fn init_batched(format: LogFormat, level: &str, batch: LogBatch) -> Result<(), String> {
    let (text, filter) = match std::env::var(FILTER_ENV) {
        Ok(env) if !env.trim().is_empty() => {
            let f = EnvFilter::try_new(&env).map_err(|e| format!("{FILTER_ENV}={env:?}: {e}"))?;
            (env, f)
        }
        _ => {
            let f = EnvFilter::try_new(level).map_err(|e| format!("log level {level:?}: {e}"))?;
            (level.to_owned(), f)
        }
    };
    let filter = if text.contains(LIFECYCLE) {
        filter
    } else {
        let lifecycle = format!("{LIFECYCLE}=info")
            .parse()
            .map_err(|e| format!("{e}"))?;
        filter.add_directive(lifecycle)
    };
    let writer = BatchedStderr::new(batch, LIFECYCLE)
        .map_err(|e| format!("cannot start the log's writer: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer.clone())
        .with_ansi(false);
    let installed = match format {
        LogFormat::Human => builder
            .fmt_fields(HumanFields)
            .event_format(Human)
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
    installed.map_err(|e| e.to_string())?;
    writer.install();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        log_writer::flush_unless_busy();
        previous(info);
    }));
    Ok(())
}

/// `text` without the `postern: ` the human format puts back (lines the gateway also
/// writes elsewhere, such as the answer to `postern reload`, carry it).
pub fn message(text: &str) -> &str {
    text.strip_prefix("postern: ").unwrap_or(text)
}

/// The human format (see the module documentation).
struct Human;

impl<S, N> FormatEvent<S, N> for Human
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: format::Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // One allocation a line: room for a typical event with its session fields.
        let mut line = String::with_capacity(256);
        line.push_str("postern: ");
        ctx.field_format()
            .format_fields(format::Writer::new(&mut line), event)?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                write!(line, " [{}", span.name())?;
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(line, " {fields}")?;
                }
                line.push(']');
            }
        }
        match *event.metadata().level() {
            Level::ERROR => line.push_str(" level=error"),
            Level::WARN => line.push_str(" level=warn"),
            _ => {}
        }
        writeln!(writer, "{}", one_line(&line))
    }
}

/// The human format's fields, for events and spans: the message as it is, then
/// `key=value` for each other field (a string field quoted, as `Debug` writes it),
/// separated by spaces.
///
/// What `tracing_subscriber`'s default field format writes, less its work: no styling
/// wrappers around each name, and no pass over the message escaping terminal
/// sequences character by character, since [`one_line`] escapes every control
/// character of the finished line anyway. It was about a fifth of a relayed message's
/// logging instructions (BENCHMARKS.md, "Relay, seventh round").
struct HumanFields;

impl<'w> FormatFields<'w> for HumanFields {
    fn format_fields<R: RecordFields>(&self, writer: format::Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = FieldWriter {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

/// Writes one event's or span's fields for [`HumanFields`].
struct FieldWriter<'w> {
    writer: format::Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl FieldWriter<'_> {
    /// Starts a field: the separating space, then `name=` unless it is the message.
    /// False when an earlier write failed.
    fn start(&mut self, field: &Field) -> bool {
        if self.result.is_err() {
            return false;
        }
        if !std::mem::take(&mut self.first) {
            self.result = self.writer.write_char(' ');
        }
        let name = field.name();
        if name != "message" && self.result.is_ok() {
            let name = name.strip_prefix("r#").unwrap_or(name);
            self.result = self
                .writer
                .write_str(name)
                .and_then(|()| self.writer.write_char('='));
        }
        self.result.is_ok()
    }
}

impl Visit for FieldWriter<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.start(field) {
            self.result = write!(self.writer, "{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if self.start(field) {
            self.result = if field.name() == "message" {
                self.writer.write_str(value)
            } else {
                write!(self.writer, "{value:?}")
            };
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.start(field) {
            self.result = write!(self.writer, "{value}");
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.start(field) {
            self.result = write!(self.writer, "{value}");
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.start(field) {
            self.result = self.writer.write_str(if value { "true" } else { "false" });
        }
    }
}

/// `text` with its control characters escaped (`\n`, `\u{1b}`, …): what a client or
/// a remote server sent (a multi-line reply, say) never starts a line of its own.
fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    // Printable ASCII, the usual line, is settled octet by octet without decoding.
    // Each block is folded without an early exit, so that it compiles to vector compares.
    let printable = |block: &[u8]| {
        block
            .iter()
            .fold(true, |p, &b| p & (0x20..0x7f).contains(&b))
    };
    if text.as_bytes().chunks(32).all(printable) || !text.chars().any(char::is_control) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.into()
}

/// A client's address as a log field, IPv4 written by hand ([`crate::ascii`]): every
/// session's span names its client. Other addresses use `Display`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Addr(pub std::net::SocketAddr);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let std::net::SocketAddr::V4(v4) = self.0 else {
            return self.0.fmt(f);
        };
        f.write_str(crate::ascii::Ipv4Text::new(*v4.ip()).as_str())?;
        let mut port = [b':'; 6];
        let n = 1 + crate::ascii::decimal(&mut port[1..], u32::from(v4.port()));
        // A colon and ASCII digits.
        f.write_str(std::str::from_utf8(&port[..n]).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_as_socket_addr_writes_them() {
        for a in [
            "0.0.0.0:0",
            "127.0.0.1:25",
            "192.0.2.255:65535",
            "10.20.30.40:587",
            "[::1]:25",
            "[2001:db8::7]:2525",
            "[::ffff:192.0.2.1]:25",
        ] {
            let addr: std::net::SocketAddr = a.parse().unwrap();
            assert_eq!(Addr(addr).to_string(), addr.to_string(), "{a}");
        }
    }

    #[test]
    fn sections_and_errors() {
        let t: LogToml = toml::from_str("format = \"JSON\"\nlevel = \"debug\"").unwrap();
        let s = log_section(&t).unwrap();
        assert_eq!((s.format, s.level.as_str()), (LogFormat::Json, "debug"));
        assert_eq!(
            log_section(&LogToml::default()).unwrap(),
            LogSection::default()
        );
        let bad: LogToml = toml::from_str("format = \"xml\"").unwrap();
        assert_eq!(log_section(&bad).unwrap_err().0, "format");
        let bad: LogToml = toml::from_str("level = \"info,[[\"").unwrap();
        assert_eq!(log_section(&bad).unwrap_err().0, "level");
        let batch = |text: &str| log_section(&toml::from_str(text).unwrap()).map(|s| s.batch);
        assert_eq!(
            batch("batch_delay = \"50ms\"\nbatch_bytes = 4096"),
            Ok(LogBatch {
                delay: Duration::from_millis(50),
                max_bytes: 4096
            })
        );
        assert_eq!(
            batch("batch_delay = \"off\"").unwrap().delay,
            Duration::ZERO
        );
        assert_eq!(batch("").unwrap(), LogBatch::default());
        assert_eq!(
            batch("batch_delay = \"soon\"").unwrap_err().0,
            "batch_delay"
        );
        assert_eq!(message("postern: reloaded x"), "reloaded x");
        assert_eq!(one_line("250 ok"), "250 ok");
        assert_eq!(one_line("a\r\nb\x1b"), "a\\r\\nb\\u{1b}");
        assert_eq!(one_line("caf\u{e9} \u{85}"), "caf\u{e9} \\u{85}");
    }

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The lines `fields` writes, through the human format, for the same events.
    fn lines_with<N>(fields: N) -> String
    where
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .fmt_fields(fields)
            .event_format(Human)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("session", peer = %"192.0.2.1:25", r#type = "x");
            let _in = span.enter();
            let inner = tracing::info_span!("delivery", recipients = 2u64);
            let _in2 = inner.enter();
            tracing::info!(queue_id = %"Q1", size = 1024u64, delta = -3i64, ok = true, note = "a \"b\"", "accepted");
            tracing::warn!(reply = %"550 no\r\n\u{1b}[31m", "refused {}", 7);
        });
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn human_lines_write_each_kind_of_field() {
        let text = lines_with(HumanFields);
        assert_eq!(
            text,
            "postern: accepted queue_id=Q1 size=1024 delta=-3 ok=true note=\"a \\\"b\\\"\" \
             [session peer=192.0.2.1:25 type=\"x\"] [delivery recipients=2]\n\
             postern: refused 7 reply=550 no\\r\\n\\u{1b}[31m \
             [session peer=192.0.2.1:25 type=\"x\"] [delivery recipients=2] level=warn\n"
        );
        // The lines tracing-subscriber's own field writer gives, which it replaced.
        assert_eq!(text, lines_with(format::DefaultFields::new()));
    }
}
