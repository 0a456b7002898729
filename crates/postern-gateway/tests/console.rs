//! The web console (`/console/`) and the two endpoints it added (`/api/v1/routing`,
//! `/api/v1/status/history`), over a real socket; then the console in a real headless
//! browser (Debian `chromium` driven by Python `selenium`, `tests/console/drive.py`):
//! each page loads and shows the gateway's state, a held message is released, held
//! and deleted through the page, and the screenshots land in `CARGO_TARGET_TMPDIR`.
//!
//! The gateway routes `localhost` to Maildir, `refuse.test` to a peer here that
//! refuses every recipient (so mail there fails and its sender gets a non-delivery
//! report), and `remote.test` / `other.test` to a closed port (so mail there is
//! deferred and that connector is marked down).
//!
//! Without a browser the browser test says it skips and passes, unless
//! `POSTERN_REQUIRE_BROWSER=1` (as `scripts/test.sh` sets), when it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use postern_gateway::api::client::{Client, Endpoint};
use postern_gateway::api::gwart::RoutingTable;
use postern_gateway::api::history::History;
use postern_gateway::api::model::{QueuePage, Status};
use postern_gateway::{Config, Gateway};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

struct Harness {
    gw: Gateway,
    dir: PathBuf,
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// An SMTP peer that refuses every recipient with 550.
async fn refusing_peer() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(refuse(s));
        }
    });
    port
}

async fn refuse(s: TcpStream) -> std::io::Result<()> {
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 refuse.test ESMTP\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "RCPT" => b"550 5.1.1 no such user here\r\n",
            "DATA" => b"503 5.5.1 no valid recipients\r\n",
            "QUIT" => {
                w.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"250 ok\r\n",
        };
        w.write_all(reply).await?;
    }
}

