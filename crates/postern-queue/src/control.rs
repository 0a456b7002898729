//! Requests from `postern queue` to a running gateway, through the spool's `control/`
//! directory.
//!
//! A running gateway holds the spool lock, so the command line cannot write the log
//! itself. Instead it drops a request file into `control/` (written to a temporary name,
//! fsynced, renamed — a request is either whole or absent) and waits for the answer. The
//! gateway's scheduler calls [`crate::Queue::poll_control`] whenever it wakes (at least once
//! a second while idle); each request is applied, answered in `<name>.done` (also
//! atomically), and its `.req` file removed. A request is one line:
//!
//! ```text
//! postern-control 1
//! hold message 0192F1A2B3C4000001 | hold destination example.com | hold all
//! release … | retry … | delete message ID
//! etrn CONNECTOR
//! ```
//!
//! `etrn CONNECTOR` asks the gateway to send its outbound ETRN now (the connector's
//! `etrn_domains`); only a running gateway can answer it.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::scheduler::Target;
use crate::spool::{SpoolError, write_atomic};

const HEADER: &str = "postern-control 1";
/// Largest request file read, in bytes.
pub const MAX_REQUEST: u64 = 4096;

/// An administrative command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Hold a message, a destination, or everything.
    Hold(Target),
    /// Release a hold.
    Release(Target),
    /// Retry now (a destination: like ETRN; also clears its backoff).
    Retry(Target),
    /// Delete one message without notice.
    Delete(Target),
    /// Send the connector's outbound ETRN now (a running gateway only). The name is
    /// 1 to 255 visible ASCII characters.
    Etrn(String),
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Hold(t) => write!(f, "hold {t}"),
            Command::Release(t) => write!(f, "release {t}"),
            Command::Retry(t) => write!(f, "retry {t}"),
            Command::Delete(t) => write!(f, "delete {t}"),
            Command::Etrn(c) => write!(f, "etrn {c}"),
        }
    }
}

/// A request line that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad control request: {0}")]
pub struct BadCommand(pub String);

impl FromStr for Command {
    type Err = BadCommand;

    fn from_str(s: &str) -> Result<Self, BadCommand> {
        let s = s.trim();
        let (verb, rest) = s
            .split_once(' ')
            .ok_or_else(|| BadCommand(s.chars().take(80).collect()))?;
        if verb == "etrn" {
            let name = rest.trim();
            let ok =
                !name.is_empty() && name.len() <= 255 && name.bytes().all(|b| b.is_ascii_graphic());
            return if ok {
                Ok(Command::Etrn(name.to_owned()))
            } else {
                Err(BadCommand(s.chars().take(80).collect()))
            };
        }
        let target: Target = rest
            .parse()
            .map_err(|e: crate::scheduler::BadTarget| BadCommand(e.to_string()))?;
        match verb {
            "hold" => Ok(Command::Hold(target)),
            "release" => Ok(Command::Release(target)),
            "retry" => Ok(Command::Retry(target)),
            "delete" if matches!(target, Target::Message(_)) => Ok(Command::Delete(target)),
            _ => Err(BadCommand(s.chars().take(80).collect())),
        }
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Drops a request into `spool_dir/control/`; returns the request file's path.
pub fn submit(spool_dir: &Path, cmd: &Command) -> Result<PathBuf, SpoolError> {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = spool_dir
        .join("control")
        .join(format!("{nanos:032}-{}-{n}.req", std::process::id()));
    write_atomic(&path, format!("{HEADER}\n{cmd}\n").as_bytes())?;
    Ok(path)
}

/// Reads a request file.
pub fn read_request(path: &Path) -> Result<Command, BadCommand> {
    let meta = fs::metadata(path).map_err(|e| BadCommand(e.to_string()))?;
    if meta.len() > MAX_REQUEST {
        return Err(BadCommand("request file too large".into()));
    }
    let text = fs::read_to_string(path).map_err(|e| BadCommand(e.to_string()))?;
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err(BadCommand("missing `postern-control 1` header".into()));
    }
    lines.next().unwrap_or_default().parse()
}

/// The pending requests, oldest first.
pub fn pending_requests(spool_dir: &Path) -> Result<Vec<PathBuf>, SpoolError> {
    let dir = spool_dir.join("control");
    let mut out: Vec<PathBuf> = match fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "req"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(SpoolError::Io {
                op: "list",
                path: dir,
                source,
            });
        }
    };
    out.sort();
    Ok(out)
}

/// Answers a request: writes `<name>.done` with `answer`, then removes the request.
pub fn answer(request: &Path, answer: &str) -> Result<(), SpoolError> {
    write_atomic(
        &request.with_extension("done"),
        format!("{answer}\n").as_bytes(),
    )?;
    match fs::remove_file(request) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SpoolError::Io {
            op: "remove",
            path: request.to_owned(),
            source,
        }),
    }
}

/// Waits up to `timeout` for the answer to `request`; takes (removes) it when it comes.
pub fn wait_answer(request: &Path, timeout: Duration) -> Option<String> {
    let done = request.with_extension("done");
    let start = Instant::now();
    loop {
        if let Ok(text) = fs::read_to_string(&done) {
            let _ = fs::remove_file(&done);
            return Some(text.trim_end().to_owned());
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::QueueId;

    #[test]
    fn command_round_trip() {
        let id = QueueId {
            millis: 0x1234,
            seq: 5,
        };
        for c in [
            Command::Hold(Target::All),
            Command::Release(Target::Destination("example.com".into())),
            Command::Retry(Target::Message(id)),
            Command::Delete(Target::Message(id)),
            Command::Etrn("isp-link".into()),
        ] {
            assert_eq!(c.to_string().parse::<Command>().unwrap(), c);
        }
        assert!("delete all".parse::<Command>().is_err());
        assert!("etrn a b".parse::<Command>().is_err());
        assert!("etrn ".parse::<Command>().is_err());
        assert!("frobnicate all".parse::<Command>().is_err());
    }

    #[test]
    fn submit_read_answer() {
        let dir = std::env::temp_dir().join(format!("postern-control-{}", std::process::id()));
        fs::create_dir_all(dir.join("control")).unwrap();
        let req = submit(&dir, &Command::Hold(Target::All)).unwrap();
        assert_eq!(pending_requests(&dir).unwrap(), vec![req.clone()]);
        assert_eq!(read_request(&req).unwrap(), Command::Hold(Target::All));
        answer(&req, "ok").unwrap();
        assert!(pending_requests(&dir).unwrap().is_empty());
        assert_eq!(
            wait_answer(&req, Duration::from_secs(1)).as_deref(),
            Some("ok")
        );
        assert_eq!(wait_answer(&req, Duration::ZERO), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}
