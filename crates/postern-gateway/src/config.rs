//! The gateway's configuration file (TOML).
//!
//! Sections, named after the IMS property pages an Exchange admin knows:
//!
//! | section | what |
//! | --- | --- |
//! | `[server]` | host name, data directory |
//! | `[connections]` | listeners, connection limits, accept/reject by IP and mask, outbound concurrency |
//! | `[limits]` | message size, recipients, hop count, minimum data rate |
//! | `[timeouts]` | RFC 5321 time-outs, inbound and outbound |
//! | `[retry]` | retry schedule, per-priority message time-outs, delay notices |
//! | `[security]` | TLS certificate, AUTH users, relay networks |
//! | `[maildir]` | where the `maildir` connector delivers |
//! | `[inbound]` | accepted domains and recipient verification |
//! | `[tracking]` | message tracking log |
//! | `[administrator]` | the administrator's mailbox |
//! | `[[connector]]`, `[[domain]]`, `[domain_defaults]`, `[dns]` | routing (postern-route) |
//!
//! Every key has a default; `examples/postern.toml` documents each one. With no file at
//! all, [`Config::embedded`] serves at once: 127.0.0.1:2525, mail for `localhost` into
//! Maildir folders under `./postern-data/`, relaying nothing.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use postern_queue::{Lifetimes, QueueConfig, RetryPolicy, RetrySchedule};
use postern_route::RoutingConfig;
use serde::Deserialize;

/// The embedded default configuration used when `postern serve` is given no file.
pub const EMBEDDED: &str = r#"
[server]
hostname = "localhost"
data_dir = "./postern-data"

[connections]
listen = ["127.0.0.1:2525"]

[[connector]]
name = "local"
kind = "maildir"
  [[connector.address_space]]
  pattern = "localhost"
"#;

/// The connector a file without any `[[connector]]` inherits from [`EMBEDDED`]: mail for
/// `localhost` into Maildir folders. A file that only changes, say, `listen` then still
/// delivers `jo@localhost` as the default does; a file that names any connector gets
/// only its own. `postern serve` says so at start, `postern config check` prints it.
pub const DEFAULT_CONNECTOR: &str = r#"
[[connector]]
name = "local"
kind = "maildir"
  [[connector.address_space]]
  pattern = "localhost"
"#;

/// The routing text of a file: the file, plus [`DEFAULT_CONNECTOR`] when it has no
/// `connector` key at all (an explicit `connector = []` means none).
fn with_default_connector<'t>(text: &'t str, file: &File) -> std::borrow::Cow<'t, str> {
    if file.connector.is_some() {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(format!("{text}\n{DEFAULT_CONNECTOR}"))
    }
}

/// Why a configuration was refused. Each names the key and, where the file has it, the
/// line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or a key is unknown or of the wrong type (the message names
    /// the line and column).
    #[error("{0}")]
    Toml(String),
    /// A value is out of range or inconsistent with another.
    #[error("{key}{}: {why}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Value {
        /// The key, as `section.key`.
        key: String,
        /// The line of the key in the file, when found.
        line: Option<usize>,
        /// What is wrong.
        why: String,
    },
    /// The routing sections were refused by postern-route (with the line of the value
    /// the error quotes, when it can be found).
    #[error("routing{}: {why}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Routing {
        /// What postern-route said.
        why: String,
        /// The line of the offending value, when found.
        line: Option<usize>,
    },
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSection {
    /// The name in the greeting, EHLO and Received headers. Default `localhost`.
    pub hostname: String,
    /// Where the spool, tracking log and Maildir folders live (relative paths are taken
    /// from the working directory). Default `./postern-data`.
    pub data_dir: PathBuf,
    /// Threads that run `postern serve`'s sessions, deliveries and timers; `0` starts
    /// one per two CPU cores (at least one). The other cores are left to what each
    /// message also needs: the kernel's TCP work, the fsyncs and the rest of the
    /// blocking pool (a separate pool either way), the peers. A thread more than the
    /// work needs costs wake-ups: on two cores one thread relayed 2,900–3,300 1 KB
    /// messages a second and two 1,950–2,350 (BENCHMARKS.md, "Relay, tenth round").
    /// Default 0 (`worker_threads`, at most 1024).
    pub worker_threads: usize,
    /// How those threads share the work (`scheduler`). Default `per_thread`.
    pub scheduler: Scheduler,
}

/// `[server] scheduler`: how `postern serve` spreads its work over `worker_threads`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheduler {
    /// `per_thread`: a single-thread runtime on each thread, each with its own listening
    /// socket on every listen address (`SO_REUSEPORT`, see [`crate::listeners`]). A
    /// session runs where it was accepted; deliveries and the gateway's own tasks run on
    /// the first thread. No thread steals another's work or wakes it to share some.
    #[default]
    PerThread,
    /// `shared`: one runtime whose threads steal tasks from each other (tokio's
    /// multi-thread scheduler). Spreads uneven work better, at the cost of the threads
    /// waking each other.
    Shared,
}

impl Scheduler {
    /// The scheduler called `name`.
    pub fn from_name(name: &str) -> Option<Scheduler> {
        match name {
            "per_thread" => Some(Scheduler::PerThread),
            "shared" => Some(Scheduler::Shared),
            _ => None,
        }
    }

    /// Its name in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Scheduler::PerThread => "per_thread",
            Scheduler::Shared => "shared",
        }
    }
}

/// What a connection rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// Accept the connection.
    Accept,
    /// Refuse it with `521` at connect.
    Reject,
}

/// One `[[connections.rule]]`: accept or reject clients in a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionRule {
    /// The network (an address is a /32 or /128).
    pub network: IpNet,
    /// What to do.
    pub action: RuleAction,
}

/// `[connections]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionsSection {
    /// Addresses to listen on. Default `["127.0.0.1:2525"]`.
    pub listen: Vec<SocketAddr>,
    /// Most inbound connections at once; further ones get `421` at connect. Default 1000.
    pub max_connections: usize,
    /// Most inbound connections at once from one IP address. Default 20.
    pub max_connections_per_ip: usize,
    /// Connections the kernel queues for each listener before the gateway accepts them
    /// (`listen(2)`'s backlog; the kernel caps it at `net.core.somaxconn`). A burst of
    /// connects beyond it loses SYNs, and each such client waits a second or more for its
    /// retransmission. Default 1024 (the standard library's 128 made 500 concurrent
    /// clients wait).
    pub listen_backlog: u32,
    /// Accept/reject by network; the most specific (longest prefix) rule wins; no rule
    /// matching means accept. Default none.
    pub rules: Vec<ConnectionRule>,
    /// Most outbound SMTP connections at once, in all. Default 100.
    pub max_outbound_connections: usize,
    /// Most outbound connections at once to one destination. Default 10.
    pub max_connections_per_destination: usize,
    /// Most messages sent over one outbound connection before it is closed. Default 100.
    pub messages_per_connection: usize,
    /// How long an idle outbound connection is kept for reuse. Default 5 s.
    pub idle_connection_time: Duration,
    /// How long to wait before the greeting, to catch clients that talk first (they get
    /// `554 5.5.0`). Input already waiting is caught even at 0. Default 0.
    pub greet_delay: Duration,
}

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsSection {
    /// Largest message accepted, in bytes (advertised as SIZE). Default 10 MiB.
    /// Per-domain sizes (`[[domain]] max_message_size`) apply on the way out.
    pub max_message_size: u64,
    /// Most recipients in one transaction (`452 4.5.3` beyond). Default 1000.
    pub max_recipients: usize,
    /// Most `Received:` headers a message may carry before it is refused as looping
    /// (`554 5.4.6`). Default 30.
    pub max_received_headers: usize,
    /// Minimum data rate while a message arrives, in bytes per second, checked over
    /// `min_data_rate_window`; slower clients get `451 4.4.2` and are disconnected.
    /// 0 turns the check off. Default 500.
    pub min_data_rate: u64,
    /// The window the data rate is measured over. Default 30 s.
    pub min_data_rate_window: Duration,
    /// Memory for the bodies of messages just accepted, so their first delivery need not
    /// read them back from the spool ([`crate::bodies`]). Bodies over a quarter of it are
    /// not kept; 0 turns the cache off. Default 32 MiB.
    pub body_cache_bytes: usize,
}

