//! DATA and BDAT framing: a streaming, zero-copy DATA decoder that ends only at
//! `CRLF.CRLF`, and the encoders for outbound DATA and BDAT.

use std::io::Write as _;

use crate::data_scan;
use crate::limits::Limits;
use crate::reply::{EnhancedCode, Reply};

/// What the DATA decoder does with a bare LF or bare CR (SMTP smuggling defence).
///
/// Under either policy the end of data is only `CRLF.CRLF`: `<LF>.<LF>`, `<LF>.<CR><LF>`,
/// `<CR><LF>.<LF>`, `<CR>.<CR>` and `<CR><LF>.<CR>` never end a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BareLinePolicy {
    /// Refuse: the message is consumed up to the real `CRLF.CRLF` and then rejected with
    /// [`DataError::BareLineEnding`]. A bare LF or CR never ends the message.
    #[default]
    Reject,
    /// Accept a bare LF as a line ending and deliver it as CRLF (Postfix's
    /// `smtpd_forbid_bare_newline = normalize`); the end of data is still only
    /// `CRLF.CRLF`, so nothing can be smuggled.
    ///
    /// A bare CR is treated the same way (delivered as CRLF), so the delivered content
    /// only ever holds CRLF line endings. A line that starts after a bare line ending is
    /// still dot-unstuffed (its leading `.` removed), as Postfix does, but a lone `.` on
    /// such a line is content, never the end.
    Normalize,
}

/// Why a DATA body was refused. The decoder consumes the body to its end before saying so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The body exceeded the size limit. `552 5.3.4`.
    #[error("message exceeds {limit} octets")]
    TooLarge {
        /// The limit in octets.
        limit: u64,
    },
    /// A bare LF or CR appeared under [`BareLinePolicy::Reject`]. `550 5.5.2`.
    #[error("bare LF or CR in message data")]
    BareLineEnding,
    /// A line exceeded [`Limits::max_data_line`]. `500 5.5.6`.
    #[error("message line longer than {limit} octets")]
    LineTooLong {
        /// The limit in octets, counting the CRLF.
        limit: usize,
    },
}

impl DataError {
    /// The reply a server sends after the end of data for this error.
    ///
    /// ```
    /// use postern_smtp::DataError;
    /// let r = DataError::TooLarge { limit: 1000 }.reply();
    /// assert_eq!(r.code, 552);
    /// assert_eq!(r.enhanced.unwrap().to_string(), "5.3.4");
    /// ```
    pub fn reply(&self) -> Reply {
        match self {
            DataError::TooLarge { limit } => Reply::new(
                552,
                Some(EnhancedCode::new(5, 3, 4)),
                &format!("Message size exceeds fixed limit of {limit} octets"),
            ),
            DataError::BareLineEnding => Reply::new(
                550,
                Some(EnhancedCode::new(5, 5, 2)),
                "Message contains bare LF or bare CR; lines must end with CRLF (RFC 5321 2.3.8)",
            ),
            DataError::LineTooLong { limit } => Reply::new(
                500,
                Some(EnhancedCode::new(5, 5, 6)),
                &format!("Message line longer than {limit} octets (RFC 5321 4.5.3.1.6)"),
            ),
        }
    }
}

/// Whether the body has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataStatus {
    /// More input is needed.
    More,
    /// `CRLF.CRLF` was consumed: `Ok(size)` in octets of content, or why the message is
    /// refused (its content must then be discarded).
    Done(Result<u64, DataError>),
}

/// One step of [`DataDecoder::step`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataStep<'i> {
    /// How many octets of the input this step consumed.
    pub consumed: usize,
    /// Message content produced by this step: a slice of the input, or a short `'static`
    /// slice for octets held over from an earlier chunk (a CR, a CRLF). May be empty.
    pub content: &'i [u8],
    /// Whether the end of data was reached.
    pub status: DataStatus,
}

/// Where the decoder stands in the line framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line. `hard` when the previous line ended with a real CRLF (or at
    /// the start of data): only then can a lone `.` end the message.
    LineStart { hard: bool },
    /// A `.` at a line start was consumed (and dropped: dot-unstuffing).
    Dot { hard: bool },
    /// `.` then CR at a line start were consumed; an LF now ends the data if `hard`.
    DotCr { hard: bool },
    /// Inside a line.
    Mid,
    /// Inside a line, a CR ended the previous chunk; the next octet says whether it was
    /// a CRLF or a bare CR.
    Cr,
    /// `CRLF.CRLF` was consumed.
    Done,
}

/// A CRLF delivered for a line ending that is not a CRLF run of the input: held over
/// from an earlier chunk, or a normalised bare LF/CR.
const CRLF: &[u8] = b"\r\n";

/// Streaming DATA decoder: removes dot-stuffing, finds `CRLF.CRLF`, enforces the size and
/// line limits mid-stream, and never copies the content — each step hands back a slice of
/// the input. The content includes the CRLF that ends the last line.
///
/// Call [`DataDecoder::step`] with the unconsumed input until it reports
/// [`DataStatus::Done`] or has consumed everything; octets after `Done` belong to the next
/// command. The result is the same however the input is split.
///
/// Every step on non-empty input either consumes octets or produces content; a step
/// consumes nothing only when it hands back a CRLF for a CR held over from the previous
/// chunk. Once a limit is exceeded or a bare line ending is refused, no more content is
/// produced (the content up to the offending octet has been), and the rest of the body is
/// consumed to `CRLF.CRLF` so that the session stays in step with the client.
///
/// ```
/// use postern_smtp::{BareLinePolicy, DataDecoder, DataStatus, Limits};
/// let mut dec = DataDecoder::new(&Limits::default(), BareLinePolicy::Reject);
/// let mut input: &[u8] = b"Subject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n";
/// let mut body = Vec::new();
/// loop {
///     let step = dec.step(input);
///     body.extend_from_slice(step.content);
///     input = &input[step.consumed..];
///     if let DataStatus::Done(result) = step.status {
///         assert_eq!(result, Ok(21));
///         break;
///     }
/// }
/// assert_eq!(body, b"Subject: hi\r\n\r\n.dot\r\n");
/// assert_eq!(input, b"QUIT\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct DataDecoder {
    /// Largest content accepted, in octets.
    max_size: u64,
    /// Longest line, in octets counting the CRLF.
    max_line: usize,
    policy: BareLinePolicy,
    state: State,
    /// Content octets produced so far.
    size: u64,
    /// Text octets (without the line ending) of the current line so far.
    line_len: usize,
    /// The first reason to refuse the message; once set, no more content is produced.
    error: Option<DataError>,
}

