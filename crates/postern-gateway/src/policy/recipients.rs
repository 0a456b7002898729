//! The recipient list of `[inbound] verify_recipients = "list"`: the file, its parser,
//! and a cache that re-reads it whenever it changes (so editing the file is enough; no
//! reload needed).
//!
//! The file has one entry a line: an address (`jo@corp.test`) or a whole domain
//! (`*@corp.test`); blank lines and lines starting with `#` are ignored; case does not
//! matter. A file with a bad line is refused as a whole (the line is named), and the
//! list read before stays in force.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

/// Largest recipients file read, in bytes; a larger one is refused.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Longest entry (RFC 5321's path limit, 256 octets with the angle brackets).
const MAX_ENTRY_LEN: usize = 254;

/// A bad line of a recipients file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct ListError {
    /// The line, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub why: String,
}

/// The known recipients, lower case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecipientList {
    addresses: HashSet<String>,
    domains: HashSet<String>,
}

impl RecipientList {
    /// Parses the text of a recipients file.
    pub fn parse(text: &str) -> Result<RecipientList, ListError> {
        let mut list = RecipientList::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |why: &str| ListError {
                line: i + 1,
                why: why.to_owned(),
            };
            if line.len() > MAX_ENTRY_LEN {
                return Err(err("entry longer than 254 octets"));
            }
            if line.contains(|c: char| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
            {
                return Err(err("an entry is one address, without spaces or <>"));
            }
            let Some((local, domain)) = line.rsplit_once('@') else {
                return Err(err("not an address (local@domain) or *@domain"));
            };
            let domain = domain.strip_suffix('.').unwrap_or(domain);
            if local.is_empty() || domain.is_empty() || domain.contains('@') {
                return Err(err("not an address (local@domain) or *@domain"));
            }
            let domain = domain.to_lowercase();
            if local == "*" {
                list.domains.insert(domain);
            } else {
                list.addresses
                    .insert(format!("{}@{domain}", local.to_lowercase()));
            }
        }
        Ok(list)
    }

    /// Whether `local@domain` is listed (or its whole domain is). `local` is the local
    /// part without quotes; the domain may have a trailing dot.
    pub fn contains(&self, local: &str, domain: &str) -> bool {
        let domain = domain.strip_suffix('.').unwrap_or(domain).to_lowercase();
        self.domains.contains(&domain)
            || self
                .addresses
                .contains(&format!("{}@{domain}", local.to_lowercase()))
    }

    /// How many entries (addresses and domains).
    pub fn len(&self) -> usize {
        self.addresses.len() + self.domains.len()
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What identifies one version of the file: modification time and length.
type Stamp = (Option<SystemTime>, u64);

#[derive(Debug)]
struct Loaded {
    path: PathBuf,
    stamp: Stamp,
    list: Arc<RecipientList>,
}

/// The recipients file as last read; re-read when its time or length changes.
#[derive(Debug, Default)]
pub struct RecipientsCache {
    loaded: Mutex<Option<Loaded>>,
}

/// Reads and parses the file, refusing one over [`MAX_FILE_BYTES`].
fn read(path: &Path) -> Result<RecipientList, String> {
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    RecipientList::parse(&text).map_err(|e| e.to_string())
}

impl RecipientsCache {
    /// An empty cache.
    pub fn new() -> RecipientsCache {
        RecipientsCache::default()
    }

    /// The list in `path`, re-read if the file changed since the last call. A file
    /// that cannot be read or parsed leaves the list read before in force (reported on
    /// stderr); `None` when there never was a good one. Blocking (a `stat`, and a read
    /// when the file changed).
    pub fn get(&self, path: &Path) -> Option<Arc<RecipientList>> {
        let mut slot = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        let stamp: Option<Stamp> = std::fs::metadata(path)
            .ok()
            .map(|m| (m.modified().ok(), m.len()));
        if let Some(l) = slot.as_ref().filter(|l| l.path == path)
            && (stamp.is_none() || stamp == Some(l.stamp))
        {
            return Some(Arc::clone(&l.list));
        }
        match read(path) {
            Ok(list) => {
                let list = Arc::new(list);
                *slot = Some(Loaded {
                    path: path.to_owned(),
                    stamp: stamp.unwrap_or((None, 0)),
                    list: Arc::clone(&list),
                });
                Some(list)
            }
            Err(why) => {
                tracing::warn!(
                    "[inbound] recipients_file {}: {why}; keeping the list read before",
                    path.display()
                );
                let l = slot.as_mut().filter(|l| l.path == path)?;
                // Not re-read (and reported) on every RCPT until it changes again.
                l.stamp = stamp.unwrap_or(l.stamp);
                Some(Arc::clone(&l.list))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_domains_comments() {
        let l = RecipientList::parse(
            "# staff\n\n  Jo@Corp.Test  \n*@shared.corp.test.\n\"odd one\"@x\r\nx@y\n",
        );
        assert!(l.is_err(), "spaces inside an entry");
        let l =
            RecipientList::parse("# staff\n\n  Jo@Corp.Test  \n*@Shared.corp.test.\r\n").unwrap();
        assert_eq!(l.len(), 2);
        assert!(l.contains("jo", "corp.test"));
        assert!(l.contains("JO", "CORP.TEST."));
        assert!(!l.contains("al", "corp.test"));
        assert!(l.contains("anyone", "shared.corp.test"));
        assert!(!l.contains("anyone", "x.shared.corp.test"));
    }

    #[test]
    fn bad_lines_are_named() {
        for (text, line) in [
            ("a@b\nnot-an-address\n", 2),
            ("@corp.test", 1),
            ("a@", 1),
            ("\n\na b@c", 3),
            ("<a@b>", 1),
            ("a@b@c@", 1),
        ] {
            let e = RecipientList::parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
        }
        let long = format!("{}@x", "a".repeat(300));
        assert!(RecipientList::parse(&long).is_err());
    }

    #[test]
    fn cache_rereads_changes_and_keeps_the_last_good_list() {
        let dir = std::env::temp_dir().join(format!("postern-rcpts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("recipients");
        std::fs::write(&path, "jo@corp.test\n").unwrap();
        let cache = RecipientsCache::new();
        assert!(cache.get(&path).unwrap().contains("jo", "corp.test"));
        std::fs::write(&path, "jo@corp.test\nal@corp.test\n").unwrap();
        assert!(cache.get(&path).unwrap().contains("al", "corp.test"));
        std::fs::write(&path, "jo@corp.test\nbroken line\n").unwrap();
        let kept = cache.get(&path).unwrap();
        assert!(kept.contains("al", "corp.test"), "the last good list stays");
        std::fs::remove_file(&path).unwrap();
        assert!(cache.get(&path).unwrap().contains("al", "corp.test"));
        assert!(RecipientsCache::new().get(&path).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
