//! Retention of what the gateway writes beside the spool (`[retention]`), so that a
//! gateway left running for months does not fill its disk: protocol logs and archive
//! folders by their UTC date (the archive by bytes too), and the spool's `quarantine/`
//! and the Pickup folder's `bad/` by the time a file was set aside. Tracking logs are
//! the tracking writer's own (`[tracking] retention_days`); the status keeps at most
//! [`crate::status::RECENT`] recent events, in memory.
//!
//! Errors are ignored: retention never stops mail, and a file that cannot be removed now
//! is tried again at the next sweep. Each sweep is a plain function of a directory, a setting and the time, so each can be
//! tested on real files; [`sweep_all`] applies the configuration, and [`run`] calls it at
//! start and every [`SWEEP_EVERY`].

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::Config;
use crate::context::Context;

/// How often the sweeps run (besides once at start).
pub const SWEEP_EVERY: Duration = Duration::from_secs(600);

const DAY: Duration = Duration::from_secs(86_400);

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Files removed.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
}

impl Swept {
    fn add(&mut self, other: Swept) {
        self.files += other.files;
        self.bytes += other.bytes;
    }
}

/// The first day kept when `days` days are kept, `today` included; `None` keeps all.
fn first_day_kept(days: u32, today: NaiveDate) -> Option<NaiveDate> {
    (days > 0).then(|| today - chrono::Days::new(u64::from(days - 1)))
}

fn today(now: SystemTime) -> NaiveDate {
    DateTime::<Utc>::from(now).date_naive()
}

fn remove(path: &Path, swept: &mut Swept) {
    let len = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if fs::remove_file(path).is_ok() {
        swept.files += 1;
        swept.bytes += len;
    }
}

/// The files of `dir` (not directories); nothing when it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .collect()
}

/// Removes the daily logs in `dir` (names starting `YYYYMMDD`, like the protocol log's
/// `20261205.log`) dated before the last `days` UTC days. Other files are left alone.
pub fn sweep_daily_logs(dir: &Path, days: u32, now: SystemTime) -> Swept {
    let mut swept = Swept::default();
    let Some(first) = first_day_kept(days, today(now)) else {
        return swept;
    };
    for path in files(dir) {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let date = name
            .get(..8)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok());
        if date.is_some_and(|d| d < first) {
            remove(&path, &mut swept);
        }
    }
    swept
}

/// Removes the files of `dir` set aside more than `days` days ago (by modification time,
/// which setting aside refreshes). Subdirectories are left alone.
pub fn sweep_older_files(dir: &Path, days: u32, now: SystemTime) -> Swept {
    let mut swept = Swept::default();
    if days == 0 {
        return swept;
    }
    let Some(cutoff) = now.checked_sub(DAY * days) else {
        return swept;
    };
    for path in files(dir) {
        let old = fs::metadata(&path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < cutoff);
        if old {
            remove(&path, &mut swept);
        }
    }
    swept
}

/// The archive's day folders (`YYYY-MM-DD`), oldest first.
fn archive_days(root: &Path) -> Vec<(NaiveDate, PathBuf)> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut days: Vec<(NaiveDate, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let d = NaiveDate::parse_from_str(&e.file_name().to_string_lossy(), "%Y-%m-%d");
            d.ok().map(|d| (d, e.path()))
        })
        .collect();
    days.sort();
    days
}

