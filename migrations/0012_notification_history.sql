-- Issue 12: held notifications are released oldest first by status (POST /admin/notifications/replay).
CREATE INDEX IF NOT EXISTS notifications_status_created ON notifications (status, created_at);

-- Set (with the exact text in `rendered`) just before a provider is called, cleared once its answer is
-- recorded. A row claimed with it still set had an attempt whose outcome is unknown (a timeout, a lost
-- answer, a crash, a lease taken over): the sender asks the provider before sending again.
ALTER TABLE notifications ADD COLUMN send_started_at TEXT;

-- The daily cap counts each patient's recent sends per channel (src/notify/daily-cap.ts).
CREATE INDEX IF NOT EXISTS notifications_patient_sent ON notifications (patient_id, sent_at) WHERE sent_at IS NOT NULL;
