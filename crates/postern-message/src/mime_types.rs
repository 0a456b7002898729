//! The MIME types table (the IMS "MIME Types" tab): content type ↔ file extension.
//!
//! It decides the content type of a file that comes out of a uuencode block when mail is
//! converted to MIME ([`MimeTypes::type_for`]), and the extension given to a MIME part
//! without a file name when mail is converted to uuencode ([`MimeTypes::extension_for`]).
//! [`MimeTypes::builtin`] is a sensible default; [`MimeTypes::with`] adds or overrides
//! entries (an administrator's table), and the conversions take a table per call.
//!
//! ```
//! use postern_message::mime_types::MimeTypes;
//! let t = MimeTypes::builtin().with([("application/x-report", "rpt")]);
//! assert_eq!(t.type_for("Q3.RPT"), "application/x-report");
//! assert_eq!(t.type_for("a.doc"), "application/msword");
//! assert_eq!(t.extension_for("application/msword"), Some("doc"));
//! assert_eq!(t.type_for("noext"), "application/octet-stream");
//! ```

/// The built-in table: `(content type, extension)`. The first extension listed for a type
/// is the one [`MimeTypes::extension_for`] gives it.
pub const BUILTIN: &[(&str, &str)] = &[
    ("text/plain", "txt"),
    ("text/plain", "text"),
    ("text/plain", "asc"),
    ("text/html", "html"),
    ("text/html", "htm"),
    ("text/css", "css"),
    ("text/csv", "csv"),
    ("text/calendar", "ics"),
    ("text/rtf", "rtf"),
    ("text/xml", "xml"),
    ("message/rfc822", "eml"),
    ("application/pdf", "pdf"),
    ("application/zip", "zip"),
    ("application/gzip", "gz"),
    ("application/gzip", "tgz"),
    ("application/x-tar", "tar"),
    ("application/x-7z-compressed", "7z"),
    ("application/json", "json"),
    ("application/postscript", "ps"),
    ("application/rtf", "rtf"),
    ("application/msword", "doc"),
    ("application/msword", "dot"),
    ("application/vnd.ms-excel", "xls"),
    ("application/vnd.ms-powerpoint", "ppt"),
    ("application/vnd.ms-project", "mpp"),
    ("application/vnd.ms-outlook", "msg"),
    ("application/ms-tnef", "dat"),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pptx",
    ),
    ("application/vnd.oasis.opendocument.text", "odt"),
    ("application/vnd.oasis.opendocument.spreadsheet", "ods"),
    ("application/x-msdownload", "exe"),
    ("application/x-msdownload", "dll"),
    ("application/octet-stream", "bin"),
    ("image/gif", "gif"),
    ("image/jpeg", "jpg"),
    ("image/jpeg", "jpeg"),
    ("image/png", "png"),
    ("image/bmp", "bmp"),
    ("image/tiff", "tif"),
    ("image/tiff", "tiff"),
    ("image/svg+xml", "svg"),
    ("image/webp", "webp"),
    ("audio/basic", "au"),
    ("audio/x-wav", "wav"),
    ("audio/mpeg", "mp3"),
    ("audio/midi", "mid"),
    ("video/mpeg", "mpg"),
    ("video/mpeg", "mpeg"),
    ("video/quicktime", "mov"),
    ("video/x-msvideo", "avi"),
    ("video/mp4", "mp4"),
];

/// Largest number of entries a table holds (built-in plus added): a limit on what a
/// configuration can make the gateway keep, far above any real table.
pub const MAX_ENTRIES: usize = 4096;

/// A content type ↔ extension table. Lookups are case-insensitive; a later entry for the
/// same extension overrides an earlier one (so an added entry wins over the built-in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimeTypes {
    entries: Vec<(String, String)>,
    /// How many entries, at the front, were added with [`MimeTypes::with`].
    added: usize,
}

impl Default for MimeTypes {
    fn default() -> Self {
        MimeTypes::builtin()
    }
}

