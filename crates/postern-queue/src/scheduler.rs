//! The scheduler: which (message, destination) jobs are due, in time order, with holds.
//!
//! Sans-IO and in memory: every call takes `now`. Due jobs sit in a B-tree ordered by
//! (due time, queue id, destination), so taking the next due job is `O(log n)` at any queue
//! size. Holding a message parks its jobs at once; holding a destination parks its jobs
//! lazily as they come due; holding everything (the IMS transfer mode "none") stops
//! [`Scheduler::pop_due`] in `O(1)`. Administrative operations on a destination
//! (release, retry now) scan all jobs: `O(n)`, fine for an operator's command.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use rustc_hash::FxHashSet;

use crate::id::QueueId;
use crate::time::Timestamp;

/// What an administrative command applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// One message.
    Message(QueueId),
    /// Every message for one destination (retry: like ETRN).
    Destination(String),
    /// Everything.
    All,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Message(id) => write!(f, "message {id}"),
            Target::Destination(d) => write!(f, "destination {d}"),
            Target::All => f.write_str("all"),
        }
    }
}

/// A target that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad target {0:?} (want `message ID`, `destination NAME` or `all`)")]
pub struct BadTarget(pub String);

impl FromStr for Target {
    type Err = BadTarget;

    fn from_str(s: &str) -> Result<Self, BadTarget> {
        let bad = || BadTarget(s.chars().take(80).collect());
        let mut it = s.split_whitespace();
        let t = match (it.next(), it.next()) {
            (Some("all"), None) => Target::All,
            (Some("message"), Some(id)) => Target::Message(id.parse().map_err(|_| bad())?),
            (Some("destination"), Some(d))
                if d.len() <= 255 && d.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Target::Destination(d.to_ascii_lowercase())
            }
            _ => return Err(bad()),
        };
        if it.next().is_some() {
            return Err(bad());
        }
        Ok(t)
    }
}

/// A due job handed out by [`Scheduler::pop_due`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The message.
    pub id: QueueId,
    /// The destination to deliver it to.
    pub destination: Arc<str>,
    /// When it was due.
    pub due: Timestamp,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    due: Timestamp,
    parked: bool,
}

type Key = (QueueId, u32);

/// The in-memory schedule of (message, destination) jobs.
#[derive(Debug, Default)]
pub struct Scheduler {
    due: BTreeSet<(Timestamp, QueueId, u32)>,
    jobs: BTreeMap<Key, Slot>,
    parked: BTreeSet<Key>,
    names: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, u32>,
    held_msgs: FxHashSet<QueueId>,
    held_dests: HashSet<u32>,
    hold_all: bool,
}

impl Scheduler {
    /// An empty scheduler.
    pub fn new() -> Scheduler {
        Scheduler::default()
    }

    fn intern(&mut self, dest: &str) -> u32 {
        if let Some(&d) = self.ids.get(dest) {
            return d;
        }
        let name: Arc<str> = Arc::from(dest.to_ascii_lowercase());
        if let Some(&d) = self.ids.get(&name) {
            return d;
        }
        let d = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(Arc::clone(&name));
        self.ids.insert(name, d);
        d
    }

    fn lookup(&self, dest: &str) -> Option<u32> {
        self.ids
            .get(dest)
            .or_else(|| self.ids.get(dest.to_ascii_lowercase().as_str()))
            .copied()
    }

    fn is_held(&self, id: QueueId, d: u32) -> bool {
        self.held_msgs.contains(&id) || self.held_dests.contains(&d)
    }

    /// Schedules (or re-schedules) delivery of `id` to `destination` at `at`.
    pub fn schedule(&mut self, id: QueueId, destination: &str, at: Timestamp) {
        let d = self.intern(destination);
        let held = self.is_held(id, d);
        let key = (id, d);
        if let Some(slot) = self.jobs.get(&key).copied() {
            if !slot.parked {
                self.due.remove(&(slot.due, id, d));
            }
            self.parked.remove(&key);
        }
        self.jobs.insert(
            key,
            Slot {
                due: at,
                parked: held,
            },
        );
        if held {
            self.parked.insert(key);
        } else {
            self.due.insert((at, id, d));
        }
    }

    fn drop_key(&mut self, key: Key) -> bool {
        match self.jobs.remove(&key) {
            Some(slot) => {
                if slot.parked {
                    self.parked.remove(&key);
                } else {
                    self.due.remove(&(slot.due, key.0, key.1));
                }
                true
            }
            None => false,
        }
    }

    /// Removes one job; true if it existed.
    pub fn unschedule(&mut self, id: QueueId, destination: &str) -> bool {
        self.lookup(destination)
            .is_some_and(|d| self.drop_key((id, d)))
    }

    fn keys_of(&self, id: QueueId) -> Vec<Key> {
        self.jobs
            .range((id, 0)..=(id, u32::MAX))
            .map(|(k, _)| *k)
            .collect()
    }

