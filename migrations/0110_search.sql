-- Find by what staff have (issue 24.1): patients by phone or email, orders by tracking number, any id
-- by a case-insensitive prefix, and the console's list pages.
--
-- Phones and emails are never searchable in plain text: the index holds a keyed HMAC digest of each
-- normalised value (src/search/index-key.ts), one row per patient and field. The Worker writes the
-- digests with every patient write; the triggers below make a write it did not index (or a row from
-- before this migration) wait in patient_search_pending, which the 5-minute cron drains, and remove a
-- deleted patient's digests with its row.
CREATE TABLE patient_search_index (
  clinic_id   TEXT NOT NULL,
  patient_id  TEXT NOT NULL,
  field       TEXT NOT NULL CHECK (field IN ('phone', 'email')),
  digest      TEXT NOT NULL,   -- hex HMAC-SHA-256 of "<field>:<normalised value>"
  PRIMARY KEY (clinic_id, patient_id, field)
);
CREATE INDEX patient_search_index_digest ON patient_search_index (digest);

CREATE TABLE patient_search_pending (
  clinic_id   TEXT NOT NULL,
  patient_id  TEXT NOT NULL,
  PRIMARY KEY (clinic_id, patient_id)
);
-- Which key the digests were written with (a fingerprint, never the key): when ADMIN_TOKEN is rotated
-- the cron sees a new fingerprint and puts every patient back on the pending list.
CREATE TABLE patient_search_key (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  fingerprint TEXT NOT NULL
);

-- The backfill: every existing patient with a contact detail waits for its digests.
INSERT INTO patient_search_pending (clinic_id, patient_id)
SELECT clinic_id, patient_id FROM patients WHERE phone IS NOT NULL OR email IS NOT NULL;

-- A patient with a contact detail waits for its digests from every insert or change of them; a
-- digest written takes it off the list, and a delete removes its digests and its place on the list.
CREATE TRIGGER patients_search_insert AFTER INSERT ON patients BEGIN
  INSERT OR IGNORE INTO patient_search_pending (clinic_id, patient_id)
  SELECT new.clinic_id, new.patient_id WHERE new.phone IS NOT NULL OR new.email IS NOT NULL;
END;
CREATE TRIGGER patients_search_update AFTER UPDATE OF phone, email ON patients BEGIN
  DELETE FROM patient_search_index WHERE clinic_id = old.clinic_id AND patient_id = old.patient_id;
  DELETE FROM patient_search_pending WHERE clinic_id = old.clinic_id AND patient_id = old.patient_id;
  INSERT OR IGNORE INTO patient_search_pending (clinic_id, patient_id)
  SELECT new.clinic_id, new.patient_id WHERE new.phone IS NOT NULL OR new.email IS NOT NULL;
END;
CREATE TRIGGER patients_search_delete AFTER DELETE ON patients BEGIN
  DELETE FROM patient_search_index WHERE clinic_id = old.clinic_id AND patient_id = old.patient_id;
  DELETE FROM patient_search_pending WHERE clinic_id = old.clinic_id AND patient_id = old.patient_id;
END;
CREATE TRIGGER patient_search_index_written AFTER INSERT ON patient_search_index BEGIN
  DELETE FROM patient_search_pending WHERE clinic_id = new.clinic_id AND patient_id = new.patient_id;
END;

-- Any id by a case-insensitive prefix: a range on lower(id).
CREATE INDEX events_id_lower ON events (lower(event_id));
CREATE INDEX orders_id_lower ON orders (lower(order_id));
CREATE INDEX medication_requests_id_lower ON medication_requests (lower(medication_request_id));
CREATE INDEX refills_id_lower ON refills (lower(refill_id));
CREATE INDEX patients_id_lower ON patients (lower(patient_id));
CREATE INDEX notifications_id_lower ON notifications (lower(notification_id));
-- Orders by tracking number, as staff type it (any case).
CREATE INDEX orders_tracking_upper ON orders (upper(tracking_number)) WHERE tracking_number IS NOT NULL;

-- The list pages, newest first without a filter (a status filter uses the <table>_status_at indexes).
CREATE INDEX orders_status_changed ON orders (status_at, order_id);
CREATE INDEX medication_requests_status_changed ON medication_requests (status_at, medication_request_id);
CREATE INDEX refills_status_changed ON refills (status_at, refill_id);
CREATE INDEX patients_updated ON patients (updated_at, patient_id);
CREATE INDEX notifications_created ON notifications (created_at, notification_id);
