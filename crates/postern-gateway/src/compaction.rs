//! Spool compaction while the gateway runs (`[spool]`). Delivered messages leave dead
//! records behind in the spool's append-only segments; without compaction the spool only
//! shrinks when the gateway restarts.
//!
//! Two triggers, checked every [`CHECK_EVERY`]:
//!
//! * **Under load**: once the dead bytes outside the newest (head) segment pass both
//!   `compact_dead_bytes` and the bytes the live messages need, the older segments are
//!   compacted (their live records copied forward, the segments deleted). The copying
//!   costs at most the live bytes, and is paid only after at least as many dead bytes
//!   have accumulated: the classic bound of twice the live data.
//! * **When idle**: once less than [`IDLE_MAX_WRITTEN`] has been written over the last
//!   `compact_idle` (retries of deferred mail still write a little), a new head is
//!   started and everything is compacted, if the dead bytes (head included) pass the
//!   live ones and [`IDLE_MIN_DEAD`]. An idle gateway's spool shrinks to its live
//!   messages.
//!
//! Compaction is the spool's own ([`postern_queue::Spool::compact`]): safe beside
//! concurrent appends and against a kill at any moment (a segment is deleted only once
//! the copies of its records are durable).

use std::sync::Arc;
use std::time::Duration;

use postern_queue::SpoolStats;

use crate::config::SpoolSection;
use crate::context::Context;

/// How often the spool's dead space is looked at.
pub const CHECK_EVERY: Duration = Duration::from_millis(250);

/// Least dead space an idle compaction bothers with.
pub const IDLE_MIN_DEAD: u64 = 64 << 10;

/// Most bytes written to the spool over `compact_idle` for the gateway to count as idle.
pub const IDLE_MAX_WRITTEN: u64 = 64 << 10;

/// What to do about the spool now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Nothing.
    Wait,
    /// Compact the segments before the head.
    Compact,
    /// Start a new head, then compact everything before it.
    RotateAndCompact,
}

/// Decides from the spool's figures and whether the gateway is idle (see [`Activity`]).
pub fn decide(stats: &SpoolStats, idle: bool, settings: &SpoolSection) -> Decision {
    // Segment headers are dead bytes that no compaction removes.
    let headers = stats.segments as u64 * postern_queue::spool::SEGMENT_HEADER;
    let dead = stats.dead_bytes().saturating_sub(headers);
    if idle && dead >= stats.live_bytes.max(IDLE_MIN_DEAD) {
        return Decision::RotateAndCompact;
    }
    let old = stats.reclaimable_bytes();
    if old >= stats.live_bytes.max(settings.compact_dead_bytes).max(1) {
        return Decision::Compact;
    }
    Decision::Wait
}

/// The bytes written to the spool over a sliding window: the gateway is idle when a
/// whole window has been seen and less than [`IDLE_MAX_WRITTEN`] was written in it.
#[derive(Debug)]
pub struct Activity {
    window: Duration,
    /// (when, bytes appended by then), oldest first, spanning at most `window`.
    seen: std::collections::VecDeque<(Duration, u64)>,
}

impl Activity {
    /// A window of `window` (zero: never idle).
    pub fn new(window: Duration) -> Activity {
        Activity {
            window,
            seen: std::collections::VecDeque::new(),
        }
    }

    /// Notes that `appended` bytes had been written by `at` (a monotonic clock); returns
    /// whether the gateway is idle.
    pub fn note(&mut self, at: Duration, appended: u64) -> bool {
        self.seen.push_back((at, appended));
        while self
            .seen
            .get(1)
            .is_some_and(|&(t, _)| at.saturating_sub(t) >= self.window)
        {
            self.seen.pop_front();
        }
        let Some(&(first, before)) = self.seen.front() else {
            return false;
        };
        !self.window.is_zero()
            && at.saturating_sub(first) >= self.window
            && appended.saturating_sub(before) < IDLE_MAX_WRITTEN
    }

    /// Starts over (after a compaction, whose own writes are not activity).
    pub fn reset(&mut self) {
        self.seen.clear();
    }
}

/// Runs until the gateway shuts down. The settings are those the gateway started with
/// (`[spool]` needs a restart).
pub async fn run(ctx: Arc<Context>, settings: SpoolSection) {
    let mut shutdown = ctx.shutdown.clone();
    let started = tokio::time::Instant::now();
    let mut activity = Activity::new(settings.compact_idle);
    // Only a local spool is compacted here; a database reclaims its own space.
    let Some(local) = ctx.queue.local() else {
        return;
    };
    while !ctx.is_shutting_down() {
        let stats = local.spool().stats();
        let idle = activity.note(started.elapsed(), stats.appended);
        let decision = decide(&stats, idle, &settings);
        if decision != Decision::Wait {
            let c = Arc::clone(&ctx);
            let done = tokio::task::spawn_blocking(move || compact(&c, decision, &stats)).await;
            if let Ok(Err(e)) = done {
                tracing::error!("spool compaction: {e}");
            }
            activity.reset();
        }
        tokio::select! {
            () = tokio::time::sleep(CHECK_EVERY) => {}
            r = shutdown.changed() => if r.is_err() { break },
        }
    }
}