async fn start(tag: &str, mode: &str) -> Harness {
    let dir = common::temp_dir("console", tag);
    let text = format!(
        "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n\
         [connections]\nlisten = [\"127.0.0.1:0\"]\n\
         [security]\nrelay_networks = [\"127.0.0.1/32\"]\n\
         [retry]\nintervals = [\"1h\"]\npoll_interval = \"100ms\"\n\
         [transfer]\nmode = \"{mode}\"\n\
         [[connector]]\nname = \"local\"\nkind = \"maildir\"\n\
         [[connector.address_space]]\npattern = \"localhost\"\n\
         [[connector]]\nname = \"refuse\"\nsmart_hosts = [\"127.0.0.1:{}\"]\n\
         [[connector.address_space]]\npattern = \"refuse.test\"\ncost = 1\n\
         [[connector]]\nname = \"out\"\nsmart_hosts = [\"127.0.0.1:{}\"]\n\
         [[connector.address_space]]\npattern = \"remote.test\"\ncost = 5\n\
         [[connector.address_space]]\npattern = \"other.test\"\ncost = 20\n",
        dir.display(),
        refusing_peer().await,
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

    /// A request through the blocking API client (off the runtime): status and JSON.
    async fn call(&self, method: &'static str, path: &str, body: Option<Value>) -> (u16, Value) {
        let c = Client::new(
            Endpoint::Tcp(self.gw.admin_addr().unwrap()),
            Some(self.token()),
        );
        let path = path.to_owned();
        let (code, raw) = tokio::task::spawn_blocking(move || {
            let body = body.map(|b| serde_json::to_vec(&b).unwrap());
            c.request(method, &path, body.as_deref())
        })
        .await
        .unwrap()
        .unwrap();
        (code, serde_json::from_slice(&raw).unwrap_or(Value::Null))
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let (code, v) = self.call("GET", path, None).await;
        assert_eq!(code, 200, "GET {path}: {v}");
        serde_json::from_value(v).unwrap()
    }

    async fn stop(self) {
        self.gw.shutdown(Duration::from_secs(5)).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits (up to 15 s) until `f` gives `Ok`; the last `Err` says what it saw.
async fn until<T, F: std::future::Future<Output = Result<T, String>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let seen = match f().await {
            Ok(t) => return t,
            Err(seen) => seen,
        };
        assert!(Instant::now() < end, "timed out waiting for {what}: {seen}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Sends one message over SMTP, `Message-ID: <ID@c.test>`.
async fn mail(h: &Harness, from: &str, to: &str, id: &str) {
    let s = TcpStream::connect(h.gw.local_addrs()[0]).await.unwrap();
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    let lines = [
        "EHLO c.test".to_owned(),
        format!("MAIL FROM:<{from}>"),
        format!("RCPT TO:<{to}>"),
        "DATA".into(),
        format!("Subject: {id}\r\nMessage-ID: <{id}@c.test>\r\n\r\nbody\r\n."),
        "QUIT".into(),
    ];
    let mut last = String::new();
    read_reply(&mut r, &mut last).await;
    for l in lines {
        w.write_all(format!("{l}\r\n").as_bytes()).await.unwrap();
        read_reply(&mut r, &mut last).await;
        assert!(!last.starts_with(['4', '5']), "{l}: {last}");
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

/// One plain HTTP/1.1 GET: the status line's code, the headers (lower-case names) and
/// the body.
async fn http_get(h: &Harness, path: &str) -> (u16, Vec<(String, String)>, String) {
    http(h, "GET", path).await
}

/// One plain HTTP/1.1 request without a body or a token.
async fn http(h: &Harness, method: &str, path: &str) -> (u16, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(h.gw.admin_addr().unwrap())
        .await
        .unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: console.test\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let code = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (code, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_files_are_served_with_their_types_and_a_strict_policy() {
    let h = start("files", "inbound").await;
    for (path, ty, has) in [
        ("/console/", "text/html", "<script src=\"app.js\""),
        ("/console/app.js", "text/javascript", "/api/v1/queue"),
        ("/console/app.css", "text/css", ".timeline"),
    ] {
        let (code, headers, body) = http_get(&h, path).await;
        assert_eq!(code, 200, "{path}");
        assert!(header(&headers, "content-type").starts_with(ty), "{path}");
        let csp = header(&headers, "content-security-policy");
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
        assert!(body.contains(has), "{path}");
    }
    // Nothing the page loads comes from elsewhere (the machine may be offline).
    let (_, _, page) = http_get(&h, "/console/").await;
    assert!(!page.contains("http://") && !page.contains("https://"));
    for path in ["/", "/console"] {
        let (code, headers, _) = http_get(&h, path).await;
        assert!((301..=308).contains(&code), "{path}: {code}");
        assert_eq!(header(&headers, "location"), "/console/", "{path}");
    }
    let (code, _, body) = http_get(&h, "/console/nothing").await;
    assert_eq!(code, 404, "{body}");
    // Serving the page changed no rule of the API: a write without the token is refused.
    let (code, _, body) = http(&h, "POST", "/api/v1/queue/actions/release").await;
    assert_eq!(code, 401, "{body}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_table_lists_address_spaces_costs_and_connector_state() {
    let h = start("routing", "both").await;
    let t: RoutingTable = h.get("/api/v1/routing").await;
    let rows: Vec<(&str, u32, &str, bool)> = t
        .entries
        .iter()
        .map(|e| (e.pattern.as_str(), e.cost, e.connector.as_str(), e.up))
        .collect();
    assert_eq!(
        rows,
        [
            ("localhost", 1, "local", true),
            ("refuse.test", 1, "refuse", true),
            ("remote.test", 5, "out", true),
            ("other.test", 20, "out", true),
        ]
    );
    assert!(
        t.entries
            .iter()
            .all(|e| e.address_type == "SMTP" && e.scope == "organization")
    );
    let names: Vec<&str> = t.connectors.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["local", "refuse", "out"]);
    // Mail for the closed port: the connector goes down, and the table says so.
    mail(&h, "jo@localhost", "far@remote.test", "down1").await;
    let t: RoutingTable = until("connector out down", || async {
        let t: RoutingTable = h.get("/api/v1/routing").await;
        match t.connectors.iter().any(|c| c.name == "out" && !c.up) {
            true => Ok(t),
            false => Err(format!("{t:?}")),
        }
    })
    .await;
    for e in &t.entries {
        assert_eq!(e.up, e.connector != "out", "{e:?}");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_history_keeps_samples_and_gives_the_gateway_now() {
    let h = start("history", "inbound").await;
    // The first sample is taken as the API starts.
    let first: History = until("the first sample", || async {
        let hist: History = h.get("/api/v1/status/history").await;
        match hist.samples.is_empty() {
            false => Ok(hist),
            true => Err(format!("{hist:?}")),
        }
    })
    .await;
    assert_eq!((first.interval_ms, first.capacity), (10_000, 360));
    assert_eq!(first.samples[0].accepted_total, 0);
    mail(&h, "jo@localhost", "far@remote.test", "hist1").await;
    let hist: History = h.get("/api/v1/status/history").await;
    let now = &hist.current;
    assert_eq!(now.accepted_total, 1, "{now:?}");
    assert_eq!(
        (now.queue_messages, now.recipients_pending),
        (1, 1),
        "{now:?}"
    );
    assert!(now.time_ms >= hist.samples.last().unwrap().time_ms);
    // The same numbers as the status document.
    let status: Status = h.get("/api/v1/status").await;
    assert_eq!(status.counters.messages_accepted_total, now.accepted_total);
    assert_eq!(status.queue.messages, now.queue_messages);
    h.stop().await;
}

// ---- the browser --------------------------------------------------------------------

/// Debian's Python, where `apt-get install python3-selenium` puts selenium (a
/// `python3` earlier on the PATH, such as pyenv's, may not have it).
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Why the browser test cannot run here, if it cannot.
fn browser_missing() -> Option<String> {
    for bin in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        if !Path::new(bin).exists() {
            return Some(format!(
                "{bin} is missing (apt-get install chromium chromium-driver)"
            ));
        }
    }
    let selenium = Command::new(python())
        .args(["-c", "import selenium"])
        .stderr(Stdio::null())
        .status();
    if !selenium.is_ok_and(|s| s.success()) {
        return Some("Python selenium is missing (apt-get install python3-selenium)".into());
    }
    None
}

/// Runs `tests/console/drive.py` with `args`; its output, and whether it passed. Killed
/// if it is still running after three minutes (a hung browser must not hang the suite).
fn drive(args: &[String]) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console/drive.py");
    let out =
        std::env::temp_dir().join(format!("postern-console-drive-{}.log", std::process::id()));
    let log = std::fs::File::create(&out).unwrap();
    let mut child = Command::new(python())
        .arg(&script)
        .args(args)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(180);
    let ok = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.success();
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    (ok, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_a_headless_browser() {
    if let Some(why) = browser_missing() {
        assert!(
            std::env::var("POSTERN_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "POSTERN_REQUIRE_BROWSER=1 but {why}"
        );
        eprintln!("SKIPPED console_in_a_headless_browser: {why}");
        return;
    }
    let h = start("browser", "both").await;
    mail(&h, "jo@localhost", "al@localhost", "a1").await;
    mail(&h, "jo@localhost", "nobody@refuse.test", "r1").await;
    mail(&h, "jo@localhost", "far@remote.test", "h1").await;
    mail(&h, "jo@localhost", "x@other.test", "d1").await;
    // Delivered, refused (its notice delivered), and two deferred at the closed port.
    let page: QueuePage = until("two deferred messages", || async {
        let p: QueuePage = h.get("/api/v1/queue").await;
        let settled = p.total == 2 && p.messages.iter().all(|m| m.state == "deferred");
        let status: Status = h.get("/api/v1/status").await;
        let c = status.counters;
        match settled && c.recipients_delivered_total >= 2 && c.recipients_failed_total >= 1 {
            true => Ok(p),
            false => Err(format!("{p:?}\n{c:?}")),
        }
    })
    .await;
    let held = page
        .messages
        .iter()
        .find(|m| m.recipients[0].destination == "remote.test")
        .unwrap()
        .id
        .clone();
    let doomed = page
        .messages
        .iter()
        .find(|m| m.recipients[0].destination == "other.test")
        .unwrap()
        .id
        .clone();
    let (code, v) = h
        .call(
            "POST",
            "/api/v1/queue/actions/hold",
            Some(json!({"id": held})),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    if let Some(t) = &h.gw.context().tracker {
        t.flush().unwrap();
    }
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-shots");
    std::fs::create_dir_all(&shots).unwrap();
    let args = vec![
        format!("--url=http://{}/console/", h.gw.admin_addr().unwrap()),
        format!("--token={}", h.token()),
        format!("--held={held}"),
        format!("--doomed={doomed}"),
        "--refused=r1@c.test".to_owned(),
        format!("--shots={}", shots.display()),
    ];
    let (ok, out) = tokio::task::spawn_blocking(move || drive(&args))
        .await
        .unwrap();
    eprintln!("{out}");
    assert!(ok, "the browser run failed:\n{out}");
    // What the page did, the gateway did.
    let m: Value = h
        .call("GET", &format!("/api/v1/queue/{held}"), None)
        .await
        .1;
    assert_eq!(m["held"], json!(false), "{m}");
    let (code, _) = h
        .call("GET", &format!("/api/v1/queue/{doomed}"), None)
        .await;
    assert_eq!(code, 404, "deleted through the page");
    for name in ["queues", "tracking", "routing", "status"] {
        let f = shots.join(format!("{name}.png"));
        let png = std::fs::read(&f).unwrap_or_default();
        assert!(png.starts_with(b"\x89PNG"), "{}", f.display());
    }
    eprintln!("screenshots in {}", shots.display());
    h.stop().await;
}
