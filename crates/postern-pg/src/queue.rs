//! [`PgQueue`]: the queue of a cluster, shared by every node through PostgreSQL.
//!
//! * A message (envelope, per-recipient state, body) is written by **one statement**,
//!   committed before [`PgQueue::enqueue`] returns: the caller may answer 250 then.
//! * Each (message, destination) with unfinished recipients is a row of `postern_jobs`.
//!   [`PgQueue::due`] **leases** due rows (`FOR UPDATE SKIP LOCKED`, then `lease_until`
//!   set): no other node takes them until reported or until the lease expires, so the
//!   work of a node that dies mid-delivery is taken over after the lease.
//! * [`PgQueue::report`] applies the attempt in one transaction with the same decisions
//!   as one node ([`crate::outcome`]), the destination backoff shared in `postern_backoff`.
//! * Changes other nodes should see at once (new mail, retry, release) `NOTIFY` the
//!   channel [`CHANNEL`]; [`PgQueue::wait_wakeup`] resolves on them ([`crate::listen`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use postern_queue::backoff::BackoffEntry;
use postern_queue::summary::summarize;
use postern_queue::{
    AttemptResult, Command, Delivery, DeliveryRecipient, Envelope, MessageState, Outcome,
    QueueConfig, QueueId, RecipientState, SpooledMessage, Summary, Target, Timestamp,
};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, GenericClient, Row, Statement};

use crate::pooled::Pooled;
use crate::statements::{
    BODY, DUE, DUE_TYPES, ENQUEUE, ENQUEUE_TYPES, MESSAGE, NEXT_WAKEUP, ReportStatements,
};

use crate::codec::{self, ms, ts};
use crate::db::{Db, PgSettings, forget_if_lost};
use crate::error::PgError;
use crate::lease::{Leases, Renewal};
use crate::listen::Listener;
use crate::outcome::{self, BackoffChange};

/// The default `LISTEN/NOTIFY` channel of queue changes.
pub const CHANNEL: &str = "postern_queue";

/// Queue ids handed out per sequence block (see the migration).
const ID_BLOCK: u64 = 256;

/// Largest sequence number of a queue id (6 hex digits).
const MAX_SEQ: u64 = 0xFF_FFFF;

/// What a [`PgQueue`] is configured with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PgQueueConfig {
    /// Retry schedules, time-outs, backoff: the same settings as the local queue (its
    /// `spool` part is not used).
    pub queue: QueueConfig,
    /// How long a node owns the attempts [`PgQueue::due`] hands it (default 10 min).
    /// The node renews its leases each third of it while it lives ([`crate::lease`]),
    /// so an attempt may last longer; a node that dies stops renewing, and after the
    /// lease another node may try the same recipients (at-least-once, never lost).
    pub lease: Duration,
    /// The `LISTEN/NOTIFY` channel of queue changes (default [`CHANNEL`]); nodes of one
    /// cluster must agree on it.
    pub channel: String,
}

impl Default for PgQueueConfig {
    fn default() -> PgQueueConfig {
        PgQueueConfig {
            queue: QueueConfig::default(),
            lease: Duration::from_secs(600),
            channel: CHANNEL.to_owned(),
        }
    }
}

/// A queue in PostgreSQL, shared by every node that opens the same database.
#[derive(Debug)]
pub struct PgQueue {
    db: Arc<Db>,
    config: PgQueueConfig,
    listener: Listener,
    /// The current block of queue-id sequence numbers: (next, end).
    ids: Mutex<(u64, u64)>,
    /// The leases this node holds, to tell on report whether another node took the
    /// job over meanwhile; renewed by `_renewal` while this queue lives.
    leases: Arc<Leases>,
    _renewal: Renewal,
    /// Reports refused because the lease had been taken over.
    lost_leases: AtomicU64,
}

/// The outcome of [`PgQueue::report`] when the lease was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseLost(pub QueueId);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn client<'a>(conn: &'a mut crate::db::Conn<'_>) -> &'a mut Pooled {
    conn.as_mut().expect("Db::conn connects")
}

