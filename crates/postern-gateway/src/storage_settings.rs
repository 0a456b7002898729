//! `[storage]` as configured: which backend, its URL and password source, the node
//! name. Read with the rest of the configuration; [`crate::storage`] opens it.

use std::path::PathBuf;

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
    })
}
