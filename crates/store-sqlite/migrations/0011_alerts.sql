-- The app's notifications with their read state: a connection broke, a
-- reminder to reconnect, a new suggestion. The email digest keeps its own
-- queue (`notifications`); these stay until the member has read them and
-- after. Append-only: the same version exists for the other backend.

CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('connection_broken', 'reconnect_reminder',
                    'suggestion')),
    team_id     INTEGER REFERENCES teams (id) ON DELETE CASCADE,
    account_id  INTEGER REFERENCES accounts (id) ON DELETE CASCADE,
    post_id     INTEGER REFERENCES posts (id) ON DELETE CASCADE,
    text        TEXT    NOT NULL,
    -- The same event told twice (a second detection, a retried job) adds nothing.
    dedupe_key  TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    read_at     INTEGER
);
CREATE INDEX alerts_by_user ON alerts (user_id, id);
CREATE INDEX alerts_unread ON alerts (user_id) WHERE read_at IS NULL;
