//! What every task of a running gateway shares.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use postern_queue::{Queue, SpoolError, Target, Timestamp};
use postern_route::{ConnectorStatus, NextHopResolver};
use postern_track::{Event, EventKind, Writer};
use tokio::sync::{Notify, watch};

use crate::archive::Archive;
use crate::config::{Config, TransferMode};
use crate::delivery::etrn::EtrnGate;
use crate::policy::ConnectionCounter;
use crate::protolog::ProtocolLog;
use crate::restrict::Restrictions;
use crate::status::Stats;

/// The state shared by the listeners, the sessions and the delivery loop.
pub struct Context {
    /// The configuration in force.
    pub config: Config,
    /// The durable queue.
    pub queue: Queue,
    /// The tracking log writer (`None` when tracking is off).
    pub tracker: Option<Writer>,
    /// The next-hop resolver (`None` when `[dns]` names no server).
    pub resolver: Option<NextHopResolver>,
    /// Connectors currently down (set by the delivery loop when every host of a
    /// connector fails to connect, cleared when one succeeds).
    pub connectors: Mutex<ConnectorStatus>,
    /// Wakes the delivery loop: new mail, or a control request.
    pub wake: Notify,
    /// Becomes `true` when the gateway shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// The server-side TLS acceptor, when `[security]` has a certificate.
    pub tls_acceptor: Option<tokio_rustls::TlsAcceptor>,
    /// The client-side TLS connector used for outbound STARTTLS.
    pub tls_connector: tokio_rustls::TlsConnector,
    /// The client-side TLS connector that verifies certificates against
    /// `[security] trusted_roots`; present when some domain has `tls = "verify"`.
    pub tls_verifying: Option<tokio_rustls::TlsConnector>,
    /// Inbound connections, in total and per IP, across every listener.
    pub connection_counter: ConnectionCounter,
    /// The transfer mode in force (changed at run time; see [`Context::set_transfer_mode`]).
    pub transfer_mode: AtomicU8,
    /// Delivery restrictions, compiled.
    pub restrictions: Restrictions,
    /// The archive, when on.
    pub archive: Option<Archive>,
    /// The protocol log, when on.
    pub protocol_log: Option<std::sync::Arc<ProtocolLog>>,
    /// Counters and recent events for `postern status` and the metrics endpoint.
    pub stats: Stats,
    /// When each hold-for-ETRN destination last asked for its mail.
    pub etrn: EtrnGate,
}

impl Context {
    /// Milliseconds since the Unix epoch, as the queue counts time.
    pub fn now(&self) -> Timestamp {
        now()
    }

    /// Records a tracking event (time filled in here); tracking failures never stop mail.
    pub fn track(&self, kind: EventKind, build: impl FnOnce(Event) -> Event) {
        if let Some(w) = &self.tracker {
            let event = build(Event::new(w.now(), kind));
            let _ = w.record(event);
        }
    }

    /// The transfer mode in force.
    pub fn transfer_mode(&self) -> TransferMode {
        match self.transfer_mode.load(Ordering::Relaxed) {
            1 => TransferMode::Inbound,
            2 => TransferMode::Outbound,
            3 => TransferMode::None,
            _ => TransferMode::Both,
        }
    }

    /// ETRN for `destination`: the mail queued for it so far becomes due now, held
    /// (`dequeue = "hold-for-etrn"`) or not, and the delivery loop is woken. Blocks on
    /// the queue's fsync; returns the number of recipients made due.
    pub fn etrn(&self, destination: &str) -> Result<usize, SpoolError> {
        let now = self.now();
        self.etrn.release(destination, now);
        let n = self
            .queue
            .retry(&Target::Destination(destination.to_owned()), now)?;
        self.wake.notify_one();
        Ok(n)
    }

    /// Changes the transfer mode; takes effect for the next session and the next
    /// delivery round.
    pub fn set_transfer_mode(&self, mode: TransferMode) {
        let v = match mode {
            TransferMode::Both => 0,
            TransferMode::Inbound => 1,
            TransferMode::Outbound => 2,
            TransferMode::None => 3,
        };
        self.transfer_mode.store(v, Ordering::Relaxed);
    }

    /// Whether the gateway is shutting down.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// Milliseconds since the Unix epoch.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Timestamp(ms)
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config)
            .field("queue", &self.queue)
            .field("tls", &self.tls_acceptor.is_some())
            .finish_non_exhaustive()
    }
}
