-- Issue 12: held notifications are released oldest first by status (POST /admin/notifications/replay).
CREATE INDEX IF NOT EXISTS notifications_status_created ON notifications (status, created_at);

-- Set (with the exact text in `rendered`) just before a provider is called, cleared once its answer is
-- recorded. A row claimed with it still set had an attempt whose outcome is unknown (a timeout, a lost
-- answer, a crash, a lease taken over): the sender asks the provider before sending again.
ALTER TABLE notifications ADD COLUMN send_started_at TEXT;

-- The daily cap counts each patient's recent sends per channel (src/notify/daily-cap.ts).
CREATE INDEX IF NOT EXISTS notifications_patient_sent ON notifications (patient_id, sent_at) WHERE sent_at IS NOT NULL;

-- Every status a notification takes, with its time (GET /admin/notifications/:id): written by triggers,
-- so every path that changes a status (outbox insert, sender, delivery report, replay, dead letter)
-- records it without each statement having to remember. Reasons name no contact details.
CREATE TABLE IF NOT EXISTS notification_status_history (
  notification_id      TEXT NOT NULL,
  status               TEXT NOT NULL,
  at                   TEXT NOT NULL,
  error                TEXT,
  provider_message_id  TEXT
);
CREATE INDEX IF NOT EXISTS notification_status_history_by_id ON notification_status_history (notification_id, at);

CREATE TRIGGER IF NOT EXISTS notification_status_created AFTER INSERT ON notifications
BEGIN
  INSERT INTO notification_status_history (notification_id, status, at, error, provider_message_id)
  VALUES (NEW.notification_id, NEW.status, NEW.updated_at, NEW.error, NEW.provider_message_id);
END;

CREATE TRIGGER IF NOT EXISTS notification_status_changed AFTER UPDATE OF status ON notifications
WHEN OLD.status IS NOT NEW.status
BEGIN
  INSERT INTO notification_status_history (notification_id, status, at, error, provider_message_id)
  VALUES (NEW.notification_id, NEW.status, NEW.updated_at, NEW.error, NEW.provider_message_id);
END;
