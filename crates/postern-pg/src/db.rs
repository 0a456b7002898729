//! Connections: settings, a small pool that reconnects, and the schema migrations.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard};
use tokio_postgres::{Client, Config, NoTls};

use crate::error::PgError;
use crate::pooled::Pooled;

/// How to reach the database.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PgSettings {
    /// `postgres://user@host:port/db` (a password in the URL is accepted but better
    /// given in `password`, read from a file or the environment).
    pub url: String,
    /// The password, when not in the URL.
    pub password: Option<String>,
    /// This node's name, written with every message it accepts and every event it tracks.
    pub node: String,
    /// Connections kept open (default 4).
    pub pool_size: usize,
    /// Longest wait for a connection or a statement (default 10 s): past it the database
    /// counts as unavailable.
    pub timeout: Duration,
}

impl PgSettings {
    /// Settings with the defaults.
    pub fn new(url: impl Into<String>, node: impl Into<String>) -> PgSettings {
        PgSettings {
            url: url.into(),
            password: None,
            node: node.into(),
            pool_size: 4,
            timeout: Duration::from_secs(10),
        }
    }

    fn config(&self) -> Result<Config, PgError> {
        let mut c: Config = self
            .url
            .parse()
            .map_err(|e| PgError::Config(format!("bad database URL: {e}")))?;
        if let Some(p) = &self.password {
            c.password(p.as_bytes());
        }
        c.connect_timeout(self.timeout);
        // Notice a dead peer on idle connections (the LISTEN one above all).
        c.keepalives_idle(Duration::from_secs(30));
        if c.get_application_name().is_none() {
            c.application_name(format!("postern {}", self.node));
        }
        Ok(c)
    }
}

/// The embedded migrations, in order: (version, name, SQL).
const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "shared queue and tracking log",
    include_str!("../migrations/0001_init.sql"),
)];

/// The newest schema version this program knows.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Serializes concurrent migrations of several nodes starting at once.
const MIGRATION_LOCK: i64 = 0x706f_7374_6572_6e31; // "postern1"

/// A few connections to one database, each reconnected on demand after a loss.
#[derive(Debug)]
pub struct Db {
    config: Config,
    timeout: Duration,
    node: String,
    slots: Vec<Mutex<Option<Pooled>>>,
    next: AtomicUsize,
}

/// A connection taken from the pool (returned when dropped).
pub type Conn<'a> = MutexGuard<'a, Option<Pooled>>;

impl Db {
    /// Connects once (so a wrong URL or a database that does not answer is reported at
    /// start) and brings the schema up to [`SCHEMA_VERSION`].
    pub async fn connect(settings: &PgSettings) -> Result<Db, PgError> {
        let db = Db {
            config: settings.config()?,
            timeout: settings.timeout,
            node: settings.node.clone(),
            slots: (0..settings.pool_size.max(1))
                .map(|_| Mutex::new(None))
                .collect(),
            next: AtomicUsize::new(0),
        };
        let mut conn = db.conn().await?;
        let client = conn.as_mut().expect("conn() connects");
        db.timed(migrate(client)).await?;
        drop(conn);
        Ok(db)
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The time limit of one operation.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Opens a new connection outside the pool (for LISTEN), its driver spawned.
    pub async fn open(
        &self,
    ) -> Result<
        (
            Client,
            tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
        ),
        PgError,
    > {
        self.timed(async { Ok(self.config.connect(NoTls).await?) })
            .await
    }

    /// A connection from the pool: a free one if any, else waits for the next in turn.
    /// A slot whose connection was lost is reconnected here.
    pub async fn conn(&self) -> Result<Conn<'_>, PgError> {
        let n = self.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let free = (0..n).find_map(|i| self.slots[(start + i) % n].try_lock().ok());
        let mut guard = match free {
            Some(g) => g,
            None => {
                self.timed(async { Ok(self.slots[start % n].lock().await) })
                    .await?
            }
        };
        if guard.as_ref().is_none_or(|c| c.is_closed()) {
            *guard = None;
            let client = self
                .timed(async {
                    let (client, connection) = self.config.connect(NoTls).await?;
                    // The connection ends by itself when the client is dropped or the
                    // server goes; the client then reports `is_closed`.
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                    Ok(client)
                })
                .await?;
            *guard = Some(Pooled::new(client));
        }
        Ok(guard)
    }

    /// Runs `f` with this pool's time limit; past it the database counts as unavailable.
    pub async fn timed<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, PgError>>,
    ) -> Result<T, PgError> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r,
            Err(_) => Err(PgError::Unavailable(format!(
                "no answer within {:?}",
                self.timeout
            ))),
        }
    }

    /// Whether the database answers now, and its version string.
    pub async fn ping(&self) -> Result<String, PgError> {
        let mut conn = self.conn().await?;
        let client = conn.as_mut().expect("conn() connects");
        let r = self
            .timed(async { Ok(client.query_one("SELECT version()", &[]).await?) })
            .await;
        if r.is_err() {
            *conn = None;
        }
        Ok(r?.get(0))
    }
}

/// Drops a pooled connection that failed with an outage, so the next use reconnects.
pub fn forget_if_lost<T>(conn: &mut Conn<'_>, r: &Result<T, PgError>) {
    if matches!(r, Err(e) if e.is_unavailable()) {
        **conn = None;
    }
}

/// Applies the migrations the database lacks, in one transaction, under an advisory lock
/// (nodes starting together take turns).
async fn migrate(client: &mut Client) -> Result<(), PgError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS postern_schema (
             version integer PRIMARY KEY,
             name text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let have: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM postern_schema", &[])
        .await?
        .get(0);
    if have > SCHEMA_VERSION {
        return Err(PgError::Config(format!(
            "the database schema is version {have}, newer than this postern's {SCHEMA_VERSION}"
        )));
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > have) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO postern_schema (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
