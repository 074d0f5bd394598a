-- Data lifecycle: an account's own retention times (JSON; `{}` keeps the
-- server's default for every outcome).
ALTER TABLE accounts ADD COLUMN retention TEXT NOT NULL DEFAULT '{}';
