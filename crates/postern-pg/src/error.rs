//! [`PgError`]: what can go wrong talking to PostgreSQL, sorted by what the caller does.

use postern_queue::QueueId;

/// An error of the PostgreSQL backend.
///
/// [`PgError::Unavailable`] is the one a gateway must tell apart: the database cannot be
/// reached (refused, lost, shutting down, timed out). Nothing was written by the call
/// that failed (each change is one transaction), and an SMTP session answers 451.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The database cannot be reached or stopped answering; try again later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database answered with an error (a bug, a constraint, a permission).
    #[error("database error: {0}")]
    Database(String),
    /// No such message in the queue.
    #[error("no such message: {0}")]
    NotFound(QueueId),
    /// A stored record could not be decoded.
    #[error("corrupt stored record for {id}: {what}")]
    Corrupt {
        /// Whose record.
        id: String,
        /// What was wrong.
        what: String,
    },
    /// The connection settings are unusable (a bad URL, an unreadable password file),
    /// or the schema is newer than this program.
    #[error("postgres configuration: {0}")]
    Config(String),
}

impl PgError {
    /// True when the database could not be reached: the caller should answer 451 and
    /// try again later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, PgError::Unavailable(_))
    }
}

/// SQLSTATE classes and codes that mean "the server is not there for us now".
fn unavailable_state(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code.starts_with("57P") // admin / crash shutdown, cannot connect now
        || code == "53300" // too many connections
        || code == "40001" // serialization failure: transient
        || code == "40P01" // deadlock detected: transient
}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> PgError {
        match e.as_db_error() {
            Some(db) if unavailable_state(db.code().code()) => {
                PgError::Unavailable(db.message().to_owned())
            }
            Some(db) => PgError::Database(format!("{} ({})", db.message(), db.code().code())),
            // Our side could not convert a value: a bug, not an outage.
            None if e.to_string().contains("serializ") => PgError::Database(e.to_string()),
            // No answer from the server at all: the connection failed or was closed.
            None => PgError::Unavailable(e.to_string()),
        }
    }
}
