//! Retry policies: when to try a deferred recipient again, and when to give up.
//!
//! Three schedules, all driven by the caller's `now`:
//!
//! * [`RetrySchedule::Geometric`] — the Exchange IMS default: first retry after 60 min,
//!   each next interval 150 % of the previous one, 8 retries (1 h, 1.5 h, 2.25 h, 3.375 h, …).
//! * [`RetrySchedule::Intervals`] — an explicit list whose last entry repeats
//!   (`2m, 5m, 10m, 15m, 30m, 1h, 2h`).
//! * [`RetrySchedule::Exim`] — Exim-style rules (`F,2h,15m; G,16h,1h,1.5; F,4d,6h`): each rule
//!   applies until its cutoff, counted from the first failure; past the last cutoff the
//!   recipient fails.
//!
//! An optional jitter spreads retries by up to ± a percentage, derived from a caller-supplied
//! seed so the result stays deterministic (no random source inside the crate).
//!
//! # Policy strings
//!
//! ```text
//! policy   = schedule [ WS "jitter" WS percent "%" ]
//! schedule = "ims" [ "(" duration "," factor "," count ")" ]
//!          | "list(" duration *( "," duration ) ")"  |  duration *( "," duration )
//!          | rule *( ";" rule )
//! rule     = "F," duration "," duration  |  "G," duration "," duration "," factor
//! duration = 1*( digits ( "ms" / "s" / "m" / "h" / "d" / "w" ) )      e.g. 1h30m
//! ```
//!
//! ```
//! use postern_queue::RetryPolicy;
//! let p: RetryPolicy = "F,2h,15m; G,16h,1h,1.5; F,4d,6h jitter 10%".parse().unwrap();
//! assert_eq!(p.to_string(), "F,2h,15m; G,16h,1h,1.5; F,4d,6h jitter 10%");
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use nom::bytes::complete::{take_while, take_while_m_n};
use nom::combinator::{all_consuming, map_opt, map_res};
use nom::multi::fold;
use nom::{IResult, Parser};

use crate::time::{Timestamp, format_duration, millis};

/// Longest accepted policy string, in bytes.
pub const MAX_POLICY_LEN: usize = 4096;
/// Most intervals or rules in one policy.
pub const MAX_POLICY_ITEMS: usize = 64;
/// Longest accepted single duration (ten years).
pub const MAX_DURATION: Duration = Duration::from_secs(3650 * 86_400);
/// Largest jitter, in percent.
pub const MAX_JITTER_PERCENT: u8 = 50;
/// Largest geometric factor.
pub const MAX_FACTOR: f64 = 100.0;

/// One Exim-style retry rule.
#[derive(Debug, Clone, PartialEq)]
pub enum EximRule {
    /// `F,cutoff,interval`: fixed interval until `cutoff` after the first failure.
    Fixed {
        /// How long after the first failure this rule stops applying.
        cutoff: Duration,
        /// The interval between attempts.
        interval: Duration,
    },
    /// `G,cutoff,first,factor`: the interval starts at `first` and is multiplied by
    /// `factor` at each retry, until `cutoff` after the first failure.
    Geometric {
        /// How long after the first failure this rule stops applying.
        cutoff: Duration,
        /// The first (smallest) interval.
        first: Duration,
        /// The multiplier, at least 1.
        factor: f64,
    },
}

impl EximRule {
    fn cutoff(&self) -> Duration {
        match self {
            EximRule::Fixed { cutoff, .. } | EximRule::Geometric { cutoff, .. } => *cutoff,
        }
    }
}

/// The shape of a retry schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum RetrySchedule {
    /// `first`, then each interval `factor` times the previous, at most `max_retries` retries.
    Geometric {
        /// The first interval.
        first: Duration,
        /// The growth factor, at least 1.
        factor: f64,
        /// Retries after the first attempt before the recipient fails.
        max_retries: u32,
    },
    /// Explicit intervals; the last one repeats. No retry limit (the time-out ends it).
    Intervals(Vec<Duration>),
    /// Exim-style rules, cutoffs counted from the first failure.
    Exim(Vec<EximRule>),
}

