-- Portal links are signed tokens, not rows: revoking an account's links
-- keeps only the time, and a link made at or before it is refused.
CREATE TABLE portal_revocations (
    account_id  TEXT PRIMARY KEY REFERENCES accounts(id),
    revoked_at  BIGINT NOT NULL
);
