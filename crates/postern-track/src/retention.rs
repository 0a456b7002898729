//! Retention: removing daily files by age and by the directory's total size.

use std::path::{Path, PathBuf};

use crate::{Day, TrackError};

/// How long and how much to keep. Applied by the writer when it opens and whenever it
/// starts a new day; [`apply`] runs it by hand (e.g. from a cron job).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retention {
    /// Keep files of the last `n` days, today included (`Some(1)` keeps only today).
    /// Default `Some(7)`, Exchange's default for tracking logs. `None` keeps all ages.
    pub max_age_days: Option<u32>,
    /// Remove the oldest files until the logs (with their indexes) total at most this many
    /// bytes. Today's file is never removed. Default `None` (no size limit).
    pub max_total_bytes: Option<u64>,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            max_age_days: Some(7),
            max_total_bytes: None,
        }
    }
}

/// What [`apply`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// The log files removed (their index files went with them).
    pub removed: Vec<PathBuf>,
    /// Bytes freed, logs and indexes together.
    pub bytes_freed: u64,
}

/// A daily log file found in a directory.
#[derive(Debug, Clone)]
pub(crate) struct LogFile {
    pub day: Day,
    pub path: PathBuf,
    pub len: u64,
}

/// The `YYYYMMDD.log` files in `dir`, oldest first. Other files are ignored.
pub(crate) fn list_logs(dir: &Path) -> Result<Vec<LogFile>, TrackError> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(TrackError::io("read directory", dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(TrackError::io("read directory", dir))?;
        let name = entry.file_name();
        let Some(day) = name.to_str().and_then(Day::from_file_name) else {
            continue;
        };
        let meta = entry
            .metadata()
            .map_err(TrackError::io("stat", entry.path()))?;
        if meta.is_file() {
            out.push(LogFile {
                day,
                path: entry.path(),
                len: meta.len(),
            });
        }
    }
    out.sort_by_key(|f| f.day);
    Ok(out)
}

/// The index file belonging to a log file.
pub(crate) fn index_path(log: &Path) -> PathBuf {
    log.with_extension("idx")
}

/// Removes files outside `policy`, taking `today` as the current day (no clock is read).
pub fn apply(dir: &Path, policy: &Retention, today: Day) -> Result<RetentionReport, TrackError> {
    let mut report = RetentionReport::default();
    let logs = list_logs(dir)?;
    let sizes: Vec<u64> = logs.iter().map(|f| f.len + idx_len(&f.path)).collect();
    let mut total: u64 = sizes.iter().sum();
    let oldest_kept = policy
        .max_age_days
        .map(|n| today.add_days(1 - i64::from(n)));
    for (f, size) in logs.iter().zip(sizes) {
        let too_old = oldest_kept.is_some_and(|d| f.day < d);
        let too_big = policy.max_total_bytes.is_some_and(|max| total > max);
        if (too_old || too_big) && f.day < today {
            remove(&f.path, &mut report)?;
            report.bytes_freed += size;
            total -= size;
        }
    }
    Ok(report)
}

fn idx_len(log: &Path) -> u64 {
    std::fs::metadata(index_path(log)).map_or(0, |m| m.len())
}

fn remove(log: &Path, report: &mut RetentionReport) -> Result<(), TrackError> {
    std::fs::remove_file(log).map_err(TrackError::io("remove", log))?;
    let idx = index_path(log);
    match std::fs::remove_file(&idx) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(TrackError::io("remove", idx)(e)),
    }
    report.removed.push(log.to_path_buf());
    Ok(())
}