impl MimeTypes {
    /// The built-in table ([`BUILTIN`]).
    pub fn builtin() -> Self {
        MimeTypes {
            entries: BUILTIN
                .iter()
                .map(|(t, e)| (t.to_string(), e.to_string()))
                .collect(),
            added: 0,
        }
    }

    /// An empty table: every file is `application/octet-stream`, every part `.bin`.
    pub fn empty() -> Self {
        MimeTypes {
            entries: Vec::new(),
            added: 0,
        }
    }

    /// This table with `entries` (`(content type, extension)`) added in front for types
    /// (so an added type's extension is the one written) and behind for extensions (so an
    /// added extension's type is the one read). Extensions lose a leading dot; both are
    /// lower-cased. Entries past [`MAX_ENTRIES`] are ignored.
    pub fn with<T: AsRef<str>, E: AsRef<str>>(
        self,
        entries: impl IntoIterator<Item = (T, E)>,
    ) -> Self {
        let mut added = Vec::new();
        for (t, e) in entries {
            let t = t.as_ref().trim().to_ascii_lowercase();
            let e = e
                .as_ref()
                .trim()
                .trim_start_matches('.')
                .to_ascii_lowercase();
            if !t.is_empty() && !e.is_empty() {
                added.push((t, e));
            }
        }
        // Drop the pairs an added extension overrides, then put the added first.
        let before = self.added;
        let mut kept_added = 0;
        let mut rest = Vec::with_capacity(self.entries.len());
        for (i, (t, e)) in self.entries.into_iter().enumerate() {
            if added.iter().any(|(_, a)| *a == e) {
                continue;
            }
            kept_added += usize::from(i < before);
            rest.push((t, e));
        }
        let added_now = (added.len() + kept_added).min(MAX_ENTRIES);
        added.append(&mut rest);
        added.truncate(MAX_ENTRIES);
        MimeTypes {
            entries: added,
            added: added_now,
        }
    }

    /// The entries, `(content type, extension)`, in lookup order.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// The entries added with [`MimeTypes::with`] (over the base table), in lookup order.
    pub fn added(&self) -> &[(String, String)] {
        &self.entries[..self.added.min(self.entries.len())]
    }

    /// The content type for a file name, by its extension; `application/octet-stream`
    /// when the table does not know it.
    pub fn type_for(&self, file_name: &str) -> &str {
        let Some((_, ext)) = file_name.rsplit_once('.') else {
            return "application/octet-stream";
        };
        self.entries
            .iter()
            .find(|(_, e)| e.eq_ignore_ascii_case(ext))
            .map_or("application/octet-stream", |(t, _)| t.as_str())
    }

    /// The extension (no dot) for a content type (`type/subtype`, parameters ignored), or
    /// `None` when the table does not know it.
    pub fn extension_for(&self, content_type: &str) -> Option<&str> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        self.entries
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(essence))
            .map(|(_, e)| e.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_entries_override_both_ways() {
        let t = MimeTypes::builtin().with([("application/x-word", ".DOC")]);
        assert_eq!(t.type_for("x.doc"), "application/x-word");
        assert_eq!(t.extension_for("application/x-word"), Some("doc"));
        // The built-in type keeps its other extension.
        assert_eq!(t.extension_for("application/msword"), Some("dot"));
        assert_eq!(t.extension_for("Image/JPEG; x=y"), Some("jpg"));
        assert_eq!(t.extension_for("application/x-unknown"), None);
        assert_eq!(
            MimeTypes::empty().type_for("a.pdf"),
            "application/octet-stream"
        );
        let again = t.with([("text/x-note", "note")]);
        assert_eq!(again.added().len(), 2);
        assert_eq!(
            again.added()[1],
            ("application/x-word".into(), "doc".into())
        );
    }

    #[test]
    fn table_is_bounded() {
        let many = (0..MAX_ENTRIES + 10).map(|i| ("a/b".to_string(), format!("e{i}")));
        assert_eq!(MimeTypes::builtin().with(many).entries().len(), MAX_ENTRIES);
    }
}
