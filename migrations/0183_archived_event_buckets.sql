-- Issue 26.3: a smaller archived-event index, the one part of D1 that keeps growing. `archived_events`
-- (0060) holds a row per archived event: about 17 bytes each once random keys have filled its pages
-- (bench/archive.ts measures it at scale). This table packs the same lookup by bucket: the top 16 of
-- an event key's 53 bits name a bucket, and each archived event appends 8 characters to its bucket's
-- last row (src/db/archive.ts, indexEntry: the key's low 18 bits and the object's id, base64url). A
-- row grows to 120 entries (960 characters, inside a page) and the bucket's next row starts. A
-- lookup reads its bucket's rows (about 5 a year at 100,000 events a day) and opens each object
-- whose entry matches.
CREATE TABLE archived_event_buckets (
  bucket   INTEGER NOT NULL,  -- event key >> 37
  seq      INTEGER NOT NULL,  -- 0, 1, ...: only a bucket's last row grows
  entries  TEXT NOT NULL,     -- 8 characters per archived event
  PRIMARY KEY (bucket, seq)
) WITHOUT ROWID;
-- `archived_events` stays, for the release before (which writes and reads it) and for the events it
-- indexed: the code reads both tables and writes this one only.
