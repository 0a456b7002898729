//! What every task of a running gateway shares: the state that lives as long as the
//! gateway ([`Context`]) and the settings a reload replaces ([`Live`]).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use postern_queue::{QueueStore, StoreError, Target, Timestamp};
use postern_route::{ConnectorStatus, NextHopResolver};
use postern_track::{Event, EventKind, EventSearch, EventSink};
use tokio::sync::{Notify, watch};

use crate::archive::{Archive, Record};
// The clock is a leaf module: the protocol log reads it without importing the context.
pub use crate::clock::now;
use crate::config::{Config, TransferMode};
use crate::delivery::etrn::EtrnGate;
use crate::policy::ConnectionCounter;
use crate::protolog::ProtocolLog;
use crate::restrict::Restrictions;
use crate::status::Stats;

/// The queue's shared setting that holds the transfer mode an administrator set.
pub const TRANSFER_MODE_SETTING: &str = "transfer_mode";

/// The settings in force: the configuration and what is built from it. A reload
/// ([`crate::Gateway::reload`]) replaces the whole of it at once; whoever holds a
/// snapshot ([`Context::live`]) keeps a consistent set until it lets go.
pub struct Live {
    /// The configuration in force. The settings that only take effect at start
    /// (listeners, data directory, queue, tracking, …) are always those the gateway
    /// started with: a reload carries them over.
    pub config: Config,
    /// The server-side TLS acceptor, when `[security]` has a certificate.
    pub tls_acceptor: Option<tokio_rustls::TlsAcceptor>,
    /// The client-side TLS connector that verifies certificates against
    /// `[security] trusted_roots`; present when some domain has `tls = "verify"`.
    pub tls_verifying: Option<tokio_rustls::TlsConnector>,
    /// Delivery restrictions, compiled.
    pub restrictions: Restrictions,
    /// The next-hop resolver (`None` when `[dns]` names no server).
    pub resolver: Option<NextHopResolver>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("config", &self.config)
            .field("tls", &self.tls_acceptor.is_some())
            .field("tls_verifying", &self.tls_verifying.is_some())
            .field("resolver", &self.resolver.is_some())
            .finish_non_exhaustive()
    }
}

/// The state shared by the listeners, the sessions and the delivery loop for the
/// gateway's whole life. The reloadable settings are behind [`Context::live`]: an
/// inbound session takes one snapshot when it starts and keeps it to the end, a
/// delivery attempt one when it starts, the long-running loops one per round.
pub struct Context {
    /// The settings in force (see [`Context::live`]); set by `Gateway::start`.
    pub(crate) live: RwLock<Arc<Live>>,
    /// The durable queue, on whichever backend `[storage]` names ([`crate::storage`]).
    pub queue: Arc<dyn QueueStore>,
    /// Where tracking events go (`None` when tracking is off).
    pub tracker: Option<Arc<dyn EventSink>>,
    /// Where tracking searches read (`None` when tracking is off).
    pub search: Option<Arc<dyn EventSearch>>,
    /// Connectors currently down (set by the delivery loop when every host of a
    /// connector fails to connect, cleared when one succeeds).
    pub connectors: Mutex<ConnectorStatus>,
    /// Wakes the delivery loop: new mail, or a control request.
    pub wake: Notify,
    /// Becomes `true` when the gateway shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// The client-side TLS connector used for outbound STARTTLS (it trusts no roots,
    /// so nothing in it comes from the configuration).
    pub tls_connector: tokio_rustls::TlsConnector,
    /// Inbound connections, in total and per IP, across every listener.
    pub connection_counter: ConnectionCounter,
    /// The transfer mode in force (changed at run time; see [`Context::set_transfer_mode`]).
    pub transfer_mode: AtomicU8,
    /// The archive, when on.
    pub archive: Option<Archive>,
    /// The protocol log, when on.
    pub protocol_log: Option<Arc<ProtocolLog>>,
    /// Counters and recent events for `postern status` and the metrics endpoint.
    pub stats: Stats,
    /// When each hold-for-ETRN destination last asked for its mail.
    pub etrn: EtrnGate,
    /// Bodies of messages just accepted, for their first delivery.
    pub bodies: crate::bodies::BodyCache,
    /// Failed AUTH counts per client address and user name (password guessing).
    pub auth_guard: crate::auth_guard::AuthGuard,
    /// Recipient verification for accepted domains: the recipients file as last read
    /// and the callout answers (kept across reloads).
    pub verifier: crate::policy::Verifier,
    /// Rejections by reason and the latency histograms ([`crate::metrics::render`]).
    pub metrics: crate::metrics::recorder::Metrics,
    /// Requests from the admin API to the delivery loop and to `serve`.
    pub requests: crate::admin_requests::Requests,
}

