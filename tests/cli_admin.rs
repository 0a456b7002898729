//! Issue 22 item 9 and issue 16 item 2, the commands: `postern status` and `postern
//! queue` against a running gateway (its admin API) and after it stopped, `config
//! check` listing `[[domain]]` entries, the documented defaults of `delay_notices` and
//! `notification_timeout` being the effective ones, and `postern track` on a missing
//! directory and with the Exchange number 1030. Runs the real `postern` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

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

fn status(how: &[&str], json: bool) -> Output {
    let mut args = vec!["status"];
    args.extend_from_slice(how);
    if json {
        args.push("--json");
    }
    postern(&args)
}

fn write_config(dir: &Path) -> (PathBuf, String) {
    let config = format!(
        "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n",
        dir.join("data").display()
    );
    let file = dir.join("postern.toml");
    std::fs::write(&file, &config).unwrap();
    (file, config)
}

/// A running gateway's status comes from its admin API (0), found through `-c` or
/// `--data`; once it has stopped, `postern status` says it is not running, shows what
/// its spool files say, and exits 3 (LSB "not running"). `--json` is the API's schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_says_when_the_gateway_stopped() {
    let dir = temp_dir("status");
    let (file, config) = write_config(&dir);
    let (file, data) = (file.to_str().unwrap(), dir.join("data"));
    let data = data.to_str().unwrap();
    let gw = Gateway::start(Config::from_toml_str(&config).unwrap())
        .await
        .unwrap();
    for how in [&["-c", file][..], &["--data", data][..]] {
        let live = tokio::task::block_in_place(|| status(how, false));
        assert_eq!(live.status.code(), Some(0), "{}", text(&live.stderr));
        let out = text(&live.stdout);
        assert!(
            out.contains("gateway gw.test") && !out.contains("NOT RUNNING"),
            "{out}"
        );
        assert!(out.contains("sessions open 0"), "{out}");
    }
    let json = tokio::task::block_in_place(|| status(&["-c", file], true));
    let doc: postern_gateway::api::model::Status = serde_json::from_slice(&json.stdout).unwrap();
    assert!(doc.running && doc.hostname == "gw.test", "{doc:?}");
    gw.shutdown(Duration::from_secs(5)).await;

    let stopped = status(&["-c", file], false);
    let err = text(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(3), "{err}");
    assert!(
        err.contains("not running") && err.contains("read from its spool files"),
        "{err}"
    );
    assert!(text(&stopped.stdout).contains("gateway gw.test"));
    assert!(text(&stopped.stdout).contains("NOT RUNNING"));
    let json = status(&["-c", file], true);
    assert_eq!(json.status.code(), Some(3));
    let doc: postern_gateway::api::model::Status = serde_json::from_slice(&json.stdout).unwrap();
    assert!(!doc.running, "{doc:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// With no gateway and not even a spool there is nothing to show: exit 69.
#[test]
fn status_without_a_gateway_or_spool() {
    let dir = temp_dir("nothing");
    let out = status(&["--data", dir.to_str().unwrap()], false);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(
        err.contains("not running") && err.contains("no spool"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `postern queue hold/release -c FILE` go through the admin API of a running gateway,
/// and straight to the spool files of a stopped one, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_changes_use_the_api_and_fall_back_to_the_files() {
    let dir = temp_dir("queue");
    let (file, config) = write_config(&dir);
    let file = file.to_str().unwrap().to_owned();
    let spool = dir.join("data").join("spool");
    let now = postern_queue::Timestamp::now();
    let (q, _) =
        postern_queue::Queue::open(&spool, postern_queue::QueueConfig::default(), now).unwrap();
    let id = q
        .enqueue(
            &postern_queue::Envelope::new("s@src.test", ["r@nowhere.test"], now),
            b"Subject: x\r\n\r\nx\r\n",
            now,
        )
        .unwrap()
        .to_string();
    drop(q);
    // Stopped: applied to the files, and said so.
    let out = postern(&["queue", "hold", "--all", "-c", &file]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no gateway answered"),
        "{}",
        text(&out.stderr)
    );

    let gw = Gateway::start(Config::from_toml_str(&config).unwrap())
        .await
        .unwrap();
    let out = tokio::task::block_in_place(|| postern(&["queue", "hold", &id, "-c", &file]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("gateway: "),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stderr).is_empty(), "{}", text(&out.stderr));
    let out =
        tokio::task::block_in_place(|| postern(&["queue", "release", &id, "-c", &file, "--json"]));
    let answer: postern_gateway::api::model::ActionResult =
        serde_json::from_slice(&out.stdout).unwrap();
    assert!(answer.message.contains("release"), "{answer:?}");
    let out = tokio::task::block_in_place(|| postern(&["queue", "hold", "0123", "-c", &file]));
    assert!(!out.status.success());
    // `route test --live` asks the same gateway's live table.
    let out = tokio::task::block_in_place(|| {
        postern(&[
            "route",
            "test",
            "x@localhost",
            "--live",
            "-c",
            &file,
            "--json",
        ])
    });
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let test: postern_gateway::api::model::RouteTest = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(test.candidates[0].connector, "local", "{test:?}");
    gw.shutdown(Duration::from_secs(5)).await;

    // `list --json` is the API's schema: still held by the `--all` of before.
    let out = postern(&["queue", "list", "--json", "-c", &file]);
    let page: postern_gateway::api::model::QueuePage = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page.total, 1, "{page:?}");
    assert_eq!(page.messages[0].id, id);
    assert_eq!(page.messages[0].state, "held", "{page:?}");
    assert_eq!(
        page.messages[0].recipients[0].waits_for.as_deref(),
        Some("held"),
        "{page:?}"
    );
    let out = postern(&["queue", "release", "--all", "-c", &file]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("directly"),
        "{}",
        text(&out.stderr)
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
    // With -c the directory is the config's [tracking] dir (DATA_DIR/tracking).
    let dir = temp_dir("track-config");
    let (file, _) = write_config(&dir);
    let out = postern(&["track", "trace", "<x@y>", "-c", file.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let want = dir.join("data").join("tracking");
    assert!(err.contains(want.to_str().unwrap()), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
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
