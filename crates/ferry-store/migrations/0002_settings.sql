-- Facts about this installation, one row each (e.g. `installation_id`).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
