//! The text and parameter types of the queue's hot statements, prepared once per pooled
//! connection ([`crate::pooled::Pooled::prepared`]).

use tokio_postgres::Statement;
use tokio_postgres::types::Type;

use crate::error::PgError;
use crate::pooled::Pooled;

/// Stores a message, its body and its jobs, and notifies the other nodes.
pub const ENQUEUE: &str = "WITH m AS (
         INSERT INTO postern_messages
             (id, node, arrival, sender, envelope, state, size, notice_due)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id),
     b AS (INSERT INTO postern_bodies (id, body) SELECT id, $9 FROM m),
     j AS (INSERT INTO postern_jobs (id, destination, due)
           SELECT m.id, d, $10 FROM m, unnest($11::text[]) AS d)
     SELECT pg_notify($12, $2)";

/// The parameter types of [`ENQUEUE`].
pub const ENQUEUE_TYPES: &[Type] = &[
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::BYTEA,
    Type::BYTEA,
    Type::INT8,
    Type::INT8,
    Type::BYTEA,
    Type::INT8,
    Type::TEXT_ARRAY,
    Type::TEXT,
];

/// Leases up to `$4` due jobs to node `$3` until `$2` (now is `$1`).
pub const DUE: &str = "WITH picked AS (
         SELECT j.id, j.destination FROM postern_jobs j
         JOIN postern_messages m ON m.id = j.id AND NOT m.held
         WHERE j.due <= $1
           AND (j.lease_until IS NULL OR j.lease_until <= $1)
           AND NOT EXISTS (SELECT 1 FROM postern_holds h
               WHERE h.kind = 'all'
                  OR (h.kind = 'destination' AND h.name = j.destination))
         ORDER BY j.due
         LIMIT $4
         FOR UPDATE OF j SKIP LOCKED)
     UPDATE postern_jobs j SET lease_until = $2, lease_node = $3
     FROM picked, postern_messages m
     WHERE j.id = picked.id AND j.destination = picked.destination
       AND m.id = j.id
     RETURNING j.id, j.destination, m.envelope, m.state, m.size,
         (SELECT b.until FROM postern_backoff b
          WHERE b.destination = lower(j.destination) AND b.until > $1)
             AS backoff_until";

/// The parameter types of [`DUE`].
pub const DUE_TYPES: &[Type] = &[Type::INT8, Type::INT8, Type::TEXT, Type::INT8];

/// The earliest time anything is due or a lease runs out.
pub const NEXT_WAKEUP: &str =
    "SELECT min(GREATEST(j.due, coalesce(j.lease_until, 0), coalesce(b.until, 0)))
     FROM postern_jobs j
     JOIN postern_messages m ON m.id = j.id AND NOT m.held
     LEFT JOIN postern_backoff b ON b.destination = lower(j.destination)
     WHERE NOT EXISTS (SELECT 1 FROM postern_holds h
         WHERE h.kind = 'all'
            OR (h.kind = 'destination' AND h.name = j.destination))";

/// One message's envelope and state.
pub const MESSAGE: &str = "SELECT id, envelope, state, size FROM postern_messages WHERE id = $1";

/// One message's body.
pub const BODY: &str = "SELECT body FROM postern_bodies WHERE id = $1";

/// The statements of one report, prepared before its transaction starts (the
/// transaction borrows the connection).
pub struct ReportStatements {
    /// Locks the job and reads its lease.
    pub lock_job: Statement,
    /// Locks the message and reads it.
    pub lock_message: Statement,
    /// Locks the destination's backoff and reads it.
    pub lock_backoff: Statement,
    /// Deletes a completed message (its jobs and body go with it).
    pub delete_message: Statement,
    /// Writes the message's new state.
    pub update_state: Statement,
    /// Puts the job back at a later time, unleased.
    pub retime_job: Statement,
    /// Deletes the job: nothing left for its destination.
    pub delete_job: Statement,
}

impl ReportStatements {
    /// The report's statements on `c`, prepared there the first time.
    pub async fn prepare(c: &mut Pooled) -> Result<ReportStatements, PgError> {
        const T: Type = Type::TEXT;
        Ok(ReportStatements {
            lock_job: c
                .prepared(
                    "SELECT lease_until, lease_node FROM postern_jobs
                     WHERE id = $1 AND destination = $2 FOR UPDATE",
                    &[T, T],
                )
                .await?,
            lock_message: c
                .prepared(
                    "SELECT id, envelope, state, size FROM postern_messages
                     WHERE id = $1 FOR UPDATE",
                    &[T],
                )
                .await?,
            lock_backoff: c
                .prepared(
                    "SELECT destination, failures, last_failure, until, class
                     FROM postern_backoff WHERE destination = lower($1) FOR UPDATE",
                    &[T],
                )
                .await?,
            delete_message: c
                .prepared("DELETE FROM postern_messages WHERE id = $1", &[T])
                .await?,
            update_state: c
                .prepared(
                    "UPDATE postern_messages SET state = $2, notice_due = $3 WHERE id = $1",
                    &[T, Type::BYTEA, Type::INT8],
                )
                .await?,
            retime_job: c
                .prepared(
                    "UPDATE postern_jobs SET due = $3, lease_until = NULL, lease_node = NULL
                     WHERE id = $1 AND destination = $2",
                    &[T, T, Type::INT8],
                )
                .await?,
            delete_job: c
                .prepared(
                    "DELETE FROM postern_jobs WHERE id = $1 AND destination = $2",
                    &[T, T],
                )
                .await?,
        })
    }
}
