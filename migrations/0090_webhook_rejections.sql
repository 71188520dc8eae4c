-- Rejected deliveries at the webhook edge (issue 24.2): how many requests were refused, per clinic
-- (a served clinic's id, or 'unknown'), reason (the answer's error code) and UTC minute. No body, no
-- key, no address: only what the answer's code says. Minutes serve the watch's 15-minute rule; the
-- admin API sums them per hour.
CREATE TABLE webhook_rejections (
  clinic_id TEXT NOT NULL,
  reason    TEXT NOT NULL,
  minute    TEXT NOT NULL,  -- YYYY-MM-DDTHH:MM (UTC)
  count     INTEGER NOT NULL,
  last_at   TEXT NOT NULL,  -- the latest rejection of the row (ISO)
  PRIMARY KEY (clinic_id, reason, minute)
) WITHOUT ROWID;
CREATE INDEX webhook_rejections_minute ON webhook_rejections (minute);
