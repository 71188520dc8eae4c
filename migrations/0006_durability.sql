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

-- When each entity fact was last set, as `occurred_at event_id` per column (JSON object), so a fact
-- ends as carried by the latest event that carried it, whatever the arrival order.
ALTER TABLE orders ADD COLUMN fact_times TEXT;
ALTER TABLE medication_requests ADD COLUMN fact_times TEXT;
ALTER TABLE refills ADD COLUMN fact_times TEXT;

-- When a send job that failed transiently is due again (its queue backoff), so the notification
-- sweep does not start a second retry chain for a row that is only waiting out its backoff.
ALTER TABLE notifications ADD COLUMN next_attempt_at TEXT;

-- /admin/stats sums conflicts and repeated applications over the few rows that have any.
CREATE INDEX events_conflicts ON events (conflicts) WHERE conflicts > 0;
CREATE INDEX events_reapplied ON events (applications) WHERE applications > 1;
-- The retention job's rendered-body purge.
CREATE INDEX notifications_rendered ON notifications (created_at) WHERE rendered IS NOT NULL;
