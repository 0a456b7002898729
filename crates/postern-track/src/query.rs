//! Searching the daily files: [`Filter`], [`Reader::search`] and [`Reader::trace`].
//!
//! Only the files whose day lies in the filter's time range are opened. A message-id or
//! queue-id filter goes through the per-day index (built on first use) or, without one,
//! a memmem search for the value over the file's bytes; other filters test each line's raw
//! columns and decode only the lines that match. Unparsable lines and a torn last line are
//! skipped and counted in [`ScanStats`], never fatal.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::index::{Index, KeyKind, key_hash, strip_brackets};
use crate::line::{LineView, col};
use crate::retention::{LogFile, list_logs};
use crate::scan::{self, ScanStats};
use crate::text::escape_into;
use crate::{Day, Event, EventKind, Text, Timestamp, TrackError};

/// Which events a search returns. Every set criterion must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// The message-id, compared exactly; one pair of angle brackets is optional on
    /// either side.
    pub message_id: Option<Text>,
    /// The queue id, compared exactly.
    pub queue_id: Option<Text>,
    /// The envelope sender, ASCII case-insensitive.
    pub sender: Option<Text>,
    /// One of the recipients, ASCII case-insensitive.
    pub recipient: Option<Text>,
    /// Any of these kinds (all kinds when empty).
    pub kinds: Vec<EventKind>,
    /// Events at or after this time.
    pub since: Option<Timestamp>,
    /// Events before this time.
    pub until: Option<Timestamp>,
}

impl Filter {
    /// Matches everything.
    pub fn new() -> Filter {
        Filter::default()
    }
    /// Sets the message-id.
    pub fn message_id(mut self, v: impl Into<Text>) -> Filter {
        self.message_id = Some(v.into());
        self
    }
    /// Sets the queue id.
    pub fn queue_id(mut self, v: impl Into<Text>) -> Filter {
        self.queue_id = Some(v.into());
        self
    }
    /// Sets the sender.
    pub fn sender(mut self, v: impl Into<Text>) -> Filter {
        self.sender = Some(v.into());
        self
    }
    /// Sets the recipient.
    pub fn recipient(mut self, v: impl Into<Text>) -> Filter {
        self.recipient = Some(v.into());
        self
    }
    /// Adds a kind.
    pub fn kind(mut self, k: EventKind) -> Filter {
        self.kinds.push(k);
        self
    }
    /// Sets the start of the range (inclusive).
    pub fn since(mut self, t: Timestamp) -> Filter {
        self.since = Some(t);
        self
    }
    /// Sets the end of the range (exclusive).
    pub fn until(mut self, t: Timestamp) -> Filter {
        self.until = Some(t);
        self
    }

    /// Whether a decoded event matches.
    pub fn matches(&self, ev: &Event) -> bool {
        let eq_mid = |m: &Text| {
            ev.message_id
                .as_ref()
                .is_some_and(|v| strip_brackets(v.as_bytes()) == strip_brackets(m.as_bytes()))
        };
        let ci = |want: &Text, have: &Text| have.eq_ignore_ascii_case(want.as_bytes());
        self.message_id.as_ref().is_none_or(eq_mid)
            && self
                .queue_id
                .as_ref()
                .is_none_or(|q| ev.queue_id.as_ref() == Some(q))
            && self
                .sender
                .as_ref()
                .is_none_or(|s| ev.sender.as_ref().is_some_and(|v| ci(s, v)))
            && self
                .recipient
                .as_ref()
                .is_none_or(|r| ev.recipients.iter().any(|v| ci(r, v)))
            && (self.kinds.is_empty() || self.kinds.contains(&ev.kind))
            && self.since.is_none_or(|t| ev.time >= t)
            && self.until.is_none_or(|t| ev.time < t)
    }

