-- Patients belong to a clinic (issue 22.2): the directory is keyed by (clinic_id, patient_id), so two
-- clinics may know the same NovaMed patient id and an event of one clinic never reads the other's
-- entry. A migration cannot read NOVAMED_CLINIC_IDS, so existing rows keep clinic_id '' ("not yet
-- assigned"): while exactly one clinic is configured they are read as that clinic's
-- (src/db/patients.ts); with several, they are used by no clinic until assigned with the command in
-- docs/operations.md ("Patients and clinics"), and GET /admin/health reports how many are left.
-- The table is rebuilt because SQLite cannot change a primary key in place.
CREATE TABLE patients_by_clinic (
  clinic_id     TEXT NOT NULL DEFAULT '',   -- lower-case UUID; '' = not yet assigned
  patient_id    TEXT NOT NULL,
  phone         TEXT,
  email         TEXT,
  timezone      TEXT,
  sms_opt_in    INTEGER NOT NULL,
  email_opt_in  INTEGER NOT NULL,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  PRIMARY KEY (clinic_id, patient_id)
);
INSERT INTO patients_by_clinic (clinic_id, patient_id, phone, email, timezone, sms_opt_in, email_opt_in, created_at, updated_at)
SELECT '', patient_id, phone, email, timezone, sms_opt_in, email_opt_in, created_at, updated_at FROM patients;
DROP TABLE patients;
ALTER TABLE patients_by_clinic RENAME TO patients;
CREATE INDEX patients_phone ON patients (phone);
CREATE INDEX patients_patient ON patients (patient_id);