/// A run of content being gathered in one step: `input[start..end]`.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    end: usize,
}

impl Run {
    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Adds `n` admitted octets at `pos`. A non-empty run not ending at `pos` means
    /// delivery stopped because of an error, and `n` is then 0.
    fn extend(&mut self, pos: usize, n: usize) {
        if self.is_empty() {
            *self = Run {
                start: pos,
                end: pos,
            };
        }
        self.end += n;
    }
}

/// The shortest line limit (counting the CRLF) for which [`data_scan::clean_run`] is
/// used: two LFs in one of its 64-octet windows are then always close enough. Below it
/// the line-by-line path does all the work.
const MIN_SCAN_LINE: usize = 64;

impl DataDecoder {
    /// A decoder using `limits.max_message_size` and `limits.max_data_line`.
    pub fn new(limits: &Limits, policy: BareLinePolicy) -> Self {
        DataDecoder {
            max_size: limits.max_message_size,
            max_line: limits.max_data_line,
            policy,
            state: State::LineStart { hard: true },
            size: 0,
            line_len: 0,
            error: None,
        }
    }

    /// Lowers (or raises) the size limit for this message, e.g. to a per-domain maximum.
    pub fn set_max_size(&mut self, max: u64) {
        self.max_size = max;
    }

    /// Content octets produced so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// True once `CRLF.CRLF` has been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from the start of `input`; see the type's documentation.
    pub fn step<'i>(&mut self, input: &'i [u8]) -> DataStep<'i> {
        self.step_with(input, None)
    }

    /// Decodes as much of `input` as belongs to the body, appending the content to `out`:
    /// the same as calling [`DataDecoder::step`] until it reports [`DataStatus::Done`] or
    /// has consumed all of `input`, appending each step's content to `out` — same content,
    /// same limits and errors, same end — but in one call, with `out` reserved once, and
    /// the clean lines copied in the same pass that checks them (no second pass over the
    /// input). Returns how many octets of `input` were consumed (octets after the end of
    /// data belong to the next command) and the status of the last step.
    ///
    /// `step` is called at least once, so on empty input the status is that of a step on
    /// empty input. `out` grows by at most the remaining size limit at once, plus a CRLF.
    ///
    /// ```
    /// use postern_smtp::{BareLinePolicy, DataDecoder, DataStatus, Limits};
    /// let mut dec = DataDecoder::new(&Limits::default(), BareLinePolicy::Reject);
    /// let mut body = Vec::new();
    /// // The body arrives in two reads; the second holds the end and the next command.
    /// let (n, status) = dec.decode_into(b"Subject: hi\r\n\r\n..do", &mut body);
    /// assert_eq!((n, status), (19, DataStatus::More));
    /// let (n, status) = dec.decode_into(b"t\r\n.\r\nQUIT\r\n", &mut body);
    /// assert_eq!((n, status), (6, DataStatus::Done(Ok(21))));
    /// assert_eq!(body, b"Subject: hi\r\n\r\n.dot\r\n");
    /// ```
    pub fn decode_into(&mut self, input: &[u8], out: &mut Vec<u8>) -> (usize, DataStatus) {
        if self.error.is_none() {
            let room =
                usize::try_from(self.max_size.saturating_sub(self.size)).unwrap_or(usize::MAX);
            out.reserve(input.len().min(room).saturating_add(2));
        }
        let mut pos = 0;
        loop {
            let step = self.step_with(&input[pos..], Some(out));
            out.extend_from_slice(step.content);
            pos += step.consumed;
            if matches!(step.status, DataStatus::Done(_)) || pos == input.len() {
                return (pos, step.status);
            }
        }
    }

    /// [`DataDecoder::step`]; with `out`, the clean lines are appended to `out` as they
    /// are checked instead of joining the returned content (which then holds only what
    /// the slow path gathered after them).
    #[inline(always)]
    fn step_with<'i>(&mut self, input: &'i [u8], mut out: Option<&mut Vec<u8>>) -> DataStep<'i> {
        // Content gathered in this step is `input[run.start..run.end]`. While it is
        // non-empty it ends exactly at `pos`, or delivery has stopped because of an error.
        let mut pos = 0;
        let mut run = Run { start: 0, end: 0 };
        loop {
            let Some(&b) = input.get(pos) else {
                return self.step_result(input, pos, run);
            };
            match self.state {
                State::LineStart { hard } if b == b'.' => {
                    // The dot is dropped, which breaks the contiguous run.
                    if !run.is_empty() {
                        return self.step_result(input, pos, run);
                    }
                    pos += 1;
                    self.state = State::Dot { hard };
                }
                State::LineStart { .. } => self.state = State::Mid,
                State::Dot { hard } if b == b'\r' => {
                    pos += 1;
                    self.state = State::DotCr { hard };
                }
                // The dot was stuffing; the line goes on from here.
                State::Dot { .. } => self.state = State::Mid,
                State::DotCr { hard: true } if b == b'\n' => {
                    pos += 1;
                    self.state = State::Done;
                }
                State::DotCr { hard: false } if b == b'\n' => {
                    // `.` CRLF after a bare line ending: an empty line, not the end.
                    return self.line_end_held(pos + 1);
                }
                State::Cr if b == b'\n' => return self.line_end_held(pos + 1),
                // The CR before `b` was bare; `b` starts the next line.
                State::DotCr { .. } | State::Cr => {
                    if let Some(step) = self.bare_line(pos) {
                        return step;
                    }
                }
                State::Mid => {
                    if let Some(step) =
                        self.scan_line(input, &mut pos, &mut run, out.as_deref_mut())
                    {
                        return step;
                    }
                }
                // The status says Done; what follows is the next command's.
                State::Done => return self.step_result(input, pos, run),
            }
        }
    }

    /// Gathers line text up to the next CR or LF and handles the line ending there;
    /// returns a step when the run must be handed back before going on.
    #[inline(always)]
    fn scan_line<'i>(
        &mut self,
        input: &'i [u8],
        pos: &mut usize,
        run: &mut Run,
        out: Option<&mut Vec<u8>>,
    ) -> Option<DataStep<'i>> {
        let clean = match out {
            Some(out) if self.error.is_none() => {
                // The run so far ends at `pos` (no error): it goes first, then the clean
                // lines are appended as they are checked, and the run starts afresh.
                out.extend_from_slice(&input[run.start..run.end]);
                *run = Run {
                    start: *pos,
                    end: *pos,
                };
                self.clean_lines(input, *pos, Some(out))
            }
            Some(_) => 0,
            None => {
                let clean = self.clean_lines(input, *pos, None);
                run.extend(*pos, clean);
                clean
            }
        };
        if clean > 0 {
            *pos += clean;
            return None;
        }
        let rest = &input[*pos..];
        let Some(i) = memchr::memchr2(b'\r', b'\n', rest) else {
            self.gather(run, *pos, rest.len(), true);
            *pos = input.len();
            return None;
        };
        self.gather(run, *pos, i, true);
        *pos += i;
        let bare = match (input[*pos], input.get(*pos + 1)) {
            (b'\r', Some(b'\n')) => {
                self.gather(run, *pos, 2, false);
                *pos += 2;
                self.state = State::LineStart { hard: true };
                self.line_len = 0;
                return None;
            }
            (b'\r', None) => {
                // Hold the CR back: the next chunk tells a CRLF from a bare CR.
                *pos += 1;
                self.state = State::Cr;
                return Some(self.step_result(input, *pos, *run));
            }
            _ => *pos,
        };
        let delivering = self.policy == BareLinePolicy::Normalize && self.error.is_none();
        if delivering && !run.is_empty() {
            // The CRLF this becomes cannot join the run: hand the run back first.
            return Some(self.step_result(input, bare, *run));
        }
        *pos += 1;
        self.bare_line(*pos)
    }

    /// The octet before `consumed` (or before the octet at `consumed`, for a held CR) was
    /// a bare LF or CR: refuses the message or delivers a CRLF for it, and moves to a
    /// line start that cannot end the data.
    fn bare_line(&mut self, consumed: usize) -> Option<DataStep<'static>> {
        match self.policy {
            BareLinePolicy::Reject => {
                self.fail(DataError::BareLineEnding);
                self.state = State::LineStart { hard: false };
                None
            }
            BareLinePolicy::Normalize => {
                let step = self.line_end_held(consumed);
                self.state = State::LineStart { hard: false };
                (!step.content.is_empty()).then_some(step)
            }
        }
    }

    /// Ends the line with a CRLF that is not a run of the input (held over from an
    /// earlier chunk, or standing for a bare line ending), and moves to a line start.
    fn line_end_held(&mut self, consumed: usize) -> DataStep<'static> {
        let n = self.admit(2, false);
        self.state = State::LineStart { hard: true };
        self.line_len = 0;
        DataStep {
            consumed,
            content: &CRLF[..n],
            status: DataStatus::More,
        }
    }

    /// The fast path for the common case: the length of the run of complete lines from
    /// `start` (the first one maybe begun earlier) that end in CRLF, contain no other CR or
    /// LF, fit the line and size limits, and are not followed by a line starting with `.`.
    /// Those octets are admitted as content in one go, and the decoder is left at the
    /// start of the next line. Anything else is left to the octet-exact slow path.
    ///
    /// After the first line it scans 64-octet windows ([`data_scan::clean_run`]) to the
    /// last line end before the first octet that breaks a rule; from there, up to just past
    /// that octet, it walks line by line (one memchr2 per line), then tries windows again.
    ///
    /// With `out`, the octets admitted are appended to `out` (the windows copy theirs as
    /// they scan them) instead of being left for the caller to take from the input.
    #[inline(always)]
    fn clean_lines(&mut self, input: &[u8], start: usize, mut out: Option<&mut Vec<u8>>) -> usize {
        if self.error.is_some() {
            return 0;
        }
        let room = usize::try_from(self.max_size.saturating_sub(self.size)).unwrap_or(usize::MAX);
        let hay = &input[..start + room.min(input.len() - start)];
        let max_text = self.max_line.saturating_sub(2);
        let scan = self.max_line >= MIN_SCAN_LINE;
        let (mut pos, mut line_len) = (start, self.line_len);
        let mut lines_until = 0;
        // With `out`: `hay[start..copied]` has been appended to it.
        let mut copied = start;
        loop {
            // Past the first line, `hay[pos - 1]` is the LF of a CRLF this loop checked.
            if pos > start && pos >= lines_until && scan {
                let run = match out.as_deref_mut() {
                    Some(out) => {
                        out.extend_from_slice(&hay[copied..pos]);
                        let run = data_scan::clean_run_into(hay, pos, self.max_line, out);
                        copied = run.end;
                        run
                    }
                    None => data_scan::clean_run(hay, pos, self.max_line),
                };
                pos = run.end;
                if hay.get(pos) == Some(&b'.') {
                    break;
                }
                // From here to just past where the windows stopped goes line by line.
                lines_until = run.stop + 1;
            }
            let Some(i) = memchr::memchr2(b'\r', b'\n', &hay[pos..]) else {
                break;
            };
            let cr = pos + i;
            if hay[cr] != b'\r' || hay.get(cr + 1) != Some(&b'\n') || line_len + i > max_text {
                break;
            }
            pos = cr + 2;
            line_len = 0;
            if hay.get(pos) == Some(&b'.') {
                break;
            }
        }
        if let Some(out) = out {
            out.extend_from_slice(&hay[copied..pos]);
        }
        if pos > start {
            self.size += (pos - start) as u64;
            self.line_len = 0;
            self.state = State::LineStart { hard: true };
        }
        pos - start
    }

    /// Adds the `n` input octets at `pos` to the run, as far as the limits allow.
    fn gather(&mut self, run: &mut Run, pos: usize, n: usize, text: bool) {
        let n = self.admit(n, text);
        run.extend(pos, n);
    }

    /// How many of the next `n` content octets may be delivered; records the first error
    /// when a limit is exceeded. `text` octets count toward the line length.
    fn admit(&mut self, n: usize, text: bool) -> usize {
        if self.error.is_some() {
            return 0;
        }
        let size_room =
            usize::try_from(self.max_size.saturating_sub(self.size)).unwrap_or(usize::MAX);
        let line_room = if text {
            self.max_line
                .saturating_sub(2)
                .saturating_sub(self.line_len)
        } else {
            usize::MAX
        };
        let ok = n.min(size_room).min(line_room);
        if text {
            self.line_len += ok;
        }
        self.size += ok as u64;
        if ok < n {
            self.fail(if line_room <= size_room {
                DataError::LineTooLong {
                    limit: self.max_line,
                }
            } else {
                DataError::TooLarge {
                    limit: self.max_size,
                }
            });
        }
        ok
    }

    /// Records `error` unless an earlier one is already recorded.
    fn fail(&mut self, error: DataError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    /// The step handing back `run`, with the status the decoder is in.
    fn step_result<'i>(&self, input: &'i [u8], consumed: usize, run: Run) -> DataStep<'i> {
        let status = match (self.state, &self.error) {
            (State::Done, Some(e)) => DataStatus::Done(Err(e.clone())),
            (State::Done, None) => DataStatus::Done(Ok(self.size)),
            _ => DataStatus::More,
        };
        DataStep {
            consumed,
            content: &input[run.start..run.end],
            status,
        }
    }
}