/// Applies archive retention under `root`: day folders before the last `days` UTC days
/// go whole; then, while the archive holds more than `max_bytes` (0: no limit), its
/// oldest files go, oldest day first and within a day oldest file first. Emptied day
/// folders other than today's are removed. A file being written (a `.…tmp` name) is
/// never touched.
pub fn sweep_archive(root: &Path, days: u32, max_bytes: u64, now: SystemTime) -> Swept {
    let mut swept = Swept::default();
    let today = today(now);
    let first = first_day_kept(days, today);
    let mut kept: Vec<(SystemTime, PathBuf, u64)> = Vec::new();
    for (day, dir) in archive_days(root) {
        let mut in_day: Vec<(SystemTime, PathBuf, u64)> = files(&dir)
            .into_iter()
            .filter(|p| {
                !p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .map(|p| {
                let m = fs::metadata(&p).ok();
                let t = m
                    .as_ref()
                    .and_then(|m| m.modified().ok())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                (t, p, m.map_or(0, |m| m.len()))
            })
            .collect();
        if first.is_some_and(|f| day < f) {
            in_day.iter().for_each(|(_, p, _)| remove(p, &mut swept));
        } else {
            in_day.sort();
            kept.extend(in_day);
        }
    }
    if max_bytes > 0 {
        let mut total: u64 = kept.iter().map(|k| k.2).sum();
        for (_, path, _) in &kept {
            if total <= max_bytes {
                break;
            }
            let before = swept.bytes;
            remove(path, &mut swept);
            total = total.saturating_sub(swept.bytes - before);
        }
    }
    for (day, dir) in archive_days(root) {
        if day != today {
            // Fails, as it should, while the folder still holds anything.
            let _ = fs::remove_dir(&dir);
        }
    }
    swept
}

/// Applies every `[retention]` setting of `config` (and nothing for what is turned off);
/// returns what was removed in all.
pub fn sweep_all(config: &Config, now: SystemTime) -> Swept {
    let r = &config.retention;
    let mut swept = Swept::default();
    swept.add(sweep_daily_logs(
        &config.protocol_log.dir,
        r.protocol_log_days,
        now,
    ));
    swept.add(sweep_archive(
        &config.archive.dir,
        r.archive_days,
        r.archive_max_bytes,
        now,
    ));
    swept.add(sweep_older_files(
        &config.spool_dir().join("quarantine"),
        r.quarantine_days,
        now,
    ));
    swept.add(sweep_older_files(
        &config.pickup.dir.join("bad"),
        r.pickup_bad_days,
        now,
    ));
    swept
}

/// Sweeps at start and every [`SWEEP_EVERY`] until the gateway shuts down, with the
/// settings in force at each sweep (`[retention]` reloads).
pub async fn run(ctx: Arc<Context>) {
    let mut shutdown = ctx.shutdown.clone();
    while !ctx.is_shutting_down() {
        let live = ctx.live();
        let swept =
            tokio::task::spawn_blocking(move || sweep_all(&live.config, SystemTime::now())).await;
        if let Ok(s) = swept
            && s.files > 0
        {
            tracing::info!(
                files = s.files,
                bytes = s.bytes,
                "retention: removed {} file(s), {} bytes",
                s.files,
                s.bytes
            );
        }
        tokio::select! {
            () = tokio::time::sleep(SWEEP_EVERY) => {}
            r = shutdown.changed() => if r.is_err() { break },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("postern-retention-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// 2026-12-05 12:00 UTC.
    fn noon() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_472_000)
    }

    fn write(path: &Path, len: usize, modified: SystemTime) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, vec![b'x'; len]).unwrap();
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(modified)
            .unwrap();
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn protocol_logs_keep_the_last_days_today_included() {
        assert_eq!(today(noon()).to_string(), "2026-12-05");
        let dir = tmp("protolog");
        for name in [
            "20261128.log",
            "20261129.log",
            "20261130.log",
            "20261205.log",
            "20261205-out.log",
            "notes.txt",
        ] {
            write(&dir.join(name), 10, noon());
        }
        // Seven days, today included: from 2026-11-29.
        let swept = sweep_daily_logs(&dir, 7, noon());
        assert_eq!(
            swept,
            Swept {
                files: 1,
                bytes: 10
            }
        );
        assert_eq!(
            names(&dir),
            [
                "20261129.log",
                "20261130.log",
                "20261205-out.log",
                "20261205.log",
                "notes.txt"
            ]
        );
        // 0 keeps everything.
        assert_eq!(sweep_daily_logs(&dir, 0, noon()), Swept::default());
        assert_eq!(sweep_daily_logs(&dir, 1, noon()).files, 2);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn set_aside_files_go_after_their_days() {
        let dir = tmp("aside");
        let day = Duration::from_secs(86_400);
        write(&dir.join("old.eml"), 5, noon() - day * 31);
        write(&dir.join("old.eml.reason"), 5, noon() - day * 31);
        write(&dir.join("recent.eml"), 5, noon() - day * 29);
        fs::create_dir_all(dir.join("sub")).unwrap();
        assert_eq!(sweep_older_files(&dir, 30, noon()).files, 2);
        assert_eq!(names(&dir), ["recent.eml", "sub"]);
        assert_eq!(sweep_older_files(&dir, 0, noon()).files, 0);
        // A folder that does not exist is nothing to sweep.
        assert_eq!(sweep_older_files(&dir.join("none"), 1, noon()).files, 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn archive_keeps_its_days_then_its_bytes() {
        let root = tmp("archive");
        let t = |h: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_400_000 + h * 60);
        write(&root.join("2026-10-01/a-inbound.eml"), 100, t(0));
        write(&root.join("2026-12-04/b-inbound.eml"), 100, t(2));
        write(&root.join("2026-12-04/c-outbound.eml"), 100, t(1));
        write(&root.join("2026-12-05/d-inbound.eml"), 100, t(3));
        write(&root.join("2026-12-05/.e-inbound.77.tmp"), 100, t(4));
        // Days only: the October folder goes whole.
        let swept = sweep_archive(&root, 30, 0, noon());
        assert_eq!(
            swept,
            Swept {
                files: 1,
                bytes: 100
            }
        );
        assert_eq!(names(&root), ["2026-12-04", "2026-12-05"]);
        // Bytes too: oldest first (c was written before b), the file being written stays.
        let swept = sweep_archive(&root, 30, 150, noon());
        assert_eq!(swept.files, 2);
        assert_eq!(names(&root), ["2026-12-05"]);
        assert_eq!(
            names(&root.join("2026-12-05")),
            [".e-inbound.77.tmp", "d-inbound.eml"]
        );
        // Today's folder stays even when emptied.
        sweep_archive(&root, 30, 1, noon());
        assert_eq!(names(&root), ["2026-12-05"]);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn sweep_all_applies_the_configured_settings() {
        let data = tmp("all");
        let config = Config::from_toml_str(&format!(
            "[server]\ndata_dir = \"{}\"\n[retention]\nprotocol_log_days = 2\n\
             archive_days = 3\nquarantine_days = 4\npickup_bad_days = 5\n",
            data.display()
        ))
        .unwrap();
        let day = Duration::from_secs(86_400);
        write(&data.join("protocol/20261203.log"), 1, noon());
        write(&data.join("protocol/20261204.log"), 1, noon());
        write(&data.join("archive/2026-12-02/x.eml"), 1, noon());
        write(&data.join("archive/2026-12-03/y.eml"), 1, noon());
        write(&data.join("spool/quarantine/1.bad"), 1, noon() - day * 5);
        write(&data.join("spool/quarantine/2.bad"), 1, noon() - day * 3);
        write(&data.join("pickup/bad/1.eml"), 1, noon() - day * 6);
        write(&data.join("pickup/bad/2.eml"), 1, noon() - day * 4);
        assert_eq!(sweep_all(&config, noon()).files, 4);
        assert_eq!(names(&data.join("protocol")), ["20261204.log"]);
        assert_eq!(names(&data.join("archive")), ["2026-12-03"]);
        assert_eq!(names(&data.join("spool/quarantine")), ["2.bad"]);
        assert_eq!(names(&data.join("pickup/bad")), ["2.eml"]);
        fs::remove_dir_all(&data).unwrap();
    }

    #[test]
    fn defaults_are_documented_values() {
        let r = Config::embedded().retention;
        assert_eq!(
            (
                r.protocol_log_days,
                r.archive_days,
                r.archive_max_bytes,
                r.quarantine_days,
                r.pickup_bad_days
            ),
            (7, 30, 0, 30, 30)
        );
    }
}
