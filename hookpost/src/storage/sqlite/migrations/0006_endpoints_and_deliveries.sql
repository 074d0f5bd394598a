-- Endpoints and fan-out. An event now goes to one delivery per destination,
-- and the delivery row (not the event row) is the queue entry: due_at is when
-- it may next be claimed, pushed forward by lease_ms when a node claims it.
-- The event keeps its status as the sum of its deliveries'.

CREATE TABLE endpoints (
    id               TEXT PRIMARY KEY,      -- ep_<UUIDv7>
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    profile_id       TEXT,                  -- NULL: the account's own endpoints
    spec             TEXT NOT NULL,         -- JSON: URLs, subscription, headers, settings, limits
    state            TEXT NOT NULL,         -- enabled | disabled
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    last_success_at  INTEGER,
    last_failure_at  INTEGER
);
CREATE INDEX endpoints_by_account ON endpoints (account_id, profile_id, id);

CREATE TABLE deliveries (
    event_id       TEXT NOT NULL REFERENCES events(id),
    seq            INTEGER NOT NULL,        -- 0, 1, … within the event
    endpoint_id    TEXT,                    -- NULL: the level's webhook_url settings
    target         TEXT NOT NULL,           -- JSON resolved target
    status         TEXT NOT NULL,           -- pending | delivered | failed
    reason         TEXT,                    -- why it failed
    attempts_made  INTEGER NOT NULL DEFAULT 0,
    retries_left   INTEGER NOT NULL DEFAULT 0,
    lease_ms       INTEGER NOT NULL DEFAULT 0,
    due_at         INTEGER,
    claimed_by     TEXT,
    updated_at     INTEGER NOT NULL,
    lane           TEXT,                    -- ordering lane: account, destination, ordering key
    PRIMARY KEY (event_id, seq)
) WITHOUT ROWID;
INSERT INTO deliveries (event_id, seq, target, status, reason, attempts_made, retries_left,
                        lease_ms, due_at, claimed_by, updated_at)
    SELECT id, 0, target, status, CASE WHEN status = 'failed' THEN 'attempts_exhausted' END,
           attempts_made, retries_left, lease_ms, due_at, claimed_by, updated_at
    FROM events WHERE target IS NOT NULL AND status IN ('pending', 'delivered', 'failed');
-- The queue, in two parts: first attempts are claimed ahead of retries
-- (storage/sql.rs CLAIM_PASSES). A pending row sits in exactly one of them.
CREATE INDEX deliveries_fresh ON deliveries (due_at) WHERE status = 'pending' AND attempts_made = 0;
CREATE INDEX deliveries_retry ON deliveries (due_at) WHERE status = 'pending' AND attempts_made > 0;
-- A lane's pending deliveries in publish order: at most one is due, the rest wait (due_at NULL).
CREATE INDEX deliveries_lane ON deliveries (lane, event_id, seq) WHERE status = 'pending' AND lane IS NOT NULL;
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, event_id) WHERE endpoint_id IS NOT NULL;

DROP INDEX events_due;
ALTER TABLE events ADD COLUMN ordering_key TEXT;
ALTER TABLE events DROP COLUMN target;
ALTER TABLE events DROP COLUMN attempts_made;
ALTER TABLE events DROP COLUMN retries_left;
ALTER TABLE events DROP COLUMN lease_ms;
ALTER TABLE events DROP COLUMN due_at;
ALTER TABLE events DROP COLUMN claimed_by;

-- Attempts now belong to a delivery: seq joins the key.
CREATE TABLE attempts_by_delivery (
    event_id      TEXT NOT NULL REFERENCES events(id),
    seq           INTEGER NOT NULL,
    attempt       INTEGER NOT NULL,
    leg           TEXT NOT NULL,
    url           TEXT NOT NULL,
    started_at    INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    http_status   INTEGER,
    error         TEXT,
    response      TEXT,
    error_detail  TEXT,
    PRIMARY KEY (event_id, seq, attempt, leg)
) WITHOUT ROWID;
INSERT INTO attempts_by_delivery
    SELECT event_id, 0, attempt, leg, url, started_at, duration_ms, http_status, error, response, error_detail
    FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_by_delivery RENAME TO attempts;

-- Jobs a caller starts (a replay to an endpoint): claimed under a lease like
-- deliveries, run in small rate-limited batches, progress kept in the row.
CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,           -- job_<UUIDv7>
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    kind        TEXT NOT NULL,
    params      TEXT NOT NULL,              -- JSON
    state       TEXT NOT NULL,              -- running | succeeded | failed | cancelled
    progress    TEXT NOT NULL,              -- JSON
    due_at      INTEGER,
    claimed_by  TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs (due_at) WHERE state = 'running';
