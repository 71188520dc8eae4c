-- Issue 12: held notifications are released oldest first by status (POST /admin/notifications/replay).
CREATE INDEX IF NOT EXISTS notifications_status_created ON notifications (status, created_at);

-- Set (with the exact text in `rendered`) just before a provider is called, cleared once its answer is
-- recorded. A row claimed with it still set had an attempt whose outcome is unknown (a timeout, a lost
-- answer, a crash, a lease taken over): the sender asks the provider before sending again.
ALTER TABLE notifications ADD COLUMN send_started_at TEXT;
