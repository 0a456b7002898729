//! [`Listener`]: one connection that `LISTEN`s to a channel and wakes waiters on every
//! notification; reconnected after a loss (waiters are woken then too, since changes may
//! have been missed meanwhile).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::AsyncMessage;

use crate::db::Db;
use crate::error::PgError;

/// How long to wait before reconnecting a lost listening connection.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Wakes waiters when the channel is notified. Stops listening when dropped.
#[derive(Debug)]
pub struct Listener {
    notify: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Starts listening to `channel`; fails if the first connection does.
    pub async fn start(db: Arc<Db>, channel: &str) -> Result<Listener, PgError> {
        let notify = Arc::new(Notify::new());
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(run(db, channel.to_owned(), Arc::clone(&notify), ready_tx));
        match ready_rx.await {
            Ok(Ok(())) => Ok(Listener { notify, task }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(PgError::Unavailable("listener stopped".into())),
        }
    }

    /// Resolves at the next notification (or one that came since the last wait).
    pub async fn wait(&self) {
        self.notify.notified().await;
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Keeps a listening session up: after a loss, wakes the waiters and reconnects.
async fn run(
    db: Arc<Db>,
    channel: String,
    notify: Arc<Notify>,
    ready: oneshot::Sender<Result<(), PgError>>,
) {
    let mut ready = Some(ready);
    loop {
        let r = session(&db, &channel, &notify, &mut ready).await;
        if let (Err(e), Some(tx)) = (r, ready.take()) {
            let _ = tx.send(Err(e));
            return;
        }
        notify.notify_one();
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}

/// One connection: `LISTEN`, then wake on each notification until the connection ends.
async fn session(
    db: &Db,
    channel: &str,
    notify: &Notify,
    ready: &mut Option<oneshot::Sender<Result<(), PgError>>>,
) -> Result<(), PgError> {
    let (client, mut connection) = db.open().await?;
    // Quoted: the name is taken as it is, as pg_notify takes it.
    let sql = format!("LISTEN \"{}\"", channel.replace('"', "\"\""));
    let mut listen = std::pin::pin!(client.batch_execute(&sql));
    let mut listening = false;
    loop {
        tokio::select! {
            r = &mut listen, if !listening => {
                r?;
                listening = true;
                if let Some(tx) = ready.take() {
                    let _ = tx.send(Ok(()));
                }
                // Changes made while we were not listening would otherwise be missed.
                notify.notify_one();
            }
            m = std::future::poll_fn(|cx| connection.poll_message(cx)) => match m {
                Some(Ok(AsyncMessage::Notification(_))) => notify.notify_one(),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
        }
    }
}
