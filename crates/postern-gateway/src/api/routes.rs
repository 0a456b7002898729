//! The API's routes and handlers.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use postern_queue::control::Command;
use postern_queue::{QueueId, Target};
use serde::de::DeserializeOwned;

use super::model::{
    ActionRequest, ActionResult, ApiError, Connectors, EtrnRequest, QueuePage, QueueQuery,
    QueuedMessage, ReloadResult, RouteTest, Status, TrackEvent, TrackQuery, TrackSearch,
    TrackTrace, TransferModeBody,
};
use super::views;
use crate::config::TransferMode;
use crate::context::Context;

/// Messages a queue page holds unless asked otherwise, and at most.
const PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// What every handler sees.
#[derive(Clone)]
pub struct ApiState {
    /// The gateway.
    pub ctx: Arc<Context>,
    /// The write token.
    pub token: Arc<str>,
    /// Whether reads go without the token.
    pub open_reads: bool,
    /// The last hour of samples, for the console's charts.
    pub history: Arc<super::history::Ring>,
}

/// An error answer: JSON with its status code.
#[derive(Debug)]
pub struct Failure(StatusCode, String);

impl Failure {
    fn new(code: StatusCode, why: impl Into<String>) -> Failure {
        Failure(code, why.into())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = ApiError {
            error: self.1,
            status: self.0.as_u16(),
        };
        (self.0, axum::Json(body)).into_response()
    }
}

type Answer<T> = Result<axum::Json<T>, Failure>;

/// The routes, behind the token check.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/status", get(status))
        .route("/api/v1/queue", get(queue_list))
        .route("/api/v1/queue/{id}", get(queue_show))
        .route("/api/v1/queue/actions/{action}", post(queue_action))
        .route("/api/v1/transfer-mode", get(mode_get).put(mode_set))
        .route("/api/v1/reload", post(reload))
        .route("/api/v1/etrn", post(etrn))
        .route("/api/v1/route", get(route_test))
        .route("/api/v1/track/search", get(track_search))
        .route("/api/v1/track/trace", get(track_trace))
        .route("/api/v1/connectors", get(connectors))
        .route("/api/v1/connectors/{name}/etrn", post(connector_etrn))
        .route("/metrics", get(metrics))
        .route("/api/v1/status/history", get(history))
        .route("/api/v1/routing", get(routing_table))
        .fallback(|| async { Failure::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            Failure::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
        })
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
        // The console's static files hold no data: served without the token, so a
        // remote console can load and then ask for it.
        .merge(super::console::router())
}

/// Writes need the token; reads too unless the listener is local.
async fn guard(State(s): State<ApiState>, req: Request, next: Next) -> Response {
    let write = !matches!(*req.method(), Method::GET | Method::HEAD);
    if write || !s.open_reads {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if !given.is_some_and(|g| super::token::same(g, &s.token)) {
            let why = "this needs Authorization: Bearer TOKEN ([admin] token_file)";
            return Failure::new(StatusCode::UNAUTHORIZED, why).into_response();
        }
    }
    next.run(req).await
}

fn json_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, Failure> {
    serde_json::from_slice(body)
        .map_err(|e| Failure::new(StatusCode::BAD_REQUEST, format!("request body: {e}")))
}

fn query<T: DeserializeOwned>(q: Option<&str>) -> Result<T, Failure> {
    let q = q.unwrap_or("");
    Query::<T>::try_from_uri(&format!("/?{q}").parse().map_err(|_| bad("bad query"))?)
        .map(|Query(t)| t)
        .map_err(|e| bad(format!("query: {e}")))
}

fn bad(why: impl Into<String>) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, why)
}

/// Runs blocking work (spool and tracking files) off the runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Failure::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

async fn status(State(s): State<ApiState>) -> Answer<Status> {
    let ctx = s.ctx;
    Ok(axum::Json(views::status(&ctx).await))
}

async fn queue_list(State(s): State<ApiState>, uri: axum::http::Uri) -> Answer<QueuePage> {
    let q: QueueQuery = query(uri.query())?;
    if let Some(st) = &q.state
        && !["held", "deferred", "pending", "done"].contains(&st.as_str())
    {
        return Err(bad(format!(
            "state {st:?}: one of held, deferred, pending, done"
        )));
    }
    let ctx = s.ctx;
    blocking(move || {
        use crate::storage::block_on as wait;
        let holds = wait(ctx.queue.holds()).map_err(store_failed)?;
        let mut all: Vec<QueuedMessage> = wait(ctx.queue.messages())
            .map_err(store_failed)?
            .iter()
            .map(|m| views::message(m, &holds))
            .collect();
        all.retain(|m| views::matches(&q, m));
        all.sort_by(|a, b| (a.arrival_ms, &a.id).cmp(&(b.arrival_ms, &b.id)));
        let offset = q.offset.unwrap_or(0);
        let limit = q.limit.unwrap_or(PAGE).min(MAX_PAGE);
        let total = all.len();
        let messages = all.into_iter().skip(offset).take(limit).collect();
        Ok(axum::Json(QueuePage {
            total,
            offset,
            messages,
        }))
    })
    .await
}

