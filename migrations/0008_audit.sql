-- The audit trail: one row per read of patient data and per change through the admin API or the
-- console. Ids and outcomes only, never a PHI value. Kept AUDIT_RETENTION_DAYS (default six years),
-- untouched by payload retention.
CREATE TABLE audit (
  audit_id     INTEGER PRIMARY KEY AUTOINCREMENT,
  at           TEXT NOT NULL,      -- UTC ISO 8601
  actor        TEXT NOT NULL,      -- an Access email, service:<id>, or token:<name>
  action       TEXT NOT NULL,      -- e.g. patient.read, patient.reveal_phone, event.replay
  target_type  TEXT NOT NULL,      -- patient, event, order, medication_request, refill, notification
  target_id    TEXT NOT NULL,      -- the target's id; '*' for an action over many (import, bulk replay)
  request_id   TEXT,
  outcome      TEXT NOT NULL,      -- success | not_found | rejected | error
  status       INTEGER,            -- the HTTP status answered
  detail       TEXT                -- JSON of counts (e.g. {"imported":3}); never values
);
-- Newest first, unfiltered and by each filter of GET /admin/audit.
CREATE INDEX audit_newest ON audit (at DESC, audit_id DESC);
CREATE INDEX audit_by_actor ON audit (actor, at DESC, audit_id DESC);
CREATE INDEX audit_by_target ON audit (target_type, target_id, at DESC, audit_id DESC);

-- Entity retention: when an entity in a final status has been quiet for PAYLOAD_RETENTION_DAYS its PHI
-- facts (address, tracking, carrier, reasons, medication name and quantity) are cleared; this marks
-- the rows done so the daily job skips them.
ALTER TABLE orders ADD COLUMN facts_purged_at TEXT;
ALTER TABLE medication_requests ADD COLUMN facts_purged_at TEXT;
ALTER TABLE refills ADD COLUMN facts_purged_at TEXT;
