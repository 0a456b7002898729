//! Starting and stopping a gateway: open the spool and the tracking log, bind the
//! listeners, run the delivery loop; on shutdown stop accepting, let sessions and
//! deliveries finish within a grace period, and abort the rest (a message not yet
//! acknowledged is the client's to retry; one not yet delivered stays in the spool).
//!
//! [`Gateway::reload`] puts a new configuration in force without a restart (`postern
//! serve` calls it on SIGHUP): new sessions and delivery attempts get it, those under way
//! keep the settings they started with. What is built once at start (listeners, spool,
//! tracking log, …) stays as it was; the [`ReloadReport`] names what would need a
//! restart.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use postern_route::{ConnectorStatus, TlsPolicy};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::config::{Config, ConfigError};
use crate::context::{Context, Live};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A data directory could not be created.
    #[error("cannot create {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The spool could not be opened (or is in use by another gateway).
    #[error("spool: {0}")]
    Spool(#[from] postern_queue::SpoolError),
    /// The storage `[storage]` names could not be opened (the queue's backend, the
    /// tracking log; see [`crate::storage`]).
    #[error("storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
    /// The tracking log could not be opened.
    #[error("tracking log: {0}")]
    Tracking(#[from] postern_track::TrackError),
    /// The TLS certificate or key could not be loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Why a reload was refused. Nothing changed: the settings in force stay.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// A file the new configuration names (TLS certificate or key, trusted roots) could
    /// not be loaded; the error names the key and its line.
    #[error("{0}")]
    Settings(ConfigError),
}

/// What a successful reload did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReloadReport {
    /// The settings that only take effect at start and that the new configuration
    /// changes, by name (`connections.listen`, `retry`, …). They stay as the gateway
    /// started until it is restarted; everything else is in force.
    pub needs_restart: Vec<&'static str>,
}

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    ctx: Arc<Context>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    local_addrs: Vec<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    recovered: usize,
    admin_addr: Option<SocketAddr>,
}

/// Binds the admin API's listener (before the data directory, like the SMTP ports).
async fn bind_admin(
    listen: &crate::config::AdminListen,
) -> Result<Option<crate::api::Listener>, StartError> {
    use crate::config::AdminListen;
    crate::api::Listener::bind(listen)
        .await
        .map_err(|source| match listen {
            AdminListen::Tcp(addr) => StartError::Listen {
                addr: *addr,
                source,
            },
            AdminListen::Unix(path) => StartError::DataDir {
                path: path.clone(),
                source,
            },
            AdminListen::Off => StartError::DataDir {
                path: std::path::PathBuf::new(),
                source,
            },
        })
}

fn mkdir(path: &std::path::Path) -> Result<(), StartError> {
    let fail = |source| StartError::DataDir {
        path: path.to_owned(),
        source,
    };
    if path.exists() && !path.is_dir() {
        // create_dir_all would only say "File exists": say what is wrong.
        return Err(fail(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "it exists and is not a directory",
        )));
    }
    std::fs::create_dir_all(path).map_err(fail)
}

impl Gateway {
    /// Opens the spool and the tracking log, binds every listener, logs the start-up
    /// line ([`Gateway::startup_line`], through `tracing`) and starts the delivery loop.
    /// Must be called inside a tokio runtime; everything runs on it.
    pub async fn start(config: Config) -> Result<Gateway, StartError> {
        Gateway::start_on(config, &[]).await
    }

