//! The crate's error type.

use std::path::PathBuf;

/// An error from the writer, retention, or a query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrackError {
    /// A file or directory operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`open`, `read`, `write`, …).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The writer thread has stopped (it was shut down, or it panicked).
    #[error("the tracking writer has stopped")]
    Closed,
    /// The writer's queue was full and the overflow policy is to drop (see
    /// [`crate::Overflow`]); the event was counted in [`crate::WriterStats::dropped`].
    #[error("the tracking queue is full; event dropped")]
    QueueFull,
    /// A tracking backend other than the daily files (a database) failed or cannot be
    /// reached; see [`crate::EventSink`] and [`crate::EventSearch`].
    #[error("{backend} tracking: {reason}")]
    Backend {
        /// The backend (`postgres`, …).
        backend: &'static str,
        /// What failed.
        reason: String,
    },
}

impl TrackError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> TrackError {
        let path = path.into();
        move |source| TrackError::Io { op, path, source }
    }
}
