-- Fewer D1 rows written per notification (issue 26.2). D1 bills a row for every index entry a write
-- adds, and SQLite rewrites an index whenever one of its columns is SET, changed or not.
--
-- notifications_sweep (status, updated_at) WHERE status IN ('pending', 'scheduled') cost an entry at
-- every insert and another at every sender write while the row was pending: the lease (`updated_at`),
-- the send start (`updated_at`), a retry. The sweep's query (`status IN ('pending', 'scheduled') AND
-- updated_at < ?`) is answered by notifications_status_created (status, created_at): the rows pending
-- or scheduled at any time are the few in flight (or held back by quiet hours), so the sweep reads the
-- same handful either way, and created_at never changes after the insert, so no sender write touches it.
DROP INDEX notifications_sweep;

-- notifications_patient_sent (patient_id, sent_at) WHERE sent_at IS NOT NULL cost an entry at every
-- send (and at every delivery callback, which SETs sent_at unchanged). The daily cap's query
-- (`patient_id IN (...) AND sent_at >= ?`) reads notifications_patient_created (patient_id, created_at)
-- instead: a patient's own notifications, a handful within the archive window (src/archive/).
DROP INDEX notifications_patient_sent;
