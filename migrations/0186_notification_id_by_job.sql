-- About 0.65 D1 rows written fewer per event: one per notification inserted (issue 26.2). A
-- notification's id is now derived from its job key: 'ntf_' || event_id || '.' || channel (the sender's
-- jobs name their row by (event_id, channel)), so the primary key answers every lookup by event and
-- channel, and keeps a replay from adding a second row, for the rows written from now on. The unique
-- (event_id, channel) constraint was an index entry every insert wrote; it becomes a partial unique
-- index over the rows written before, whose ids are random ('ntf_' and 24 hex digits, never with a
-- '.', so never equal to a derived id). A lookup by job key asks both: the derived id on the primary
-- key, or (event_id, channel) among the older rows, spelled with the index's own condition so the
-- planner uses it (src/db/notification-keys.ts). As the archive moves finished history to R2, the
-- older rows leave D1 and that index empties.
--
-- (event_id, channel) stays unique across both kinds of id, whichever release writes: the trigger
-- notifications_one_per_event_channel skips an insert (as ON CONFLICT DO NOTHING does) when the
-- other kind of row already holds its (event_id, channel): a replay by this release of an event the
-- release before applied, and one by the release before (which still inserts random ids, during a
-- deploy or after a rollback) of an event this release applied. It reads two index entries and
-- writes nothing.
--
-- Derived ids hold the event id's case; the id search finds those with an upper-case letter through
-- notifications_id_mixed_case, as it does events (migration 0182), which NovaMed's lower-case ids
-- never write.
--
-- A table rebuild (SQLite cannot drop a table constraint in place): copy, drop, rename, then every
-- index and trigger as they were (migrations 0160 to 0185). The release before runs on this schema: it
-- inserts random ids into the partial index, and its lookups by (event_id, channel) find its own rows
-- there; those of this release's rows it would read by scanning (docs/operations.md, "Rolling back").
CREATE TABLE notifications_rebuilt (
  notification_id TEXT PRIMARY KEY,   -- also the email provider's idempotency key
  event_id TEXT NOT NULL, channel TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
  kind TEXT NOT NULL,                 -- order_shipped, order_delivered, ...
  patient_id TEXT NOT NULL, entity_id TEXT NOT NULL,
  status TEXT NOT NULL,               -- pending | scheduled | sent | delivered | failed | suppressed | held
  provider TEXT, provider_message_id TEXT, attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,                         -- reason for failed / suppressed; never contact details
  rendered TEXT,                      -- JSON of the message as sent (subject, text)
  scheduled_for TEXT,                 -- next send-window opening, for scheduled SMS
  lease_expires_at INTEGER,           -- epoch ms; a sender is calling the provider
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  -- the columns added since, in the order they were (0004 to 0131), so `SELECT *` reads them as before
  sent_at TEXT, lease_token TEXT, next_attempt_at TEXT, send_started_at TEXT, send_attempt TEXT, topic TEXT,
  told_tracking_number TEXT, locale TEXT, created_status TEXT, status_at TEXT
) WITHOUT ROWID;
INSERT INTO notifications_rebuilt SELECT * FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_rebuilt RENAME TO notifications;

-- The rows written before this migration, by job key (their ids are random).
CREATE UNIQUE INDEX notifications_event_channel ON notifications (event_id, channel)
  WHERE notification_id <> 'ntf_' || event_id || '.' || channel;
CREATE INDEX notifications_id_mixed_case ON notifications (lower(notification_id))
  WHERE notification_id <> lower(notification_id);
CREATE TRIGGER notifications_one_per_event_channel BEFORE INSERT ON notifications
WHEN EXISTS (SELECT 1 FROM notifications WHERE notification_id = 'ntf_' || NEW.event_id || '.' || NEW.channel)
  OR EXISTS (SELECT 1 FROM notifications WHERE event_id = NEW.event_id AND channel = NEW.channel
    AND notification_id <> 'ntf_' || event_id || '.' || channel)
BEGIN SELECT RAISE(IGNORE); END;