/// A stored message as read back.
struct Stored {
    id: QueueId,
    env: Envelope,
    state: MessageState,
    size: u64,
}

fn stored(row: &Row) -> Result<Stored, PgError> {
    let id: String = row.get("id");
    Ok(Stored {
        id: codec::parse_id(&id)?,
        env: codec::decode_envelope(&id, row.get("envelope"))?,
        state: codec::decode_state(&id, row.get("state"))?,
        size: u64::try_from(row.get::<_, i64>("size")).unwrap_or(0),
    })
}

impl Stored {
    fn into_spooled(self) -> SpooledMessage {
        SpooledMessage {
            id: self.id,
            envelope: self.env,
            state: self.state,
            size: self.size,
        }
    }
}

impl PgQueue {
    /// Connects (migrating the schema if needed) and starts listening for other nodes'
    /// changes.
    pub async fn open(settings: &PgSettings, config: PgQueueConfig) -> Result<PgQueue, PgError> {
        let db = Arc::new(Db::connect(settings).await?);
        PgQueue::with_db(db, config).await
    }

    /// A queue over an open database.
    pub async fn with_db(db: Arc<Db>, config: PgQueueConfig) -> Result<PgQueue, PgError> {
        let listener = Listener::start(Arc::clone(&db), &config.channel).await?;
        let leases = Arc::new(Leases::default());
        let renewal = Renewal::start(Arc::clone(&db), Arc::clone(&leases), config.lease);
        Ok(PgQueue {
            db,
            config,
            listener,
            ids: Mutex::new((0, 0)),
            leases,
            _renewal: renewal,
            lost_leases: AtomicU64::new(0),
        })
    }

