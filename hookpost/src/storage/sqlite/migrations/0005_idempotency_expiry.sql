-- Expired idempotency keys are deleted by a background job (jobs/), oldest
-- first, in small batches: this index finds them without a scan.
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
