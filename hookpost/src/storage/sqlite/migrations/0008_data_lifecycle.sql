-- Data lifecycle: an account's own retention times (JSON; `{}` keeps the
-- server's default for every outcome).
ALTER TABLE accounts ADD COLUMN retention TEXT NOT NULL DEFAULT '{}';

-- The ids of the master keys that sealed this database's secrets, so that a
-- node started with another key is refused before it seals anything.
CREATE TABLE master_keys (
    id          TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL
);
