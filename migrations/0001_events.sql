-- Every NovaMed event the consumer has claimed, keyed by NovaMed's event_id. The row is the
-- idempotency record: it outlives its payload (see the retention job), so a redelivery months later
-- is still recognised.
CREATE TABLE events (
  event_id      TEXT PRIMARY KEY,
  event_type    TEXT NOT NULL,
  clinic_id     TEXT NOT NULL,
  -- queued | processing | processed | ignored | invalid | failed | dead
  status        TEXT NOT NULL,
  attempts      INTEGER NOT NULL DEFAULT 0,
  occurred_at   TEXT NOT NULL,              -- the envelope's timestamp (ISO 8601)
  received_at   TEXT NOT NULL,              -- when the edge accepted the first delivery
  processed_at  TEXT,
  last_error    TEXT,                       -- an error kind or a summary; never payload values
  issues        TEXT,                       -- JSON [{path, message}] when status = invalid
  payload       TEXT,                       -- the envelope as JSON; NULL once purged
  payload_hash  TEXT NOT NULL,              -- SHA-256 of the envelope, to spot same-id conflicts
  payload_purged_at TEXT,
  conflicts     INTEGER NOT NULL DEFAULT 0, -- deliveries with this id but different content
  lease_owner   TEXT,                       -- the consumer invocation applying it now
  lease_expires_at INTEGER,                 -- epoch ms; a claim past this may be taken over
  request_id    TEXT
);

CREATE INDEX events_received ON events (received_at DESC, event_id DESC);
CREATE INDEX events_status_received ON events (status, received_at DESC, event_id DESC);
CREATE INDEX events_type_received ON events (event_type, received_at DESC, event_id DESC);
CREATE INDEX events_purge ON events (received_at) WHERE payload IS NOT NULL;
