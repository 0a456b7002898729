//! Requests the admin API hands to the task that owns what they change: queue commands
//! to the delivery loop (which knows the connectors' down marks and the ETRN gate),
//! reloads to `serve` (which knows the configuration file). Channels, not files: the
//! answer comes back on a oneshot as soon as the request is applied.

use std::sync::{Mutex, PoisonError};

use postern_queue::control::Command;
use tokio::sync::{mpsc, oneshot};

/// Requests waiting at most this many at once per kind; more wait to be sent.
const QUEUED: usize = 64;

/// A queue command and where its answer goes (`ok: …` or `error: …`).
#[derive(Debug)]
pub struct ControlRequest {
    /// The command.
    pub command: Command,
    /// The answer line.
    pub answer: oneshot::Sender<String>,
}

/// A reload request: the answer is whether it took, and the line the gateway printed.
pub type ReloadRequest = oneshot::Sender<(bool, String)>;

/// Both channels. The receivers are taken once, by the tasks that serve them.
#[derive(Debug)]
pub struct Requests {
    control: mpsc::Sender<ControlRequest>,
    control_rx: Mutex<Option<mpsc::Receiver<ControlRequest>>>,
    reload: mpsc::Sender<ReloadRequest>,
    reload_rx: Mutex<Option<mpsc::Receiver<ReloadRequest>>>,
}

impl Default for Requests {
    fn default() -> Requests {
        Requests::new()
    }
}

impl Requests {
    /// Fresh channels.
    pub fn new() -> Requests {
        let (control, c) = mpsc::channel(QUEUED);
        let (reload, r) = mpsc::channel(QUEUED);
        Requests {
            control,
            control_rx: Mutex::new(Some(c)),
            reload,
            reload_rx: Mutex::new(Some(r)),
        }
    }

    /// The queue commands' receiver (the delivery loop takes it when it starts).
    pub fn take_control(&self) -> Option<mpsc::Receiver<ControlRequest>> {
        self.control_rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// The reload requests' receiver (`serve` takes it).
    pub fn take_reload(&self) -> Option<mpsc::Receiver<ReloadRequest>> {
        self.reload_rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Sends `command` to the delivery loop; `None` when nothing serves it.
    pub async fn control(&self, command: Command) -> Option<String> {
        // Nobody took the receiver: no delivery loop runs to apply it.
        if self
            .control_rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
        {
            return None;
        }
        let (answer, rx) = oneshot::channel();
        self.control
            .send(ControlRequest { command, answer })
            .await
            .ok()?;
        rx.await.ok()
    }

    /// Asks `serve` to reload; `None` when nothing serves it (an embedded gateway).
    pub async fn reload(&self) -> Option<(bool, String)> {
        // Nobody took the receiver: no `serve` loop, no file to re-read.
        if self
            .reload_rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
        {
            return None;
        }
        let (answer, rx) = oneshot::channel();
        self.reload.send(answer).await.ok()?;
        rx.await.ok()
    }
}
