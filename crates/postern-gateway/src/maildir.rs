//! The `maildir` connector: local delivery into Maildir folders, the format mail clients
//! and Dovecot read.
//!
//! Mail for `user@domain` goes to `ROOT/domain/user/`, whose `tmp`, `new` and `cur`
//! directories are made on demand. Each message is written to `tmp/` under a unique name,
//! fsynced, renamed into `new/`, and the directory fsynced, so a crash leaves either no
//! message or a whole one (the Maildir protocol). `Return-Path:` and `Delivered-To:` are
//! prepended, as a local delivery agent does.
//!
//! The domain and local part are lower-cased and sanitised before they become path
//! components: anything outside `[a-z0-9-_+=.]`, and a leading dot, is written as `%XX`,
//! so no address can reach outside `ROOT` (`..`, `/`, NUL and control characters never
//! appear raw).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Distinguishes files written in the same microsecond by this process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// What a local delivery needs besides the body.
#[derive(Debug, Clone)]
pub struct LocalDelivery<'a> {
    /// The Maildir root (`[maildir] root`).
    pub root: &'a Path,
    /// This host's name, used in the unique file name.
    pub hostname: &'a str,
    /// The envelope sender (`""` for the null sender).
    pub sender: &'a str,
    /// The recipient, `local@domain`.
    pub recipient: &'a str,
}

/// Encodes one path component: lower case, `[a-z0-9-_+=.]` kept (a leading dot
/// encoded), every other byte `%XX`. The empty string becomes `%`, which no encoding
/// produces.
pub fn sanitize_component(raw: &str) -> String {
    if raw.is_empty() {
        return "%".to_owned();
    }
    let lower = raw.to_lowercase();
    let mut out = String::with_capacity(lower.len());
    for (i, b) in lower.bytes().enumerate() {
        let keep = b.is_ascii_lowercase()
            || b.is_ascii_digit()
            || matches!(b, b'-' | b'_' | b'+' | b'=')
            || (b == b'.' && i > 0);
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The folder for `recipient` under `root`: `root/<domain>/<local>`, both sanitised. The
/// split is at the last `@`; an address without one is all local part of an empty domain.
/// A quoted local part is the mailbox it quotes (RFC 5321 section 4.1.2: `"new"@host` is
/// `new@host`), so it is unquoted first.
pub fn mailbox_dir(root: &Path, recipient: &str) -> PathBuf {
    let (local, domain) = recipient.rsplit_once('@').unwrap_or((recipient, ""));
    root.join(sanitize_component(domain))
        .join(sanitize_component(&unquote_local(local)))
}

/// The content of a quoted-string local part (`"a\"b"` gives `a"b`); any other local
/// part as it is.
pub fn unquote_local(local: &str) -> std::borrow::Cow<'_, str> {
    let Some(inner) = local
        .strip_prefix('"')
        .and_then(|l| l.strip_suffix('"'))
        .filter(|_| local.len() >= 2)
    else {
        return local.into();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        // quoted-pairSMTP: a backslash takes the next character literally.
        out.push(if c == '\\' {
            chars.next().unwrap_or(c)
        } else {
            c
        });
    }
    out.into()
}

/// A header value safe to write on one line: control characters dropped.
fn header_safe(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).collect()
}

/// The Maildir unique name: `<secs>.M<micros>P<pid>Q<counter>.<host>`, the host name with
/// `/` and `:` encoded as the Maildir convention asks.
fn unique_name(hostname: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let host = hostname.replace('/', "\\057").replace(':', "\\072");
    format!(
        "{}.M{}P{}Q{}.{}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        header_safe(&host)
    )
}

/// Fsyncs a directory so a rename or create in it is durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Delivers `body` into the recipient's Maildir. Blocking (file I/O and fsync): run it
/// on a blocking thread. Returns the path of the new file.
pub fn deliver(d: &LocalDelivery<'_>, body: &[u8]) -> std::io::Result<PathBuf> {
    let dir = mailbox_dir(d.root, d.recipient);
    for sub in ["tmp", "new", "cur"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    let name = unique_name(d.hostname);
    let tmp = dir.join("tmp").join(&name);
    let new = dir.join("new").join(&name);
    let result = write_file(&tmp, d, body).and_then(|()| fs::rename(&tmp, &new));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(&dir.join("new"))?;
    Ok(new)
}

/// Writes the prepended headers and the body to a fresh file and fsyncs it.
fn write_file(path: &Path, d: &LocalDelivery<'_>, body: &[u8]) -> std::io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    let head = format!(
        "Return-Path: <{}>\r\nDelivered-To: {}\r\n",
        header_safe(d.sender),
        header_safe(d.recipient)
    );
    f.write_all(head.as_bytes())?;
    f.write_all(body)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_cannot_traverse() {
        assert_eq!(sanitize_component(".."), "%2E.");
        assert_eq!(sanitize_component("a/b"), "a%2Fb");
        assert_eq!(sanitize_component(".hidden"), "%2Ehidden");
        assert_eq!(sanitize_component("Jo.Smith"), "jo.smith");
        assert_eq!(sanitize_component("a\0b\nc"), "a%00b%0Ac");
        assert_eq!(sanitize_component("100%"), "100%25");
        assert_eq!(sanitize_component(""), "%");
        let root = Path::new("/srv/mail");
        let dir = mailbox_dir(root, "../../etc@../x");
        assert!(dir.starts_with(root));
        assert!(
            dir.components()
                .all(|c| !matches!(c, std::path::Component::ParentDir))
        );
    }

    #[test]
    fn quoted_local_parts_are_the_mailbox_they_quote() {
        let root = Path::new("/srv/mail");
        assert_eq!(
            mailbox_dir(root, "\"new\"@Host.Test"),
            mailbox_dir(root, "new@host.test")
        );
        assert_eq!(mailbox_dir(root, "\"new\"@h"), root.join("h/new"));
        // Quoting that is needed: the content, sanitised as any local part.
        assert_eq!(mailbox_dir(root, "\"a b\"@h"), root.join("h/a%20b"));
        assert_eq!(unquote_local("\"a\\\"b\\\\c\""), "a\"b\\c");
        // Not a quoted string: as it is.
        assert_eq!(unquote_local("\""), "\"");
        assert_eq!(unquote_local("a\"b\""), "a\"b\"");
        assert_eq!(unquote_local("\"\""), "");
        // Unquoting cannot reach outside the root.
        let dir = mailbox_dir(root, "\"../..\"@x");
        assert_eq!(dir, root.join("x/%2E.%2F.."));
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique_name("h"), unique_name("h"));
        assert!(unique_name("a/b:c").ends_with(".a\\057b\\072c"));
    }
}
