-- The audit list's other filters (console /console/audit and GET /admin/audit): by action, and by
-- target type alone, newest first, so neither walks or sorts the whole trail as it grows.
CREATE INDEX audit_by_action ON audit (action, at DESC, audit_id DESC);
CREATE INDEX audit_by_target_type ON audit (target_type, at DESC, audit_id DESC);
