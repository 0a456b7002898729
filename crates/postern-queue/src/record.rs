//! The spool's record codec (format version 1, see `FORMAT.md`).
//!
//! Every record is framed as `len: u32 LE | crc32c: u32 LE | kind: u8 | payload`, where
//! `len` counts `kind` and `payload` and the CRC-32C covers the same bytes. Decoding borrows
//! the message body from the input and checks every length against the bytes that remain,
//! so no input can make it allocate more than it holds.

use std::time::Duration;

use crate::envelope::{
    Envelope, EnvelopeRecipient, FailReason, MessageState, Notify, RecipientState,
};
use crate::id::QueueId;
use crate::lifetime::Priority;
use crate::time::{Timestamp, millis};

/// Bytes before a record's kind: length and checksum.
pub const FRAME_HEADER: usize = 8;
/// Largest record (kind + payload) the codec accepts by default: 256 MiB.
pub const DEFAULT_MAX_RECORD: u32 = 256 << 20;

const KIND_ENQUEUE: u8 = 1;
const KIND_STATE: u8 = 2;
const KIND_REMOVE: u8 = 3;
const KIND_ENQUEUE_DSN: u8 = 4;

/// A record that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The input ends inside the frame (a torn write at the end of a segment).
    #[error("record truncated: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes the frame says it needs.
        need: u64,
        /// Bytes present.
        have: u64,
    },
    /// The length field is zero or above the limit.
    #[error("record length {0} out of range")]
    BadLength(u32),
    /// The checksum does not match.
    #[error("record checksum mismatch")]
    Checksum,
    /// A kind this version does not know.
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    /// The payload is inconsistent.
    #[error("malformed {kind} record: {what}")]
    Malformed {
        /// Which record kind.
        kind: &'static str,
        /// What was wrong.
        what: &'static str,
    },
}

/// A decoded record; the body of an enqueue borrows from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    /// A new message: envelope and body.
    Enqueue {
        /// Its id.
        id: QueueId,
        /// Its envelope.
        envelope: Envelope,
        /// Its bytes.
        body: &'a [u8],
    },
    /// A new version of a message's state.
    State {
        /// Whose.
        id: QueueId,
        /// The state (its `version` orders updates).
        state: MessageState,
    },
    /// The message is gone (every recipient final, or deleted).
    Remove {
        /// Whose.
        id: QueueId,
    },
}

impl Record<'_> {
    /// The id the record is about.
    pub fn id(&self) -> QueueId {
        match self {
            Record::Enqueue { id, .. } | Record::State { id, .. } | Record::Remove { id } => *id,
        }
    }
}

/// CRC-32C (Castagnoli), by the `crc32c` crate: the SSE4.2 `crc32` instruction where the
/// CPU has it (every record's payload is checksummed on write and on read, a 100 KB body
/// included, so a table-driven software CRC showed in relay profiles), portable code
/// elsewhere.
pub fn crc32c(data: &[u8]) -> u32 {
    ::crc32c::crc32c(data)
}

/// The CRC-32C of `a` followed by `data`, given `crc32c(a)`: a checksum computed piece by
/// piece (`crc32c_append(crc32c(a), b) == crc32c(a ++ b)`).
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    ::crc32c::crc32c_append(crc, data)
}

