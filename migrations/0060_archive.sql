-- Issue 26: a bounded D1. Finished history older than ARCHIVE_AFTER_DAYS, and audit rows older than a
-- year, move to the R2 bucket ARCHIVE as gzipped NDJSON objects (src/archive/). Each object is
-- recorded here before its rows leave D1, so a run that dies between the write and the delete is
-- resumed by the next one (state 'written'), and a run that dies before this row exists rewrites the
-- same key (its rows are all still in D1).
CREATE TABLE archive_objects (
  object_id    INTEGER PRIMARY KEY,
  object_key   TEXT NOT NULL UNIQUE,   -- history/<clinic>/<day>/part-<n>.ndjson.gz, audit/<day>/part-<n>.ndjson.gz
  kind         TEXT NOT NULL CHECK (kind IN ('history', 'audit')),
  clinic_id    TEXT NOT NULL,          -- '' for audit objects
  day          TEXT NOT NULL,          -- YYYY-MM-DD (UTC) of the rows' time
  part         INTEGER NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('written', 'deleted')),
  line_count   INTEGER NOT NULL,       -- NDJSON lines, counted again on the read-back
  bytes        INTEGER NOT NULL,       -- gzipped size
  written_at   TEXT NOT NULL,
  deleted_at   TEXT
);
CREATE INDEX archive_objects_unit ON archive_objects (kind, clinic_id, day);
CREATE INDEX archive_objects_pending ON archive_objects (written_at) WHERE state = 'written';

-- Where an archived event went: 53 bits of SHA-256(event_id) → its object. Two ids may share a key
-- (the reader opens each candidate and matches the id), which keeps a row at about 20 bytes.
CREATE TABLE archived_events (
  event_key  INTEGER NOT NULL,
  object_id  INTEGER NOT NULL,
  PRIMARY KEY (event_key, object_id)
) WITHOUT ROWID;

-- One archive run at a time (the daily run and the 5-minute catch-up may overlap): two runs would
-- pick the same object key.
CREATE TABLE archive_lease (
  name        TEXT PRIMARY KEY,
  expires_at  INTEGER NOT NULL       -- epoch ms
);
