//! `postern queue summary` shows the spool's bytes, live and dead (issue 14 point 1), in
//! text and JSON, read from a real spool without locking it.

use std::process::Command;

use postern_queue::{Envelope, Spool, SpoolOptions, Timestamp};

fn summary(spool: &std::path::Path, json: bool) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_postern"));
    cmd.args(["queue", "summary", "--spool"]).arg(spool);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn summary_shows_live_and_dead_spool_bytes() {
    let dir = std::env::temp_dir().join(format!("postern-queue-summary-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (spool, _) = Spool::open(&dir, SpoolOptions::default()).unwrap();
    let ids: Vec<_> = (0..10)
        .map(|i| {
            let env = Envelope::new("a@x.test", ["b@y.test"], Timestamp(i));
            spool.enqueue(&env, &[b'z'; 1000], Timestamp(i)).unwrap()
        })
        .collect();
    for id in &ids[..6] {
        spool.remove(*id).unwrap();
    }
    let st = spool.stats();
    assert!(st.live_bytes > 4000 && st.dead_bytes() > 6000, "{st:?}");
    let text = summary(&dir, false);
    let want = format!(
        "spool: {} bytes in {} segment(s), {} live, {} dead",
        st.bytes,
        st.segments,
        st.live_bytes,
        st.dead_bytes()
    );
    assert!(text.starts_with(&want), "{text}");
    let json = summary(&dir, true);
    let want = format!(
        r#""spool":{{"segments":{},"bytes":{},"live_bytes":{},"dead_bytes":{}}}}}"#,
        st.segments,
        st.bytes,
        st.live_bytes,
        st.dead_bytes()
    );
    assert!(json.trim_end().ends_with(&want), "{json}");
    drop(spool);
    std::fs::remove_dir_all(&dir).unwrap();
}