    /// A cheap test on the raw columns, so most lines are rejected without decoding.
    /// `true` means "decode and check fully".
    fn may_match(&self, v: &LineView<'_>) -> bool {
        let ci = |want: &Text, raw: Option<std::borrow::Cow<'_, [u8]>>| {
            raw.is_some_and(|r| r.eq_ignore_ascii_case(want.as_bytes()))
        };
        if !self.kinds.is_empty() && !v.kind().is_ok_and(|k| self.kinds.contains(&k)) {
            return false;
        }
        if let Some(s) = &self.sender {
            if !v.text(col::SENDER).is_ok_and(|raw| ci(s, raw)) {
                return false;
            }
        }
        if let Some(r) = &self.recipient {
            if !v
                .any_recipient(|x| x.eq_ignore_ascii_case(r.as_bytes()))
                .unwrap_or(false)
            {
                return false;
            }
        }
        true
    }

    /// The day range whose files can hold matches.
    fn days(&self) -> (Option<Day>, Option<Day>) {
        (
            self.since.map(Timestamp::day),
            self.until.map(|t| t.saturating_add_ms(-1).day()),
        )
    }

    /// The key to look up in an index (or search with memmem), if the filter has one.
    fn key(&self) -> Option<(KeyKind, Vec<u8>)> {
        if let Some(m) = &self.message_id {
            return Some((KeyKind::MessageId, strip_brackets(m.as_bytes()).to_vec()));
        }
        self.queue_id
            .as_ref()
            .map(|q| (KeyKind::QueueId, q.as_bytes().to_vec()))
    }
}

/// Whether queries use the per-day index files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IndexMode {
    /// Use a day's index for message-id and queue-id lookups, building or rebuilding it
    /// when missing or stale (and scanning instead if it cannot be written).
    #[default]
    Auto,
    /// Never read or write index files: always scan.
    Off,
}

/// Bounds on what a query reads and returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadLimits {
    /// Longer lines are skipped as malformed. Default 32 MiB (the writer's defaults keep
    /// lines far below it).
    pub max_line_len: usize,
    /// A search stops after this many events (see [`SearchResult::truncated`]).
    /// Default 1 000 000.
    pub max_results: usize,
    /// A trace stops collecting after this many events. Default 10 000.
    pub max_trace_events: usize,
    /// A trace follows queue ids and message-ids at most this many hops. Default 16.
    pub max_trace_rounds: usize,
}

impl Default for ReadLimits {
    fn default() -> ReadLimits {
        ReadLimits {
            max_line_len: 32 << 20,
            max_results: 1_000_000,
            max_trace_events: 10_000,
            max_trace_rounds: 16,
        }
    }
}

/// The answer to a search.
#[derive(Debug, Clone, Default)]
pub struct SearchResult {
    /// Matching events in time order (ties in log order).
    pub events: Vec<Event>,
    /// Whether the search stopped at [`ReadLimits::max_results`] (there may be more).
    pub truncated: bool,
    /// What was read and skipped.
    pub stats: ScanStats,
}

/// The life of one message: every event of its queue ids, the notifications about it, and
/// theirs, in time order.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// The events, in time order.
    pub events: Vec<Event>,
    /// The queue ids involved, in the order they were found.
    pub queue_ids: Vec<Text>,
    /// The message-ids involved (the message's own first), in the order they were found.
    pub message_ids: Vec<Text>,
    /// Whether a [`ReadLimits`] trace bound cut the trace short.
    pub truncated: bool,
    /// What was read and skipped.
    pub stats: ScanStats,
}

/// Reads a tracking directory.
///
/// ```
/// use postern_track::{Filter, Reader};
///
/// let reader = Reader::new("./no-such-dir");
/// let found = reader.search(&Filter::new().message_id("<x@y>")).unwrap();
/// assert!(found.events.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct Reader {
    dir: PathBuf,
    index: IndexMode,
    limits: ReadLimits,
}

/// An event and where it came from, so one found twice is kept once.
type Located = ((Day, u64), Event);

impl Reader {
    /// A reader of `dir` with [`IndexMode::Auto`] and default limits.
    pub fn new(dir: impl Into<PathBuf>) -> Reader {
        Reader {
            dir: dir.into(),
            index: IndexMode::Auto,
            limits: ReadLimits::default(),
        }
    }

    /// Sets the index mode.
    pub fn index_mode(mut self, mode: IndexMode) -> Reader {
        self.index = mode;
        self
    }

