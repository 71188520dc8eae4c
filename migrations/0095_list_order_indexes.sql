-- Every list of the admin API and the console reads an index in its own order, whatever its filters
-- (issue 20.4; test/db/query-plans.test.ts checks each combination for a scan or a temp B-tree sort).
-- The alert list filtered by nothing, by rule alone or by one clinic sorted every alert before:
CREATE INDEX alerts_opened ON alerts (opened_at DESC, alert_id DESC);
CREATE INDEX alerts_rule_opened ON alerts (rule, opened_at DESC, alert_id DESC);
CREATE INDEX alerts_clinic_opened ON alerts (clinic_id, opened_at DESC, alert_id DESC);
-- One clinic's events in the lists' (received_at, event_id) order: the id breaks ties in the index
-- instead of a sort of each received_at's rows. Same name, same leading columns, for the readers
-- that already use it (counts per clinic, the overview).
DROP INDEX events_clinic_received;
CREATE INDEX events_clinic_received ON events (clinic_id, received_at DESC, event_id DESC);
