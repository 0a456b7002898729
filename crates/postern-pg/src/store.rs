//! [`PgQueue`] behind postern-queue's storage seam, [`QueueStore`]: what the gateway
//! holds as `Arc<dyn QueueStore>` whatever the backend.

use bytes::Bytes;
use postern_queue::backoff::BackoffEntry;
use postern_queue::{
    AttemptResult, Command, Delivery, Envelope, Outcome, QueueId, QueueStore, SpooledMessage,
    StoreError, StoreFuture, Summary, Target, Timestamp,
};

use crate::error::PgError;
use crate::queue::{LeaseLost, PgQueue};

/// The backend's name, as configured (`[storage] backend = "postgres"`).
pub const BACKEND: &str = "postgres";

impl From<PgError> for StoreError {
    fn from(e: PgError) -> StoreError {
        match e {
            PgError::Unavailable(reason) => StoreError::Unavailable {
                backend: BACKEND,
                reason,
            },
            PgError::NotFound(id) => StoreError::NotFound(id),
            other => StoreError::Backend {
                backend: BACKEND,
                reason: other.to_string(),
            },
        }
    }
}

/// Boxes an operation of the queue as a [`StoreFuture`].
fn boxed<'a, T: Send + 'a>(
    f: impl Future<Output = Result<T, PgError>> + Send + 'a,
) -> StoreFuture<'a, T> {
    Box::pin(async move { Ok(f.await?) })
}

impl QueueStore for PgQueue {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn enqueue<'a>(
        &'a self,
        envelope: &'a Envelope,
        body: Bytes,
        now: Timestamp,
    ) -> StoreFuture<'a, QueueId> {
        boxed(async move { PgQueue::enqueue(self, envelope, &body, now).await })
    }

    fn due(&self, now: Timestamp, max: usize) -> StoreFuture<'_, Vec<Delivery>> {
        boxed(PgQueue::due(self, now, max))
    }

    fn report<'a>(
        &'a self,
        delivery: &'a Delivery,
        outcomes: &'a [(usize, Outcome)],
        now: Timestamp,
    ) -> StoreFuture<'a, AttemptResult> {
        Box::pin(async move {
            match PgQueue::report(self, delivery, outcomes, now).await? {
                Ok(r) => Ok(r),
                Err(LeaseLost(id)) => Err(StoreError::LeaseLost(id)),
            }
        })
    }

    fn take_delay_notices(
        &self,
        now: Timestamp,
    ) -> StoreFuture<'_, (Vec<SpooledMessage>, Option<Timestamp>)> {
        boxed(PgQueue::take_delay_notices(self, now))
    }

    fn next_wakeup(&self) -> StoreFuture<'_, Option<Timestamp>> {
        boxed(PgQueue::next_wakeup(self))
    }

    fn wait_wakeup(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            PgQueue::wait_wakeup(self).await;
            Ok(())
        })
    }

    fn hold<'a>(&'a self, target: &'a Target) -> StoreFuture<'a, usize> {
        boxed(PgQueue::hold(self, target))
    }

    fn release<'a>(&'a self, target: &'a Target) -> StoreFuture<'a, usize> {
        boxed(PgQueue::release(self, target))
    }

    fn retry<'a>(&'a self, target: &'a Target, now: Timestamp) -> StoreFuture<'a, usize> {
        boxed(PgQueue::retry(self, target, now))
    }

    fn delete(&self, id: QueueId) -> StoreFuture<'_, ()> {
        boxed(PgQueue::delete(self, id))
    }

    fn apply<'a>(&'a self, cmd: &'a Command, now: Timestamp) -> StoreFuture<'a, String> {
        boxed(PgQueue::apply(self, cmd, now))
    }

    /// Commands act on the database directly (any node's `postern queue` is the
    /// cluster's): there are no control files to answer.
    fn poll_control(&self, _now: Timestamp) -> StoreFuture<'_, usize> {
        Box::pin(std::future::ready(Ok(0)))
    }

    fn messages(&self) -> StoreFuture<'_, Vec<SpooledMessage>> {
        boxed(PgQueue::messages(self))
    }

    fn message(&self, id: QueueId) -> StoreFuture<'_, Option<SpooledMessage>> {
        boxed(PgQueue::message(self, id))
    }

    fn len(&self) -> StoreFuture<'_, usize> {
        boxed(PgQueue::len(self))
    }

    fn body(&self, id: QueueId) -> StoreFuture<'_, Bytes> {
        boxed(PgQueue::body(self, id))
    }

    fn summary(&self, now: Timestamp) -> StoreFuture<'_, Summary> {
        boxed(PgQueue::summary(self, now))
    }

    fn backoff_entries(&self, now: Timestamp) -> StoreFuture<'_, Vec<(String, BackoffEntry)>> {
        boxed(PgQueue::backoff_entries(self, now))
    }

    fn clear_backoff<'a>(&'a self, destination: &'a str, now: Timestamp) -> StoreFuture<'a, bool> {
        boxed(PgQueue::clear_backoff(self, destination, now))
    }

    fn holds(&self) -> StoreFuture<'_, (bool, Vec<String>)> {
        boxed(PgQueue::holds(self))
    }

    fn setting<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
        boxed(PgQueue::setting(self, key))
    }

    fn set_setting<'a>(&'a self, key: &'a str, value: &'a str) -> StoreFuture<'a, ()> {
        boxed(PgQueue::set_setting(self, key, value))
    }
}
