-- hookpost PostgreSQL schema, version 1. Times are Unix milliseconds (UTC), the
-- same as the embedded store, so both backends share their row conversions.

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    api_key_hash  BYTEA NOT NULL UNIQUE,
    settings      TEXT NOT NULL,
    signing_keys  TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE profiles (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    id          TEXT NOT NULL,
    settings    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, id)
);

-- A pending event is its own queue entry; see the embedded schema.
CREATE TABLE events (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    profile_id       TEXT,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    payloads         TEXT,
    occurred_at      TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    idempotency_key  TEXT,
    target           TEXT,
    status           TEXT NOT NULL,
    attempts_made    BIGINT NOT NULL DEFAULT 0,
    retries_left     BIGINT NOT NULL DEFAULT 0,
    lease_ms         BIGINT NOT NULL DEFAULT 0,
    due_at           BIGINT,
    claimed_by       TEXT,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX events_due ON events (due_at) WHERE status = 'pending';
CREATE INDEX events_by_account ON events (account_id, id);

CREATE TABLE attempts (
    event_id      TEXT NOT NULL REFERENCES events(id),
    attempt       BIGINT NOT NULL,
    leg           TEXT NOT NULL,
    url           TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    http_status   BIGINT,
    error         TEXT,
    response      TEXT,
    PRIMARY KEY (event_id, attempt, leg)
);

CREATE TABLE idempotency_keys (
    account_id  TEXT NOT NULL,
    key         TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, key)
);
