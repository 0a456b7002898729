//! Starting and stopping a gateway: open the spool and the tracking log, bind the
//! listeners, run the delivery loop; on shutdown stop accepting, let sessions and
//! deliveries finish within a grace period, and abort the rest (a message not yet
//! acknowledged is the client's to retry; one not yet delivered stays in the spool).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postern_queue::Queue;
use postern_route::{ConnectorStatus, TlsPolicy};
use postern_track::{Writer, WriterConfig};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::context::{Context, now};

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

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    ctx: Arc<Context>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    local_addrs: Vec<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    recovered: usize,
}

fn mkdir(path: &std::path::Path) -> Result<(), StartError> {
    std::fs::create_dir_all(path).map_err(|source| StartError::DataDir {
        path: path.to_owned(),
        source,
    })
}

impl Gateway {
    /// Opens the spool and the tracking log, binds every listener and starts the
    /// delivery loop. Must be called inside a tokio runtime.
    pub async fn start(config: Config) -> Result<Gateway, StartError> {
        mkdir(&config.server.data_dir)?;
        mkdir(&config.maildir.root)?;
        let (queue, recovered) =
            Queue::open(config.spool_dir(), config.retry.queue.clone(), now())?;
        let tracker = if config.tracking.enabled {
            mkdir(&config.tracking.dir)?;
            let mut wc = WriterConfig::new(&config.tracking.dir);
            wc.retention.max_age_days =
                (config.tracking.retention_days > 0).then_some(config.tracking.retention_days);
            Some(Writer::open(wc)?)
        } else {
            None
        };
        let tls_acceptor = match (&config.security.tls_cert, &config.security.tls_key) {
            (Some(cert), Some(key)) => {
                Some(crate::tls::server_acceptor(cert, key).map_err(StartError::Tls)?)
            }
            _ => None,
        };
        // Roots are read only when a domain needs them: a gateway that never verifies
        // must not fail to start for want of a CA bundle.
        let tls_verifying = if config.routing.domains.uses_tls(TlsPolicy::Verify) {
            Some(
                crate::tls::verifying_connector(&config.security.trusted_roots)
                    .map_err(StartError::Tls)?,
            )
        } else {
            None
        };
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
        let mut listeners = Vec::new();
        for &addr in &config.connections.listen {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Listen { addr, source })?;
            listeners.push(l);
        }
        let metrics = match config.status.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Listen { addr, source })?,
            ),
            None => None,
        };
        let local_addrs = listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect();
        let (stop, shutdown) = watch::channel(false);
        let ctx = Arc::new(Context {
            resolver: config.routing.next_hop_resolver(),
            queue,
            tracker,
            connectors: Mutex::new(ConnectorStatus::new()),
            wake: Notify::new(),
            shutdown,
            tls_acceptor,
            tls_connector: crate::tls::client_connector(),
            tls_verifying,
            connection_counter: crate::policy::ConnectionCounter::new(),
            transfer_mode: std::sync::atomic::AtomicU8::new(0),
            restrictions: crate::restrict::Restrictions::new(&config.restrictions),
            archive: crate::archive::Archive::from_config(&config.archive),
            protocol_log,
            stats: crate::status::Stats::default(),
            etrn: crate::delivery::etrn::EtrnGate::new(),
            config,
        });
        ctx.set_transfer_mode(ctx.config.transfer_mode);
        let metrics_addr = metrics.as_ref().and_then(|m| m.local_addr().ok());
        let mut tasks = JoinSet::new();
        for l in listeners {
            tasks.spawn(crate::inbound::serve_listener(ctx.clone(), l));
        }
        tasks.spawn(crate::delivery::run(ctx.clone()));
        tasks.spawn(crate::admin::run(ctx.clone()));
        if let Some(m) = metrics {
            tasks.spawn(crate::admin::serve_metrics(ctx.clone(), m));
        }
        Ok(Gateway {
            ctx,
            stop,
            tasks,
            local_addrs,
            metrics_addr,
            recovered: recovered.messages.len(),
        })
    }

    /// The addresses the listeners are bound to (useful with port 0).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The metrics endpoint's address, when `[status] metrics_listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The shared state.
    pub fn context(&self) -> &Arc<Context> {
        &self.ctx
    }

    /// The start-up line: what it listens on and where the data goes.
    pub fn startup_line(&self) -> String {
        let addrs: Vec<String> = self.local_addrs.iter().map(ToString::to_string).collect();
        format!(
            "postern: listening on {} as {}; spool {}, mail {}, tracking {}; {} message(s) recovered",
            addrs.join(", "),
            self.ctx.config.server.hostname,
            self.ctx.config.spool_dir().display(),
            self.ctx.config.maildir.root.display(),
            if self.ctx.tracker.is_some() {
                self.ctx.config.tracking.dir.display().to_string()
            } else {
                "off".to_owned()
            },
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

/// Runs a gateway until SIGINT or SIGTERM, printing the start-up line on stderr.
pub async fn serve(config: Config, grace: Duration) -> Result<(), StartError> {
    let gw = Gateway::start(config).await?;
    eprintln!("{}", gw.startup_line());
    wait_for_signal().await;
    eprintln!("postern: shutting down");
    gw.shutdown(grace).await;
    eprintln!("postern: stopped");
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
