-- Connections: the credentials for a git host, named, that services building from a private repository
-- refer to (App Runner's Connection). A connection is made without credentials (App Runner's
-- PENDING_HANDSHAKE) and is AVAILABLE once it has them. The credentials (ferry_model::GitCredentials as
-- JSON) are sealed, bound to 'connection:<id>' (see seal.rs); NULL while the connection has none.
CREATE TABLE connections (
    name        TEXT PRIMARY KEY,            -- ferry_model::check_connection_name, case-sensitive
    id          TEXT NOT NULL UNIQUE,        -- 32 lowercase hex digits, random: the end of its ARN
    provider    TEXT NOT NULL,               -- GITHUB | BITBUCKET | GIT
    created_at  INTEGER NOT NULL,            -- milliseconds since the epoch
    updated_at  INTEGER NOT NULL,            -- when the credentials were last given
    credentials BLOB                         -- sealed: 1 || nonce || ciphertext
);
