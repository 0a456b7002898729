//! Issue 22 item 9, the commands: `postern status` after the gateway stopped, `config
//! check` listing `[[domain]]` entries, the documented defaults of `delay_notices` and
//! `notification_timeout` being the effective ones, and `postern track` on a missing
//! directory and with the Exchange number 1030. Runs the real `postern` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use postern_gateway::{Config, Gateway};
use postern_track::{Event, EventKind, Writer, WriterConfig};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("postern-cli-admin-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn postern(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(args)
        .output()
        .expect("run postern")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn status(data: &Path, json: bool) -> Output {
    let mut args = vec!["status", "--data", data.to_str().unwrap()];
    if json {
        args.push("--json");
    }
    postern(&args)
}

/// A running gateway's status is live (0); once it has stopped, `postern status` says it
/// is not running, how old the figures are, and exits 3 (LSB "not running").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_says_when_the_gateway_stopped() {
    let dir = temp_dir("status");
    let config = format!(
        "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n",
        dir.display()
    );
    let gw = Gateway::start(Config::from_toml_str(&config).unwrap())
        .await
        .unwrap();
    let file = dir.join("status.json");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !file.exists() {
        assert!(Instant::now() < deadline, "no status file");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let live = status(&dir, false);
    assert_eq!(live.status.code(), Some(0), "{}", text(&live.stderr));
    assert!(!text(&live.stdout).contains("NOT RUNNING"));
    gw.shutdown(Duration::from_secs(5)).await;
    let stopped = status(&dir, false);
    let err = text(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(3), "{err}");
    assert!(
        err.contains("not running") && err.contains(" s old"),
        "{err}"
    );
    assert!(text(&stopped.stdout).contains("gateway gw.test"));
    assert!(text(&stopped.stdout).contains("NOT RUNNING"));
    let json = status(&dir, true);
    assert_eq!(json.status.code(), Some(3));
    assert!(text(&json.stdout).contains("\"running\":false"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A gateway that died without saying so (killed, crashed): its status file stops
/// being rewritten, and an old one is reported as not running.
#[test]
fn status_of_a_stale_file_is_not_running() {
    let dir = temp_dir("stale");
    std::fs::write(
        dir.join("status.json"),
        "{\"time_ms\":1000,\"running\":true,\"hostname\":\"gw.test\",\"transfer_mode\":\"both\"}\n",
    )
    .unwrap();
    let out = status(&dir, false);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("not running (or hung)") && err.contains("s ago"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `config check` prints each `[[domain]]`: what it sets, and what is in force for it
/// (inherited from a less specific pattern and `[domain_defaults]`).
#[test]
fn config_check_lists_domains() {
    let dir = temp_dir("domains");
    let file = dir.join("p.toml");
    std::fs::write(
        &file,
        "[domain_defaults]\ntls = \"required\"\n\
         [[domain]]\npattern = \"*.legacy.test\"\ncontent_format = \"uuencode\"\ncharset = \"us-ascii\"\n\
         [[domain]]\npattern = \"mail.legacy.test\"\nmax_message_size = 4096\n\
         [[domain]]\npattern = \"dialup.test\"\ndequeue = \"hold-for-etrn\"\n",
    )
    .unwrap();
    let out = postern(&["config", "check", "-c", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for want in [
        "[[domain]]\npattern = \"*.legacy.test\"\ncontent_format = \"uuencode\"\ncharset = \"us-ascii\"\n",
        "[[domain]]\npattern = \"mail.legacy.test\"\nmax_message_size = 4096\n\
         # in force: content_format = \"uuencode\", charset = \"us-ascii\", max_message_size = 4096, \
         tls = \"required\", dequeue = \"send\"\n",
        "[[domain]]\npattern = \"dialup.test\"\ndequeue = \"hold-for-etrn\"\n",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in\n{stdout}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A duration as the config writes it (`12h`, `4h`, `90s`) in seconds.
fn secs(v: &str) -> u64 {
    let (n, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: u64 = n.parse().unwrap();
    n * match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => panic!("unit {other:?}"),
    }
}

/// The value set for `key` in examples/postern.toml (which documents every default).
fn example_value(key: &str) -> String {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/postern.toml");
    let text = std::fs::read_to_string(example).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("{key} not in the example"))
        .to_owned()
}

/// examples/postern.toml sets (and documents) `notification_timeout` and `delay_notices`
/// to their defaults: the effective values with nothing set are the same.
#[test]
fn documented_retry_defaults_are_the_effective_ones() {
    let out = postern(&["config", "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let effective = text(&out.stdout);
    let timeout = example_value("notification_timeout");
    let want = format!(
        "notification_timeout = \"{}s\"\n",
        secs(timeout.trim_matches('"'))
    );
    assert!(effective.contains(&want), "{want:?} in\n{effective}");
    let ages: Vec<String> = example_value("delay_notices")
        .trim_matches(['[', ']'])
        .split(',')
        .map(|v| format!("\"{}s\"", secs(v.trim().trim_matches('"'))))
        .collect();
    let want = format!("delay_notices = [{}]\n", ages.join(", "));
    assert!(effective.contains(&want), "{want:?} in\n{effective}");
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/postern.toml"
    ))
    .unwrap();
    assert!(
        doc.contains(&format!("Default {timeout}.")),
        "documented default"
    );
    assert!(doc.contains("Default [\"4h\"]"), "documented default");
}

/// A tracking directory that does not exist is an error (2) that names it, for search
/// and trace alike, not an empty result (1).
#[test]
fn track_on_a_missing_directory_says_so() {
    let missing = std::env::temp_dir().join(format!("postern-no-such-dir-{}", std::process::id()));
    let m = missing.to_str().unwrap();
    for args in [
        vec!["track", "search", "--event", "sent", "--dir", m],
        vec!["track", "trace", "<x@y>", "--dir", m],
    ] {
        let out = postern(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(m) && err.contains("tracking directory"),
            "{err}"
        );
    }
}

/// Failed and expired events carry Exchange number 1030 in the log and `--event 1030`
/// finds both (and not a `sent`).
#[test]
fn track_event_1030_finds_failed_and_expired() {
    let dir = temp_dir("track1030");
    let w = Writer::open(WriterConfig::new(&dir)).unwrap();
    for (kind, q) in [
        (EventKind::Failed, "Q1"),
        (EventKind::Expired, "Q2"),
        (EventKind::Sent, "Q3"),
        (EventKind::Deferred, "Q4"),
    ] {
        w.record(Event::new(w.now(), kind).queue_id(q)).unwrap();
    }
    w.shutdown().unwrap();
    let d = dir.to_str().unwrap();
    let out = postern(&[
        "track",
        "search",
        "--no-index",
        "--json",
        "--event",
        "1030",
        "--dir",
        d,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines = text(&out.stdout);
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert!(
        lines.contains("\"event\":\"failed\",\"event_id\":1030"),
        "{lines}"
    );
    assert!(
        lines.contains("\"event\":\"expired\",\"event_id\":1030"),
        "{lines}"
    );
    let out = postern(&[
        "track",
        "search",
        "--no-index",
        "--event",
        "deferred",
        "--dir",
        d,
    ]);
    assert!(
        text(&out.stdout).contains("deferred ") && !text(&out.stdout).contains("deferred ("),
        "no Exchange number for deferred: {}",
        text(&out.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