/// Outbound DATA encoder: turns message bytes into DATA framing — bare LF and bare CR
/// become CRLF, lines starting with `.` are dot-stuffed — and writes the final `.CRLF`.
///
/// ```
/// use postern_smtp::DataEncoder;
/// let mut enc = DataEncoder::new();
/// let mut out = Vec::new();
/// enc.encode(b"Subject: x\n\n.hidden\r", &mut out);
/// enc.encode(b"\nlast", &mut out);
/// enc.finish(&mut out);
/// assert_eq!(out, b"Subject: x\r\n\r\n..hidden\r\nlast\r\n.\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct DataEncoder {
    /// The next octet starts a line (so a `.` there must be doubled).
    at_line_start: bool,
    /// The previous piece ended with a CR whose partner LF may start this one.
    pending_cr: bool,
}

impl Default for DataEncoder {
    fn default() -> Self {
        DataEncoder {
            at_line_start: true,
            pending_cr: false,
        }
    }
}

impl DataEncoder {
    /// A fresh encoder at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Encodes the next piece of the message, appending to `out`. Pieces may split lines
    /// and CRLF pairs anywhere.
    ///
    /// Lines that already end in CRLF and do not start with `.` (nearly all of a message)
    /// go over in runs: from each line start after an LF, the DATA decoder's 64-octet
    /// window scan finds how far such lines go and copies them in the same pass, and only
    /// the line that ends a run is taken line by line.
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + input.len() / 64 + 4);
        let mut pos = 0;
        if self.pending_cr && !input.is_empty() {
            // CR at the end of the last piece: CRLF if this one starts with LF, else bare.
            self.pending_cr = false;
            if input[0] == b'\n' {
                pos = 1;
            }
            self.end_line(out);
        }
        // Where the last window scan stopped looking: line by line up to there, so that a
        // run of irregular lines is not scanned again for each of them.
        let mut scanned = 0;
        while pos < input.len() {
            if self.at_line_start
                && pos >= scanned
                && pos > 0
                && input[pos - 1] == b'\n'
                && input[pos] != b'.'
            {
                let run = data_scan::clean_run_into(input, pos, usize::MAX, out);
                scanned = run.stop;
                if run.end > pos {
                    pos = run.end;
                    continue;
                }
            }
            pos = self.encode_line(input, pos, out);
        }
    }

    /// Encodes `input[pos..]` up to and including its first line end (or to its end);
    /// returns where it stopped.
    fn encode_line(&mut self, input: &[u8], pos: usize, out: &mut Vec<u8>) -> usize {
        let rest = &input[pos..];
        if self.at_line_start && rest[0] == b'.' {
            out.push(b'.');
        }
        self.at_line_start = false;
        let Some(i) = memchr::memchr2(b'\r', b'\n', rest) else {
            out.extend_from_slice(rest);
            return input.len();
        };
        out.extend_from_slice(&rest[..i]);
        let used = match (rest[i], rest.get(i + 1)) {
            (b'\r', None) => {
                self.pending_cr = true;
                return input.len();
            }
            (b'\r', Some(b'\n')) => i + 2,
            _ => i + 1,
        };
        self.end_line(out);
        pos + used
    }

    /// Ends the message: a CRLF if the last line lacked one, then `.CRLF`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr || !self.at_line_start {
            out.extend_from_slice(CRLF);
        }
        out.extend_from_slice(b".\r\n");
        *self = DataEncoder::default();
    }

    fn end_line(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(CRLF);
        self.at_line_start = true;
    }
}

