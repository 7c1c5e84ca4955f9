-- Failed sign-ins (and password reset requests), counted per limiter key
-- so that every process on one database shares one limit. Only the SHA-256
-- of a key (an email address, a client address) is stored. Append-only:
-- the same version exists for SQLite.

CREATE TABLE login_failures (
    key_hash   TEXT        NOT NULL,
    failed_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_failures_by_key ON login_failures (key_hash, failed_at);
CREATE INDEX login_failures_by_time ON login_failures (failed_at);