    /// Sets the limits.
    pub fn limits(mut self, limits: ReadLimits) -> Reader {
        self.limits = limits;
        self
    }

    /// The directory read.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Builds (or rebuilds) the index of every daily file; returns how many were built.
    pub fn build_indexes(&self) -> Result<usize, TrackError> {
        let mut stats = ScanStats::default();
        let logs = list_logs(&self.dir)?;
        for f in &logs {
            crate::index::build(&f.path, self.limits.max_line_len, &mut stats)?;
        }
        Ok(logs.len())
    }

    /// The events matching `filter`.
    pub fn search(&self, filter: &Filter) -> Result<SearchResult, TrackError> {
        let mut out = SearchResult::default();
        let files = self.files(filter.days())?;
        let mut found: Vec<Located> = Vec::new();
        let max = self.limits.max_results;
        match filter.key() {
            Some((kind, value)) => {
                let keys = [(kind, value)];
                for f in &files {
                    if found.len() >= max {
                        break;
                    }
                    self.collect_keys(f, &keys, &mut out.stats, &mut |loc, ev| {
                        if filter.matches(&ev) {
                            found.push((loc, ev));
                        }
                        found.len() < max
                    })?;
                }
            }
            None => {
                for f in &files {
                    if found.len() >= max {
                        break;
                    }
                    self.scan_all(f, filter, &mut out.stats, &mut |loc, ev| {
                        found.push((loc, ev));
                        found.len() < max
                    })?;
                }
            }
        }
        out.truncated = found.len() >= max;
        found.truncate(max);
        found.sort_by_key(|a| (a.1.time, a.0));
        out.events = found.into_iter().map(|(_, ev)| ev).collect();
        Ok(out)
    }

    /// The whole life of the message with `message_id`: its events, those of every queue
    /// id they carry, those of notifications pointing at those queue ids (through
    /// `related_queue_id`), and so on, in time order. Reads all daily files.
    pub fn trace(&self, message_id: impl Into<Text>) -> Result<Trace, TrackError> {
        let files = self.files((None, None))?;
        let mut tr = Trace::default();
        let first = Text::from(strip_brackets(message_id.into().as_bytes()).to_vec());
        let mut seen_mid: HashSet<Vec<u8>> = HashSet::from([first.as_bytes().to_vec()]);
        let mut seen_qid: HashSet<Vec<u8>> = HashSet::new();
        let mut todo = vec![(KeyKind::MessageId, first.as_bytes().to_vec())];
        tr.message_ids.push(first);
        let mut events: BTreeMap<(Day, u64), Event> = BTreeMap::new();
        let mut rounds = 0;
        while !todo.is_empty() {
            if rounds == self.limits.max_trace_rounds
                || events.len() >= self.limits.max_trace_events
            {
                tr.truncated = true;
                break;
            }
            rounds += 1;
            let keys = std::mem::take(&mut todo);
            let mut new = Vec::new();
            let mut round = ScanStats::default();
            for f in &files {
                self.collect_keys(f, &keys, &mut round, &mut |loc, ev| {
                    if key_matches(&keys, &ev) && !events.contains_key(&loc) {
                        new.push((loc, ev));
                    }
                    true
                })?;
            }
            tr.stats.merge_round(&round);
            for (loc, ev) in new {
                for q in [&ev.queue_id, &ev.related_queue_id].into_iter().flatten() {
                    if seen_qid.insert(q.as_bytes().to_vec()) {
                        todo.push((KeyKind::QueueId, q.as_bytes().to_vec()));
                        tr.queue_ids.push(q.clone());
                    }
                }
                if let Some(m) = &ev.message_id {
                    let m = strip_brackets(m.as_bytes());
                    if seen_mid.insert(m.to_vec()) {
                        todo.push((KeyKind::MessageId, m.to_vec()));
                        tr.message_ids.push(Text::from(m));
                    }
                }
                events.insert(loc, ev);
            }
        }
        let mut list: Vec<Located> = events.into_iter().collect();
        list.truncate(self.limits.max_trace_events.max(1));
        list.sort_by_key(|a| (a.1.time, a.0));
        tr.events = list.into_iter().map(|(_, ev)| ev).collect();
        Ok(tr)
    }

