-- Issue 23 point 4: a patient's inbound text that is neither a keyword nor a plain-words opt-out is kept
-- for an operator to read (the console shows it, audited) and opens a `patient_replied` staff alert
-- whose target is this row's id: the alert carries no message text and no phone number.
CREATE TABLE inbound_replies (
  reply_id      TEXT PRIMARY KEY,         -- rpl_...
  clinic_id     TEXT,                     -- the clinic whose sender received it; NULL when no single clinic
  phone         TEXT NOT NULL,            -- E.164, the patient's (PHI: read by operators only)
  body          TEXT NOT NULL,            -- the text as received (PHI: never logged)
  received_at   TEXT NOT NULL
);
-- Retention deletes replies older than PAYLOAD_RETENTION_DAYS (src/scheduled/retention.ts).
CREATE INDEX inbound_replies_received ON inbound_replies (received_at);
