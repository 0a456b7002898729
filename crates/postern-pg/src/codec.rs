//! Rows to postern-queue values and back, through postern-queue's own record codec (the
//! spool's format), so the two backends store exactly the same envelope and state.

use postern_queue::record::{self, Record};
use postern_queue::{Envelope, FailureClass, MessageState, QueueId, Timestamp};

use crate::error::PgError;

fn corrupt(id: &str, what: impl ToString) -> PgError {
    PgError::Corrupt {
        id: id.to_owned(),
        what: what.to_string(),
    }
}

/// The enqueue record of `envelope` with an empty body (bodies live in their own table).
pub fn encode_envelope(id: QueueId, envelope: &Envelope) -> Vec<u8> {
    let mut out = Vec::new();
    record::encode_enqueue(&mut out, id, envelope, b"");
    out
}

/// The envelope stored by [`encode_envelope`].
pub fn decode_envelope(id: &str, bytes: &[u8]) -> Result<Envelope, PgError> {
    match record::decode(bytes, u32::MAX)
        .map_err(|e| corrupt(id, e))?
        .0
    {
        Record::Enqueue { envelope, .. } => Ok(envelope),
        _ => Err(corrupt(id, "not an enqueue record")),
    }
}

/// The state record of `state`.
pub fn encode_state(id: QueueId, state: &MessageState) -> Vec<u8> {
    let mut out = Vec::new();
    record::encode_state(&mut out, id, state);
    out
}

/// The state stored by [`encode_state`].
pub fn decode_state(id: &str, bytes: &[u8]) -> Result<MessageState, PgError> {
    match record::decode(bytes, u32::MAX)
        .map_err(|e| corrupt(id, e))?
        .0
    {
        Record::State { state, .. } => Ok(state),
        _ => Err(corrupt(id, "not a state record")),
    }
}

/// A queue id stored as text.
pub fn parse_id(id: &str) -> Result<QueueId, PgError> {
    id.parse().map_err(|e| corrupt(id, e))
}

/// A time as PostgreSQL's `bigint`.
pub fn ms(t: Timestamp) -> i64 {
    i64::try_from(t.0).unwrap_or(i64::MAX)
}

/// A `bigint` back to a time (negative values, which we never write, read as 0).
pub fn ts(v: i64) -> Timestamp {
    Timestamp(u64::try_from(v).unwrap_or(0))
}

/// The stored name of a failure class.
pub fn class_name(c: FailureClass) -> &'static str {
    match c {
        FailureClass::Connection => "connection",
        FailureClass::Session => "session",
        FailureClass::Recipient => "recipient",
        FailureClass::Data => "data",
        _ => "permanent",
    }
}

/// A failure class from its stored name.
pub fn class_from_name(s: &str) -> FailureClass {
    match s {
        "connection" => FailureClass::Connection,
        "session" => FailureClass::Session,
        "recipient" => FailureClass::Recipient,
        "data" => FailureClass::Data,
        _ => FailureClass::Permanent,
    }
}