    /// As [`start`](Self::start), with inbound sessions also on `session_runtimes`: each
    /// listen address is bound once for the current runtime and once for each of them
    /// (`SO_REUSEPORT`, see [`crate::listeners`]), and a session runs on the runtime
    /// whose socket accepted it. Deliveries, timers of the queue and the admin tasks stay
    /// on the current runtime. `postern serve` passes one single-thread runtime per
    /// further thread (`[server] scheduler = "per_thread"`).
    pub async fn start_on(
        config: Config,
        session_runtimes: &[tokio::runtime::Handle],
    ) -> Result<Gateway, StartError> {
        // Built first and from a copy, so that a bad certificate fails before any
        // directory or socket is touched.
        let live = live_settings(config.clone()).map_err(|e| StartError::Tls(e.to_string()))?;
        // The ports next, before anything is created on disk: a port in use (another
        // gateway, a typo) leaves no data directory behind.
        let mut listeners = Vec::new();
        let mut elsewhere = Vec::new();
        for &addr in &config.connections.listen {
            let fail = |source| StartError::Listen { addr, source };
            let backlog = config.connections.listen_backlog;
            let mut group = crate::listeners::bind_group(addr, backlog, 1 + session_runtimes.len())
                .map_err(fail)?
                .into_iter();
            listeners.extend(group.next());
            for (l, rt) in group.zip(session_runtimes) {
                elsewhere.push((l.into_std().map_err(fail)?, rt.clone()));
            }
        }
        let metrics = match config.status.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Listen { addr, source })?,
            ),
            None => None,
        };
        let admin = bind_admin(&config.admin_api.listen).await?;
        mkdir(&config.server.data_dir)?;
        mkdir(&config.maildir.root)?;
        let admin_token = match &admin {
            Some(l) => {
                Some(
                    crate::api::prepare(&config, l).map_err(|source| StartError::DataDir {
                        path: config.admin_api.token_file.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        // A pickup or archive folder that cannot be one is refused now, not found out
        // later (a pickup never read, every archive copy lost).
        if config.pickup.enabled {
            mkdir(&config.pickup.dir)?;
        }
        if config.archive.enabled {
            mkdir(&config.archive.dir)?;
        }
        if config.tracking.enabled {
            mkdir(&config.tracking.dir)?;
        }
        let storage = crate::storage::open(&config).await?;
        let protocol_log = if config.protocol_log.enabled {
            Some(
                crate::protolog::ProtocolLog::open(&config.protocol_log.dir).map_err(|source| {
                    StartError::DataDir {
                        path: config.protocol_log.dir.clone(),
                        source,
                    }
                })?,
            )
        } else {
            None
        };
        let local_addrs = listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect();
        let (stop, shutdown) = watch::channel(false);
        let ctx = Arc::new(Context {
            live: RwLock::new(Arc::new(live)),
            queue: storage.queue,
            tracker: storage.tracker,
            search: storage.search,
            connectors: Mutex::new(ConnectorStatus::new()),
            wake: Notify::new(),
            shutdown,
            tls_connector: crate::tls::client_connector(),
            connection_counter: crate::policy::ConnectionCounter::new(),
            transfer_mode: std::sync::atomic::AtomicU8::new(0),
            archive: crate::archive::Archive::from_config(&config.archive),
            protocol_log,
            stats: crate::status::Stats::default(),
            etrn: crate::delivery::etrn::EtrnGate::new(),
            bodies: crate::bodies::BodyCache::new(),
            auth_guard: crate::auth_guard::AuthGuard::new(),
            verifier: crate::policy::Verifier::new(),
            metrics: crate::metrics::recorder::Metrics::default(),
            requests: crate::api::Requests::new(),
        });
        ctx.set_transfer_mode(config.transfer_mode);
        let metrics_addr = metrics.as_ref().and_then(|m| m.local_addr().ok());
        let admin_addr = admin.as_ref().and_then(crate::api::Listener::tcp_addr);
        let mut gw = Gateway {
            ctx,
            stop,
            tasks: JoinSet::new(),
            local_addrs,
            metrics_addr,
            recovered: storage.recovered,
            admin_addr,
        };
        // The start-up line is the first line the gateway logs (README; tools read the
        // address from it), so it goes out before any task that could log is started: a
        // recovered message's delivery once came first on a busy machine.
        tracing::info!(target: crate::logging::LIFECYCLE, "{}", crate::logging::message(&gw.startup_line()));
        let (ctx, tasks) = (&gw.ctx, &mut gw.tasks);
        for l in listeners {
            tasks.spawn(crate::inbound::serve_listener(ctx.clone(), l));
        }
        for (l, rt) in elsewhere {
            tasks.spawn_on(crate::inbound::serve_std_listener(ctx.clone(), l), &rt);
        }
        // Taken here, before any task runs: the admin API answers "not running" while
        // the receiver is still untaken (a race the admin test once lost on a busy CI).
        let control = ctx.requests.take_control();
        tasks.spawn(crate::delivery::run(ctx.clone(), control));
        tasks.spawn(crate::admin::run(ctx.clone()));
        tasks.spawn(crate::compaction::run(ctx.clone(), config.spool.clone()));
        tasks.spawn(crate::retention::run(ctx.clone()));
        if let Some(m) = metrics {
            tasks.spawn(crate::admin::serve_metrics(ctx.clone(), m));
        }
        if let (Some(l), Some(token)) = (admin, admin_token) {
            tasks.spawn(crate::api::serve(ctx.clone(), l, token));
        }
        Ok(gw)
    }

    /// The addresses the listeners are bound to (useful with port 0).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The metrics endpoint's address, when `[status] metrics_listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The admin API's TCP address, when `[admin] listen` is one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The shared state.
    pub fn context(&self) -> &Arc<Context> {
        &self.ctx
    }

    /// Puts `new` in force: new inbound sessions and delivery attempts use it, those
    /// under way finish with the settings they started with. The TLS acceptor, the
    /// verifying connector, the restrictions and the resolver are built from `new`
    /// first; if any of that fails, nothing changes. Settings that only take effect at
    /// start are carried over from the running configuration, and named in the report
    /// when `new` differs. The transfer mode in force is left as it is.
    pub fn reload(&self, mut new: Config) -> Result<ReloadReport, ReloadError> {
        let running = self.ctx.live();
        let needs_restart = carry_start_only(&running.config, &mut new);
        let live = live_settings(new)?;
        self.ctx.replace_live(live);
        Ok(ReloadReport { needs_restart })
    }

    /// The start-up line: what it listens on and where the data goes.
    pub fn startup_line(&self) -> String {
        let addrs: Vec<String> = self.local_addrs.iter().map(ToString::to_string).collect();
        let config = &self.ctx.live().config;
        // On PostgreSQL the queue and the tracking log are the cluster's, not a directory.
        let shared = config.storage.backend == crate::storage_settings::Backend::Postgres;
        let spool = if shared {
            format!("postgres (node {})", config.storage.node)
        } else {
            config.spool_dir().display().to_string()
        };
        let tracking = match (&self.ctx.tracker, shared) {
            (None, _) => "off".to_owned(),
            (Some(_), true) => "postgres".to_owned(),
            (Some(_), false) => config.tracking.dir.display().to_string(),
        };
        format!(
            "postern: listening on {} as {}; spool {spool}, mail {}, tracking {tracking}; {} message(s) recovered",
            addrs.join(", "),
            config.server.hostname,
            config.maildir.root.display(),
            self.recovered,
        )
    }

    /// Stops accepting, gives sessions and deliveries `grace` to finish, aborts the rest,
    /// and flushes the tracking log.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        self.ctx.wake.notify_waiters();
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, drain).await.is_err() {
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
        if let Some(w) = &self.ctx.tracker {
            let _ = w.flush();
        }
    }
}

/// The settings built from `config`: TLS acceptor, verifying connector, restrictions,
/// resolver. Reads the TLS files; errors name the key and its line.
fn live_settings(config: Config) -> Result<Live, ReloadError> {
    let tls_acceptor = match (&config.security.tls_cert, &config.security.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::server_acceptor(cert, key).map_err(|why| {
            // The error names the file at fault: the key's, or else the certificate's.
            let name = if why.starts_with(&key.display().to_string()) {
                "tls_key"
            } else {
                "tls_cert"
            };
            ReloadError::Settings(config.value_error("security", name, why))
        })?),
        _ => None,
    };
    // Roots are read only when a domain needs them: a gateway that never verifies
    // must not fail for want of a CA bundle.
    let tls_verifying = if config.routing.domains.uses_tls(TlsPolicy::Verify) {
        let roots = &config.security.trusted_roots;
        Some(crate::tls::verifying_connector(roots).map_err(|why| {
            ReloadError::Settings(config.value_error("security", "trusted_roots", why))
        })?)
    } else {
        None
    };
    Ok(Live {
        tls_acceptor,
        tls_verifying,
        restrictions: crate::restrict::Restrictions::new(&config.restrictions),
        resolver: config.routing.next_hop_resolver(),
        config,
    })
}

/// Copies what only takes effect at start from `running` into `new`, and names what
/// `new` wanted changed. These are built once by [`Gateway::start`] (listeners, spool
/// and its retry policy, tracking log, archive, protocol log, metrics endpoint) or by
/// the delivery loop when it starts (outbound connection limits and pool).
fn carry_start_only(running: &Config, new: &mut Config) -> Vec<&'static str> {
    follow_data_dir(&running.server.data_dir, new);
    let mut changed = Vec::new();
    let (r, n, c) = (running, new, &mut changed);
    carry(
        "server.data_dir",
        &r.server.data_dir,
        &mut n.server.data_dir,
        c,
    );
    // The threads `postern serve` started with.
    carry(
        "server.worker_threads",
        &r.server.worker_threads,
        &mut n.server.worker_threads,
        c,
    );
    carry(
        "server.scheduler",
        &r.server.scheduler,
        &mut n.server.scheduler,
        c,
    );
    carry(
        "connections.listen",
        &r.connections.listen,
        &mut n.connections.listen,
        c,
    );
    let (rc, nc) = (&r.connections, &mut n.connections);
    carry(
        "connections.max_outbound_connections",
        &rc.max_outbound_connections,
        &mut nc.max_outbound_connections,
        c,
    );
    carry(
        "connections.max_connections_per_destination",
        &rc.max_connections_per_destination,
        &mut nc.max_connections_per_destination,
        c,
    );
    carry(
        "connections.messages_per_connection",
        &rc.messages_per_connection,
        &mut nc.messages_per_connection,
        c,
    );
    carry(
        "connections.idle_connection_secs",
        &rc.idle_connection_time,
        &mut nc.idle_connection_time,
        c,
    );
    carry("retry", &r.retry, &mut n.retry, c);
    carry("tracking", &r.tracking, &mut n.tracking, c);
    carry("protocol_log", &r.protocol_log, &mut n.protocol_log, c);
    carry("archive", &r.archive, &mut n.archive, c);
    carry("status.metrics_listen", &r.status, &mut n.status, c);
    carry("admin", &r.admin_api, &mut n.admin_api, c);
    carry("spool", &r.spool, &mut n.spool, c);
    // The subscriber is installed once, by `postern serve`.
    carry("log", &r.log, &mut n.log, c);
    // The mode at start-up; the mode in force is changed with `postern transfer-mode`.
    carry("transfer.mode", &r.transfer_mode, &mut n.transfer_mode, c);
    changed
}

