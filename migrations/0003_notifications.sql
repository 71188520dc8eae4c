-- The clinic's patient directory: NovaMed events carry patient_id only, so contact details and
-- consent come from here (admin API and bulk import).
CREATE TABLE patients (
  patient_id    TEXT PRIMARY KEY,
  phone         TEXT,               -- E.164
  email         TEXT,
  timezone      TEXT,               -- IANA; the clinic's default when NULL
  sms_opt_in    INTEGER NOT NULL,   -- 0/1: consent to SMS
  email_opt_in  INTEGER NOT NULL,   -- 0/1: consent to email
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);
CREATE INDEX patients_phone ON patients (phone);

-- Numbers that replied STOP (or that Twilio reports as unsubscribed, error 21610). Kept per number,
-- not per patient: the carrier-level opt-out belongs to the phone.
CREATE TABLE sms_opt_outs (
  phone         TEXT PRIMARY KEY,
  source        TEXT NOT NULL,      -- keyword | twilio_21610
  opted_out_at  TEXT NOT NULL
);

-- The notification outbox: one row per (event, channel), written in the same batch as the state
-- change it follows from. The sender claims a row with a short lease before calling a provider.
CREATE TABLE notifications (
  notification_id      TEXT PRIMARY KEY,   -- also the email provider's idempotency key
  event_id             TEXT NOT NULL,
  channel              TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
  kind                 TEXT NOT NULL,      -- order_shipped, order_delivered, ...
  patient_id           TEXT NOT NULL,
  entity_id            TEXT NOT NULL,
  -- pending | scheduled | sent | delivered | failed | suppressed
  status               TEXT NOT NULL,
  provider             TEXT,
  provider_message_id  TEXT,
  attempts             INTEGER NOT NULL DEFAULT 0,
  error                TEXT,               -- reason for failed / suppressed; never contact details
  rendered             TEXT,               -- JSON of the message as sent (subject, text)
  scheduled_for        TEXT,               -- next send-window opening, for scheduled SMS
  lease_expires_at     INTEGER,            -- epoch ms; a sender is calling the provider
  created_at           TEXT NOT NULL,
  updated_at           TEXT NOT NULL,
  sent_at              TEXT,
  UNIQUE (event_id, channel)
);
CREATE INDEX notifications_sweep ON notifications (status, updated_at) WHERE status IN ('pending', 'scheduled');
CREATE INDEX notifications_provider_message ON notifications (provider_message_id);
