-- Entity retention (src/db/entity-retention.ts) looks for entities whose PHI facts are still held and
-- whose last event is older than a cutoff, final or not: one partial index per entity table, holding
-- only the entities not yet purged, so the daily job reads what it clears and nothing else.
CREATE INDEX orders_facts_unpurged ON orders (last_event_at) WHERE facts_purged_at IS NULL;
CREATE INDEX medication_requests_facts_unpurged ON medication_requests (last_event_at) WHERE facts_purged_at IS NULL;
CREATE INDEX refills_facts_unpurged ON refills (last_event_at) WHERE facts_purged_at IS NULL;