/// `[timeouts]`: RFC 5321 section 4.5.3.2 for the server side, and the client's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutsSection {
    /// Waiting for a command. Default 5 min.
    pub command: Duration,
    /// Waiting for the next block of message data. Default 3 min.
    pub data_block: Duration,
    /// Waiting for the reply to the end of data (outbound). Default 10 min.
    pub data_termination: Duration,
    /// Connecting to a remote host. Default 30 s.
    pub connect: Duration,
    /// Waiting for the remote greeting. Default 5 min.
    pub greeting: Duration,
}

/// `[retry]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySection {
    /// The queue configuration built from the section (retry schedule, jitter,
    /// per-priority time-outs, delay notices).
    pub queue: QueueConfig,
    /// How often the delivery loop looks at the queue even when nothing woke it.
    /// Default 1 s.
    pub poll_interval: Duration,
    /// How long a connector marked down (every smart host failed) stays marked when
    /// nothing probes it: the mark is then lifted, so new mail goes to it again even when
    /// no queued message was left to probe it (issue 25). A queued message probes it
    /// sooner, after the first retry interval, when that is shorter. Default 5 min.
    pub down_expiry: Duration,
}

/// One AUTH user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The login name.
    pub name: String,
    /// The password as an Argon2 PHC string (`$argon2id$…`), made by
    /// `postern config hash-password`.
    pub password_hash: String,
}

/// The longest `[timeouts]` value and `[limits] min_data_rate_window_secs`: a day. Far
/// beyond RFC 5321's minutes, and a deadline that far ahead of the clock always exists
/// (a session adds its time-out to the current instant, which a value near `u64::MAX`
/// seconds would overflow).
pub const MAX_TIMEOUT_SECS: u64 = 86_400;

/// The default `[retry] down_expiry`: 5 minutes (as Postfix's `minimal_backoff_time`,
/// how long it leaves a dead host alone).
pub const DEFAULT_DOWN_EXPIRY: Duration = Duration::from_secs(300);

/// The default `[security] trusted_roots`: the system's CA bundle on Debian and Ubuntu.
pub const DEFAULT_TRUSTED_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// `[security]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecuritySection {
    /// PEM certificate chain for STARTTLS. STARTTLS is offered when this and `tls_key`
    /// are set. Default none.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for STARTTLS. Default none.
    pub tls_key: Option<PathBuf>,
    /// PEM bundle of the root certificates outbound `tls = "verify"` trusts. Read at
    /// start only when some domain uses `verify`. Default
    /// [`DEFAULT_TRUSTED_ROOTS`] (the Debian/Ubuntu system bundle).
    pub trusted_roots: PathBuf,
    /// AUTH users. AUTH is offered when there is at least one. Default none.
    pub users: Vec<User>,
    /// Offer AUTH without TLS (passwords in the clear). Default false.
    pub auth_without_tls: bool,
    /// Clients in these networks may relay without AUTH. Default none.
    pub relay_networks: Vec<IpNet>,
    /// Refuse mail from clients that have not authenticated (submission). Default false.
    pub require_auth: bool,
    /// Limits on password guessing (`auth_max_failures_per_session`, `…_per_client`,
    /// `…_per_user`, `auth_failure_window`, `auth_failure_delay`,
    /// `auth_failure_delay_max`); defaults in [`crate::auth_guard::AuthLimits`].
    pub auth_limits: crate::auth_guard::AuthLimits,
}

/// `[maildir]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaildirSection {
    /// Root of the Maildir folders: mail for `user@domain` goes to
    /// `ROOT/domain/user/{tmp,new,cur}`. Default `DATA_DIR/mail`.
    pub root: PathBuf,
    /// When not empty, only these addresses (lower case) are accepted for maildir
    /// connectors; others get `550 5.1.1`. Default empty: any local part.
    pub recipients: Vec<String>,
}

/// `[tracking]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingSection {
    /// Record tracking events. Default true.
    pub enabled: bool,
    /// The log directory. Default `DATA_DIR/tracking`.
    pub dir: PathBuf,
    /// Days of logs kept, today included (0: forever). Default 7, as Exchange.
    pub retention_days: u32,
}

/// `[administrator]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdministratorSection {
    /// The administrator's mailbox: postmaster mail and notices go there.
    /// Default `postmaster@HOSTNAME`.
    pub mailbox: String,
}

/// `[notifications]`: delivery status notifications and the administrator's copies (the
/// IMS "Notifications" page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationsSection {
    /// Send failure notices to the sender when a recipient fails or expires. Default true.
    pub failures: bool,
    /// Send delay notices on the `[retry] delay_notices` schedule. Default true.
    pub delays: bool,
    /// Copy failure notices to the administrator's mailbox. Default true.
    pub copy_failures_to_administrator: bool,
    /// Copy delay notices to the administrator's mailbox. Default false.
    pub copy_delays_to_administrator: bool,
    /// What a notice returns of the original when the sender gave no `RET`: the header
    /// only (`false`, the default) or the whole message.
    pub return_full_by_default: bool,
    /// Most octets of the original returned whole; larger ones return the header only.
    /// Default 1 MiB.
    pub max_returned_size: usize,
}

/// The gateway's transfer mode (the IMS "Connections" page): which directions move mail.
/// Mail to the organisation is mail for accepted domains or routed to a `maildir`
/// connector or one marked `inbound = true` ([`crate::policy::transfer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferMode {
    /// Accept inbound and deliver outbound (the default).
    Both,
    /// Accept inbound and keep delivering to the organisation; hold mail to the
    /// Internet (it queues up).
    Inbound,
    /// Deliver mail to the Internet; hold mail to the organisation; answer new inbound
    /// sessions with `421`.
    Outbound,
    /// Neither: new sessions get `421`, outbound is held.
    None,
}

impl TransferMode {
    /// New inbound sessions are accepted.
    pub fn accepts_inbound(self) -> bool {
        matches!(self, TransferMode::Both | TransferMode::Inbound)
    }

    /// Queued mail to the Internet is delivered.
    pub fn delivers_outbound(self) -> bool {
        matches!(self, TransferMode::Both | TransferMode::Outbound)
    }

    /// The keyword, as in the config.
    pub fn name(self) -> &'static str {
        match self {
            TransferMode::Both => "both",
            TransferMode::Inbound => "inbound",
            TransferMode::Outbound => "outbound",
            TransferMode::None => "none",
        }
    }

    /// Parses a keyword.
    pub fn from_name(s: &str) -> Option<TransferMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "both" => Some(TransferMode::Both),
            "inbound" => Some(TransferMode::Inbound),
            "outbound" => Some(TransferMode::Outbound),
            "none" => Some(TransferMode::None),
            _ => None,
        }
    }
}

/// One `[[restriction]]`: who may send through a connector (or through the gateway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction {
    /// The connector it applies to; `None` for every recipient.
    pub connector: Option<String>,
    /// When not empty, only senders matching one of these may send; all others are
    /// refused.
    pub accept_from: Vec<String>,
    /// Senders matching one of these are refused.
    pub reject_from: Vec<String>,
}

/// Which direction the archive records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchiveDirection {
    /// Both directions.
    Both,
    /// Mail accepted from clients.
    Inbound,
    /// Mail delivered out (after conversion).
    Outbound,
}

/// `[archive]`: copies of messages as `.eml` files (seed 002).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSection {
    /// Archive at all. Default false.
    pub enabled: bool,
    /// Root of the dated folders. Default `DATA_DIR/archive`.
    pub dir: PathBuf,
    /// Archive only messages from these senders (patterns); empty means every message.
    pub senders: Vec<String>,
    /// Archive also messages to these recipients (patterns). With `senders` and
    /// `recipients` both empty every message is archived; otherwise a message is when
    /// its sender or one of its recipients matches. Default empty.
    pub recipients: Vec<String>,
    /// Which direction. Default both.
    pub direction: ArchiveDirection,
}

/// `[pickup]`: a folder whose `.eml` files are submitted like SMTP mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickupSection {
    /// Watch the folder. Default false.
    pub enabled: bool,
    /// The folder. Default `DATA_DIR/pickup`.
    pub dir: PathBuf,
    /// How often it is scanned. Default 1 s.
    pub interval: Duration,
}

