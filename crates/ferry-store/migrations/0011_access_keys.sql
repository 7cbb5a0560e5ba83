-- Access keys for the App Runner-compatible API: AWS SigV4 needs the secret itself to check a signature,
-- so it is sealed (see seal.rs), never hashed. `id` is the AccessKeyId clients send (`AKIA…`).
CREATE TABLE access_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret BLOB NOT NULL,
    -- Milliseconds since the epoch.
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
);