    fn files(&self, (from, to): (Option<Day>, Option<Day>)) -> Result<Vec<LogFile>, TrackError> {
        let mut logs = list_logs(&self.dir)?;
        logs.retain(|f| from.is_none_or(|d| f.day >= d) && to.is_none_or(|d| f.day <= d));
        Ok(logs)
    }

    /// Calls `emit` with every event of `f` that carries one of `keys` (and maybe a few
    /// that do not: callers check). `emit` returns `false` to stop.
    fn collect_keys(
        &self,
        f: &LogFile,
        keys: &[(KeyKind, Vec<u8>)],
        stats: &mut ScanStats,
        emit: &mut dyn FnMut((Day, u64), Event) -> bool,
    ) -> Result<(), TrackError> {
        stats.files += 1;
        let mut from = 0;
        if self.index == IndexMode::Auto {
            if let Some((mut idx, usable)) =
                Index::open_or_build(&f.path, self.limits.max_line_len, stats)?
            {
                stats.indexed_files += 1;
                let mut offsets = Vec::new();
                for (kind, v) in keys {
                    offsets.extend(
                        idx.lookup(key_hash(*kind, v))
                            .map_err(TrackError::io("read index", &f.path))?,
                    );
                }
                offsets.sort_unstable();
                offsets.dedup();
                offsets.retain(|&o| o < usable.covered);
                if !self.read_at(f, &offsets, stats, emit)? {
                    return Ok(());
                }
                from = usable.covered;
            }
        }
        self.scan_keys(f, from, keys, stats, emit)
    }

    /// Reads the lines at `offsets`; returns `false` if `emit` asked to stop.
    fn read_at(
        &self,
        f: &LogFile,
        offsets: &[u64],
        stats: &mut ScanStats,
        emit: &mut dyn FnMut((Day, u64), Event) -> bool,
    ) -> Result<bool, TrackError> {
        if offsets.is_empty() {
            return Ok(true);
        }
        let mut file = File::open(&f.path).map_err(TrackError::io("open", &f.path))?;
        let mut buf = Vec::new();
        for &off in offsets {
            let line = scan::read_line_at(&mut file, off, self.limits.max_line_len, &mut buf)
                .map_err(TrackError::io("read", &f.path))?;
            match line.map(crate::line::parse_line) {
                Some(Ok(ev)) => {
                    if !emit((f.day, off), ev) {
                        return Ok(false);
                    }
                }
                _ => stats.malformed_lines += 1,
            }
        }
        Ok(true)
    }

    /// Scans `f` from `from` for lines carrying one of `keys`.
    fn scan_keys(
        &self,
        f: &LogFile,
        from: u64,
        keys: &[(KeyKind, Vec<u8>)],
        stats: &mut ScanStats,
        emit: &mut dyn FnMut((Day, u64), Event) -> bool,
    ) -> Result<(), TrackError> {
        let needles: Option<Vec<Vec<u8>>> = keys.iter().map(|(_, v)| memmem_needle(v)).collect();
        let end = file_len(&f.path)?;
        let day = f.day;
        let max = self.limits.max_line_len;
        let mut local = ScanStats::default();
        let mut bad = 0;
        match needles {
            // One key (the usual search): jump from hit to hit with memmem.
            Some(n) if n.len() == 1 => {
                let finder = memchr::memmem::Finder::new(&n[0]);
                scan::scan_regions(&f.path, from, end, max, &mut local, |base, region| {
                    for (off, line) in scan::hit_lines(base, region, &finder) {
                        if let Some(ev) = decode(line, |v| raw_key_matches(keys, v), &mut bad) {
                            if !emit((day, off), ev) {
                                return ControlFlow::Break(());
                            }
                        }
                    }
                    ControlFlow::Continue(())
                })?;
            }
            // Several keys (a trace round), or values memmem cannot look for: test each line.
            _ => {
                scan::scan_regions(&f.path, from, end, max, &mut local, |base, region| {
                    for (off, line) in scan::lines(base, region) {
                        if let Some(ev) = decode(line, |v| raw_key_matches(keys, v), &mut bad) {
                            if !emit((day, off), ev) {
                                return ControlFlow::Break(());
                            }
                        }
                    }
                    ControlFlow::Continue(())
                })?;
            }
        }
        local.malformed_lines += bad;
        stats.add(&local);
        Ok(())
    }

