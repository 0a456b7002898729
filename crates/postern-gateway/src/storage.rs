//! Where the queue and the tracking log live: `[storage]`, and [`open`], the one place a
//! backend is built from it.
//!
//! The gateway is written against the storage seams ([`QueueStore`], [`EventSink`],
//! [`EventSearch`]) and does not know which backend it runs on:
//!
//! * `backend = "local"` (the default): the spool under `DATA_DIR/spool` and the daily
//!   tracking files, for one machine.
//! * `backend = "postgres"`: a queue and a tracking log shared by every node of a
//!   cluster, in PostgreSQL at `url`. Its password comes from `password_file` or
//!   `password_env`, never from the command line or the file itself, and is never
//!   printed. Each node names itself with `node` (default: the machine's host name), and
//!   tracking searches show which node did each hop.
//!
//! A build without PostgreSQL support refuses `backend = "postgres"` when the
//! configuration is read (`postern config check` and `postern serve` say so).

use std::path::PathBuf;
use std::sync::Arc;

use postern_queue::{LocalStore, Offload, Queue, QueueStore, StoreError};
use postern_track::{DailyFiles, EventSearch, EventSink, Writer, WriterConfig};
use serde::Deserialize;

use crate::config::Config;

/// Which storage backend holds the queue and the tracking log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Backend {
    /// The spool and the daily tracking files on this machine (the default).
    #[default]
    Local,
    /// A PostgreSQL database shared by the nodes of a cluster.
    Postgres,
}

impl Backend {
    /// The name as configured.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::Postgres => "postgres",
        }
    }

    /// Whether this build can run the backend. PostgreSQL support comes with the
    /// gateway's `postgres` feature.
    pub fn is_available(self) -> bool {
        match self {
            Backend::Local => true,
            Backend::Postgres => cfg!(feature = "postgres"),
        }
    }
}

/// `[storage]`: where the queue and the tracking log live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageSection {
    /// `backend`: `local` (default) or `postgres`.
    pub backend: Backend,
    /// `url`: the database's connection URL (`postgres://user@host:port/db`), without a
    /// password. Required for `postgres`; no default.
    pub url: Option<String>,
    /// `password_file`: a file whose first line is the database password. Default none.
    pub password_file: Option<PathBuf>,
    /// `password_env`: an environment variable holding the database password. Default
    /// none.
    pub password_env: Option<String>,
    /// `node`: this gateway's name in the cluster, shown in tracking searches. Default
    /// the machine's host name (`[server] hostname` if it cannot be read).
    pub node: String,
}

impl StorageSection {
    /// The database password from `password_file` or `password_env` (`None` when neither
    /// is set). The error names the file or the variable, never the value.
    pub fn password(&self) -> Result<Option<String>, String> {
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("storage.password_file {}: {e}", path.display()))?;
            let first = text.lines().next().unwrap_or("");
            return Ok(Some(first.to_owned()));
        }
        if let Some(var) = &self.password_env {
            return std::env::var(var)
                .map(Some)
                .map_err(|e| format!("storage.password_env {var}: {e}"));
        }
        Ok(None)
    }
}

/// `[storage]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StorageToml {
    backend: Option<String>,
    url: Option<String>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    node: Option<String>,
}

/// The machine's host name, when the system says.
fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Whether `url` carries a password (`scheme://user:password@host`, or a `password=`
/// parameter): refused, so the password never sits in a file that is shown or copied.
fn url_has_password(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let userinfo_pw = authority
        .rsplit_once('@')
        .is_some_and(|(user, _)| user.contains(':'));
    let param_pw = url
        .split_once('?')
        .is_some_and(|(_, q)| q.split('&').any(|p| p.starts_with("password=")));
    userinfo_pw || param_pw || url.split_whitespace().any(|w| w.starts_with("password="))
}

/// Validates `[storage]`; an error names the key. `server_hostname` is the fallback node
/// name.
pub(crate) fn storage_section(
    t: &StorageToml,
    server_hostname: &str,
) -> Result<StorageSection, (&'static str, String)> {
    let backend = match t.backend.as_deref().unwrap_or("local") {
        "local" => Backend::Local,
        "postgres" => Backend::Postgres,
        other => return Err(("backend", format!("{other:?}: must be local or postgres"))),
    };
    if !backend.is_available() {
        return Err((
            "backend",
            format!(
                "{:?} is not available: this build has no PostgreSQL support \
                 (the postgres feature of postern-gateway); use backend = \"local\"",
                backend.name()
            ),
        ));
    }
    let url = t.url.clone().filter(|u| !u.trim().is_empty());
    if let Some(u) = &url
        && url_has_password(u)
    {
        return Err((
            "url",
            "must not carry a password: use password_file or password_env".into(),
        ));
    }
    if backend == Backend::Postgres && url.is_none() {
        return Err((
            "url",
            "backend \"postgres\" needs the database's url".into(),
        ));
    }
    if t.password_file.is_some() && t.password_env.is_some() {
        return Err((
            "password_env",
            "set password_file or password_env, not both".into(),
        ));
    }
    let node = t
        .node
        .clone()
        .or_else(host_name)
        .unwrap_or_else(|| server_hostname.to_owned());
    if node.is_empty() || node.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(("node", "must be a name without spaces".into()));
    }
    Ok(StorageSection {
        backend,
        url,
        password_file: t.password_file.clone(),
        password_env: t.password_env.clone(),
        node,
    })
}

