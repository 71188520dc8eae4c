-- Fewer D1 rows written per event (issue 26.2). D1 bills a row written for every index entry a write
-- adds, changes or removes. The console's JSON-path lookups (migrations/0005_console.sql) and the
-- Twilio status callback's provider-id lookup only ever ask for a value (`= ?`), never for NULL, yet
-- every event and every notification wrote an entry for each absent id (an order event has no
-- refill_id; a notification has no provider id until it is sent). Partial indexes over the present
-- values answer the same lookups (`x = ?` implies `x IS NOT NULL`; test/db/query-plans.test.ts checks
-- every console, admin and cron query still searches an index) and skip the NULL entries.
DROP INDEX events_data_order_id;
DROP INDEX events_data_medication_request_id;
DROP INDEX events_data_refill_id;
DROP INDEX events_data_patient_id;
CREATE INDEX events_data_order_id ON events (json_extract(payload, '$.data.order_id'))
  WHERE json_extract(payload, '$.data.order_id') IS NOT NULL;
CREATE INDEX events_data_medication_request_id ON events (json_extract(payload, '$.data.medication_request_id'))
  WHERE json_extract(payload, '$.data.medication_request_id') IS NOT NULL;
CREATE INDEX events_data_refill_id ON events (json_extract(payload, '$.data.refill_id'))
  WHERE json_extract(payload, '$.data.refill_id') IS NOT NULL;
CREATE INDEX events_data_patient_id ON events (json_extract(payload, '$.data.patient_id'))
  WHERE json_extract(payload, '$.data.patient_id') IS NOT NULL;

DROP INDEX notifications_provider_message;
CREATE INDEX notifications_provider_message ON notifications (provider_message_id)
  WHERE provider_message_id IS NOT NULL;