/// Appends one BDAT chunk: `BDAT <len>[ LAST]CRLF` followed by `chunk` verbatim.
///
/// ```
/// let mut out = Vec::new();
/// postern_smtp::write_bdat(b"hello", true, &mut out);
/// assert_eq!(out, b"BDAT 5 LAST\r\nhello");
/// ```
pub fn write_bdat(chunk: &[u8], last: bool, out: &mut Vec<u8>) {
    out.reserve(chunk.len() + 32);
    let _ = write!(out, "BDAT {}", chunk.len());
    if last {
        out.extend_from_slice(b" LAST");
    }
    out.extend_from_slice(CRLF);
    out.extend_from_slice(chunk);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a decoder run produced: the content, and where and how it ended.
    #[derive(Debug, PartialEq, Eq)]
    struct Outcome {
        content: Vec<u8>,
        /// Number of `Done` statuses seen (must never exceed 1).
        dones: usize,
        /// The final status, and the input consumed up to it.
        status: DataStatus,
        consumed: usize,
    }

    fn limits(max_size: u64, max_line: usize) -> Limits {
        Limits {
            max_message_size: max_size,
            max_data_line: max_line,
            ..Limits::default()
        }
    }

    /// Feeds `input` split at `cuts` (sorted positions), stepping each chunk until it is
    /// consumed or the data ends.
    fn decode_split(dec: &mut DataDecoder, input: &[u8], cuts: &[usize]) -> Outcome {
        let mut out = Outcome {
            content: Vec::new(),
            dones: 0,
            status: DataStatus::More,
            consumed: 0,
        };
        let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
        bounds.push(input.len());
        let mut start = 0;
        for end in bounds {
            if end < start {
                continue;
            }
            let mut chunk = &input[start..end];
            let mut idle = 0;
            while !chunk.is_empty() && out.dones == 0 {
                let step = dec.step(chunk);
                assert!(step.consumed <= chunk.len());
                if step.consumed == 0 && step.content.is_empty() {
                    idle += 1;
                    assert!(idle < 2, "no progress at {}", out.consumed);
                } else {
                    idle = 0;
                }
                out.content.extend_from_slice(step.content);
                out.consumed += step.consumed;
                chunk = &chunk[step.consumed..];
                if let DataStatus::Done(_) = step.status {
                    out.dones += 1;
                    out.status = step.status;
                }
            }
            start = end;
            if out.dones > 0 {
                break;
            }
        }
        out
    }

    fn decode_with(input: &[u8], cuts: &[usize], policy: BareLinePolicy, l: &Limits) -> Outcome {
        decode_split(&mut DataDecoder::new(l, policy), input, cuts)
    }

    fn decode(input: &[u8], policy: BareLinePolicy) -> Outcome {
        decode_with(input, &[], policy, &Limits::default())
    }

    /// A deliberately naive, octet-at-a-time model of the decoder's contract, used as the
    /// oracle for the property tests.
    fn model(input: &[u8], policy: BareLinePolicy, l: &Limits) -> Outcome {
        struct Sink<'a> {
            l: &'a Limits,
            out: Vec<u8>,
            err: Option<DataError>,
            line: usize,
        }
        impl Sink<'_> {
            fn push(&mut self, b: u8, text: bool) {
                if self.err.is_some() {
                    return;
                }
                if text && self.line + 1 > self.l.max_data_line.saturating_sub(2) {
                    self.err = Some(DataError::LineTooLong {
                        limit: self.l.max_data_line,
                    });
                } else if self.out.len() as u64 + 1 > self.l.max_message_size {
                    self.err = Some(DataError::TooLarge {
                        limit: self.l.max_message_size,
                    });
                } else {
                    self.out.push(b);
                    self.line += usize::from(text);
                }
            }
            fn crlf(&mut self) {
                self.push(b'\r', false);
                self.push(b'\n', false);
                self.line = 0;
            }
        }
        let mut s = Sink {
            l,
            out: Vec::new(),
            err: None,
            line: 0,
        };
        let (mut i, mut hard) = (0, true);
        let more = |s: Sink, i: usize| Outcome {
            content: s.out,
            dones: 0,
            status: DataStatus::More,
            consumed: i,
        };
        loop {
            if i == input.len() {
                return more(s, i);
            }
            if input[i] == b'.' {
                if hard && input[i + 1..].starts_with(b"\r\n") {
                    let size = s.out.len() as u64;
                    return Outcome {
                        status: DataStatus::Done(s.err.map_or(Ok(size), Err)),
                        content: s.out,
                        dones: 1,
                        consumed: i + 3,
                    };
                }
                i += 1;
            }
            while i < input.len() && input[i] != b'\r' && input[i] != b'\n' {
                s.push(input[i], true);
                i += 1;
            }
            match (input.get(i), input.get(i + 1)) {
                (None, _) | (Some(b'\r'), None) => return more(s, input.len()),
                (Some(b'\r'), Some(b'\n')) => {
                    s.crlf();
                    hard = true;
                    i += 2;
                }
                _ => {
                    match policy {
                        BareLinePolicy::Reject => {
                            if s.err.is_none() {
                                s.err = Some(DataError::BareLineEnding);
                            }
                        }
                        BareLinePolicy::Normalize => s.crlf(),
                    }
                    hard = false;
                    i += 1;
                }
            }
        }
    }

    const SMUGGLE: &[&[u8]] = &[b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r\n.\r"];

    /// A message carrying a smuggling sequence, followed by a smuggled transaction, the
    /// real end, and the next command.
    fn smuggled(seq: &[u8]) -> Vec<u8> {
        let mut v = b"Subject: hi\r\n\r\nhello".to_vec();
        v.extend_from_slice(seq);
        v.extend_from_slice(b"MAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\n\r\nforged\r\n");
        v.extend_from_slice(b".\r\nQUIT\r\n");
        v
    }

    #[test]
    fn plain_body_with_dot_stuffing() {
        let o = decode(
            b"a\r\n..b\r\n.c\r\n...\r\n.\r\nNOOP\r\n",
            BareLinePolicy::Reject,
        );
        assert_eq!(o.content, b"a\r\n.b\r\nc\r\n..\r\n");
        assert_eq!(o.status, DataStatus::Done(Ok(14)));
        assert_eq!(o.consumed, 20);
    }

    #[test]
    fn empty_message_is_size_zero() {
        let o = decode(b".\r\nQUIT\r\n", BareLinePolicy::Reject);
        assert_eq!(o.content, b"");
        assert_eq!(o.status, DataStatus::Done(Ok(0)));
        assert_eq!(o.consumed, 3);
    }

    #[test]
    fn content_includes_the_last_line_crlf() {
        let o = decode(b"x\r\n.\r\n", BareLinePolicy::Reject);
        assert_eq!(o.content, b"x\r\n");
        assert_eq!(o.status, DataStatus::Done(Ok(3)));
    }

    #[test]
    fn steps_after_done_consume_nothing() {
        let mut dec = DataDecoder::new(&Limits::default(), BareLinePolicy::Reject);
        let step = dec.step(b".\r\nRSET\r\n");
        assert_eq!(step.consumed, 3);
        assert!(dec.is_done());
        let again = dec.step(b"RSET\r\n");
        assert_eq!(again.consumed, 0);
        assert_eq!(again.status, DataStatus::Done(Ok(0)));
    }

    #[test]
    fn dot_line_end_must_follow_a_line_start() {
        // ".\r\n" in the middle of a line is content.
        let o = decode(b"a.\r\nb\r\n.\r\n", BareLinePolicy::Reject);
        assert_eq!(o.content, b"a.\r\nb\r\n");
        assert_eq!(o.status, DataStatus::Done(Ok(7)));
    }

    #[test]
    fn smuggling_sequences_never_end_data_under_reject() {
        for seq in SMUGGLE {
            let input = smuggled(seq);
            let expected_end = input.len() - b"QUIT\r\n".len();
            for cuts in [vec![], (1..input.len()).collect::<Vec<_>>()] {
                let o = decode_with(&input, &cuts, BareLinePolicy::Reject, &Limits::default());
                assert_eq!(o.dones, 1, "{seq:?}");
                assert_eq!(o.consumed, expected_end, "{seq:?}");
                assert_eq!(o.status, DataStatus::Done(Err(DataError::BareLineEnding)));
                // Nothing after the bare line ending was delivered.
                assert!(!o.content.windows(4).any(|w| w == b"MAIL"), "{seq:?}");
                assert!(
                    o.content.starts_with(b"Subject: hi\r\n\r\nhello"),
                    "{seq:?}"
                );
            }
        }
    }

    #[test]
    fn smuggling_sequences_never_end_data_under_normalize() {
        for seq in SMUGGLE {
            let input = smuggled(seq);
            let expected_end = input.len() - b"QUIT\r\n".len();
            for cuts in [vec![], (1..input.len()).collect::<Vec<_>>()] {
                let o = decode_with(&input, &cuts, BareLinePolicy::Normalize, &Limits::default());
                assert_eq!(o.dones, 1, "{seq:?}");
                assert_eq!(o.consumed, expected_end, "{seq:?}");
                let DataStatus::Done(Ok(size)) = o.status else {
                    panic!("{seq:?}: {:?}", o.status)
                };
                assert_eq!(size, o.content.len() as u64);
                // The smuggled commands are content, and every line ends with CRLF.
                assert!(o.content.windows(4).any(|w| w == b"MAIL"), "{seq:?}");
                assert!(o.content.ends_with(b"forged\r\n"));
                assert_no_bare_line_endings(&o.content);
            }
        }
    }

    #[test]
    fn normalize_delivers_bare_lf_and_cr_as_crlf() {
        let o = decode(
            b"a\nb\rc\r\r\nd\n..e\n.\r\n.\r\n",
            BareLinePolicy::Normalize,
        );
        // "..e" after a bare LF is unstuffed; ".\r\n" after a bare LF is an empty line.
        assert_eq!(o.content, b"a\r\nb\r\nc\r\n\r\nd\r\n.e\r\n\r\n");
        assert_eq!(o.status, DataStatus::Done(Ok(o.content.len() as u64)));
    }

    #[test]
    fn reject_delivers_content_only_up_to_the_bare_lf() {
        let o = decode(b"good\r\nbad\nmore\r\n.\r\n", BareLinePolicy::Reject);
        assert_eq!(o.content, b"good\r\nbad");
        assert_eq!(o.status, DataStatus::Done(Err(DataError::BareLineEnding)));
    }

    #[test]
    fn stray_cr_among_clean_lines_is_found() {
        let input = b"aaa\r\nbb\r\nb\rc\r\nddd\r\n.\r\n";
        let o = decode(input, BareLinePolicy::Reject);
        assert_eq!(o.content, b"aaa\r\nbb\r\nb");
        assert_eq!(o.status, DataStatus::Done(Err(DataError::BareLineEnding)));
        let o = decode(input, BareLinePolicy::Normalize);
        assert_eq!(o.content, b"aaa\r\nbb\r\nb\r\nc\r\nddd\r\n");
        assert_eq!(o.consumed, input.len());
    }

    #[test]
    fn held_cr_across_chunks_is_a_crlf() {
        let mut dec = DataDecoder::new(&Limits::default(), BareLinePolicy::Reject);
        let s = dec.step(b"abc\r");
        assert_eq!((s.consumed, s.content), (4, &b"abc"[..]));
        let s = dec.step(b"\n.\r\n");
        assert_eq!((s.consumed, s.content), (1, &b"\r\n"[..]));
        let s = dec.step(b".\r\n");
        assert_eq!(s.consumed, 3);
        assert_eq!(s.status, DataStatus::Done(Ok(5)));
    }

    #[test]
    fn held_bare_cr_under_normalize_yields_crlf_without_consuming() {
        let mut dec = DataDecoder::new(&Limits::default(), BareLinePolicy::Normalize);
        assert_eq!(dec.step(b"a\r").consumed, 2);
        let s = dec.step(b"b\r\n.\r\n");
        assert_eq!((s.consumed, s.content), (0, &b"\r\n"[..]));
        let s = dec.step(b"b\r\n.\r\n");
        assert_eq!((s.consumed, s.content), (3, &b"b\r\n"[..]));
    }

    #[test]
    fn size_limit_is_enforced_mid_stream() {
        let l = limits(10, 1000);
        let mut input = b"0123456789abcdef\r\n".repeat(1000);
        input.extend_from_slice(b".\r\nQUIT\r\n");
        for cuts in [vec![], vec![5], vec![9, 10, 11, 17, 18, 19]] {
            let o = decode_with(&input, &cuts, BareLinePolicy::Reject, &l);
            assert_eq!(o.content, b"0123456789");
            assert_eq!(
                o.status,
                DataStatus::Done(Err(DataError::TooLarge { limit: 10 }))
            );
            assert_eq!(o.consumed, input.len() - 6);
        }
        // The first step already stops delivering: the limit does not wait for the end.
        let mut dec = DataDecoder::new(&l, BareLinePolicy::Reject);
        let s = dec.step(&input[..1000]);
        assert_eq!((s.consumed, s.content.len()), (1000, 10));
        assert_eq!(dec.size(), 10);
    }

    #[test]
    fn size_exactly_at_the_limit_is_accepted() {
        let o = decode_with(
            b"12345678\r\n.\r\n",
            &[],
            BareLinePolicy::Reject,
            &limits(10, 1000),
        );
        assert_eq!(o.status, DataStatus::Done(Ok(10)));
        let o = decode_with(
            b"123456789\r\n.\r\n",
            &[],
            BareLinePolicy::Reject,
            &limits(10, 1000),
        );
        assert_eq!(o.content, b"123456789\r");
        assert_eq!(
            o.status,
            DataStatus::Done(Err(DataError::TooLarge { limit: 10 }))
        );
    }

    #[test]
    fn set_max_size_overrides_the_limit() {
        let mut dec = DataDecoder::new(&Limits::default(), BareLinePolicy::Reject);
        dec.set_max_size(3);
        let o = decode_split(&mut dec, b"abcd\r\n.\r\n", &[]);
        assert_eq!(
            o.status,
            DataStatus::Done(Err(DataError::TooLarge { limit: 3 }))
        );
    }

    #[test]
    fn line_limit_counts_crlf_and_not_the_stuffed_dot() {
        let ok = [b".".repeat(999), b"\r\n.\r\n".to_vec()].concat();
        let o = decode(&ok, BareLinePolicy::Reject);
        assert_eq!(o.status, DataStatus::Done(Ok(1000)));
        let long = [b"x".repeat(999), b"\r\n.\r\n".to_vec()].concat();
        let o = decode(&long, BareLinePolicy::Reject);
        assert_eq!(
            o.status,
            DataStatus::Done(Err(DataError::LineTooLong { limit: 1000 }))
        );
        assert_eq!(o.content.len(), 998);
    }

    #[test]
    fn line_limit_is_enforced_mid_stream() {
        let mut dec = DataDecoder::new(&Limits::default(), BareLinePolicy::Reject);
        let long = b"y".repeat(100_000);
        let s = dec.step(&long);
        assert_eq!((s.consumed, s.content.len()), (100_000, 998));
        let s = dec.step(b"\r\nnext\r\n.\r\n");
        assert_eq!(s.content, b"");
        let o = decode_split(&mut dec, b"\r\nnext\r\n.\r\n", &[]);
        assert_eq!(
            o.status,
            DataStatus::Done(Err(DataError::LineTooLong { limit: 1000 }))
        );
    }

    #[test]
    fn errors_map_to_replies() {
        let r = DataError::TooLarge { limit: 5 }.reply();
        assert_eq!(
            (r.code, r.enhanced),
            (552, Some(EnhancedCode::new(5, 3, 4)))
        );
        let r = DataError::BareLineEnding.reply();
        assert_eq!(
            (r.code, r.enhanced),
            (550, Some(EnhancedCode::new(5, 5, 2)))
        );
        assert!(r.text().contains("bare LF"), "{r}");
        let r = DataError::LineTooLong { limit: 1000 }.reply();
        assert_eq!(
            (r.code, r.enhanced),
            (500, Some(EnhancedCode::new(5, 5, 6)))
        );
        assert!(r.text().contains("1000"));
    }

    /// The encoder line by line, as it was before the window scan: the reference.
    fn encode_reference(pieces: &[&[u8]]) -> Vec<u8> {
        let (mut out, mut at_line_start, mut pending_cr) = (Vec::new(), true, false);
        for &piece in pieces {
            let mut input = piece;
            if pending_cr && !input.is_empty() {
                pending_cr = false;
                if input[0] == b'\n' {
                    input = &input[1..];
                }
                out.extend_from_slice(CRLF);
                at_line_start = true;
            }
            while !input.is_empty() {
                if at_line_start && input[0] == b'.' {
                    out.push(b'.');
                }
                at_line_start = false;
                let Some(i) = input.iter().position(|&c| c == b'\r' || c == b'\n') else {
                    out.extend_from_slice(input);
                    break;
                };
                out.extend_from_slice(&input[..i]);
                match (input[i], input.get(i + 1)) {
                    (b'\r', None) => {
                        pending_cr = true;
                        break;
                    }
                    (b'\r', Some(b'\n')) => input = &input[i + 2..],
                    _ => input = &input[i + 1..],
                }
                out.extend_from_slice(CRLF);
                at_line_start = true;
            }
        }
        if pending_cr || !at_line_start {
            out.extend_from_slice(CRLF);
        }
        out.extend_from_slice(b".\r\n");
        out
    }

    /// `x` cut at `cuts` (any order, clamped to its length) into consecutive pieces.
    fn cut_at(x: &[u8], mut cuts: Vec<usize>) -> Vec<&[u8]> {
        cuts.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for c in cuts.iter().map(|&c| c.min(x.len())).chain([x.len()]) {
            pieces.push(&x[start..c]);
            start = c;
        }
        pieces
    }

    fn encode_pieces(pieces: &[&[u8]]) -> Vec<u8> {
        let mut enc = DataEncoder::new();
        let mut out = Vec::new();
        for p in pieces {
            enc.encode(p, &mut out);
        }
        enc.finish(&mut out);
        out
    }

    #[test]
    fn encoder_normalises_and_stuffs() {
        assert_eq!(encode_pieces(&[]), b".\r\n");
        assert_eq!(encode_pieces(&[b"a\r\n"]), b"a\r\n.\r\n");
        assert_eq!(encode_pieces(&[b"a"]), b"a\r\n.\r\n");
        assert_eq!(
            encode_pieces(&[b".\n.\r.\r\n."]),
            b"..\r\n..\r\n..\r\n..\r\n.\r\n"
        );
        assert_eq!(encode_pieces(&[b"a\r", b"\n", b".b"]), b"a\r\n..b\r\n.\r\n");
        assert_eq!(encode_pieces(&[b"a\r", b"b"]), b"a\r\nb\r\n.\r\n");
        assert_eq!(encode_pieces(&[b"a\r", b"", b"\nb"]), b"a\r\nb\r\n.\r\n");
        assert_eq!(encode_pieces(&[b"a\r"]), b"a\r\n.\r\n");
        assert_eq!(encode_pieces(&[b"a\n", b".", b"."]), b"a\r\n...\r\n.\r\n");
        assert_eq!(encode_pieces(&[b"\r\r\n\n"]), b"\r\n\r\n\r\n.\r\n");
    }

    #[test]
    fn bdat_chunks() {
        let mut out = Vec::new();
        write_bdat(b"abc", false, &mut out);
        write_bdat(b"", true, &mut out);
        assert_eq!(out, b"BDAT 3\r\nabcBDAT 0 LAST\r\n");
    }

    fn assert_no_bare_line_endings(v: &[u8]) {
        for (i, &b) in v.iter().enumerate() {
            match b {
                b'\r' => assert_eq!(v.get(i + 1), Some(&b'\n'), "bare CR at {i}"),
                b'\n' => assert_eq!(
                    i.checked_sub(1).map(|j| v[j]),
                    Some(b'\r'),
                    "bare LF at {i}"
                ),
                _ => {}
            }
        }
    }

    /// The content DATA framing should carry for `x`: every CRLF, bare CR and bare LF as
    /// CRLF, and a final CRLF when `x` does not end with a line ending.
    fn normalised(x: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < x.len() {
            match x[i] {
                b'\r' if x.get(i + 1) == Some(&b'\n') => {
                    out.extend_from_slice(b"\r\n");
                    i += 1;
                }
                b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
                b => out.push(b),
            }
            i += 1;
        }
        if !out.is_empty() && !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// Bodies rich in what matters to the framing: dots at line starts, CR, LF, CRLF,
    /// end markers, and long lines.
    fn body() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"\r\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b".".to_vec()),
            Just(b"..".to_vec()),
            Just(b"\r\n.\r\n".to_vec()),
            Just(b"\r\n.".to_vec()),
            "[a-z ]{1,12}".prop_map(String::into_bytes),
            (0usize..1200).prop_map(|n| vec![b'x'; n]),
            any::<u8>().prop_map(|b| vec![b]),
        ];
        prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    /// Bodies of many CRLF lines of any length up to a few hundred octets, now and then
    /// with a defect (bare LF or CR, a dot-stuffed or lone-dot line, an overlong line,
    /// the end marker): long clean stretches for the block-wise fast path, and defects at
    /// every offset of a block.
    fn line_body() -> impl Strategy<Value = Vec<u8>> {
        let line = prop_oneof![
            8 => (0usize..120).prop_map(|n| {
                let mut l: Vec<u8> = (0..n).map(|i| b"abc xyz.0\x80"[i % 10]).collect();
                l.extend_from_slice(b"\r\n");
                l
            }),
            1 => prop_oneof![
                Just(b"a\nb\r\n".to_vec()),
                Just(b"a\rb\r\n".to_vec()),
                Just(b"\n".to_vec()),
                Just(b"\r".to_vec()),
                Just(b".x\r\n".to_vec()),
                Just(b".\r\n".to_vec()),
                (250usize..400).prop_map(|n| [vec![b'y'; n], b"\r\n".to_vec()].concat()),
            ],
        ];
        prop::collection::vec(line, 0..120).prop_map(|v| v.concat())
    }

    fn line_limits() -> impl Strategy<Value = Limits> {
        prop_oneof![
            Just(Limits::default()),
            (0u64..20_000, 60usize..400).prop_map(|(s, l)| limits(s, l)),
        ]
    }

    fn policy() -> impl Strategy<Value = BareLinePolicy> {
        prop_oneof![
            Just(BareLinePolicy::Reject),
            Just(BareLinePolicy::Normalize)
        ]
    }

    fn small_limits() -> impl Strategy<Value = Limits> {
        prop_oneof![
            Just(Limits::default()),
            (0u64..400, 0usize..40).prop_map(|(s, l)| limits(s, l)),
            (0u64..4000, 900usize..1100).prop_map(|(s, l)| limits(s, l)),
        ]
    }

    proptest! {
        #[test]
        fn decoder_matches_the_model_in_any_chunking(
            input in body(),
            cuts in prop::collection::vec(0usize..6000, 0..12),
            policy in policy(),
            l in small_limits(),
        ) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let whole = decode_with(&input, &[], policy, &l);
            let split = decode_with(&input, &cuts, policy, &l);
            prop_assert_eq!(&whole, &split);
            prop_assert_eq!(&whole, &model(&input, policy, &l));
            prop_assert!(whole.dones <= 1);
            if whole.dones == 0 {
                prop_assert_eq!(whole.consumed, input.len());
            }
            if policy == BareLinePolicy::Normalize || whole.status == DataStatus::Done(Ok(whole.content.len() as u64)) {
                assert_no_bare_line_endings(
                    whole.content.strip_suffix(b"\r").unwrap_or(&whole.content));
            }
        }

        /// The block-wise fast path gives what the octet-by-octet model gives, however
        /// the input is cut.
        #[test]
        fn block_path_matches_the_model(
            input in line_body(),
            cuts in prop::collection::vec(0usize..20_000, 0..6),
            policy in policy(),
            l in line_limits(),
        ) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let whole = decode_with(&input, &[], policy, &l);
            prop_assert_eq!(&whole, &decode_with(&input, &cuts, policy, &l));
            prop_assert_eq!(&whole, &model(&input, policy, &l));
        }

        /// `decode_into` gives exactly what `step` + `extend_from_slice` gives — content,
        /// consumed count and status of every call, and the decoder's state after it — on
        /// arbitrary input in any chunking, at several line and size limits, with content
        /// already in the buffer.
        #[test]
        fn decode_into_matches_step(
            input in prop_oneof![body(), line_body()],
            cuts in prop::collection::vec(0usize..20_000, 0..8),
            policy in policy(),
            l in prop_oneof![small_limits(), line_limits(),
                (64usize..300).prop_map(|n| limits(1 << 20, n)),
                Just(limits(1 << 20, 255)), Just(limits(1 << 20, 256))],
        ) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let (mut by_step, mut by_into) =
                (DataDecoder::new(&l, policy), DataDecoder::new(&l, policy));
            let (mut want, mut got) = (b"prefix".to_vec(), b"prefix".to_vec());
            let mut start = 0;
            for end in cuts.iter().map(|&c| c.min(input.len())).chain([input.len()]) {
                if end < start {
                    continue;
                }
                let chunk = &input[start..end];
                start = end;
                let mut pos = 0;
                let status = loop {
                    let step = by_step.step(&chunk[pos..]);
                    want.extend_from_slice(step.content);
                    pos += step.consumed;
                    if matches!(step.status, DataStatus::Done(_)) || pos == chunk.len() {
                        break step.status;
                    }
                };
                let (n, got_status) = by_into.decode_into(chunk, &mut got);
                prop_assert_eq!((n, &got_status), (pos, &status));
                prop_assert_eq!(&got, &want);
                prop_assert_eq!(by_into.size(), by_step.size());
                if matches!(status, DataStatus::Done(_)) {
                    break;
                }
            }
            let o = decode_with(&input, &cuts, policy, &l);
            prop_assert_eq!(&got[6..], &o.content[..]);
        }

        /// The encoder's window scan writes what the line-by-line encoder writes, on
        /// long bodies of mostly clean lines and on arbitrary octets, in any chunking.
        #[test]
        fn encoder_runs_match_the_line_by_line_encoder(
            x in prop_oneof![line_body(), body()],
            cuts in prop::collection::vec(0usize..20_000, 0..8),
        ) {
            let pieces = cut_at(&x, cuts);
            prop_assert_eq!(encode_pieces(&pieces), encode_reference(&pieces));
        }

        #[test]
        fn decode_of_encode_is_the_normalised_input(
            x in prop::collection::vec(
                prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), any::<u8>()], 0..600),
            cuts in prop::collection::vec(0usize..600, 0..8),
            policy in policy(),
        ) {
            let pieces = cut_at(&x, cuts);
            let wire = encode_pieces(&pieces);
            assert_no_bare_line_endings(&wire);
            prop_assert_eq!(&wire, &encode_pieces(&[&x]));
            let o = decode(&wire, policy);
            let expected = normalised(&x);
            prop_assert_eq!(o.status, DataStatus::Done(Ok(expected.len() as u64)));
            prop_assert_eq!(o.consumed, wire.len());
            prop_assert_eq!(o.content, expected);
        }
    }
}
