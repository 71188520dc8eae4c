-- One D1 row written fewer per entity event (issue 26.2): the purge of entities' PHI facts finds its
-- rows from two marks per table instead of the `<table>_facts_unpurged` indexes (last_event_at WHERE
-- facts_purged_at IS NULL). Every upsert SETs last_event_at, so each event re-added its entity's entry,
-- only for the daily purge to find it again a month later.
--
-- The purge (src/db/entity-retention.ts) walks `<table>_status_changed` (status_at, id), an index the
-- lists keep anyway, up from a mark (retention_marks, migration 0161; src/db/purge-mark.ts): one mark
-- for the final entities (quiet for PAYLOAD_RETENTION_DAYS), one for any entity (quiet a year longer).
-- It finds the same rows as before: an entity's last event is never earlier than its status (the upsert
-- keeps last_event_at the latest time of its events, and status_at the time of one of them), so an
-- entity quiet since a cutoff has its status before it too. A mark is the status_at below which no
-- entity waits for that purge: it moves up to the first one still waiting, purgeable or not (an entity
-- whose last event is later than its status, and so not yet quiet, holds it), or to the cutoff. The
-- triggers below move it down to an entity that comes to wait below it: one inserted with an old status
-- (an old event first seen now), or whose status moves back in time (a higher rank with an earlier
-- time) or into a final one there, while its facts are kept. Moving a mark is a rare write of one row.
--
-- Each mark starts at the oldest status of an entity its purge still waits for (one read of the table
-- here), else the newest status, so the first purge does not walk the purged history.

INSERT INTO retention_marks (name, at)
SELECT 'orders.facts.final', COALESCE(
  (SELECT MIN(status_at) FROM orders WHERE facts_purged_at IS NULL AND status IN ('delivered', 'cancelled')),
  (SELECT MAX(status_at) FROM orders), '');
INSERT INTO retention_marks (name, at)
SELECT 'orders.facts.any', COALESCE(
  (SELECT MIN(status_at) FROM orders WHERE facts_purged_at IS NULL),
  (SELECT MAX(status_at) FROM orders), '');
CREATE TRIGGER orders_facts_mark_inserted AFTER INSERT ON orders
WHEN NEW.status_at < (SELECT MAX(at) FROM retention_marks WHERE name IN ('orders.facts.final', 'orders.facts.any'))
BEGIN
  UPDATE retention_marks SET at = NEW.status_at WHERE at > NEW.status_at
    AND (name = 'orders.facts.any' OR (name = 'orders.facts.final' AND NEW.status IN ('delivered', 'cancelled')));
END;
CREATE TRIGGER orders_facts_mark_updated AFTER UPDATE OF status, status_at ON orders
WHEN NEW.facts_purged_at IS NULL
  AND NEW.status_at < (SELECT MAX(at) FROM retention_marks WHERE name IN ('orders.facts.final', 'orders.facts.any'))
BEGIN
  UPDATE retention_marks SET at = NEW.status_at WHERE at > NEW.status_at
    AND (name = 'orders.facts.any' OR (name = 'orders.facts.final' AND NEW.status IN ('delivered', 'cancelled')));
END;
DROP INDEX orders_facts_unpurged;

INSERT INTO retention_marks (name, at)
SELECT 'medication_requests.facts.final', COALESCE(
  (SELECT MIN(status_at) FROM medication_requests WHERE facts_purged_at IS NULL AND status IN ('filled', 'cancelled')),
  (SELECT MAX(status_at) FROM medication_requests), '');
INSERT INTO retention_marks (name, at)
SELECT 'medication_requests.facts.any', COALESCE(
  (SELECT MIN(status_at) FROM medication_requests WHERE facts_purged_at IS NULL),
  (SELECT MAX(status_at) FROM medication_requests), '');
CREATE TRIGGER medication_requests_facts_mark_inserted AFTER INSERT ON medication_requests
WHEN NEW.status_at < (SELECT MAX(at) FROM retention_marks WHERE name IN ('medication_requests.facts.final', 'medication_requests.facts.any'))
BEGIN
  UPDATE retention_marks SET at = NEW.status_at WHERE at > NEW.status_at
    AND (name = 'medication_requests.facts.any' OR (name = 'medication_requests.facts.final' AND NEW.status IN ('filled', 'cancelled')));
END;
CREATE TRIGGER medication_requests_facts_mark_updated AFTER UPDATE OF status, status_at ON medication_requests
WHEN NEW.facts_purged_at IS NULL
  AND NEW.status_at < (SELECT MAX(at) FROM retention_marks WHERE name IN ('medication_requests.facts.final', 'medication_requests.facts.any'))
BEGIN
  UPDATE retention_marks SET at = NEW.status_at WHERE at > NEW.status_at
    AND (name = 'medication_requests.facts.any' OR (name = 'medication_requests.facts.final' AND NEW.status IN ('filled', 'cancelled')));
END;
DROP INDEX medication_requests_facts_unpurged;

INSERT INTO retention_marks (name, at)
SELECT 'refills.facts.final', COALESCE(
  (SELECT MIN(status_at) FROM refills WHERE facts_purged_at IS NULL AND status IN ('approved', 'denied')),
  (SELECT MAX(status_at) FROM refills), '');
INSERT INTO retention_marks (name, at)
SELECT 'refills.facts.any', COALESCE(
  (SELECT MIN(status_at) FROM refills WHERE facts_purged_at IS NULL),
  (SELECT MAX(status_at) FROM refills), '');
CREATE TRIGGER refills_facts_mark_inserted AFTER INSERT ON refills
WHEN NEW.status_at < (SELECT MAX(at) FROM retention_marks WHERE name IN ('refills.facts.final', 'refills.facts.any'))
BEGIN
  UPDATE retention_marks SET at = NEW.status_at WHERE at > NEW.status_at
    AND (name = 'refills.facts.any' OR (name = 'refills.facts.final' AND NEW.status IN ('approved', 'denied')));
END;
CREATE TRIGGER refills_facts_mark_updated AFTER UPDATE OF status, status_at ON refills
WHEN NEW.facts_purged_at IS NULL
  AND NEW.status_at < (SELECT MAX(at) FROM retention_marks WHERE name IN ('refills.facts.final', 'refills.facts.any'))
BEGIN
  UPDATE retention_marks SET at = NEW.status_at WHERE at > NEW.status_at
    AND (name = 'refills.facts.any' OR (name = 'refills.facts.final' AND NEW.status IN ('approved', 'denied')));
END;
DROP INDEX refills_facts_unpurged;
