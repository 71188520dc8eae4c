-- Issue 11: durability at the edges of the pipeline.

-- When an event was last put in `queued` (replay, bulk re-drive, sweep), so the sweep can tell an
-- event whose message was lost from one that is merely waiting for its delivery.
ALTER TABLE events ADD COLUMN queued_at TEXT;
UPDATE events SET queued_at = received_at WHERE status = 'queued';
-- Optional fields that were coerced or dropped: JSON [{path, message}], never values.
ALTER TABLE events ADD COLUMN warnings TEXT;

-- The sweep's two lookups: events left queued, and events held by an expired lease.
CREATE INDEX events_stuck_queued ON events (queued_at) WHERE status = 'queued';
CREATE INDEX events_stuck_processing ON events (lease_expires_at) WHERE status = 'processing';
