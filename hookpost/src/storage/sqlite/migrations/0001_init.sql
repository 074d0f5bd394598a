-- hookpost embedded schema, version 1. Times are Unix milliseconds (UTC).

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    api_key_hash  BLOB NOT NULL UNIQUE,  -- SHA-256 of the API key; the key is never stored
    settings      TEXT NOT NULL,         -- JSON webhook settings
    signing_keys  TEXT NOT NULL,         -- JSON signing material
    created_at    INTEGER NOT NULL
);

CREATE TABLE profiles (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    id          TEXT NOT NULL,
    settings    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, id)
) WITHOUT ROWID;

-- A pending event is its own queue entry: due_at is when it may next be claimed,
-- pushed forward by lease_ms when a node claims it (claimed_by).
CREATE TABLE events (
    id               TEXT PRIMARY KEY,      -- UUIDv7: sorts by time
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    profile_id       TEXT,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    payloads         TEXT,
    occurred_at      TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    idempotency_key  TEXT,
    target           TEXT,                  -- JSON resolved target, NULL for no_target
    status           TEXT NOT NULL,
    attempts_made    INTEGER NOT NULL DEFAULT 0,
    retries_left     INTEGER NOT NULL DEFAULT 0,
    lease_ms         INTEGER NOT NULL DEFAULT 0,
    due_at           INTEGER,
    claimed_by       TEXT,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX events_due ON events (due_at) WHERE status = 'pending';
CREATE INDEX events_by_account ON events (account_id, id);

CREATE TABLE attempts (
    event_id      TEXT NOT NULL REFERENCES events(id),
    attempt       INTEGER NOT NULL,
    leg           TEXT NOT NULL,            -- primary | failover
    url           TEXT NOT NULL,            -- password masked
    started_at    INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    http_status   INTEGER,
    error         TEXT,
    response      TEXT,
    PRIMARY KEY (event_id, attempt, leg)
) WITHOUT ROWID;

CREATE TABLE idempotency_keys (
    account_id  TEXT NOT NULL,
    key         TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, key)
) WITHOUT ROWID;
