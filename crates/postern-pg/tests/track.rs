//! One tracking search over every node, against a real PostgreSQL (`POSTERN_PG_URL`;
//! skipped without it).

mod common;

use std::sync::Arc;

use postern_pg::{Db, PgSearch, PgSink, PgSinkConfig};
use postern_track::{Event, EventKind, EventSearch, EventSink, Filter, Text, Timestamp};

fn at(ms: i64) -> Timestamp {
    Timestamp::from_unix_ms(1_700_000_000_000 + ms).unwrap()
}

fn node_of(e: &postern_track::NodeEvent) -> String {
    e.node.as_ref().unwrap().to_str_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_events_of_two_nodes_are_searched_and_traced_as_one() {
    let Some(url) = common::url() else { return };
    common::fresh_schema(&url, "t_track").await;
    let db_a = Arc::new(
        Db::connect(&common::settings(&url, "t_track", "gw-a"))
            .await
            .unwrap(),
    );
    let db_b = Arc::new(
        Db::connect(&common::settings(&url, "t_track", "gw-b"))
            .await
            .unwrap(),
    );
    let a = PgSink::start(Arc::clone(&db_a), PgSinkConfig::default());
    let b = PgSink::start(Arc::clone(&db_b), PgSinkConfig::default());
    // Node a accepts the message; node b delivers it (after node a deferred it), and its
    // failure notice (a new queue id on node b) points back at the original.
    a.record(
        Event::new(at(0), EventKind::Received)
            .queue_id("Q1")
            .message_id("<m1@example.org>")
            .sender("Alice@Example.org")
            .recipient("bob@one.example")
            .recipient("Carol@two.example"),
    )
    .unwrap();
    a.record(
        Event::new(at(10), EventKind::Deferred)
            .queue_id("Q1")
            .message_id("<m1@example.org>")
            .recipient("bob@one.example"),
    )
    .unwrap();
    b.record(
        Event::new(at(20), EventKind::Sent)
            .queue_id("Q1")
            .message_id("<m1@example.org>")
            .recipient("bob@one.example"),
    )
    .unwrap();
    b.record(
        Event::new(at(30), EventKind::Failed)
            .queue_id("Q1")
            .message_id("<m1@example.org>")
            .recipient("carol@two.example"),
    )
    .unwrap();
    b.record(
        Event::new(at(40), EventKind::Received)
            .queue_id("Q2")
            .message_id("<ndr1@gw-b>")
            .related_queue_id("Q1")
            .recipient("alice@example.org"),
    )
    .unwrap();
    // Unrelated traffic, many events in batches.
    for i in 0..2_500 {
        let sink = if i % 2 == 0 { &a } else { &b };
        sink.record(
            Event::new(at(100 + i), EventKind::Received)
                .queue_id(format!("Z{i}"))
                .message_id(format!("<z{i}@example.net>"))
                .sender("bulk@example.net"),
        )
        .unwrap();
    }
    tokio::task::spawn_blocking(move || {
        a.flush().unwrap();
        b.flush().unwrap();
        assert_eq!(a.stats().written + b.stats().written, 2_505);
        assert_eq!(a.stats().dropped, 0);
    })
    .await
    .unwrap();

    let search = PgSearch::new(Arc::clone(&db_a), tokio::runtime::Handle::current());
    let s = search.clone();
    tokio::task::spawn_blocking(move || {
        // By message-id (with or without brackets): every hop, the node of each.
        let r = s
            .search(&Filter::new().message_id("m1@example.org"))
            .unwrap();
        let got: Vec<(EventKind, String)> = r
            .events
            .iter()
            .map(|e| (e.event.kind, node_of(e)))
            .collect();
        assert_eq!(
            got,
            vec![
                (EventKind::Received, "gw-a".into()),
                (EventKind::Deferred, "gw-a".into()),
                (EventKind::Sent, "gw-b".into()),
                (EventKind::Failed, "gw-b".into()),
            ]
        );
        assert!(!r.truncated);
        // The event comes back whole.
        assert_eq!(
            r.events[0].event.recipients,
            vec![
                Text::from("bob@one.example"),
                Text::from("Carol@two.example")
            ]
        );
        // By sender and recipient, ignoring ASCII case; by kind and time.
        let r = s
            .search(&Filter::new().sender("alice@EXAMPLE.org"))
            .unwrap();
        assert_eq!(r.events.len(), 1);
        let r = s
            .search(&Filter::new().recipient("carol@two.example"))
            .unwrap();
        assert_eq!(r.events.len(), 2);
        let r = s
            .search(&Filter::new().queue_id("Q1").kind(EventKind::Sent))
            .unwrap();
        assert_eq!(r.events.len(), 1);
        assert_eq!(node_of(&r.events[0]), "gw-b");
        let r = s
            .search(
                &Filter::new()
                    .sender("bulk@example.net")
                    .since(at(1_000))
                    .until(at(1_100)),
            )
            .unwrap();
        assert_eq!(r.events.len(), 100);
        assert!(
            s.search(&Filter::new().message_id("nobody@x"))
                .unwrap()
                .events
                .is_empty()
        );
        // Trace: the message, then its failure notice through the related queue id.
        let t = s.trace(&Text::from("<m1@example.org>")).unwrap();
        let kinds: Vec<(EventKind, String)> = t
            .events
            .iter()
            .map(|e| (e.event.kind, node_of(e)))
            .collect();
        assert_eq!(kinds.len(), 5);
        assert_eq!(kinds[4], (EventKind::Received, "gw-b".to_string()));
        assert_eq!(t.queue_ids, vec![Text::from("Q1"), Text::from("Q2")]);
        assert_eq!(
            t.message_ids,
            vec![Text::from("m1@example.org"), Text::from("ndr1@gw-b")]
        );
        assert!(!t.truncated);
    })
    .await
    .unwrap();
    // A limit on results says the answer is cut.
    let mut limits = postern_track::ReadLimits::default();
    limits.max_results = 10;
    let s = search.limits(limits);
    tokio::task::spawn_blocking(move || {
        let r = s.search(&Filter::new().sender("bulk@example.net")).unwrap();
        assert_eq!(r.events.len(), 10);
        assert!(r.truncated);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_fails_the_flush_and_the_search_with_the_backend_named() {
    let Some(url) = common::url() else { return };
    common::fresh_schema(&url, "t_track_lost").await;
    let proxy = common::Proxy::start(common::host_port(&url)).await;
    let mut s = common::settings(&common::via(&url, proxy.addr), "t_track_lost", "gw-a");
    s.timeout = std::time::Duration::from_secs(2);
    let db = Arc::new(Db::connect(&s).await.unwrap());
    let sink = PgSink::start(Arc::clone(&db), PgSinkConfig::default());
    let search = PgSearch::new(db, tokio::runtime::Handle::current());
    proxy.cut();
    sink.record(Event::new(at(0), EventKind::Received).queue_id("Q"))
        .unwrap();
    tokio::task::spawn_blocking(move || {
        let e = sink.flush().unwrap_err();
        assert!(e.to_string().starts_with("postgres tracking:"), "{e}");
        assert!(sink.stats().write_errors >= 1);
        let e = search.search(&Filter::new().queue_id("Q")).unwrap_err();
        assert!(e.to_string().contains("unavailable"), "{e}");
    })
    .await
    .unwrap();
}
