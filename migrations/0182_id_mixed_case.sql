-- About one D1 row written fewer per event, and one fewer per order, medication request, refill and
-- patient created (issue 26.2). The id search finds an id by a case-insensitive prefix; it read the
-- range of the lower-cased prefix on a full `lower(<id>)` index (migration 0110), an entry every insert
-- wrote. An id already in lower case (NovaMed's ids as its guide shows them: evt_…, ord_…, pat_…) is in
-- that range on its own column, which the primary key (patients: patients_patient) orders; only an id
-- with an upper-case letter needs `lower()`, so these indexes now hold those ids only. The search
-- unites the two ranges (src/db/search.ts, selectIdsByPrefix): the same rows in the same order. The
-- release before ranges over lower(<id>) without the partial condition, so it gives the same answers
-- on this schema but reads every row of the table per search: ship this migration a release after the
-- code, which runs on the schema before too (docs/operations.md).
DROP INDEX events_id_lower;
CREATE INDEX events_id_mixed_case ON events (lower(event_id)) WHERE event_id <> lower(event_id);
DROP INDEX orders_id_lower;
CREATE INDEX orders_id_mixed_case ON orders (lower(order_id)) WHERE order_id <> lower(order_id);
DROP INDEX medication_requests_id_lower;
CREATE INDEX medication_requests_id_mixed_case ON medication_requests (lower(medication_request_id))
  WHERE medication_request_id <> lower(medication_request_id);
DROP INDEX refills_id_lower;
CREATE INDEX refills_id_mixed_case ON refills (lower(refill_id)) WHERE refill_id <> lower(refill_id);
DROP INDEX patients_id_lower;
CREATE INDEX patients_id_mixed_case ON patients (lower(patient_id)) WHERE patient_id <> lower(patient_id);
