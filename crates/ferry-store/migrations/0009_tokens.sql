-- Named, scoped, expiring API tokens. Tokens made before scopes existed (the first-start admin token) keep
-- every right they had: they become `admin` tokens that never expire.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin'
    CHECK (scope IN ('read-only', 'deploy', 'admin'));
-- Milliseconds since the epoch; NULL never expires.
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
-- Names become unique (tokens are revoked by name). Releases before this made one token only, but a
-- duplicate name would stop the upgrade, so any duplicate gets its id appended first.
UPDATE api_tokens SET name = name || '-' || substr(id, 1, 8)
    WHERE rowid NOT IN (SELECT MIN(rowid) FROM api_tokens GROUP BY name);
CREATE UNIQUE INDEX api_tokens_name ON api_tokens (name);
