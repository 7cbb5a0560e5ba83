-- Automatic deployments. A revision made for a push builds the commit the push named.
ALTER TABLE revisions ADD COLUMN source_commit TEXT;

-- What ferry knows of each service's watched branch or tag (ferry_model::SourceWatch).
CREATE TABLE source_watches (
    service_id     TEXT PRIMARY KEY REFERENCES services (id),
    seen_version   TEXT,                     -- newest commit (40 hex) or digest (sha256:…) seen
    seen_at        INTEGER,
    seen_via       TEXT,                     -- webhook, notification, poll
    seen_author    TEXT,
    seen_subject   TEXT,
    checked_at     INTEGER,                  -- when ferry last asked the git host or registry
    check_error    TEXT,                     -- why that failed, if it did
    ignored_at     INTEGER,                  -- the last push recorded and not deployed
    ignored_reason TEXT
);

-- A service's push webhook: its URL's id and its secret (an HMAC key: kept as is, signatures need it).
CREATE TABLE webhooks (
    service_id TEXT PRIMARY KEY REFERENCES services (id),
    hook_id    TEXT NOT NULL UNIQUE,
    secret     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Registries whose notifications ferry accepts, each with the hex SHA-256 of its token.
CREATE TABLE registry_hooks (
    host       TEXT PRIMARY KEY,             -- as in image references: `registry.example.com`, `127.0.0.1:5000`
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