    /// The database underneath.
    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        self.db.node()
    }

    /// The leases this node holds now (taken by [`PgQueue::due`], not yet reported).
    pub fn leases(&self) -> &Leases {
        &self.leases
    }

    /// Renews this node's leases now (the renewal task does so each third of the
    /// lease); returns how many were renewed.
    pub async fn renew_leases(&self) -> Result<usize, PgError> {
        self.leases.renew(&self.db, self.node()).await
    }

    /// Reports refused so far because another node had taken the lease over.
    pub fn lost_leases(&self) -> u64 {
        self.lost_leases.load(Ordering::Relaxed)
    }

    /// Runs `f` on a pooled connection within the time limit; a connection that failed
    /// with an outage is dropped, so the next call reconnects.
    async fn with<T, F>(&self, f: F) -> Result<T, PgError>
    where
        F: AsyncFnOnce(&mut Pooled) -> Result<T, PgError>,
    {
        let mut conn = self.db.conn().await?;
        let r = self.db.timed(f(client(&mut conn))).await;
        forget_if_lost(&mut conn, &r);
        r
    }

    /// The next queue id at `now`, unique across nodes: sequence numbers come in blocks
    /// from the database.
    async fn next_id(&self, c: &Client, now: Timestamp) -> Result<QueueId, PgError> {
        let seq = {
            let mut g = lock(&self.ids);
            if g.0 < g.1 {
                g.0 += 1;
                Some(g.0 - 1)
            } else {
                None
            }
        };
        let seq = match seq {
            Some(s) => s,
            None => {
                let block: i64 = c
                    .query_one("SELECT nextval('postern_queue_id_block')", &[])
                    .await?
                    .get(0);
                let start = u64::try_from(block).unwrap_or(0) * ID_BLOCK;
                *lock(&self.ids) = (start + 1, start + ID_BLOCK);
                start
            }
        };
        Ok(QueueId {
            millis: now.0,
            seq: u32::try_from(seq % (MAX_SEQ + 1)).unwrap_or(0),
        })
    }

    /// When the next delay notice of a message is due (`None`: none).
    fn notice_due(&self, env: &Envelope, state: &MessageState) -> Option<i64> {
        if state.is_complete() {
            return None;
        }
        self.config
            .queue
            .delay_notices
            .next_due(env.arrival, state.delay_notices_sent, env.is_notification())
            .map(ms)
    }

    /// Stores a message and makes it due at `now` for each of its destinations, in one
    /// statement: committed (or not written at all) when this returns.
    pub async fn enqueue(
        &self,
        envelope: &Envelope,
        body: &[u8],
        now: Timestamp,
    ) -> Result<QueueId, PgError> {
        let node = self.node().to_owned();
        self.with(async |c| {
            let id = self.next_id(c, now).await?;
            let state = MessageState::new(envelope.recipients.len());
            let dests = outcome::destinations(envelope);
            let notice = self.notice_due(envelope, &state);
            let stmt = c.prepared(ENQUEUE, ENQUEUE_TYPES).await?;
            c.execute(
                &stmt,
                &[
                    &id.to_string(),
                    &node,
                    &ms(envelope.arrival),
                    &envelope.sender,
                    &codec::encode_envelope(id, envelope),
                    &codec::encode_state(id, &state),
                    &(body.len() as i64),
                    &notice,
                    &body,
                    &ms(now),
                    &dests,
                    &self.config.channel,
                ],
            )
            .await?;
            Ok(id)
        })
        .await
    }

    /// Up to `max` attempts due at `now`, leased to this node until `now` plus the
    /// lease. Destinations under backoff are re-timed to its end instead (no attempt
    /// burned), as are jobs whose recipients are not ready yet.
    pub async fn due(&self, now: Timestamp, max: usize) -> Result<Vec<Delivery>, PgError> {
        let until = ms(now + self.config.lease);
        let node = self.node().to_owned();
        let rows = self
            .with(async |c| {
                let stmt = c.prepared(DUE, DUE_TYPES).await?;
                Ok(c.query(&stmt, &[&ms(now), &until, &node, &(max as i64)])
                    .await?)
            })
            .await?;
        let mut out = Vec::new();
        let mut retime: Vec<(String, String, Option<i64>)> = Vec::new();
        for row in &rows {
            let m = stored(row)?;
            let dest: String = row.get("destination");
            if let Some(b) = row.get::<_, Option<i64>>("backoff_until") {
                retime.push((m.id.to_string(), dest, Some(b)));
                continue;
            }
            match ready(&m, &dest, now) {
                Ok(recipients) => {
                    self.leases.grant((m.id, dest.clone()), until);
                    out.push(Delivery {
                        id: m.id,
                        destination: dest,
                        sender: m.env.sender,
                        recipients,
                    });
                }
                Err(later) => retime.push((m.id.to_string(), dest, later.map(ms))),
            }
        }
        if !retime.is_empty() {
            self.retime(retime).await?;
        }
        out.sort_by_key(|d| d.id);
        Ok(out)
    }

    /// Puts leased jobs back at a later time (or drops those with nothing left).
    async fn retime(&self, jobs: Vec<(String, String, Option<i64>)>) -> Result<(), PgError> {
        let ids: Vec<&str> = jobs.iter().map(|j| j.0.as_str()).collect();
        let dests: Vec<&str> = jobs.iter().map(|j| j.1.as_str()).collect();
        let dues: Vec<Option<i64>> = jobs.iter().map(|j| j.2).collect();
        self.with(async |c| {
            c.execute(
                "WITH t AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
                            AS t(id, destination, due)),
                 d AS (DELETE FROM postern_jobs j USING t
                       WHERE j.id = t.id AND j.destination = t.destination AND t.due IS NULL)
                 UPDATE postern_jobs j SET due = t.due, lease_until = NULL, lease_node = NULL
                 FROM t WHERE j.id = t.id AND j.destination = t.destination
                   AND t.due IS NOT NULL",
                &[&ids, &dests, &dues],
            )
            .await?;
            Ok(())
        })
        .await
    }

    /// Applies an attempt's outcomes (`(envelope index, outcome)` pairs) in one
    /// transaction: retry policy, time-outs, the shared destination backoff; ends the
    /// lease (and its renewal, even when the report fails). A report for a job another node has taken over since (this node's lease
    /// expired) is refused with `Ok(Err(LeaseLost))` and changes nothing.
    pub async fn report(
        &self,
        delivery: &Delivery,
        outcomes: &[(usize, Outcome)],
        now: Timestamp,
    ) -> Result<Result<AttemptResult, LeaseLost>, PgError> {
        let key = (delivery.id, delivery.destination.clone());
        let lease = self.leases.granted(&key);
        let r = self
            .with(async |c| self.report_tx(c, delivery, lease, outcomes, now).await)
            .await;
        // Renewal stops whatever the answer: after a failed report (the database was
        // away) the lease runs out and the job is attempted again, by any node, rather
        // than staying this node's for as long as it lives.
        self.leases.end(&key);
        if matches!(r, Ok(Err(_))) {
            self.lost_leases.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    async fn report_tx(
        &self,
        c: &mut Pooled,
        delivery: &Delivery,
        lease: Option<i64>,
        outcomes: &[(usize, Outcome)],
        now: Timestamp,
    ) -> Result<Result<AttemptResult, LeaseLost>, PgError> {
        let id = delivery.id.to_string();
        let dest = &delivery.destination;
        let s = ReportStatements::prepare(c).await?;
        let tx = c.transaction().await?;
        // The three reads go out together (tokio-postgres pipelines the queries of one
        // connection): one wait for the database instead of four. The commit does not
        // wait for the WAL flush: a report lost in a database crash means one more
        // attempt (at-least-once), and the next synchronous commit (any enqueue, a
        // notification's too) flushes it with everything before it.
        let job_key: [&(dyn ToSql + Sync); 2] = [&id, dest];
        let msg_key: [&(dyn ToSql + Sync); 1] = [&id];
        let (_, job, msg, before) = tokio::try_join!(
            tx.batch_execute("SET LOCAL synchronous_commit = off"),
            tx.query_opt(&s.lock_job, &job_key),
            tx.query_opt(&s.lock_message, &msg_key),
            async { Ok(load_backoff(&tx, &s.lock_backoff, dest).await) },
        )?;
        let before = before?;
        if let Some(job) = &job {
            let (until, node): (Option<i64>, Option<String>) = (job.get(0), job.get(1));
            // Renewals only move a lease later: at or past the granted end it is ours.
            let ours = node.as_deref() == Some(self.node())
                && lease.is_none_or(|l| until.is_some_and(|u| u >= l));
            if until.is_some() && !ours {
                return Ok(Err(LeaseLost(delivery.id)));
            }
        }
        let Some(row) = msg else {
            // Deleted meanwhile: nothing to record.
            return Ok(Ok(AttemptResult::default()));
        };
        let mut m = stored(&row)?;
        let had_backoff = before.is_some();
        let (result, change) = outcome::apply(
            &self.config.queue,
            m.id,
            &m.env,
            &mut m.state,
            before,
            outcomes,
            now,
        );
        // Clearing a backoff that is not there is no statement at all (the common case).
        if had_backoff || !matches!(change, BackoffChange::Cleared) {
            save_backoff(&tx, dest, &change).await?;
        }
        if result.completed {
            tx.execute(&s.delete_message, &[&id]).await?;
        } else {
            m.state.version += 1;
            tx.execute(
                &s.update_state,
                &[
                    &id,
                    &codec::encode_state(m.id, &m.state),
                    &self.notice_due(&m.env, &m.state),
                ],
            )
            .await?;
            match outcome::dest_due(&m.env, &m.state, dest, now) {
                Some(at) => tx.execute(&s.retime_job, &[&id, dest, &ms(at)]).await?,
                None => tx.execute(&s.delete_job, &[&id, dest]).await?,
            };
        }
        tx.commit().await?;
        Ok(Ok(result))
    }

    /// Takes the delay notices due at `now`, each exactly once across the cluster: the
    /// rows are locked (`SKIP LOCKED`: two nodes asking at once split them) and their
    /// notice counts advanced in the same transaction. Returns those messages and when
    /// the next notice is due.
    pub async fn take_delay_notices(
        &self,
        now: Timestamp,
    ) -> Result<(Vec<SpooledMessage>, Option<Timestamp>), PgError> {
        let notices = self.config.queue.delay_notices.clone();
        self.with(async |c| {
            let tx = c.transaction().await?;
            let rows = tx
                .query(
                    "SELECT id, envelope, state, size FROM postern_messages
                     WHERE notice_due <= $1 ORDER BY id FOR UPDATE SKIP LOCKED",
                    &[&ms(now)],
                )
                .await?;
            let mut due = Vec::new();
            for row in &rows {
                let mut m = stored(row)?;
                m.state.delay_notices_sent = notices.reached(m.env.arrival, now);
                m.state.version += 1;
                tx.execute(
                    "UPDATE postern_messages SET state = $2, notice_due = $3 WHERE id = $1",
                    &[
                        &m.id.to_string(),
                        &codec::encode_state(m.id, &m.state),
                        &self.notice_due(&m.env, &m.state),
                    ],
                )
                .await?;
                due.push(m.into_spooled());
            }
            let next: Option<i64> = tx
                .query_one("SELECT min(notice_due) FROM postern_messages", &[])
                .await?
                .get(0);
            tx.commit().await?;
            Ok((due, next.map(ts)))
        })
        .await
    }

    /// The earliest time anything is due, including when leases held by any node expire
    /// (so a dead node's work is taken over); `None` when nothing is scheduled or all of
    /// it is held.
    pub async fn next_wakeup(&self) -> Result<Option<Timestamp>, PgError> {
        self.with(async |c| {
            let stmt = c.prepared(NEXT_WAKEUP, &[]).await?;
            let v: Option<i64> = c.query_one(&stmt, &[]).await?.get(0);
            Ok(v.map(ts))
        })
        .await
    }

    /// Resolves when another node (or this one) changed the queue: new mail, a retry,
    /// a release. Also resolves, once, after the listening connection was lost and
    /// restored (changes may have been missed meanwhile).
    pub async fn wait_wakeup(&self) {
        self.listener.wait().await;
    }

    /// Holds a message (in its state), a destination or everything (in `postern_holds`).
    /// Returns the number of messages or holds affected.
    pub async fn hold(&self, target: &Target) -> Result<usize, PgError> {
        self.set_hold(target, true).await
    }

    /// Releases a hold; `Target::All` releases every hold, individual ones included.
    pub async fn release(&self, target: &Target) -> Result<usize, PgError> {
        self.set_hold(target, false).await
    }

    async fn set_hold(&self, target: &Target, hold: bool) -> Result<usize, PgError> {
        self.with(async |c| {
            let tx = c.transaction().await?;
            let rows = match target {
                Target::Message(id) => {
                    let r = tx
                        .query(
                            "SELECT id, envelope, state, size FROM postern_messages
                             WHERE id = $1 FOR UPDATE",
                            &[&id.to_string()],
                        )
                        .await?;
                    if r.is_empty() {
                        return Err(PgError::NotFound(*id));
                    }
                    r
                }
                Target::All if !hold => {
                    tx.execute("DELETE FROM postern_holds", &[]).await?;
                    tx.query(
                        "SELECT id, envelope, state, size FROM postern_messages
                         WHERE held FOR UPDATE",
                        &[],
                    )
                    .await?
                }
                other => {
                    let (kind, name) = hold_key(other);
                    let sql = if hold {
                        "INSERT INTO postern_holds (kind, name) VALUES ($1, $2)
                         ON CONFLICT DO NOTHING"
                    } else {
                        "DELETE FROM postern_holds WHERE kind = $1 AND name = $2"
                    };
                    tx.execute(sql, &[&kind, &name]).await?;
                    Vec::new()
                }
            };
            for row in &rows {
                let mut m = stored(row)?;
                m.state.held = hold;
                m.state.version += 1;
                tx.execute(
                    "UPDATE postern_messages SET state = $2, held = $3 WHERE id = $1",
                    &[
                        &m.id.to_string(),
                        &codec::encode_state(m.id, &m.state),
                        &hold,
                    ],
                )
                .await?;
            }
            if !hold {
                tx.execute("SELECT pg_notify($1, 'release')", &[&self.config.channel])
                    .await?;
            }
            tx.commit().await?;
            Ok(rows
                .len()
                .max(usize::from(!matches!(target, Target::Message(_)))))
        })
        .await
    }

    /// Makes matching mail due now: one message, one destination (like ETRN: its
    /// backoff is cleared too), or everything. Deferred recipients get
    /// `next_attempt = now`. Returns the number of jobs made due; wakes every node.
    pub async fn retry(&self, target: &Target, now: Timestamp) -> Result<usize, PgError> {
        self.with(async |c| {
            let tx = c.transaction().await?;
            let (id, dest) = match target {
                Target::Message(id) => (Some(id.to_string()), None),
                Target::Destination(d) => (None, Some(d.clone())),
                Target::All => (None, None),
            };
            match &dest {
                Some(d) => {
                    tx.execute(
                        "DELETE FROM postern_backoff WHERE destination = lower($1)",
                        &[d],
                    )
                    .await?
                }
                None if id.is_none() => tx.execute("DELETE FROM postern_backoff", &[]).await?,
                None => 0,
            };
            let jobs = tx
                .query(
                    "SELECT id, destination FROM postern_jobs
                     WHERE ($1::text IS NULL OR id = $1)
                       AND ($2::text IS NULL OR destination = $2)
                     FOR UPDATE",
                    &[&id, &dest],
                )
                .await?;
            if let (Target::Message(qid), true) = (target, jobs.is_empty()) {
                let exists = tx
                    .query_opt("SELECT 1 FROM postern_messages WHERE id = $1", &[&id])
                    .await?;
                if exists.is_none() {
                    return Err(PgError::NotFound(*qid));
                }
            }
            let mut ids: Vec<String> = jobs.iter().map(|r| r.get(0)).collect();
            ids.dedup();
            let msgs = tx
                .query(
                    "SELECT id, envelope, state, size FROM postern_messages
                     WHERE id = ANY($1) FOR UPDATE",
                    &[&ids],
                )
                .await?;
            for row in &msgs {
                let mut m = stored(row)?;
                if make_due(&m.env, &mut m.state, dest.as_deref(), now) {
                    m.state.version += 1;
                    tx.execute(
                        "UPDATE postern_messages SET state = $2 WHERE id = $1",
                        &[&m.id.to_string(), &codec::encode_state(m.id, &m.state)],
                    )
                    .await?;
                }
            }
            let n = tx
                .execute(
                    "UPDATE postern_jobs SET due = LEAST(due, $3)
                     WHERE ($1::text IS NULL OR id = $1)
                       AND ($2::text IS NULL OR destination = $2)",
                    &[&id, &dest, &ms(now)],
                )
                .await?;
            tx.execute("SELECT pg_notify($1, 'retry')", &[&self.config.channel])
                .await?;
            tx.commit().await?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
        .await
    }

    /// Deletes a message without notice.
    pub async fn delete(&self, id: QueueId) -> Result<(), PgError> {
        let n = self
            .with(async |c| {
                Ok(c.execute(
                    "DELETE FROM postern_messages WHERE id = $1",
                    &[&id.to_string()],
                )
                .await?)
            })
            .await?;
        if n == 0 {
            return Err(PgError::NotFound(id));
        }
        Ok(())
    }

    /// Applies an administrative command; returns a one-line answer (the local queue's
    /// wording).
    pub async fn apply(&self, cmd: &Command, now: Timestamp) -> Result<String, PgError> {
        Ok(match cmd {
            Command::Hold(t) => format!("held {t} ({} affected)", self.hold(t).await?),
            Command::Release(t) => format!("released {t} ({} affected)", self.release(t).await?),
            Command::Retry(t) => format!("retry {t}: {} jobs due now", self.retry(t, now).await?),
            Command::Delete(Target::Message(id)) => {
                self.delete(*id).await?;
                format!("deleted {id}")
            }
            Command::Delete(t) => format!("not deleted: {t} is not one message"),
            Command::Etrn(c) => {
                format!("no ETRN sent for connector {c}: only a running gateway sends it")
            }
            other => format!("not applied: {other:?} is not known to the postgres queue"),
        })
    }

    /// All queued messages, in arrival order.
    pub async fn messages(&self) -> Result<Vec<SpooledMessage>, PgError> {
        let rows = self
            .with(async |c| {
                Ok(c.query(
                    "SELECT id, envelope, state, size FROM postern_messages ORDER BY id",
                    &[],
                )
                .await?)
            })
            .await?;
        rows.iter()
            .map(|r| stored(r).map(Stored::into_spooled))
            .collect()
    }

    /// One queued message.
    pub async fn message(&self, id: QueueId) -> Result<Option<SpooledMessage>, PgError> {
        let row = self
            .with(async |c| {
                let stmt = c.prepared(MESSAGE, &[Type::TEXT]).await?;
                Ok(c.query_opt(&stmt, &[&id.to_string()]).await?)
            })
            .await?;
        row.map(|r| stored(&r).map(Stored::into_spooled))
            .transpose()
    }

    /// The number of queued messages.
    pub async fn len(&self) -> Result<usize, PgError> {
        let n: i64 = self
            .with(async |c| {
                Ok(c.query_one("SELECT count(*) FROM postern_messages", &[])
                    .await?
                    .get(0))
            })
            .await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// True when nothing is queued.
    pub async fn is_empty(&self) -> Result<bool, PgError> {
        Ok(self.len().await? == 0)
    }

    /// A message's body.
    pub async fn body(&self, id: QueueId) -> Result<Bytes, PgError> {
        let row = self
            .with(async |c| {
                let stmt = c.prepared(BODY, &[Type::TEXT]).await?;
                Ok(c.query_opt(&stmt, &[&id.to_string()]).await?)
            })
            .await?;
        let row = row.ok_or(PgError::NotFound(id))?;
        Ok(Bytes::from(row.get::<_, Vec<u8>>(0)))
    }

    /// The qshape-like summary as of `now` (postern-queue's own summary of every row).
    pub async fn summary(&self, now: Timestamp) -> Result<Summary, PgError> {
        let msgs = self.messages().await?;
        Ok(summarize(msgs.iter().map(|m| (&m.envelope, &m.state)), now))
    }

    /// The destinations backed off at `now`, sorted by name.
    pub async fn backoff_entries(
        &self,
        now: Timestamp,
    ) -> Result<Vec<(String, BackoffEntry)>, PgError> {
        let rows = self
            .with(async |c| {
                Ok(c.query(
                    "SELECT destination, failures, last_failure, until, class
                     FROM postern_backoff WHERE until > $1 ORDER BY destination",
                    &[&ms(now)],
                )
                .await?)
            })
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), backoff_entry(r, 1)))
            .collect())
    }

    /// Clears the backoff of `destination`; true when it was backed off at `now`.
    pub async fn clear_backoff(&self, destination: &str, now: Timestamp) -> Result<bool, PgError> {
        let was: i64 = self
            .with(async |c| {
                Ok(c.query_one(
                    "WITH d AS (DELETE FROM postern_backoff WHERE destination = lower($1)
                                RETURNING until)
                     SELECT count(*) FROM d WHERE until > $2",
                    &[&destination, &ms(now)],
                )
                .await?
                .get(0))
            })
            .await?;
        Ok(was > 0)
    }

    /// Whether everything is held, and the held destinations (sorted).
    pub async fn holds(&self) -> Result<(bool, Vec<String>), PgError> {
        let rows = self
            .with(async |c| {
                Ok(c.query(
                    "SELECT kind, name FROM postern_holds ORDER BY kind, name",
                    &[],
                )
                .await?)
            })
            .await?;
        let all = rows.iter().any(|r| r.get::<_, &str>(0) == "all");
        let dests = rows
            .iter()
            .filter(|r| r.get::<_, &str>(0) == "destination")
            .map(|r| r.get(1))
            .collect();
        Ok((all, dests))
    }

    /// A setting every node shares (the gateway's transfer mode); `None` when never set.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, PgError> {
        let row = self
            .with(async |c| {
                Ok(
                    c.query_opt("SELECT value FROM postern_settings WHERE key = $1", &[&key])
                        .await?,
                )
            })
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Sets a shared setting and wakes every node.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), PgError> {
        self.with(async |c| {
            c.execute(
                "WITH s AS (INSERT INTO postern_settings (key, value) VALUES ($1, $2)
                            ON CONFLICT (key) DO UPDATE SET value = $2)
                 SELECT pg_notify($3, 'setting')",
                &[&key, &value, &self.config.channel],
            )
            .await?;
            Ok(())
        })
        .await
    }
}