    /// Removes every job of a message; returns how many.
    pub fn remove_message(&mut self, id: QueueId) -> usize {
        self.held_msgs.remove(&id);
        self.keys_of(id)
            .into_iter()
            .filter(|k| self.drop_key(*k))
            .count()
    }

    /// Takes up to `max` jobs due at or before `now`, earliest first. Jobs of held messages
    /// or destinations are parked instead; nothing is returned while everything is held.
    pub fn pop_due(&mut self, now: Timestamp, max: usize) -> Vec<Job> {
        let mut out = Vec::new();
        if self.hold_all {
            return out;
        }
        while out.len() < max {
            let Some(&(due, id, d)) = self.due.first() else {
                break;
            };
            if due > now {
                break;
            }
            self.due.pop_first();
            if self.is_held(id, d) {
                if let Some(slot) = self.jobs.get_mut(&(id, d)) {
                    slot.parked = true;
                }
                self.parked.insert((id, d));
                continue;
            }
            self.jobs.remove(&(id, d));
            out.push(Job {
                id,
                destination: Arc::clone(&self.names[d as usize]),
                due,
            });
        }
        out
    }

    /// The earliest due time, if anything can run (`None` when empty or all held).
    pub fn next_due(&self) -> Option<Timestamp> {
        if self.hold_all {
            return None;
        }
        self.due.first().map(|e| e.0)
    }

    /// Holds a message, a destination, or everything.
    pub fn hold(&mut self, target: &Target) {
        match target {
            Target::All => self.hold_all = true,
            Target::Destination(dest) => {
                let d = self.intern(dest);
                self.held_dests.insert(d);
            }
            Target::Message(id) => {
                self.held_msgs.insert(*id);
                for key in self.keys_of(*id) {
                    if let Some(slot) = self.jobs.get_mut(&key).filter(|s| !s.parked) {
                        slot.parked = true;
                        self.due.remove(&(slot.due, key.0, key.1));
                        self.parked.insert(key);
                    }
                }
            }
        }
    }

    /// Releases a hold. `Target::All` lifts every hold: global, per destination and per
    /// message (like `postsuper -H ALL` plus turning transfers back on).
    pub fn release(&mut self, target: &Target) {
        match target {
            Target::All => {
                self.hold_all = false;
                self.held_dests.clear();
                self.held_msgs.clear();
            }
            Target::Destination(dest) => {
                if let Some(d) = self.lookup(dest) {
                    self.held_dests.remove(&d);
                }
            }
            Target::Message(id) => {
                self.held_msgs.remove(id);
            }
        }
        let free: Vec<Key> = self
            .parked
            .iter()
            .copied()
            .filter(|&(id, d)| !self.is_held(id, d))
            .collect();
        for key in free {
            self.parked.remove(&key);
            if let Some(slot) = self.jobs.get_mut(&key) {
                slot.parked = false;
                self.due.insert((slot.due, key.0, key.1));
            }
        }
    }

    /// Makes matching jobs due at `now` (held ones stay held, but will run on release).
    /// Returns how many jobs were touched.
    pub fn retry_now(&mut self, target: &Target, now: Timestamp) -> usize {
        let keys: Vec<Key> = match target {
            Target::Message(id) => self.keys_of(*id),
            Target::Destination(dest) => match self.lookup(dest) {
                Some(d) => self.jobs.keys().copied().filter(|k| k.1 == d).collect(),
                None => Vec::new(),
            },
            Target::All => self.jobs.keys().copied().collect(),
        };
        for &(id, d) in &keys {
            if let Some(slot) = self.jobs.get_mut(&(id, d)) {
                if !slot.parked {
                    self.due.remove(&(slot.due, id, d));
                    self.due.insert((now, id, d));
                }
                slot.due = now;
            }
        }
        keys.len()
    }

    /// Jobs scheduled (due or parked; not those handed out and not yet re-scheduled).
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// True when no job is scheduled.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// True when everything is held.
    pub fn all_held(&self) -> bool {
        self.hold_all
    }

    /// True when `id` is held.
    pub fn message_held(&self, id: QueueId) -> bool {
        self.held_msgs.contains(&id)
    }

    /// The held destinations, sorted.
    pub fn held_destinations(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .held_dests
            .iter()
            .map(|&d| self.names[d as usize].to_string())
            .collect();
        v.sort();
        v
    }

    /// True when jobs for `destination` are held (by destination or globally).
    pub fn destination_held(&self, destination: &str) -> bool {
        self.hold_all
            || self
                .lookup(destination)
                .is_some_and(|d| self.held_dests.contains(&d))
    }