/// Splits one frame off the front of `buf`: returns `(kind, payload, frame_len)`.
pub fn split_frame(buf: &[u8], max_record: u32) -> Result<(u8, &[u8], usize), RecordError> {
    let have = buf.len() as u64;
    if buf.len() < FRAME_HEADER {
        return Err(RecordError::Truncated {
            need: FRAME_HEADER as u64,
            have,
        });
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    if len == 0 || len > max_record {
        return Err(RecordError::BadLength(len));
    }
    let total = FRAME_HEADER + len as usize;
    if buf.len() < total {
        return Err(RecordError::Truncated {
            need: total as u64,
            have,
        });
    }
    let body = &buf[FRAME_HEADER..total];
    if crc32c(body) != crc {
        return Err(RecordError::Checksum);
    }
    Ok((body[0], &body[1..], total))
}

/// Decodes one record from the front of `buf`; returns it and the bytes it used.
pub fn decode(buf: &[u8], max_record: u32) -> Result<(Record<'_>, usize), RecordError> {
    let (kind, payload, used) = split_frame(buf, max_record)?;
    Ok((decode_payload(kind, payload)?, used))
}

/// Decodes the payload of a frame already split off by [`split_frame`].
pub fn decode_payload(kind: u8, payload: &[u8]) -> Result<Record<'_>, RecordError> {
    let name = match kind {
        KIND_ENQUEUE => "enqueue",
        KIND_ENQUEUE_DSN => "enqueue-dsn",
        KIND_STATE => "state",
        KIND_REMOVE => "remove",
        k => return Err(RecordError::UnknownKind(k)),
    };
    let mut r = Reader {
        buf: payload,
        kind: name,
    };
    let id = r.id()?;
    let rec = match kind {
        KIND_ENQUEUE | KIND_ENQUEUE_DSN => {
            let dsn = kind == KIND_ENQUEUE_DSN;
            let arrival = Timestamp(r.u64()?);
            let priority = Priority::from_code(r.u8()?).ok_or(r.bad("priority"))?;
            let sender = r.string()?;
            let (envid, ret_full) = if dsn {
                let envid = r.string()?;
                let ret = match r.u8()? {
                    0 => None,
                    1 => Some(false),
                    2 => Some(true),
                    _ => return Err(r.bad("ret")),
                };
                ((!envid.is_empty()).then_some(envid), ret)
            } else {
                (None, None)
            };
            let n = r.count(if dsn { 13 } else { 8 })?;
            let mut recipients = Vec::with_capacity(n);
            for _ in 0..n {
                let mut rcpt = EnvelopeRecipient::new("");
                rcpt.address = r.string()?;
                rcpt.destination = r.string()?;
                if dsn {
                    rcpt.notify = Notify::from_bits(r.u8()?);
                    let orcpt = r.string()?;
                    rcpt.orcpt = (!orcpt.is_empty()).then_some(orcpt);
                }
                recipients.push(rcpt);
            }
            let body_len = r.u64()?;
            if body_len != r.buf.len() as u64 {
                return Err(r.bad("body length"));
            }
            let body = std::mem::take(&mut r.buf);
            let envelope = Envelope {
                sender,
                recipients,
                priority,
                arrival,
                envid,
                ret_full,
            };
            Record::Enqueue { id, envelope, body }
        }
        KIND_STATE => Record::State {
            id,
            state: r.state()?,
        },
        _ => Record::Remove { id },
    };
    if !r.buf.is_empty() {
        return Err(r.bad("trailing bytes"));
    }
    Ok(rec)
}

struct Reader<'a> {
    buf: &'a [u8],
    kind: &'static str,
}

impl<'a> Reader<'a> {
    fn bad(&self, what: &'static str) -> RecordError {
        RecordError::Malformed {
            kind: self.kind,
            what,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.buf.len() < n {
            return Err(self.bad("payload too short"));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, RecordError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, RecordError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, RecordError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    fn id(&mut self) -> Result<QueueId, RecordError> {
        Ok(QueueId {
            millis: self.u64()?,
            seq: self.u32()?,
        })
    }

    fn string(&mut self) -> Result<String, RecordError> {
        let n = self.u32()? as usize;
        let bytes = self.take(n)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| self.bad("string not UTF-8"))
    }

    /// A count of items each at least `min_size` bytes: bounded by the bytes left.
    fn count(&mut self, min_size: usize) -> Result<usize, RecordError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_size) > self.buf.len() {
            return Err(self.bad("count exceeds payload"));
        }
        Ok(n)
    }

    fn state(&mut self) -> Result<MessageState, RecordError> {
        let version = self.u64()?;
        let flags = self.u8()?;
        if flags & !1 != 0 {
            return Err(self.bad("unknown flags"));
        }
        let delay_notices_sent = self.u32()?;
        let n = self.count(1)?;
        let mut recipients = Vec::with_capacity(n);
        for _ in 0..n {
            recipients.push(self.recipient_state()?);
        }
        Ok(MessageState {
            version,
            held: flags & 1 != 0,
            delay_notices_sent,
            recipients,
        })
    }

