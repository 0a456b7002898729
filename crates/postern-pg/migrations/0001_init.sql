-- postern-pg schema 1: the shared queue and the tracking log of a cluster.
-- Times are milliseconds since the Unix epoch (bigint), as postern-queue and
-- postern-track count them.

-- Queue ids: the arrival millisecond plus a sequence number handed out in blocks of 256
-- per node, so nodes never issue the same id.
CREATE SEQUENCE postern_queue_id_block;

-- One row per queued message. `envelope` and `state` are postern-queue's own record
-- encodings (the spool's format), so both backends store exactly the same information.
CREATE TABLE postern_messages (
    id          text PRIMARY KEY,          -- QueueId, 18 hex digits (sorts by arrival)
    node        text NOT NULL,             -- the node that accepted it
    arrival     bigint NOT NULL,
    sender      text NOT NULL,
    envelope    bytea NOT NULL,            -- enqueue record with an empty body
    state       bytea NOT NULL,            -- latest state record
    held        boolean NOT NULL DEFAULT false,
    size        bigint NOT NULL,
    notice_due  bigint                     -- next delay notice (null: none)
);
CREATE INDEX postern_messages_notice_due ON postern_messages (notice_due)
    WHERE notice_due IS NOT NULL;

-- Bodies apart from the state, so a state update never rewrites a body.
CREATE TABLE postern_bodies (
    id   text PRIMARY KEY REFERENCES postern_messages (id) ON DELETE CASCADE,
    body bytea NOT NULL
);

-- One row per (message, destination) with unfinished recipients: the scheduler.
-- A node leases a job until `lease_until`; after that any node may take it over.
CREATE TABLE postern_jobs (
    id           text NOT NULL REFERENCES postern_messages (id) ON DELETE CASCADE,
    destination  text NOT NULL,
    due          bigint NOT NULL,
    lease_until  bigint,
    lease_node   text,
    PRIMARY KEY (id, destination)
);
CREATE INDEX postern_jobs_due ON postern_jobs (due);
CREATE INDEX postern_jobs_destination ON postern_jobs (destination);

-- Per-destination backoff (destination lower-cased), shared by every node.
CREATE TABLE postern_backoff (
    destination   text PRIMARY KEY,
    failures      integer NOT NULL,
    last_failure  bigint NOT NULL,
    until         bigint NOT NULL,
    class         text NOT NULL
);

-- Destination holds and the global hold ('all', '').
CREATE TABLE postern_holds (
    kind  text NOT NULL,
    name  text NOT NULL,
    PRIMARY KEY (kind, name)
);

-- Settings every node shares (the gateway's transfer mode).
CREATE TABLE postern_settings (
    key    text PRIMARY KEY,
    value  text NOT NULL
);

-- The tracking log of every node. `line` is postern-track's own line format (the
-- daily files' format); the other columns are there to be searched.
CREATE TABLE postern_events (
    seq         bigserial PRIMARY KEY,
    time        bigint NOT NULL,
    node        text NOT NULL,
    kind        text NOT NULL,
    message_id  text,                     -- without angle brackets
    queue_id    text,
    related_queue_id text,                -- a notification's original message
    sender      text,                     -- lower-cased
    recipients  text[] NOT NULL,          -- lower-cased
    line        bytea NOT NULL
);
CREATE INDEX postern_events_message_id ON postern_events (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX postern_events_queue_id ON postern_events (queue_id) WHERE queue_id IS NOT NULL;
CREATE INDEX postern_events_related ON postern_events (related_queue_id) WHERE related_queue_id IS NOT NULL;
CREATE INDEX postern_events_sender ON postern_events (sender) WHERE sender IS NOT NULL;
CREATE INDEX postern_events_recipients ON postern_events USING gin (recipients);
CREATE INDEX postern_events_time ON postern_events (time);
