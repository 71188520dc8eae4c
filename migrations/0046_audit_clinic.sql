-- Audit rows record the clinic their action was about (issue 22.2) in a column of their own, beside
-- target_id (which keeps the patient id, profile id, ...). NULL for actions over no single clinic and
-- for rows written before this column existed.
ALTER TABLE audit ADD COLUMN clinic_id TEXT;
CREATE INDEX audit_by_clinic ON audit (clinic_id, at DESC, audit_id DESC);
