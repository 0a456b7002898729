//! Driving a session over a byte stream: write what the session says, read only while
//! it wants input, and run its timers (command and data time-outs, the minimum data rate,
//! shutdown).

use std::future::Future;
use std::pin::Pin;

use postern_smtp::{EnhancedCode, Reply};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::watch;
use tokio::time::Instant;

use super::flow::{Flow, shutting_down};
use super::session::Inbound;
use crate::lazy_timer::LazyTimer;

/// Size of one socket read once a session is busy.
const READ_CHUNK: usize = 16 * 1024;
/// Size of one socket read once message content fills `READ_CHUNK` reads: a 100 KB
/// message then takes two or three reads (loopback and LAN segments reach 64 KiB)
/// instead of seven, each with its turn through the session.
const DATA_READ: usize = 64 * 1024;
/// The read buffer a session starts with (most commands fit; idle sessions stay small).
const FIRST_READ: usize = 1024;
/// The least read buffer once message content starts: a small message (a 1 KB body
/// with its header is about 1.2 KB) then arrives in one read, not a full 1 KiB read and
/// a second one with its own turn through the session. A client trickling content
/// holds 4 KiB instead of 1 KiB.
const DATA_FIRST_READ: usize = 4096;

/// What waiting for the client produced.
enum Input {
    Bytes(usize),
    Eof,
    Timeout,
    TooSlow,
    Shutdown,
    RateWindow,
}

impl Inbound {
    /// Runs the session on `stream` until it closes or asks for TLS.
    pub(super) async fn drive<S>(&mut self, stream: &mut S) -> Flow
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        // Idle sessions keep a small buffer; it grows when reads fill it. Reads go into
        // its spare capacity (`read_buf`), so it is never zero-filled first.
        let mut buf = Vec::with_capacity(FIRST_READ);
        // The command time-out runs from the last complete command, not the last byte:
        // a client trickling a line a byte at a time is timed out all the same.
        let mut progress = Instant::now();
        let shutdown = shutdown_begins(self.shutdown.clone());
        tokio::pin!(shutdown);
        let mut alarms = Alarms {
            timer: LazyTimer::new(),
            shutdown,
            shutdown_seen: false,
        };
        loop {
            if self.process().await > 0 || self.in_data {
                progress = Instant::now();
            }
            // After processing, so that bytes completing a message count for it.
            if self.in_data && !self.rate.check(Instant::now()) {
                self.smtp.reject_connection(too_slow());
            }
            if !self.flush(stream).await || self.smtp.is_closed() {
                return Flow::Close;
            }
            if std::mem::take(&mut self.starttls) {
                return Flow::StartTls;
            }
            if !self.smtp.wants_input() {
                // Neither closed nor awaiting anything we can supply: give up cleanly.
                return Flow::Close;
            }
            if self.ctx.is_shutting_down() && !self.in_data {
                self.smtp.reject_connection(shutting_down());
                continue;
            }
            buf.clear();
            room_for_content(&mut buf, self.in_data);
            match self
                .wait_input(stream, &mut buf, progress, &mut alarms)
                .await
            {
                Input::Bytes(n) => {
                    self.rate.record(n);
                    self.transcript.client(&buf);
                    self.receive(&buf);
                    if n >= buf.capacity() {
                        grow(&mut buf, self.in_data);
                    }
                }
                Input::Eof => return Flow::Close,
                Input::Timeout => self.smtp.on_timeout(),
                Input::TooSlow => self.smtp.reject_connection(too_slow()),
                Input::Shutdown | Input::RateWindow => {}
            }
        }
    }

    /// Sends all pending output; false when the connection failed or stalled past the
    /// command time-out.
    async fn flush<S>(&mut self, stream: &mut S) -> bool
    where
        S: AsyncWrite + Unpin,
    {
        let out = self.smtp.pending_output();
        if out.is_empty() {
            return true;
        }
        let n = out.len();
        self.transcript.server(out);
        self.transcript.flush();
        let write = async {
            stream.write_all(out).await?;
            stream.flush().await
        };
        match tokio::time::timeout(self.live.config.timeouts.command, write).await {
            Ok(Ok(())) => {
                self.smtp.consume_output(n);
                true
            }
            _ => false,
        }
    }

    /// Waits for bytes, the session's time-out, the end of a data-rate window or the
    /// start of shutdown, whichever comes first.
    async fn wait_input<S, F>(
        &mut self,
        stream: &mut S,
        buf: &mut Vec<u8>,
        since: Instant,
        alarms: &mut Alarms<'_, F>,
    ) -> Input
    where
        S: AsyncRead + Unpin,
        F: Future<Output = ()>,
    {
        let deadline = since + self.smtp.timeout();
        loop {
            let next = self.rate.deadline().map_or(deadline, |r| r.min(deadline));
            alarms.timer.arm(next);
            tokio::select! {
                r = stream.read_buf(buf) => return match r {
                    Ok(0) | Err(_) => Input::Eof,
                    Ok(n) => Input::Bytes(n),
                },
                () = alarms.timer.fired() => {
                    // The timer may be set for an earlier deadline than this wait's
                    // (an older command's): then it only moves on.
                    let now = Instant::now();
                    if now >= deadline {
                        return Input::Timeout;
                    }
                    if self.rate.deadline().is_some_and(|end| now >= end) {
                        return if self.rate.check(now) { Input::RateWindow } else { Input::TooSlow };
                    }
                }
                () = alarms.shutdown.as_mut(), if !alarms.shutdown_seen => {
                    alarms.shutdown_seen = true;
                    return Input::Shutdown;
                }
            }
        }
    }
}

