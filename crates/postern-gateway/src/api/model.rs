//! The admin API's objects: one serde type per object, shared by the API (JSON bodies)
//! and the command line (`postern … --json`), so both speak one schema.

use serde::{Deserialize, Serialize};

/// An error answer: `{"error": "...", "status": 404}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// What went wrong, for a person.
    pub error: String,
    /// The HTTP status code it came with.
    pub status: u16,
}

/// `GET /api/v1/status`: the gateway at a glance (the IMS Queues tab's header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The gateway's clock, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// False once the gateway is shutting down.
    pub running: bool,
    /// `[server] hostname`.
    pub hostname: String,
    /// The transfer mode in force.
    pub transfer_mode: String,
    /// Counters since start.
    pub counters: Counters,
    /// The queue by state and destination.
    pub queue: QueueSummary,
    /// The spool's space.
    pub spool: SpoolSpace,
    /// The connectors and whether each is up.
    pub connectors: Vec<Connector>,
    /// The most recent deliveries, oldest first.
    pub recent_delivered: Vec<Recent>,
    /// The most recent failures, oldest first.
    pub recent_failed: Vec<Recent>,
}

/// Counters since the gateway started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Inbound sessions open now.
    pub sessions_open: i64,
    /// Inbound sessions since start.
    pub sessions_total: u64,
    /// Messages accepted since start.
    pub messages_accepted_total: u64,
    /// Recipients delivered since start.
    pub recipients_delivered_total: u64,
    /// Recipient deferrals since start.
    pub recipients_deferred_total: u64,
    /// Recipients failed since start.
    pub recipients_failed_total: u64,
    /// Notices generated since start.
    pub notices_total: u64,
}

/// One recent delivery or failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recent {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The queue id.
    pub queue_id: String,
    /// The recipient.
    pub recipient: String,
    /// Its destination.
    pub destination: String,
    /// The reply.
    pub reply: String,
}

/// The queue in numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSummary {
    /// Messages queued.
    pub messages: u64,
    /// Of which held.
    pub held_messages: u64,
    /// Recipients waiting for their first attempt.
    pub pending: u64,
    /// Recipients waiting for a retry.
    pub deferred: u64,
    /// Age of the oldest message, seconds.
    pub oldest_secs: u64,
    /// Per destination (at most 50, the largest first as the queue orders them).
    pub destinations: Vec<DestinationRow>,
    /// Destinations backed off after failures.
    pub backoff: Vec<Backoff>,
    /// Whether everything is held (`hold --all`).
    pub all_held: bool,
    /// The destinations held.
    pub held_destinations: Vec<String>,
}

/// One destination's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationRow {
    /// The destination (domain).
    pub destination: String,
    /// Messages with a recipient there.
    pub messages: u64,
    /// Recipients there.
    pub recipients: u64,
    /// Of which deferred.
    pub deferred: u64,
    /// Age of its oldest message, seconds.
    pub oldest_secs: u64,
}

/// A destination's backoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    /// The destination.
    pub destination: String,
    /// Failures in a row.
    pub failures: u32,
    /// Not tried before this time, ms since the epoch.
    pub until_ms: u64,
}

/// The spool's space.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpoolSpace {
    /// Segment files.
    pub segments: u64,
    /// Bytes of the segment files.
    pub bytes: u64,
    /// Bytes the queued messages need.
    pub live_bytes: u64,
    /// Bytes compaction could reclaim.
    pub dead_bytes: u64,
}

/// A connector and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connector {
    /// Its name.
    pub name: String,
    /// `smtp` or `maildir`.
    pub kind: String,
    /// False while marked down after failures.
    pub up: bool,
}

/// `GET /api/v1/queue`: one page of the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePage {
    /// Messages matching the filters.
    pub total: usize,
    /// Where this page starts in them.
    pub offset: usize,
    /// This page.
    pub messages: Vec<QueuedMessage>,
}

/// One queued message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMessage {
    /// The queue id.
    pub id: String,
    /// The envelope sender.
    pub sender: String,
    /// Bytes.
    pub size: u64,
    /// Arrival, ms since the epoch.
    pub arrival_ms: u64,
    /// Held by an administrator: the message itself, its destination, or everything.
    pub held: bool,
    /// `held`, `deferred`, `pending` or `done` (every recipient finished).
    pub state: String,
    /// The recipients.
    pub recipients: Vec<QueuedRecipient>,
}

/// One recipient of a queued message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedRecipient {
    /// The address.
    pub address: String,
    /// Its destination.
    pub destination: String,
    /// `pending`, `deferred`, `delivered` or `failed`.
    pub state: String,
    /// Attempts so far (deferred).
    pub attempts: u32,
    /// Next attempt, ms since the epoch (deferred; with `waits_for`, when it waits).
    pub next_attempt_ms: Option<u64>,
    /// The last reply or failure reason.
    pub last_reply: Option<String>,
    /// Why it waits, when it is unfinished and `postern queue` knows (`schedule`,
    /// `destination-backoff`, `connector-down`, `hold-for-etrn`, `transfer-mode`,
    /// `held`; from the spool and what the gateway publishes there, see
    /// `postern_queue::wait`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waits_for: Option<String>,
}

