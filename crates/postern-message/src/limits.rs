//! Parser limits: every bound the parser enforces, as one named setting each.

/// Bounds on what [`crate::Message::parse_with`] builds from one input. The parser never
/// fails: when a limit is reached it stops *structuring* and treats the rest as opaque,
/// and [`crate::Message::limited`] reports that it happened. Memory use is proportional
/// to the input in every case (at most one [`crate::Part`] per part and one
/// [`crate::Header`] per header line), and time is linear in the input times
/// `max_depth` at worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Maximum nesting of multipart and message/rfc822 parts (default 32). A container at
    /// this depth is kept as a leaf: its body is opaque bytes.
    pub max_depth: usize,
    /// Maximum number of parts, the top-level message included (default 4096). When a
    /// multipart would exceed it, the remaining body parts of that multipart are skipped
    /// (their bytes are still scanned to find where the multipart ends, nothing is stored).
    pub max_parts: usize,
    /// Maximum number of header fields kept per header block (default 1000). Further
    /// fields in the same block are skipped (still scanned for the end of the block).
    pub max_headers: usize,
    /// Maximum size in bytes of one header block (default 256 KiB). Past it, the block
    /// ends and the rest is body, as if a non-header line had been met.
    pub max_header_block: usize,
    /// Maximum nesting of base64- or quoted-printable-encoded `message/rfc822` parts that
    /// [`crate::Encapsulated`] decodes and parses as nested messages (default 8).
    /// Each level holds at most as many decoded bytes as the level that contains it, so the
    /// decoded copies of one input take at most this many times its size. An encoded
    /// message deeper than this stays a leaf (its decoded content is still available).
    pub max_encapsulation_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 32,
            max_parts: 4096,
            max_headers: 1000,
            max_header_block: 256 * 1024,
            max_encapsulation_depth: 8,
        }
    }
}