/// `[protocol_log]`: per-session SMTP transcripts, inbound and outbound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolLogSection {
    /// Write transcripts. Default false.
    pub enabled: bool,
    /// Where (one file per UTC day). Default `DATA_DIR/protocol`.
    pub dir: PathBuf,
}

/// `[status]`: the live view of the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSection {
    /// Serve Prometheus metrics (`GET /metrics`) on this loopback address. Default none.
    pub metrics_listen: Option<SocketAddr>,
}

/// Where the admin API listens (`[admin] listen`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminListen {
    /// No admin API (`"off"`).
    Off,
    /// A TCP address (`"127.0.0.1:8025"`; port 0 lets the system choose).
    Tcp(SocketAddr),
    /// A Unix socket at this path (a value starting with `/`).
    Unix(PathBuf),
}

/// `[admin]`: the admin API (`/api/v1/…`) that `postern` subcommands talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminApiSection {
    /// Where it listens. Default `127.0.0.1:0`: a loopback port the system chooses,
    /// written to `DATA_DIR/admin.address` at start.
    pub listen: AdminListen,
    /// The file holding the bearer token writes need. Default `DATA_DIR/admin.token`,
    /// created with mode 0600 when missing.
    pub token_file: PathBuf,
}

/// `[spool]`: the spool's segment size and when the gateway compacts it. Dead space
/// (delivered messages, old states) is reclaimed while the gateway runs, so that the
/// spool's files stay within about `2 × live + compact_dead_bytes + 2 × segment_size`
/// bytes (RELIABILITY.md, "Spool space").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolSection {
    /// A new segment file starts once the current one would pass this many bytes.
    /// Default 16 MiB.
    pub segment_size: u64,
    /// Under load, compaction starts once the dead bytes outside the newest segment pass
    /// both this and the bytes live messages need. Default 8 MiB.
    pub compact_dead_bytes: u64,
    /// Once less than 64 KiB has been written to the spool over this long (retries of
    /// deferred mail write a little), it is compacted whole (newest segment included) if
    /// its dead bytes pass the live ones (and 64 KiB). Zero turns idle compaction off.
    /// Default 30 s.
    pub compact_idle: Duration,
    /// A delivered message leaves the spool by a removal record the delivery does not
    /// wait to see on disk (as an MTA's unlink of a delivered queue file is not fsynced):
    /// it rides on the next group commit of new mail, or is flushed at most this long
    /// after. A crash in between delivers the message once more, never loses one. Zero:
    /// every outcome waits for its fsync, as deferrals and failures always do. Default
    /// 100 ms (`completion_flush_ms`).
    pub completion_flush: Duration,
    /// How long the writer of a group commit waits for its batch to fill to the size of
    /// the recent ones before it writes and fsyncs (`SpoolOptions::max_gather`). Longer
    /// waits mean fewer fsyncs for writers that are always ready; every waiting
    /// message's acceptance is delayed by it. Default 200 µs (`group_commit_gather_us`,
    /// at most 10000).
    pub group_commit_gather: Duration,
    /// Whether a thread of the spool's own leads every group commit
    /// (`LocalStore::with_committer`). Either way sessions append their record on their
    /// own thread and wait for a batch's fsync; without the thread (the default) the
    /// first session to find no commit under way starts one on the blocking pool, which
    /// writes batches until nothing is queued. The dedicated thread saves starting those
    /// jobs; each batch waits for it to be scheduled, which cost throughput on a machine
    /// short of CPU. Default false (`commit_thread`): measured in BENCHMARKS.md ("Relay,
    /// fourth round" and "Relay, fifth round").
    pub commit_thread: bool,
    /// Zeros the spool writes ahead of its records in the newest segment, this many bytes
    /// at a time (`SpoolOptions::preallocate`), so that most fsyncs overwrite blocks the
    /// file already has and need not write its size and block map too. The newest
    /// segment file may end in up to this many zeros. 0 appends instead. Default 1 MiB.
    pub preallocate: u64,
}