/// A retry schedule plus an optional jitter.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The schedule.
    pub schedule: RetrySchedule,
    /// Jitter in percent (0..=50): each interval is scaled by a factor in
    /// `[1 - j/100, 1 + j/100]`, chosen from the seed passed to [`RetryPolicy::next_attempt`].
    pub jitter_percent: u8,
}

impl Default for RetryPolicy {
    /// The Exchange IMS default: 60 min, ×1.5, 8 retries, no jitter.
    fn default() -> Self {
        RetryPolicy::ims_default()
    }
}

/// What the policy says after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again at `at`; `gap` is the un-jittered interval (kept for geometric rules).
    RetryAt {
        /// When to try next; always after `now` and never after the expiry.
        at: Timestamp,
        /// The nominal interval that produced `at`.
        gap: Duration,
    },
    /// Stop trying; the recipient fails.
    GiveUp(GiveUpReason),
}

/// Why a policy gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GiveUpReason {
    /// The message time-out (per priority) has passed.
    Expired,
    /// The geometric schedule's retry count is used up.
    RetriesExhausted,
    /// Past the last Exim rule's cutoff.
    RulesExhausted,
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GiveUpReason::Expired => "message time-out expired",
            GiveUpReason::RetriesExhausted => "retry count exhausted",
            GiveUpReason::RulesExhausted => "past the last retry rule's cutoff",
        })
    }
}

/// The history a policy needs to place the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryInput {
    /// Failed attempts so far, including the one just reported (≥ 1).
    pub failures: u32,
    /// When the first failure happened.
    pub first_failure: Timestamp,
    /// The nominal interval used last time (zero before the first retry).
    pub last_gap: Duration,
    /// The time the recipient expires (arrival + time-out).
    pub expires: Timestamp,
    /// Seed for the jitter (for example a hash of queue id and recipient).
    pub seed: u64,
}

impl RetryPolicy {
    /// The Exchange IMS default: retry after 60 min, each next interval 150 %, 8 retries.
    pub fn ims_default() -> RetryPolicy {
        RetryPolicy {
            schedule: RetrySchedule::Geometric {
                first: Duration::from_secs(3600),
                factor: 1.5,
                max_retries: 8,
            },
            jitter_percent: 0,
        }
    }

    /// Decides the next attempt after a failure at `now`.
    ///
    /// The result is never at or before `now` and never after `input.expires`; once `now`
    /// reaches the expiry the answer is [`GiveUpReason::Expired`].
    pub fn next_attempt(&self, input: &RetryInput, now: Timestamp) -> RetryDecision {
        if now >= input.expires {
            return RetryDecision::GiveUp(GiveUpReason::Expired);
        }
        let gap = match self.nominal_gap(input, now) {
            Ok(gap) => gap,
            Err(reason) => return RetryDecision::GiveUp(reason),
        };
        let jittered = apply_jitter(gap, self.jitter_percent, input.seed, input.failures);
        let at = (now + jittered.max(Duration::from_millis(1))).min(input.expires);
        RetryDecision::RetryAt { at, gap }
    }

    fn nominal_gap(&self, input: &RetryInput, now: Timestamp) -> Result<Duration, GiveUpReason> {
        let n = input.failures.max(1);
        match &self.schedule {
            RetrySchedule::Geometric {
                first,
                factor,
                max_retries,
            } => {
                if n > *max_retries {
                    return Err(GiveUpReason::RetriesExhausted);
                }
                let exp = i32::try_from(n - 1).unwrap_or(i32::MAX);
                Ok(scale(*first, factor.powi(exp)))
            }
            RetrySchedule::Intervals(list) => {
                let idx = usize::try_from(n - 1).unwrap_or(usize::MAX);
                Ok(list
                    .get(idx)
                    .or(list.last())
                    .copied()
                    .unwrap_or(MAX_DURATION))
            }
            RetrySchedule::Exim(rules) => {
                let elapsed = now.since(input.first_failure);
                let rule = rules
                    .iter()
                    .find(|r| elapsed < r.cutoff())
                    .ok_or(GiveUpReason::RulesExhausted)?;
                Ok(match rule {
                    EximRule::Fixed { interval, .. } => *interval,
                    EximRule::Geometric { first, factor, .. } => {
                        if input.last_gap < *first {
                            *first
                        } else {
                            scale(input.last_gap, *factor)
                        }
                    }
                })
            }
        }
    }

