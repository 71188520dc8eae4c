-- One D1 row written fewer per entity created (issue 26.2): `orders`, `medication_requests` and
-- `refills` become WITHOUT ROWID tables, as `events` and `notifications` did in migration 0160. A rowid
-- table with a TEXT primary key stores each row twice, the row (by its hidden rowid) and the primary
-- key's own index entry (`sqlite_autoindex_<table>_1`), and D1 bills both on every insert. Keyed by
-- its id itself, the primary key's entry is the row, with the same columns in the same order (so
-- `SELECT *` reads them as before), the same indexes (their entries carry the id instead of a rowid),
-- the same triggers and the same lookups by id. Nothing reads these tables' rowid (src/, src/archive/,
-- the triggers and the one view, `change_log`, which reads `changes`); a query without an ORDER BY
-- that reads rows tied on an index's columns now meets them in id order instead of insertion order
-- (the alert rules' candidates and the facts purge's chunks, where it chooses nothing that matters).
--
-- A table rebuild (SQLite cannot change a table's kind in place): copy every column by name, drop,
-- rename, then every index and trigger as before (migrations 0001 to 0155). No trigger of another
-- table reads these three, so each rebuild stands alone; the copies fire no trigger (the triggers are
-- made after them), so they write no change rows. The copies are one statement over every row each:
-- on a large database apply this after the archive (src/archive/) has brought D1 down to its recent
-- window (docs/operations.md, "Promoting"); the archive moves final entities out once they are quiet.
CREATE TABLE orders_rebuilt (
  order_id              TEXT PRIMARY KEY,
  clinic_id             TEXT NOT NULL,
  patient_id            TEXT NOT NULL,
  medication_request_id TEXT,
  -- created → processing → shipped → delivered; cancelled ends it
  status                TEXT NOT NULL,
  status_rank           INTEGER NOT NULL,
  status_at             TEXT NOT NULL,
  status_event_id       TEXT NOT NULL,
  carrier               TEXT,
  tracking_number       TEXT,
  estimated_delivery    TEXT,
  shipping_address      TEXT,   -- JSON object as NovaMed sent it
  cancellation_reason   TEXT,
  shipped_at            TEXT,
  delivered_at          TEXT,
  cancelled_at          TEXT,
  first_event_at        TEXT NOT NULL,
  last_event_at         TEXT NOT NULL,
  updated_at            TEXT NOT NULL,
  -- the columns added since (0006, 0040), in that order
  fact_times            TEXT,
  facts_purged_at       TEXT
) WITHOUT ROWID;
INSERT INTO orders_rebuilt (order_id, clinic_id, patient_id, medication_request_id, status, status_rank, status_at,
  status_event_id, carrier, tracking_number, estimated_delivery, shipping_address, cancellation_reason, shipped_at,
  delivered_at, cancelled_at, first_event_at, last_event_at, updated_at, fact_times, facts_purged_at)
SELECT order_id, clinic_id, patient_id, medication_request_id, status, status_rank, status_at,
  status_event_id, carrier, tracking_number, estimated_delivery, shipping_address, cancellation_reason, shipped_at,
  delivered_at, cancelled_at, first_event_at, last_event_at, updated_at, fact_times, facts_purged_at
FROM orders;
DROP TABLE orders;
ALTER TABLE orders_rebuilt RENAME TO orders;

CREATE TABLE medication_requests_rebuilt (
  medication_request_id TEXT PRIMARY KEY,
  clinic_id             TEXT NOT NULL,
  patient_id            TEXT NOT NULL,
  practitioner_id       TEXT,
  -- created → approved → filled; cancelled ends it
  status                TEXT NOT NULL,
  status_rank           INTEGER NOT NULL,
  status_at             TEXT NOT NULL,
  status_event_id       TEXT NOT NULL,
  medication_name       TEXT,
  quantity              REAL,
  refills               INTEGER,
  cancellation_reason   TEXT,
  approved_at           TEXT,
  filled_at             TEXT,
  cancelled_at          TEXT,
  first_event_at        TEXT NOT NULL,
  last_event_at         TEXT NOT NULL,
  updated_at            TEXT NOT NULL,
  -- the columns added since (0006, 0040), in that order
  fact_times            TEXT,
  facts_purged_at       TEXT
) WITHOUT ROWID;
INSERT INTO medication_requests_rebuilt (medication_request_id, clinic_id, patient_id, practitioner_id, status,
  status_rank, status_at, status_event_id, medication_name, quantity, refills, cancellation_reason, approved_at,
  filled_at, cancelled_at, first_event_at, last_event_at, updated_at, fact_times, facts_purged_at)
SELECT medication_request_id, clinic_id, patient_id, practitioner_id, status,
  status_rank, status_at, status_event_id, medication_name, quantity, refills, cancellation_reason, approved_at,
  filled_at, cancelled_at, first_event_at, last_event_at, updated_at, fact_times, facts_purged_at
FROM medication_requests;
DROP TABLE medication_requests;
ALTER TABLE medication_requests_rebuilt RENAME TO medication_requests;

CREATE TABLE refills_rebuilt (
  refill_id             TEXT PRIMARY KEY,
  clinic_id             TEXT NOT NULL,
  patient_id            TEXT NOT NULL,
  medication_request_id TEXT,
  -- requested → approved | denied (both end it)
  status                TEXT NOT NULL,
  status_rank           INTEGER NOT NULL,
  status_at             TEXT NOT NULL,
  status_event_id       TEXT NOT NULL,
  denial_reason         TEXT,
  requested_at          TEXT,
  approved_at           TEXT,
  denied_at             TEXT,
  first_event_at        TEXT NOT NULL,
  last_event_at         TEXT NOT NULL,
  updated_at            TEXT NOT NULL,
  -- the columns added since (0006, 0040), in that order
  fact_times            TEXT,
  facts_purged_at       TEXT
) WITHOUT ROWID;
INSERT INTO refills_rebuilt (refill_id, clinic_id, patient_id, medication_request_id, status, status_rank, status_at,
  status_event_id, denial_reason, requested_at, approved_at, denied_at, first_event_at, last_event_at, updated_at,
  fact_times, facts_purged_at)
SELECT refill_id, clinic_id, patient_id, medication_request_id, status, status_rank, status_at,
  status_event_id, denial_reason, requested_at, approved_at, denied_at, first_event_at, last_event_at, updated_at,
  fact_times, facts_purged_at
FROM refills;
DROP TABLE refills;
ALTER TABLE refills_rebuilt RENAME TO refills;

-- The indexes of orders: by patient, by status and time (lists, alert rules), the shipped orders by
-- expected delivery, by medication request, the facts purge, the id search, the change lists, the
-- tracking number search.
CREATE INDEX orders_patient ON orders (patient_id);
CREATE INDEX orders_status_at ON orders (status, status_at);
CREATE INDEX orders_shipped_eta ON orders (estimated_delivery, status_at) WHERE status = 'shipped';
CREATE INDEX orders_medication_request ON orders (medication_request_id);
CREATE INDEX orders_facts_unpurged ON orders (last_event_at) WHERE facts_purged_at IS NULL;
CREATE INDEX orders_id_lower ON orders (lower(order_id));
CREATE INDEX orders_status_changed ON orders (status_at, order_id);
CREATE INDEX orders_tracking_key ON orders (upper(replace(replace(tracking_number, ' ', ''), '-', '')))
  WHERE tracking_number IS NOT NULL;

-- The indexes of medication requests and refills: the same, less the order-only ones.
CREATE INDEX medication_requests_patient ON medication_requests (patient_id);
CREATE INDEX medication_requests_status_at ON medication_requests (status, status_at);
CREATE INDEX medication_requests_facts_unpurged ON medication_requests (last_event_at) WHERE facts_purged_at IS NULL;
CREATE INDEX medication_requests_id_lower ON medication_requests (lower(medication_request_id));
CREATE INDEX medication_requests_status_changed ON medication_requests (status_at, medication_request_id);
CREATE INDEX refills_patient ON refills (patient_id);
CREATE INDEX refills_status_at ON refills (status, status_at);
CREATE INDEX refills_facts_unpurged ON refills (last_event_at) WHERE facts_purged_at IS NULL;
CREATE INDEX refills_id_lower ON refills (lower(refill_id));
CREATE INDEX refills_status_changed ON refills (status_at, refill_id);

-- The triggers: each status an entity takes is a change of the feed (migration 0121).
CREATE TRIGGER orders_change_created AFTER INSERT ON orders BEGIN INSERT INTO change_log VALUES ('order', NEW.order_id, NEW.status, NULL, NEW.status_at, NEW.clinic_id, NEW.status_event_id); END;
CREATE TRIGGER orders_change_updated AFTER UPDATE OF status ON orders WHEN OLD.status IS NOT NEW.status BEGIN INSERT INTO change_log VALUES ('order', NEW.order_id, NEW.status, OLD.status, NEW.status_at, NEW.clinic_id, NEW.status_event_id); END;
CREATE TRIGGER medication_requests_change_created AFTER INSERT ON medication_requests BEGIN INSERT INTO change_log VALUES ('medication_request', NEW.medication_request_id, NEW.status, NULL, NEW.status_at, NEW.clinic_id, NEW.status_event_id); END;
CREATE TRIGGER medication_requests_change_updated AFTER UPDATE OF status ON medication_requests WHEN OLD.status IS NOT NEW.status BEGIN INSERT INTO change_log VALUES ('medication_request', NEW.medication_request_id, NEW.status, OLD.status, NEW.status_at, NEW.clinic_id, NEW.status_event_id); END;
CREATE TRIGGER refills_change_created AFTER INSERT ON refills BEGIN INSERT INTO change_log VALUES ('refill', NEW.refill_id, NEW.status, NULL, NEW.status_at, NEW.clinic_id, NEW.status_event_id); END;
CREATE TRIGGER refills_change_updated AFTER UPDATE OF status ON refills WHEN OLD.status IS NOT NEW.status BEGIN INSERT INTO change_log VALUES ('refill', NEW.refill_id, NEW.status, OLD.status, NEW.status_at, NEW.clinic_id, NEW.status_event_id); END;
