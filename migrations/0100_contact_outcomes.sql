-- What came back after sending (issue 23 points 1-3): a patient's contact that must not be used again
-- until it changes. One row per (clinic, patient, channel), for the contact it concerns (the email
-- address, lower-case, or the E.164 phone): it applies only while the patient's directory entry still
-- holds that contact, so a new address or phone lifts it and a PUT that keeps the same one never does.
-- STOP opt-outs stay per number in sms_opt_outs / sms_sender_opt_outs (migrations 0003, 0045).
CREATE TABLE contact_opt_outs (
  clinic_id     TEXT NOT NULL,      -- lower-case UUID, the clinic of the message's event
  patient_id    TEXT NOT NULL,
  channel       TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
  contact       TEXT NOT NULL,      -- the address or phone it concerns; never logged
  reason        TEXT NOT NULL CHECK (reason IN ('bounced', 'complained', 'unsubscribed', 'unreachable')),
  detail        TEXT,               -- the provider's code, e.g. "twilio 21614"; never a contact
  opted_out_at  TEXT NOT NULL,
  PRIMARY KEY (clinic_id, patient_id, channel)
);
-- The lifecycle watch's phone_unreachable rule reads through this.
CREATE INDEX contact_opt_outs_reason ON contact_opt_outs (reason, channel);

-- Twilio error 30007 (carrier filtering, usually an unregistered A2P 10DLC campaign), per clinic: the
-- watch's sms_carrier_filtering rule opens an alert for a clinic with one in the last 24 hours.
CREATE TABLE sms_carrier_filtering (
  clinic_id      TEXT PRIMARY KEY,
  first_at       TEXT NOT NULL,
  last_at        TEXT NOT NULL,
  count          INTEGER NOT NULL DEFAULT 1
);
