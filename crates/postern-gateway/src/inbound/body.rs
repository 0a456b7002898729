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

/// Room for content a body of undeclared size (no `SIZE=`, as `smtp-source` and many
/// scripts send) takes at once when it outgrows `SMALL_BODY`, instead of doubling.
/// Doubling from empty moved a 100 KB body three or four times, into fresh pages the
/// kernel had to zero: about 5% of the gateway's CPU at 100 KB (BENCHMARKS.md, "Relay,
/// seventh round"). With this room most messages move once, while small; one that ends
/// much smaller is copied once more at [`Body::finish`], into a buffer of its own size,
/// so no message is queued or cached holding the rest of the room.
const UNDECLARED_RESERVE: usize = 127 * 1024;

/// Content up to which an undeclared body grows as a `Vec` does. A client trickling a
/// message in, or sending a short one, never holds `UNDECLARED_RESERVE`.
const SMALL_BODY: usize = 8 * 1024;

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
        self.buffer(chunk.len()).extend_from_slice(chunk);
    }

    /// The buffer content is appended to (after the room in front), with room for
    /// `incoming` more octets, for a decoder that writes into it directly.
    pub fn buffer(&mut self, incoming: usize) -> &mut Vec<u8> {
        make_room(&mut self.buf);
        let needed = self.buf.len() + incoming;
        if needed > self.buf.capacity() {
            // Past a small body, the undeclared room at once; past that, doubling.
            let target = if (ROOM + SMALL_BODY..ROOM + UNDECLARED_RESERVE).contains(&needed) {
                ROOM + UNDECLARED_RESERVE
            } else {
                needed
            };
            self.buf.reserve(target - self.buf.len());
        }
        &mut self.buf
    }

    /// The content received so far.
    pub fn content(&self) -> &[u8] {
        self.buf.get(ROOM..).unwrap_or_default()
    }

    /// `head` followed by the content, as one buffer: in place when `head` fits the room
    /// in front and the buffer is not mostly unused, else copied once.
    pub fn finish(self, head: &[u8]) -> Bytes {
        let mut buf = self.buf;
        make_room(&mut buf);
        match ROOM.checked_sub(head.len()) {
            Some(start) if !mostly_unused(&buf) => {
                buf[start..ROOM].copy_from_slice(head);
                Bytes::from(buf).slice(start..)
            }
            _ => {
                let mut out = Vec::with_capacity(head.len() + buf.len() - ROOM);
                out.extend_from_slice(head);
                out.extend_from_slice(&buf[ROOM..]);
                Bytes::from(out)
            }
        }
    }
}

/// True when more than half of `buf`'s capacity, and more than a few pages, would be
/// queued unused: a small message in the room reserved for an undeclared size.
fn mostly_unused(buf: &Vec<u8>) -> bool {
    let spare = buf.capacity() - buf.len();
    spare > buf.len() && spare > 16 * 1024
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
        body.buffer(8).extend_from_slice(b"written ");
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
        let mut body = Body::start(Some(3000));
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
    fn an_undeclared_size_takes_room_once_and_a_small_message_gives_it_back() {
        let mut big = Body::start(None);
        let content = vec![b'c'; 100 * 1024];
        big.push(&content[..1024]);
        assert!(big.buf.capacity() < ROOM + SMALL_BODY);
        // Past the small size, the whole room at once...
        big.buffer(16 * 1024)
            .extend_from_slice(&content[1024..17 * 1024]);
        let room = big.buf.capacity();
        assert!(room >= ROOM + UNDECLARED_RESERVE);
        let content_at = big.content().as_ptr();
        big.buffer(64 * 1024)
            .extend_from_slice(&content[17 * 1024..81 * 1024]);
        big.push(&content[81 * 1024..]);
        // ...so the rest of a 100 KB message never moved it...
        assert_eq!(big.buf.capacity(), room);
        assert_eq!(big.content().as_ptr(), content_at);
        let whole = big.finish(b"R: 1\r\n");
        // ...and is queued where it arrived.
        assert_eq!(whole[6..].as_ptr(), content_at);
        assert_eq!(&whole[6..], &content[..]);

        let mut small = Body::start(None);
        small.push(&[b'x'; SMALL_BODY]);
        small.push(b"Subject: s\r\n\r\nshort\r\n");
        assert!(small.buf.capacity() >= ROOM + UNDECLARED_RESERVE);
        let content_at = small.content().as_ptr();
        let whole = small.finish(b"R: 1\r\n");
        assert_eq!(&whole[..6], b"R: 1\r\n");
        let mut expected = vec![b'x'; SMALL_BODY];
        expected.extend_from_slice(b"Subject: s\r\n\r\nshort\r\n");
        assert_eq!(&whole[6..], &expected[..]);
        // Copied out, not queued inside the reserved room.
        assert_ne!(whole[6..].as_ptr(), content_at);
    }

    #[test]
    fn a_declared_size_reserves_at_most_the_cap() {
        let huge = Body::start(Some(u64::MAX));
        assert!(huge.buf.capacity() <= ROOM + MAX_RESERVE as usize + 64);
        let small = Body::start(Some(5000));
        assert!(small.buf.capacity() >= ROOM + 5000);
    }
}
