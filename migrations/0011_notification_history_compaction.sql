-- A notification's status history goes with it: the row compaction (EVENT_ROW_RETENTION_DAYS)
-- deletes final notifications, and their history rows would otherwise stay forever (about 190 bytes
-- per event in the bench, kept for good: bench/README.md "Storage").
CREATE TRIGGER IF NOT EXISTS notification_status_history_deleted AFTER DELETE ON notifications
BEGIN
  DELETE FROM notification_status_history WHERE notification_id = OLD.notification_id;
END;

-- History left behind by compactions before this migration.
DELETE FROM notification_status_history
WHERE notification_id NOT IN (SELECT notification_id FROM notifications);