/// The storage a gateway runs on, as [`open`] built it.
#[derive(Debug)]
pub struct Storage {
    /// The queue.
    pub queue: Arc<dyn QueueStore>,
    /// How many messages were found queued at start.
    pub recovered: usize,
    /// Where tracking events go (`None`: `[tracking] enabled = false`).
    pub tracker: Option<Arc<dyn EventSink>>,
    /// Where tracking searches read (`None` when tracking is off).
    pub search: Option<Arc<dyn EventSearch>>,
}

/// Why the storage could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The queue could not be opened (the spool is locked or damaged, the database
    /// cannot be reached).
    #[error("queue: {0}")]
    Queue(#[from] StoreError),
    /// The tracking log could not be opened.
    #[error("tracking log: {0}")]
    Tracking(#[from] postern_track::TrackError),
    /// A directory could not be created.
    #[error("cannot create {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Runs the local spool's blocking calls on tokio's blocking threads (inline outside a
/// runtime).
fn tokio_offload() -> Offload {
    Arc::new(|job| match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn_blocking(job);
        }
        Err(_) => job(),
    })
}

/// Waits for a storage future on a blocking thread (code already running in
/// `tokio::task::spawn_blocking`, which may not `.await`). Never call it on a runtime
/// worker thread: tokio refuses (a panic) rather than stall the runtime.
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    tokio::runtime::Handle::current().block_on(fut)
}

/// Builds the storage `[storage]` names: **the** place a backend is constructed. A new
/// backend adds its arm here.
pub async fn open(config: &Config) -> Result<Storage, StorageError> {
    match config.storage.backend {
        Backend::Local => open_local(config),
        #[cfg(feature = "postgres")]
        Backend::Postgres => open_postgres(config).await,
        #[allow(unreachable_patterns)] // a build without the postgres feature
        other => Err(StoreError::NotAvailable(other.name().to_owned()).into()),
    }
}

/// The PostgreSQL connection settings `[storage]` names (password from its file or
/// variable).
#[cfg(feature = "postgres")]
fn pg_settings(config: &Config) -> Result<postern_pg::PgSettings, StoreError> {
    let s = &config.storage;
    let unusable = |reason: String| StoreError::Backend {
        backend: "postgres",
        reason,
    };
    let url = s.url.clone().ok_or_else(|| unusable("no url".into()))?;
    let mut settings = postern_pg::PgSettings::new(url, s.node.clone());
    settings.password = s.password().map_err(unusable)?;
    Ok(settings)
}

/// Whether the database of `[storage]` answers (`postern config check`): its version,
/// or why not. `None` for the local backend.
pub async fn check_database(config: &Config) -> Option<Result<String, String>> {
    match config.storage.backend {
        #[cfg(feature = "postgres")]
        Backend::Postgres => Some(
            async {
                let settings = pg_settings(config).map_err(|e| e.to_string())?;
                let db = postern_pg::Db::connect(&settings)
                    .await
                    .map_err(|e| e.to_string())?;
                db.ping().await.map_err(|e| e.to_string())
            }
            .await,
        ),
        _ => None,
    }
}

/// The queue and the tracking log of a cluster in PostgreSQL (schema migrated on open).
#[cfg(feature = "postgres")]
async fn open_postgres(config: &Config) -> Result<Storage, StorageError> {
    let settings = pg_settings(config)?;
    let db = Arc::new(
        postern_pg::Db::connect(&settings)
            .await
            .map_err(StoreError::from)?,
    );
    let mut qc = postern_pg::PgQueueConfig::default();
    qc.queue = config.retry.queue.clone();
    let pg = postern_pg::PgQueue::with_db(Arc::clone(&db), qc)
        .await
        .map_err(StoreError::from)?;
    let recovered = pg.len().await.map_err(StoreError::from)?;
    let queue: Arc<dyn QueueStore> = Arc::new(pg);
    let (tracker, search) = if config.tracking.enabled {
        let sink: Arc<dyn EventSink> = Arc::new(postern_pg::PgSink::start(
            Arc::clone(&db),
            postern_pg::PgSinkConfig::default(),
        ));
        let search: Arc<dyn EventSearch> = Arc::new(postern_pg::PgSearch::new(
            db,
            tokio::runtime::Handle::current(),
        ));
        (Some(sink), Some(search))
    } else {
        (None, None)
    };
    Ok(Storage {
        queue,
        recovered,
        tracker,
        search,
    })
}

