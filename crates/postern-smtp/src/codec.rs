//! `tokio-util` codecs for embedders who frame their connections with `Framed`
//! (feature `codec`).
//!
//! * [`ServerCodec`] splits what a client sends into command lines, handed out as
//!   [`Bytes`] cut from the read buffer (no copy), and writes [`Reply`]s.
//! * [`ClientCodec`] reassembles the server's [`Reply`]s and writes [`Command`]s.
//!
//! They frame the command phase only. Message content (after `354`, or a `BDAT` chunk)
//! is not line-framed: take the stream back with `Framed::into_parts` and run a
//! [`DataDecoder`](crate::DataDecoder), or use the sessions, which do all of it
//! ([`server::ServerSession`](crate::server::ServerSession), or the
//! [`driver`](crate::driver) module for a ready loop).
//!
//! ```
//! use bytes::BytesMut;
//! use postern_smtp::codec::{CommandLine, ServerCodec};
//! use postern_smtp::{Command, Limits, Reply};
//! use tokio_util::codec::{Decoder, Encoder};
//!
//! let mut codec = ServerCodec::new(&Limits::default());
//! let mut input = BytesMut::from(&b"EHLO client.example\r\nNOOP\r\n"[..]);
//! let Some(CommandLine::Line(line)) = codec.decode(&mut input)? else { panic!() };
//! assert!(matches!(Command::parse(&line, &Limits::default())?, Command::Ehlo { .. }));
//! let mut out = BytesMut::new();
//! codec.encode("250 2.0.0 Ok".parse::<Reply>().unwrap(), &mut out)?;
//! assert_eq!(&out[..], b"250 2.0.0 Ok\r\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use bytes::{Buf, Bytes, BytesMut};
use memchr::memchr;
use tokio_util::codec::{Decoder, Encoder};

use crate::command::Command;
use crate::limits::Limits;
use crate::reply::{Reply, ReplyError, ReplyParser};

/// Why a codec could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// Reading or writing the stream failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The server sent something that is not an SMTP reply (or exceeds the reply
    /// limits).
    #[error("malformed reply: {0}")]
    Reply(#[from] ReplyError),
}

/// One framed unit of a client's command stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    /// A command line without its line ending; parse it with [`Command::parse`].
    Line(Bytes),
    /// A line longer than [`Limits::max_command_line`] arrived; it was discarded up to
    /// its end without being buffered. Answer `500 5.5.6` and go on.
    TooLong,
}

/// Frames a client's commands (server side). Lines end with CRLF; a bare LF is taken
/// as the end of a line too, and the CR before it is dropped.
#[derive(Debug, Clone)]
pub struct ServerCodec {
    max_line: usize,
    /// Inside an over-long line: discard until its end.
    skipping: bool,
}

impl ServerCodec {
    /// A codec for lines up to `limits.max_command_line` octets (CRLF included).
    pub fn new(limits: &Limits) -> ServerCodec {
        ServerCodec {
            max_line: limits.max_command_line,
            skipping: false,
        }
    }
}

impl Decoder for ServerCodec {
    type Item = CommandLine;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<CommandLine>, CodecError> {
        let Some(lf) = memchr(b'\n', src) else {
            if src.len() > self.max_line {
                // Keep nothing of a line that is already too long.
                src.clear();
                self.skipping = true;
            }
            return Ok(None);
        };
        if self.skipping || lf + 1 > self.max_line {
            src.advance(lf + 1);
            self.skipping = false;
            return Ok(Some(CommandLine::TooLong));
        }
        let mut line = src.split_to(lf + 1);
        line.truncate(lf);
        if line.last() == Some(&b'\r') {
            line.truncate(lf - 1);
        }
        Ok(Some(CommandLine::Line(line.freeze())))
    }
}

impl Encoder<Reply> for ServerCodec {
    type Error = CodecError;

    fn encode(&mut self, reply: Reply, dst: &mut BytesMut) -> Result<(), CodecError> {
        let mut out = Vec::new();
        reply.write_to(&mut out);
        dst.extend_from_slice(&out);
        Ok(())
    }
}

/// Reassembles a server's replies and writes commands (client side).
#[derive(Debug, Clone)]
pub struct ClientCodec {
    parser: ReplyParser,
}

impl ClientCodec {
    /// A codec with the reply limits of `limits`.
    pub fn new(limits: &Limits) -> ClientCodec {
        ClientCodec {
            parser: ReplyParser::new(limits),
        }
    }
}

impl Decoder for ClientCodec {
    type Item = Reply;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Reply>, CodecError> {
        if !src.is_empty() {
            // The parser keeps at most one reply's worth of lines, within its limits.
            self.parser.feed(src);
            src.clear();
        }
        match self.parser.next_reply() {
            Some(Ok(reply)) => Ok(Some(reply)),
            Some(Err(e)) => Err(e.into()),
            None => Ok(None),
        }
    }
}

impl Encoder<Command<'_>> for ClientCodec {
    type Error = CodecError;

    fn encode(&mut self, command: Command<'_>, dst: &mut BytesMut) -> Result<(), CodecError> {
        let mut out = Vec::new();
        command.write_to(&mut out);
        dst.extend_from_slice(&out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines(codec: &mut ServerCodec, chunks: &[&[u8]]) -> Vec<CommandLine> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Some(line) = codec.decode(&mut buf).unwrap() {
                out.push(line);
            }
        }
        out
    }

    #[test]
    fn lines_and_overlong_lines() {
        let limits = Limits {
            max_command_line: 16,
            ..Limits::default()
        };
        let mut codec = ServerCodec::new(&limits);
        let long = [b'x'; 40];
        let got = lines(
            &mut codec,
            &[b"NOOP\r\nRSET\n", &long, &long, b"\r\nQUIT\r\n"],
        );
        assert_eq!(
            got,
            [
                CommandLine::Line(Bytes::from_static(b"NOOP")),
                CommandLine::Line(Bytes::from_static(b"RSET")),
                CommandLine::TooLong,
                CommandLine::Line(Bytes::from_static(b"QUIT")),
            ]
        );
    }

    #[test]
    fn replies_in_pieces() {
        let mut codec = ClientCodec::new(&Limits::default());
        let mut buf = BytesMut::from(&b"250-mx\r\n25"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"0 OK\r\n");
        let reply = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(reply.lines, ["mx", "OK"]);
        let mut out = BytesMut::new();
        let quit = Command::parse(b"QUIT", &Limits::default()).unwrap();
        codec.encode(quit, &mut out).unwrap();
        assert_eq!(&out[..], b"QUIT\r\n");
    }

    proptest! {
        /// However the input is cut, the same lines come out.
        #[test]
        fn chunking_does_not_change_the_lines(
            text in proptest::collection::vec(
                prop_oneof![Just(b'a'), Just(b'\r'), Just(b'\n'), Just(b' ')], 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..8),
        ) {
            let limits = Limits { max_command_line: 32, ..Limits::default() };
            let whole = lines(&mut ServerCodec::new(&limits), &[&text]);
            let mut cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= text.len()).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut at = 0;
            for c in cuts {
                pieces.push(&text[at..c]);
                at = c;
            }
            pieces.push(&text[at..]);
            let chunked = lines(&mut ServerCodec::new(&limits), &pieces);
            prop_assert_eq!(whole, chunked);
        }
    }
}