impl Context {
    /// A snapshot of the settings in force. Cheap (a lock held for one `Arc` clone);
    /// hold it for as long as the work it serves should see one configuration.
    pub fn live(&self) -> Arc<Live> {
        // A poisoned lock still holds a whole `Arc`: the swap cannot be half done.
        Arc::clone(&self.live.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `live` in force for every snapshot taken from now on; returns the one it
    /// replaces. Snapshots already taken keep the settings they had. Only
    /// [`crate::Gateway::reload`] calls this, after carrying the start-only settings over.
    pub(crate) fn replace_live(&self, live: Live) -> Arc<Live> {
        let mut slot = self.live.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *slot, Arc::new(live))
    }

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

    /// Records the result of writing an archive copy: an `archived` tracking event (its
    /// reason the direction, with the connector for outbound copies, and the message's
    /// Message-ID when `record.body` has one, so `postern track --message-id` finds the
    /// copy), or the error on stderr. One place for both directions.
    pub fn track_archived(
        &self,
        record: &Record<'_>,
        result: std::io::Result<std::path::PathBuf>,
        connector: Option<&str>,
    ) {
        match result {
            Ok(_) => self.track(EventKind::Archived, |e| {
                let e = record
                    .recipients
                    .iter()
                    .fold(e.queue_id(record.queue_id).sender(record.sender), |e, r| {
                        e.recipient(r.as_str())
                    })
                    .reason(record.direction.name());
                let e = match record.message_id() {
                    Some(id) => e.message_id(id),
                    None => e,
                };
                match connector {
                    Some(c) => e.connector(c),
                    None => e,
                }
            }),
            Err(e) => {
                tracing::error!(queue_id = %record.queue_id, "archive of {}: {e}", record.queue_id)
            }
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
    /// (`dequeue = "hold-for-etrn"`) or not, and the delivery loop is woken. Waits for
    /// the queue to record it; returns the number of recipients made due.
    pub async fn etrn(&self, destination: &str) -> Result<usize, StoreError> {
        let now = self.now();
        self.etrn.release(destination, now);
        let n = self
            .queue
            .retry(&Target::Destination(destination.to_owned()), now)
            .await?;
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

    /// Changes the transfer mode for every node sharing the queue: in force here at
    /// once, and kept in the queue's shared settings (`transfer_mode`), where the other
    /// nodes pick it up ([`Context::sync_transfer_mode`]).
    pub async fn change_transfer_mode(&self, mode: TransferMode) -> Result<(), StoreError> {
        self.set_transfer_mode(mode);
        self.queue
            .set_setting(TRANSFER_MODE_SETTING, mode.name())
            .await
    }

    /// Puts in force the transfer mode another node set in the queue's shared settings,
    /// if one did (until then, each node keeps the mode of its configuration). Returns
    /// the mode in force.
    pub async fn sync_transfer_mode(&self) -> TransferMode {
        if let Ok(Some(name)) = self.queue.setting(TRANSFER_MODE_SETTING).await
            && let Some(mode) = TransferMode::from_name(&name)
            && mode != self.transfer_mode()
        {
            self.set_transfer_mode(mode);
            self.wake.notify_one();
        }
        self.transfer_mode()
    }

    /// Whether the gateway is shutting down.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("live", &self.live())
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}
