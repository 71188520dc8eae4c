-- The clinic's current view of NovaMed entities, one row per NovaMed id. Each row records the event
-- that set its status (status_rank, status_at, status_event_id) so a stale or out-of-order event
-- never moves it backwards.

CREATE TABLE orders (
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
  updated_at            TEXT NOT NULL
);
CREATE INDEX orders_patient ON orders (patient_id);

CREATE TABLE medication_requests (
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
  updated_at            TEXT NOT NULL
);
CREATE INDEX medication_requests_patient ON medication_requests (patient_id);

CREATE TABLE refills (
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
  updated_at            TEXT NOT NULL
);
CREATE INDEX refills_patient ON refills (patient_id);

-- How many times an event's effects were committed: 1 for every processed event, more only after a
-- forced replay. Anything else would be a double application.
ALTER TABLE events ADD COLUMN applications INTEGER NOT NULL DEFAULT 0;
