-- Issue 19.4: at most one message per (entity, status) and channel. A second event with the same
-- status for the same entity (a later `order:shipped` with a new event_id) writes no second row: the
-- outbox insert hits this index. `topic` is the row's kind (`order_shipped`), or for a tracking
-- update `order_tracking_updated:<tracking number>`, so each new tracking number is told at most once.
ALTER TABLE notifications ADD COLUMN topic TEXT;

-- The tracking number the message carried (set with the send mark; read once the row is `sent`), so
-- a later event that changes it is told once, and one that repeats it not at all.
ALTER TABLE notifications ADD COLUMN told_tracking_number TEXT;

-- Existing rows: the first per (entity, channel, kind) takes the topic; later ones (sent before this
-- rule) keep NULL, which the unique index allows, and keep the old per-event supersede rule.
UPDATE notifications SET topic = kind
WHERE notification_id IN (
  SELECT notification_id FROM (
    SELECT notification_id,
      ROW_NUMBER() OVER (PARTITION BY entity_id, channel, kind ORDER BY created_at, notification_id) AS position
    FROM notifications)
  WHERE position = 1);

CREATE UNIQUE INDEX IF NOT EXISTS notifications_one_per_topic ON notifications (entity_id, channel, topic);