    /// Checks the limits a parsed or hand-built policy must meet.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.jitter_percent > MAX_JITTER_PERCENT {
            return Err(PolicyError::Jitter);
        }
        let dur = |d: &Duration| {
            if d.is_zero() || *d > MAX_DURATION {
                Err(PolicyError::Duration(format_duration(*d)))
            } else {
                Ok(())
            }
        };
        let fac = |f: f64| {
            if f.is_finite() && (1.0..=MAX_FACTOR).contains(&f) {
                Ok(())
            } else {
                Err(PolicyError::Factor(f.to_string()))
            }
        };
        match &self.schedule {
            RetrySchedule::Geometric { first, factor, .. } => {
                dur(first)?;
                fac(*factor)
            }
            RetrySchedule::Intervals(list) => {
                if list.is_empty() || list.len() > MAX_POLICY_ITEMS {
                    return Err(PolicyError::Count);
                }
                list.iter().try_for_each(dur)
            }
            RetrySchedule::Exim(rules) => {
                if rules.is_empty() || rules.len() > MAX_POLICY_ITEMS {
                    return Err(PolicyError::Count);
                }
                rules.iter().try_for_each(|r| match r {
                    EximRule::Fixed { cutoff, interval } => dur(cutoff).and(dur(interval)),
                    EximRule::Geometric {
                        cutoff,
                        first,
                        factor,
                    } => dur(cutoff).and(dur(first)).and(fac(*factor)),
                })
            }
        }
    }
}

/// Multiplies a duration by a non-negative factor, saturating at [`MAX_DURATION`].
fn scale(d: Duration, factor: f64) -> Duration {
    let ms = (millis(d) as f64 * factor).round();
    let cap = millis(MAX_DURATION) as f64;
    Duration::from_millis(if ms.is_finite() {
        ms.min(cap) as u64
    } else {
        cap as u64
    })
}

/// SplitMix64: a tiny, well-distributed hash for deterministic jitter.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn apply_jitter(gap: Duration, percent: u8, seed: u64, failures: u32) -> Duration {
    if percent == 0 {
        return gap;
    }
    let r = mix64(seed ^ u64::from(failures).rotate_left(32));
    let unit = (r >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
    let spread = f64::from(percent.min(MAX_JITTER_PERCENT)) / 100.0;
    scale(gap, 1.0 + spread * (unit * 2.0 - 1.0))
}

/// A policy string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Longer than [`MAX_POLICY_LEN`].
    #[error("policy string longer than {MAX_POLICY_LEN} bytes")]
    TooLong,
    /// No intervals or rules, or more than [`MAX_POLICY_ITEMS`].
    #[error("a policy needs 1 to {MAX_POLICY_ITEMS} intervals or rules")]
    Count,
    /// A duration that is malformed, zero or over [`MAX_DURATION`].
    #[error("bad duration {0:?} (want e.g. 90s, 15m, 1h30m; non-zero, at most 3650d)")]
    Duration(String),
    /// A factor that is malformed or outside 1..=100.
    #[error("bad factor {0:?} (want a number from 1 to 100)")]
    Factor(String),
    /// A count that is not a number.
    #[error("bad retry count {0:?}")]
    RetryCount(String),
    /// Jitter malformed or above [`MAX_JITTER_PERCENT`].
    #[error("bad jitter (want `jitter N%` with N from 0 to {MAX_JITTER_PERCENT})")]
    Jitter,
    /// A rule that is neither `F,…` nor `G,…` with the right number of fields.
    #[error("bad rule {0:?} (want F,cutoff,interval or G,cutoff,first,factor)")]
    Rule(String),
}