/// `[retention]`: how long what the gateway writes beside the spool is kept. Checked at
/// start and every ten minutes; 0 keeps everything. (Tracking logs have their own
/// `[tracking] retention_days`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionSection {
    /// Days of protocol logs kept, today (UTC) included. Default 7.
    pub protocol_log_days: u32,
    /// Days of archive folders kept, today (UTC) included. Default 30.
    pub archive_days: u32,
    /// Most bytes the archive may hold; the oldest files go first. 0: no limit (the
    /// default).
    pub archive_max_bytes: u64,
    /// Days a file set aside in the spool's `quarantine/` is kept. Default 30.
    pub quarantine_days: u32,
    /// Days a refused Pickup file (and its `.reason`) is kept in `bad/`. Default 30.
    pub pickup_bad_days: u32,
}

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[server]`.
    pub server: ServerSection,
    /// `[connections]`.
    pub connections: ConnectionsSection,
    /// `[limits]`.
    pub limits: LimitsSection,
    /// `[timeouts]`.
    pub timeouts: TimeoutsSection,
    /// `[retry]`.
    pub retry: RetrySection,
    /// `[security]`.
    pub security: SecuritySection,
    /// `[maildir]`.
    pub maildir: MaildirSection,
    /// `[tracking]`.
    pub tracking: TrackingSection,
    /// `[administrator]`.
    pub administrator: AdministratorSection,
    /// `[notifications]`.
    pub notifications: NotificationsSection,
    /// `[transfer] mode`: the mode at start-up.
    pub transfer_mode: TransferMode,
    /// `[[restriction]]`s.
    pub restrictions: Vec<Restriction>,
    /// `[archive]`.
    pub archive: ArchiveSection,
    /// `[pickup]`.
    pub pickup: PickupSection,
    /// `[protocol_log]`.
    pub protocol_log: ProtocolLogSection,
    /// `[status]`.
    pub status: StatusSection,
    /// `[spool]`.
    pub spool: SpoolSection,
    /// `[retention]`.
    pub retention: RetentionSection,
    /// `[inbound]`: accepted domains and recipient verification.
    pub inbound: crate::policy::InboundSection,
    /// `[log]`: the log's format and filter (see [`crate::logging`]).
    pub log: crate::logging::LogSection,
    /// Connectors, address spaces, per-domain settings, DNS.
    pub routing: RoutingConfig,
    /// `[[domain_options]]`: rich text, display names and automatic replies per domain.
    pub domain_options: crate::outbound::options::DomainOptionsTable,
    /// `[[mime_types]]` over the built-in MIME types table.
    pub mime_types: postern_message::mime_types::MimeTypes,
    /// The text the configuration was read from.
    pub source: String,
    /// `[admin]`: the admin API.
    pub admin_api: AdminApiSection,
    /// `[storage]`: where the queue and the tracking log live (see [`crate::storage`]).
    pub storage: crate::storage_settings::StorageSection,
}

// ---- the file as written ------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    server: ServerToml,
    #[serde(default)]
    connections: ConnectionsToml,
    #[serde(default)]
    limits: LimitsToml,
    #[serde(default)]
    timeouts: TimeoutsToml,
    #[serde(default)]
    retry: RetryToml,
    #[serde(default)]
    security: SecurityToml,
    #[serde(default)]
    maildir: MaildirToml,
    #[serde(default)]
    tracking: TrackingToml,
    #[serde(default)]
    administrator: AdministratorToml,
    #[serde(default)]
    notifications: NotificationsToml,
    #[serde(default)]
    transfer: TransferToml,
    #[serde(default)]
    restriction: Vec<RestrictionToml>,
    #[serde(default)]
    archive: ArchiveToml,
    #[serde(default)]
    pickup: PickupToml,
    #[serde(default)]
    protocol_log: ProtocolLogToml,
    #[serde(default)]
    status: StatusToml,
    #[serde(default)]
    log: crate::logging::LogToml,
    #[serde(default)]
    admin: AdminToml,
    #[serde(default)]
    spool: SpoolToml,
    #[serde(default)]
    retention: RetentionToml,
    #[serde(default)]
    inbound: crate::policy::accepted::InboundToml,
    #[serde(default)]
    domain_options: Vec<crate::outbound::options::DomainOptionsToml>,
    #[serde(default)]
    mime_types: Vec<crate::outbound::options::MimeTypeToml>,
    #[serde(default)]
    storage: crate::storage_settings::StorageToml,
    // Routing sections: parsed and checked by postern-route; named here only so that
    // deny_unknown_fields lets them through.
    #[allow(dead_code)]
    #[serde(default)]
    connector: Option<toml::Value>,
    #[allow(dead_code)]
    #[serde(default)]
    domain: Option<toml::Value>,
    #[allow(dead_code)]
    #[serde(default)]
    domain_defaults: Option<toml::Value>,
    #[allow(dead_code)]
    #[serde(default)]
    dns: Option<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerToml {
    hostname: Option<String>,
    data_dir: Option<PathBuf>,
    worker_threads: Option<usize>,
    scheduler: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleToml {
    network: String,
    action: RuleAction,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionsToml {
    listen: Option<Vec<String>>,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    listen_backlog: Option<u32>,
    #[serde(default)]
    rule: Vec<RuleToml>,
    max_outbound_connections: Option<usize>,
    max_connections_per_destination: Option<usize>,
    messages_per_connection: Option<usize>,
    idle_connection_secs: Option<u64>,
    greet_delay_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsToml {
    max_message_size: Option<u64>,
    max_recipients: Option<usize>,
    max_received_headers: Option<usize>,
    min_data_rate: Option<u64>,
    min_data_rate_window_secs: Option<u64>,
    body_cache_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeoutsToml {
    command_secs: Option<u64>,
    data_block_secs: Option<u64>,
    data_termination_secs: Option<u64>,
    connect_secs: Option<u64>,
    greeting_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryToml {
    first: Option<String>,
    factor: Option<f64>,
    max_retries: Option<u32>,
    intervals: Option<Vec<String>>,
    jitter_percent: Option<u8>,
    urgent_timeout: Option<String>,
    normal_timeout: Option<String>,
    non_urgent_timeout: Option<String>,
    notification_timeout: Option<String>,
    delay_notices: Option<Vec<String>>,
    poll_interval: Option<String>,
    backoff_first: Option<String>,
    backoff_max: Option<String>,
    down_expiry: Option<String>,
    /// `[retry.urgent]`: the schedule for urgent messages.
    urgent: Option<PriorityRetryToml>,
    /// `[retry.non_urgent]`: the schedule for non-urgent messages.
    non_urgent: Option<PriorityRetryToml>,
}

/// `[retry.urgent]` / `[retry.non_urgent]`: schedule keys overriding `[retry]`'s.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriorityRetryToml {
    first: Option<String>,
    factor: Option<f64>,
    max_retries: Option<u32>,
    intervals: Option<Vec<String>>,
    jitter_percent: Option<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserToml {
    name: String,
    password_hash: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecurityToml {
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    trusted_roots: Option<PathBuf>,
    #[serde(default)]
    user: Vec<UserToml>,
    auth_without_tls: Option<bool>,
    relay_networks: Option<Vec<String>>,
    require_auth: Option<bool>,
    auth_max_failures_per_session: Option<u32>,
    auth_max_failures_per_client: Option<u32>,
    auth_max_failures_per_user: Option<u32>,
    auth_failure_window: Option<String>,
    auth_failure_delay: Option<String>,
    auth_failure_delay_max: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaildirToml {
    root: Option<PathBuf>,
    recipients: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrackingToml {
    enabled: Option<bool>,
    dir: Option<PathBuf>,
    retention_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdministratorToml {
    mailbox: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationsToml {
    failures: Option<bool>,
    delays: Option<bool>,
    copy_failures_to_administrator: Option<bool>,
    copy_delays_to_administrator: Option<bool>,
    return_full_by_default: Option<bool>,
    max_returned_size: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferToml {
    mode: Option<TransferMode>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RestrictionToml {
    connector: Option<String>,
    #[serde(default)]
    accept_from: Vec<String>,
    #[serde(default)]
    reject_from: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchiveToml {
    enabled: Option<bool>,
    dir: Option<PathBuf>,
    senders: Option<Vec<String>>,
    recipients: Option<Vec<String>>,
    direction: Option<ArchiveDirection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PickupToml {
    enabled: Option<bool>,
    dir: Option<PathBuf>,
    interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProtocolLogToml {
    enabled: Option<bool>,
    dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusToml {
    metrics_listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminToml {
    listen: Option<String>,
    token_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpoolToml {
    segment_size: Option<u64>,
    compact_dead_bytes: Option<u64>,
    compact_idle_secs: Option<u64>,
    completion_flush_ms: Option<u64>,
    group_commit_gather_us: Option<u64>,
    commit_thread: Option<bool>,
    preallocate: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionToml {
    protocol_log_days: Option<u32>,
    archive_days: Option<u32>,
    archive_max_bytes: Option<u64>,
    quarantine_days: Option<u32>,
    pickup_bad_days: Option<u32>,
}

/// Longest `[spool] completion_flush_ms`: removals of delivered mail may wait a minute
/// for the disk at most (each one waiting is a possible second delivery after a crash).
const MAX_COMPLETION_FLUSH_MS: u64 = 60_000;

/// Largest `[connections] listen_backlog` (the kernel caps it lower anyway).
const MAX_LISTEN_BACKLOG: u32 = 65_535;

/// Smallest `[spool] segment_size`: a few records, so tests can use tiny segments.
const MIN_SEGMENT_SIZE: u64 = 4096;

fn spool_section(c: &Checker<'_>, s: &SpoolToml) -> Result<SpoolSection, ConfigError> {
    let segment_size = s.segment_size.unwrap_or(16 << 20);
    if segment_size < MIN_SEGMENT_SIZE {
        return Err(c.err(
            "spool",
            "segment_size",
            format!("must be at least {MIN_SEGMENT_SIZE}"),
        ));
    }
    let completion_flush_ms = s.completion_flush_ms.unwrap_or(100);
    if completion_flush_ms > MAX_COMPLETION_FLUSH_MS {
        return Err(c.err(
            "spool",
            "completion_flush_ms",
            format!("must be at most {MAX_COMPLETION_FLUSH_MS} (a minute)"),
        ));
    }
    let gather_us = s.group_commit_gather_us.unwrap_or(200);
    if gather_us > 10_000 {
        return Err(c.err(
            "spool",
            "group_commit_gather_us",
            "must be at most 10000 (10 ms)",
        ));
    }
    Ok(SpoolSection {
        segment_size,
        compact_dead_bytes: s.compact_dead_bytes.unwrap_or(8 << 20),
        compact_idle: Duration::from_secs(s.compact_idle_secs.unwrap_or(30)),
        completion_flush: Duration::from_millis(completion_flush_ms),
        group_commit_gather: Duration::from_micros(gather_us),
        commit_thread: s.commit_thread.unwrap_or(DEFAULT_COMMIT_THREAD),
        // The spool library's own default, so the two cannot drift apart.
        preallocate: s
            .preallocate
            .unwrap_or(postern_queue::SpoolOptions::default().preallocate),
    })
}

/// `[spool] commit_thread` when unset (BENCHMARKS.md, "Relay, fourth round").
const DEFAULT_COMMIT_THREAD: bool = false;

fn retention_section(r: &RetentionToml) -> RetentionSection {
    RetentionSection {
        protocol_log_days: r.protocol_log_days.unwrap_or(7),
        archive_days: r.archive_days.unwrap_or(30),
        archive_max_bytes: r.archive_max_bytes.unwrap_or(0),
        quarantine_days: r.quarantine_days.unwrap_or(30),
        pickup_bad_days: r.pickup_bad_days.unwrap_or(30),
    }
}

// ---- validation ---------------------------------------------------------------------

/// Builds `ConfigError::Value` for `key`, finding its line in `text`.
struct Checker<'a> {
    text: &'a str,
}

impl Checker<'_> {
    fn err(&self, section: &str, key: &str, why: impl Into<String>) -> ConfigError {
        ConfigError::Value {
            key: format!("{section}.{key}"),
            line: find_key_line(self.text, section, key),
            why: why.into(),
        }
    }

    fn duration(
        &self,
        section: &str,
        key: &str,
        v: &Option<String>,
    ) -> Result<Option<Duration>, ConfigError> {
        v.as_deref()
            .map(|s| {
                postern_queue::policy::parse_duration(s)
                    .map_err(|e| self.err(section, key, e.to_string()))
            })
            .transpose()
    }

    fn positive(
        &self,
        section: &str,
        key: &str,
        v: Option<usize>,
        default: usize,
    ) -> Result<usize, ConfigError> {
        match v {
            Some(0) => Err(self.err(section, key, "must be at least 1")),
            Some(n) => Ok(n),
            None => Ok(default),
        }
    }

    fn secs(
        &self,
        section: &str,
        key: &str,
        v: Option<u64>,
        default: u64,
    ) -> Result<Duration, ConfigError> {
        match v {
            Some(0) => Err(self.err(section, key, "must be at least 1 second")),
            Some(n) if n > MAX_TIMEOUT_SECS => Err(self.err(
                section,
                key,
                format!("must be at most {MAX_TIMEOUT_SECS} seconds (a day)"),
            )),
            Some(n) => Ok(Duration::from_secs(n)),
            None => Ok(Duration::from_secs(default)),
        }
    }

    fn network(&self, section: &str, key: &str, s: &str) -> Result<IpNet, ConfigError> {
        let s = s.trim();
        s.parse::<IpNet>()
            .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
            .map(|n| n.trunc())
            .map_err(|_| {
                self.err(
                    section,
                    key,
                    format!("{s:?} is not an address or network (like 192.0.2.0/24)"),
                )
            })
    }
}

/// The line of the value a routing error names: the last quoted string in the message
/// (the most specific: a host, a pattern, a server), or for a number out of range the
/// first line setting `cost` to it.
fn routing_error_line(text: &str, why: &str) -> Option<usize> {
    let quoted: Vec<&str> = why
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|q| !q.is_empty())
        .collect();
    let find = |needle: &str| text.lines().position(|l| l.contains(needle)).map(|i| i + 1);
    let cost = why
        .split("cost ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|c| {
            text.lines().position(|l| {
                l.split_once('=')
                    .is_some_and(|(k, v)| k.trim() == "cost" && v.trim() == c)
            })
        })
        .map(|i| i + 1);
    cost.or_else(|| quoted.iter().rev().find_map(|q| find(&format!("\"{q}\""))))
}

/// Refuses a `charset` or `non_mime_charset` of `[domain_defaults]` or a `[[domain]]`
/// that outbound conversion could not write text in (unknown, or UTF-16), naming the key
/// and its line: otherwise the domain would silently get its mail unconverted.
fn domain_charsets(c: &Checker<'_>, routing: &RoutingConfig) -> Result<(), ConfigError> {
    for (pattern, key, label) in routing.domains.charsets() {
        if let Err(e) = postern_message::convert::check_target_charset(label) {
            let section = if pattern.is_some() {
                "domain"
            } else {
                "domain_defaults"
            };
            let at = pattern
                .map(|p| format!(" (pattern {p:?})"))
                .unwrap_or_default();
            return Err(ConfigError::Value {
                key: format!("{section}.{key}"),
                line: find_value_line(c.text, key, label),
                why: format!(
                    "{e}{at}; use a charset name like \"iso-8859-1\", \"us-ascii\" or \"utf-8\""
                ),
            });
        }
    }
    Ok(())
}

/// The line (1-based) of the first `key = "value"` in `text`.
fn find_value_line(text: &str, key: &str, value: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.split_once('=').is_some_and(|(k, v)| {
                k.trim() == key && v.trim().trim_matches(['"', '\'']).trim() == value.trim()
            })
        })
        .map(|i| i + 1)
}

/// The line (1-based) where `key` is set inside `[section]` (or `[[section…]]`), if it
/// can be found by a plain scan.
fn find_key_line(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut in_section = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix('[') {
            let name = h
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim();
            in_section = name == section || name.starts_with(&format!("{section}."));
            continue;
        }
        if in_section && t.split_once('=').is_some_and(|(k, _)| k.trim() == key) {
            return Some(i + 1);
        }
    }
    None
}

impl Config {
    /// True when the file named no `[[connector]]` and so got [`DEFAULT_CONNECTOR`].
    pub fn inherits_default_connector(&self) -> bool {
        toml::from_str::<File>(&self.source).is_ok_and(|f| f.connector.is_none())
    }

    /// The embedded default ([`EMBEDDED`]).
    pub fn embedded() -> Config {
        Config::from_toml_str(EMBEDDED).expect("the embedded configuration is valid")
    }

    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml_str(&text)
    }

    /// Parses and validates configuration text.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let file: File = toml::from_str(text)
            .map_err(|e| ConfigError::Toml(e.to_string().trim_end().to_owned()))?;
        let routing =
            RoutingConfig::from_toml_str(&with_default_connector(text, &file)).map_err(|e| {
                let why = e.to_string();
                ConfigError::Routing {
                    line: routing_error_line(text, &why),
                    why,
                }
            })?;
        let c = Checker { text };
        domain_charsets(&c, &routing)?;
        let server = server(&c, &file.server)?;
        let connections = connections(&c, &file.connections)?;
        let limits = limits(&c, &file.limits)?;
        let timeouts = timeouts(&c, &file.timeouts)?;
        let retry = retry(&c, &file.retry)?;
        let security = security(&c, &file.security)?;
        let maildir = MaildirSection {
            root: file
                .maildir
                .root
                .clone()
                .unwrap_or_else(|| server.data_dir.join("mail")),
            recipients: file
                .maildir
                .recipients
                .iter()
                .flatten()
                .map(|r| r.trim().to_lowercase())
                .collect(),
        };
        let tracking = TrackingSection {
            enabled: file.tracking.enabled.unwrap_or(true),
            dir: file
                .tracking
                .dir
                .clone()
                .unwrap_or_else(|| server.data_dir.join("tracking")),
            retention_days: file.tracking.retention_days.unwrap_or(7),
        };
        let administrator = AdministratorSection {
            mailbox: file
                .administrator
                .mailbox
                .clone()
                .unwrap_or_else(|| format!("postmaster@{}", server.hostname)),
        };
        if !administrator.mailbox.contains('@') {
            return Err(c.err(
                "administrator",
                "mailbox",
                "must be an address (user@domain)",
            ));
        }
        let admin = admin_sections(&c, &file, &server.data_dir, &routing)?;
        let spool = spool_section(&c, &file.spool)?;
        let admin_api = admin_api_section(&c, &file.admin, &server.data_dir)?;
        let retention = retention_section(&file.retention);
        let inbound = crate::policy::accepted::inbound_section(&file.inbound)
            .map_err(|(key, why)| c.err("inbound", key, why))?;
        let log =
            crate::logging::log_section(&file.log).map_err(|(key, why)| c.err("log", key, why))?;
        let domain_options = crate::outbound::options::domain_options(&file.domain_options)
            .map_err(|(key, why)| c.err("domain_options", key, why))?;
        let mime_types = crate::outbound::options::mime_types(&file.mime_types)
            .map_err(|(key, why)| c.err("mime_types", key, why))?;
        let storage = crate::storage_settings::storage_section(&file.storage, &server.hostname)
            .map_err(|(key, why)| c.err("storage", key, why))?;
        for conn in &routing.connectors {
            if conn.kind != "smtp" && conn.kind != "maildir" {
                return Err(c.err(
                    "connector",
                    "kind",
                    format!(
                        "connector {:?}: unknown kind {:?} (smtp or maildir)",
                        conn.name, conn.kind
                    ),
                ));
            }
        }
        Ok(Config {
            server,
            connections,
            limits,
            timeouts,
            retry,
            security,
            maildir,
            tracking,
            administrator,
            notifications: admin.notifications,
            transfer_mode: admin.transfer_mode,
            restrictions: admin.restrictions,
            archive: admin.archive,
            pickup: admin.pickup,
            protocol_log: admin.protocol_log,
            status: admin.status,
            spool,
            retention,
            inbound,
            log,
            routing,
            domain_options,
            mime_types,
            source: text.to_owned(),
            admin_api,
            storage,
        })
    }

    /// The directory of the spool.
    pub fn spool_dir(&self) -> PathBuf {
        self.server.data_dir.join("spool")
    }

    /// Whether connector `name` delivers locally (kind `maildir`).
    pub fn is_local_connector(&self, name: &str) -> bool {
        self.routing
            .connector(name)
            .is_some_and(|c| c.kind == "maildir")
    }

    /// STARTTLS is offered.
    pub fn tls_enabled(&self) -> bool {
        self.security.tls_cert.is_some() && self.security.tls_key.is_some()
    }

    /// An error about `section.key` with its line in [`Config::source`], for values that
    /// parse but fail later (a TLS key file that cannot be loaded, say).
    pub fn value_error(&self, section: &str, key: &str, why: impl Into<String>) -> ConfigError {
        ConfigError::Value {
            key: format!("{section}.{key}"),
            line: find_key_line(&self.source, section, key),
            why: why.into(),
        }
    }
}

/// The issue-8 sections, validated.
struct AdminSections {
    notifications: NotificationsSection,
    transfer_mode: TransferMode,
    restrictions: Vec<Restriction>,
    archive: ArchiveSection,
    pickup: PickupSection,
    protocol_log: ProtocolLogSection,
    status: StatusSection,
}

fn admin_sections(
    c: &Checker<'_>,
    file: &File,
    data_dir: &Path,
    routing: &RoutingConfig,
) -> Result<AdminSections, ConfigError> {
    let n = &file.notifications;
    let notifications = NotificationsSection {
        failures: n.failures.unwrap_or(true),
        delays: n.delays.unwrap_or(true),
        copy_failures_to_administrator: n.copy_failures_to_administrator.unwrap_or(true),
        copy_delays_to_administrator: n.copy_delays_to_administrator.unwrap_or(false),
        return_full_by_default: n.return_full_by_default.unwrap_or(false),
        max_returned_size: n.max_returned_size.unwrap_or(1 << 20),
    };
    let mut restrictions = Vec::new();
    for r in &file.restriction {
        if let Some(name) = r
            .connector
            .as_ref()
            .filter(|n| routing.connector(n.trim()).is_none())
        {
            return Err(c.err(
                "restriction",
                "connector",
                format!("no connector named {name:?}"),
            ));
        }
        restrictions.push(Restriction {
            connector: r.connector.as_ref().map(|n| n.trim().to_owned()),
            accept_from: r
                .accept_from
                .iter()
                .map(|p| p.trim().to_lowercase())
                .collect(),
            reject_from: r
                .reject_from
                .iter()
                .map(|p| p.trim().to_lowercase())
                .collect(),
        });
    }
    let a = &file.archive;
    let archive = ArchiveSection {
        enabled: a.enabled.unwrap_or(false),
        dir: a.dir.clone().unwrap_or_else(|| data_dir.join("archive")),
        senders: a
            .senders
            .iter()
            .flatten()
            .map(|p| p.trim().to_lowercase())
            .collect(),
        recipients: a
            .recipients
            .iter()
            .flatten()
            .map(|p| p.trim().to_lowercase())
            .collect(),
        direction: a.direction.unwrap_or(ArchiveDirection::Both),
    };
    let p = &file.pickup;
    let interval = c
        .duration("pickup", "interval", &p.interval)?
        .unwrap_or(Duration::from_secs(1));
    if interval.is_zero() {
        return Err(c.err("pickup", "interval", "must be more than 0"));
    }
    let pickup = PickupSection {
        enabled: p.enabled.unwrap_or(false),
        dir: p.dir.clone().unwrap_or_else(|| data_dir.join("pickup")),
        interval,
    };
    let protocol_log = ProtocolLogSection {
        enabled: file.protocol_log.enabled.unwrap_or(false),
        dir: file
            .protocol_log
            .dir
            .clone()
            .unwrap_or_else(|| data_dir.join("protocol")),
    };
    let metrics_listen = match &file.status.metrics_listen {
        None => None,
        Some(a) => {
            let addr: SocketAddr = a
                .trim()
                .parse()
                .map_err(|_| c.err("status", "metrics_listen", format!("{a:?} is not ip:port")))?;
            if !addr.ip().is_loopback() {
                return Err(c.err("status", "metrics_listen", "must be a loopback address"));
            }
            Some(addr)
        }
    };
    Ok(AdminSections {
        notifications,
        transfer_mode: file.transfer.mode.unwrap_or(TransferMode::Both),
        restrictions,
        archive,
        pickup,
        protocol_log,
        status: StatusSection { metrics_listen },
    })
}

/// `[admin]`, validated: `off`, an `ip:port` (loopback unless a token guards reads
/// too, see `api`), or an absolute Unix socket path.
fn admin_api_section(
    c: &Checker<'_>,
    a: &AdminToml,
    data_dir: &Path,
) -> Result<AdminApiSection, ConfigError> {
    let listen = match a.listen.as_deref().map(str::trim) {
        None => AdminListen::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))),
        Some("off") => AdminListen::Off,
        Some(p) if p.starts_with('/') => AdminListen::Unix(PathBuf::from(p)),
        Some(v) => AdminListen::Tcp(v.parse().map_err(|_| {
            c.err(
                "admin",
                "listen",
                format!("{v:?} is not ip:port, an absolute socket path or \"off\""),
            )
        })?),
    };
    Ok(AdminApiSection {
        listen,
        token_file: a
            .token_file
            .clone()
            .unwrap_or_else(|| data_dir.join("admin.token")),
    })
}

/// Most `[server] worker_threads`: far past any core count, so a typo is refused.
const MAX_WORKER_THREADS: usize = 1024;

fn server(c: &Checker<'_>, s: &ServerToml) -> Result<ServerSection, ConfigError> {
    let hostname = s.hostname.clone().unwrap_or_else(|| "localhost".to_owned());
    if hostname.is_empty() || hostname.contains(|ch: char| ch.is_whitespace() || ch.is_control()) {
        return Err(c.err("server", "hostname", "must be a host name without spaces"));
    }
    let worker_threads = s.worker_threads.unwrap_or(0);
    if worker_threads > MAX_WORKER_THREADS {
        return Err(c.err(
            "server",
            "worker_threads",
            format!("must be at most {MAX_WORKER_THREADS} (0: one per two cores)"),
        ));
    }
    let scheduler = match s.scheduler.as_deref() {
        None => Scheduler::default(),
        Some(name) => Scheduler::from_name(name).ok_or_else(|| {
            c.err(
                "server",
                "scheduler",
                "must be \"per_thread\" or \"shared\"",
            )
        })?,
    };
    Ok(ServerSection {
        hostname,
        worker_threads,
        scheduler,
        data_dir: s
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("./postern-data")),
    })
}

fn connections(c: &Checker<'_>, s: &ConnectionsToml) -> Result<ConnectionsSection, ConfigError> {
    let listen = match &s.listen {
        None => vec![SocketAddr::from(([127, 0, 0, 1], 2525))],
        Some(list) => list
            .iter()
            .map(|a| {
                a.trim()
                    .parse::<SocketAddr>()
                    .map_err(|_| c.err("connections", "listen", format!("{a:?} is not ip:port")))
            })
            .collect::<Result<_, _>>()?,
    };
    let mut rules = Vec::new();
    for r in &s.rule {
        rules.push(ConnectionRule {
            network: c.network("connections", "network", &r.network)?,
            action: r.action,
        });
    }
    let listen_backlog = s.listen_backlog.unwrap_or(1024);
    if !(1..=MAX_LISTEN_BACKLOG).contains(&listen_backlog) {
        return Err(c.err(
            "connections",
            "listen_backlog",
            format!("must be between 1 and {MAX_LISTEN_BACKLOG}"),
        ));
    }
    Ok(ConnectionsSection {
        listen,
        listen_backlog,
        max_connections: c.positive("connections", "max_connections", s.max_connections, 1000)?,
        max_connections_per_ip: c.positive(
            "connections",
            "max_connections_per_ip",
            s.max_connections_per_ip,
            20,
        )?,
        rules,
        max_outbound_connections: c.positive(
            "connections",
            "max_outbound_connections",
            s.max_outbound_connections,
            100,
        )?,
        max_connections_per_destination: c.positive(
            "connections",
            "max_connections_per_destination",
            s.max_connections_per_destination,
            10,
        )?,
        messages_per_connection: c.positive(
            "connections",
            "messages_per_connection",
            s.messages_per_connection,
            100,
        )?,
        idle_connection_time: Duration::from_secs(s.idle_connection_secs.unwrap_or(5)),
        greet_delay: Duration::from_millis(s.greet_delay_ms.unwrap_or(0)),
    })
}

fn limits(c: &Checker<'_>, s: &LimitsToml) -> Result<LimitsSection, ConfigError> {
    let max_message_size = s.max_message_size.unwrap_or(10 * 1024 * 1024);
    if max_message_size < 1024 {
        return Err(c.err("limits", "max_message_size", "must be at least 1024 bytes"));
    }
    Ok(LimitsSection {
        max_message_size,
        max_recipients: c.positive("limits", "max_recipients", s.max_recipients, 1000)?,
        max_received_headers: c.positive(
            "limits",
            "max_received_headers",
            s.max_received_headers,
            30,
        )?,
        min_data_rate: s.min_data_rate.unwrap_or(500),
        min_data_rate_window: c.secs(
            "limits",
            "min_data_rate_window_secs",
            s.min_data_rate_window_secs,
            30,
        )?,
        body_cache_bytes: s.body_cache_bytes.unwrap_or(32 * 1024 * 1024),
    })
}

/// The schedule of one priority (`section` is `retry.urgent` or `retry.non_urgent`):
/// the keys it gives override those of `base` (the `[retry]` schedule). `intervals`
/// makes it a list; any of first/factor/max_retries a geometric schedule, whose other
/// values come from `base` when that is geometric, else from the IMS default.
fn priority_retry(
    c: &Checker<'_>,
    section: &str,
    base: &RetryPolicy,
    s: &PriorityRetryToml,
) -> Result<RetryPolicy, ConfigError> {
    let mut policy = base.clone();
    if let Some(list) = &s.intervals {
        if s.first.is_some() || s.factor.is_some() || s.max_retries.is_some() {
            return Err(c.err(
                section,
                "intervals",
                "give either intervals or first/factor/max_retries, not both",
            ));
        }
        let mut ds = Vec::new();
        for v in list {
            ds.push(
                c.duration(section, "intervals", &Some(v.clone()))?
                    .unwrap_or_default(),
            );
        }
        policy.schedule = RetrySchedule::Intervals(ds);
    } else if s.first.is_some() || s.factor.is_some() || s.max_retries.is_some() {
        if !matches!(policy.schedule, RetrySchedule::Geometric { .. }) {
            policy.schedule = RetryPolicy::ims_default().schedule;
        }
        if let RetrySchedule::Geometric {
            first,
            factor,
            max_retries,
        } = &mut policy.schedule
        {
            if let Some(d) = c.duration(section, "first", &s.first)? {
                *first = d;
            }
            if let Some(f) = s.factor {
                *factor = f;
            }
            if let Some(n) = s.max_retries {
                *max_retries = n;
            }
        }
    }
    if let Some(j) = s.jitter_percent {
        policy.jitter_percent = j;
    }
    let key = if s.intervals.is_some() {
        "intervals"
    } else {
        "first"
    };
    policy
        .validate()
        .map_err(|e| c.err(section, key, e.to_string()))?;
    Ok(policy)
}

fn timeouts(c: &Checker<'_>, s: &TimeoutsToml) -> Result<TimeoutsSection, ConfigError> {
    Ok(TimeoutsSection {
        command: c.secs("timeouts", "command_secs", s.command_secs, 300)?,
        data_block: c.secs("timeouts", "data_block_secs", s.data_block_secs, 180)?,
        data_termination: c.secs(
            "timeouts",
            "data_termination_secs",
            s.data_termination_secs,
            600,
        )?,
        connect: c.secs("timeouts", "connect_secs", s.connect_secs, 30)?,
        greeting: c.secs("timeouts", "greeting_secs", s.greeting_secs, 300)?,
    })
}

fn retry(c: &Checker<'_>, s: &RetryToml) -> Result<RetrySection, ConfigError> {
    let mut queue = QueueConfig::default();
    let mut policy = RetryPolicy::ims_default();
    if let Some(list) = &s.intervals {
        if s.first.is_some() || s.factor.is_some() {
            return Err(c.err(
                "retry",
                "intervals",
                "give either intervals or first/factor, not both",
            ));
        }
        let mut ds = Vec::new();
        for v in list {
            ds.push(
                c.duration("retry", "intervals", &Some(v.clone()))?
                    .unwrap_or_default(),
            );
        }
        policy.schedule = RetrySchedule::Intervals(ds);
    } else if let RetrySchedule::Geometric {
        first,
        factor,
        max_retries,
    } = &mut policy.schedule
    {
        if let Some(d) = c.duration("retry", "first", &s.first)? {
            *first = d;
        }
        if let Some(f) = s.factor {
            *factor = f;
        }
        if let Some(n) = s.max_retries {
            *max_retries = n;
        }
    }
    if let Some(j) = s.jitter_percent {
        policy.jitter_percent = j;
    }
    policy
        .validate()
        .map_err(|e| c.err("retry", "first", e.to_string()))?;
    queue.retry = policy;
    let l: &mut Lifetimes = &mut queue.lifetimes;
    if let Some(d) = c.duration("retry", "urgent_timeout", &s.urgent_timeout)? {
        l.urgent = d;
    }
    if let Some(d) = c.duration("retry", "normal_timeout", &s.normal_timeout)? {
        l.normal = d;
    }
    if let Some(d) = c.duration("retry", "non_urgent_timeout", &s.non_urgent_timeout)? {
        l.non_urgent = d;
    }
    if let Some(d) = c.duration("retry", "notification_timeout", &s.notification_timeout)? {
        l.notification = d;
    }
    if let Some(list) = &s.delay_notices {
        let mut ds = Vec::new();
        for v in list {
            ds.push(
                c.duration("retry", "delay_notices", &Some(v.clone()))?
                    .unwrap_or_default(),
            );
        }
        queue.delay_notices.intervals = ds;
    }
    queue.retry_urgent = s
        .urgent
        .as_ref()
        .map(|p| priority_retry(c, "retry.urgent", &queue.retry, p))
        .transpose()?;
    queue.retry_non_urgent = s
        .non_urgent
        .as_ref()
        .map(|p| priority_retry(c, "retry.non_urgent", &queue.retry, p))
        .transpose()?;
    if let Some(d) = c.duration("retry", "backoff_first", &s.backoff_first)? {
        queue.backoff.initial = d;
    }
    if let Some(d) = c.duration("retry", "backoff_max", &s.backoff_max)? {
        queue.backoff.max = d;
    }
    if queue.backoff.max < queue.backoff.initial {
        return Err(c.err(
            "retry",
            "backoff_max",
            "must not be less than backoff_first",
        ));
    }
    let poll_interval = c
        .duration("retry", "poll_interval", &s.poll_interval)?
        .unwrap_or(Duration::from_secs(1));
    if poll_interval.is_zero() {
        return Err(c.err("retry", "poll_interval", "must be more than 0"));
    }
    let down_expiry = c
        .duration("retry", "down_expiry", &s.down_expiry)?
        .unwrap_or(DEFAULT_DOWN_EXPIRY);
    if down_expiry.is_zero() {
        return Err(c.err("retry", "down_expiry", "must be more than 0"));
    }
    Ok(RetrySection {
        queue,
        poll_interval,
        down_expiry,
    })
}

fn security(c: &Checker<'_>, s: &SecurityToml) -> Result<SecuritySection, ConfigError> {
    if s.tls_cert.is_some() != s.tls_key.is_some() {
        return Err(c.err("security", "tls_cert", "tls_cert and tls_key go together"));
    }
    let mut users = Vec::new();
    for u in &s.user {
        if !u.password_hash.starts_with("$argon2") {
            return Err(c.err(
                "security.user",
                "password_hash",
                format!(
                    "user {:?}: not an Argon2 hash (make one with `postern config hash-password`)",
                    u.name
                ),
            ));
        }
        if argon2::PasswordHash::new(&u.password_hash).is_err() {
            return Err(c.err(
                "security.user",
                "password_hash",
                format!("user {:?}: malformed hash", u.name),
            ));
        }
        users.push(User {
            name: u.name.clone(),
            password_hash: u.password_hash.clone(),
        });
    }
    let relay_networks = s
        .relay_networks
        .iter()
        .flatten()
        .map(|n| c.network("security", "relay_networks", n))
        .collect::<Result<_, _>>()?;
    Ok(SecuritySection {
        tls_cert: s.tls_cert.clone(),
        tls_key: s.tls_key.clone(),
        trusted_roots: s
            .trusted_roots
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_TRUSTED_ROOTS)),
        users,
        auth_without_tls: s.auth_without_tls.unwrap_or(false),
        relay_networks,
        require_auth: s.require_auth.unwrap_or(false),
        auth_limits: auth_limits(c, s)?,
    })
}

/// `[security] auth_*`: the password-guessing limits over their defaults.
fn auth_limits(
    c: &Checker<'_>,
    s: &SecurityToml,
) -> Result<crate::auth_guard::AuthLimits, ConfigError> {
    let d = crate::auth_guard::AuthLimits::default();
    let window = c.duration("security", "auth_failure_window", &s.auth_failure_window)?;
    let delay = c.duration("security", "auth_failure_delay", &s.auth_failure_delay)?;
    let max_delay = c.duration(
        "security",
        "auth_failure_delay_max",
        &s.auth_failure_delay_max,
    )?;
    Ok(crate::auth_guard::AuthLimits {
        max_failures_per_session: s
            .auth_max_failures_per_session
            .unwrap_or(d.max_failures_per_session),
        max_failures_per_client: s
            .auth_max_failures_per_client
            .unwrap_or(d.max_failures_per_client),
        max_failures_per_user: s
            .auth_max_failures_per_user
            .unwrap_or(d.max_failures_per_user),
        window: window.unwrap_or(d.window),
        delay: delay.unwrap_or(d.delay),
        max_delay: max_delay.unwrap_or(d.max_delay),
        max_tracked: d.max_tracked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Config::from_toml_str(text).unwrap_err().to_string()
    }

    #[test]
    fn time_outs_are_bounded() {
        let day = Config::from_toml_str("[timeouts]\ncommand_secs = 86400\n").unwrap();
        assert_eq!(day.timeouts.command, Duration::from_secs(MAX_TIMEOUT_SECS));
        let e = err("[timeouts]\ncommand_secs = 9223372036854775807\n");
        assert!(e.contains("timeouts.command_secs (line 2)"), "{e}");
        assert!(e.contains("at most 86400"), "{e}");
        let e = err("[limits]\nmin_data_rate_window_secs = 86401\n");
        assert!(e.contains("limits.min_data_rate_window_secs"), "{e}");
    }

    #[test]
    fn worker_threads_is_bounded() {
        let one = Config::from_toml_str("[server]\nworker_threads = 1\n").unwrap();
        assert_eq!(one.server.worker_threads, 1);
        let e = err("[server]\nworker_threads = 1025\n");
        assert!(e.contains("server.worker_threads (line 2)"), "{e}");
        let shared = Config::from_toml_str("[server]\nscheduler = \"shared\"\n").unwrap();
        assert_eq!(shared.server.scheduler, Scheduler::Shared);
        let e = err("[server]\nscheduler = \"fast\"\n");
        assert!(e.contains("server.scheduler (line 2)"), "{e}");
    }

    /// A file that names no connector delivers for `localhost` as the embedded default
    /// does; one that names any gets only its own.
    #[test]
    fn no_connector_inherits_the_default_one() {
        let only_listen =
            Config::from_toml_str("[connections]\nlisten = [\"127.0.0.1:2600\"]\n").unwrap();
        assert!(only_listen.inherits_default_connector());
        assert_eq!(
            only_listen.routing.connectors,
            Config::embedded().routing.connectors
        );
        assert!(only_listen.is_local_connector("local"));
        let req = postern_route::RouteRequest::smtp("jo@localhost");
        let route = only_listen.routing.table.route(&req, &()).unwrap();
        assert_eq!(route.first().connector, "local");

        let own = Config::from_toml_str(
            "[[connector]]\nname = \"out\"\n[[connector.address_space]]\npattern = \"example.com\"\n",
        )
        .unwrap();
        assert!(!own.inherits_default_connector());
        assert_eq!(own.routing.connectors.len(), 1);
        assert!(own.routing.table.route(&req, &()).is_err());
        let none = Config::from_toml_str("connector = []\n").unwrap();
        assert!(none.routing.connectors.is_empty());
        assert!(!Config::embedded().inherits_default_connector());
    }

    #[test]
    fn embedded_serves_localhost() {
        let c = Config::embedded();
        assert_eq!(
            c.connections.listen,
            vec!["127.0.0.1:2525".parse().unwrap()]
        );
        assert_eq!(c.server.data_dir, PathBuf::from("./postern-data"));
        assert_eq!(c.server.worker_threads, 0);
        assert_eq!(c.maildir.root, PathBuf::from("./postern-data/mail"));
        assert!(c.is_local_connector("local"));
        assert!(c.security.relay_networks.is_empty());
        assert_eq!(c.limits.max_received_headers, 30);
    }

    #[test]
    fn errors_name_key_and_line() {
        let e = err("[server]\nhostname = \"a\"\n\n[limits]\nmax_recipients = 0\n");
        assert!(
            e.contains("limits.max_recipients") && e.contains("line 5"),
            "{e}"
        );
        let e = err("[connections]\nlisten = [\"nowhere\"]\n");
        assert!(
            e.contains("connections.listen") && e.contains("line 2"),
            "{e}"
        );
        let e = err("[limits]\nmax_colour = 3\n");
        assert!(e.contains("max_colour") && e.contains("line 2"), "{e}");
        let e = err("[[connector]]\nname = \"x\"\nkind = \"fax\"\n");
        assert!(e.contains("fax") && e.contains("line 3"), "{e}");
        let e = err("[security]\ntls_cert = \"a.pem\"\n");
        assert!(e.contains("tls_key"), "{e}");
        let e = err("[[connector]]\nname = \"a\"\nsmart_hosts = [\"bad host\"]\n");
        assert!(e.contains("bad host") && e.contains("line 3"), "{e}");
        let e =
            err("[[connector]]\nname = \"a\"\n[[connector.address_space]]\npattern = \"a..b\"\n");
        assert!(e.contains("a..b") && e.contains("line 4"), "{e}");
        let e = err(
            "[[connector]]\nname = \"a\"\n[[connector.address_space]]\npattern = \"*\"\ncost = 0\n",
        );
        assert!(e.contains("cost") && e.contains("line 5"), "{e}");
    }

    #[test]
    fn unknown_domain_charsets_are_refused() {
        let e = err(
            "[domain_defaults]\ncharset = \"utf-8\"\n\n[[domain]]\npattern = \"a.example\"\ncharset = \"klingon-8\"\n",
        );
        assert!(
            e.contains("domain.charset") && e.contains("line 6") && e.contains("klingon-8"),
            "{e}"
        );
        let e = err("[domain_defaults]\nnon_mime_charset = \"utf-16\"\n");
        assert!(
            e.contains("domain_defaults.non_mime_charset") && e.contains("line 2"),
            "{e}"
        );
        let c = Config::from_toml_str(
            "[[domain]]\npattern = \"*.old.example\"\ncontent_format = \"uuencode\"\n\
             non_mime_charset = \"latin1\"\nunrepresentable = \"transliterate\"\n",
        )
        .unwrap();
        let s = c.routing.domains.lookup("a.old.example");
        assert_eq!(s.non_mime_charset, "latin1");
        assert_eq!(
            s.unrepresentable,
            postern_route::Unrepresentable::Transliterate
        );
        assert_eq!(
            c.routing.domains.lookup("new.example").non_mime_charset,
            "us-ascii"
        );
    }

    #[test]
    fn rules_and_retry() {
        let c = Config::from_toml_str(
            "[connections]\n[[connections.rule]]\nnetwork = \"10.1.2.3/8\"\naction = \"reject\"\n\
             [retry]\nintervals = [\"1s\", \"2s\"]\n",
        )
        .unwrap();
        assert_eq!(
            c.connections.rules[0].network,
            "10.0.0.0/8".parse::<IpNet>().unwrap()
        );
        assert_eq!(
            c.retry.queue.retry.schedule,
            RetrySchedule::Intervals(vec![Duration::from_secs(1), Duration::from_secs(2)])
        );
    }
}
