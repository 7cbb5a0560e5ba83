-- ferry's first schema. Migrations are append-only: never edit a released file, add the next number.
-- Times are INTEGER milliseconds since the Unix epoch (UTC).

CREATE TABLE services (
    id              TEXT PRIMARY KEY,        -- 32 hex digits
    name            TEXT NOT NULL,
    name_key        TEXT NOT NULL,           -- lower(name): names are unique among live services, any case
    status          TEXT NOT NULL,           -- App Runner's ServiceStatus
    spec            TEXT NOT NULL,           -- JSON of ferry_model::ServiceSpec, the desired configuration
    active_revision INTEGER,                 -- the revision that serves (or last served)
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    deleted_at      INTEGER
);
CREATE UNIQUE INDEX services_live_name ON services (name_key) WHERE deleted_at IS NULL;

CREATE TABLE revisions (
    service_id   TEXT NOT NULL REFERENCES services (id),
    number       INTEGER NOT NULL,
    spec         TEXT NOT NULL,              -- JSON of the ServiceSpec this revision froze
    image_digest TEXT,                       -- registry manifest digest the tag resolved to
    image_id     TEXT,                       -- engine image id the instances run
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (service_id, number)
);

CREATE TABLE operations (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,  -- order of arrival: newest first is seq DESC
    id         TEXT NOT NULL UNIQUE,               -- UUID
    service_id TEXT NOT NULL REFERENCES services (id),
    type       TEXT NOT NULL,
    status     TEXT NOT NULL,
    revision   INTEGER,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    ended_at   INTEGER,
    updated_at INTEGER NOT NULL,
    error      TEXT
);
CREATE INDEX operations_by_service ON operations (service_id, seq);

CREATE TABLE operation_events (
    operation_id TEXT NOT NULL REFERENCES operations (id),
    seq          INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    message      TEXT NOT NULL,
    PRIMARY KEY (operation_id, seq)
);

CREATE TABLE instances (
    id           TEXT PRIMARY KEY,           -- 16 hex digits, also in the container's name and labels
    service_id   TEXT NOT NULL REFERENCES services (id),
    revision     INTEGER NOT NULL,
    state        TEXT NOT NULL,
    container_id TEXT,
    address      TEXT,
    created_at   INTEGER NOT NULL,
    state_since  INTEGER NOT NULL,
    detail       TEXT,
    log_cursor   INTEGER                     -- time of the last application log line kept
);
CREATE INDEX instances_by_service ON instances (service_id);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,       -- hex SHA-256 of the token; the token itself is never stored
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