/// The recipients of `m` at `dest` ready at `now`, or when the next one is (`None`: no
/// unfinished recipient left there).
fn ready(
    m: &Stored,
    dest: &str,
    now: Timestamp,
) -> Result<Vec<DeliveryRecipient>, Option<Timestamp>> {
    let mut recipients = Vec::new();
    let mut later: Option<Timestamp> = None;
    for (index, (r, s)) in m.env.recipients.iter().zip(&m.state.recipients).enumerate() {
        let at = match s {
            _ if r.destination != dest => continue,
            RecipientState::Pending => now,
            RecipientState::Deferred { next_attempt, .. } => *next_attempt,
            _ => continue,
        };
        if at <= now {
            recipients.push(DeliveryRecipient {
                index,
                address: r.address.clone(),
            });
        } else {
            later = Some(later.map_or(at, |l| l.min(at)));
        }
    }
    if recipients.is_empty() {
        Err(later)
    } else {
        Ok(recipients)
    }
}

/// Sets `next_attempt = now` on deferred recipients (of `dest`, when given) due later;
/// true when anything changed.
fn make_due(env: &Envelope, state: &mut MessageState, dest: Option<&str>, now: Timestamp) -> bool {
    let mut changed = false;
    for (r, s) in env.recipients.iter().zip(state.recipients.iter_mut()) {
        if dest.is_some_and(|d| d != r.destination) {
            continue;
        }
        if let RecipientState::Deferred { next_attempt, .. } = s
            && *next_attempt > now
        {
            *next_attempt = now;
            changed = true;
        }
    }
    changed
}