/// Points the directories `new` leaves at their defaults (`DATA_DIR/mail`, …) under the
/// data directory in force, `running`: until a restart moves the data directory, the
/// Maildir folders, the pickup folder, the logs and the admin token stay beside the spool.
fn follow_data_dir(running: &Path, new: &mut Config) {
    let asked = new.server.data_dir.clone();
    let dirs = [
        (&mut new.maildir.root, "mail"),
        (&mut new.pickup.dir, "pickup"),
        (&mut new.tracking.dir, "tracking"),
        (&mut new.archive.dir, "archive"),
        (&mut new.protocol_log.dir, "protocol"),
        (&mut new.admin_api.token_file, "admin.token"),
    ];
    for (dir, leaf) in dirs {
        if *dir == asked.join(leaf) {
            *dir = running.join(leaf);
        }
    }
}

/// `*new = running.clone()`, noting `name` in `changed` when they differed.
fn carry<T: PartialEq + Clone>(
    name: &'static str,
    running: &T,
    new: &mut T,
    changed: &mut Vec<&'static str>,
) {
    if running != new {
        changed.push(name);
        new.clone_from(running);
    }
}

/// Runs a gateway until SIGINT or SIGTERM, printing the start-up line on stderr. On
/// SIGHUP it reads `path` again and reloads it ([`Gateway::reload`]), saying on stderr
/// what came of it; a file that is refused leaves the settings in force, and the gateway
/// runs on. With no `path` (the embedded configuration) there is nothing to re-read.
pub async fn serve(config: Config, path: Option<&Path>, grace: Duration) -> Result<(), StartError> {
    serve_on(config, path, grace, &[]).await
}

