//! The leases this node holds on jobs of the shared queue, and their renewal.
//!
//! [`crate::PgQueue::due`] leases a job for `lease` (see [`crate::PgQueueConfig`]). A
//! delivery may take longer than that (a slow peer, a large body), or wait for a slot:
//! while this node lives it must keep the job, or another node would attempt the same
//! recipients again. So a task renews every lease this node still holds each `lease / 3`,
//! extending it by the time that passed since it was last set. A node that dies stops
//! renewing; its leases expire and the other nodes take the work over.
//!
//! Renewal moves a lease by the real time elapsed, not to "the clock now plus the
//! lease": the lease keeps the clock of the `now` it was granted with (the gateway's
//! clock, or a test's), and only the distance to its end is kept up.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use postern_queue::QueueId;
use tokio::task::JoinHandle;

use crate::db::{Db, forget_if_lost};
use crate::error::PgError;

/// A job: (queue id, destination).
pub type JobKey = (QueueId, String);

/// One lease this node holds.
#[derive(Debug, Clone, Copy)]
struct Held {
    /// `lease_until` as granted by `due` (renewals only move it later).
    granted: i64,
    /// `lease_until` as last written.
    until: i64,
    /// When `until` was written.
    set_at: Instant,
    /// A renewal found the job no longer ours (taken over, reported, deleted).
    gone: bool,
}

/// The leases of one node: granted by `due`, ended by `report`, renewed meanwhile.
#[derive(Debug, Default)]
pub struct Leases {
    held: Mutex<HashMap<JobKey, Held>>,
    renewed: AtomicU64,
}

impl Leases {
    fn lock(&self) -> MutexGuard<'_, HashMap<JobKey, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a lease granted until `until`.
    pub fn grant(&self, key: JobKey, until: i64) {
        let held = Held {
            granted: until,
            until,
            set_at: Instant::now(),
            gone: false,
        };
        self.lock().insert(key, held);
    }

    /// The `lease_until` a job was granted with, when this node holds it.
    pub fn granted(&self, key: &JobKey) -> Option<i64> {
        self.lock().get(key).map(|h| h.granted)
    }

    /// Forgets a lease (reported).
    pub fn end(&self, key: &JobKey) {
        self.lock().remove(key);
    }

    /// The number of leases held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no lease is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lease renewals written so far (one per job and renewal).
    pub fn renewed(&self) -> u64 {
        self.renewed.load(Ordering::Relaxed)
    }

    /// Renews every lease held, in one statement: each moves later by the time since it
    /// was last written, if the job is still leased to `node` as this node last wrote it.
    /// Returns the number renewed.
    pub async fn renew(&self, db: &Db, node: &str) -> Result<usize, PgError> {
        let now = Instant::now();
        let plan: Vec<(JobKey, i64, i64)> = self
            .lock()
            .iter()
            .filter(|(_, h)| !h.gone)
            .map(|(k, h)| {
                let step = i64::try_from(now.duration_since(h.set_at).as_millis()).unwrap_or(0);
                (k.clone(), h.until, h.until.saturating_add(step))
            })
            .collect();
        if plan.is_empty() {
            return Ok(0);
        }
        let ids: Vec<String> = plan.iter().map(|p| p.0.0.to_string()).collect();
        let dests: Vec<&str> = plan.iter().map(|p| p.0.1.as_str()).collect();
        let old: Vec<i64> = plan.iter().map(|p| p.1).collect();
        let new: Vec<i64> = plan.iter().map(|p| p.2).collect();
        let mut conn = db.conn().await?;
        let client = conn.as_mut().expect("Db::conn connects");
        let r = db
            .timed(async {
                Ok(client
                    .query(
                        "UPDATE postern_jobs j SET lease_until = t.new
                         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
                             AS t(id, destination, old, new)
                         WHERE j.id = t.id AND j.destination = t.destination
                           AND j.lease_node = $5 AND j.lease_until = t.old
                         RETURNING j.id, j.destination",
                        &[&ids, &dests, &old, &new, &node],
                    )
                    .await?)
            })
            .await;
        forget_if_lost(&mut conn, &r);
        let rows = r?;
        let done: HashSet<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let mut held = self.lock();
        for ((key, old, new), id) in plan.into_iter().zip(ids) {
            // Reported (removed) or granted again meanwhile: leave it as it is now.
            let Some(h) = held.get_mut(&key).filter(|h| h.until == old) else {
                continue;
            };
            if done.contains(&(id, key.1.clone())) {
                h.until = new;
                h.set_at = now;
            } else {
                h.gone = true;
            }
        }
        self.renewed.fetch_add(rows.len() as u64, Ordering::Relaxed);
        Ok(rows.len())
    }
}

/// How often leases of length `lease` are renewed: a third of it, so two renewals may
/// fail (a database hiccup) before a lease runs out.
pub fn renew_interval(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(10))
}

/// The task renewing a node's leases; stops when dropped (as a dead node would).
#[derive(Debug)]
pub struct Renewal {
    task: JoinHandle<()>,
}

impl Renewal {
    /// Renews `leases` each [`renew_interval`]`(lease)` on `db`, as node `node`. A
    /// failed renewal is tried again at the next tick (the lease still has two thirds
    /// left).
    pub fn start(db: Arc<Db>, leases: Arc<Leases>, lease: Duration) -> Renewal {
        let every = renew_interval(lease);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let _ = leases.renew(&db, db.node()).await;
            }
        });
        Renewal { task }
    }
}

impl Drop for Renewal {
    fn drop(&mut self) {
        self.task.abort();
    }
}
