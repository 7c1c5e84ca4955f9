-- A page of a member's inbox reads their delivered rows newest first and
-- stops after the page (keyset on delivery time, then id) instead of
-- sorting all of them. It covers what `deliveries_by_member` served.
CREATE INDEX deliveries_inbox ON deliveries (user_id, state, delivered_at, id);
DROP INDEX deliveries_by_member;
