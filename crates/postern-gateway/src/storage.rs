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

use crate::config::Config;

pub use crate::storage_settings::{Backend, StorageSection};

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
    settings.pool_size = s.pool_size;
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

/// The tracking search a command-line tool (`postern track`) uses for `[storage]`: the
/// cluster's log in PostgreSQL, whose events name their node; `None` for the local
/// backend, whose daily files the tool reads itself. Call it inside a runtime; the
/// search's calls block and must then run outside it (as `EventSearch` says).
pub async fn cluster_search(config: &Config) -> Result<Option<Arc<dyn EventSearch>>, StorageError> {
    match config.storage.backend {
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            let settings = pg_settings(config)?;
            let db = postgres_db(&settings).await?;
            let search: Arc<dyn EventSearch> = Arc::new(postern_pg::PgSearch::new(
                db,
                tokio::runtime::Handle::current(),
            ));
            Ok(Some(search))
        }
        _ => Ok(None),
    }
}

/// The database of `settings`, connected and migrated.
#[cfg(feature = "postgres")]
async fn postgres_db(
    settings: &postern_pg::PgSettings,
) -> Result<Arc<postern_pg::Db>, StorageError> {
    Ok(Arc::new(
        postern_pg::Db::connect(settings)
            .await
            .map_err(StoreError::from)?,
    ))
}

/// The queue and the tracking log of a cluster in PostgreSQL (schema migrated on open).
#[cfg(feature = "postgres")]
async fn open_postgres(config: &Config) -> Result<Storage, StorageError> {
    let settings = pg_settings(config)?;
    let db = postgres_db(&settings).await?;
    let mut qc = postern_pg::PgQueueConfig::default();
    qc.queue = config.retry.queue.clone();
    qc.lease = config.storage.lease;
    let pg = postern_pg::PgQueue::with_db(Arc::clone(&db), qc)
        .await
        .map_err(StoreError::from)?;
    let recovered = pg.len().await.map_err(StoreError::from)?;
    let queue: Arc<dyn QueueStore> = Arc::new(pg);
    let (tracker, search) = if config.tracking.enabled {
        let mut sc = postern_pg::PgSinkConfig::default();
        sc.batch = config.storage.tracking_batch;
        sc.linger = config.storage.tracking_flush;
        let sink: Arc<dyn EventSink> = Arc::new(postern_pg::PgSink::start(Arc::clone(&db), sc));
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
    queue_config.spool.max_gather = config.spool.group_commit_gather;
    queue_config.spool.preallocate = config.spool.preallocate;
    let (queue, recovered) = Queue::open(config.spool_dir(), queue_config, crate::clock::now())
        .map_err(StoreError::from)?;
    let mut store = LocalStore::with_offload(queue, tokio_offload());
    if config.spool.commit_thread {
        store = store.with_committer().map_err(|source| StorageError::Dir {
            path: config.spool_dir(),
            source,
        })?;
    }
    if !config.spool.completion_flush.is_zero() {
        store = store.with_lazy_completions(config.spool.completion_flush);
    }
    let queue: Arc<dyn QueueStore> = Arc::new(store);
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
    use crate::storage_settings::{StorageToml, host_name, storage_section};

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
    fn cluster_tuning_has_defaults_and_bounds() {
        let s = parse("").unwrap();
        assert_eq!(s.lease, std::time::Duration::from_secs(600));
        assert_eq!((s.pool_size, s.tracking_batch), (4, 1000));
        assert_eq!(s.tracking_flush, std::time::Duration::from_millis(200));
        let s =
            parse("lease_secs = 10\npool_size = 8\ntracking_batch = 50\ntracking_flush_ms = 20")
                .unwrap();
        assert_eq!(s.lease, std::time::Duration::from_secs(10));
        assert_eq!((s.pool_size, s.tracking_batch), (8, 50));
        assert_eq!(s.tracking_flush, std::time::Duration::from_millis(20));
        for (text, key) in [
            ("lease_secs = 2", "lease_secs"),
            ("lease_secs = 86401", "lease_secs"),
            ("pool_size = 0", "pool_size"),
            ("pool_size = 101", "pool_size"),
            ("tracking_batch = 0", "tracking_batch"),
            ("tracking_flush_ms = 0", "tracking_flush_ms"),
            ("tracking_flush_ms = 60001", "tracking_flush_ms"),
        ] {
            let (k, why) = parse(text).unwrap_err();
            assert_eq!(k, key, "{text}");
            assert!(why.contains("out of range"), "{why}");
        }
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
