//! The shared queue against a real PostgreSQL (`POSTERN_PG_URL`; skipped without it).

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use postern_pg::{LeaseLost, PgError, PgQueue, PgQueueConfig};
use postern_queue::{
    Envelope, FailReason, FailureClass, Outcome, RecipientState, Target, Timestamp,
};

const H: u64 = 3_600_000;

fn deferred(class: FailureClass) -> Outcome {
    Outcome::Deferred {
        class,
        reply: "451 4.7.1 later".into(),
    }
}

fn config(schema: &str) -> PgQueueConfig {
    let mut c = PgQueueConfig::default();
    c.lease = Duration::from_secs(300);
    // A channel of its own: notifications are database-wide, tests run side by side.
    c.channel = format!("q_{schema}");
    c
}

/// Node `node` of the cluster in `schema`.
async fn node(url: &str, schema: &str, node: &str) -> PgQueue {
    PgQueue::open(&common::settings(url, schema, node), config(schema))
        .await
        .expect("open queue")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_lease_report_round_trip() {
    let Some(url) = common::url() else { return };
    common::fresh_schema(&url, "t_round").await;
    let q = node(&url, "t_round", "a").await;
    let t0 = Timestamp(1_000 * H);
    let env = Envelope::new("s@x.example", ["r1@one.example", "r2@two.example"], t0);
    let id = q
        .enqueue(&env, b"Subject: hi\r\n\r\nbody\r\n", t0)
        .await
        .unwrap();
    assert_eq!(
        &q.body(id).await.unwrap()[..],
        b"Subject: hi\r\n\r\nbody\r\n"
    );
    let m = q.message(id).await.unwrap().expect("stored");
    assert_eq!(m.envelope, env);
    assert_eq!(m.size, 21);

    let d = q.due(t0, 10).await.unwrap();
    assert_eq!(d.len(), 2, "one attempt per destination");
    assert!(q.due(t0, 10).await.unwrap().is_empty(), "both leased");
    let (one, two) = (&d[0], &d[1]);
    let (one, two) = if one.destination == "one.example" {
        (one, two)
    } else {
        (two, one)
    };
    let r = q
        .report(one, &[(0, Outcome::Delivered("250 ok".into()))], t0)
        .await
        .unwrap()
        .unwrap();
    assert!(!r.completed);
    // A 4xx to RCPT: the recipient's own schedule (IMS default: 1 h), no backoff.
    q.report(two, &[(1, deferred(FailureClass::Recipient))], t0)
        .await
        .unwrap()
        .unwrap();
    assert!(q.backoff_entries(t0).await.unwrap().is_empty());
    let next = q.next_wakeup().await.unwrap();
    assert_eq!(next, Some(Timestamp(t0.0 + H)));
    assert!(q.due(Timestamp(t0.0 + H - 1), 10).await.unwrap().is_empty());
    let st = q.message(id).await.unwrap().unwrap().state;
    assert!(matches!(st.recipients[0], RecipientState::Delivered { .. }));
    assert_eq!(st.recipients[1].attempts(), 1);

    let d = q.due(Timestamp(t0.0 + H), 10).await.unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].recipients[0].address, "r2@two.example");
    let r = q
        .report(
            &d[0],
            &[(1, Outcome::Delivered("250 ok".into()))],
            Timestamp(t0.0 + H),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(r.completed);
    assert!(q.message(id).await.unwrap().is_none());
    assert!(matches!(q.body(id).await, Err(PgError::NotFound(_))));
    assert!(q.is_empty().await.unwrap());
    assert_eq!(q.next_wakeup().await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_never_lease_the_same_message() {
    let Some(url) = common::url() else { return };
    common::fresh_schema(&url, "t_two").await;
    let a = Arc::new(node(&url, "t_two", "a").await);
    let b = Arc::new(node(&url, "t_two", "b").await);
    let t0 = Timestamp(10 * H);
    let mut ids = HashSet::new();
    for i in 0..300 {
        let q = if i % 2 == 0 { &a } else { &b };
        let env = Envelope::new("s@x", [format!("r{i}@d{}.example", i % 7)], t0);
        assert!(
            ids.insert(q.enqueue(&env, b"x", t0).await.unwrap()),
            "ids unique across nodes"
        );
    }
    // Both nodes take work at the same time, in small bites, until none is left.
    let take = |q: Arc<PgQueue>| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let d = q.due(t0, 7).await.unwrap();
                if d.is_empty() {
                    break got;
                }
                got.extend(d);
            }
        })
    };
    let (ga, gb) = (take(Arc::clone(&a)), take(Arc::clone(&b)));
    let (ga, gb) = (ga.await.unwrap(), gb.await.unwrap());
    let mut seen = HashSet::new();
    for d in ga.iter().chain(&gb) {
        assert!(seen.insert(d.id), "{} leased twice", d.id);
    }
    assert_eq!(seen, ids, "every message leased once");
    assert!(!ga.is_empty() && !gb.is_empty(), "both nodes took work");
    for d in &ga {
        a.report(d, &[(0, Outcome::Delivered("250".into()))], t0)
            .await
            .unwrap()
            .unwrap();
    }
    for d in &gb {
        b.report(d, &[(0, Outcome::Delivered("250".into()))], t0)
            .await
            .unwrap()
            .unwrap();
    }
    assert!(a.is_empty().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_taken_over() {
    let Some(url) = common::url() else { return };
    common::fresh_schema(&url, "t_lease").await;
    let a = node(&url, "t_lease", "a").await;
    let b = node(&url, "t_lease", "b").await;
    let t0 = Timestamp(10 * H);
    let id = a
        .enqueue(&Envelope::new("s@x", ["r@d.example"], t0), b"x", t0)
        .await
        .unwrap();
    let da = a.due(t0, 10).await.unwrap();
    assert_eq!(da.len(), 1);
    // Node a "dies" mid-delivery. Until its lease ends nobody else takes the message...
    let lease_end = Timestamp(t0.0 + 300_000);
    assert!(
        b.due(Timestamp(lease_end.0 - 1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(b.next_wakeup().await.unwrap(), Some(lease_end));
    // ...then node b does.
    let db = b.due(lease_end, 10).await.unwrap();
    assert_eq!(db.len(), 1);
    assert_eq!(db[0].id, id);
    // Node a comes back and reports late: refused, the job is b's now.
    let late = a
        .report(&da[0], &[(0, Outcome::Delivered("250".into()))], lease_end)
        .await
        .unwrap();
    assert_eq!(late, Err(LeaseLost(id)));
    assert_eq!(a.lost_leases(), 1);
    assert!(
        a.message(id).await.unwrap().is_some(),
        "a's late report changed nothing"
    );
    let r = b
        .report(&db[0], &[(0, Outcome::Delivered("250".into()))], lease_end)
        .await
        .unwrap()
        .unwrap();
    assert!(r.completed);
}

/// Node `node` of the cluster in `schema` with a one-second lease (renewed each third).
async fn short_lease_node(url: &str, schema: &str, node: &str) -> PgQueue {
    let mut c = config(schema);
    c.lease = Duration::from_secs(1);
    PgQueue::open(&common::settings(url, schema, node), c)
        .await
        .expect("open queue")
}

/// The wall clock, as the gateway's queue calls see it.
fn wall() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    Timestamp(u64::try_from(ms).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_node_keeps_a_delivery_longer_than_the_lease() {
    let Some(url) = common::url() else { return };
    common::fresh_schema(&url, "t_renew").await;
    let a = short_lease_node(&url, "t_renew", "a").await;
    let b = short_lease_node(&url, "t_renew", "b").await;
    let t0 = wall();
    let id = a
        .enqueue(&Envelope::new("s@x", ["r@d.example"], t0), b"x", t0)
        .await
        .unwrap();
    let da = a.due(wall(), 10).await.unwrap();
    assert_eq!(da.len(), 1);
    assert_eq!(a.leases().len(), 1);
    // The delivery takes three leases' time; node a lives and renews meanwhile.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            b.due(wall(), 10).await.unwrap().is_empty(),
            "b took over a job a still works on"
        );
    }
    assert!(
        a.leases().renewed() >= 2,
        "renewed {}",
        a.leases().renewed()
    );
    let r = a
        .report(&da[0], &[(0, Outcome::Delivered("250".into()))], wall())
        .await
        .unwrap()
        .expect("still a's lease");
    assert!(r.completed);
    assert_eq!(a.lost_leases(), 0);
    assert!(a.leases().is_empty());
    assert!(a.message(id).await.unwrap().is_none(), "delivered once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_renewing_loses_its_work() {
    let Some(url) = common::url() else { return };
    common::fresh_schema(&url, "t_dead").await;
    let a = short_lease_node(&url, "t_dead", "a").await;
    let b = short_lease_node(&url, "t_dead", "b").await;
    let t0 = wall();
    let id = a
        .enqueue(&Envelope::new("s@x", ["r@d.example"], t0), b"x", t0)
        .await
        .unwrap();
    assert_eq!(a.due(wall(), 10).await.unwrap().len(), 1);
    assert!(
        b.due(wall(), 10).await.unwrap().is_empty(),
        "a's lease holds"
    );
    // Node a dies: its renewal stops with it.
    drop(a);
    let mut taken = Vec::new();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        taken = b.due(wall(), 10).await.unwrap();
        if !taken.is_empty() {
            break;
        }
    }
    assert_eq!(taken.len(), 1, "b never took the dead node's work over");
    assert_eq!(taken[0].id, id);
    let r = b
        .report(&taken[0], &[(0, Outcome::Delivered("250".into()))], wall())
        .await
        .unwrap()
        .unwrap();
    assert!(r.completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_release_retry_delete_and_shared_backoff() {
    let Some(url) = common::url() else { return };
    common::fresh_schema(&url, "t_admin").await;
    let q = node(&url, "t_admin", "a").await;
    let other = node(&url, "t_admin", "b").await;
    let t0 = Timestamp(5 * H);
    let a = q
        .enqueue(&Envelope::new("s@x", ["r@a"], t0), b"1", t0)
        .await
        .unwrap();
    let b = q
        .enqueue(&Envelope::new("s@x", ["r@b"], t0), b"2", t0)
        .await
        .unwrap();
    let c = q
        .enqueue(&Envelope::new("s@x", ["r@c"], t0), b"3", t0)
        .await
        .unwrap();
    assert_eq!(q.hold(&Target::Message(a)).await.unwrap(), 1);
    q.hold(&Target::Destination("b".into())).await.unwrap();
    assert_eq!(q.holds().await.unwrap(), (false, vec!["b".to_string()]));
    // The holds are the cluster's: the other node sees them.
    let d = other.due(t0, 10).await.unwrap();
    assert_eq!(d.iter().map(|d| d.id).collect::<Vec<_>>(), vec![c]);
    // The destination does not answer: backed off for every node.
    other
        .report(&d[0], &[(0, deferred(FailureClass::Connection))], t0)
        .await
        .unwrap()
        .unwrap();
    let entries = q.backoff_entries(t0).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].0, "c");
    assert_eq!(entries[0].1.failures, 1);
    assert_eq!(
        entries[0].1.until,
        Timestamp(t0.0 + 60_000),
        "the default 1 min"
    );
    let st = q.message(c).await.unwrap().unwrap().state;
    assert_eq!(
        st.recipients[0].attempts(),
        0,
        "waiting for a destination burns no retry"
    );
    assert!(
        q.due(Timestamp(t0.0 + 59_999), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // ETRN-style retry of the destination: backoff cleared, due now.
    assert_eq!(
        q.retry(&Target::Destination("c".into()), t0).await.unwrap(),
        1
    );
    assert!(q.backoff_entries(t0).await.unwrap().is_empty());
    let d = q.due(t0, 10).await.unwrap();
    assert_eq!(d.iter().map(|d| d.id).collect::<Vec<_>>(), vec![c]);
    // Backed off again, then cleared by an administrator.
    q.report(&d[0], &[(0, deferred(FailureClass::Connection))], t0)
        .await
        .unwrap()
        .unwrap();
    assert!(
        q.clear_backoff("C", t0).await.unwrap(),
        "destinations ignore case"
    );
    assert!(!q.clear_backoff("c", t0).await.unwrap());
    q.retry(&Target::Message(c), t0).await.unwrap();
    let d = q.due(t0, 10).await.unwrap();
    assert_eq!(d.len(), 1);
    q.report(&d[0], &[], t0).await.unwrap().unwrap();
    q.delete(c).await.unwrap();
    assert!(matches!(q.delete(c).await, Err(PgError::NotFound(_))));
    assert!(matches!(
        q.hold(&Target::Message(c)).await,
        Err(PgError::NotFound(_))
    ));
    // Hold everything, release one destination: still all held.
    q.hold(&Target::All).await.unwrap();
    q.release(&Target::Destination("b".into())).await.unwrap();
    assert!(q.due(t0, 10).await.unwrap().is_empty(), "hold all");
    assert_eq!(q.next_wakeup().await.unwrap(), None);
    // Releasing all releases the message hold too.
    q.release(&Target::All).await.unwrap();
    let mut ids: Vec<_> = q
        .due(t0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    ids.sort();
    assert_eq!(ids, vec![a, b]);
    assert!(!q.message(a).await.unwrap().unwrap().state.held);
    assert_eq!(q.summary(t0).await.unwrap().messages, 2);
    assert_eq!(q.len().await.unwrap(), 2);
    // Administrative commands answer as the local queue does.
    let ans = q
        .apply(&postern_queue::Command::Delete(Target::Message(b)), t0)
        .await
        .unwrap();
    assert_eq!(ans, format!("deleted {b}"));
    // Shared settings (the transfer mode) are the cluster's.
    assert_eq!(q.setting("transfer_mode").await.unwrap(), None);
    q.set_setting("transfer_mode", "none").await.unwrap();
    assert_eq!(
        other.setting("transfer_mode").await.unwrap().as_deref(),
        Some("none")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_follow_the_policy_until_the_time_out() {
    let Some(url) = common::url() else { return };
    common::fresh_schema(&url, "t_expire").await;
    let q = node(&url, "t_expire", "a").await;
    let t0 = Timestamp(1_000 * H);
    q.enqueue(&Envelope::new("s@x", ["r@dest"], t0), b"hi", t0)
        .await
        .unwrap();
    let mut now = t0;
    let mut times = Vec::new();
    let mut notices = Vec::new();
    loop {
        let d = q.due(now, 10).await.unwrap();
        assert_eq!(d.len(), 1, "due at {now}");
        let r = q
            .report(&d[0], &[(0, deferred(FailureClass::Recipient))], now)
            .await
            .unwrap()
            .unwrap();
        if !q.take_delay_notices(now).await.unwrap().0.is_empty() {
            notices.push(now.0 - t0.0);
        }
        if r.completed {
            assert_eq!(r.failed[0].reason, FailReason::Expired);
            break;
        }
        now = q.next_wakeup().await.unwrap().unwrap();
        times.push(now.0 - t0.0);
    }
    // The IMS default, as on one node: 1 h × 1.5 …, expiry at 48 h.
    let want: Vec<u64> = [1.0, 2.5, 4.75, 8.125, 13.1875, 20.78125, 32.171875]
        .iter()
        .map(|h| (h * H as f64).round() as u64)
        .chain([48 * H])
        .collect();
    assert_eq!(times, want);
    assert_eq!(
        notices,
        vec![want[2]],
        "one delay notice, at the first look after 4 h"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notify_wakes_the_other_node() {
    let Some(url) = common::url() else { return };
    common::fresh_schema(&url, "t_notify").await;
    let a = node(&url, "t_notify", "a").await;
    let b = node(&url, "t_notify", "b").await;
    // The wake-up every listener gives when it starts listening.
    tokio::time::timeout(Duration::from_secs(10), b.wait_wakeup())
        .await
        .expect("initial wake-up");
    let waiting = tokio::spawn(async move {
        b.wait_wakeup().await;
        b
    });
    let t0 = Timestamp(H);
    a.enqueue(&Envelope::new("s@x", ["r@d"], t0), b"x", t0)
        .await
        .unwrap();
    let b = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("node b woken by node a's enqueue")
        .unwrap();
    assert_eq!(b.due(t0, 10).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_is_unavailable_and_nothing_is_half_written() {
    let Some(url) = common::url() else { return };
    common::fresh_schema(&url, "t_lost").await;
    let proxy = common::Proxy::start(common::host_port(&url)).await;
    let mut s = common::settings(&common::via(&url, proxy.addr), "t_lost", "a");
    s.timeout = Duration::from_secs(3);
    let q = PgQueue::open(&s, config("t_lost")).await.unwrap();
    let t0 = Timestamp(H);
    q.enqueue(&Envelope::new("s@x", ["r@d"], t0), b"kept", t0)
        .await
        .unwrap();
    proxy.cut();
    let e = q
        .enqueue(&Envelope::new("s@x", ["r@d"], t0), b"lost", t0)
        .await
        .unwrap_err();
    assert!(e.is_unavailable(), "{e}");
    assert!(q.due(t0, 10).await.unwrap_err().is_unavailable());
    assert!(q.messages().await.unwrap_err().is_unavailable());
    // The database itself holds the first message whole and nothing of the second.
    let peek = common::peek(&url, "t_lost").await;
    let n: i64 = peek
        .query_one("SELECT count(*) FROM postern_messages", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    let body: Vec<u8> = peek
        .query_one("SELECT body FROM postern_bodies", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(body, b"kept");
    let jobs: i64 = peek
        .query_one("SELECT count(*) FROM postern_jobs", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(jobs, 1);
    // Opening a queue on a database that does not answer fails the same way.
    let e = PgQueue::open(&s, config("t_lost")).await.unwrap_err();
    assert!(e.is_unavailable(), "{e}");
}
