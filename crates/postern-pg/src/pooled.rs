//! [`Pooled`]: one pooled connection and the statements prepared on it.
//!
//! The hot statements (enqueue, due, report, body, next wake-up) are prepared once per
//! connection and then executed by name: the server parses and plans them once instead
//! of on every call, and each execution is one round trip. The cache is keyed by the
//! statement's text, which is always a `&'static str` of this crate, so it holds at most
//! as many statements as the crate has and needs no limit of its own.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};

use tokio_postgres::types::Type;
use tokio_postgres::{Client, Statement};

use crate::error::PgError;

/// A connection of the pool with its prepared statements (dropped together: a
/// reconnected slot starts with none).
#[derive(Debug)]
pub struct Pooled {
    client: Client,
    prepared: HashMap<&'static str, Statement>,
}

impl Pooled {
    /// Wraps a fresh connection.
    pub fn new(client: Client) -> Pooled {
        Pooled {
            client,
            prepared: HashMap::new(),
        }
    }

    /// The statement for `sql` with parameter `types`, prepared on this connection the
    /// first time it is asked for.
    pub async fn prepared(
        &mut self,
        sql: &'static str,
        types: &[Type],
    ) -> Result<Statement, PgError> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare_typed(sql, types).await?;
        self.prepared.insert(sql, s.clone());
        Ok(s)
    }
}

impl Deref for Pooled {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}
