-- Issue 12: held notifications are released oldest first by status (POST /admin/notifications/replay).
CREATE INDEX IF NOT EXISTS notifications_status_created ON notifications (status, created_at);
