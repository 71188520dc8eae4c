-- Fewer D1 rows written per notification (issue 26.2): the first status-history row is folded into
-- the notification row. The insert trigger wrote a history row (and its index entry: two billed rows)
-- for every notification, repeating what the row itself says at that moment: its status and created_at.
-- The outbox's inserts now set `created_status` ('pending'), and the trigger writes that first row only
-- for an insert without it (a `held` insert, whose first row carries its reason, and rows inserted by
-- older code). Readers (src/db/notification-views.ts, src/db/archive.ts) put the folded row first:
-- (created_status, created_at, no error, no provider id), the exact row the trigger used to write.
-- Rows inserted before this migration keep created_status NULL and their stored first row.
ALTER TABLE notifications ADD COLUMN created_status TEXT;

DROP TRIGGER notification_status_created;
CREATE TRIGGER notification_status_created AFTER INSERT ON notifications
WHEN NEW.created_status IS NULL
BEGIN
  INSERT INTO notification_status_history (notification_id, status, at, error, provider_message_id)
  VALUES (NEW.notification_id, NEW.status, NEW.updated_at, NEW.error, NEW.provider_message_id);
END;
