-- A held share the member rescheduled publishes no earlier than the moment
-- they chose. Append-only: the same version exists for the other backend.
ALTER TABLE share_targets ADD COLUMN publish_after INTEGER;
-- A member's share history, newest first.
CREATE INDEX share_targets_history ON share_targets (user_id, team_id, id);
