//! The content of a message while it arrives, kept with room in front of it for the
//! trace fields the gateway adds, so the message as queued is the same allocation and
//! the content is never copied a second time to put a `Received:` field before it.
//!
//! At 100 KB, the copy into a fresh buffer behind the trace field and the `Vec`'s
//! doublings from an empty buffer were a quarter of the gateway's `memmove` time in a
//! relay profile (BENCHMARKS.md, "Relay, fourth round").

use bytes::Bytes;

/// Octets kept free in front of the content: a `Received:` field with a long HELO
/// name and recipient fits; a larger head (an authenticated submission's added fields
/// can be) costs one copy, as before.
const ROOM: usize = 1024;

/// Most octets reserved up front from a client's `SIZE=`: beyond this the buffer grows
/// as the content arrives, so a client that declares a large size and sends nothing
/// holds little memory.
const MAX_RESERVE: u64 = 1 << 20;

/// A message's content as received so far, after [`ROOM`] octets of space.
#[derive(Debug, Default)]
pub struct Body {
    /// `ROOM` unused octets, then the content; empty before the first [`Body::start`].
    buf: Vec<u8>,
}

impl Body {
    /// An empty body for a new DATA or BDAT transfer, with room reserved for `size`
    /// octets of content when the client declared them (`MAIL FROM … SIZE=`), at most
    /// `MAX_RESERVE`.
    pub fn start(size: Option<u64>) -> Body {
        let reserve = size.unwrap_or(0).min(MAX_RESERVE) as usize;
        let mut buf = Vec::with_capacity(ROOM + reserve);
        make_room(&mut buf);
        Body { buf }
    }

    /// Appends received content.
    pub fn push(&mut self, chunk: &[u8]) {
        make_room(&mut self.buf);
        self.buf.extend_from_slice(chunk);
    }

    /// The buffer content is appended to (after the room in front), for a decoder that
    /// writes into it directly.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        make_room(&mut self.buf);
        &mut self.buf
    }

    /// The content received so far.
    pub fn content(&self) -> &[u8] {
        self.buf.get(ROOM..).unwrap_or_default()
    }

    /// `head` followed by the content, as one buffer: in place when `head` fits the room
    /// in front, else copied once.
    pub fn finish(self, head: &[u8]) -> Bytes {
        let mut buf = self.buf;
        make_room(&mut buf);
        match ROOM.checked_sub(head.len()) {
            Some(start) => {
                buf[start..ROOM].copy_from_slice(head);
                Bytes::from(buf).slice(start..)
            }
            None => {
                let mut out = Vec::with_capacity(head.len() + buf.len() - ROOM);
                out.extend_from_slice(head);
                out.extend_from_slice(&buf[ROOM..]);
                Bytes::from(out)
            }
        }
    }
}

/// Puts the room in front of a buffer that has none yet (a body never started).
fn make_room(buf: &mut Vec<u8>) {
    if buf.is_empty() {
        buf.resize(ROOM, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_written_into_the_buffer_is_content() {
        let mut body = Body::default();
        body.buffer().extend_from_slice(b"written ");
        body.push(b"pushed");
        assert_eq!(body.content(), b"written pushed");
        assert_eq!(&body.finish(b"H: v\r\n")[..], b"H: v\r\nwritten pushed");
    }

    #[test]
    fn head_and_content_in_order_for_every_head_size() {
        for head_len in [0, 1, 200, ROOM - 1, ROOM, ROOM + 1, 5000] {
            let head = vec![b'h'; head_len];
            let mut body = Body::start(Some(10));
            body.push(b"Subject: x\r\n\r\n");
            body.push(b"text\r\n");
            assert_eq!(body.content(), b"Subject: x\r\n\r\ntext\r\n");
            let whole = body.finish(&head);
            assert_eq!(&whole[..head_len], &head[..]);
            assert_eq!(&whole[head_len..], b"Subject: x\r\n\r\ntext\r\n");
        }
    }

    #[test]
    fn the_head_is_written_in_place_when_it_fits() {
        let mut body = Body::start(None);
        body.push(&[b'c'; 3000]);
        let content_at = body.content().as_ptr();
        let whole = body.finish(b"Received: x\r\n");
        // Same allocation: the content did not move.
        assert_eq!(whole[13..].as_ptr(), content_at);
    }

    #[test]
    fn a_body_never_started_is_empty() {
        let body = Body::default();
        assert!(body.content().is_empty());
        assert_eq!(&body.finish(b"R: 1\r\n")[..], b"R: 1\r\n");
        let mut pushed = Body::default();
        pushed.push(b"late");
        assert_eq!(pushed.content(), b"late");
    }

    #[test]
    fn a_declared_size_reserves_at_most_the_cap() {
        let huge = Body::start(Some(u64::MAX));
        assert!(huge.buf.capacity() <= ROOM + MAX_RESERVE as usize + 64);
        let small = Body::start(Some(5000));
        assert!(small.buf.capacity() >= ROOM + 5000);
    }
}
