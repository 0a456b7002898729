//! The admin API (`/api/v1/…`) over a real socket: every endpoint, the token on writes,
//! JSON errors with their status codes. Each test runs a gateway on 127.0.0.1 whose
//! `remote.test` and `other.test` connector points at a closed port, and whose
//! `localhost` is delivered into Maildir folders. It starts in transfer mode "inbound",
//! so mail for the closed port stays queued, pending, until a test lets it go.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use postern_gateway::api::client::{Client, Endpoint};
use postern_gateway::api::model::{
    ActionResult, Connectors, QueuePage, QueuedMessage, RouteTest, Status, TrackSearch, TrackTrace,
    TransferModeBody,
};
use postern_gateway::{Config, Gateway};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Harness {
    gw: Gateway,
    dir: PathBuf,
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

async fn start(tag: &str, extra: &str) -> Harness {
    let dir = common::temp_dir("admin_api", tag);
    let text = format!(
        "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n\
         [security]\nrelay_networks = [\"127.0.0.1/32\"]\n\
         [retry]\nintervals = [\"1h\"]\npoll_interval = \"100ms\"\n\
         [transfer]\nmode = \"inbound\"\n\
         [[connector]]\nname = \"local\"\nkind = \"maildir\"\n\
         [[connector.address_space]]\npattern = \"localhost\"\n\
         [[connector]]\nname = \"out\"\nsmart_hosts = [\"127.0.0.1:{}\"]\n\
         [[connector.address_space]]\npattern = \"remote.test\"\n\
         [[connector.address_space]]\npattern = \"other.test\"\n{extra}",
        dir.display(),
        closed_port()
    );
    let gw = Gateway::start(Config::from_toml_str(&text).unwrap())
        .await
        .unwrap();
    Harness { gw, dir }
}

impl Harness {
    fn token(&self) -> String {
        std::fs::read_to_string(self.dir.join("admin.token"))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn client(&self, token: Option<String>) -> Client {
        Client::new(Endpoint::Tcp(self.gw.admin_addr().unwrap()), token)
    }

    /// A request with the token; the status and the JSON body.
    async fn call(&self, method: &'static str, path: &str, body: Option<Value>) -> (u16, Value) {
        call(self.client(Some(self.token())), method, path, body).await
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let (code, v) = self.call("GET", path, None).await;
        assert_eq!(code, 200, "GET {path}: {v}");
        serde_json::from_value(v).unwrap()
    }

    async fn post<T: serde::de::DeserializeOwned>(&self, path: &str, body: Value) -> T {
        let (code, v) = self.call("POST", path, Some(body)).await;
        assert_eq!(code, 200, "POST {path}: {v}");
        serde_json::from_value(v).unwrap()
    }

    async fn queue(&self, query: &str) -> QueuePage {
        self.get(&format!("/api/v1/queue{query}")).await
    }

    async fn stop(self) {
        self.gw.shutdown(Duration::from_secs(5)).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One request through the blocking client (off the runtime).
async fn call(c: Client, method: &'static str, path: &str, body: Option<Value>) -> (u16, Value) {
    let path = path.to_owned();
    let (code, raw) = tokio::task::spawn_blocking(move || {
        let body = body.map(|b| serde_json::to_vec(&b).unwrap());
        c.request(method, &path, body.as_deref())
    })
    .await
    .unwrap()
    .unwrap();
    let v = serde_json::from_slice(&raw)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned()));
    (code, v)
}

/// Asserts an error answer: `code`, and a JSON body `{"error": …, "status": code}`.
fn assert_error((code, v): &(u16, Value), want: u16) {
    assert_eq!(*code, want, "{v}");
    assert_eq!(v["status"], json!(want), "{v}");
    assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
}

/// Sends one message over SMTP.
async fn mail(h: &Harness, from: &str, to: &[&str], id: &str) {
    let s = TcpStream::connect(h.gw.local_addrs()[0]).await.unwrap();
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    let mut lines = vec!["EHLO c.test".to_owned(), format!("MAIL FROM:<{from}>")];
    lines.extend(to.iter().map(|t| format!("RCPT TO:<{t}>")));
    lines.push("DATA".into());
    lines.push(format!(
        "Subject: {id}\r\nMessage-ID: <{id}@c.test>\r\n\r\nbody\r\n."
    ));
    lines.push("QUIT".into());
    let mut last = String::new();
    read_reply(&mut r, &mut last).await;
    for l in lines {
        w.write_all(format!("{l}\r\n").as_bytes()).await.unwrap();
        read_reply(&mut r, &mut last).await;
        assert!(
            !last.starts_with('5') && !last.starts_with('4'),
            "{l}: {last}"
        );
    }
}

async fn read_reply(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, last: &mut String) {
    loop {
        last.clear();
        r.read_line(last).await.unwrap();
        if last.as_bytes().get(3) != Some(&b'-') {
            return;
        }
    }
}

/// The first recipient of queued message `id`.
async fn recipient(h: &Harness, id: &str) -> postern_gateway::api::model::QueuedRecipient {
    let m: QueuedMessage = h.get(&format!("/api/v1/queue/{id}")).await;
    m.recipients[0].clone()
}

/// Waits until the queue holds `n` messages.
async fn settled(h: &Harness, n: usize) -> QueuePage {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let page = h.queue("").await;
        let done = page.total == n;
        if done || Instant::now() > end {
            assert!(done, "{page:?}");
            return page;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_and_lists_connectors() {
    let h = start("status", "").await;
    mail(&h, "jo@c.test", &["al@localhost"], "s1").await;
    let status: Status = h.get("/api/v1/status").await;
    assert!(status.running);
    assert_eq!(status.hostname, "gw.test");
    assert_eq!(status.transfer_mode, "inbound");
    assert_eq!(status.counters.messages_accepted_total, 1, "{status:?}");
    assert_eq!(status.counters.sessions_total, 1, "{status:?}");
    let names: Vec<&str> = status.connectors.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["local", "out"]);
    let c: Connectors = h.get("/api/v1/connectors").await;
    assert_eq!(c.connectors, status.connectors);
    assert!(c.connectors.iter().all(|c| c.up), "{c:?}");
    // The gateway says where its API is, for the command line.
    let addr = std::fs::read_to_string(h.dir.join("admin.address")).unwrap();
    assert_eq!(addr.trim(), h.gw.admin_addr().unwrap().to_string());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_list_show_filters_and_paging() {
    let h = start("queue", "").await;
    mail(&h, "one@c.test", &["far@remote.test"], "q1").await;
    mail(&h, "two@c.test", &["Far@Remote.test", "x@other.test"], "q2").await;
    mail(&h, "three@c.test", &["near@other.test"], "q3").await;
    let all = settled(&h, 3).await;
    let senders: Vec<&str> = all.messages.iter().map(|m| m.sender.as_str()).collect();
    assert_eq!(senders, ["one@c.test", "two@c.test", "three@c.test"]);
    assert!(all.messages.iter().all(|m| m.state == "pending"), "{all:?}");
    let r = &all.messages[0].recipients[0];
    assert_eq!((r.state.as_str(), r.attempts), ("pending", 0), "{r:?}");
    assert_eq!((r.next_attempt_ms, &r.last_reply), (None, &None), "{r:?}");
    let by =
        |q: &QueuePage| -> Vec<String> { q.messages.iter().map(|m| m.sender.clone()).collect() };
    assert_eq!(by(&h.queue("?sender=TWO").await), ["two@c.test"]);
    assert_eq!(
        by(&h.queue("?destination=other.test").await),
        ["two@c.test", "three@c.test"]
    );
    assert_eq!(
        by(&h.queue("?recipient=far%40remote").await),
        ["one@c.test", "two@c.test"]
    );
    assert_eq!(
        by(&h.queue("?state=pending&sender=three").await),
        ["three@c.test"]
    );
    assert!(h.queue("?state=deferred").await.messages.is_empty());
    assert!(h.queue("?state=held").await.messages.is_empty());
    let page = h.queue("?limit=1&offset=1").await;
    assert_eq!((page.total, page.offset), (3, 1));
    assert_eq!(by(&page), ["two@c.test"]);
    // Show one.
    let id = &all.messages[1].id;
    let one: QueuedMessage = h.get(&format!("/api/v1/queue/{id}")).await;
    assert_eq!(&one, &all.messages[1]);
    assert_eq!(one.recipients.len(), 2);
    // Errors.
    assert_error(&h.call("GET", "/api/v1/queue?state=stuck", None).await, 400);
    assert_error(&h.call("GET", "/api/v1/queue?limit=many", None).await, 400);
    assert_error(&h.call("GET", "/api/v1/queue/not-an-id", None).await, 400);
    let _: ActionResult = h
        .post("/api/v1/queue/actions/delete", json!({"id": id}))
        .await;
    assert_error(
        &h.call("GET", &format!("/api/v1/queue/{id}"), None).await,
        404,
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_the_token() {
    let h = start("token", "").await;
    // Created by the gateway, readable by its user only.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(h.dir.join("admin.token"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(h.token().len(), 64);
    let body = Some(json!({"mode": "none"}));
    for token in [
        None,
        Some("wrong".to_owned()),
        Some(format!("{}x", h.token())),
    ] {
        let c = h.client(token);
        let r = call(c, "PUT", "/api/v1/transfer-mode", body.clone()).await;
        assert_error(&r, 401);
    }
    assert_eq!(h.gw.context().transfer_mode().name(), "inbound");
    // Reads are open on loopback.
    let (code, _) = call(h.client(None), "GET", "/api/v1/transfer-mode", None).await;
    assert_eq!(code, 200);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_release_retry_delete_by_message_destination_and_all() {
    let h = start("actions", "").await;
    mail(&h, "one@c.test", &["a@remote.test"], "a1").await;
    mail(&h, "two@c.test", &["b@other.test"], "a2").await;
    mail(&h, "three@c.test", &["c@other.test"], "a3").await;
    let all = settled(&h, 3).await;
    let first = all.messages[0].id.clone();
    let act = |action: &str| format!("/api/v1/queue/actions/{action}");
    // One message.
    let r: ActionResult = h.post(&act("hold"), json!({"id": first})).await;
    assert!(r.message.starts_with("held"), "{r:?}");
    let held = h.queue("?state=held").await;
    assert_eq!(held.messages.len(), 1);
    assert_eq!(held.messages[0].id, first);
    let _: ActionResult = h.post(&act("release"), json!({"id": first})).await;
    assert!(h.queue("?state=held").await.messages.is_empty());
    // A destination.
    let _: ActionResult = h
        .post(&act("hold"), json!({"destination": "other.test"}))
        .await;
    let held = h.queue("?state=held").await;
    assert_eq!(held.total, 2, "{held:?}");
    let status: Status = h.get("/api/v1/status").await;
    assert_eq!(status.queue.held_destinations, ["other.test"]);
    let _: ActionResult = h
        .post(&act("release"), json!({"destination": "other.test"}))
        .await;
    // Everything.
    let _: ActionResult = h.post(&act("hold"), json!({"all": true})).await;
    assert_eq!(h.queue("?state=held").await.total, 3);
    let _: ActionResult = h.post(&act("release"), json!({"all": true})).await;
    assert_eq!(h.queue("?state=held").await.total, 0);
    // Retry (that a retry makes an attempt: `etrn_retries_a_destination_now`).
    let r: ActionResult = h.post(&act("retry"), json!({"id": first})).await;
    assert!(
        r.message.starts_with(&format!("retry message {first}")),
        "{r:?}"
    );
    let r: ActionResult = h
        .post(&act("retry"), json!({"destination": "other.test"}))
        .await;
    assert!(r.message.contains("other.test"), "{r:?}");
    let r: ActionResult = h.post(&act("retry"), json!({"all": true})).await;
    assert!(r.message.starts_with("retry"), "{r:?}");
    // Delete: one, a destination, all.
    let _: ActionResult = h.post(&act("delete"), json!({"id": first})).await;
    assert_eq!(h.queue("").await.total, 2);
    let r: ActionResult = h
        .post(&act("delete"), json!({"destination": "other.test"}))
        .await;
    assert!(r.message.starts_with("deleted 2"), "{r:?}");
    assert_eq!(h.queue("").await.total, 0);
    mail(&h, "four@c.test", &["d@remote.test"], "a4").await;
    let r: ActionResult = h.post(&act("delete"), json!({"all": true})).await;
    assert!(r.message.starts_with("deleted 1"), "{r:?}");
    assert_eq!(h.queue("").await.total, 0);
    // Bad requests.
    assert_error(&h.call("POST", &act("hold"), Some(json!({}))).await, 400);
    let two = json!({"id": first, "all": true});
    assert_error(&h.call("POST", &act("hold"), Some(two)).await, 400);
    assert_error(&h.call("POST", &act("hold"), Some(json!("x"))).await, 400);
    assert_error(
        &h.call("POST", &act("hold"), Some(json!({"id": first})))
            .await,
        404,
    );
    assert_error(
        &h.call("POST", &act("bounce"), Some(json!({"all": true})))
            .await,
        404,
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_mode_get_and_set() {
    let h = start("mode", "").await;
    let m: TransferModeBody = h.get("/api/v1/transfer-mode").await;
    assert_eq!(m.mode, "inbound");
    let (code, v) = h
        .call(
            "PUT",
            "/api/v1/transfer-mode",
            Some(json!({"mode": "both"})),
        )
        .await;
    assert_eq!((code, v), (200, json!({"mode": "both"})));
    assert_eq!(h.gw.context().transfer_mode().name(), "both");
    let m: TransferModeBody = h.get("/api/v1/transfer-mode").await;
    assert_eq!(m.mode, "both");
    let bad = Some(json!({"mode": "sideways"}));
    assert_error(&h.call("PUT", "/api/v1/transfer-mode", bad).await, 400);
    assert_eq!(h.gw.context().transfer_mode().name(), "both");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_needs_a_serve_loop() {
    // `Gateway::start` alone has no configuration file to re-read (`postern serve` has:
    // tests/gateway_reload.rs in the root package reloads through the API).
    let h = start("reload", "").await;
    assert_error(&h.call("POST", "/api/v1/reload", None).await, 503);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etrn_retries_a_destination_now() {
    let h = start("etrn", "").await;
    mail(&h, "one@c.test", &["a@remote.test"], "e1").await;
    let all = settled(&h, 1).await;
    let id = &all.messages[0].id;
    h.gw.context()
        .set_transfer_mode(postern_gateway::config::TransferMode::Both);
    h.gw.context().wake.notify_one();
    // The first attempt fails (closed port): deferred for an hour, the connector down.
    let end = Instant::now() + Duration::from_secs(15);
    let first = loop {
        let r = recipient(&h, id).await;
        if r.state == "deferred" {
            break r;
        }
        assert!(Instant::now() < end, "no first attempt: {r:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let c: Connectors = h.get("/api/v1/connectors").await;
    assert!(!c.connectors[1].up, "{c:?}");
    // ETRN: tried again now (a new deferral, a new next attempt), the connector up again.
    let r: ActionResult = h
        .post("/api/v1/etrn", json!({"destination": "Remote.Test"}))
        .await;
    assert!(r.message.contains("remote.test"), "{r:?}");
    loop {
        let r = recipient(&h, id).await;
        if r.next_attempt_ms != first.next_attempt_ms {
            break;
        }
        assert!(Instant::now() < end, "ETRN made no attempt: {r:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let bad = Some(json!({"destination": "a@b"}));
    assert_error(&h.call("POST", "/api/v1/etrn", bad).await, 400);
    let none = h.call("POST", "/api/v1/connectors/nope/etrn", None).await;
    assert_error(&none, 404);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_test_uses_the_live_table() {
    let h = start("route", "").await;
    let r: RouteTest = h.get("/api/v1/route?address=jo%40remote.test").await;
    assert_eq!(r.candidates[0].connector, "out", "{r:?}");
    assert_eq!(r.candidates[0].pattern, "remote.test");
    assert!(r.candidates[0].up);
    let r: RouteTest = h.get("/api/v1/route?address=jo%40localhost").await;
    assert_eq!(r.candidates[0].connector, "local", "{r:?}");
    let r: RouteTest = h.get("/api/v1/route?address=jo%40nowhere.test").await;
    assert!(r.candidates.is_empty() && r.unroutable.is_some(), "{r:?}");
    assert_error(
        &h.call("GET", "/api/v1/route?address=nobody", None).await,
        400,
    );
    assert_error(&h.call("GET", "/api/v1/route", None).await, 400);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_search_and_trace() {
    let h = start("track", "").await;
    h.gw.context()
        .set_transfer_mode(postern_gateway::config::TransferMode::Both);
    mail(&h, "jo@c.test", &["al@localhost"], "t1").await;
    let end = Instant::now() + Duration::from_secs(15);
    let found = loop {
        if let Some(t) = &h.gw.context().tracker {
            t.flush().unwrap();
        }
        let found: TrackSearch = h.get("/api/v1/track/search?sender=jo%40c.test").await;
        if found.events.iter().any(|e| e.kind == "delivered") || Instant::now() > end {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let kinds: Vec<&str> = found.events.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.contains(&"received") && kinds.contains(&"delivered"),
        "{kinds:?}"
    );
    let by_kind: TrackSearch = h.get("/api/v1/track/search?kind=delivered").await;
    assert!(by_kind.events.iter().all(|e| e.kind == "delivered"));
    assert_eq!(by_kind.events[0].recipients, ["al@localhost"]);
    let trace: TrackTrace = h
        .get("/api/v1/track/trace?message_id=%3Ct1%40c.test%3E")
        .await;
    assert_eq!(trace.message_ids[0], "t1@c.test", "{trace:?}");
    assert_eq!(trace.queue_ids.len(), 1, "{trace:?}");
    assert!(trace.events.len() >= 2, "{trace:?}");
    assert_error(&h.call("GET", "/api/v1/track/search", None).await, 400);
    assert_error(
        &h.call("GET", "/api/v1/track/search?kind=exploded", None)
            .await,
        400,
    );
    assert_error(&h.call("GET", "/api/v1/track/trace", None).await, 400);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_errors_are_json() {
    let h = start("errors", "").await;
    let (code, v) = h.call("GET", "/metrics", None).await;
    assert_eq!(code, 200);
    assert!(
        v.as_str()
            .unwrap()
            .contains("# TYPE postern_queue_messages gauge"),
        "{v}"
    );
    assert_error(&h.call("GET", "/api/v1/nothing", None).await, 404);
    assert_error(&h.call("GET", "/api/v2/status", None).await, 404);
    assert_error(&h.call("DELETE", "/api/v1/status", None).await, 405);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_and_configured_token_file() {
    let dir = common::temp_dir("admin_api", "unix-extra");
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("admin.sock");
    let token_file = dir.join("token");
    std::fs::write(&token_file, "s3cret\n").unwrap();
    let h = start(
        "unix",
        &format!(
            "[admin]\nlisten = \"{}\"\ntoken_file = \"{}\"\n",
            sock.display(),
            token_file.display()
        ),
    )
    .await;
    assert!(h.gw.admin_addr().is_none());
    let addr = std::fs::read_to_string(h.dir.join("admin.address")).unwrap();
    assert_eq!(addr.trim(), format!("unix:{}", sock.display()));
    assert!(
        !h.dir.join("admin.token").exists(),
        "the configured file is used"
    );
    let c = Client::new(Endpoint::Unix(sock.clone()), Some("s3cret".into()));
    let (code, v) = call(c.clone(), "GET", "/api/v1/status", None).await;
    assert_eq!(code, 200, "{v}");
    let status: Status = serde_json::from_value(v).unwrap();
    assert_eq!(status.hostname, "gw.test");
    let body = Some(json!({"mode": "outbound"}));
    let (code, _) = call(c, "PUT", "/api/v1/transfer-mode", body.clone()).await;
    assert_eq!(code, 200);
    let other = Client::new(Endpoint::Unix(sock), Some("guess".into()));
    assert_error(
        &call(other, "PUT", "/api/v1/transfer-mode", body).await,
        401,
    );
    h.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_listen_off() {
    let h = start("off", "[admin]\nlisten = \"off\"\n").await;
    assert!(h.gw.admin_addr().is_none());
    assert!(!h.dir.join("admin.address").exists());
    assert!(!h.dir.join("admin.token").exists());
    h.stop().await;
}
