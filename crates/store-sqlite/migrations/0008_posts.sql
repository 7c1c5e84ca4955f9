-- Posts and their delivery: what admins suggest, one delivery per member at
-- a moment in the member's local time, page-owner approvals, the
-- notifications batched into at most one email an hour, and the signed
-- one-click links already used. Timestamps are microseconds as in 0001.
-- Append-only: the same version exists for the other backend.

ALTER TABLE users ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
-- Whether the member chose it; until then the browser's at sign-in replaces it.
ALTER TABLE users ADD COLUMN time_zone_chosen INTEGER NOT NULL DEFAULT 0;
-- Notification kinds the member turned off, comma-separated.
ALTER TABLE users ADD COLUMN muted_notifications TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN last_notified_at INTEGER;

ALTER TABLE teams ADD COLUMN window_start INTEGER NOT NULL DEFAULT 540;
ALTER TABLE teams ADD COLUMN window_end INTEGER NOT NULL DEFAULT 1020;

ALTER TABLE accounts ADD COLUMN auto_approve INTEGER NOT NULL DEFAULT 0;
-- The last time the engine heard from the provider about this grant.
ALTER TABLE grants ADD COLUMN checked_at INTEGER;
-- The notification kind a member can unsubscribe from with this email.
ALTER TABLE emails ADD COLUMN unsubscribe_kind TEXT;

CREATE TABLE utm_presets (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id     INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    utm         TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (team_id, name)
);

CREATE TABLE images (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id       INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    public_id     TEXT    NOT NULL UNIQUE,
    content_type  TEXT    NOT NULL,
    bytes         BLOB    NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE posts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id         INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    author_id       INTEGER NOT NULL REFERENCES users (id),
    text            TEXT    NOT NULL,
    -- Per-provider text, JSON object {provider: text}.
    variants        TEXT    NOT NULL DEFAULT '{}',
    link            TEXT,
    link_title      TEXT,
    utm             TEXT    NOT NULL DEFAULT '{}',
    image_id        INTEGER REFERENCES images (id),
    providers       TEXT    NOT NULL,
    recipients_all  INTEGER NOT NULL,
    schedule        TEXT    NOT NULL,
    status          TEXT    NOT NULL
        CHECK (status IN ('draft', 'scheduled', 'sent', 'expired', 'archived')),
    expires_at      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    deleted_at      INTEGER
);
CREATE INDEX posts_by_team ON posts (team_id, created_at);

CREATE TABLE post_recipients (
    post_id  INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (post_id, user_id)
);

CREATE TABLE post_pages (
    post_id     INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (post_id, account_id)
);

CREATE TABLE deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id       INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    team_id       INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    due_at        INTEGER NOT NULL,
    state         TEXT    NOT NULL
        CHECK (state IN ('pending', 'delivered', 'shared', 'rejected', 'expired')),
    delivered_at  INTEGER,
    decided_at    INTEGER,
    UNIQUE (post_id, user_id)
);
-- The dispatcher's index: its cost follows the due deliveries.
CREATE INDEX deliveries_due ON deliveries (due_at, id) WHERE state = 'pending';
CREATE INDEX deliveries_by_member ON deliveries (user_id, state);

CREATE TABLE approvals (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id        INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    team_id        INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    account_id     INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    state          TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
    publish_at     INTEGER NOT NULL,
    decided_by     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    decided_at     INTEGER,
    created_at     INTEGER NOT NULL,
    UNIQUE (post_id, account_id)
);
CREATE INDEX approvals_by_team ON approvals (team_id, state);

CREATE TABLE notifications (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    team_id      INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    post_id      INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    delivery_id  INTEGER REFERENCES deliveries (id) ON DELETE CASCADE,
    approval_id  INTEGER REFERENCES approvals (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    emailed_at   INTEGER
);
CREATE INDEX notifications_unsent ON notifications (user_id) WHERE emailed_at IS NULL;

-- One row per one-click link used: a link works once.
CREATE TABLE action_link_uses (
    signature_hash  TEXT    PRIMARY KEY,
    used_at         INTEGER NOT NULL
);
