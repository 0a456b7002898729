//! The Pickup folder (the IMS Pickup directory, KB Q201314): `.eml` files dropped into a
//! folder are submitted like SMTP mail, then removed.
//!
//! The envelope comes from `X-Sender:` and `X-Receiver:` lines at the very top of the file
//! (the format Exchange's pickup and replay folders use; they are removed before
//! submission), or else from the message's own `From:` (or `Sender:`) and its
//! `To:`/`Cc:`/`Bcc:` (a `Bcc:` header is removed). A file that cannot be submitted is
//! moved to `bad/` with a `.reason` file beside it — never lost, never retried in a loop.
//! Files are taken only once complete: a writer should create them under another
//! extension (or elsewhere) and rename them to `.eml`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use postern_message::Message;

/// Most bytes a pickup file may have (the gateway's message size limit applies too).
pub const MAX_FILE: u64 = 64 << 20;

/// A file turned into an envelope and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The envelope sender (empty for the null sender).
    pub sender: String,
    /// The envelope recipients.
    pub recipients: Vec<String>,
    /// The message to submit.
    pub body: Vec<u8>,
}

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PickupError {
    /// The file is larger than allowed.
    #[error("file too large ({0} bytes)")]
    TooLarge(u64),
    /// No sender in X-Sender, From or Sender.
    #[error("no sender: give an X-Sender: line or a From: header")]
    NoSender,
    /// No recipient in X-Receiver, To, Cc or Bcc.
    #[error("no recipient: give X-Receiver: lines or To:/Cc:/Bcc: headers")]
    NoRecipient,
    /// An envelope address is malformed.
    #[error("bad address {0:?}")]
    BadAddress(String),
}

/// Strips `<`, `>` and spaces; refuses what cannot be an SMTP path.
fn envelope_address(raw: &str) -> Result<String, PickupError> {
    let a = raw
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    let bad = a.is_empty() && !raw.contains("<>")
        || a.len() > 256
        || a.chars()
            .any(|c| c.is_control() || c == ' ' || c == '<' || c == '>');
    if bad {
        return Err(PickupError::BadAddress(raw.trim().to_owned()));
    }
    Ok(a.to_owned())
}

/// Splits the leading `X-Sender:`/`X-Receiver:` lines off `raw`.
fn envelope_lines(raw: &[u8]) -> (Option<String>, Vec<String>, usize) {
    let (mut sender, mut rcpts, mut pos) = (None, Vec::new(), 0);
    while pos < raw.len() {
        let end = memchr::memchr(b'\n', &raw[pos..]).map_or(raw.len(), |i| pos + i + 1);
        let line = String::from_utf8_lossy(&raw[pos..end]);
        let Some((name, value)) = line.split_once(':') else {
            break;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "x-sender" => sender = Some(value.trim().to_owned()),
            "x-receiver" => rcpts.push(value.trim().to_owned()),
            _ => break,
        }
        pos = end;
    }
    (sender, rcpts, pos)
}

/// Removes every `Bcc:` field (and its continuation lines) from the header block.
fn strip_bcc(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let (mut pos, mut skipping) = (0, false);
    while pos < raw.len() {
        let end = memchr::memchr(b'\n', &raw[pos..]).map_or(raw.len(), |i| pos + i + 1);
        let line = &raw[pos..end];
        if line == b"\r\n" || line == b"\n" {
            out.extend_from_slice(&raw[pos..]);
            return out;
        }
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !continuation {
            skipping = line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"bcc:");
        }
        if !skipping {
            out.extend_from_slice(line);
        }
        pos = end;
    }
    out
}

/// Turns the octets of a pickup file into a submission.
pub fn parse(raw: &[u8]) -> Result<Submission, PickupError> {
    let (x_sender, x_rcpts, start) = envelope_lines(raw);
    let message = &raw[start..];
    let parsed = Message::parse(message);
    let sender = match x_sender {
        Some(s) => envelope_address(&s)?,
        None => {
            let from = parsed.from();
            let first = from.mailboxes().next().map(|m| m.address.to_string());
            let first = first.or_else(|| {
                let sender = parsed.addresses("sender");
                sender.mailboxes().next().map(|m| m.address.to_string())
            });
            envelope_address(&first.ok_or(PickupError::NoSender)?)?
        }
    };
    let recipients = if x_rcpts.is_empty() {
        let mut v = Vec::new();
        for name in ["to", "cc", "bcc"] {
            for m in parsed.addresses(name).mailboxes() {
                v.push(envelope_address(&m.address)?);
            }
        }
        v
    } else {
        x_rcpts
            .iter()
            .map(|r| envelope_address(r))
            .collect::<Result<_, _>>()?
    };
    if recipients.is_empty() {
        return Err(PickupError::NoRecipient);
    }
    Ok(Submission {
        sender,
        recipients,
        body: strip_bcc(message),
    })
}

/// The `.eml` files in `dir`, oldest name first (names sort by time when writers use
/// time-based names).
pub fn ready_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("eml")))
        .collect();
    v.sort();
    Ok(v)
}

/// Reads one file (bounded by [`MAX_FILE`]) and parses it.
pub fn read(path: &Path) -> io::Result<Result<Submission, PickupError>> {
    let len = fs::metadata(path)?.len();
    if len > MAX_FILE {
        return Ok(Err(PickupError::TooLarge(len)));
    }
    Ok(parse(&fs::read(path)?))
}

