-- API key rotation: the previous key keeps working until previous_key_expires_at.
ALTER TABLE accounts ADD COLUMN previous_key_hash BLOB;
ALTER TABLE accounts ADD COLUMN previous_key_expires_at INTEGER;
CREATE INDEX accounts_previous_key ON accounts (previous_key_hash) WHERE previous_key_hash IS NOT NULL;
