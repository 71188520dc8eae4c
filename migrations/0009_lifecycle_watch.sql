-- Lifecycle watch (issue 15, docs/watch.md): alerts for stalled entities, a silent clinic, failed
-- events and notifications, and configuration problems. At most one open alert per (rule, target):
-- the watch inserts with ON CONFLICT DO NOTHING against the partial unique index below.
CREATE TABLE alerts (
  alert_id         TEXT PRIMARY KEY,
  rule             TEXT NOT NULL,   -- order:shipped, novamed_silence, event_dead, config_problem, ...
  target_type      TEXT NOT NULL,   -- order | medication_request | refill | clinic | event | notification | config
  target_id        TEXT NOT NULL,   -- an id or a variable name; never a patient detail
  clinic_id        TEXT,
  state            TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
  since            TEXT NOT NULL,   -- when the target entered the state the rule watches (the alert's age)
  opened_at        TEXT NOT NULL,
  resolved_at      TEXT,
  acknowledged_by  TEXT,
  acknowledged_at  TEXT,
  last_notified_at TEXT
);
CREATE UNIQUE INDEX alerts_open_target ON alerts (rule, target_id) WHERE state = 'open';
CREATE INDEX alerts_state_opened ON alerts (state, opened_at DESC, alert_id DESC);
CREATE INDEX alerts_rule_state_opened ON alerts (rule, state, opened_at DESC, alert_id DESC);

-- "Staff were told this alert opened" per channel (webhook, email): a row with delivered_at is never
-- sent again; a row without one is a failed attempt the next run retries.
CREATE TABLE alert_deliveries (
  alert_id      TEXT NOT NULL,
  channel       TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
  attempts      INTEGER NOT NULL DEFAULT 0,
  last_error    TEXT,
  delivered_at  TEXT,
  PRIMARY KEY (alert_id, channel)
);

-- The daily digest of open alerts, one row per (UTC day, channel), tracked like alert_deliveries.
CREATE TABLE alert_digests (
  day           TEXT NOT NULL,   -- YYYY-MM-DD (UTC)
  channel       TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
  alert_count   INTEGER NOT NULL DEFAULT 0,
  attempts      INTEGER NOT NULL DEFAULT 0,
  last_error    TEXT,
  delivered_at  TEXT,
  PRIMARY KEY (day, channel)
);

-- What the rules scan, so every run reads through an index whatever the table sizes.
CREATE INDEX orders_status_at ON orders (status, status_at);
CREATE INDEX orders_shipped_eta ON orders (estimated_delivery, status_at) WHERE status = 'shipped';
CREATE INDEX orders_medication_request ON orders (medication_request_id);
CREATE INDEX medication_requests_status_at ON medication_requests (status, status_at);
CREATE INDEX refills_status_at ON refills (status, status_at);