/// The spool under the data directory and the daily tracking files.
fn open_local(config: &Config) -> Result<Storage, StorageError> {
    let mut queue_config = config.retry.queue.clone();
    queue_config.spool.segment_size = config.spool.segment_size;
    let (queue, recovered) = Queue::open(config.spool_dir(), queue_config, crate::clock::now())
        .map_err(StoreError::from)?;
    let queue: Arc<dyn QueueStore> = Arc::new(LocalStore::with_offload(queue, tokio_offload()));
    let (tracker, search) = if config.tracking.enabled {
        let dir = &config.tracking.dir;
        std::fs::create_dir_all(dir).map_err(|source| StorageError::Dir {
            path: dir.clone(),
            source,
        })?;
        let mut wc = WriterConfig::new(dir);
        wc.retention.max_age_days =
            (config.tracking.retention_days > 0).then_some(config.tracking.retention_days);
        let sink: Arc<dyn EventSink> = Arc::new(Writer::open(wc)?);
        let search: Arc<dyn EventSearch> = Arc::new(DailyFiles::new(dir));
        (Some(sink), Some(search))
    } else {
        (None, None)
    };
    Ok(Storage {
        queue,
        recovered: recovered.messages.len(),
        tracker,
        search,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<StorageSection, (&'static str, String)> {
        let t: StorageToml = toml::from_str(text).unwrap();
        storage_section(&t, "mx.example.org")
    }

    #[test]
    fn defaults_are_local_and_the_host_name() {
        let s = parse("").unwrap();
        assert_eq!(s.backend, Backend::Local);
        assert_eq!(s.url, None);
        assert_eq!(Some(s.node), host_name().or(Some("mx.example.org".into())));
        assert_eq!(parse("node = \"n1\"").unwrap().node, "n1");
    }

    #[test]
    fn postgres_without_support_says_so() {
        let e = parse("backend = \"postgres\"\nurl = \"postgres://postern@127.0.0.1/db\"");
        if cfg!(feature = "postgres") {
            assert!(e.is_ok());
        } else {
            let (key, why) = e.unwrap_err();
            assert_eq!(key, "backend");
            assert!(why.contains("not available"), "{why}");
        }
        let (key, _) = parse("backend = \"mysql\"").unwrap_err();
        assert_eq!(key, "backend");
    }

    #[test]
    fn passwords_never_in_the_url() {
        for url in [
            "postgres://postern:secret@127.0.0.1/db",
            "postgres://127.0.0.1/db?user=p&password=secret",
            "host=127.0.0.1 password=secret",
        ] {
            let (key, why) = parse(&format!("url = {url:?}")).unwrap_err();
            assert_eq!(key, "url");
            assert!(!why.contains("secret"), "{why}");
        }
        assert!(parse("url = \"postgres://postern@127.0.0.1:5432/db\"").is_ok());
        let (key, _) = parse("password_file = \"/a\"\npassword_env = \"B\"").unwrap_err();
        assert_eq!(key, "password_env");
        assert_eq!(parse("node = \"a b\"").unwrap_err().0, "node");
    }

    #[test]
    fn password_from_file_or_environment() {
        let dir = std::env::temp_dir().join(format!("postern-storage-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "s3cret\nignored\n").unwrap();
        let s = parse(&format!("password_file = {:?}", file.display().to_string())).unwrap();
        assert_eq!(s.password().unwrap().as_deref(), Some("s3cret"));
        let missing = parse("password_file = \"/no/such/file\"").unwrap();
        assert!(missing.password().unwrap_err().contains("/no/such/file"));
        // PATH is set in every test environment; a variable that is unset is an error.
        let s = parse("password_env = \"PATH\"").unwrap();
        assert!(s.password().unwrap().is_some());
        let s = parse("password_env = \"POSTERN_NO_SUCH_VARIABLE_SET\"").unwrap();
        assert!(
            s.password()
                .unwrap_err()
                .contains("POSTERN_NO_SUCH_VARIABLE_SET")
        );
        assert_eq!(parse("").unwrap().password().unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
