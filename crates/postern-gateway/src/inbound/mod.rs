//! SMTP in: the accept loop, connection admission, and one [`ServerSession`] per
//! connection driven over the socket (plain, then TLS after STARTTLS).
//!
//! [`ServerSession`]: postern_smtp::server::ServerSession

mod body;
mod flow;
mod io;
pub mod message;
pub mod rate;
mod session;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use postern_smtp::server::{ServerConfig, ServerSession};
use postern_smtp::{EnhancedCode, Reply};
use postern_track::EventKind;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tracing::Instrument as _;

use crate::config::Config;
use crate::context::Context;
use crate::policy::{ConnectionCounter, CounterRefusal, connection_allowed};

/// Pause after a failed `accept` (out of file descriptors, say) before trying again, so
/// the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// [`serve_listener`] on a socket bound elsewhere, registered with the runtime this runs
/// on (a session runtime of [`crate::gateway::Gateway::start_on`]).
pub async fn serve_std_listener(ctx: Arc<Context>, listener: std::net::TcpListener) {
    match TcpListener::from_std(listener) {
        Ok(l) => serve_listener(ctx, l).await,
        Err(e) => tracing::error!("cannot listen on a session thread: {e}"),
    }
}

/// Accepts connections on `listener` until the gateway shuts down, each in its own task;
/// returns once the listener is closed and every session has ended. Connection limits
/// (`connections.max_connections`, `max_connections_per_ip`) count the sessions of all
/// the gateway's listeners.
pub async fn serve_listener(ctx: Arc<Context>, listener: TcpListener) {
    let counter = ctx.connection_counter.clone();
    let nodelay = Nodelay::of(&listener);
    let mut sessions = JoinSet::new();
    let mut shutdown = ctx.shutdown.clone();
    while !*shutdown.borrow_and_update() {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    nodelay.apply(&stream);
                    // Boxed: the session's future is ~13 KB, and the runtime moves a
                    // task's future (and its finished stage) by value several times
                    // per task; a box makes each of those moves a pointer's.
                    sessions.spawn(Box::pin(connection(ctx.clone(), counter.clone(), stream, peer)));
                }
                Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
            },
            r = shutdown.changed() => if r.is_err() { break },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    drop(listener);
    while sessions.join_next().await.is_some() {}
}

/// One connection: admission by rule and by count, then the SMTP session. The settings
/// in force when it connects serve it to the end, whatever a reload does meanwhile.
async fn connection(
    ctx: Arc<Context>,
    counter: ConnectionCounter,
    mut stream: TcpStream,
    peer: SocketAddr,
) {
    let live = ctx.live();
    let config = &live.config;
    let ip = peer.ip().to_canonical();
    ctx.metrics.connection();
    if !connection_allowed(&config.connections.rules, ip) {
        // KB Q155920: the IMS refuses such hosts at connect.
        let text = format!("{} does not accept mail from you", config.server.hostname);
        refuse(
            &ctx,
            config,
            &mut stream,
            ip,
            Reply::new(521, Some(EnhancedCode::new(5, 3, 2)), &text),
            "connection rule",
        )
        .await;
        return;
    }
    let limits = &config.connections;
    let guard = match counter.try_acquire(ip, limits.max_connections, limits.max_connections_per_ip)
    {
        Ok(g) => g,
        Err(why) => {
            let (text, reason) = match why {
                CounterRefusal::Total => {
                    ("Too many connections, try again later", "max_connections")
                }
                CounterRefusal::PerIp => (
                    "Too many connections from your address, try again later",
                    "max_connections_per_ip",
                ),
            };
            let reply = Reply::new(421, Some(EnhancedCode::new(4, 7, 0)), text);
            refuse(&ctx, config, &mut stream, ip, reply, reason).await;
            return;
        }
    };
    if !ctx.transfer_mode().accepts_inbound() {
        // Transfer mode "outbound" or "none": the IMS refused new inbound sessions.
        let reply = Reply::new(
            421,
            Some(EnhancedCode::new(4, 3, 2)),
            "Not accepting mail now (transfer mode), try again later",
        );
        refuse(&ctx, config, &mut stream, ip, reply, "transfer mode").await;
        return;
    }
    ctx.stats.sessions.fetch_add(1, Ordering::Relaxed);
    ctx.stats.sessions_total.fetch_add(1, Ordering::Relaxed);
    let inbound = session::Inbound::new(ctx.clone(), Arc::clone(&live), peer);
    // Every log line of the session carries its client and its id (the protocol log's).
    let span = tracing::info_span!(
        "session",
        peer = %crate::logging::Addr(peer),
        session = %inbound.id()
    );
    inbound.run(stream).instrument(span).await;
    ctx.stats.sessions.fetch_sub(1, Ordering::Relaxed);
    drop(guard);
}

/// How accepted connections get `TCP_NODELAY`: replies are written whole, one write per
/// turn, so nothing is gained by Nagle's wait for more.
#[derive(Clone, Copy)]
enum Nodelay {
    /// Set on the listener: Linux hands it on to every accepted socket, which saves a
    /// system call a connection.
    Inherited,
    /// Set on each connection (other systems, or a listener that refused it).
    PerConnection,
}

impl Nodelay {
    fn of(listener: &TcpListener) -> Nodelay {
        let sock = socket2::SockRef::from(listener);
        if cfg!(target_os = "linux") && sock.set_tcp_nodelay(true).is_ok() {
            Nodelay::Inherited
        } else {
            Nodelay::PerConnection
        }
    }

    fn apply(self, stream: &TcpStream) {
        if let Nodelay::PerConnection = self {
            let _ = stream.set_nodelay(true);
        }
    }
}

/// Answers `reply` at connect, records the refusal and closes.
async fn refuse(
    ctx: &Context,
    config: &Config,
    stream: &mut TcpStream,
    ip: IpAddr,
    reply: Reply,
    reason: &str,
) {
    tracing::info!(peer = %ip, reason, "connection refused");
    ctx.metrics.rejected(&reason.replace(' ', "_"));
    ctx.track(EventKind::ConnectionRejected, |e| {
        e.remote_ip(ip).reply(reply.text()).reason(reason)
    });
    let mut smtp = ServerSession::new(ServerConfig::new(config.server.hostname.clone()));
    smtp.reject_connection(reply);
    let out = smtp.pending_output().to_vec();
    let write = async {
        stream.write_all(&out).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(config.timeouts.command, write).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_connections_have_nodelay_set_once_on_the_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let nodelay = Nodelay::of(&listener);
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        if cfg!(target_os = "linux") {
            assert!(matches!(nodelay, Nodelay::Inherited));
            assert!(stream.nodelay().unwrap(), "inherited from the listener");
        }
        nodelay.apply(&stream);
        assert!(stream.nodelay().unwrap());
    }
}