/// As [`serve`], with inbound sessions also on `session_runtimes` ([`Gateway::start_on`]).
pub async fn serve_on(
    config: Config,
    path: Option<&Path>,
    grace: Duration,
    session_runtimes: &[tokio::runtime::Handle],
) -> Result<(), StartError> {
    // Before anything else, so that a signal sent once the start-up line is out finds
    // its handler (SIGHUP's default would end the process).
    let mut signals = Signals::new();
    let inherited = path.filter(|_| config.inherits_default_connector());
    let gw = Gateway::start_on(config, session_runtimes).await?;
    // Reloads asked for through the admin API (`postern reload`).
    let mut reloads = gw.ctx.requests.take_reload();
    // The start-up line is already out: `Gateway::start` logs it before its tasks start.
    if let Some(p) = inherited {
        let note = inherited_connector_note(p);
        tracing::info!(target: crate::logging::LIFECYCLE, "{}", crate::logging::message(&note));
    }
    loop {
        tokio::select! {
            wanted = signals.next() => match wanted {
                Wanted::Stop => break,
                Wanted::Reload => log_reload(&reload_from(&gw, path)),
            },
            Some(answer) = async { reloads.as_mut()?.recv().await } => {
                let line = reload_from(&gw, path);
                log_reload(&line);
                let _ = answer.send((line.starts_with("postern: reloaded"), line));
            }
        }
    }
    tracing::info!(target: crate::logging::LIFECYCLE, "shutting down");
    gw.shutdown(grace).await;
    tracing::info!(target: crate::logging::LIFECYCLE, "stopped");
    Ok(())
}

