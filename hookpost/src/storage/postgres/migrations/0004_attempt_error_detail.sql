-- The cause of a failed request in words ("connection refused", "TLS: ..."),
-- so a customer can act on it.
ALTER TABLE attempts ADD COLUMN error_detail TEXT;
