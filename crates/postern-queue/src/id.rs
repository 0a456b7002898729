//! Queue ids: unique within a spool and sorted by arrival.

use std::fmt;
use std::str::FromStr;

use crate::time::Timestamp;

/// A queue id: the arrival millisecond and a sequence number within it.
///
/// Written as 18 upper-case hex digits (12 for the millisecond, 6 for the sequence), so the
/// textual order is the arrival order. Ids are issued by the spool, which never issues one
/// lower than any id it has seen, even if the clock steps back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueId {
    /// The arrival time in milliseconds since the epoch.
    pub millis: u64,
    /// The sequence number within that millisecond.
    pub seq: u32,
}

/// Largest sequence number within one millisecond (6 hex digits).
const MAX_SEQ: u32 = 0xFF_FFFF;

impl QueueId {
    /// The arrival time encoded in the id.
    pub fn arrival(self) -> Timestamp {
        Timestamp(self.millis)
    }

    /// The id after `self` for a message arriving at `now`: `now` if later, else the next
    /// sequence number (rolling into the next millisecond when exhausted).
    pub fn next_after(self, now: Timestamp) -> QueueId {
        if now.0 > self.millis {
            QueueId {
                millis: now.0,
                seq: 0,
            }
        } else if self.seq < MAX_SEQ {
            QueueId {
                millis: self.millis,
                seq: self.seq + 1,
            }
        } else {
            QueueId {
                millis: self.millis.saturating_add(1),
                seq: 0,
            }
        }
    }
}

impl fmt::Display for QueueId {
    /// Twelve hex digits of the time, six of the sequence, upper case. Written digit by
    /// digit into a stack buffer: ids are formatted several times per message (log
    /// fields, tracking events, replies), and the padded `{:X}` path cost more.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut out = [0u8; 18];
        let millis = self.millis & 0xFFFF_FFFF_FFFF;
        let seq = u64::from(self.seq & MAX_SEQ);
        for (i, o) in out.iter_mut().enumerate() {
            let (v, digit) = if i < 12 { (millis, 11 - i) } else { (seq, 17 - i) };
            *o = HEX[((v >> (4 * digit)) & 0xF) as usize];
        }
        // Only ASCII hex digits were written.
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

/// A string that is not a queue id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a queue id (want 18 hex digits): {0:?}")]
pub struct BadQueueId(pub String);

impl FromStr for QueueId {
    type Err = BadQueueId;

    fn from_str(s: &str) -> Result<Self, BadQueueId> {
        let bad = || BadQueueId(s.chars().take(40).collect());
        if s.len() != 18 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(QueueId {
            millis: u64::from_str_radix(&s[..12], 16).map_err(|_| bad())?,
            seq: u32::from_str_radix(&s[12..], 16).map_err(|_| bad())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_sort_by_arrival_even_when_clock_steps_back() {
        let a = QueueId {
            millis: 1000,
            seq: 0,
        };
        let b = a.next_after(Timestamp(900));
        let c = b.next_after(Timestamp(2000));
        assert!(a < b && b < c);
        assert!(a.to_string() < b.to_string() && b.to_string() < c.to_string());
        let full = QueueId {
            millis: 5,
            seq: MAX_SEQ,
        };
        assert_eq!(full.next_after(Timestamp(5)), QueueId { millis: 6, seq: 0 });
        assert!("xyz".parse::<QueueId>().is_err());
    }

    proptest! {
        #[test]
        fn display_writes_the_padded_hex_fields(millis in any::<u64>(), seq in any::<u32>()) {
            let id = QueueId { millis, seq };
            let want = format!("{:012X}{:06X}", millis & 0xFFFF_FFFF_FFFF, seq & MAX_SEQ);
            prop_assert_eq!(id.to_string(), want);
        }

        #[test]
        fn display_parse_round_trip(millis in 0u64..(1 << 48), seq in 0u32..=MAX_SEQ) {
            let id = QueueId { millis, seq };
            prop_assert_eq!(id.to_string().parse::<QueueId>().unwrap(), id);
        }
    }
}
