-- Lookups for the operations console (issue 14), so every page reads D1 through an index whatever
-- the table sizes. Events name their entities only inside the payload, so the "every event that
-- touched this order" and "search by entity or patient id" lookups index the JSON paths themselves;
-- a purged payload drops out of them (its row keeps id, type, status and times).
CREATE INDEX events_data_order_id ON events (json_extract(payload, '$.data.order_id'));
CREATE INDEX events_data_medication_request_id ON events (json_extract(payload, '$.data.medication_request_id'));
CREATE INDEX events_data_refill_id ON events (json_extract(payload, '$.data.refill_id'));
CREATE INDEX events_data_patient_id ON events (json_extract(payload, '$.data.patient_id'));

-- When each clinic last heard from NovaMed (overview).
CREATE INDEX events_clinic_received ON events (clinic_id, received_at);

-- A patient's messages (patient page) and the oldest message still waiting (overview).
CREATE INDEX notifications_patient_created ON notifications (patient_id, created_at);
CREATE INDEX notifications_status_created ON notifications (status, created_at);
