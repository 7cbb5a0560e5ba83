-- Auto scaling configurations (App Runner's): named, revisioned, shared between services. A revision never
-- changes; a service's spec keeps a copy of the values of the revision it uses.
CREATE TABLE autoscaling_configurations (
    name            TEXT NOT NULL,
    revision        INTEGER NOT NULL,
    max_concurrency INTEGER NOT NULL,
    min_size        INTEGER NOT NULL,
    max_size        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    deleted_at      INTEGER,
    PRIMARY KEY (name, revision)
);
-- App Runner's default configuration, which every installation has.
INSERT INTO autoscaling_configurations (name, revision, max_concurrency, min_size, max_size, created_at)
    VALUES ('DefaultConfiguration', 1, 100, 1, 25, 0);
-- Which configuration new services get (its latest revision).
INSERT INTO settings (key, value) VALUES ('default_autoscaling', 'DefaultConfiguration')
    ON CONFLICT (key) DO NOTHING;

-- The autoscaler's latest decision for each service: what it wants and why, and what it saw.
CREATE TABLE scaling_decisions (
    service_id  TEXT PRIMARY KEY REFERENCES services (id),
    desired     INTEGER NOT NULL,
    ready       INTEGER NOT NULL,
    concurrency REAL NOT NULL,
    reason      TEXT NOT NULL,
    at          INTEGER NOT NULL
);
