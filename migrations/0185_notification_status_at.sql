-- About two thirds of a D1 row written fewer per event (issue 26.2): a notification that is sent or
-- superseded no longer writes a status-history row for it. The status triggers (0175) stored every
-- status as it was entered, so the history repeated the notification's current status, which the row
-- itself holds. Now `sent` and `superseded` (the statuses most notifications end in) are stored when
-- they are left (a `sent` that a delivery report moves on), from the row as it was: `status_at` is when
-- the row entered its status, set by the two writers that enter those statuses (the send outcome and
-- the delivery report, src/db/notification-sends.ts). The history's one reader
-- (src/db/notification-views.ts, statusHistorySql) adds the current status from the row while it is
-- not stored. A status is stored at most once in a row: neither the trigger nor the reader adds one
-- that the last stored row already holds. So rows written before (their current status stored) and
-- rows the release before changes (it leaves `status_at` as it was, and its change is stored as
-- entered) read the same history as rows written by this code. After a rollback, the release before
-- reads the stored rows only: a notification this code sent shows no `sent` step there (its row still
-- says `sent` and when) until the next release (docs/operations.md).
ALTER TABLE notifications ADD COLUMN status_at TEXT;
DROP TRIGGER notification_status_changed;
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