/// The longest name kept for a file in `bad/`: with a `.N` counter and the `.reason`
/// suffix it stays within the 255-byte limit of common file systems.
const MAX_BAD_NAME: usize = 200;

/// Moves a refused file to `DIR/bad/` and writes the reason beside it. A long name is
/// shortened (at a character boundary) so the moved file and its `.reason` always fit.
/// The file's modification time becomes now: `[retention] pickup_bad_days` counts from
/// here, not from when the file was written.
pub fn set_aside(dir: &Path, path: &Path, reason: &str) -> io::Result<PathBuf> {
    let bad = dir.join("bad");
    fs::create_dir_all(&bad)?;
    let name = bad_name(path);
    let mut target = bad.join(&name);
    let mut n = 1;
    while target.exists() {
        n += 1;
        target = bad.join(format!("{name}.{n}"));
    }
    fs::rename(path, &target)?;
    fs::File::options()
        .write(true)
        .open(&target)?
        .set_modified(std::time::SystemTime::now())?;
    let mut reason_path = target.clone().into_os_string();
    reason_path.push(".reason");
    fs::write(PathBuf::from(reason_path), format!("{reason}\n"))?;
    Ok(target)
}

/// The file's name for `bad/`: lossy UTF-8, at most [`MAX_BAD_NAME`] bytes.
fn bad_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "unnamed".to_owned());
    if name.len() <= MAX_BAD_NAME {
        return name;
    }
    let mut cut = MAX_BAD_NAME;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    name[..cut].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_near_the_limit_still_fits_in_bad_with_its_reason() {
        let dir = std::env::temp_dir().join(format!("postern-pickup-long-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let long = format!("{}.eml", "é".repeat(125)); // 254 bytes
        for round in 0..2 {
            let path = dir.join(&long);
            fs::write(&path, b"not a message").unwrap();
            let moved = set_aside(&dir, &path, "no sender").unwrap();
            assert!(moved.exists() && !path.exists(), "round {round}");
            let mut reason = moved.clone().into_os_string();
            reason.push(".reason");
            assert!(PathBuf::from(reason).exists());
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn envelope_from_x_lines() {
        let raw = b"X-Sender: <a@example.org>\r\nX-Receiver: b@example.com\r\nx-receiver: <c@example.com>\r\n\
                    From: other@example.org\r\nTo: z@example.com\r\n\r\nhi\r\n";
        let s = parse(raw).unwrap();
        assert_eq!(s.sender, "a@example.org");
        assert_eq!(s.recipients, ["b@example.com", "c@example.com"]);
        assert!(s.body.starts_with(b"From: other@example.org\r\n"));
    }

    #[test]
    fn envelope_from_headers_and_bcc_removed() {
        let raw = b"From: Jo <jo@example.org>\r\nTo: a@example.com, B <b@example.com>\r\nCc: c@example.com\r\n\
                    Bcc: secret@example.com,\r\n  other@example.com\r\nSubject: s\r\n\r\nBcc: in body stays\r\n";
        let s = parse(raw).unwrap();
        assert_eq!(s.sender, "jo@example.org");
        assert_eq!(
            s.recipients,
            [
                "a@example.com",
                "b@example.com",
                "c@example.com",
                "secret@example.com",
                "other@example.com"
            ]
        );
        let body = String::from_utf8(s.body).unwrap();
        assert!(
            !body.contains("secret") && !body.contains("other@"),
            "{body}"
        );
        assert!(body.contains("Subject: s\r\n\r\nBcc: in body stays\r\n"));
    }

    #[test]
    fn refusals() {
        assert_eq!(
            parse(b"To: a@example.com\r\n\r\nx"),
            Err(PickupError::NoSender)
        );
        assert_eq!(
            parse(b"From: a@example.com\r\n\r\nx"),
            Err(PickupError::NoRecipient)
        );
        assert!(matches!(
            parse(b"X-Sender: a b@example.com\r\nX-Receiver: c@d\r\n\r\n"),
            Err(PickupError::BadAddress(_))
        ));
        assert_eq!(
            parse(b"X-Sender: <>\r\nX-Receiver: c@d\r\n\r\nx")
                .unwrap()
                .sender,
            ""
        );
    }

    #[test]
    fn bad_files_are_set_aside_with_a_reason() {
        let dir = std::env::temp_dir().join(format!("postern-pickup-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("1.eml"), b"garbage").unwrap();
        let long_ago = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 30);
        fs::File::options()
            .write(true)
            .open(dir.join("1.eml"))
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        fs::write(dir.join("2.tmp"), b"not yet").unwrap();
        let files = ready_files(&dir).unwrap();
        assert_eq!(files, [dir.join("1.eml")]);
        let err = read(&files[0]).unwrap().unwrap_err();
        let moved = set_aside(&dir, &files[0], &err.to_string()).unwrap();
        assert!(moved.exists() && !files[0].exists());
        // Retention counts from the setting aside.
        let modified = fs::metadata(&moved).unwrap().modified().unwrap();
        assert!(modified > long_ago + std::time::Duration::from_secs(86_400));
        let reason = fs::read_to_string(dir.join("bad/1.eml.reason")).unwrap();
        assert!(reason.contains("no sender"), "{reason}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