fn queue_id(id: &str) -> Result<QueueId, Failure> {
    id.parse()
        .map_err(|_| bad(format!("{id:?} is not a queue id")))
}

async fn queue_show(State(s): State<ApiState>, Path(id): Path<String>) -> Answer<QueuedMessage> {
    let qid = queue_id(&id)?;
    match s.ctx.queue.message(qid).await.map_err(store_failed)? {
        Some(m) => {
            let holds = s.ctx.queue.holds().await.map_err(store_failed)?;
            Ok(axum::Json(views::message(&m, &holds)))
        }
        None => Err(Failure::new(
            StatusCode::NOT_FOUND,
            format!("no message {id} in the queue"),
        )),
    }
}

/// Hands `command` to the delivery loop; its answer (`ok: …`) or a JSON error.
async fn control(ctx: &Context, command: Command) -> Result<String, Failure> {
    match ctx.requests.control(command).await {
        Some(a) => match a.strip_prefix("error: ") {
            Some(e) => Err(Failure::new(StatusCode::CONFLICT, e)),
            None => Ok(a.strip_prefix("ok: ").unwrap_or(&a).to_owned()),
        },
        None => Err(Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the delivery loop is not running",
        )),
    }
}

async fn queue_action(
    State(s): State<ApiState>,
    Path(action): Path<String>,
    body: Bytes,
) -> Answer<ActionResult> {
    let req: ActionRequest = json_body(&body)?;
    let target = match (&req.id, &req.destination, req.all) {
        (Some(id), None, false) => {
            let qid = queue_id(id)?;
            if s.ctx
                .queue
                .message(qid)
                .await
                .map_err(store_failed)?
                .is_none()
            {
                return Err(Failure::new(
                    StatusCode::NOT_FOUND,
                    format!("no message {id} in the queue"),
                ));
            }
            Target::Message(qid)
        }
        (None, Some(d), false) if !d.is_empty() => Target::Destination(d.to_ascii_lowercase()),
        (None, None, true) => Target::All,
        _ => return Err(bad("name exactly one of id, destination, all")),
    };
    let message = match action.as_str() {
        "hold" => control(&s.ctx, Command::Hold(target)).await?,
        "release" => control(&s.ctx, Command::Release(target)).await?,
        "retry" => control(&s.ctx, Command::Retry(target)).await?,
        "delete" => delete(&s.ctx, target).await?,
        other => {
            return Err(Failure::new(
                StatusCode::NOT_FOUND,
                format!("no action {other:?}: hold, release, retry or delete"),
            ));
        }
    };
    s.ctx.wake.notify_one();
    Ok(axum::Json(ActionResult { message }))
}

/// Deletes one message, or each message of a destination or of the whole queue (each
/// through the delivery loop, which tracks it as deleted by the administrator).
async fn delete(ctx: &Context, target: Target) -> Result<String, Failure> {
    let ids: Vec<QueueId> = match &target {
        Target::Message(id) => vec![*id],
        Target::Destination(d) => ctx
            .queue
            .messages()
            .await
            .map_err(store_failed)?
            .iter()
            .filter(|m| {
                m.envelope
                    .recipients
                    .iter()
                    .any(|r| r.destination.eq_ignore_ascii_case(d))
            })
            .map(|m| m.id)
            .collect(),
        Target::All => (ctx.queue.messages().await.map_err(store_failed)?)
            .iter()
            .map(|m| m.id)
            .collect(),
    };
    if let Target::Message(_) = target {
        return control(ctx, Command::Delete(target)).await;
    }
    let n = ids.len();
    for id in ids {
        control(ctx, Command::Delete(Target::Message(id))).await?;
    }
    Ok(format!("deleted {n} message(s) of {target}"))
}

async fn mode_get(State(s): State<ApiState>) -> Answer<TransferModeBody> {
    Ok(axum::Json(TransferModeBody {
        mode: s.ctx.transfer_mode().name().to_owned(),
    }))
}

async fn mode_set(State(s): State<ApiState>, body: Bytes) -> Answer<TransferModeBody> {
    let req: TransferModeBody = json_body(&body)?;
    let Some(mode) = TransferMode::from_name(&req.mode) else {
        return Err(bad(format!(
            "{:?} is not a transfer mode (both, inbound, outbound, none)",
            req.mode
        )));
    };
    if mode != s.ctx.transfer_mode() {
        s.ctx
            .change_transfer_mode(mode)
            .await
            .map_err(store_failed)?;
        s.ctx.wake.notify_one();
        eprintln!("postern: transfer mode is now {}", mode.name());
    }
    Ok(axum::Json(TransferModeBody {
        mode: mode.name().to_owned(),
    }))
}

