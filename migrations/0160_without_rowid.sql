-- Fewer D1 rows written per event (issue 26.2): `events` and `notifications` become WITHOUT ROWID
-- tables. A rowid table with a TEXT primary key stores each row twice: the row (by its hidden rowid)
-- and the primary key's own index entry (`sqlite_autoindex_<table>_1`), and D1 bills both on every
-- insert. Keyed by its id itself, the primary key's entry is the row: one row written fewer per event
-- claimed and per notification inserted, with the same columns, the same indexes (their entries carry
-- the id instead of a rowid), the same triggers and the same lookups by id. Nothing reads either
-- table's rowid (the status history's own rowid orders it, and that table is not rebuilt).
--
-- A table rebuild (SQLite cannot change a table's kind in place): copy, drop, rename, then every
-- index and trigger as before (migrations 0001 to 0131). Dropping `notifications` drops its five
-- triggers, two of which read `events`; with them gone, `events` can be dropped and renamed (a rename
-- re-checks every trigger and fails on one naming a table that is missing for the moment). The old
-- code runs unchanged on the rebuilt tables. The copies are one statement over every row each: on a
-- large database apply this after the archive (src/archive/) has brought D1 down to its recent
-- window (docs/operations.md, "Promoting").
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
  told_tracking_number TEXT, locale TEXT, created_status TEXT,
  UNIQUE (event_id, channel)
) WITHOUT ROWID;
INSERT INTO notifications_rebuilt SELECT * FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_rebuilt RENAME TO notifications;

CREATE TABLE events_rebuilt (
  event_id TEXT PRIMARY KEY, event_type TEXT NOT NULL, clinic_id TEXT NOT NULL,
  status TEXT NOT NULL,               -- queued | processing | processed | ignored | invalid | failed | dead
  attempts INTEGER NOT NULL DEFAULT 0,
  occurred_at TEXT NOT NULL, received_at TEXT NOT NULL, processed_at TEXT, -- the envelope's; the edge's first; applied
  last_error TEXT, issues TEXT,       -- an error kind or summary (never payload values); JSON [{path, message}] if invalid
  payload TEXT, payload_hash TEXT NOT NULL, payload_purged_at TEXT, -- the envelope as JSON (NULL once purged); SHA-256
  conflicts INTEGER NOT NULL DEFAULT 0, -- deliveries with this id but different content
  lease_owner TEXT, lease_expires_at INTEGER, -- the consumer applying it now; epoch ms its claim lasts
  request_id TEXT,
  -- the columns added since (0002, 0006), in that order, so `SELECT *` reads them as before
  applications INTEGER NOT NULL DEFAULT 0, queued_at TEXT, warnings TEXT
) WITHOUT ROWID;
INSERT INTO events_rebuilt SELECT * FROM events;
DROP TABLE events;
ALTER TABLE events_rebuilt RENAME TO events;

-- The indexes of events: lists (received, by status, by type, by clinic), the id search, the sweeps
-- and the payload purge, the monitoring counts, the lookups by an id the payload names.
CREATE INDEX events_received ON events (received_at DESC, event_id DESC);
CREATE INDEX events_status_received ON events (status, received_at DESC, event_id DESC);
CREATE INDEX events_type_received ON events (event_type, received_at DESC, event_id DESC);
CREATE INDEX events_clinic_received ON events (clinic_id, received_at DESC, event_id DESC);
CREATE INDEX events_id_lower ON events (lower(event_id));
CREATE INDEX events_purge ON events (received_at) WHERE payload IS NOT NULL;
CREATE INDEX events_stuck_queued ON events (queued_at) WHERE status = 'queued';
CREATE INDEX events_conflicts ON events (conflicts) WHERE conflicts > 0;
CREATE INDEX events_reapplied ON events (applications) WHERE applications > 1;
CREATE INDEX events_data_order_id ON events (json_extract(payload, '$.data.order_id')) WHERE json_extract(payload, '$.data.order_id') IS NOT NULL;
CREATE INDEX events_data_medication_request_id ON events (json_extract(payload, '$.data.medication_request_id')) WHERE json_extract(payload, '$.data.medication_request_id') IS NOT NULL;
CREATE INDEX events_data_refill_id ON events (json_extract(payload, '$.data.refill_id')) WHERE json_extract(payload, '$.data.refill_id') IS NOT NULL;
CREATE INDEX events_data_patient_id ON events (json_extract(payload, '$.data.patient_id')) WHERE json_extract(payload, '$.data.patient_id') IS NOT NULL;

-- The indexes of notifications: one per topic and channel, the lists (by patient, by status, all),
-- the id search, the provider's delivery reports, the purge of rendered text.
CREATE UNIQUE INDEX notifications_one_per_topic ON notifications (entity_id, channel, topic);
CREATE INDEX notifications_patient_created ON notifications (patient_id, created_at);
CREATE INDEX notifications_status_created ON notifications (status, created_at);
CREATE INDEX notifications_created ON notifications (created_at, notification_id);
CREATE INDEX notifications_id_lower ON notifications (lower(notification_id));
CREATE INDEX notifications_provider_message ON notifications (provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE INDEX notifications_rendered ON notifications (created_at) WHERE rendered IS NOT NULL;

-- The triggers of notifications: its status history (migrations 0007, 0131) and its changes (0121).
CREATE TRIGGER notification_status_created AFTER INSERT ON notifications WHEN NEW.created_status IS NULL
BEGIN INSERT INTO notification_status_history (notification_id, status, at, error, provider_message_id)
  VALUES (NEW.notification_id, NEW.status, NEW.updated_at, NEW.error, NEW.provider_message_id); END;
CREATE TRIGGER notification_status_changed AFTER UPDATE OF status ON notifications WHEN OLD.status IS NOT NEW.status
BEGIN INSERT INTO notification_status_history (notification_id, status, at, error, provider_message_id)
  VALUES (NEW.notification_id, NEW.status, NEW.updated_at, NEW.error, NEW.provider_message_id); END;
CREATE TRIGGER notification_status_history_deleted AFTER DELETE ON notifications
BEGIN DELETE FROM notification_status_history WHERE notification_id = OLD.notification_id; END;
CREATE TRIGGER notifications_change_created AFTER INSERT ON notifications
WHEN NEW.status IN ('sent', 'delivered', 'failed', 'suppressed', 'held') BEGIN
  INSERT INTO change_log SELECT 'notification', NEW.notification_id, NEW.status, NULL, NEW.updated_at, clinic_id, NEW.event_id
  FROM (SELECT (SELECT clinic_id FROM events WHERE event_id = NEW.event_id) AS clinic_id); END;
CREATE TRIGGER notifications_change_updated AFTER UPDATE OF status ON notifications
WHEN NEW.status IN ('sent', 'delivered', 'failed', 'suppressed', 'held') AND OLD.status IS NOT NEW.status BEGIN
  INSERT INTO change_log SELECT 'notification', NEW.notification_id, NEW.status, OLD.status, NEW.updated_at, clinic_id, NEW.event_id
  FROM (SELECT (SELECT clinic_id FROM events WHERE event_id = NEW.event_id) AS clinic_id); END;