    fn recipient_state(&mut self) -> Result<RecipientState, RecordError> {
        Ok(match self.u8()? {
            0 => RecipientState::Pending,
            1 => RecipientState::Deferred {
                attempts: self.u32()?,
                first_failure: Timestamp(self.u64()?),
                last_gap: Duration::from_millis(self.u64()?),
                next_attempt: Timestamp(self.u64()?),
                last_reply: self.string()?,
            },
            2 => RecipientState::Delivered {
                at: Timestamp(self.u64()?),
                reply: self.string()?,
            },
            3 => RecipientState::Failed {
                at: Timestamp(self.u64()?),
                reason: FailReason::from_code(self.u8()?).ok_or(self.bad("fail reason"))?,
                reply: self.string()?,
            },
            _ => return Err(self.bad("recipient state tag")),
        })
    }
}

/// Octets reserved for a frame before it is filled.
const MOST_FRAMES: usize = 128;

/// Appends an encoded frame built by `fill` to `out`.
fn frame(out: &mut Vec<u8>, kind: u8, fill: impl FnOnce(&mut Vec<u8>)) {
    frame_before(out, kind, fill, &[]);
}

/// Appends to `out` a frame built by `fill` whose payload ends with `tail`, all but
/// `tail` itself: length and checksum count it, and the frame is whole once `tail` is
/// written after `out`.
fn frame_before(out: &mut Vec<u8>, kind: u8, fill: impl FnOnce(&mut Vec<u8>), tail: &[u8]) {
    // Most frames (removals, one recipient's state) fit: one allocation, not a growth
    // step per field.
    out.reserve(MOST_FRAMES);
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    out.push(kind);
    fill(out);
    let body = &out[start + FRAME_HEADER..];
    let len = u32::try_from(body.len() + tail.len()).unwrap_or(u32::MAX);
    let crc = crc32c_append(crc32c(body), tail);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn put_id(out: &mut Vec<u8>, id: QueueId) {
    out.extend_from_slice(&id.millis.to_le_bytes());
    out.extend_from_slice(&id.seq.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

/// Size in bytes of the enqueue frame for this envelope and body.
pub fn enqueue_len(envelope: &Envelope, body: &[u8]) -> usize {
    let has_dsn = envelope.has_dsn();
    let rcpts: usize = envelope
        .recipients
        .iter()
        .map(|r| {
            let extra = if has_dsn {
                5 + r.orcpt.as_ref().map_or(0, String::len)
            } else {
                0
            };
            8 + r.address.len() + r.destination.len() + extra
        })
        .sum();
    let dsn = if has_dsn {
        5 + envelope.envid.as_ref().map_or(0, String::len)
    } else {
        0
    };
    FRAME_HEADER + 1 + 12 + 8 + 1 + 4 + envelope.sender.len() + dsn + 4 + rcpts + 8 + body.len()
}

/// Encodes an enqueue record.
pub fn encode_enqueue(out: &mut Vec<u8>, id: QueueId, envelope: &Envelope, body: &[u8]) {
    out.reserve(enqueue_len(envelope, body));
    encode_enqueue_head(out, id, envelope, body);
    out.extend_from_slice(body);
}

/// Encodes an enqueue record up to its body: the record is `out`'s new octets followed by
/// `body`'s, which a writer can send from where they are (`writev`) instead of copying
/// them in. Length and checksum already count the body.
pub fn encode_enqueue_head(out: &mut Vec<u8>, id: QueueId, envelope: &Envelope, body: &[u8]) {
    out.reserve(enqueue_len(envelope, body) - body.len());
    // Envelopes without RFC 3461 parameters keep the shorter original record.
    let dsn = envelope.has_dsn();
    frame_before(
        out,
        if dsn { KIND_ENQUEUE_DSN } else { KIND_ENQUEUE },
        |o| {
            put_id(o, id);
            o.extend_from_slice(&envelope.arrival.0.to_le_bytes());
            o.push(envelope.priority.code());
            put_str(o, &envelope.sender);
            if dsn {
                put_str(o, envelope.envid.as_deref().unwrap_or(""));
                o.push(match envelope.ret_full {
                    None => 0,
                    Some(false) => 1,
                    Some(true) => 2,
                });
            }
            put_len(o, envelope.recipients.len());
            for r in &envelope.recipients {
                put_str(o, &r.address);
                put_str(o, &r.destination);
                if dsn {
                    o.push(r.notify.map_or(0, Notify::to_bits));
                    put_str(o, r.orcpt.as_deref().unwrap_or(""));
                }
            }
            o.extend_from_slice(&(body.len() as u64).to_le_bytes());
        },
        body,
    );
}

/// Encodes a state record.
pub fn encode_state(out: &mut Vec<u8>, id: QueueId, state: &MessageState) {
    frame(out, KIND_STATE, |o| {
        put_id(o, id);
        o.extend_from_slice(&state.version.to_le_bytes());
        o.push(u8::from(state.held));
        o.extend_from_slice(&state.delay_notices_sent.to_le_bytes());
        put_len(o, state.recipients.len());
        for r in &state.recipients {
            match r {
                RecipientState::Pending => o.push(0),
                RecipientState::Deferred {
                    attempts,
                    first_failure,
                    last_gap,
                    next_attempt,
                    last_reply,
                } => {
                    o.push(1);
                    o.extend_from_slice(&attempts.to_le_bytes());
                    o.extend_from_slice(&first_failure.0.to_le_bytes());
                    o.extend_from_slice(&millis(*last_gap).to_le_bytes());
                    o.extend_from_slice(&next_attempt.0.to_le_bytes());
                    put_str(o, last_reply);
                }
                RecipientState::Delivered { at, reply } => {
                    o.push(2);
                    o.extend_from_slice(&at.0.to_le_bytes());
                    put_str(o, reply);
                }
                RecipientState::Failed { at, reason, reply } => {
                    o.push(3);
                    o.extend_from_slice(&at.0.to_le_bytes());
                    o.push(reason.code());
                    put_str(o, reply);
                }
            }
        }
    });
}

/// Encodes a remove record.
pub fn encode_remove(out: &mut Vec<u8>, id: QueueId) {
    frame(out, KIND_REMOVE, |o| put_id(o, id));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crc32c_in_pieces_equals_whole() {
        let data: Vec<u8> = (0..100u8).collect();
        for cut in [0, 1, 7, 8, 9, 50, 100] {
            let (a, b) = data.split_at(cut);
            assert_eq!(crc32c_append(crc32c(a), b), crc32c(&data), "cut {cut}");
        }
    }

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        // Agrees with the bitwise definition at every length and alignment.
        let data: Vec<u8> = (0..100u32).map(|i| (i * 37 + 11) as u8).collect();
        for start in 0..8 {
            for len in 0..data.len() - start {
                let piece = &data[start..start + len];
                let slow = !piece.iter().fold(!0u32, |mut c, &b| {
                    c ^= u32::from(b);
                    for _ in 0..8 {
                        c = if c & 1 != 0 {
                            0x82F6_3B78 ^ (c >> 1)
                        } else {
                            c >> 1
                        };
                    }
                    c
                });
                assert_eq!(crc32c(piece), slow, "start {start} len {len}");
            }
        }
    }

    #[test]
    fn truncation_and_corruption_are_detected() {
        let env = Envelope::new("a@b", ["c@d"], Timestamp(5));
        let id = QueueId { millis: 5, seq: 1 };
        let mut buf = Vec::new();
        encode_enqueue(&mut buf, id, &env, b"hello");
        assert_eq!(buf.len(), enqueue_len(&env, b"hello"));
        let (rec, used) = decode(&buf, DEFAULT_MAX_RECORD).unwrap();
        assert_eq!(used, buf.len());
        assert_eq!(
            rec,
            Record::Enqueue {
                id,
                envelope: env,
                body: b"hello"
            }
        );
        for cut in 0..buf.len() {
            assert!(matches!(
                decode(&buf[..cut], DEFAULT_MAX_RECORD),
                Err(RecordError::Truncated { .. })
            ));
        }
        for i in FRAME_HEADER..buf.len() {
            let mut b = buf.clone();
            b[i] ^= 0x40;
            assert_eq!(
                decode(&b, DEFAULT_MAX_RECORD).unwrap_err(),
                RecordError::Checksum
            );
        }
        assert_eq!(
            decode(&buf, 10).unwrap_err(),
            RecordError::BadLength(buf.len() as u32 - 8)
        );
    }

    /// Wraps a payload in a valid frame, so the payload decoder itself is exercised.
    fn framed(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        frame(&mut out, kind, |o| o.extend_from_slice(payload));
        out
    }

    #[test]
    fn hostile_counts_do_not_allocate() {
        let mut p = vec![0u8; 12];
        p.extend_from_slice(&0u64.to_le_bytes()); // version
        p.push(0);
        p.extend_from_slice(&0u32.to_le_bytes());
        p.extend_from_slice(&u32::MAX.to_le_bytes()); // 4 billion recipients
        assert!(matches!(
            decode(&framed(2, &p), DEFAULT_MAX_RECORD),
            Err(RecordError::Malformed { .. })
        ));
        assert_eq!(
            decode(&framed(9, &p), DEFAULT_MAX_RECORD).unwrap_err(),
            RecordError::UnknownKind(9)
        );
        let mut r = framed(3, &[0; 12]);
        r.truncate(r.len());
        assert!(decode(&r, DEFAULT_MAX_RECORD).is_ok());
        assert!(decode(&framed(3, &[0; 13]), DEFAULT_MAX_RECORD).is_err());
    }

    fn arb_rstate() -> impl Strategy<Value = RecipientState> {
        prop_oneof![
            Just(RecipientState::Pending),
            (
                any::<u32>(),
                any::<u64>(),
                0u64..1 << 50,
                any::<u64>(),
                "\\PC{0,20}"
            )
                .prop_map(|(attempts, f, g, n, last_reply)| RecipientState::Deferred {
                    attempts,
                    first_failure: Timestamp(f),
                    last_gap: Duration::from_millis(g),
                    next_attempt: Timestamp(n),
                    last_reply
                }),
            (any::<u64>(), "\\PC{0,20}").prop_map(|(a, reply)| RecipientState::Delivered {
                at: Timestamp(a),
                reply
            }),
            (any::<u64>(), 0u8..4, "\\PC{0,20}").prop_map(|(a, c, reply)| RecipientState::Failed {
                at: Timestamp(a),
                reason: FailReason::from_code(c).unwrap(),
                reply
            }),
        ]
    }

    proptest! {
        #[test]
        fn enqueue_round_trip(sender in "\\PC{0,30}",
                              rcpts in proptest::collection::vec(("\\PC{0,30}", "[a-z.]{0,20}", proptest::option::of(0u8..16), proptest::option::of("[a-z;@.]{1,20}")), 0..5),
                              body in proptest::collection::vec(any::<u8>(), 0..200), ms: u64, seq: u32, prio in 0u8..3,
                              envid in proptest::option::of("[A-Za-z0-9+=]{1,20}"), ret_full: Option<bool>) {
            let envelope = Envelope {
                sender,
                recipients: rcpts.into_iter().map(|(address, destination, notify, orcpt)| EnvelopeRecipient {
                    address,
                    destination,
                    notify: notify.and_then(|b| Notify::from_bits(0x80 | b)),
                    orcpt,
                }).collect(),
                priority: Priority::from_code(prio).unwrap(),
                arrival: Timestamp(ms),
                envid,
                ret_full,
            };
            let id = QueueId { millis: ms, seq };
            let mut buf = Vec::new();
            encode_enqueue(&mut buf, id, &envelope, &body);
            let (rec, used) = decode(&buf, DEFAULT_MAX_RECORD).unwrap();
            prop_assert_eq!(used, buf.len());
            prop_assert_eq!(rec, Record::Enqueue { id, envelope, body: &body });
        }

        #[test]
        fn state_round_trip(version: u64, held: bool, sent: u32, rs in proptest::collection::vec(arb_rstate(), 0..6)) {
            let state = MessageState { version, held, delay_notices_sent: sent, recipients: rs };
            let id = QueueId { millis: 1, seq: 2 };
            let mut buf = Vec::new();
            encode_state(&mut buf, id, &state);
            encode_remove(&mut buf, id);
            let (rec, used) = decode(&buf, DEFAULT_MAX_RECORD).unwrap();
            prop_assert_eq!(rec, Record::State { id, state });
            prop_assert_eq!(decode(&buf[used..], DEFAULT_MAX_RECORD).unwrap().0, Record::Remove { id });
        }

        #[test]
        fn decoder_is_total(kind in 0u8..5, payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&framed(kind, &payload), DEFAULT_MAX_RECORD);
            let _ = decode(&payload, DEFAULT_MAX_RECORD);
        }
    }
}