async fn reload(State(s): State<ApiState>) -> Result<Response, Failure> {
    match s.ctx.requests.reload().await {
        Some((reloaded, message)) => {
            let code = if reloaded {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            Ok((code, axum::Json(ReloadResult { reloaded, message })).into_response())
        }
        None => Err(Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this gateway has no configuration file to re-read (embedded)",
        )),
    }
}

async fn etrn(State(s): State<ApiState>, body: Bytes) -> Answer<ActionResult> {
    let req: EtrnRequest = json_body(&body)?;
    let d = req.destination.trim().to_ascii_lowercase();
    if d.is_empty() || d.contains(|c: char| c.is_whitespace() || c == '@') {
        return Err(bad(format!("{:?} is not a domain", req.destination)));
    }
    let message = control(&s.ctx, Command::Retry(Target::Destination(d))).await?;
    Ok(axum::Json(ActionResult { message }))
}

async fn connector_etrn(
    State(s): State<ApiState>,
    Path(name): Path<String>,
) -> Answer<ActionResult> {
    if s.ctx.live().config.routing.connector(&name).is_none() {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            format!("no connector {name:?}"),
        ));
    }
    let message = control(&s.ctx, Command::Etrn(name)).await?;
    Ok(axum::Json(ActionResult { message }))
}

#[derive(serde::Deserialize)]
struct AddressQuery {
    address: String,
}

async fn route_test(State(s): State<ApiState>, uri: axum::http::Uri) -> Answer<RouteTest> {
    let q: AddressQuery = query(uri.query())?;
    if !q.address.contains('@') {
        return Err(bad(format!(
            "{:?} is not an address (user@domain)",
            q.address
        )));
    }
    Ok(axum::Json(views::route(&s.ctx, &q.address)))
}

async fn connectors(State(s): State<ApiState>) -> Answer<Connectors> {
    Ok(axum::Json(Connectors {
        connectors: views::connectors(&s.ctx),
    }))
}

fn reader(ctx: &Context) -> Result<Arc<dyn postern_track::EventSearch>, Failure> {
    ctx.search
        .clone()
        .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, "tracking is off"))
}

/// The queue's backend failed: unavailable for now, or gone wrong.
fn store_failed(e: postern_queue::StoreError) -> Failure {
    let code = if e.is_transient() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    Failure::new(code, e.to_string())
}

fn track_failed(e: postern_track::TrackError) -> Failure {
    Failure::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

async fn track_search(State(s): State<ApiState>, uri: axum::http::Uri) -> Answer<TrackSearch> {
    let q: TrackQuery = query(uri.query())?;
    let mut f = postern_track::Filter::new();
    let mut any = false;
    if let Some(v) = &q.message_id {
        f = f.message_id(v.as_str());
        any = true;
    }
    if let Some(v) = &q.queue_id {
        f = f.queue_id(v.as_str());
        any = true;
    }
    if let Some(v) = &q.sender {
        f = f.sender(v.as_str());
        any = true;
    }
    if let Some(v) = &q.recipient {
        f = f.recipient(v.as_str());
        any = true;
    }
    if let Some(k) = &q.kind {
        let kind: postern_track::EventKind = k
            .parse()
            .map_err(|_| bad(format!("{k:?} is not an event kind")))?;
        f = f.kind(kind);
        any = true;
    }
    if !any {
        return Err(bad(
            "name at least one of message_id, queue_id, sender, recipient, kind",
        ));
    }
    let r = reader(&s.ctx)?;
    blocking(move || {
        let found = r.search(&f).map_err(track_failed)?;
        Ok(axum::Json(TrackSearch {
            events: found.events.iter().map(TrackEvent::from).collect(),
            truncated: found.truncated,
        }))
    })
    .await
}

#[derive(serde::Deserialize)]
struct TraceQuery {
    message_id: String,
}

async fn track_trace(State(s): State<ApiState>, uri: axum::http::Uri) -> Answer<TrackTrace> {
    let q: TraceQuery = query(uri.query())?;
    let r = reader(&s.ctx)?;
    blocking(move || {
        let mid = postern_track::Text::from(q.message_id.as_str());
        let t = r.trace(&mid).map_err(track_failed)?;
        let s = |v: &[postern_track::text::Text]| -> Vec<String> {
            v.iter().map(|t| t.to_str_lossy().into_owned()).collect()
        };
        Ok(axum::Json(TrackTrace {
            events: t.events.iter().map(TrackEvent::from).collect(),
            queue_ids: s(&t.queue_ids),
            message_ids: s(&t.message_ids),
            truncated: t.truncated,
        }))
    })
    .await
}

async fn history(State(s): State<ApiState>) -> Answer<super::history::History> {
    let now = super::history::Sample::take(&s.ctx).await;
    Ok(axum::Json(s.history.history(now)))
}

async fn routing_table(State(s): State<ApiState>) -> Answer<super::gwart::RoutingTable> {
    Ok(axum::Json(super::gwart::table(&s.ctx)))
}

async fn metrics(State(s): State<ApiState>) -> Response {
    let body = crate::metrics::render(&s.ctx).await;
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response()
}
