-- One D1 row written fewer per message sent (issue 26.2): the purge of rendered message bodies finds
-- its rows from a mark on notifications_created (created_at, notification_id) instead of the
-- `notifications_rendered` index (created_at WHERE rendered IS NOT NULL), whose entry every send mark
-- wrote. The mark (retention_marks, migration 0161; src/db/purge-mark.ts) is the created_at below which
-- every rendered text is gone; a text written to a row below it (a held or scheduled message sent
-- late, an earlier attempt recovered) moves it down to that row, so the next purge takes it.
-- It starts at the oldest text kept (read through notifications_rendered before it goes), else the
-- newest notification, so the first purge does not walk the purged history.
INSERT INTO retention_marks (name, at)
SELECT 'notifications.rendered', COALESCE(
  (SELECT MIN(created_at) FROM notifications WHERE rendered IS NOT NULL),
  (SELECT MAX(created_at) FROM notifications), '');

CREATE TRIGGER notifications_rendered_mark_inserted AFTER INSERT ON notifications WHEN NEW.rendered IS NOT NULL
  AND NEW.created_at < (SELECT at FROM retention_marks WHERE name = 'notifications.rendered')
BEGIN UPDATE retention_marks SET at = NEW.created_at WHERE name = 'notifications.rendered' AND at > NEW.created_at; END;
CREATE TRIGGER notifications_rendered_mark_updated AFTER UPDATE OF rendered, created_at ON notifications
WHEN NEW.rendered IS NOT NULL AND NEW.created_at < (SELECT at FROM retention_marks WHERE name = 'notifications.rendered')
BEGIN UPDATE retention_marks SET at = NEW.created_at WHERE name = 'notifications.rendered' AND at > NEW.created_at; END;

DROP INDEX notifications_rendered;
