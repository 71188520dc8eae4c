-- Fewer D1 rows written per notification status change (issue 26.2): `notification_status_history`
-- becomes a WITHOUT ROWID table keyed by (notification_id, seq). As a rowid table each status change
-- wrote two billed rows: the row (by its hidden rowid) and its entry in notification_status_history_by_id
-- (notification_id, at), the index every reader looks a notification's history up by. Keyed by the
-- notification and its place in its history, the primary key's entry is the row: one row written per
-- change (a sent message's outcome, a delivery report, a replay, a dead letter), with the same lookups.
--
-- `seq` keeps the order readers show, which was the rowid's (src/db/notification-views.ts,
-- statusHistorySql: the folded first row of migration 0131 as 0, then the stored rows by rowid; the
-- archive orders by (notification_id, at, seq)). `at` cannot order them: two changes in the same
-- millisecond share it, and a caller's clock may step back. The triggers number a change one past its
-- notification's last (a lookup on the primary key, no write), so seq grows with each change exactly as
-- the rowid did; the rebuild numbers the stored rows of each notification from 1 in rowid order.
--
-- The release before reads the order as `rowid` (`rowid AS seq`), which a WITHOUT ROWID table does not
-- have: the column `rowid`, generated from `seq` and never stored (no byte, no row written), answers it,
-- so that release still runs on this table (docs/operations.md: a rollback needs no down-migration).
-- Nothing else reads it; a later migration may drop it once no release that reads it can come back.
--
-- A table rebuild (SQLite cannot change a table's kind in place): copy every column by name, drop the
-- three triggers that write or delete history (a rename re-checks every trigger and fails on one naming
-- a table that is missing for the moment), drop, rename, then the triggers as before (migrations 0007,
-- 0131, 0160) with `seq`. The copy is one statement over every row: on a large database apply this
-- after the archive (src/archive/) has brought D1 down to its recent window (docs/operations.md,
-- "Promoting").
CREATE TABLE notification_status_history_rebuilt (
  notification_id      TEXT NOT NULL,
  seq                  INTEGER NOT NULL,  -- its place in its notification's history: 1, 2, ... (0 is the folded first row)
  status               TEXT NOT NULL,
  at                   TEXT NOT NULL,
  error                TEXT,
  provider_message_id  TEXT,
  rowid                INTEGER GENERATED ALWAYS AS (seq) VIRTUAL,  -- for the release before only (above)
  PRIMARY KEY (notification_id, seq)
) WITHOUT ROWID;
INSERT INTO notification_status_history_rebuilt (notification_id, seq, status, at, error, provider_message_id)
SELECT notification_id, ROW_NUMBER() OVER (PARTITION BY notification_id ORDER BY rowid), status, at, error,
  provider_message_id
FROM notification_status_history;

DROP TRIGGER notification_status_created;
DROP TRIGGER notification_status_changed;
DROP TRIGGER notification_status_history_deleted;
DROP TABLE notification_status_history;
ALTER TABLE notification_status_history_rebuilt RENAME TO notification_status_history;

CREATE TRIGGER notification_status_created AFTER INSERT ON notifications WHEN NEW.created_status IS NULL
BEGIN INSERT INTO notification_status_history (notification_id, seq, status, at, error, provider_message_id)
  VALUES (NEW.notification_id,
    (SELECT COALESCE(MAX(seq), 0) + 1 FROM notification_status_history WHERE notification_id = NEW.notification_id),
    NEW.status, NEW.updated_at, NEW.error, NEW.provider_message_id); END;
CREATE TRIGGER notification_status_changed AFTER UPDATE OF status ON notifications WHEN OLD.status IS NOT NEW.status
BEGIN INSERT INTO notification_status_history (notification_id, seq, status, at, error, provider_message_id)
  VALUES (NEW.notification_id,
    (SELECT COALESCE(MAX(seq), 0) + 1 FROM notification_status_history WHERE notification_id = NEW.notification_id),
    NEW.status, NEW.updated_at, NEW.error, NEW.provider_message_id); END;
CREATE TRIGGER notification_status_history_deleted AFTER DELETE ON notifications
BEGIN DELETE FROM notification_status_history WHERE notification_id = OLD.notification_id; END;
