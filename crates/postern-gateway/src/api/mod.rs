//! The admin API: a versioned JSON API (`/api/v1/…`) on `[admin] listen`, for
//! `postern` subcommands and the web console (`/console/`, `console`) served from
//! the same origin.
//!
//! Reads are open on a loopback address or a Unix socket; writes (`POST`, `PUT`,
//! `DELETE`) need `Authorization: Bearer TOKEN`, the token being the content of
//! `[admin] token_file` (created with mode 0600 when missing). A bearer header, not a
//! cookie: a page from another origin cannot make a browser send it, so no CSRF.
//! Errors are JSON ([`model::ApiError`]) with their status code.

pub mod client;
mod console;
pub mod gwart;
pub mod history;
pub mod model;
pub use crate::admin_requests as requests;
mod routes;
pub mod token;
pub mod views;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use requests::Requests;

use crate::context::Context;

/// The file the gateway writes its admin API address in at start (`127.0.0.1:PORT` or
/// `unix:PATH`), so the command line finds a port chosen by the system.
pub fn address_file(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("admin.address")
}

/// A bound admin listener.
#[derive(Debug)]
pub enum Listener {
    /// A TCP port.
    Tcp(tokio::net::TcpListener),
    /// A Unix socket.
    Unix(tokio::net::UnixListener, PathBuf),
}

impl Listener {
    /// Binds what `[admin] listen` names; `None` when it is off.
    pub async fn bind(listen: &crate::config::AdminListen) -> std::io::Result<Option<Listener>> {
        use crate::config::AdminListen;
        Ok(match listen {
            AdminListen::Off => None,
            AdminListen::Tcp(a) => Some(Listener::Tcp(tokio::net::TcpListener::bind(a).await?)),
            AdminListen::Unix(p) => {
                // A socket left by a gateway that stopped: bind refuses an existing path.
                if std::fs::symlink_metadata(p)
                    .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
                {
                    let _ = std::fs::remove_file(p);
                }
                Some(Listener::Unix(
                    tokio::net::UnixListener::bind(p)?,
                    p.clone(),
                ))
            }
        })
    }

    /// The TCP address, when it is one.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok(),
            Listener::Unix(..) => None,
        }
    }

    /// What [`address_file`] holds.
    pub fn describe(&self) -> String {
        match self {
            Listener::Tcp(l) => l.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            Listener::Unix(_, p) => format!("unix:{}", p.display()),
        }
    }

    /// Whether reads may go without a token: a loopback address or a Unix socket.
    fn local(&self) -> bool {
        self.tcp_addr().is_none_or(|a| a.ip().is_loopback())
    }
}

/// Readies `listener` to serve: writes [`address_file`] and returns the write token
/// ([`token::load_or_create`]). Called at start, before the gateway says it runs, so
/// the command line finds both as soon as it does.
pub fn prepare(config: &crate::config::Config, listener: &Listener) -> std::io::Result<String> {
    let token = token::load_or_create(&config.admin_api.token_file)?;
    std::fs::write(
        address_file(&config.server.data_dir),
        format!("{}\n", listener.describe()),
    )?;
    Ok(token)
}

/// Serves the API on `listener` until the gateway shuts down. `token` guards writes.
pub async fn serve(ctx: Arc<Context>, listener: Listener, token: String) {
    let history = Arc::new(history::Ring::new(history::CAPACITY));
    tokio::spawn(history::run(Arc::clone(&ctx), Arc::clone(&history)));
    let state = routes::ApiState {
        ctx: Arc::clone(&ctx),
        token: Arc::from(token),
        open_reads: listener.local(),
        history,
    };
    let app = routes::router(state);
    let mut shutdown = ctx.shutdown.clone();
    let stop = async move {
        while !*shutdown.borrow() {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
    };
    let r = match listener {
        Listener::Tcp(l) => axum::serve(l, app).with_graceful_shutdown(stop).await,
        Listener::Unix(l, _) => axum::serve(l, app).with_graceful_shutdown(stop).await,
    };
    if let Err(e) = r {
        eprintln!("postern: admin API: {e}");
    }
}
