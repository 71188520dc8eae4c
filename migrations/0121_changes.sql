-- Changes (issue 25): every status an order, medication request, refill or patient notification takes,
-- for the clinic's own systems (forwarded to destinations, and read through GET /admin/changes).
-- Written by triggers, so a change is committed by the very statement that changes the state: no
-- change without its state, no state without its change, whichever path (consumer, sender, Twilio
-- callback, replay) wrote it. An entity's first status is a change too.
--
-- `sequence` is the feed's cursor and each change's order: a new row gets one more than the largest,
-- and D1 commits one write at a time, so the sequence follows commit order and increases per entity.
-- The retention never deletes the newest change, so a sequence is never handed out twice (without
-- AUTOINCREMENT's extra write per change). No secondary index: each change costs one row written; the
-- feed of an identity of some clinics walks the primary key and filters.
-- `change_id` is the stable id a destination sees as `webhook-id` on every retry.
CREATE TABLE changes (
  sequence         INTEGER PRIMARY KEY,
  change_id        TEXT NOT NULL,
  type             TEXT NOT NULL,
  occurred_at      TEXT NOT NULL,
  clinic_id        TEXT,
  entity_kind      TEXT NOT NULL CHECK (entity_kind IN ('order', 'medication_request', 'refill', 'notification')),
  entity_id        TEXT NOT NULL,
  status           TEXT NOT NULL,
  previous_status  TEXT,
  event_id         TEXT
);

-- The one writer of changes: each state trigger below inserts a row here; this names the change
-- (`chg_` + 96 random bits) and its type (`<kind>.status_changed`).
CREATE VIEW change_log AS
SELECT entity_kind, entity_id, status, previous_status, occurred_at, clinic_id, event_id FROM changes;

CREATE TRIGGER change_log_insert INSTEAD OF INSERT ON change_log
BEGIN
  INSERT INTO changes (change_id, type, occurred_at, clinic_id, entity_kind, entity_id, status, previous_status, event_id)
  VALUES ('chg_' || lower(hex(randomblob(12))), NEW.entity_kind || '.status_changed', NEW.occurred_at, NEW.clinic_id,
    NEW.entity_kind, NEW.entity_id, NEW.status, NEW.previous_status, NEW.event_id);
END;

-- Entities: the first status (insert) and each different one (update).
CREATE TRIGGER orders_change_created AFTER INSERT ON orders BEGIN INSERT INTO change_log VALUES ('order', NEW.order_id, NEW.status, NULL, NEW.status_at, NEW.clinic_id, NEW.status_event_id); END;
CREATE TRIGGER orders_change_updated AFTER UPDATE OF status ON orders WHEN OLD.status IS NOT NEW.status BEGIN INSERT INTO change_log VALUES ('order', NEW.order_id, NEW.status, OLD.status, NEW.status_at, NEW.clinic_id, NEW.status_event_id); END;

CREATE TRIGGER medication_requests_change_created AFTER INSERT ON medication_requests BEGIN INSERT INTO change_log VALUES ('medication_request', NEW.medication_request_id, NEW.status, NULL, NEW.status_at, NEW.clinic_id, NEW.status_event_id); END;
CREATE TRIGGER medication_requests_change_updated AFTER UPDATE OF status ON medication_requests WHEN OLD.status IS NOT NEW.status BEGIN INSERT INTO change_log VALUES ('medication_request', NEW.medication_request_id, NEW.status, OLD.status, NEW.status_at, NEW.clinic_id, NEW.status_event_id); END;

CREATE TRIGGER refills_change_created AFTER INSERT ON refills BEGIN INSERT INTO change_log VALUES ('refill', NEW.refill_id, NEW.status, NULL, NEW.status_at, NEW.clinic_id, NEW.status_event_id); END;
CREATE TRIGGER refills_change_updated AFTER UPDATE OF status ON refills WHEN OLD.status IS NOT NEW.status BEGIN INSERT INTO change_log VALUES ('refill', NEW.refill_id, NEW.status, OLD.status, NEW.status_at, NEW.clinic_id, NEW.status_event_id); END;

-- Patient notifications: the statuses a clinic acts on (pending and scheduled are internal steps).
CREATE TRIGGER notifications_change_created AFTER INSERT ON notifications
WHEN NEW.status IN ('sent', 'delivered', 'failed', 'suppressed', 'held') BEGIN
  INSERT INTO change_log SELECT 'notification', NEW.notification_id, NEW.status, NULL, NEW.updated_at, clinic_id, NEW.event_id
  FROM (SELECT (SELECT clinic_id FROM events WHERE event_id = NEW.event_id) AS clinic_id);
END;
CREATE TRIGGER notifications_change_updated AFTER UPDATE OF status ON notifications
WHEN NEW.status IN ('sent', 'delivered', 'failed', 'suppressed', 'held') AND OLD.status IS NOT NEW.status BEGIN
  INSERT INTO change_log SELECT 'notification', NEW.notification_id, NEW.status, OLD.status, NEW.updated_at, clinic_id, NEW.event_id
  FROM (SELECT (SELECT clinic_id FROM events WHERE event_id = NEW.event_id) AS clinic_id);
END;
