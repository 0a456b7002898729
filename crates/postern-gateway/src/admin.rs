//! The gateway's housekeeping task: the Pickup folder, the destination backoff the
//! spool publishes for `postern queue` on a stopped gateway, and the metrics endpoint.
//! The command line talks to a running gateway through the admin API ([`crate::api`]).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use postern_queue::Envelope;
use postern_track::EventKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::context::Context;
use crate::pickup;

/// How often the housekeeping runs.
const TICK: Duration = Duration::from_millis(250);
/// How often the destination backoff is published in the spool.
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// Most bytes of an HTTP request the metrics endpoint reads.
const MAX_REQUEST: usize = 8 * 1024;

/// Runs until the gateway shuts down. `[pickup]` is read each round, so a reload
/// turns it on or off, or moves it, from the next round.
pub async fn run(ctx: Arc<Context>) {
    let mut last_status = tokio::time::Instant::now() - STATUS_EVERY;
    let mut last_pickup: Option<tokio::time::Instant> = None;
    // The backoff table as last published (none yet: the first round always writes).
    let mut published: Option<String> = None;
    let mut shutdown = ctx.shutdown.clone();
    while !ctx.is_shutting_down() {
        let now = tokio::time::Instant::now();
        let pickup = ctx.live().config.pickup.clone();
        if pickup.enabled && last_pickup.is_none_or(|t| now - t >= pickup.interval) {
            last_pickup = Some(now);
            let c = Arc::clone(&ctx);
            let _ = tokio::task::spawn_blocking(move || scan_pickup(&c)).await;
        }
        if now - last_status >= STATUS_EVERY {
            last_status = now;
            // A mode another node of a shared queue set (a no-op on one machine).
            ctx.sync_transfer_mode().await;
            let c = Arc::clone(&ctx);
            let last = published.take();
            published = tokio::task::spawn_blocking(move || publish_backoff(&c, last))
                .await
                .unwrap_or_default();
        }
        tokio::select! {
            () = tokio::time::sleep(TICK) => {}
            r = shutdown.changed() => if r.is_err() { break },
        }
    }
}

/// Submits the Pickup folder's files under one snapshot of the settings; sets aside
/// those that cannot be.
fn scan_pickup(ctx: &Context) {
    let live = ctx.live();
    let dir = &live.config.pickup.dir;
    let _ = std::fs::create_dir_all(dir);
    let Ok(files) = pickup::ready_files(dir) else {
        return;
    };
    for path in files {
        if ctx.is_shutting_down() {
            return;
        }
        match pickup::read(&path) {
            Ok(Ok(sub)) => submit(ctx, &live.config, &path, sub),
            Ok(Err(why)) => {
                let _ = pickup::set_aside(dir, &path, &why.to_string());
            }
            // Vanished or unreadable this time: try again next scan.
            Err(_) => {}
        }
    }
}

fn submit(ctx: &Context, config: &Config, path: &Path, sub: pickup::Submission) {
    if sub.body.len() as u64 > config.limits.max_message_size {
        let why = format!(
            "message larger than limits.max_message_size ({} bytes)",
            sub.body.len()
        );
        let _ = pickup::set_aside(&config.pickup.dir, path, &why);
        return;
    }
    let now = ctx.now();
    let mut body = format!(
        "Received: from pickup by {} (postern) with local-pickup;\r\n\t{}\r\n",
        config.server.hostname,
        chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now.0 as i64)
            .unwrap_or_default()
            .to_rfc2822()
    )
    .into_bytes();
    body.extend_from_slice(&sub.body);
    let envelope = Envelope::new(
        sub.sender.as_str(),
        sub.recipients.iter().map(String::as_str),
        now,
    );
    let body = bytes::Bytes::from(body);
    // A blocking thread (the Pickup scan runs in spawn_blocking): wait for the store here.
    match crate::storage::block_on(ctx.queue.enqueue(&envelope, body.clone(), now)) {
        Ok(id) => {
            // Durable in the queue: only now may the file go.
            let _ = std::fs::remove_file(path);
            ctx.stats.accepted.fetch_add(1, Ordering::Relaxed);
            let message_id = postern_message::Message::parse(&body)
                .message_id()
                .map(|m| format!("<{m}>"));
            ctx.track(EventKind::Received, |e| {
                let mut e = e
                    .queue_id(id.to_string())
                    .sender(envelope.sender.as_str())
                    .size(body.len() as u64)
                    .remote_host("pickup")
                    .reason(
                        path.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    );
                for r in &envelope.recipients {
                    e = e.recipient(r.address.as_str());
                }
                match message_id {
                    Some(m) => e.message_id(m),
                    None => e,
                }
            });
            ctx.wake.notify_one();
        }
        Err(e) => tracing::error!("pickup {}: cannot queue: {e}", path.display()),
    }
}

