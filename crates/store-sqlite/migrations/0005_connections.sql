-- Connections: grants (one OAuth authorization per member's login at a
-- provider), the accounts posted as through them, started OAuth flows and
-- the append-only timeline. Tokens and PKCE verifiers are stored sealed by
-- the keyring, bound to their row; only the hash of a flow's state is kept.
-- Append-only: the same version exists for PostgreSQL.

CREATE TABLE grants (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider            TEXT    NOT NULL,
    external_user_id    TEXT    NOT NULL,
    scopes              TEXT    NOT NULL,
    access_token        TEXT    NOT NULL,
    refresh_token       TEXT,
    access_expires_at   INTEGER NOT NULL,
    refresh_expires_at  INTEGER,
    status              TEXT    NOT NULL CHECK (status IN ('active', 'broken', 'removed')),
    break_reason        TEXT,
    broken_since        INTEGER,
    -- Bumped on every token write: a write fenced by an older one loses.
    generation          INTEGER NOT NULL DEFAULT 0,
    lease_token         TEXT,
    leased_until        INTEGER,
    next_due_at         INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (owner_user_id, provider, external_user_id)
);
-- The scheduler's index: its cost follows the due work, not the table.
CREATE INDEX grants_due ON grants (next_due_at, id) WHERE status = 'active';

CREATE TABLE accounts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    grant_id       INTEGER NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    kind           TEXT    NOT NULL CHECK (kind IN ('personal', 'business')),
    owner_user_id  INTEGER REFERENCES users (id) ON DELETE CASCADE,
    team_id        INTEGER REFERENCES teams (id) ON DELETE CASCADE,
    provider       TEXT    NOT NULL,
    external_id    TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    page_token     TEXT,
    status         TEXT    NOT NULL CHECK (status IN ('active', 'broken', 'removed')),
    break_reason   TEXT,
    broken_since   INTEGER,
    created_at     INTEGER NOT NULL,
    CHECK ((kind = 'personal' AND owner_user_id IS NOT NULL AND team_id IS NULL)
        OR (kind = 'business' AND team_id IS NOT NULL AND owner_user_id IS NULL))
);
CREATE UNIQUE INDEX accounts_personal ON accounts (owner_user_id, provider, external_id)
    WHERE kind = 'personal';
CREATE UNIQUE INDEX accounts_business ON accounts (team_id, provider, external_id)
    WHERE kind = 'business';
CREATE INDEX accounts_by_grant ON accounts (grant_id);

CREATE TABLE oauth_flows (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    state_hash      TEXT    NOT NULL UNIQUE,
    pkce_verifier   TEXT,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider        TEXT    NOT NULL,
    purpose         TEXT    NOT NULL CHECK (purpose IN ('connect', 'reconnect', 'share')),
    kind            TEXT    NOT NULL CHECK (kind IN ('personal', 'business')),
    team_id         INTEGER REFERENCES teams (id) ON DELETE CASCADE,
    account_id      INTEGER REFERENCES accounts (id) ON DELETE CASCADE,
    redirect_to     TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    consumed_at     INTEGER
);
CREATE INDEX oauth_flows_by_expiry ON oauth_flows (expires_at);

CREATE TABLE connection_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    grant_id    INTEGER NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    account_id  INTEGER REFERENCES accounts (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    reason      TEXT,
    at          INTEGER NOT NULL,
    detail      TEXT    NOT NULL
);
CREATE INDEX connection_events_by_grant ON connection_events (grant_id, at, id);