/// The `postern_holds` key of a destination or global hold.
fn hold_key(target: &Target) -> (&'static str, String) {
    match target {
        Target::Destination(d) => ("destination", d.clone()),
        _ => ("all", String::new()),
    }
}

/// A backoff entry from columns `failures, last_failure, until, class` starting at `at`.
fn backoff_entry(r: &Row, at: usize) -> BackoffEntry {
    BackoffEntry {
        failures: u32::try_from(r.get::<_, i32>(at)).unwrap_or(0),
        last_failure: ts(r.get(at + 1)),
        until: ts(r.get(at + 2)),
        class: codec::class_from_name(r.get(at + 3)),
    }
}

async fn load_backoff(
    c: &tokio_postgres::Transaction<'_>,
    stmt: &Statement,
    dest: &str,
) -> Result<Option<BackoffEntry>, PgError> {
    let row = c.query_opt(stmt, &[&dest]).await?;
    Ok(row.map(|r| backoff_entry(&r, 1)))
}

async fn save_backoff(
    c: &impl GenericClient,
    dest: &str,
    change: &BackoffChange,
) -> Result<(), PgError> {
    match change {
        BackoffChange::Unchanged => {}
        BackoffChange::Cleared => {
            c.execute(
                "DELETE FROM postern_backoff WHERE destination = lower($1)",
                &[&dest],
            )
            .await?;
        }
        BackoffChange::Failed(e) => {
            c.execute(
                "INSERT INTO postern_backoff (destination, failures, last_failure, until, class)
                 VALUES (lower($1), $2, $3, $4, $5)
                 ON CONFLICT (destination) DO UPDATE SET failures = $2, last_failure = $3,
                     until = $4, class = $5",
                &[
                    &dest,
                    &i32::try_from(e.failures).unwrap_or(i32::MAX),
                    &ms(e.last_failure),
                    &ms(e.until),
                    &codec::class_name(e.class),
                ],
            )
            .await?;
        }
    }
    Ok(())
}