-- As before.
CREATE UNIQUE INDEX notifications_one_per_topic ON notifications (entity_id, channel, topic);
CREATE INDEX notifications_patient_created ON notifications (patient_id, created_at);
CREATE INDEX notifications_created ON notifications (created_at, notification_id);
CREATE INDEX notifications_provider_message ON notifications (provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE INDEX notifications_status_created ON notifications (status, created_at) WHERE status <> 'sent';
CREATE TRIGGER notifications_change_created AFTER INSERT ON notifications
WHEN NEW.status IN ('sent', 'delivered', 'failed', 'suppressed', 'held') BEGIN
  INSERT INTO change_log SELECT 'notification', NEW.notification_id, NEW.status, NULL, NEW.updated_at, clinic_id, NEW.event_id
  FROM (SELECT (SELECT clinic_id FROM events WHERE event_id = NEW.event_id) AS clinic_id); END;
CREATE TRIGGER notifications_change_updated AFTER UPDATE OF status ON notifications
WHEN NEW.status IN ('sent', 'delivered', 'failed', 'suppressed', 'held') AND OLD.status IS NOT NEW.status BEGIN
  INSERT INTO change_log SELECT 'notification', NEW.notification_id, NEW.status, OLD.status, NEW.updated_at, clinic_id, NEW.event_id
  FROM (SELECT (SELECT clinic_id FROM events WHERE event_id = NEW.event_id) AS clinic_id); END;
CREATE TRIGGER notifications_rendered_mark_inserted AFTER INSERT ON notifications WHEN NEW.rendered IS NOT NULL
  AND NEW.created_at < (SELECT at FROM retention_marks WHERE name = 'notifications.rendered')
BEGIN UPDATE retention_marks SET at = NEW.created_at WHERE name = 'notifications.rendered' AND at > NEW.created_at; END;
CREATE TRIGGER notifications_rendered_mark_updated AFTER UPDATE OF rendered, created_at ON notifications
WHEN NEW.rendered IS NOT NULL AND NEW.created_at < (SELECT at FROM retention_marks WHERE name = 'notifications.rendered')
BEGIN UPDATE retention_marks SET at = NEW.created_at WHERE name = 'notifications.rendered' AND at > NEW.created_at; END;
CREATE TRIGGER notification_status_created AFTER INSERT ON notifications WHEN NEW.created_status IS NULL
BEGIN INSERT INTO notification_status_history (notification_id, seq, status, at, error, provider_message_id)
  VALUES (NEW.notification_id,
    (SELECT COALESCE(MAX(seq), 0) + 1 FROM notification_status_history WHERE notification_id = NEW.notification_id),
    NEW.status, NEW.updated_at, NEW.error, NEW.provider_message_id); END;
CREATE TRIGGER notification_status_history_deleted AFTER DELETE ON notifications
BEGIN DELETE FROM notification_status_history WHERE notification_id = OLD.notification_id; END;
CREATE TRIGGER notification_status_changed AFTER UPDATE OF status ON notifications WHEN OLD.status IS NOT NEW.status
BEGIN
  INSERT INTO notification_status_history (notification_id, seq, status, at, error, provider_message_id)
  SELECT OLD.notification_id,
    (SELECT COALESCE(MAX(seq), 0) + 1 FROM notification_status_history WHERE notification_id = OLD.notification_id),
    OLD.status, OLD.status_at, OLD.error, OLD.provider_message_id
  WHERE OLD.status IN ('sent', 'superseded') AND OLD.status_at IS NOT NULL
    AND (SELECT status FROM notification_status_history WHERE notification_id = OLD.notification_id
         ORDER BY seq DESC LIMIT 1) IS NOT OLD.status;
  INSERT INTO notification_status_history (notification_id, seq, status, at, error, provider_message_id)
  SELECT NEW.notification_id,
    (SELECT COALESCE(MAX(seq), 0) + 1 FROM notification_status_history WHERE notification_id = NEW.notification_id),
    NEW.status, NEW.updated_at, NEW.error, NEW.provider_message_id
  WHERE NOT (NEW.status IN ('sent', 'superseded') AND NEW.status_at IS NEW.updated_at);
END;
