-- Apostle's first schema on PostgreSQL. Append-only: the same version
-- exists for SQLite.

CREATE TABLE teams (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug        TEXT        NOT NULL UNIQUE,
    name        TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          TEXT        NOT NULL UNIQUE,
    name           TEXT        NOT NULL,
    password_hash  TEXT,
    created_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE memberships (
    team_id  BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role     TEXT   NOT NULL CHECK (role IN ('admin', 'ambassador')),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE invites (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id      BIGINT      NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    email        TEXT        NOT NULL,
    name         TEXT        NOT NULL,
    role         TEXT        NOT NULL CHECK (role IN ('admin', 'ambassador')),
    token_hash   TEXT        NOT NULL UNIQUE,
    invited_by   BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    accepted_at  TIMESTAMPTZ
);
CREATE INDEX invites_by_team ON invites (team_id, created_at);

CREATE TABLE sessions (
    id_hash     TEXT        PRIMARY KEY,
    csrf_token  TEXT        NOT NULL,
    user_id     BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE api_tokens (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT        NOT NULL,
    token_hash    TEXT        NOT NULL UNIQUE,
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

CREATE TABLE jobs (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          TEXT        NOT NULL,
    payload       JSONB       NOT NULL,
    dedupe_key    TEXT,
    state         TEXT        NOT NULL CHECK (state IN ('pending', 'running', 'dead')),
    attempts      INTEGER     NOT NULL DEFAULT 0,
    max_attempts  INTEGER     NOT NULL,
    run_at        TIMESTAMPTZ NOT NULL,
    lease_token   TEXT,
    locked_until  TIMESTAMPTZ,
    last_error    TEXT,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX jobs_pending_dedupe ON jobs (dedupe_key) WHERE state = 'pending';
CREATE INDEX jobs_claim ON jobs (state, run_at, id);

CREATE TABLE emails (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient   TEXT        NOT NULL,
    template    TEXT        NOT NULL,
    subject     TEXT        NOT NULL,
    text_body   TEXT        NOT NULL,
    html_body   TEXT        NOT NULL,
    dedupe_key  TEXT        UNIQUE,
    state       TEXT        NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
    attempts    INTEGER     NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    sent_at     TIMESTAMPTZ
);
CREATE INDEX emails_by_recipient ON emails (recipient, created_at);
CREATE INDEX emails_by_state ON emails (state);
