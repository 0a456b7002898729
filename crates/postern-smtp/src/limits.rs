//! Named limits shared by the parsers and sessions.

/// Every size and count limit of the SMTP wire, in one place.
///
/// The defaults follow RFC 5321 §4.5.3.1 where it names a minimum, and otherwise what
/// Postfix ships. A server may raise any of them; lowering one below the RFC minimum makes
/// it refuse standard-conforming clients.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest command line, in octets, counting the CRLF. Default 512 (RFC 5321
    /// §4.5.3.1.4). ESMTP parameters may make a line longer; raise this if you add many.
    pub max_command_line: usize,
    /// Longest local part of a mailbox, in octets. Default 64 (RFC 5321 §4.5.3.1.1).
    pub max_local_part: usize,
    /// Longest domain, in octets. Default 255 (RFC 5321 §4.5.3.1.2).
    pub max_domain: usize,
    /// Longest path including the angle brackets, in octets. Default 256
    /// (RFC 5321 §4.5.3.1.3).
    pub max_path: usize,
    /// Longest line of message text inside DATA, in octets counting the CRLF. Default 1000
    /// (RFC 5321 §4.5.3.1.6).
    pub max_data_line: usize,
    /// Largest message accepted, in octets after dot-unstuffing; advertised as `SIZE`.
    /// Default 35 MiB.
    pub max_message_size: u64,
    /// Most recipients per transaction; more get `452 4.5.3`. Default 1000 (RFC 5321
    /// requires at least 100).
    pub max_recipients: usize,
    /// Longest reply line the client parser accepts, in octets counting the CRLF. Default
    /// 4096 (RFC 5321 says 512, but real servers send longer).
    pub max_reply_line: usize,
    /// Most lines in one multi-line reply. Default 256.
    pub max_reply_lines: usize,
    /// Longest line in an AUTH exchange (base64 responses), in octets. Default 12288
    /// (RFC 4954 §4).
    pub max_auth_line: usize,
    /// Most protocol errors in one session before the server closes it with `421`.
    /// Default 20.
    pub max_errors: usize,
    /// Largest BDAT chunk the client session sends. Default 1 MiB.
    pub bdat_chunk_size: usize,
    /// Most unprocessed input a server session holds. Input beyond it (a client
    /// pipelining far ahead while the application keeps reading during a pending
    /// decision) closes the session with `421 4.7.0`; an application that reads only while
    /// `ServerSession::wants_input` is true never reaches it. Default 1 MiB, which is
    /// above a full pipelined group of `max_recipients` RCPT lines.
    pub max_buffered_input: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_command_line: 512,
            max_local_part: 64,
            max_domain: 255,
            max_path: 256,
            max_data_line: 1000,
            max_message_size: 35 * 1024 * 1024,
            max_recipients: 1000,
            max_reply_line: 4096,
            max_reply_lines: 256,
            max_auth_line: 12288,
            max_errors: 20,
            bdat_chunk_size: 1024 * 1024,
            max_buffered_input: 1024 * 1024,
        }
    }
}
