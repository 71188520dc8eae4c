-- Forwarding deliveries (issue 25): one outbox row per (change, destination), on the outbox machinery
-- (src/db/outbox.ts: status, attempts, error, lease, next_attempt_at, updated_at), and each HTTP attempt.
--
-- A destination fans out from the change log by a cursor: `fanout_cursor` is the last change sequence
-- it has rows for (a new destination starts at the newest change: it hears of changes from its
-- creation on). The fan-out inserts the rows and moves the cursor in one batch, so no change is missed
-- or doubled. `probe_at`: while the circuit is open (state 'paused'), when the next single probe goes.
ALTER TABLE destinations ADD COLUMN fanout_cursor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE destinations ADD COLUMN probe_at TEXT;

CREATE TABLE clinic_deliveries (
  delivery_id       TEXT PRIMARY KEY,
  change_id         TEXT NOT NULL,
  destination_id    TEXT NOT NULL,
  change_sequence   INTEGER NOT NULL,
  -- pending (to deliver, or retrying) | delivered | failed (410, destination disabled or deleted, retries exhausted)
  status            TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts          INTEGER NOT NULL DEFAULT 0,
  error             TEXT,
  lease_token       TEXT,
  lease_expires_at  INTEGER,
  next_attempt_at   TEXT,
  -- The outbox's unknown-outcome mark; a clinic's endpoint dedupes by webhook-id, so a retry after a
  -- lost answer is always safe and this stays NULL.
  outcome_unknown   TEXT,
  last_http_status  INTEGER,
  created_at        TEXT NOT NULL,
  updated_at        TEXT NOT NULL,
  delivered_at      TEXT,
  UNIQUE (change_id, destination_id)
);
-- A destination's deliveries in change order (its list, the fan-out's jobs, replays).
CREATE INDEX clinic_deliveries_by_destination ON clinic_deliveries (destination_id, change_sequence);
-- The sweep: pending rows whose job was lost or whose retry is due.
CREATE INDEX clinic_deliveries_sweep ON clinic_deliveries (status, updated_at) WHERE status = 'pending';

CREATE TABLE clinic_delivery_attempts (
  delivery_id       TEXT NOT NULL,
  attempt           INTEGER NOT NULL,
  at                TEXT NOT NULL,
  http_status       INTEGER,
  latency_ms        INTEGER NOT NULL,
  error_class       TEXT,
  response_excerpt  TEXT,                 -- at most the first 256 bytes the endpoint answered
  PRIMARY KEY (delivery_id, attempt)
) WITHOUT ROWID;
