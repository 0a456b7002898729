//! The gateway's clock: milliseconds since the Unix epoch, as the queue counts time.
//! A leaf module, so that what the [`Context`](crate::Context) holds (the protocol log,
//! the archive) can read the time without importing the context.

use std::time::{SystemTime, UNIX_EPOCH};

use postern_queue::Timestamp;

/// Milliseconds since the Unix epoch.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Timestamp(ms)
}
