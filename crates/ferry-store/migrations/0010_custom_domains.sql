-- Custom domains (ferry_model::CustomDomain): each routes to one service and has a certificate of its own.
-- A name belongs to at most one service; rows go when their service is deleted.
CREATE TABLE custom_domains (
    name         TEXT PRIMARY KEY,          -- lower case; `*.example.com` for a wildcard
    service_id   TEXT NOT NULL REFERENCES services (id),
    www          INTEGER NOT NULL,          -- also www.<name>
    method       TEXT NOT NULL,             -- http-01, tls-alpn-01, dns-01
    status       TEXT NOT NULL,             -- PENDING_CERTIFICATE_VALIDATION, ACTIVE, CREATE_FAILED
    reason       TEXT,                      -- the CA's words for the last failure
    not_after    INTEGER,                   -- the served certificate's expiry
    renew_at     INTEGER,
    next_attempt INTEGER,                   -- after a failure: when ferry asks again
    failures     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);
CREATE INDEX custom_domains_by_service ON custom_domains (service_id);