/// Compacts as decided. It copies at most what was live when decided plus half the
/// spool's bytes (slack for records that moved meanwhile), so a busy spool cannot keep
/// one compaction going for ever.
fn compact(
    ctx: &Context,
    decision: Decision,
    stats: &SpoolStats,
) -> Result<usize, postern_queue::SpoolError> {
    let Some(local) = ctx.queue.local() else {
        return Ok(0);
    };
    let spool = local.spool();
    if decision == Decision::RotateAndCompact {
        spool.rotate()?;
    }
    spool.compact(stats.live_bytes.saturating_add(stats.bytes / 2 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SpoolSection {
        SpoolSection {
            segment_size: 1 << 20,
            compact_dead_bytes: 100_000,
            compact_idle: Duration::from_secs(30),
            completion_flush: Duration::from_millis(100),
            group_commit_gather: Duration::from_micros(200),
            commit_thread: true,
            preallocate: 1 << 20,
        }
    }

    fn stats(bytes: u64, live: u64, head: u64, head_live: u64) -> SpoolStats {
        SpoolStats {
            segments: 2,
            bytes,
            live_bytes: live,
            head_bytes: head,
            head_live_bytes: head_live,
            appended: 0,
        }
    }

    #[test]
    fn busy_spool_compacts_once_old_dead_space_passes_live_and_the_setting() {
        let s = settings();
        let busy = false;
        // 90 kB dead in old segments: under compact_dead_bytes.
        assert_eq!(
            decide(&stats(200_000, 10_000, 100_000, 0), busy, &s),
            Decision::Wait
        );
        // 190 kB dead, 10 kB live: compact.
        assert_eq!(
            decide(&stats(300_000, 10_000, 100_000, 0), busy, &s),
            Decision::Compact
        );
        // 190 kB dead but 500 kB live (in the head): not yet worth copying.
        let st = stats(800_000, 500_000, 600_000, 490_000);
        assert_eq!(decide(&st, busy, &s), Decision::Wait);
        // Dead space in the head alone never triggers a busy compaction.
        let st = stats(5_000_000, 0, 5_000_000, 0);
        assert_eq!(decide(&st, busy, &s), Decision::Wait);
    }

    #[test]
    fn idle_spool_compacts_the_head_too() {
        let s = settings();
        let idle = true;
        let st = stats(5_000_000, 0, 5_000_000, 0);
        assert_eq!(decide(&st, idle, &s), Decision::RotateAndCompact);
        assert_eq!(decide(&st, false, &s), Decision::Wait, "busy");
        // A compacted spool: only headers are dead.
        let st = stats(1_032, 1_000, 1_016, 1_000);
        assert_eq!(decide(&st, idle, &s), Decision::Wait);
        // Little dead space beside much live data: left alone.
        let st = stats(3_000_000, 2_000_000, 3_000_000, 2_000_000);
        assert_eq!(decide(&st, idle, &s), Decision::Wait);
    }

    #[test]
    fn defaults_and_limits_of_the_spool_section() {
        let s = crate::config::Config::embedded().spool;
        assert_eq!(
            s,
            SpoolSection {
                segment_size: 16 << 20,
                compact_dead_bytes: 8 << 20,
                compact_idle: Duration::from_secs(30),
                completion_flush: Duration::from_millis(100),
                group_commit_gather: Duration::from_micros(200),
                commit_thread: false,
                preallocate: postern_queue::SpoolOptions::default().preallocate,
            }
        );
        let slow = crate::config::Config::from_toml_str("[spool]\ncompletion_flush_ms = 60001\n");
        let err = slow.unwrap_err().to_string();
        assert!(err.contains("spool.completion_flush_ms (line 2)"), "{err}");
        let slow =
            crate::config::Config::from_toml_str("[spool]\ngroup_commit_gather_us = 10001\n");
        let err = slow.unwrap_err().to_string();
        assert!(
            err.contains("spool.group_commit_gather_us (line 2)"),
            "{err}"
        );
        let tiny = crate::config::Config::from_toml_str("[spool]\nsegment_size = 100\n");
        let err = tiny.unwrap_err().to_string();
        assert!(err.contains("spool.segment_size (line 2)"), "{err}");
        let off = crate::config::Config::from_toml_str("[spool]\ncompact_idle_secs = 0\n");
        assert!(off.unwrap().spool.compact_idle.is_zero());
        let thread = crate::config::Config::from_toml_str("[spool]\ncommit_thread = true\n");
        assert!(thread.unwrap().spool.commit_thread);
        let append = crate::config::Config::from_toml_str("[spool]\npreallocate = 0\n");
        assert_eq!(append.unwrap().spool.preallocate, 0);
    }

    #[test]
    fn idle_means_little_written_over_a_whole_window() {
        let secs = Duration::from_secs;
        let mut a = Activity::new(secs(30));
        assert!(!a.note(secs(0), 1_000_000));
        assert!(!a.note(secs(29), 1_000_000), "window not yet seen whole");
        assert!(a.note(secs(30), 1_000_000));
        // Retries of deferred mail write a little: still idle.
        assert!(a.note(secs(40), 1_010_000));
        // A burst of mail: busy until it is a whole window behind.
        assert!(!a.note(secs(41), 2_000_000));
        assert!(!a.note(secs(70), 2_000_000));
        assert!(a.note(secs(72), 2_000_000));
        a.reset();
        assert!(!a.note(secs(73), 2_000_000), "starts over");
        // Idle compaction turned off.
        let mut off = Activity::new(Duration::ZERO);
        assert!(!off.note(secs(0), 0));
        assert!(!off.note(secs(3600), 0));
    }
}
