-- The time a delivery waited behind a paused destination (circuit open) without being tried
-- (issue 25: nothing is lost across a 72 h outage). The give-up after GIVE_UP_AFTER_MS counts the time
-- a row was retried, not the time it waited for its destination to come back, and a wait is not a try
-- (its claim no longer grows the row's backoff).
ALTER TABLE clinic_deliveries ADD COLUMN paused_ms INTEGER NOT NULL DEFAULT 0;
