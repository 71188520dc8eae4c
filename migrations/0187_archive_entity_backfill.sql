-- Issue 26.3: archived orders, medication requests and refills are indexed by their kind and id since
-- ec64f26 (the archive indexes each entity in the same batch as its delete), so the entity routes find
-- them. Objects moved before that hold entities nobody indexed: those answer 404. Each object now
-- records whether its entities are indexed. New objects are (the default); so is one still `written`,
-- whose delete indexes them. A history object already `deleted` waits for the archive's backfill
-- (src/archive/entity-backfill.ts), which reads it back once and indexes its entities: 1 done, 0 to
-- do, -1 could not be read back (logged; left to the operator, docs/operations.md "Archive").
-- Objects deleted after ec64f26 but before this migration are indexed a second time: their duplicate
-- entries name the same object, which the lookup reads once.
ALTER TABLE archive_objects ADD COLUMN entities_indexed INTEGER NOT NULL DEFAULT 1;
UPDATE archive_objects SET entities_indexed = 0 WHERE kind = 'history' AND state = 'deleted';
CREATE INDEX archive_objects_entities_unindexed ON archive_objects (object_id) WHERE entities_indexed = 0;
