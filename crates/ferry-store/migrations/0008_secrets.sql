-- Secrets: named values a service's instances get as environment variables. The value is sealed
-- (XChaCha20-Poly1305 under the data directory's secret.key, bound to 'secret:<name>'); see seal.rs.
-- Registry and git credentials inside the specs of services and revisions, and webhook secrets (as
-- 'sealed:<hex>'), are sealed from this version on too: rows written before it are sealed when the database is first opened by it (Db::open).
CREATE TABLE secrets (
    name       TEXT PRIMARY KEY,             -- ferry_model::SecretName, case-sensitive as in Secrets Manager
    value      BLOB NOT NULL,                -- sealed: 1 || nonce || ciphertext
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version    INTEGER NOT NULL              -- 1, then +1 at every new value
);
