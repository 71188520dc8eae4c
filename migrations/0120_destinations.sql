-- Forwarding destinations (issue 25): a clinic's own endpoint that hears of every change it chose.
-- The signing secret is shown once (on creation and rotation) and never read back through the API;
-- after a rotation the previous secret keeps signing beside the new one until
-- previous_secret_expires_at, so the clinic can switch its verifier without missing a delivery.
CREATE TABLE destinations (
  destination_id             TEXT PRIMARY KEY,
  clinic_id                  TEXT NOT NULL,
  url                        TEXT NOT NULL,
  events                     TEXT NOT NULL,                 -- JSON array of change types, or ["*"]
  include_phi                INTEGER NOT NULL DEFAULT 0,
  enabled                    INTEGER NOT NULL DEFAULT 1,
  state                      TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'disabled')),
  failure_streak             INTEGER NOT NULL DEFAULT 0,
  last_success_at            TEXT,
  secret                     TEXT NOT NULL,                 -- whsec_<base64>
  previous_secret            TEXT,
  previous_secret_expires_at TEXT,
  created_at                 TEXT NOT NULL,
  updated_at                 TEXT NOT NULL
);

-- The list by clinic (GET /admin/destinations, scoped) in id order.
CREATE INDEX destinations_by_clinic ON destinations (clinic_id, destination_id);
