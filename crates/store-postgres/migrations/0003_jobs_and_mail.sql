-- The mail outbox's Message-ID. Append-only: the same version exists for SQLite.

-- One Message-ID per email, the same on every delivery attempt, so a receiver
-- can recognise a resend after a crash between sending and recording.
-- Emails queued before this version get one here.
ALTER TABLE emails ADD COLUMN message_id TEXT;
UPDATE emails SET message_id = '<' || replace(gen_random_uuid()::text, '-', '') || '@localhost>';
ALTER TABLE emails ALTER COLUMN message_id SET NOT NULL;
