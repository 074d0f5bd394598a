-- Delivery control. Each endpoint keeps its control state (failure streak,
-- breaker, pause, adapted concurrency, rate-limit clock) as JSON, and whether
-- its deliveries must be admitted one by one (gated), which a claim reads.
ALTER TABLE endpoints ADD COLUMN control TEXT NOT NULL DEFAULT '{}';
ALTER TABLE endpoints ADD COLUMN gated INTEGER NOT NULL DEFAULT 0;
UPDATE endpoints SET gated = 1 WHERE state <> 'enabled' OR json_extract(spec, '$.max_in_flight') IS NOT NULL OR json_extract(spec, '$.rate_limit') IS NOT NULL;

-- Why a pending delivery waits without an attempt (max_in_flight, breaker_open,
-- …): a finishing delivery or a closing breaker makes the held ones due.
-- A delivery of a disabled endpoint is parked with status 'paused'.
ALTER TABLE deliveries ADD COLUMN held TEXT;
-- A parked delivery keeps its place in its ordering lane.
DROP INDEX deliveries_lane;
CREATE INDEX deliveries_lane ON deliveries (lane, event_id, seq) WHERE lane IS NOT NULL AND status IN ('pending', 'paused');
CREATE INDEX deliveries_held ON deliveries (endpoint_id, due_at) WHERE held IS NOT NULL;

-- The deliveries admitted under an endpoint's limits and not yet recorded:
-- their count is the endpoint's concurrency across every node. A place whose
-- holder died lapses with the delivery's lease.
CREATE TABLE endpoint_permits (
    event_id     TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    endpoint_id  TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (event_id, seq)
);
CREATE INDEX endpoint_permits_by_endpoint ON endpoint_permits (endpoint_id, expires_at);

-- Operational events (an endpoint disabled, a breaker opened, …) waiting to be
-- published into the operator account: written in the transaction that made
-- the change, published and deleted by any node.
CREATE TABLE notices (
    id          TEXT PRIMARY KEY,
    event_type  TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    due_at      INTEGER NOT NULL,
    claimed_by  TEXT
);
CREATE INDEX notices_due ON notices (due_at);