    /// The jobs of one message: destination, due time, parked.
    pub fn jobs_of(&self, id: QueueId) -> Vec<(Arc<str>, Timestamp, bool)> {
        self.jobs
            .range((id, 0)..=(id, u32::MAX))
            .map(|(k, s)| (Arc::clone(&self.names[k.1 as usize]), s.due, s.parked))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(n: u64) -> QueueId {
        QueueId { millis: n, seq: 0 }
    }

    #[test]
    fn pops_in_time_order_and_reschedules() {
        let mut s = Scheduler::new();
        s.schedule(id(1), "b.example", Timestamp(30));
        s.schedule(id(2), "a.example", Timestamp(10));
        s.schedule(id(3), "A.example", Timestamp(20));
        s.schedule(id(1), "b.example", Timestamp(5)); // moved earlier
        assert_eq!(s.len(), 3);
        assert_eq!(s.next_due(), Some(Timestamp(5)));
        let got: Vec<_> = s
            .pop_due(Timestamp(15), 10)
            .into_iter()
            .map(|j| (j.id, j.destination.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![(id(1), "b.example".into()), (id(2), "a.example".into())]
        );
        assert_eq!(
            s.pop_due(Timestamp(100), 10)[0].destination.as_ref(),
            "a.example"
        );
        assert!(s.is_empty());
    }

    #[test]
    fn holds_and_releases() {
        let mut s = Scheduler::new();
        s.schedule(id(1), "x", Timestamp(1));
        s.schedule(id(2), "x", Timestamp(1));
        s.schedule(id(2), "y", Timestamp(1));
        s.schedule(id(3), "z", Timestamp(1));
        s.hold(&Target::Message(id(2)));
        s.hold(&Target::Destination("X".into()));
        let got: Vec<_> = s
            .pop_due(Timestamp(5), 10)
            .into_iter()
            .map(|j| j.id)
            .collect();
        assert_eq!(got, vec![id(3)]);
        assert_eq!(s.len(), 3, "held jobs stay scheduled");
        s.release(&Target::Destination("x".into()));
        let got: Vec<_> = s
            .pop_due(Timestamp(5), 10)
            .into_iter()
            .map(|j| j.id)
            .collect();
        assert_eq!(got, vec![id(1)], "message 2 is still held on its own");
        s.hold(&Target::All);
        s.schedule(id(4), "w", Timestamp(1));
        assert!(s.pop_due(Timestamp(5), 10).is_empty());
        assert_eq!(s.next_due(), None);
        s.release(&Target::All);
        let mut got: Vec<_> = s
            .pop_due(Timestamp(5), 10)
            .into_iter()
            .map(|j| (j.id, j.destination.to_string()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                (id(2), "x".into()),
                (id(2), "y".into()),
                (id(4), "w".into())
            ]
        );
    }

    #[test]
    fn retry_now_by_message_and_destination() {
        let mut s = Scheduler::new();
        s.schedule(id(1), "x", Timestamp(1000));
        s.schedule(id(2), "x", Timestamp(2000));
        s.schedule(id(3), "y", Timestamp(3000));
        assert_eq!(
            s.retry_now(&Target::Destination("x".into()), Timestamp(10)),
            2
        );
        assert_eq!(s.pop_due(Timestamp(10), 10).len(), 2);
        assert_eq!(s.retry_now(&Target::Message(id(3)), Timestamp(10)), 1);
        assert_eq!(s.pop_due(Timestamp(10), 10)[0].id, id(3));
        assert_eq!(s.remove_message(id(9)), 0);
    }

    #[test]
    fn target_parse() {
        assert_eq!("all".parse::<Target>().unwrap(), Target::All);
        assert_eq!(
            "destination Example.COM".parse::<Target>().unwrap(),
            Target::Destination("example.com".into())
        );
        let t = Target::Message(id(77));
        assert_eq!(t.to_string().parse::<Target>().unwrap(), t);
        for bad in ["", "message zz", "all x", "destination", "nope x"] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
    }

    proptest! {
        /// Against a naive model: pop_due returns exactly the unheld jobs due by `now`, in order.
        #[test]
        fn matches_model(ops in proptest::collection::vec((0u64..20, 0u8..3, 0u64..100, 0u8..6), 1..80), now in 0u64..120) {
            let mut s = Scheduler::new();
            let mut model: BTreeMap<(u64, u8), u64> = BTreeMap::new();
            let mut held: HashSet<u64> = HashSet::new();
            for (m, d, at, op) in ops {
                let dest = ["a", "b", "c"][usize::from(d)];
                match op {
                    0..=2 => { s.schedule(id(m), dest, Timestamp(at)); model.insert((m, d), at); }
                    3 => { s.unschedule(id(m), dest); model.remove(&(m, d)); }
                    4 => { s.hold(&Target::Message(id(m))); held.insert(m); }
                    _ => { s.release(&Target::Message(id(m))); held.remove(&m); }
                }
            }
            let jobs = s.pop_due(Timestamp(now), usize::MAX);
            prop_assert!(jobs.windows(2).all(|w| w[0].due <= w[1].due), "time order");
            let mut got: Vec<(u64, u64, String)> = jobs.into_iter().map(|j| (j.due.0, j.id.millis, j.destination.to_string())).collect();
            got.sort();
            let mut want: Vec<(u64, u64, String)> = model.iter()
                .filter(|((m, _), at)| **at <= now && !held.contains(m))
                .map(|((m, d), at)| (*at, *m, ["a", "b", "c"][usize::from(*d)].to_string())).collect();
            want.sort();
            prop_assert_eq!(got, want);
        }
    }
}
