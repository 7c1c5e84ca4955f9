-- A team can have Apostle remind members whose personal accounts stay broken
-- (3 and 7 days after the break). Off unless an admin turns it on.
-- Append-only: the same version exists for the other backend.

ALTER TABLE teams ADD COLUMN auto_reminders INTEGER NOT NULL DEFAULT 0;