/// Parses a duration such as `90s`, `15m`, `1h30m`, `250ms`.
///
/// The grammar (`1*( 1*12digit unit )`, surrounding whitespace ignored) is a nom parser;
/// the sum must be non-zero and at most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, PolicyError> {
    let bad = || PolicyError::Duration(s.chars().take(40).collect());
    let total = all_consuming(duration_millis)
        .parse(s.trim())
        .ok()
        .and_then(|(_, total)| total)
        .ok_or_else(bad)?;
    let d = Duration::from_millis(total);
    if d.is_zero() || d > MAX_DURATION {
        return Err(bad());
    }
    Ok(d)
}

/// One or more `number unit` terms summed in milliseconds; `None` if the sum overflows.
fn duration_millis(input: &str) -> IResult<&str, Option<u64>> {
    fold(
        1..,
        duration_term,
        || Some(0u64),
        |total, term| total.zip(term).and_then(|(a, b)| a.checked_add(b)),
    )
    .parse(input)
}

/// `12h`: up to 12 digits and a unit, in milliseconds; `None` if the product overflows.
fn duration_term(input: &str) -> IResult<&str, Option<u64>> {
    let number = map_res(
        take_while_m_n(1, 12, |c: char| c.is_ascii_digit()),
        str::parse,
    );
    let unit = map_opt(take_while(|c: char| c.is_ascii_alphabetic()), unit_millis);
    (number, unit)
        .map(|(n, size): (u64, u64)| n.checked_mul(size))
        .parse(input)
}

/// Milliseconds in one `unit`.
fn unit_millis(unit: &str) -> Option<u64> {
    Some(match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return None,
    })
}

fn parse_factor(s: &str) -> Result<f64, PolicyError> {
    let s = s.trim();
    let ok = !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    match s.parse::<f64>() {
        Ok(f) if ok && f.is_finite() && (1.0..=MAX_FACTOR).contains(&f) => Ok(f),
        _ => Err(PolicyError::Factor(s.chars().take(40).collect())),
    }
}

fn parse_list(s: &str) -> Result<Vec<Duration>, PolicyError> {
    let items: Vec<&str> = s.split(',').collect();
    if items.len() > MAX_POLICY_ITEMS {
        return Err(PolicyError::Count);
    }
    items.into_iter().map(parse_duration).collect()
}

fn parse_rule(s: &str) -> Result<EximRule, PolicyError> {
    let fields: Vec<&str> = s.split(',').map(str::trim).collect();
    match fields.as_slice() {
        ["F", cutoff, interval] => Ok(EximRule::Fixed {
            cutoff: parse_duration(cutoff)?,
            interval: parse_duration(interval)?,
        }),
        ["G", cutoff, first, factor] => Ok(EximRule::Geometric {
            cutoff: parse_duration(cutoff)?,
            first: parse_duration(first)?,
            factor: parse_factor(factor)?,
        }),
        _ => Err(PolicyError::Rule(s.chars().take(60).collect())),
    }
}

fn parse_schedule(s: &str) -> Result<RetrySchedule, PolicyError> {
    let s = s.trim();
    if s == "ims" {
        return Ok(RetryPolicy::ims_default().schedule);
    }
    if let Some(inner) = s.strip_prefix("ims(").and_then(|r| r.strip_suffix(')')) {
        let f: Vec<&str> = inner.split(',').map(str::trim).collect();
        let [first, factor, count] = f.as_slice() else {
            return Err(PolicyError::Rule(s.chars().take(60).collect()));
        };
        return Ok(RetrySchedule::Geometric {
            first: parse_duration(first)?,
            factor: parse_factor(factor)?,
            max_retries: count
                .parse()
                .map_err(|_| PolicyError::RetryCount(count.chars().take(20).collect()))?,
        });
    }
    if let Some(inner) = s.strip_prefix("list(").and_then(|r| r.strip_suffix(')')) {
        return Ok(RetrySchedule::Intervals(parse_list(inner)?));
    }
    if s.starts_with("F,") || s.starts_with("G,") {
        let parts: Vec<&str> = s.split(';').collect();
        if parts.len() > MAX_POLICY_ITEMS {
            return Err(PolicyError::Count);
        }
        return Ok(RetrySchedule::Exim(
            parts
                .into_iter()
                .map(parse_rule)
                .collect::<Result<_, _>>()?,
        ));
    }
    Ok(RetrySchedule::Intervals(parse_list(s)?))
}

