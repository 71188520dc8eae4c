-- Clinic ids are stored lower-case. The edge checks clinic_id against NOVAMED_CLINIC_IDS ignoring case
-- but stored it as sent, so an upper-case UUID never matched the (lower-cased) configured ids: the
-- silence rule never fired and the console showed the clinic as never heard from. The events consumer
-- now lower-cases it (src/queue/event-message.ts); this lower-cases the rows stored before. Payloads
-- stay as NovaMed sent them: their hash is the event's identity in the claim.
UPDATE events SET clinic_id = lower(clinic_id) WHERE clinic_id <> lower(clinic_id);
UPDATE orders SET clinic_id = lower(clinic_id) WHERE clinic_id <> lower(clinic_id);
UPDATE medication_requests SET clinic_id = lower(clinic_id) WHERE clinic_id <> lower(clinic_id);
UPDATE refills SET clinic_id = lower(clinic_id) WHERE clinic_id <> lower(clinic_id);
UPDATE alerts SET clinic_id = lower(clinic_id) WHERE clinic_id <> lower(clinic_id);
