-- Fewer D1 rows written per event (issue 26.2). Every event is claimed as 'processing' and finished
-- moments later, so this partial index cost two billed rows per event (its entry added at the claim,
-- removed at the finish) for the stuck-event sweep, whose query (`status = 'processing' AND
-- lease_expires_at < ?`) events_status_received answers as well: the rows in 'processing' at any time
-- are the few in flight or stuck, so the sweep reads the same handful either way.
DROP INDEX events_stuck_processing;
