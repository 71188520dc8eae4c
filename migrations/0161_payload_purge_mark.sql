-- One D1 row written fewer per event (issue 26.2): the payload purge finds its rows from a mark
-- instead of the `events_purge` index. That partial index (received_at WHERE payload IS NOT NULL)
-- took an entry for every event claimed, only for the daily purge to find it again 30 days later.
--
-- The mark is the received_at below which every payload is gone, but for two kinds of rows that are
-- found another way: events in flight (queued, processing, failed), whose payload stays until 14
-- days later (the purge finds those through events_status_received), and events that get a payload
-- again, or finish, below the mark (a redelivery restores a purged payload through the claim's
-- COALESCE; a replay or a retry finishes an event the purge passed while it was in flight): the
-- triggers below move the mark back down to such a row, so the next purge takes it (a rare write of
-- one row). The purge (src/db/events.ts, purgePayloads) walks events_received from the mark, chunk by
-- chunk, and moves the mark up to the first row it leaves, in the same batch: a run that stops early
-- resumes where it stopped.
CREATE TABLE retention_marks (
  name  TEXT PRIMARY KEY,  -- 'events.payload'
  at    TEXT NOT NULL      -- a received_at: below it, every payload of a finished event is purged
) WITHOUT ROWID;

-- Starts at the oldest payload still kept (read through events_purge before it goes), or the newest
-- event when every payload is gone, so the first purge does not walk the purged history.
INSERT INTO retention_marks (name, at)
SELECT 'events.payload', COALESCE(
  (SELECT MIN(received_at) FROM events WHERE payload IS NOT NULL),
  (SELECT MAX(received_at) FROM events),
  '');

CREATE TRIGGER events_payload_mark_inserted AFTER INSERT ON events
WHEN NEW.payload IS NOT NULL AND NEW.status NOT IN ('queued', 'processing', 'failed')
  AND NEW.received_at < (SELECT at FROM retention_marks WHERE name = 'events.payload')
BEGIN
  UPDATE retention_marks SET at = NEW.received_at WHERE name = 'events.payload' AND at > NEW.received_at;
END;
CREATE TRIGGER events_payload_mark_updated AFTER UPDATE OF status, payload, received_at ON events
WHEN NEW.payload IS NOT NULL AND NEW.status NOT IN ('queued', 'processing', 'failed')
  AND NEW.received_at < (SELECT at FROM retention_marks WHERE name = 'events.payload')
BEGIN
  UPDATE retention_marks SET at = NEW.received_at WHERE name = 'events.payload' AND at > NEW.received_at;
END;

DROP INDEX events_purge;