/// Publishes the queue's destination backoff in the spool directory for `postern queue
/// list/show` (see `postern_queue::wait`) when it changed since `last`; returns what the
/// file now holds (`None` when it could not be written: tried again next round).
fn publish_backoff(ctx: &Context, last: Option<String>) -> Option<String> {
    // Only a local spool has a file for a stopped gateway's `postern queue` to read.
    let local = ctx.queue.local()?;
    let now = ctx.now();
    let published = postern_queue::wait::Published {
        backoff: local.backoff_entries(now),
        notes: wait_notes(ctx, local.summary(now)),
    };
    let text = postern_queue::wait::published_text(&published);
    if last.as_deref() == Some(text.as_str()) {
        return last;
    }
    postern_queue::wait::write_published(local.spool().dir(), &text)
        .ok()
        .map(|()| text)
}

/// Most destinations [`wait_notes`] looks at (each is routed once per round).
const MAX_NOTED_DESTINATIONS: usize = 10_000;

/// What holds up queued mail that only the gateway knows: the transfer mode, domains
/// held for ETRN, destinations whose every connector is marked down.
fn wait_notes(ctx: &Context, summary: postern_queue::Summary) -> Vec<postern_queue::wait::Note> {
    use postern_queue::wait::Note;
    use postern_route::ConnectorState as _;
    let mut notes = Vec::new();
    let mode = ctx.transfer_mode();
    if !mode.delivers_outbound() {
        notes.push(Note {
            destination: None,
            kind: "transfer-mode".into(),
            text: format!("transfer mode {}: outbound delivery stopped", mode.name()),
        });
    }
    let live = ctx.live();
    let routing = &live.config.routing;
    let down = ctx
        .connectors
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    for d in summary.destinations.iter().take(MAX_NOTED_DESTINATIONS) {
        let dest = &d.destination;
        if routing.domains.lookup(dest).dequeue == postern_route::Dequeue::HoldForEtrn {
            notes.push(Note {
                destination: Some(dest.clone()),
                kind: "hold-for-etrn".into(),
                text: "held until the domain asks with ETRN (dequeue = hold-for-etrn)".into(),
            });
            continue;
        }
        let probe = format!("postmaster@{dest}");
        let Ok(route) = routing
            .table
            .route(&postern_route::RouteRequest::smtp(&probe), &())
        else {
            continue;
        };
        let names: Vec<&str> = route.connectors().collect();
        if !names.is_empty() && names.iter().all(|n| !down.is_available(n)) {
            notes.push(Note {
                destination: Some(dest.clone()),
                kind: "connector-down".into(),
                text: format!(
                    "connector {} down (probed again at the next attempt)",
                    names.join(", ")
                ),
            });
        }
    }
    notes
}

/// Serves `GET /metrics` (Prometheus text format) on `listener` until shutdown.
pub async fn serve_metrics(ctx: Arc<Context>, listener: TcpListener) {
    let mut shutdown = ctx.shutdown.clone();
    while !ctx.is_shutting_down() {
        tokio::select! {
            r = listener.accept() => if let Ok((stream, _)) = r {
                let c = Arc::clone(&ctx);
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(5), answer_metrics(&c, stream)).await;
                });
            },
            r = shutdown.changed() => if r.is_err() { break },
        }
    }
}

async fn answer_metrics(ctx: &Context, mut stream: tokio::net::TcpStream) -> std::io::Result<()> {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < MAX_REQUEST {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        req.extend_from_slice(&buf[..n]);
    }
    let ok = req.starts_with(b"GET /metrics ") || req.starts_with(b"GET / ");
    let (status, body) = if ok {
        ("200 OK", crate::metrics::render(ctx).await)
    } else {
        ("404 Not Found", "not found\n".to_owned())
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        crate::metrics::CONTENT_TYPE,
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
