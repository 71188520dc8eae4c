-- About two D1 rows written fewer per event (issue 26.2). An event's row wrote an entry in four
-- JSON-path indexes (0005, 0085): its order, medication request, refill and patient ids, about three
-- per event (an order event names its order, its medication request and its patient). Now an event
-- indexes the id of its own entity only (an `order:` event its order id, ...), and the ids it names
-- besides (its patient; an order's or a refill's medication request) only while it is not `processed`
-- (invalid, ignored, failed, dead, queued for a replay: the few with no entity to find them by). The
-- search finds an applied event that named a patient or a medication request through its entity,
-- which keeps those ids (`orders_patient`, `orders_medication_request`, `medication_requests_patient`,
-- `refills_patient`, and the new `refills_medication_request`, of the refills that name one): src/db/event-search.ts, referenceSql.
-- The release before looks up the four paths on every event: on this schema it gives the same answers
-- for the ids an event indexes still, but reads every event row per search for the others. Ship this
-- migration a release after the code, which runs on the schema before too (docs/operations.md).
DROP INDEX events_data_order_id;
DROP INDEX events_data_medication_request_id;
DROP INDEX events_data_refill_id;
DROP INDEX events_data_patient_id;
CREATE INDEX events_order_subject ON events (json_extract(payload, '$.data.order_id'))
  WHERE substr(event_type, 1, 6) = 'order:' AND json_extract(payload, '$.data.order_id') IS NOT NULL;
CREATE INDEX events_medication_request_subject ON events (json_extract(payload, '$.data.medication_request_id'))
  WHERE substr(event_type, 1, 19) = 'medication_request:'
    AND json_extract(payload, '$.data.medication_request_id') IS NOT NULL;
CREATE INDEX events_refill_subject ON events (json_extract(payload, '$.data.refill_id'))
  WHERE substr(event_type, 1, 7) = 'refill:' AND json_extract(payload, '$.data.refill_id') IS NOT NULL;
CREATE INDEX events_unapplied_patient ON events (json_extract(payload, '$.data.patient_id'))
  WHERE status <> 'processed' AND json_extract(payload, '$.data.patient_id') IS NOT NULL;
CREATE INDEX events_unapplied_medication_request ON events (json_extract(payload, '$.data.medication_request_id'))
  WHERE status <> 'processed' AND json_extract(payload, '$.data.medication_request_id') IS NOT NULL;
CREATE INDEX refills_medication_request ON refills (medication_request_id) WHERE medication_request_id IS NOT NULL;
