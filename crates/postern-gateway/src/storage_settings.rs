//! `[storage]` as configured: which backend, its URL and password source, the node
//! name. Read with the rest of the configuration; [`crate::storage`] opens it.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

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
    /// `lease_secs`: how long a node owns a delivery it took from the shared queue
    /// before another node may take it over. A live node renews its leases each third of
    /// it, so a longer delivery is never taken over; a dead node's work waits this long.
    /// Default [`DEFAULT_LEASE`] (600 s), 3 to 86 400.
    pub lease: Duration,
    /// `pool_size`: database connections each node keeps open (besides the one that
    /// listens for other nodes' changes). Default [`DEFAULT_POOL_SIZE`] (4), 1 to 100.
    pub pool_size: usize,
    /// `tracking_batch`: tracking events written to the database per batch. Default
    /// [`DEFAULT_TRACKING_BATCH`] (1 000), 1 to 100 000.
    pub tracking_batch: usize,
    /// `tracking_flush_ms`: how long a tracking event may wait for its batch to fill.
    /// Default [`DEFAULT_TRACKING_FLUSH`] (200 ms), 1 to 60 000.
    pub tracking_flush: Duration,
}

/// `[storage] lease_secs` by default: 10 minutes.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(600);
/// `[storage] pool_size` by default.
pub const DEFAULT_POOL_SIZE: usize = 4;
/// `[storage] tracking_batch` by default.
pub const DEFAULT_TRACKING_BATCH: usize = 1_000;
/// `[storage] tracking_flush_ms` by default: 200 ms.
pub const DEFAULT_TRACKING_FLUSH: Duration = Duration::from_millis(200);

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
    lease_secs: Option<u64>,
    pool_size: Option<u64>,
    tracking_batch: Option<u64>,
    tracking_flush_ms: Option<u64>,
}

/// The machine's host name, when the system says.
pub(crate) fn host_name() -> Option<String> {
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
        lease: Duration::from_secs(bounded(
            "lease_secs",
            t.lease_secs,
            DEFAULT_LEASE.as_secs(),
            3..=86_400,
        )?),
        pool_size: to_usize(bounded(
            "pool_size",
            t.pool_size,
            DEFAULT_POOL_SIZE as u64,
            1..=100,
        )?),
        tracking_batch: to_usize(bounded(
            "tracking_batch",
            t.tracking_batch,
            DEFAULT_TRACKING_BATCH as u64,
            1..=100_000,
        )?),
        tracking_flush: Duration::from_millis(bounded(
            "tracking_flush_ms",
            t.tracking_flush_ms,
            DEFAULT_TRACKING_FLUSH.as_millis() as u64,
            1..=60_000,
        )?),
    })
}

/// A number setting: `default` when unset; outside `range` an error naming the key.
fn bounded(
    key: &'static str,
    value: Option<u64>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, (&'static str, String)> {
    let v = value.unwrap_or(default);
    if range.contains(&v) {
        Ok(v)
    } else {
        Err((
            key,
            format!(
                "{v} is out of range: {} to {} (default {default})",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// A bounded count as `usize` (every range above fits).
fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}