/// Logs what came of a reload: a refusal as a warning.
fn log_reload(line: &str) {
    let text = crate::logging::message(line);
    if text.contains(" refused: ") {
        tracing::warn!(target: crate::logging::LIFECYCLE, "{text}");
    } else {
        tracing::info!(target: crate::logging::LIFECYCLE, "{text}");
    }
}

/// What `serve` and `config check` say when a file names no `[[connector]]`.
pub fn inherited_connector_note(path: &Path) -> String {
    format!(
        "postern: {} names no [[connector]]: using the default connector \"local\" \
         (mail for localhost into Maildir folders); add a [[connector]] to route otherwise",
        path.display()
    )
}

/// Reloads `path` into `gw`; the line to print about it.
fn reload_from(gw: &Gateway, path: Option<&Path>) -> String {
    let Some(path) = path else {
        return "postern: reload: no -c file, the embedded configuration stays in force".to_owned();
    };
    let reloaded = Config::load(path)
        .map_err(|e| e.to_string())
        .and_then(|config| gw.reload(config).map_err(|e| e.to_string()));
    match reloaded {
        Ok(r) if r.needs_restart.is_empty() => format!("postern: reloaded {}", path.display()),
        Ok(r) => format!(
            "postern: reloaded {} (restart needed for: {})",
            path.display(),
            r.needs_restart.join(", ")
        ),
        Err(e) => format!("postern: reload of {} refused: {e}", path.display()),
    }
}

/// What a signal asks for.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    /// SIGINT or SIGTERM.
    Stop,
    /// SIGHUP.
    Reload,
}

/// The signals `serve` listens to, registered once.
struct Signals {
    // Listeners that live as long as `serve`, so a signal that arrives while `next` is
    // not being polled (during a reload, between two polls) is kept, not lost.
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals {
                int: signal(SignalKind::interrupt()).ok(),
                term: signal(SignalKind::terminate()).ok(),
                hup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Waits for the next signal.
    async fn next(&mut self) -> Wanted {
        #[cfg(unix)]
        {
            tokio::select! {
                () = recv(&mut self.int) => Wanted::Stop,
                () = recv(&mut self.term) => Wanted::Stop,
                () = recv(&mut self.hup) => Wanted::Reload,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Wanted::Stop
        }
    }
}

/// The next delivery of `signal`; never, if it could not be registered or has ended.
#[cfg(unix)]
async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
    if let Some(s) = signal.as_mut()
        && s.recv().await.is_some()
    {
        return;
    }
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_only_settings_are_carried_and_named() {
        let running = Config::embedded();
        let mut new = Config::from_toml_str(
            "[server]\nhostname = \"new.test\"\ndata_dir = \"/elsewhere\"\n\
             worker_threads = 3\nscheduler = \"shared\"\n\
             [connections]\nmax_connections = 7\nmessages_per_connection = 3\n\
             [retry]\npoll_interval = \"5s\"\n[transfer]\nmode = \"none\"\n",
        )
        .unwrap();
        let changed = carry_start_only(&running, &mut new);
        assert_eq!(
            changed,
            [
                "server.data_dir",
                "server.worker_threads",
                "server.scheduler",
                "connections.messages_per_connection",
                "retry",
                "transfer.mode"
            ]
        );
        assert_eq!(new.server.data_dir, running.server.data_dir);
        assert_eq!(new.server.worker_threads, running.server.worker_threads);
        assert_eq!(new.server.scheduler, running.server.scheduler);
        assert_eq!(new.retry, running.retry);
        // Directories left at their defaults stay under the data directory in force.
        assert_eq!(new.maildir.root, running.maildir.root);
        assert_eq!(new.tracking, running.tracking);
        // What reloads is taken.
        assert_eq!(new.server.hostname, "new.test");
        assert_eq!(new.connections.max_connections, 7);
    }
}