/// The filters and page of `GET /api/v1/queue` (query string).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueQuery {
    /// Only messages with a recipient at this destination (case-insensitive).
    pub destination: Option<String>,
    /// Only messages in this state (`held`, `deferred`, `pending`).
    pub state: Option<String>,
    /// Only messages whose sender contains this (case-insensitive).
    pub sender: Option<String>,
    /// Only messages with a recipient containing this (case-insensitive).
    pub recipient: Option<String>,
    /// Skip this many.
    pub offset: Option<usize>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// `POST /api/v1/queue/{action}`: what to act on (one of the three).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActionRequest {
    /// One message.
    pub id: Option<String>,
    /// Every message for a destination.
    pub destination: Option<String>,
    /// Everything.
    pub all: bool,
}

/// The answer to an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    /// What was done, as the gateway says it (`hold message …: 1 message(s)`).
    pub message: String,
}

/// `GET/PUT /api/v1/transfer-mode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferModeBody {
    /// `both`, `inbound`, `outbound` or `none`.
    pub mode: String,
}

/// `POST /api/v1/reload`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadResult {
    /// Whether the new file is in force.
    pub reloaded: bool,
    /// The line the gateway printed about it.
    pub message: String,
}

/// `POST /api/v1/etrn`: retry a destination now, as if it had sent ETRN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtrnRequest {
    /// The destination (domain).
    pub destination: String,
}

/// `GET /api/v1/route?address=…`: how the live table routes an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTest {
    /// The address tested.
    pub address: String,
    /// The candidates, best first (empty when unroutable).
    pub candidates: Vec<RouteCandidate>,
    /// Why it cannot be routed, when it cannot.
    pub unroutable: Option<String>,
}

/// One route candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteCandidate {
    /// The connector.
    pub connector: String,
    /// The address space's type (`SMTP`).
    pub address_type: String,
    /// The address space's pattern that matched.
    pub pattern: String,
    /// Its cost.
    pub cost: u32,
    /// Whether the connector is up.
    pub up: bool,
}

/// The query of `GET /api/v1/track/search`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackQuery {
    /// Message-id.
    pub message_id: Option<String>,
    /// Queue id.
    pub queue_id: Option<String>,
    /// Sender.
    pub sender: Option<String>,
    /// Recipient.
    pub recipient: Option<String>,
    /// Event kind name (`delivered`) or number (`1030`).
    pub kind: Option<String>,
}

/// A tracking search's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackSearch {
    /// The events, in time order.
    pub events: Vec<TrackEvent>,
    /// Whether a read limit cut it short.
    pub truncated: bool,
}

/// A trace: one message's life across hops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackTrace {
    /// The events, in time order.
    pub events: Vec<TrackEvent>,
    /// The queue ids involved.
    pub queue_ids: Vec<String>,
    /// The message-ids involved (the message's own first).
    pub message_ids: Vec<String>,
    /// Whether a read limit cut it short.
    pub truncated: bool,
}

/// One tracking event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackEvent {
    /// Milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// Its kind's name (`delivered`).
    pub kind: String,
    /// Queue id.
    pub queue_id: Option<String>,
    /// Message-id.
    pub message_id: Option<String>,
    /// Sender.
    pub sender: Option<String>,
    /// Recipients.
    pub recipients: Vec<String>,
    /// Connector.
    pub connector: Option<String>,
    /// Remote host.
    pub remote_host: Option<String>,
    /// The reply.
    pub reply: Option<String>,
    /// Reason.
    pub reason: Option<String>,
    /// A related queue id (a notice's original).
    pub related_queue_id: Option<String>,
    /// The cluster node that recorded it (`[storage] node`), when the events come from
    /// a shared database; absent for one machine's daily files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl From<&postern_track::NodeEvent> for TrackEvent {
    fn from(e: &postern_track::NodeEvent) -> TrackEvent {
        TrackEvent {
            node: e.node.as_ref().map(|n| n.to_str_lossy().into_owned()),
            ..TrackEvent::from(&e.event)
        }
    }
}

impl From<&postern_track::Event> for TrackEvent {
    fn from(e: &postern_track::Event) -> TrackEvent {
        let s = |t: &Option<postern_track::text::Text>| {
            t.as_ref().map(|t| t.to_str_lossy().into_owned())
        };
        TrackEvent {
            time_ms: e.time.unix_ms(),
            kind: e.kind.name().to_owned(),
            queue_id: s(&e.queue_id),
            message_id: s(&e.message_id),
            sender: s(&e.sender),
            recipients: e
                .recipients
                .iter()
                .map(|r| r.to_str_lossy().into_owned())
                .collect(),
            connector: s(&e.connector),
            remote_host: s(&e.remote_host),
            reply: s(&e.reply),
            reason: s(&e.reason),
            related_queue_id: s(&e.related_queue_id),
            node: None,
        }
    }
}

/// `GET /api/v1/connectors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connectors {
    /// Every configured connector.
    pub connectors: Vec<Connector>,
}