impl FromStr for RetryPolicy {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, PolicyError> {
        if s.len() > MAX_POLICY_LEN {
            return Err(PolicyError::TooLong);
        }
        let (sched, jitter) = match s.rfind("jitter") {
            Some(pos) => (&s[..pos], Some(&s[pos + "jitter".len()..])),
            None => (s, None),
        };
        let jitter_percent = match jitter {
            None => 0,
            Some(j) => {
                let j = j.trim().strip_suffix('%').ok_or(PolicyError::Jitter)?;
                let v: u8 = j.trim().parse().map_err(|_| PolicyError::Jitter)?;
                if v > MAX_JITTER_PERCENT {
                    return Err(PolicyError::Jitter);
                }
                v
            }
        };
        let policy = RetryPolicy {
            schedule: parse_schedule(sched)?,
            jitter_percent,
        };
        policy.validate()?;
        Ok(policy)
    }
}

impl fmt::Display for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |d: &Duration| format_duration(*d);
        match &self.schedule {
            RetrySchedule::Geometric {
                first,
                factor,
                max_retries,
            } => write!(f, "ims({}, {factor}, {max_retries})", d(first))?,
            RetrySchedule::Intervals(list) => {
                let items: Vec<String> = list.iter().map(d).collect();
                write!(f, "list({})", items.join(", "))?;
            }
            RetrySchedule::Exim(rules) => {
                let items: Vec<String> = rules
                    .iter()
                    .map(|r| match r {
                        EximRule::Fixed { cutoff, interval } => {
                            format!("F,{},{}", d(cutoff), d(interval))
                        }
                        EximRule::Geometric {
                            cutoff,
                            first,
                            factor,
                        } => format!("G,{},{},{factor}", d(cutoff), d(first)),
                    })
                    .collect();
                f.write_str(&items.join("; "))?;
            }
        }
        if self.jitter_percent > 0 {
            write!(f, " jitter {}%", self.jitter_percent)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const H: u64 = 3_600_000;
    const M: u64 = 60_000;

    /// Runs a policy from a first failure at t=0 until it gives up, failing every attempt at
    /// exactly its scheduled time; returns the gaps in ms.
    fn run(policy: &RetryPolicy, expires: u64) -> (Vec<u64>, GiveUpReason) {
        let mut now = Timestamp(0);
        let mut input = RetryInput {
            failures: 1,
            first_failure: now,
            last_gap: Duration::ZERO,
            expires: Timestamp(expires),
            seed: 7,
        };
        let mut gaps = Vec::new();
        loop {
            match policy.next_attempt(&input, now) {
                RetryDecision::RetryAt { at, gap } => {
                    gaps.push(at.0 - now.0);
                    now = at;
                    input.failures += 1;
                    input.last_gap = gap;
                }
                RetryDecision::GiveUp(r) => return (gaps, r),
            }
            assert!(gaps.len() < 10_000);
        }
    }

    #[test]
    fn ims_default_exact_schedule() {
        let (gaps, why) = run(&RetryPolicy::ims_default(), u64::MAX);
        let want: Vec<u64> = [
            60.0, 90.0, 135.0, 202.5, 303.75, 455.625, 683.4375, 1025.15625,
        ]
        .iter()
        .map(|m| (m * M as f64).round() as u64)
        .collect();
        assert_eq!(gaps, want);
        assert_eq!(gaps[..3], [H, 3 * H / 2, 9 * H / 4]);
        assert_eq!(why, GiveUpReason::RetriesExhausted);
    }

    #[test]
    fn ims_default_cut_by_expiry() {
        // 48 h time-out: 1+1.5+2.25+3.375+5.0625+7.59+11.39 = 32.17 h, next would pass 48 h.
        let (gaps, why) = run(&RetryPolicy::ims_default(), 48 * H);
        assert_eq!(gaps.len(), 8);
        assert_eq!(
            gaps.iter().sum::<u64>(),
            48 * H,
            "last attempt lands on the expiry"
        );
        assert_eq!(why, GiveUpReason::Expired);
    }

    #[test]
    fn interval_list_last_repeats() {
        let p: RetryPolicy = "2m, 5m, 10m, 15m, 30m, 1h, 2h".parse().unwrap();
        let (gaps, why) = run(&p, 10 * H);
        assert_eq!(
            gaps[..9],
            [2 * M, 5 * M, 10 * M, 15 * M, 30 * M, H, 2 * H, 2 * H, 2 * H]
        );
        assert_eq!(why, GiveUpReason::Expired);
        assert_eq!(gaps.iter().sum::<u64>(), 10 * H);
    }

    #[test]
    fn exim_rules_exact_schedule() {
        let p: RetryPolicy = "F,2h,15m; G,16h,1h,1.5; F,4d,6h".parse().unwrap();
        let (gaps, why) = run(&p, u64::MAX);
        // 8 × 15 min reach 2 h; then 1 h, 1.5 h, 2.25 h, 3.375 h, 5.0625 h (total 15.1875 h
        // < 16 h so one more G step: 7.59375 h); then every 6 h until 4 days.
        assert_eq!(gaps[..8], [15 * M; 8]);
        let g: Vec<u64> = [1.0, 1.5, 2.25, 3.375, 5.0625, 7.59375]
            .iter()
            .map(|h| (h * H as f64) as u64)
            .collect();
        assert_eq!(gaps[8..14], g[..]);
        let elapsed: u64 = gaps[..14].iter().sum();
        assert!(gaps[14..].iter().all(|&x| x == 6 * H));
        assert_eq!(
            gaps.len(),
            14 + ((96 * H - elapsed) as f64 / (6 * H) as f64).ceil() as usize
        );
        assert_eq!(why, GiveUpReason::RulesExhausted);
    }

    #[test]
    fn jitter_stays_in_band_and_is_deterministic() {
        let p: RetryPolicy = "ims jitter 20%".parse().unwrap();
        for seed in 0..200 {
            let input = RetryInput {
                failures: 1,
                first_failure: Timestamp(0),
                last_gap: Duration::ZERO,
                expires: Timestamp::MAX,
                seed,
            };
            let RetryDecision::RetryAt { at, gap } = p.next_attempt(&input, Timestamp(0)) else {
                panic!()
            };
            assert_eq!(gap, Duration::from_secs(3600));
            assert!((48 * M..=72 * M).contains(&at.0), "{at}");
            assert_eq!(
                p.next_attempt(&input, Timestamp(0)),
                p.next_attempt(&input, Timestamp(0))
            );
        }
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "",
            "0s",
            "5x",
            "list()",
            "F,2h",
            "G,1h,1m,0.5",
            "ims jitter 80%",
            "ims jitter",
            "H,1h,1m",
            "1h,,2h",
            "ims(1h,1.5)",
            "ims(1h,1.5,x)",
            "99999999999999d",
        ] {
            assert!(bad.parse::<RetryPolicy>().is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            "ims".parse::<RetryPolicy>().unwrap(),
            RetryPolicy::ims_default()
        );
        assert_eq!(
            "ims(60m, 1.5, 8)".parse::<RetryPolicy>().unwrap(),
            RetryPolicy::ims_default()
        );
    }

    /// The hand-written `parse_duration` the nom parser replaced, kept as the oracle of
    /// the differential property test below.
    fn parse_duration_by_hand(s: &str) -> Result<Duration, PolicyError> {
        let bad = || PolicyError::Duration(s.chars().take(40).collect());
        let s = s.trim();
        let bytes = s.as_bytes();
        if bytes.is_empty() {
            return Err(bad());
        }
        let (mut i, mut total) = (0usize, 0u64);
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i == start || i - start > 12 {
                return Err(bad());
            }
            let n: u64 = s[start..i].parse().map_err(|_| bad())?;
            let unit_start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let size: u64 = match &s[unit_start..i] {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "w" => 604_800_000,
                _ => return Err(bad()),
            };
            total = n
                .checked_mul(size)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(bad)?;
        }
        let d = Duration::from_millis(total);
        if d.is_zero() || d > MAX_DURATION {
            return Err(bad());
        }
        Ok(d)
    }

    /// Text made of the duration grammar's own pieces, so near-durations abound.
    fn duration_like() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("1".to_string()),
            Just("0".to_string()),
            Just("999999".to_string()),
            Just("9999999999999".to_string()),
            Just("ms".to_string()),
            Just("s".to_string()),
            Just("m".to_string()),
            Just("h".to_string()),
            Just("d".to_string()),
            Just("w".to_string()),
            Just("x".to_string()),
            Just(" ".to_string()),
            Just(",".to_string()),
            "\\PC{0,2}",
        ];
        proptest::collection::vec(piece, 0..10).prop_map(|ps| ps.concat())
    }

    fn arb_dur() -> impl Strategy<Value = Duration> {
        (1u64..=100_000_000).prop_map(Duration::from_millis)
    }
    fn arb_factor() -> impl Strategy<Value = f64> {
        (100u32..=1000).prop_map(|x| f64::from(x) / 100.0)
    }
    fn arb_policy() -> impl Strategy<Value = RetryPolicy> {
        let rule = prop_oneof![
            (arb_dur(), arb_dur())
                .prop_map(|(cutoff, interval)| EximRule::Fixed { cutoff, interval }),
            (arb_dur(), arb_dur(), arb_factor()).prop_map(|(cutoff, first, factor)| {
                EximRule::Geometric {
                    cutoff,
                    first,
                    factor,
                }
            }),
        ];
        let sched = prop_oneof![
            (arb_dur(), arb_factor(), 0u32..20).prop_map(|(first, factor, max_retries)| {
                RetrySchedule::Geometric {
                    first,
                    factor,
                    max_retries,
                }
            }),
            proptest::collection::vec(arb_dur(), 1..8).prop_map(RetrySchedule::Intervals),
            proptest::collection::vec(rule, 1..6).prop_map(RetrySchedule::Exim),
        ];
        (sched, 0u8..=50).prop_map(|(schedule, jitter_percent)| RetryPolicy {
            schedule,
            jitter_percent,
        })
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(p in arb_policy()) {
            let s = p.to_string();
            prop_assert_eq!(s.parse::<RetryPolicy>().unwrap(), p);
        }

        #[test]
        fn next_attempt_after_now_and_not_after_expiry(
            p in arb_policy(), failures in 1u32..40, first in 0u64..1_000_000_000,
            since in 0u64..1_000_000_000, ttl in 0u64..2_000_000_000, last in 0u64..100_000_000,
            seed: u64,
        ) {
            let now = Timestamp(first + since);
            let input = RetryInput {
                failures, first_failure: Timestamp(first), last_gap: Duration::from_millis(last),
                expires: Timestamp(first + ttl), seed,
            };
            match p.next_attempt(&input, now) {
                RetryDecision::RetryAt { at, .. } => {
                    prop_assert!(at > now);
                    prop_assert!(at <= input.expires);
                }
                RetryDecision::GiveUp(GiveUpReason::Expired) => prop_assert!(now >= input.expires),
                RetryDecision::GiveUp(_) => {}
            }
        }

        #[test]
        fn nom_duration_agrees_with_the_hand_written_one(s in duration_like()) {
            prop_assert_eq!(parse_duration(&s), parse_duration_by_hand(&s));
        }

        #[test]
        fn nom_duration_agrees_on_any_text(s in "\\PC{0,30}") {
            prop_assert_eq!(parse_duration(&s), parse_duration_by_hand(&s));
        }

        #[test]
        fn parser_is_total(s in "\\PC{0,80}") {
            let _ = s.parse::<RetryPolicy>();
        }
    }
}