    /// Scans all of `f`, testing every line against `filter`.
    fn scan_all(
        &self,
        f: &LogFile,
        filter: &Filter,
        stats: &mut ScanStats,
        emit: &mut dyn FnMut((Day, u64), Event) -> bool,
    ) -> Result<(), TrackError> {
        stats.files += 1;
        let end = file_len(&f.path)?;
        let day = f.day;
        let mut local = ScanStats::default();
        let mut bad = 0;
        scan::scan_regions(
            &f.path,
            0,
            end,
            self.limits.max_line_len,
            &mut local,
            |base, region| {
                for (off, line) in scan::lines(base, region) {
                    if let Some(ev) = decode(line, |v| filter.may_match(v), &mut bad) {
                        if filter.matches(&ev) && !emit((day, off), ev) {
                            return ControlFlow::Break(());
                        }
                    }
                }
                ControlFlow::Continue(())
            },
        )?;
        local.malformed_lines += bad;
        stats.add(&local);
        Ok(())
    }
}

fn file_len(path: &Path) -> Result<u64, TrackError> {
    Ok(std::fs::metadata(path)
        .map_err(TrackError::io("stat", path))?
        .len())
}

/// Splits a line, runs the cheap test, and decodes it if the test passes. Directive
/// lines are skipped; bad lines are counted.
fn decode(
    line: &[u8],
    test: impl FnOnce(&LineView<'_>) -> bool,
    malformed: &mut u64,
) -> Option<Event> {
    if line.first() == Some(&b'#') || line.is_empty() {
        return None;
    }
    let view = match LineView::split(line) {
        Ok(v) => v,
        Err(_) => {
            *malformed += 1;
            return None;
        }
    };
    if !test(&view) {
        return None;
    }
    match view.event() {
        Ok(ev) => Some(ev),
        Err(_) => {
            *malformed += 1;
            None
        }
    }
}

/// The bytes a value appears as inside a field, when that does not depend on the rest of
/// the field (values written specially when whole — empty, `-` — or not UTF-8 are left to
/// the line-by-line path).
fn memmem_needle(v: &[u8]) -> Option<Vec<u8>> {
    if v.is_empty() || v == b"-" || std::str::from_utf8(v).is_err() {
        return None;
    }
    let mut out = Vec::with_capacity(v.len());
    escape_into(v, false, &mut out);
    Some(out)
}

/// Whether a line's raw columns carry one of `keys`.
fn raw_key_matches(keys: &[(KeyKind, Vec<u8>)], v: &LineView<'_>) -> bool {
    let col_is = |c: usize, want: &[u8], strip: bool| {
        v.text(c).ok().flatten().is_some_and(|raw| {
            if strip {
                strip_brackets(&raw) == want
            } else {
                *raw == *want
            }
        })
    };
    keys.iter().any(|(kind, want)| match kind {
        KeyKind::MessageId => col_is(col::MESSAGE_ID, want, true),
        KeyKind::QueueId => col_is(col::QUEUE_ID, want, false) || col_is(col::RELATED, want, false),
    })
}

/// The same test on a decoded event (index hits may be hash collisions).
fn key_matches(keys: &[(KeyKind, Vec<u8>)], ev: &Event) -> bool {
    let is = |t: &Option<Text>, want: &[u8], strip: bool| {
        t.as_ref().is_some_and(|t| {
            if strip {
                strip_brackets(t.as_bytes()) == want
            } else {
                t.as_bytes() == want
            }
        })
    };
    keys.iter().any(|(kind, want)| match kind {
        KeyKind::MessageId => is(&ev.message_id, want, true),
        KeyKind::QueueId => is(&ev.queue_id, want, false) || is(&ev.related_queue_id, want, false),
    })
}
