-- Clinics as tenants (issue 22.1): one profile per clinic of NOVAMED_CLINIC_IDS (the allow-list stays in
-- configuration). A NULL field means "the [vars] default" (CLINIC_NAME, CLINIC_PHONE, ...), resolved when
-- read (src/tenancy/clinic-settings.ts), so changing a default reaches every clinic that did not set it.
CREATE TABLE clinic_profiles (
  clinic_id                  TEXT PRIMARY KEY,   -- lower-case UUID
  name                       TEXT,
  phone                      TEXT,               -- E.164
  time_zone                  TEXT,               -- IANA; for patients without one
  sms_send_window            TEXT,               -- HH:MM-HH:MM
  sms_daily_cap              INTEGER,
  email_daily_cap            INTEGER,
  sms_from                   TEXT,               -- Twilio From number (E.164)
  sms_messaging_service_sid  TEXT,               -- Twilio MessagingServiceSid (MG...)
  email_from                 TEXT,
  email_reply_to             TEXT,
  default_locale             TEXT,               -- en | es
  alert_emails               TEXT,               -- JSON array of addresses
  updated_at                 TEXT NOT NULL
);

-- Consent follows the sender, as carriers do: a STOP sent to one of our senders (a From number or a
-- Messaging Service) stops the texts from that sender only. Clinics sharing a sender share the row, so a
-- STOP stops all of them. sms_opt_outs keeps the opt-outs that stop every sender (a STOP to a number no
-- clinic sends from, and the rows from before per-sender consent).
CREATE TABLE sms_sender_opt_outs (
  phone         TEXT NOT NULL,      -- E.164, the patient's
  sender        TEXT NOT NULL,      -- MG... or +1..., the sender it was sent to
  source        TEXT NOT NULL,      -- keyword | twilio_21610
  opted_out_at  TEXT NOT NULL,
  PRIMARY KEY (phone, sender)
);
