-- Sharing: each account a member shares a post to is a target with its own
-- publish job and result. A target is published at most once: one live
-- target per post, member and account, and a key the provider call carries.
-- Append-only: the same version exists for the other backend.

CREATE TABLE share_targets (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id           INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    post_id           INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id           INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id        INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    provider          TEXT    NOT NULL,
    text              TEXT    NOT NULL,
    idempotency_key   TEXT    NOT NULL UNIQUE,
    status            TEXT    NOT NULL CHECK (status IN ('queued', 'publishing', 'published',
                          'failed', 'waiting_for_reconnect', 'unsure')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    provider_post_id  TEXT,
    error             TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    published_at      INTEGER
);
-- A double click, a retry or a second device finds the live target.
CREATE UNIQUE INDEX share_targets_live ON share_targets (post_id, user_id, account_id)
    WHERE status <> 'failed';
CREATE INDEX share_targets_by_member ON share_targets (user_id, status);
