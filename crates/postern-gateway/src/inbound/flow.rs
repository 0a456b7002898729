//! What the session and its I/O loop tell each other: how a stretch of the session on one
//! stream ended, and the reply for a gateway that stops. A leaf module, so that the loop
//! (`io`, which drives the session) and the session (which runs the loop) do not import
//! each other.

use postern_smtp::{EnhancedCode, Reply};

/// How a stretch of the session on one stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    /// The client asked for STARTTLS and the `220` is sent: run the handshake.
    StartTls,
    /// The session or the connection is over.
    Close,
}

/// `421 4.3.2`: the gateway is stopping.
pub(super) fn shutting_down() -> Reply {
    Reply::new(
        421,
        Some(EnhancedCode::new(4, 3, 2)),
        "Service shutting down",
    )
}