/// What a wait for input races against, kept for a whole [`Inbound::drive`]: the
/// session's time-outs on one [`LazyTimer`], and one waiter on the shutdown channel
/// rather than one a read (the channel's list of waiters is under a lock every session
/// shares).
struct Alarms<'a, F> {
    timer: LazyTimer,
    shutdown: Pin<&'a mut F>,
    /// Shutdown has begun and was reported: its future is done.
    shutdown_seen: bool,
}

/// Completes when the gateway begins to shut down; never if its channel is gone
/// without that (nothing more will come).
async fn shutdown_begins(mut rx: watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The next read size after a read filled `buf`'s capacity: `READ_CHUNK`, then
/// `DATA_READ` while message content arrives. It never shrinks: sessions are short, and
/// an idle one that sent a large message holds 64 KiB, as a busy one would. `buf`'s
/// content has been handed on, so a larger buffer replaces it without a copy.
fn grow(buf: &mut Vec<u8>, in_data: bool) {
    let next = if buf.capacity() < READ_CHUNK {
        READ_CHUNK
    } else if in_data {
        DATA_READ
    } else {
        return;
    };
    if next > buf.capacity() {
        *buf = Vec::with_capacity(next);
    }
}

/// Before a read: while message content arrives, at least `DATA_FIRST_READ` of room.
/// `buf` is empty, so a larger buffer replaces it without a copy.
fn room_for_content(buf: &mut Vec<u8>, in_data: bool) {
    if in_data && buf.capacity() < DATA_FIRST_READ {
        *buf = Vec::with_capacity(DATA_FIRST_READ);
    }
}

/// `451 4.4.2`: below `limits.min_data_rate`.
fn too_slow() -> Reply {
    Reply::new(
        451,
        Some(EnhancedCode::new(4, 4, 2)),
        "Data rate too low, closing connection",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_grow_to_the_chunk_then_to_the_data_size_only_in_data() {
        let mut buf = Vec::with_capacity(FIRST_READ);
        grow(&mut buf, false);
        assert_eq!(buf.capacity(), READ_CHUNK);
        grow(&mut buf, false);
        assert_eq!(buf.capacity(), READ_CHUNK, "commands never need more");
        grow(&mut buf, true);
        assert_eq!(buf.capacity(), DATA_READ);
        grow(&mut buf, true);
        assert_eq!(buf.capacity(), DATA_READ, "bounded");
        let mut small = Vec::with_capacity(FIRST_READ);
        grow(&mut small, true);
        assert_eq!(small.capacity(), READ_CHUNK, "one step at a time");
    }

    #[test]
    fn content_is_read_into_at_least_the_data_start_size() {
        let mut buf = Vec::with_capacity(FIRST_READ);
        room_for_content(&mut buf, false);
        assert_eq!(buf.capacity(), FIRST_READ, "commands keep the small buffer");
        room_for_content(&mut buf, true);
        assert_eq!(buf.capacity(), DATA_FIRST_READ);
        let mut big = Vec::with_capacity(DATA_READ);
        room_for_content(&mut big, true);
        assert_eq!(big.capacity(), DATA_READ, "never shrinks");
    }
}
