-- What the connection engine needs beyond 0005: a finished business flow
-- remembers its grant while the admin picks pages; grants broken for an
-- action at the provider stay due, because the next probe that succeeds
-- heals them; deauthorize callbacks find grants by login.
-- Append-only: the same version exists for the other backend.

ALTER TABLE oauth_flows ADD COLUMN grant_id INTEGER REFERENCES grants (id) ON DELETE CASCADE;

DROP INDEX grants_due;
CREATE INDEX grants_due ON grants (next_due_at, id)
    WHERE status = 'active'
       OR (status = 'broken' AND break_reason = 'provider_action_required');

CREATE INDEX grants_by_login ON grants (provider, external_user_id);
